"""Nothing a user sees changes unless intended: every shipped checkpoint's ``pfcda run … --seed 0``
(100 episodes: every step, unit and trial array), ``pfcda evaluate`` (2,000 episodes), manipulated
runs, lab replays, a spikes render and the teacher-forced log-odds against references recorded
from the tree (tests/data/reference.json, made by this file: ``python tests/test_reference.py``).

Integer, boolean and text arrays (choices, rewards, trials, spike indices) and the weight hashes
must be identical. Floating-point arrays are compared by a fingerprint (sum, sum of squares, 32
values spread over the array) within a relative 1e-4: their last bits differ between CPU
instruction sets (AVX2 and AVX-512 kernels of the same torch), so bytes are not a property of
the code alone. (At #13 the refactor was checked bit for bit against main at 540ccc7 on one
machine, tests/data/reference_540ccc7.json; that file stays for the record.)

A deliberate change of the numbers (new checkpoints, a new seeding) re-records the references and
says so in its commit."""
import json
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REF_PATH = os.path.join(HERE, "data", "reference.json")
RTOL, ATOL = 1e-4, 1e-5


def fingerprint(d: dict) -> dict:
    """Per array: exact SHA-256 of integer/bool/text arrays; a float array's summary."""
    import hashlib

    out = {}
    for k in sorted(d):
        a = np.ascontiguousarray(np.asarray(d[k]))
        if a.dtype == object:
            a = np.asarray([str(x) for x in a.reshape(-1)])
        if np.issubdtype(a.dtype, np.floating):
            f = a.astype(np.float64).reshape(-1)
            finite = np.isfinite(f)
            idx = np.unique(np.linspace(0, max(f.size - 1, 0), 32).astype(int)) if f.size else []
            out[k] = {"dtype": str(a.dtype), "shape": list(a.shape), "nonfinite": int((~finite).sum()),
                      "sum": float(f[finite].sum()), "sumsq": float((f[finite] ** 2).sum()),
                      "sample": [float(x) if np.isfinite(x) else str(x) for x in f[idx]]}
        else:
            h = hashlib.sha256(a.tobytes()).hexdigest()
            out[k] = {"dtype": str(a.dtype), "shape": list(a.shape), "sha256": h}
    return out


def rec_fingerprint(rec) -> dict:
    return {"steps": fingerprint(rec.steps), "trials": fingerprint(rec.trials), "units": fingerprint(rec.units),
            "weight_hash": rec.provenance["weight_hash"], "n_steps": int(rec.attrs["n_steps"]),
            "n_trials": int(rec.attrs["n_trials"])}


def _close(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return abs(a - b) <= ATOL + RTOL * abs(b)


def differences(got, want, where="") -> list[str]:
    """Where two fingerprints (nested dicts/lists/numbers) differ beyond the tolerance."""
    if isinstance(want, dict):
        if set(got) != set(want):
            return [f"{where}: keys {sorted(set(got) ^ set(want))}"]
        return [d for k in want for d in differences(got[k], want[k], f"{where}/{k}")]
    if isinstance(want, list):
        if len(got) != len(want):
            return [f"{where}: length {len(got)} != {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{where}[{i}]")]
    if isinstance(want, float) and not isinstance(got, str):
        return [] if _close(got, want) else [f"{where}: {got!r} != {want!r}"]
    return [] if got == want else [f"{where}: {got!r} != {want!r}"]


def _runs():
    from pfcda.circuit.io.checkpoint import shipped_checkpoints
    from pfcda.circuit.manipulations import Manipulation
    from pfcda.protocols.stopper import PRESETS

    cases = {name: dict(checkpoint=name, episodes=100, seed=0) for name in shipped_checkpoints()}
    cases["bandit_independent_manip"] = dict(
        checkpoint="bandit_independent", episodes=50, seed=3,
        manipulations=[Manipulation(target="units", action="silence", fraction=0.25),
                       Manipulation(target="input", action="scale", value=0.5, channel="prev_reward")])
    cases["stopper_block_risky_reward"] = dict(checkpoint="stopper", episodes=40, seed=1,
                                               manipulations=PRESETS["block_risky_reward"])
    return cases


SLOW_RUNS = {"stopper_closed_loop_chr2": dict(
    checkpoint="stopper", episodes=4, seed=1, closed_loop=True,
    manipulations=[{"target": "da_neurons", "action": "chr2", "event": "risky_unrewarded", "name": "chr2"}])}
REPLAYS = [("rats", "twostep_miller"), ("mice", "matching")]


