"""Model-based behaviour and RPEs in the two-step task — Wang et al. 2018 Sim 4 (Fig. 5); Miller,
Botvinick & Brody 2017 (rats); Daw et al. 2011 (humans). Task card: :mod:`.task`; analyses:
:mod:`.analysis`; reference agents and the hybrid model: :mod:`.agents`; lab data: :mod:`.lab`."""
from ..spec import BASE_COLUMNS, LabSpec, ProtocolSpec, lazy_exports, package_parts

SPEC = ProtocolSpec(
    paper=".paper:PAPER",
    **package_parts("TwoStepTask"),
    name="twostep",
    citation="Wang et al. 2018 Sim 4 (Fig. 5); Miller et al. 2017; Daw et al. 2011",
    description="two-step task (variants miller, daw): model-based choices and RPEs",
    default_checkpoint="twostep_miller",
    trial_codes={"choice": (0, 1), "state": (0, 1), "option": (0, 1), "reward": (-1, 0, 1), "common": (False, True), "error": (False, True)},
    trial_columns={
        **BASE_COLUMNS,
        "choice": "the first-stage choice: 0 left, 1 right (not an action index)",
        "state": "the second-stage state: 0 state 1, 1 state 2",
        "common": "the transition was common", "option": "the second-stage option (0 left/only, 1 right)",
        "reward": "the outcome (1, 0; −1 on an invalid outcome response)",
        "error": "any invalid response in the trial",
        "p1a": "reward probability of state 1, option a", "p1b": "… state 1, option b",
        "p2a": "… state 2, option a", "p2b": "… state 2, option b"},
    lab=LabSpec(stats=".lab:stats", schedule=".lab:schedule", forcing=".lab:forcing",
                checkpoint_for=".lab:checkpoint_for", compare_models=".lab:compare_models",
                fit_models=".lab:fit_models", figure=".lab:figure"),
    hbayesdm=".lab:hbayesdm",
)

__getattr__ = lazy_exports(__name__)
