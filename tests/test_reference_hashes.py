"""Nothing a user sees changed in the refactor: every shipped checkpoint's ``pfcda run … --seed 0``
(100 episodes: every step, unit and trial array) and ``pfcda evaluate`` (2,000 episodes, the whole
JSON) are bit-identical to reference hashes recorded from main at 540ccc7, before the protocol
interface, the one step and the IO layer landed; so are manipulated runs, lab replays, a spikes
render and (slow) a closed-loop run.

The hashes cover array names, dtypes, shapes and bytes (tests/data/reference_540ccc7.json, made
by the recorder kept beside it). A deliberate change of the numbers (new checkpoints, a new
seeding) must re-record them and say so in its commit."""
import hashlib
import json
import os

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REF = json.load(open(os.path.join(HERE, "data", "reference_540ccc7.json")))


def h_arrays(d) -> str:
    h = hashlib.sha256()
    for k in sorted(d):
        a = np.ascontiguousarray(np.asarray(d[k]))
        if a.dtype == object:
            a = np.asarray([str(x) for x in a.reshape(-1)])
        h.update(k.encode())
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def rec_hashes(rec) -> dict:
    return {"steps": h_arrays(rec.steps), "trials": h_arrays(rec.trials), "units": h_arrays(rec.units),
            "weight_hash": rec.provenance["weight_hash"], "n_steps": int(rec.attrs["n_steps"]),
            "n_trials": int(rec.attrs["n_trials"])}


def check(name, rec):
    got, want = rec_hashes(rec), REF["run"][name]
    assert got == want, {k: (got[k], want[k]) for k in want if got[k] != want[k]}


def _shipped():
    from pfcda.circuit.io.checkpoint import shipped_checkpoints

    return [n for n in shipped_checkpoints() if n in REF["run"]]


@pytest.mark.parametrize("name", _shipped())
def test_run_is_bit_identical(name, tmp_path):
    from pfcda.circuit.run import run

    check(name, run(name, episodes=100, seed=0, out=str(tmp_path / "r.h5")))


@pytest.mark.parametrize("name", ["bandit_independent", "bandit_correlated"])
def test_evaluate_is_bit_identical(name):
    from pfcda.circuit.evaluate import evaluate_bandit
    from pfcda.circuit.io.checkpoint import load_checkpoint

    res = evaluate_bandit(load_checkpoint(name)[0], episodes=2000, seed=0)
    assert hashlib.sha256(json.dumps(res, sort_keys=True).encode()).hexdigest() == REF["evaluate"][name], \
        (res["agents"], REF["evaluate"][name + "_json"]["agents"])


def test_manipulated_runs_are_bit_identical(tmp_path):
    from pfcda.circuit.manipulations import Manipulation
    from pfcda.circuit.run import run
    from pfcda.protocols.stopper import PRESETS

    check("bandit_independent_manip", run(
        "bandit_independent", episodes=50, seed=3, out=str(tmp_path / "m.h5"),
        manipulations=[Manipulation(target="units", action="silence", fraction=0.25),
                       Manipulation(target="input", action="scale", value=0.5, channel="prev_reward")]))
    check("stopper_block_risky_reward", run("stopper", episodes=40, seed=1, out=str(tmp_path / "s.h5"),
                                            manipulations=PRESETS["block_risky_reward"]))


@pytest.mark.parametrize("lab,checkpoint", [("rats", "twostep_miller"), ("mice", "matching")])
def test_replays_are_bit_identical(lab, checkpoint, tmp_path):
    from pfcda.circuit.lab.replay import replay

    check(f"replay_{lab}", replay(checkpoint, lab, str(tmp_path / f"{lab}.h5")))


def test_spikes_render_is_bit_identical(tmp_path):
    pytest.importorskip("brian2")
    from pfcda.circuit.render import render
    from pfcda.circuit.run import run

    run("reversal", episodes=3, seed=0, out=str(tmp_path / "rev.h5"))
    sp = render(str(tmp_path / "rev.h5"), str(tmp_path / "sp.h5"), seed=0)["spikes"]
    assert h_arrays({k: v for k, v in sp.data.items() if k.startswith(("da/", "pfc/", "steps/"))}) \
        == REF["spikes_reversal3"]


@pytest.mark.slow
def test_closed_loop_is_bit_identical(tmp_path):
    from pfcda.circuit.run import run

    check("stopper_closed_loop_chr2", run(
        "stopper", episodes=4, seed=1, out=str(tmp_path / "cl.h5"), closed_loop=True,
        manipulations=[{"target": "da_neurons", "action": "chr2", "event": "risky_unrewarded", "name": "chr2"}]))


@pytest.mark.parametrize("lab,checkpoint,key", [("rats", "twostep_miller", "scoring_twostep_z_sum"),
                                                ("mice", "matching", "scoring_matching_z_sum")])
def test_teacher_forced_log_odds_are_bit_identical(lab, checkpoint, key):
    """Scoring now forces the animal's history through the task's own step; on every scored
    choice the circuit's log-odds equal those of the hand-built observations it replaced."""
    from pfcda.circuit.io.checkpoint import load_checkpoint
    from pfcda.circuit.lab.scoring import log_odds
    from pfcda.protocols import labdata

    circuit = load_checkpoint(checkpoint)[0]
    z, _, scored = log_odds(circuit, labdata.load(lab, circuit.config.protocol))
    assert float(z[scored].sum()) == REF[key]
