"""What ``pfcda reproduce`` reads off the Stopper circuit: Wang et al. 2018 Sim 6, Fig. 7 (DA
stimulation and blockade change risky choice with weights frozen; Stopper et al. 2014's rats),
each condition on the same 1,333 episodes."""
from ..paper import Claim, Paper, PaperRun
from .task import REFERENCE as R


def _c(statement, cond, p, criterion):
    r = R[f"risky_p{p}_{cond}"]
    return Claim("Fig. 7b", statement, cond, f"risky_p{p}", criterion, r["paper"], r["lab"], source=r["source"])


PAPER = Paper(
    runs=tuple(PaperRun(c, 1333, presets=(c,) if c != "control" else ()) for c in
               ("control", "block_risky_reward", "block_safe_reward", "boost_risky_loss")),
    claims=(
        _c("control: risky choice tracks the risky reward probability (p 0.5 > p 0.125 + 0.2)", "control", 0.5,
           (">", "control:risky_p0.125", 1.0, 0.2)),
        _c("blocking the risky reward's DA lowers risky choice at p 0.5 by ≥ 0.2", "block_risky_reward", 0.5,
           ("<=", "control:risky_p0.5", 1.0, -0.2)),
        _c("blocking the safe reward's DA raises risky choice at p 0.125 by ≥ 0.1", "block_safe_reward", 0.125,
           (">=", "control:risky_p0.125", 1.0, 0.1)),
        _c("adding DA at risky losses raises risky choice at p 0.125 by ≥ 0.1", "boost_risky_loss", 0.125,
           (">=", "control:risky_p0.125", 1.0, 0.1)),
    ))
