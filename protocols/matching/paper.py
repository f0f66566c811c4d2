"""What ``pfcda reproduce`` reads off the matching circuit: Wang et al. 2018 Sim 1, Fig. 2 (matching
law, choice/reward history regression, unit coding; Tsutsui et al. 2016, Lau & Glimcher 2005)."""
from ..paper import Claim, Paper, PaperRun
from .task import REFERENCE as R

PAPER = Paper(
    runs=(PaperRun("heldout", 500, task={"split": "heldout"}),),
    claims=(
        Claim("Fig. 2a,d", "choice ratios follow income ratios (matching slope ≥ 0.3)", "heldout",
              "matching_slope", (">=", 0.3), R["matching_slope"]["paper"], R["matching_slope"]["lab"],
              source=R["matching_slope"]["source"]),
        Claim("Fig. 2a,d", "undermatching (slope < 1), as monkeys", "heldout", "matching_slope", ("<", 1.0),
              R["matching_slope"]["paper"], R["matching_slope"]["lab"], source=R["matching_slope"]["source"]),
        Claim("Fig. 2c,f", "the last reward pulls the next choice (lag-1 reward coefficient > 0)", "heldout",
              "reward_coef_lag1", (">", 0.0), R["reward_coef_lag1"]["paper"], R["reward_coef_lag1"]["lab"],
              source=R["reward_coef_lag1"]["source"]),
        Claim("Fig. 2c,f", "recent rewards weigh more than old ones (Σ lags 1–3 > Σ lags 4–15)", "heldout",
              "reward_coef_sum_lags1_3", (">", "reward_coef_sum_lags4_15"), source="Fig. 2c,f"),
        Claim("Fig. 2e", "units code the last action more than the last reward (mean |r|)", "heldout",
              "unit_abs_r_last_action", (">", "unit_abs_r_last_reward"), R["unit_abs_r_last_action"]["paper"],
              source=R["unit_abs_r_last_action"]["source"]),
        Claim("Fig. 2e", "units code the left option's value more than the last reward (mean |r|)", "heldout",
              "unit_abs_r_value_left", (">", "unit_abs_r_last_reward"), R["unit_abs_r_value_left"]["paper"],
              source=R["unit_abs_r_value_left"]["source"]),
    ))
