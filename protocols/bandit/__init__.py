"""Bernoulli multi-armed bandit — Wang et al. 2018 Fig. 1 (from Wang et al. 2016, LTRL).

The task card is the docstring of :mod:`.task`; the analyses are in :mod:`.analysis`, the
reference agents (Bayes-optimal, Gittins, Thompson, UCB1) in :mod:`.agents`.
"""
from ..spec import BASE_COLUMNS, ProtocolSpec, lazy_exports, package_parts

SPEC = ProtocolSpec(
    paper=".paper:PAPER",
    **package_parts("BanditTask"),
    name="bandit",
    citation="Wang et al. 2018 Fig. 1; Wang et al. 2016 (LTRL)",
    description="Bernoulli K-armed bandit, 100 trials; arm probabilities drawn per episode "
                "(independent or correlated)",
    default_checkpoint="bandit_independent",
    trial_codes={"reward": (0, 1)},
    trial_columns={
        **BASE_COLUMNS,
        "choice": "the arm pulled (an index into action_names: 0 left, 1 right for 2 arms)",
        "reward": "1 if the arm paid, else 0",
        "p_<arm>": "each arm's reward probability in that episode (one column per action name)",
        "regret": "max_k p_k − p_choice (the trial's pseudo-regret)"},
    hbayesdm=".lab:hbayesdm",
)

__getattr__ = lazy_exports(__name__)
