"""Learning rate adapts to volatility — Wang et al. 2018 Sim 2 (Fig. 3); Behrens et al. 2007.
Task card: :mod:`.task`; analyses: :mod:`.analysis`."""
from ..spec import BASE_COLUMNS, ProtocolSpec, lazy_exports, package_parts

SPEC = ProtocolSpec(
    paper=".paper:PAPER",
    **package_parts("VolatilityTask"),
    name="volatility",
    citation="Wang et al. 2018 Sim 2 (Fig. 3); Behrens et al. 2007",
    description="two options, cued magnitudes, switching volatility; learning rate adapts",
    default_checkpoint="volatility",
    trial_codes={"choice": (0, 1), "correct": (0, 1), "volatile": (False, True), "order": (-1, 0, 1)},
    trial_columns={
        **BASE_COLUMNS,
        "choice": "0 option a, 1 option b (an index into action_names)",
        "reward": "the chosen option's magnitude / 100 if it was correct, else 0",
        "correct": "which option was correct (0 a, 1 b)", "p_a": "P(a correct) on this trial",
        "volatile": "the trial is in a volatile period", "magnitude_a": "a's magnitude / 100",
        "magnitude_b": "b's magnitude / 100",
        "order": "0 stable-first, 1 volatile-first (Behrens schedules), −1 training model"},
)

__getattr__ = lazy_exports(__name__)
