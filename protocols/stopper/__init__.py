"""Dopamine stimulation and blockade with weights frozen — Wang et al. 2018 Sim 6 (Fig. 7);
Stopper et al. 2014. Task card and presets: :mod:`.task`; analyses (incl. DA spikes):
:mod:`.analysis`."""
from ..spec import BASE_COLUMNS, ProtocolSpec, lazy_exports, package_parts

SPEC = ProtocolSpec(
    paper=".paper:PAPER",
    **package_parts("StopperTask"),
    name="stopper",
    citation="Wang et al. 2018 Sim 6 (Fig. 7); Stopper et al. 2014",
    description="safe vs risky lever (actor-critic circuit): DA stimulation and blockade at test "
                "shift choices with weights frozen",
    default_checkpoint="stopper",
    presets=".task:PRESETS",
    trial_codes={"choice": (-1, 0, 1), "reward": (-1, 0, 1, 4), "risky_side": (0, 1), "forced": (False, True), "error": (False, True)},
    trial_columns={
        **BASE_COLUMNS,
        "forced": "a forced trial (one lever available)",
        "choice": "0 left, 1 right, −1 none or invalid (not an action index)",
        "risky_chosen": "the risky lever was pressed", "reward": "the choice step's reward",
        "p_risky": "the risky lever's reward probability", "risky_side": "0 left, 1 right",
        "error": "an invalid choice-step response"},
    spike_stats=".analysis:SPIKE_STATS",
    spike_analyses=".analysis:spike_analyses",
)

__getattr__ = lazy_exports(__name__)
