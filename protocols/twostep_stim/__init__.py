"""Dopamine stimulation in the mouse two-step task — Blanco-Pozo, Akam & Walton 2024 (an
extension beyond Wang et al. 2018: where the RPE-as-input account meets an experiment that
tests it). Task card and presets: :mod:`.task`; analyses: :mod:`.analysis`."""
from ..spec import BASE_COLUMNS, ProtocolSpec, lazy_exports, package_parts

SPEC = ProtocolSpec(
    paper=".paper:PAPER",
    **package_parts("StimTwoStepTask"),
    name="twostep_stim",
    citation="Blanco-Pozo, Akam & Walton 2024 (Nat Neurosci 27:286); task of Akam et al. 2021",
    description="mouse two-step task with DA stimulation at the second-step cue or the outcome "
                "(actor-critic circuit; an extension beyond the paper)",
    default_checkpoint="twostep_stim",
    presets=".task:PRESETS",
    trial_codes={"choice": (0, 1), "state": (0, 1), "reward": (-1, 0, 1), "common": (False, True),
                 "error": (False, True), "forced": (False, True), "stim": (False, True), "block": (0, 1, 2),
                 "correct": (False, True)},
    trial_columns={
        **BASE_COLUMNS,
        "choice": "the first-step choice: 0 left, 1 right (not an action index)",
        "state": "the second-step state: 0 state 1 (up), 1 state 2 (down)",
        "common": "the transition was common", "reward": "the outcome (1, 0; −1 on an invalid response)",
        "error": "any invalid response in the trial", "forced": "a forced-choice trial (one side cued)",
        "stim": "a stimulated trial (the task's schedule; a preset stimulates at one time point)",
        "block": "0 state 1 good (0.8/0.2), 1 state 2 good, 2 neutral (0.5/0.5)",
        "p_state1": "state 1's reward probability", "correct": "the good state's common side chosen "
                                                               "(non-neutral blocks)"},
)

__getattr__ = lazy_exports(__name__)
