"""What ``pfcda reproduce`` reads off the stimulation two-step circuits — an extension beyond
Wang et al. 2018: Blanco-Pozo, Akam & Walton 2024's test of whether DA at the outcome acts as a
reward on the next choice (the mice: it does not). Each run on the same episodes; the
stimulated trials are the task's schedule (≈ 1 in 7)."""
from ..paper import Claim, Paper, PaperRun

_SRC = "Blanco-Pozo et al. 2024 (abstract): neither activating nor inhibiting DA neurons at outcome changed future choice"
_NULL = ("|<", 0.25)  # under a quarter of a reward's effect on staying

PAPER = Paper(
    runs=(PaperRun("control", 300),
          PaperRun("da_input_outcome", 300, presets=("da_input_outcome",)),
          PaperRun("da_input_second_step", 300, presets=("da_input_second_step",)),
          PaperRun("da_only_outcome", 300, checkpoint="twostep_stim_da_only", presets=("da_input_outcome",))),
    claims=(
        Claim("Akam et al. 2021", "the circuit's stay probabilities show the model-based transition × outcome "
              "interaction ((CR − CU) − (UR − UU) > 0.1)", "control", "mb_interaction", (">", 0.1),
              source="mice in this task are model-based (Akam et al. 2021; Blanco-Pozo et al. 2024)"),
        Claim("Blanco-Pozo Fig. 5", "DA stimulation at outcome (RPE input +1; the outcome also observed) acts on "
              "the next choice as less than a quarter of a reward", "da_input_outcome", "stim_like_reward", _NULL,
              lab=0.0, source=_SRC),
        Claim("Blanco-Pozo Fig. 5", "… in the circuit whose outcome reaches the PFC only as DA",
              "da_only_outcome", "stim_like_reward", _NULL, lab=0.0, source=_SRC),
    ))
