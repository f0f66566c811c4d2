"""What ``pfcda reproduce`` reads off the stimulation-paired choice circuits — an extension beyond
Wang et al. 2018: Stauffer, Lak et al. 2016's monkeys came to choose the cue paired with
optogenetic DA stimulation (both cues paying the same juice). Each run is a set of
experiment sessions (frozen weights; the stimulation through the DA input the PFC receives);
the cue-response finding across sessions needs plasticity (``pfcda.circuit.plastic``), not a frozen
run, and is tested there."""
from ..paper import Claim, Paper, PaperRun
from .task import REFERENCE

_EXP = {"session": "experiment"}
_GAIN = REFERENCE["preference_end"]["paper"]
_SRC = REFERENCE["preference_end"]["source"]

PAPER = Paper(
    runs=(PaperRun("control", 200, task=_EXP),
          PaperRun("da_input_paired", 200, task=_EXP, presets=("da_input_paired",)),
          PaperRun("da_only_paired", 200, checkpoint="stauffer_da_only", task=_EXP, presets=("da_input_paired",))),
    claims=(
        Claim("Stauffer Fig. 6", "without stimulation (the fibre in the uninjected hemisphere) either cue is "
              "chosen equally: |P(paired, last 30 trials) − 0.5| < 0.05", "control", "preference_end", ("|<", 0.05),
              paper=0.0, source=REFERENCE["control_gain"]["source"]),
        Claim("Stauffer Fig. 6", "DA stimulation at the paired cue's juice (RPE input; the juice also observed) "
              "raises its choice by at least half the monkeys' rise (last 30 trials − 0.5)", "da_input_paired",
              "preference_end", (">=", _GAIN, 0.5), paper=_GAIN, source=_SRC),
        Claim("Stauffer Fig. 6", "… in the circuit whose juice reaches the PFC only as DA", "da_only_paired",
              "preference_end", (">=", _GAIN, 0.5), paper=_GAIN, source=_SRC),
    ))
