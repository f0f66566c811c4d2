"""Baited two-armed foraging (matching) — Wang et al. 2018 Sim 1 (Fig. 2); Tsutsui et al. 2016;
Lau & Glimcher 2005. Task card: :mod:`.task`; analyses: :mod:`.analysis`; lab data (the
dynamic-foraging mice): :mod:`.lab`."""
from ..spec import BASE_COLUMNS, LabSpec, ProtocolSpec, lazy_exports, package_parts

SPEC = ProtocolSpec(
    paper=".paper:PAPER",
    **package_parts("MatchingTask"),
    name="matching",
    citation="Wang et al. 2018 Sim 1 (Fig. 2); Tsutsui et al. 2016; Lau & Glimcher 2005",
    description="baited two-armed foraging with fixation; matching law, reward/choice history, "
                "unit coding",
    default_checkpoint="matching",
    trial_codes={"choice": (0, 1, 2), "reward": (-1, 0, 1), "fixation_error": (False, True)},
    trial_columns={
        **BASE_COLUMNS,
        "choice": "the choice-step action (an index into action_names: 1 left, 2 right; 0 = "
                  "fixate, an invalid choice)",
        "reward": "the choice step's reward (1 bait collected, 0 none, −1 invalid)",
        "fixation_error": "the fixation step's action was not fixate",
        "p0_left": "the left arm's base baiting probability", "p0_right": "the right arm's",
        "value_left": "the left arm's current reward probability 1 − (1 − p₀)^(n+1) before the choice",
        "n_trials": "the episode's number of trials"},
    lab=LabSpec(stats=".lab:stats", to_lab_frame=".lab:to_lab_frame", schedule=".lab:schedule",
                forcing=".lab:forcing", compare_models=".lab:compare_models",
                fit_models=".lab:fit_models", figure=".lab:figure"),
    hbayesdm=".lab:hbayesdm",
)

__getattr__ = lazy_exports(__name__)
