"""Pavlovian conditioning against recorded dopamine — Jeong et al. 2022 (Test 4), NAc
photometry; not in Wang et al. 2018. Task card: :mod:`.task`; simulated photometry:
:mod:`pfcda.dopamine.photometry`; analyses (the same on recorded and simulated traces):
:mod:`.analysis`; the bundled recordings: :mod:`.lab`."""
from ..spec import BASE_COLUMNS, LabSpec, ProtocolSpec, lazy_exports, package_parts

SPEC = ProtocolSpec(
    **package_parts("ConditioningTask"),
    name="conditioning",
    citation="Jeong et al. 2022 (Science 378:eabq6740), Test 4; data: Loewinger et al. 2024 (CC0)",
    description="Pavlovian CS+/CS− trace conditioning and unpredicted rewards; the circuit's RPE as "
                "simulated NAc photometry beside recorded dopamine (an extension beyond the paper)",
    default_checkpoint="conditioning",
    presets=".task:PRESETS",
    trial_codes={"kind": (0, 1), "choice": (0,), "cs": (-1, 0, 1), "cue": (-1, 0, 1), "reward": (0, 1)},
    trial_columns={
        **BASE_COLUMNS,
        "kind": "0 a cue trial, 1 an unpredicted reward (random mode)",
        "choice": "the outcome step's action: 0 (wait, the only action; Pavlovian)",
        "cs": "0 CS+, 1 CS−, −1 none (the data's coding)", "cue": "0 cue_a, 1 cue_b, −1 none",
        "reward": "the outcome step's reward (1, 0)", "p_reward": "the episode's CS+ reward probability",
        "cue_s": "the episode's cue duration (s)",
        "onset_step": "step of the cue's onset in the episode (random mode: the step after the "
                      "reward, when its RPE is emitted)",
        "iri_s": "random mode: seconds since the previous reward (NaN: the first, or a cue trial)",
        "photometry": "[trials, 125] simulated ΔF/F at 25 Hz, 2 s before to 3 s after cue onset (random "
                      "mode: the reward's RPE), the RPE route with the default kernel "
                      "(pfcda.dopamine.photometry; NaN outside the episode)"},
    spike_stats=".analysis:SPIKE_STATS",
    spike_analyses=".analysis:spike_analyses",
    lab=LabSpec(stats=".lab:stats", load=".lab:load", from_recording=".analysis:photometry_table",
                figure=".analysis:compare_figure"),
)

__getattr__ = lazy_exports(__name__)
