"""What ``pfcda reproduce`` reads off the Harlow circuit: Wang et al. 2018 Sim 5, Fig. 6 (learning
set: chance on a new problem's first trial, near-perfect from the second; Harlow 1949's monkeys),
on held-out objects."""
from ..paper import Claim, Paper, PaperRun
from .task import REFERENCE as R


def _c(statement, stat, criterion):
    r = R[stat]
    return Claim("Fig. 6b,c", statement, "test_objects", stat, criterion, r["paper"], r["lab"], source=r["source"])


PAPER = Paper(
    runs=(PaperRun("test_objects", 2000, task={"pool": "test"}),),
    claims=(
        _c("trial 1 of a new problem at chance (≤ 0.55)", "acc_trial1", ("<=", 0.55)),
        _c("trial 1 of a new problem at chance (≥ 0.45)", "acc_trial1", (">=", 0.45)),
        _c("one-shot learning: trial 2 accuracy ≥ 0.9", "acc_trial2", (">=", 0.9)),
        _c("trial 6 accuracy ≥ 0.9", "acc_trial6", (">=", 0.9)),
    ))
