"""Simulated recordings: round trip, determinism, crash safety, clear errors, NWB export."""
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from pfcda.circuit.io.recording import Recording, RecordingError, read_recording
from pfcda.circuit.run import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def recording():
    return run("bandit_independent", episodes=60, seed=3, batch_size=25)


def assert_same(a: Recording, b: Recording):
    assert a.attrs == b.attrs
    assert a.provenance == b.provenance and a.manipulations == b.manipulations
    for part in ("trials", "steps", "units"):
        da, db = getattr(a, part), getattr(b, part)
        assert set(da) == set(db), part
        for k in da:
            assert da[k].dtype == db[k].dtype and np.array_equal(da[k], db[k]), (part, k)


def test_contents(recording):
    r = recording
    n = 60 * 100
    assert r.attrs["n_steps"] == n and r.attrs["n_trials"] == n and r.attrs["n_episodes"] == 60
    assert r.units["hidden"].shape == (n, 48) and r.units["cell"].shape == (n, 48)
    assert r.steps["policy"].shape == (n, 2)
    assert np.allclose(r.steps["policy"].sum(1), 1, atol=1e-5)
    # δ is the one-step TD error of the network's own value
    s = r.steps
    g = r.attrs["gamma"]
    v_next = np.where(s["step"][1:] == 0, 0.0, s["value"][1:])
    expect = s["reward"][:-1] + g * v_next - s["value"][:-1]
    assert np.allclose(s["delta"][:-1], expect, atol=1e-5)
    # the trials table agrees with the steps and the task parameters
    assert np.array_equal(r.trials["choice"], s["action"])
    p_chosen = np.where(r.trials["choice"] == 0, r.trials["p_left"], r.trials["p_right"])
    assert np.allclose(r.trials["regret"], np.maximum(r.trials["p_left"], r.trials["p_right"]) - p_chosen)
    prov = r.provenance
    assert prov["seed"] == 3 and prov["checkpoint_sha256"] and prov["weight_hash"] == r.attrs["weight_hash_after"]
    assert prov["config"]["run"]["episodes"] == 60 and "torch" in prov["packages"]


def test_round_trip_and_streamed_file_are_identical(recording, tmp_path):
    path = tmp_path / "r.h5"
    recording.write(str(path))
    back = read_recording(str(path), units=True)
    assert_same(recording, back)
    streamed = run("bandit_independent", episodes=60, seed=3, batch_size=25, out=str(tmp_path / "s.h5"))
    # the same checkpoint, protocol and seed give bit-identical recordings (created time aside)
    streamed.provenance["created"] = recording.provenance["created"]
    streamed.provenance["command"] = recording.provenance["command"]
    assert_same(recording, streamed)
    with h5py.File(tmp_path / "s.h5") as f:
        assert f["units/hidden"].compression == "gzip" and f["units/hidden"].chunks is not None


def test_determinism_across_runs():
    a = run("bandit_independent", episodes=10, seed=8)
    b = run("bandit_independent", episodes=10, seed=8)
    c = run("bandit_independent", episodes=10, seed=9)
    for k in a.steps:
        assert np.array_equal(a.steps[k], b.steps[k])
    assert np.array_equal(a.units["hidden"], b.units["hidden"])
    assert not np.array_equal(a.steps["action"], c.steps["action"])


def test_killed_run_leaves_no_corrupt_file(tmp_path):
    out = tmp_path / "killed.h5"
    code = ("from pfcda.circuit.run import run\n"
            "run('bandit_independent', episodes=200000, batch_size=50, seed=0, out=%r)\n"
            % (str(out),))
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # wait until the writer is part-way through
            partial = [p for p in os.listdir(tmp_path) if p.endswith(".partial")]
            if partial and os.path.getsize(tmp_path / partial[0]) > 200_000:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the run never started writing")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not out.exists()  # nothing under the final name
    leftover = tmp_path / partial[0]
    with pytest.raises(RecordingError, match=str(leftover.name)):
        read_recording(str(leftover))


def test_reader_errors_name_the_file(tmp_path, recording):
    path = tmp_path / "good.h5"
    recording.write(str(path))
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(RecordingError, match="trunc.h5: not a readable HDF5 file"):
        read_recording(str(trunc))
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(RecordingError, match="foreign.h5: not a pfcda recording"):
        read_recording(str(foreign))
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(str(tmp_path / "missing.h5"))
    text = tmp_path / "text.h5"
    text.write_text("hello")
    p = subprocess.run([sys.executable, "-m", "pfcda", "info", str(text)], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 2 and "text.h5: not a readable HDF5 file" in p.stderr
    assert "Traceback" not in p.stderr


def test_bad_manipulations_fail_before_running(tmp_path):
    out = tmp_path / "never.h5"
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['what'\]"):
        run("bandit_independent", episodes=2, manipulations=[{"what": "units"}], out=str(out))
    assert not out.exists()


def test_nwb_export_validates_and_trials_match(tmp_path, monkeypatch, recording):
    pytest.importorskip("pynwb")
    monkeypatch.setenv("PYNWB_NO_CACHE_DIR", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    from pynwb import NWBHDF5IO

    from pfcda.circuit.io.nwb import export_nwb, validate_nwb

    h5 = tmp_path / "r.h5"
    recording.write(str(h5))
    nwb_path = tmp_path / "r.nwb"
    export_nwb(str(h5), str(nwb_path))
    assert validate_nwb(str(nwb_path)) == []
    with NWBHDF5IO(str(nwb_path), "r") as io:
        f = io.read()
        df = f.trials.to_dataframe()
        for k, v in recording.trials.items():
            assert np.array_equal(df[k].to_numpy(), v), k
        assert np.allclose(df["stop_time"] - df["start_time"], 0.5)
        assert np.array_equal(f.processing["pfc"]["hidden"].data[:], recording.units["hidden"])
        assert np.array_equal(f.processing["dopamine"]["rpe"].data[:], recording.steps["delta"])
        assert f.subject.subject_id.startswith("circuit-")
