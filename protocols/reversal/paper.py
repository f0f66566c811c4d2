"""What ``pfcda reproduce`` reads off the reversal circuit: Wang et al. 2018 Sim 3, Fig. 4 (RPEs that
reflect inferred value, Bromberg-Martin et al. 2010; the latent state in the units). The monkeys'
values are DA firing rates (spikes/s): set beside the model's δ, not compared with it."""
from ..paper import Claim, Paper, PaperRun
from .task import REFERENCE as R

SP = "spikes/s"


def _c(figure, statement, stat, op, bound=0.0):
    r = R[stat]
    return Claim(figure, statement, "test", stat, (op, bound), r["paper"], r["lab"], SP, r["source"])


PAPER = Paper(
    runs=(PaperRun("test", 600),),
    claims=(
        _c("Fig. 4b", "before a reversal: positive RPE to the rewarded cue", "rpe_before_rewarded", ">"),
        _c("Fig. 4b", "before a reversal: negative RPE to the unrewarded cue", "rpe_before_unrewarded", "<"),
        _c("Fig. 4b", "after a reversal, a cue seen since: RPE positive when rewarded", "rpe_experienced_rewarded", ">"),
        _c("Fig. 4b", "after a reversal, a cue not seen since (inferred value): RPE positive when rewarded",
           "rpe_inferred_rewarded", ">"),
        _c("Fig. 4b", "… and negative when unrewarded", "rpe_inferred_unrewarded", "<"),
        Claim("Fig. 4b", "inferred-cue RPE at least half the experienced-cue RPE", "test", "inferred_over_experienced",
              (">=", 0.5), round(R["rpe_inferred_rewarded"]["paper"] / R["rpe_experienced_rewarded"]["paper"], 2),
              0.32, source="paper: 0.34 / 0.30 (Fig. 4b); monkeys: (10.5 − 5) / (22 − 5) spikes/s above a 5 spikes/s "
              "baseline (Bromberg-Martin et al. 2010, Fig. 4a)"),
        Claim("Fig. 4c", "the latent state (rewarded cue) is decodable from the units (cross-validated accuracy)",
              "test", "latent_state_decoding", (">=", 0.9), source="Wang et al. 2018 Fig. 4c"),
    ))
