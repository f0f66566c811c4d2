"""What ``pfcda reproduce`` reads off the bandit circuits: Wang et al. 2018 Fig. 1d (regret at fixed
arm probabilities 0.25/0.75, read off the figure) and Fig. 1e,f (a unit PC tracks the arm
probability)."""
from ..paper import Claim, Paper, PaperRun
from .task import REFERENCE as R

FIXED = {"probs": [0.25, 0.75]}
PAPER = Paper(
    runs=(PaperRun("independent", 1000, "bandit_independent", FIXED),
          PaperRun("correlated", 1000, "bandit_correlated", FIXED),
          PaperRun("correlated_pca", 300, "bandit_correlated")),
    claims=(
        Claim("Fig. 1d", "independent arms: meta-RL regret below Thompson sampling's", "independent",
              "regret_at_last_trial", ("<", "regret_thompson"), R["fig1d_regret_meta_rl_independent"]["paper"],
              source="Wang et al. 2018 Fig. 1d (p = 0.25/0.75, 100 trials)"),
        Claim("Fig. 1d", "independent arms: meta-RL regret below UCB1's", "independent",
              "regret_at_last_trial", ("<", "regret_ucb1"), R["fig1d_regret_meta_rl_independent"]["paper"],
              source="Wang et al. 2018 Fig. 1d"),
        Claim("Fig. 1d", "correlated arms: meta-RL regret below Thompson sampling's", "correlated",
              "regret_at_last_trial", ("<", "regret_thompson"), R["fig1d_regret_meta_rl_correlated"]["paper"],
              source="Wang et al. 2018 Fig. 1d"),
        Claim("Fig. 1e,f", "the first PC of the units at the last trial tracks P(left) (|Spearman ρ|)",
              "correlated_pca", "pc1_spearman_p_left", ("|>=", 0.8), source="Wang et al. 2018 Fig. 1e,f"),
    ))
