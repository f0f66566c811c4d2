"""Optogenetic stimulation of DA neurons paired with one of two cues — Stauffer, Lak et al. 2016
in rhesus macaques (an extension beyond Wang et al. 2018: where the RPE-as-input and
RPE-as-teacher accounts make different predictions). Task card and presets: :mod:`.task`;
analyses: :mod:`.analysis`; sessions with plasticity on: :mod:`pfcda.circuit.plastic` with
:data:`.task.PLASTIC`."""
from ..spec import BASE_COLUMNS, ProtocolSpec, lazy_exports, package_parts

SPEC = ProtocolSpec(
    paper=".paper:PAPER",
    **package_parts("StimChoiceTask"),
    name="stauffer",
    citation="Stauffer, Lak et al. 2016 (Cell 166:1564)",
    description="monkeys choose between two cues, both paying the same juice, one paired with optogenetic DA "
                "stimulation (actor-critic circuit; an extension beyond the paper)",
    default_checkpoint="stauffer",
    presets=".task:PRESETS",
    trial_codes={"choice": (0, 1), "chosen": (0, 1), "paired": (0, 1), "paired_chosen": (False, True),
                 "single": (False, True), "cue_left": (-1, 0, 1), "cue_right": (-1, 0, 1),
                 "error": (False, True)},
    trial_columns={
        **BASE_COLUMNS,
        "choice": "the side saccaded to: 0 left, 1 right (not an action index)",
        "chosen": "the cue chosen: 0 cue 1, 1 cue 2", "paired": "the session's stimulation-paired cue",
        "paired_chosen": "the stimulation-paired cue was chosen", "single": "a single-cue (Pavlovian) trial",
        "cue_left": "the cue on the left (0 cue 1, 1 cue 2, −1 none)", "cue_right": "the cue on the right",
        "reward": "the juice (its size; −1 on an invalid response)", "error": "any invalid response in the trial",
        "juice_chosen": "the chosen cue's juice size", "juice_other": "the other cue's juice size",
        "juice_paired": "the paired cue's juice size",
        "rpe_cue": "TD error at the cue's onset (the DA response to the cue)",
        "rpe_outcome": "TD error at the juice", "da_rate_cue": "spiking DA population rate at the cue "
                                                                "(closed loop; NaN otherwise), spikes/s"},
)

__getattr__ = lazy_exports(__name__)
