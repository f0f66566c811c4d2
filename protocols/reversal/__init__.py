"""Reversal with inferred value — Wang et al. 2018 Sim 3 (Fig. 4); Bromberg-Martin et al. 2010.
Task card: :mod:`.task`; analyses (incl. DA spikes): :mod:`.analysis`."""
from ..spec import BASE_COLUMNS, ProtocolSpec, lazy_exports, package_parts

SPEC = ProtocolSpec(
    paper=".paper:PAPER",
    **package_parts("ReversalTask"),
    name="reversal",
    citation="Wang et al. 2018 Sim 3 (Fig. 4); Bromberg-Martin et al. 2010",
    description="forced-choice cue task with uncued reversals; RPEs reflect inferred value",
    default_checkpoint="reversal",
    trial_codes={"choice": (0, 1, 2), "reward": (0, 1), "cue": (0, 1), "rewarded_cue": (0, 1), "reversal": (False, True), "error": (False, True)},
    trial_columns={
        **BASE_COLUMNS,
        "block": "the 5-trial block", "choice": "the response-step action (an index into "
        "action_names: 1 left, 2 right; 0 fixate)", "reward": "the outcome step's reward (1, 0)",
        "cue": "0 left, 1 right", "rewarded_cue": "the block's rewarded cue (0 left, 1 right)",
        "cue_rewarded": "the shown cue is the rewarded one",
        "reversal": "first trial of a block whose rewarded cue switched",
        "error": "any invalid response in the trial"},
    spike_stats=".analysis:SPIKE_STATS",
    spike_analyses=".analysis:spike_analyses",
    hbayesdm=".lab:hbayesdm",
)

__getattr__ = lazy_exports(__name__)
