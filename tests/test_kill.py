"""Kill tests: SIGINT, SIGTERM and SIGKILL at random points of ``run``, ``train``, ``spikes``,
``export`` and ``replay`` (each in a subprocess, writing over an older file with --force): the
target is afterwards either the complete new file or the untouched old one; no ``.partial``
survives SIGINT or SIGTERM; after SIGKILL the next writer of that target removes the leftover and
says so. The default run tries each signal once per command; ``-m slow`` ten times each."""
import os
import random
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    from pfcda.circuit.run import run

    d = tmp_path_factory.mktemp("kill")
    run("bandit_correlated", episodes=400, seed=0, out=str(d / "rec.h5"))
    run("reversal", episodes=6, seed=0, out=str(d / "small.h5"))
    return d


COMMANDS = {
    "run": (["run", "bandit", "--episodes", "4000", "--batch-size", "200", "--out", "{out}"], "recording"),
    "train": (["train", "bandit", "--steps", "3000000", "--set", "batch_size=64", "--set", "eval_every=0",
               "--set", "checkpoint_every=100000", "--set", "circuit.n_units=16", "--out", "{out}"], "checkpoint"),
    "spikes": (["spikes", "{small}", "--out", "{out}"], "spikes"),
    "export": (["export", "{rec}", "--nwb", "{out}", "--no-validate"], "nwb"),
    "replay": (["replay", "matching", "--lab", "mice", "--out", "{out}"], "recording"),
}


def _readable(path: str, kind: str) -> bool:
    try:
        if kind == "recording":
            from pfcda.circuit.io.recording import read_recording

            read_recording(path)
        elif kind == "checkpoint":
            from pfcda.circuit.io.checkpoint import read_checkpoint

            read_checkpoint(path)
        elif kind == "spikes":
            from pfcda.circuit.io.spikes import read_spikes

            read_spikes(path)
        else:
            import h5py

            with h5py.File(path, "r") as f:
                assert "acquisition" in f or "processing" in f
        return True
    except Exception:  # noqa: BLE001 - anything unreadable is a corrupt output
        return False


def _one(command: str, sig: int, inputs, work, rng) -> None:
    argv, kind = COMMANDS[command]
    out = work / f"{command}.out"
    out.write_bytes(b"the old file, before this run")
    old = out.read_bytes()
    args = [a.format(out=out, rec=inputs / "rec.h5", small=inputs / "small.h5") for a in argv]
    env = {k: v for k, v in os.environ.items() if k != "PFCDA_PROTOCOLS"}
    proc = subprocess.Popen([sys.executable, "-m", "pfcda", *args, "--force"], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(rng.uniform(0.5, 6.0))
    if proc.poll() is None:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    now = out.read_bytes()
    assert now == old or _readable(str(out), kind), f"{command} after {signal.Signals(sig).name}: corrupt target\n{err}"
    partials = [p for p in os.listdir(work) if p.endswith(".partial")]
    if sig == signal.SIGKILL:
        if partials:  # the next writer of that target cleans the leftover and names it
            from pfcda.circuit.io.atomic import AtomicOutput

            for p in partials:
                leftover = AtomicOutput(str(work / p[:-len(".partial")]))
                leftover.abort()
            assert not [p for p in os.listdir(work) if p.endswith(".partial")]
    else:
        if proc.returncode == -sig:
            # the signal came before pfcda's handler was installed (interpreter start-up) or after
            # Python restored the default handlers at exit: the target is old or complete (above)
            assert not partials, f"{command} died of {signal.Signals(sig).name} mid-write, left {partials}\n{err}"
        else:
            assert proc.returncode in (0, 130), f"{command} after {signal.Signals(sig).name}: exit {proc.returncode}\n{err}"
        # brian2's own SIGINT handler would stop a simulation early and return normally
        assert "stop requested" not in err, f"{command}: a simulation was truncated, not interrupted\n{err}"
        assert not partials, f"{command} after {signal.Signals(sig).name} left {partials}\n{err}"
        if proc.returncode == 130:
            assert now == old, f"{command}: an interrupted run replaced the old file"
    if command == "train" and "interrupted after" in err:  # stopped between updates: resumable
        assert os.path.exists(work / f"{command}.out.resume.pt"), err
    for p in os.listdir(work):
        os.remove(work / p)


SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


def _needs(command: str) -> None:
    if command == "spikes":
        pytest.importorskip("brian2")
    if command == "export":
        pytest.importorskip("pynwb")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_signal_once(command, inputs, tmp_path):
    _needs(command)
    rng = random.Random(sorted(COMMANDS).index(command))
    for sig in SIGNALS:
        _one(command, sig, inputs, tmp_path, rng)


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_ten_times_each_signal(command, inputs, tmp_path):
    _needs(command)
    rng = random.Random(1000 + sorted(COMMANDS).index(command))
    for sig in SIGNALS:
        for _ in range(10):
            _one(command, sig, inputs, tmp_path, rng)
