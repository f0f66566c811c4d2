"""The example plug-in (examples/prl.py, a protocol written outside the package) end to end
through the command line, as a new user runs it from a fresh clone: listed, trained, run,
recorded, manipulated, analysed and exported to NWB with ``--protocols examples/prl.py``.

The science: the example's trained circuit (examples/checkpoints/prl.pt, made by
``pfcda --protocols examples/prl.py train prl --seed 0 --out examples/checkpoints/prl.pt``)
learns within each episode with its weights frozen — after an unsignalled reversal its accuracy
is low and recovers a few trials later — and with the DA teaching signal blocked during
training (examples/prl_da_blockade.toml) no such learning emerges.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN = os.path.join(ROOT, "examples", "prl.py")
SHIPPED = os.path.join(ROOT, "examples", "checkpoints", "prl.pt")


def pfcda(*args, check=True, cwd=None):
    env = {**os.environ, "PYNWB_NO_CACHE_DIR": "1"}
    env.pop("PFCDA_PROTOCOLS", None)
    p = subprocess.run([sys.executable, "-m", "pfcda", "--protocols", PLUGIN, *args],
                       capture_output=True, text=True, env=env, timeout=900, cwd=cwd or ROOT)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("prl")


def analyze(path) -> dict:
    return {k: v["value"] for k, v in json.loads(pfcda("analyze", str(path), "--json").stdout)["stats"].items()}


def test_listed_beside_the_built_ins():
    out = pfcda("protocols").stdout
    assert out.startswith("bandit") and "\nprl " in out and "Bari et al. 2010" in out
    stats = pfcda("analyze", "--list", "prl").stdout
    assert "win_stay" in stats and "recovery" in stats


def test_the_shipped_example_circuit_learns_within_episodes(work):
    out = work / "prl.h5"
    pfcda("run", "prl", "--episodes", "200", "--seed", "1", "--out", str(out), "--quiet")
    st = analyze(out)
    assert st["accuracy"] > 0.75
    assert st["acc_after_reversal_1"] < 0.3  # right after the unsignalled reversal: the old side
    assert st["acc_after_reversal_10"] > 0.75  # … ten trials later the new one, weights frozen
    assert st["recovery"] > 0.5
    assert st["win_stay"] > 0.85 and st["lose_shift"] > 0.2
    info = json.loads(pfcda("info", str(out), "--json").stdout)
    assert info["protocol"] == "prl" and info["checkpoint"].endswith("prl.pt")


def test_manipulated_analysed_and_exported(work):
    base, lesioned = work / "base.h5", work / "lesioned.h5"
    pfcda("run", "prl", "--episodes", "200", "--seed", "2", "--out", str(base), "--quiet")
    pfcda("run", "prl", "--episodes", "200", "--seed", "2", "--preset", "block_reward_input",
          "--out", str(lesioned), "--quiet")
    intact, blind = analyze(base), analyze(lesioned)
    assert blind["accuracy"] < intact["accuracy"] - 0.2  # without the reward input: no learning
    assert blind["recovery"] < 0.5 * intact["recovery"]
    half = work / "half.h5"
    pfcda("run", "prl", "--episodes", "200", "--seed", "2", "--preset", "lesion_half_units",
          "--out", str(half), "--quiet")
    assert analyze(half)["accuracy"] < intact["accuracy"] - 0.2  # half the PFC units silenced
    figs = work / "figs"
    pfcda("analyze", str(base), "--figures", str(figs))
    assert (figs / "prl.png").stat().st_size > 1000
    pytest.importorskip("pynwb")
    nwb = work / "prl.nwb"
    out = pfcda("export", str(base), "--nwb", str(nwb)).stdout
    assert "(validates)" in out and nwb.stat().st_size > 1000


def test_training_through_the_cli_and_the_da_blockade(work):
    """A short training run through the CLI; with the DA teaching signal blocked the circuit
    learns nothing: chance accuracy, no recovery after reversals, choices blind to outcomes."""
    blocked = work / "blocked.pt"
    pfcda("train", "prl", "--manipulation", os.path.join(ROOT, "examples", "prl_da_blockade.toml"),
          "--steps", "200000", "--seed", "0", "--out", str(blocked), "--quiet")
    run = work / "blocked.h5"
    pfcda("run", "prl", "--checkpoint", str(blocked), "--episodes", "200", "--out", str(run), "--quiet")
    st = analyze(run)
    assert abs(st["accuracy"] - 0.5) < 0.05
    assert abs(st["recovery"]) < 0.15
    assert abs(st["win_stay"] - (1 - st["lose_shift"])) < 0.1  # choices ignore the outcome


@pytest.mark.slow
def test_full_budget_training_with_and_without_dopamine(work):
    """The mechanism at the shipped budget: the same training with and without the DA teaching
    signal; only the intact one learns within episodes."""
    for name, extra in (("intact", []), ("blocked", ["--manipulation",
                                                     os.path.join(ROOT, "examples", "prl_da_blockade.toml")])):
        ckpt = work / f"{name}_full.pt"
        pfcda("train", "prl", *extra, "--seed", "1", "--out", str(ckpt), "--quiet")
        out = work / f"{name}_full.h5"
        pfcda("run", "prl", "--checkpoint", str(ckpt), "--episodes", "200", "--out", str(out), "--quiet")
        st = analyze(out)
        if name == "intact":
            assert st["recovery"] > 0.5 and st["accuracy"] > 0.75
        else:
            assert abs(st["accuracy"] - 0.5) < 0.05 and abs(st["recovery"]) < 0.15
