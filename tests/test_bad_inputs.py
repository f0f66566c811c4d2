"""Every plausible mistake, across every command, as a new user makes them: a one-line message
naming the field or the file, exit status 2, no traceback — and every file the user already had
in the working directory is byte-identical afterwards."""
import os
import shutil

import pytest

from pfcda.circuit.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A working directory with the user's files: recordings, a checkpoint, lab tables,
    manipulation files, a spikes file of another recording, a plug-in without a spec."""
    import gzip

    from pfcda.circuit.config import TrainConfig
    from pfcda.circuit.run import run
    from pfcda.circuit.train import train
    from pfcda.protocols.labdata import bundled_path

    d = tmp_path_factory.mktemp("user")
    run("bandit_correlated", episodes=3, seed=0, out=str(d / "run.h5"))
    run("bandit_correlated", episodes=3, seed=1, out=str(d / "other.h5"))
    run("matching", episodes=2, seed=0, out=str(d / "matching2.h5"))
    run("harlow", episodes=2, seed=0, out=str(d / "harlow.h5"))
    run("twostep_miller", episodes=3, seed=0, out=str(d / "twostep.h5"))
    train(TrainConfig.from_dict({"circuit": {"protocol": "bandit", "n_units": 4}, "steps": 200,
                                 "batch_size": 10, "t_max": 10, "eval_every": 0, "checkpoint_every": 0}),
          out=str(d / "ck.pt"), progress=False)
    with gzip.open(bundled_path("rats"), "rt") as f:
        header = f.readline()
    (d / "header_only.csv").write_text(header)
    (d / "lab.csv").write_text(header + "M1,1,1,l,l,1,1,0.8,0.2,0,0\n")
    (d / "notes.txt").write_text("my notes")
    (d / "good.toml").write_text('[[manipulation]]\ntarget = "units"\naction = "silence"\nfraction = 0.5\n')
    (d / "bad.toml").write_text("[[manipulation\ntarget = ")
    (d / "nan.toml").write_text('[[manipulation]]\ntarget = "units"\naction = "scale"\nvalue = nan\nfraction = 0.5\n')
    (d / "unknown.toml").write_text('[[manipulation]]\ntarget = "units"\naction = "silence"\nfraction = 0.5\nstrength = 2\n')
    (d / "nomanip.toml").write_text('title = "nothing here"\n')
    (d / "da_input.toml").write_text('[[manipulation]]\ntarget = "da_input"\naction = "add"\nvalue = 1\n')
    (d / "teach_test.toml").write_text('[[manipulation]]\ntarget = "units"\naction = "silence"\nfraction = 0.5\n')
    (d / "light.toml").write_text('[[manipulation]]\ntarget = "da_neurons"\naction = "chr2"\n')
    (d / "badmap.toml").write_text('layout = "weird"\n')
    (d / "nospec.py").write_text("X = 1\n")
    (d / "adir").mkdir()
    (d / "truncated.h5").write_bytes((d / "run.h5").read_bytes()[:2000])
    pytest.importorskip("brian2")
    from pfcda.circuit.render import render

    render(str(d / "other.h5"), str(d / "spikes_other.h5"), population="pfc")
    return d


N = "nope"
CASES = [
    # (argv, what the message must name)
    (["frobnicate"], "invalid choice"),
    (["run", N, "--out", "x.h5"], "unknown 'nope'"),
    (["run", "bandit", "--episodes", "0", "--out", "x.h5"], "expected a positive integer"),
    (["run", "bandit", "--episodes", "many", "--out", "x.h5"], "expected a positive integer"),
    (["run", "bandit", "--seed", "1.5", "--out", "x.h5"], "expected an integer"),
    (["run", "bandit", "--batch-size", "0", "--out", "x.h5"], "expected a positive integer"),
    (["run", "bandit", "--task", "arms=5", "--out", "x.h5"], "arms=5"),
    (["run", "bandit", "--task", "colour=red", "--out", "x.h5"], "colour"),
    (["run", "bandit", "--task", "trials", "--out", "x.h5"], "expected FIELD=VALUE"),
    (["run", "bandit", "--task", "variant=weird", "--out", "x.h5"], "variant"),
    (["run", "bandit", "--probs", "0.2,x", "--out", "x.h5"], "comma-separated probabilities"),
    (["run", "bandit", "--probs", "0.2,0.3,0.5", "--out", "x.h5"], "probs"),
    (["run", "bandit", "--probs", "1.5,0.2", "--out", "x.h5"], "probabilities in [0, 1]"),
    (["run", "bandit", "--checkpoint", "matching", "--out", "x.h5"], "'matching' circuit"),
    (["run", "bandit", "--checkpoint", "missing.pt", "--out", "x.h5"], "missing.pt"),
    (["run", "bandit", "--checkpoint", "notes.txt", "--out", "x.h5"], "not a pfcda checkpoint"),
    (["run", "bandit", "--manipulation", "missing.toml", "--out", "x.h5"], "missing.toml"),
    (["run", "bandit", "--manipulation", "bad.toml", "--out", "x.h5"], "not valid TOML"),
    (["run", "bandit", "--manipulation", "nan.toml", "--out", "x.h5"], "value"),
    (["run", "bandit", "--manipulation", "unknown.toml", "--out", "x.h5"], "strength"),
    (["run", "bandit", "--manipulation", "nomanip.toml", "--out", "x.h5"], "[[manipulation]]"),
    (["run", "bandit", "--manipulation", "da_input.toml", "--out", "x.h5"], "actor-critic"),
    (["run", "bandit", "--manipulation", "light.toml", "--out", "x.h5"], "closed"),
    (["run", "bandit", "--preset", "nope", "--out", "x.h5"], "has no preset 'nope'"),
    (["run", "bandit", "--closed-loop", "--out", "x.h5"], "actor-critic"),
    (["run", "bandit", "--out", "run.h5"], "run.h5: exists"),
    (["run", "bandit", "--out", "notes.txt"], "notes.txt: exists"),
    (["run", "bandit", "--out", "adir"], "adir: is a directory"),
    (["run", "bandit", "--out", "no/such/dir/x.h5"], "does not exist"),
    (["run", "bandit", "--checkpoint", "ck.pt", "--out", "ck.pt"], "is also an input"),
    (["run", "bandit", "--manipulation", "good.toml", "--out", "good.toml"], "is also an input"),
    (["run", "volatility", "--task", "schedule=weird", "--out", "x.h5"], "schedule"),
    (["run", "harlow", "--task", "pool=x", "--out", "x.h5"], "pool"),
    (["run", "matching", "--task", "schedule=missing.csv", "--out", "x.h5"], "missing.csv"),
    (["run", "twostep", "--task", "p_common=2", "--out", "x.h5"], "p_common"),
    (["train", N], "unknown 'nope'"),
    (["train", "bandit", "--variant", "weird", "--out", "x.pt"], "variant"),
    (["train", "bandit", "--set", "lr=fast", "--out", "x.pt"], "lr"),
    (["train", "bandit", "--set", "circuit.n_units=abc", "--out", "x.pt"], "circuit.n_units"),
    (["train", "bandit", "--set", "batch_size=0", "--out", "x.pt"], "batch_size"),
    (["train", "bandit", "--set", "nope=1", "--out", "x.pt"], "unknown fields"),
    (["train", "bandit", "--set", "circuit.nope=1", "--out", "x.pt"], "unknown fields"),
    (["train", "bandit", "--set", "optimizer=sgd", "--out", "x.pt"], "optimizer"),
    (["train", "bandit", "--set", "circuit.core=transformer", "--out", "x.pt"], "circuit.core"),
    (["train", "bandit", "--steps", "0", "--out", "x.pt"], "expected a positive integer"),
    (["train", "bandit", "--resume", "missing.pt", "--out", "x.pt"], "missing.pt"),
    (["train", "bandit", "--resume", "matching", "--out", "x.pt"], "--resume"),
    (["train", "bandit", "--resume", "ck.pt", "--out", "x.pt"], "--resume"),
    (["train", "bandit", "--manipulation", "teach_test.toml", "--out", "x.pt"], "stage 'test'"),
    (["train", "bandit", "--out", "ck.pt"], "ck.pt: exists"),
    (["train", "bandit", "--out", "adir"], "is a directory"),
    (["evaluate", N], "neither a file nor a shipped checkpoint"),
    (["evaluate", "matching"], "regret evaluation is for bandit circuits"),
    (["evaluate", "bandit_independent", "--episodes", "0"], "expected a positive integer"),
    (["evaluate", "bandit_independent", "--probs", "0.2,0.3,0.5"], "expected 2 probabilities"),
    (["evaluate", "notes.txt"], "not a pfcda checkpoint"),
    (["analyze", "missing.h5"], "missing.h5: no such file"),
    (["analyze", "notes.txt"], "notes.txt: not a readable HDF5 file"),
    (["analyze", "truncated.h5"], "truncated.h5"),
    (["analyze"], "give a recording"),
    (["analyze", "--list", N], "unknown 'nope'"),
    (["analyze", "run.h5", "--spikes", "missing.h5"], "missing.h5"),
    (["analyze", "run.h5", "--spikes", "spikes_other.h5"], "has no spike analyses"),
    (["analyze", "run.h5", "--figures", "notes.txt"], "notes.txt: is a file"),
    (["info", "missing.h5"], "missing.h5: no such file"),
    (["info", "ck.pt"], "ck.pt"),
    (["export", "run.h5"], "give --nwb FILE and/or --hbayesdm FILE"),
    (["export", "run.h5", "--nwb", "run.h5"], "is also an input"),
    (["export", "run.h5", "--hbayesdm", "run.h5"], "is also an input"),
    (["export", "run.h5", "--hbayesdm", "notes.txt"], "notes.txt: exists"),
    (["export", "harlow.h5", "--hbayesdm", "x.txt"], "no hBayesDM layout"),
    (["export", "run.h5", "--nwb", "x.nwb", "--hbayesdm", "x.nwb"], "two outputs"),
    (["export", "missing.h5", "--nwb", "x.nwb"], "missing.h5"),
    (["spikes", "run.h5", "--out", "run.h5"], "is also an input"),
    (["spikes", "missing.h5", "--out", "s.h5"], "missing.h5"),
    (["spikes", "run.h5", "--out", "s.h5", "--workers", "0"], "expected a positive integer"),
    (["spikes", "run.h5", "--out", "s.h5", "--population", "all"], "invalid choice"),
    (["compare", "twostep", "--model", "run.h5", "--lab", "rats"], "records protocol 'bandit'"),
    (["compare", "twostep", "--model", "twostep.h5", "--lab", "mice"], "--lab mice"),
    (["compare", "bandit", "--model", "run.h5", "--lab", "rats"], "compare supports"),
    (["compare", "twostep", "--model", "twostep.h5", "--lab", "header_only.csv"], "header_only.csv: no data rows"),
    (["compare", "twostep", "--model", "twostep.h5", "--lab", "missing.csv"], "missing.csv"),
    (["compare", "twostep", "--model", "twostep.h5", "--lab", "rats", "--bootstrap", "0"], "expected a positive integer"),
    (["compare", "twostep", "--model", "twostep.h5", "--lab", "lab.csv", "--mapping", "missing.toml"], "missing.toml"),
    (["compare", "twostep", "--model", "twostep.h5", "--lab", "lab.csv", "--mapping", "badmap.toml"], "layout"),
    (["compare", "twostep", "--model", "twostep.h5", "--lab", "rats", "--figures", "notes.txt"], "is a file"),
    (["replay", "twostep", "--lab", "lab.csv", "--out", "lab.csv"], "is also an input"),
    (["replay", "twostep", "--lab", "rats", "--out", "run.h5"], "run.h5: exists"),
    (["replay", "bandit", "--lab", "rats", "--out", "x.h5"], "replay supports"),
    (["replay", "twostep", "--lab", "header_only.csv", "--out", "x.h5"], "header_only.csv: no data rows"),
    (["replay", "matching", "--lab", "rats", "--out", "x.h5"], "--lab rats"),
    (["lesion-sweep", "bandit", "--sizes", "2"], "expected fractions in [0, 1]"),
    (["lesion-sweep", "bandit", "--channel", "nope", "--episodes", "2"], "channel"),
    (["lesion-sweep", "bandit", "--draws", "0"], "expected a positive integer"),
    (["--protocols", "missing.py", "protocols"], "missing.py"),
    (["--protocols", "nospec.py", "protocols"], "defines no ProtocolSpec"),
    (["checkpoints", "--json"], "unrecognized arguments"),
]


@pytest.mark.parametrize("argv,what", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_a_mistake_is_one_clear_line_and_touches_nothing(argv, what, work, monkeypatch, capsys):
    monkeypatch.chdir(work)
    monkeypatch.delenv("PFCDA_PROTOCOLS", raising=False)
    before = {p: open(p, "rb").read() for p in os.listdir(work) if os.path.isfile(p)}
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, (code, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("usage:")
             and not line.startswith(" ")]
    assert len(lines) == 1, err
    assert what in lines[0], lines[0]
    after = {p: open(p, "rb").read() for p in os.listdir(work) if os.path.isfile(p)}
    assert after == before, "a mistake changed or left files: " + str(set(after) ^ set(before))
    for leftover in ("x.h5", "x.pt", "x.txt", "x.nwb", "s.h5"):
        assert not os.path.exists(leftover)
    shutil.rmtree("figs", ignore_errors=True)


def test_at_least_sixty_cases_cover_every_command():
    assert len(CASES) >= 60
    commands = {a[0] if not a[0].startswith("--") else a[2] for a, _ in CASES}
    assert {"run", "train", "evaluate", "analyze", "info", "export", "spikes", "compare", "replay",
            "lesion-sweep", "protocols"} <= commands