def _run(case: dict, out: str):
    from pfcda.circuit.run import run

    kw = dict(case)
    return run(kw.pop("checkpoint"), out=out, **kw)


def _evaluate(name: str) -> dict:
    from pfcda.circuit.evaluate import evaluate_bandit
    from pfcda.circuit.io.checkpoint import load_checkpoint

    return evaluate_bandit(load_checkpoint(name)[0], episodes=2000, seed=0)


def _spikes(tmp: str) -> dict:
    from pfcda.circuit.render import render
    from pfcda.circuit.run import run

    run("reversal", episodes=3, seed=0, out=os.path.join(tmp, "rev.h5"))
    sp = render(os.path.join(tmp, "rev.h5"), os.path.join(tmp, "sp.h5"), seed=0)["spikes"]
    return fingerprint({k: v for k, v in sp.data.items() if k.startswith(("da/", "pfc/", "steps/"))})


def _log_odds(lab: str, checkpoint: str) -> float:
    from pfcda.circuit.io.checkpoint import load_checkpoint
    from pfcda.circuit.lab.scoring import log_odds
    from pfcda.protocols import labdata

    circuit = load_checkpoint(checkpoint)[0]
    z, _, scored = log_odds(circuit, labdata.load(lab, circuit.config.protocol))
    return float(z[scored].sum())


REF = json.load(open(REF_PATH)) if os.path.exists(REF_PATH) else None
needs_ref = pytest.mark.skipif(REF is None, reason="no tests/data/reference.json (record it: python tests/test_reference.py)")


def check(got, want):
    diff = differences(got, want)
    assert not diff, "\n".join(diff[:20])


@needs_ref
@pytest.mark.parametrize("name", sorted(_runs()))
def test_runs_are_unchanged(name, tmp_path):
    check(rec_fingerprint(_run(_runs()[name], str(tmp_path / "r.h5"))), REF["run"][name])


@needs_ref
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW_RUNS))
def test_closed_loop_runs_are_unchanged(name, tmp_path):
    check(rec_fingerprint(_run(SLOW_RUNS[name], str(tmp_path / "r.h5"))), REF["run"][name])


@needs_ref
@pytest.mark.parametrize("name", ["bandit_independent", "bandit_correlated"])
def test_evaluate_is_unchanged(name):
    check(json.loads(json.dumps(_evaluate(name))), REF["evaluate"][name])


@needs_ref
@pytest.mark.parametrize("lab,checkpoint", REPLAYS)
def test_replays_are_unchanged(lab, checkpoint, tmp_path):
    from pfcda.circuit.lab.replay import replay

    check(rec_fingerprint(replay(checkpoint, lab, str(tmp_path / f"{lab}.h5"))), REF["run"][f"replay_{lab}"])


@needs_ref
def test_spikes_render_is_unchanged(tmp_path):
    pytest.importorskip("brian2")
    check(_spikes(str(tmp_path)), REF["spikes_reversal3"])


@needs_ref
@pytest.mark.parametrize("lab,checkpoint", REPLAYS)
def test_teacher_forced_log_odds_are_unchanged(lab, checkpoint):
    """Scoring forces the animal's history through the task's own step."""
    check(_log_odds(lab, checkpoint), REF[f"log_odds_{lab}"])


def record(path: str = REF_PATH) -> None:
    """Record every reference from the tree as it is (run from the repository root)."""
    import subprocess
    import tempfile

    import torch

    torch.set_num_threads(1)
    tmp = tempfile.mkdtemp()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    out = {"recorded_at": commit, "run": {}, "evaluate": {}}
    from pfcda.circuit.lab.replay import replay

    for name, case in {**_runs(), **SLOW_RUNS}.items():
        out["run"][name] = rec_fingerprint(_run(case, os.path.join(tmp, name + ".h5")))
        print(name, flush=True)
    for lab, ck in REPLAYS:
        out["run"][f"replay_{lab}"] = rec_fingerprint(replay(ck, lab, os.path.join(tmp, lab + ".h5")))
        out[f"log_odds_{lab}"] = _log_odds(lab, ck)
    for name in ("bandit_independent", "bandit_correlated"):
        out["evaluate"][name] = json.loads(json.dumps(_evaluate(name)))
    out["spikes_reversal3"] = _spikes(tmp)
    from pfcda.circuit.io.atomic import atomic_write

    with atomic_write(path) as tmp_path:
        with open(tmp_path, "w") as f:
            json.dump(out, f, indent=0, sort_keys=True)
    print("wrote", path)


if __name__ == "__main__":
    record(sys.argv[1] if len(sys.argv) > 1 else REF_PATH)
