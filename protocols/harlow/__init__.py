"""Learning sets — Wang et al. 2018 Sim 5 (Fig. 6); Harlow 1949. Task card: :mod:`.task`;
analyses: :mod:`.analysis`."""
from ..spec import BASE_COLUMNS, ProtocolSpec, lazy_exports, package_parts

SPEC = ProtocolSpec(
    paper=".paper:PAPER",
    **package_parts("HarlowTask"),
    name="harlow",
    citation="Wang et al. 2018 Sim 5 (Fig. 6); Harlow 1949",
    description="learning-set task: two novel objects per episode, one always rewarded; "
                "held-out objects at test",
    default_checkpoint="harlow",
    trial_codes={"choice": (-1, 0, 1), "reward": (-1, 1), "correct": (False, True), "fixated": (False, True)},
    trial_columns={
        **BASE_COLUMNS,
        "choice": "0 left, 1 right, −1 none (not an action index)",
        "reward": "the choice step's reward (1 correct, −1 wrong or none)",
        "correct": "the rewarded object was chosen", "rewarded_left": "the rewarded object was on the left",
        "fixated": "the fixation step's action was fixate"},
)

__getattr__ = lazy_exports(__name__)
