"""What ``pfcda reproduce`` reads off the two-step circuits: Wang et al. 2018 Sim 4, Fig. 5 (stay
pattern and regression of the rats of Miller et al. 2017; δ tracks the model-based RPE) and the
daw variant's hybrid weight (Daw et al. 2011's humans)."""
from ..paper import Claim, Paper, PaperRun
from .task import REFERENCE as R


def _c(figure, statement, stat, criterion, run="miller"):
    r = R[stat]
    return Claim(figure, statement, run, stat, criterion, r["paper"], r["lab"], source=r["source"])


PAPER = Paper(
    runs=(PaperRun("miller", 300, "twostep_miller"), PaperRun("daw", 100, "twostep_daw")),
    claims=(
        _c("Fig. 5c", "stay after common-rewarded ≥ 0.9", "stay_common_rewarded", (">=", 0.9)),
        _c("Fig. 5c", "stay after uncommon-unrewarded ≥ 0.9 (model-based)", "stay_uncommon_unrewarded", (">=", 0.9)),
        _c("Fig. 5c", "stay after uncommon-rewarded ≤ 0.8 (model-based)", "stay_uncommon_rewarded", ("<=", 0.8)),
        _c("Fig. 5c", "stay after common-unrewarded ≤ 0.8", "stay_common_unrewarded", ("<=", 0.8)),
        _c("Fig. 5d,e", "regression: common-rewarded lag-1 weight > 0", "glm_CR_lag1", (">", 0.0)),
        _c("Fig. 5d,e", "regression: uncommon-unrewarded lag-1 weight > 0", "glm_UU_lag1", (">", 0.0)),
        _c("Fig. 5d,e", "regression: common-unrewarded lag-1 weight < 0", "glm_CU_lag1", ("<", 0.0)),
        _c("Fig. 5d,e", "regression: uncommon-rewarded lag-1 weight < 0", "glm_UR_lag1", ("<", 0.0)),
        Claim("Fig. 5d,e", "model-based index exceeds |model-free index|", "miller", "glm_mb_index",
              (">|", "glm_mf_index"), source="Miller et al. 2017 indices (sums over 5 lags)"),
        _c("Sim 4", "δ is explained by the model-based RPE (r² ≥ 0.8)", "rpe_r2_model_based", (">=", 0.8)),
        _c("Sim 4", "the model-free RPE orthogonal to it adds nothing (r² ≤ 0.05)", "rpe_r2_model_free_orth",
           ("<=", 0.05)),
        _c("Daw 2011", "four-option task: the fitted hybrid weight is model-based (w > 0.5)", "hybrid_w", (">", 0.5),
           run="daw"),
    ))
