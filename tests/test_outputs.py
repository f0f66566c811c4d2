"""Nothing a user owns is destroyed, nothing wrong is printed as right (one test per defect the
new-user review found): outputs are never inputs and never replaced without --force; training
writes its checkpoint only when done and resumes bit for bit; a trained circuit refuses another
task; the hBayesDM prl codes; a full disk; two writers; the recording's fields and codes as the
format says; one seed, one set of episodes in run and evaluate; statistics that say how reliable
they are."""
import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from pfcda.circuit.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*argv):
    """(exit status, stderr) of ``pfcda ARGV`` in this process."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(list(argv))
        except SystemExit as e:
            code = e.code
    return code, err.getvalue()


@pytest.fixture(scope="module")
def run_h5(tmp_path_factory):
    from pfcda.circuit.run import run

    path = tmp_path_factory.mktemp("rec") / "run.h5"
    run("bandit_correlated", episodes=5, seed=0, out=str(path))
    return path


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path, run_h5):
    rec = tmp_path / "run.h5"
    shutil.copy(run_h5, rec)
    lab = tmp_path / "my.csv"
    lab.write_text("rat,session,choice1\nM1,1,l\n")  # the lab's own file
    before = {p: p.read_bytes() for p in (rec, lab)}
    for argv in (["replay", "twostep", "--lab", str(lab), "--out", str(lab)],
                 ["export", str(rec), "--nwb", str(rec)], ["export", str(rec), "--hbayesdm", str(rec)],
                 ["spikes", str(rec), "--out", str(rec)], ["export", str(rec), "--nwb", str(rec), "--force"]):
        code, err = cli(*argv)
        assert code == 2 and "is also an input" in err and err.count("\n") == 1, (argv, err)
    assert {p: p.read_bytes() for p in before} == before


@pytest.mark.parametrize("argv", [
    ["run", "bandit", "--episodes", "2", "--out", "{out}"],
    ["train", "bandit", "--steps", "100", "--set", "circuit.n_units=4", "--set", "eval_every=0",
     "--out", "{out}", "--quiet"],
    ["export", "{rec}", "--hbayesdm", "{out}"],
])
def test_existing_outputs_need_force(argv, tmp_path, run_h5):
    out = tmp_path / "existing.dat"
    out.write_bytes(b"the user's file")
    args = [a.format(out=out, rec=run_h5) for a in argv]
    code, err = cli(*args)
    assert code == 2 and "exists; give --force" in err
    assert out.read_bytes() == b"the user's file"
    code, err = cli(*args, "--force")
    assert code == 0, err
    assert out.read_bytes() != b"the user's file"


def test_figures_go_only_into_a_new_or_empty_folder(tmp_path, run_h5):
    figs = tmp_path / "figs"
    figs.mkdir()
    (figs / "bandit_regret.png").write_bytes(b"mine")
    code, err = cli("analyze", str(run_h5), "--figures", str(figs))
    assert code == 2 and "not empty" in err and (figs / "bandit_regret.png").read_bytes() == b"mine"
    code, err = cli("analyze", str(run_h5), "--figures", str(tmp_path / "new"))
    assert code == 0 and (tmp_path / "new" / "bandit_regret.png").stat().st_size > 1000


def test_interrupted_training_keeps_out_and_resumes_bit_for_bit(tmp_path, monkeypatch):
    """Periodic and interrupt checkpoints go to OUT.resume.pt; OUT appears only when training
    completes; resuming gives the weights of an uninterrupted run (episodes in flight, network
    state, task state, noise generators all carried)."""
    from pfcda.circuit import signals
    from pfcda.circuit.config import TrainConfig
    from pfcda.circuit.train import resume_path, train

    cfg = TrainConfig.from_dict({
        "circuit": {"protocol": "matching", "n_units": 8}, "steps": 16 * 10 * 9, "batch_size": 16,
        "t_max": 10, "eval_every": 0, "checkpoint_every": 16 * 10 * 4, "optimizer": "adam",
        "manipulations": [{"target": "units", "action": "noise", "value": 0.1, "stage": "both", "fraction": 0.5}]})
    full = train(cfg, out=str(tmp_path / "full.pt"), progress=False).weight_hash()
    out = tmp_path / "stopped.pt"
    out.write_bytes(b"a trained circuit the user keeps")
    calls = {"n": 0}
    real = signals.check

    def check():
        calls["n"] += 1
        if calls["n"] == 6:  # a Ctrl-C before the 6th update
            raise signals.Interrupted()
        real()

    monkeypatch.setattr(signals, "check", check)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, out=str(out), progress=False, log=lambda *a: None, overwrite=True)
    monkeypatch.setattr(signals, "check", real)
    assert out.read_bytes() == b"a trained circuit the user keeps"  # untouched until training completes
    assert os.path.exists(resume_path(str(out)))
    again = train(cfg, out=str(out), resume=resume_path(str(out)), progress=False, overwrite=True)
    assert again.weight_hash() == full
    assert not os.path.exists(resume_path(str(out)))  # done: the resume file is gone


def test_resume_refuses_another_protocol(tmp_path):
    from pfcda.circuit.io.checkpoint import resolve

    code, err = cli("train", "bandit", "--steps", "100", "--resume", resolve("matching"),
                    "--out", str(tmp_path / "x.pt"), "--quiet")
    assert code == 2 and "resume" in err and "Traceback" not in err


def test_a_trained_circuit_refuses_another_observation_or_action_space(tmp_path):
    code, err = cli("run", "bandit", "--task", "arms=5", "--out", str(tmp_path / "x.h5"))
    assert code == 2 and "arms=5" in err and "action channels" in err
    code, err = cli("run", "twostep", "--task", "feedback=step", "--out", str(tmp_path / "x.h5"))
    assert code == 2 and "observation channels" in err
    assert not os.listdir(tmp_path)


def test_hbayesdm_prl_codes_choices_1_and_2(tmp_path):
    import pandas as pd

    from pfcda.circuit.io.export import export_hbayesdm
    from pfcda.circuit.run import run

    rec = run("reversal", episodes=3, seed=0, out=str(tmp_path / "r.h5"))
    export_hbayesdm(str(tmp_path / "r.h5"), str(tmp_path / "prl.txt"))
    df = pd.read_csv(tmp_path / "prl.txt", sep="\t")
    assert set(df["choice"]) <= {1, 2} and set(df["outcome"]) <= {1, -1}
    valid = ~rec.trials["error"] & np.isin(rec.trials["choice"], (1, 2))
    assert np.array_equal(df["choice"].to_numpy(), rec.trials["choice"][valid])  # 1 left, 2 right


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(small)], capture_output=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({p.stderr.decode().strip()})")
    try:
        code, err = cli("run", "bandit", "--episodes", "200", "--out", str(small / "big.h5"), "--quiet")
        assert code == 2 and "no space left on the device" in err and err.count("\n") == 1
        code, err = cli("train", "bandit", "--steps", "100", "--out", str(small / "c.pt"), "--quiet")
        assert code == 2 and "no space left on the device" in err
        assert os.listdir(small) == []
    finally:
        subprocess.run(["umount", str(small)])


def test_a_second_writer_to_one_target_fails_at_once(tmp_path):
    from pfcda.circuit.io.atomic import AtomicOutput
    from pfcda.errors import OutputError

    first = AtomicOutput(str(tmp_path / "x.h5"))
    with pytest.raises(OutputError, match="another process is writing it now"):
        AtomicOutput(str(tmp_path / "x.h5"))
    first.abort()
    assert not os.listdir(tmp_path)


def test_a_partial_left_by_a_killed_run_is_cleaned_and_named(tmp_path, capfd):
    from pfcda.circuit.io.atomic import AtomicOutput

    (tmp_path / "x.h5.partial").write_bytes(b"half a file")
    out = AtomicOutput(str(tmp_path / "x.h5"))
    assert "removed" in capfd.readouterr().err and os.path.getsize(out.tmp) == 0
    out.abort()


def test_recordings_hold_what_the_format_says(tmp_path):
    """Every protocol's recording (a run of its shipped circuit; the example plug-in's) has
    exactly its documented trials columns, with its documented codes, and every per-step field
    of the schema with its dtype."""
    from pfcda import protocols
    from pfcda.circuit.io.recording import read_recording
    from pfcda.circuit.io.schema import STEP_FIELDS
    from pfcda.circuit.run import default_checkpoint, run

    protocols.load_plugins([os.path.join(ROOT, "examples", "prl.py")])
    for name in protocols.names():
        spec = protocols.get(name)
        out = tmp_path / f"{name}.h5"
        run(default_checkpoint(name), episodes=6, seed=0, out=str(out))
        rec = read_recording(str(out))
        documented = {c for c in spec.trial_columns if "<" not in c}
        arms = {f"p_{a}" for a in rec.attrs["action_names"]} if "p_<arm>" in spec.trial_columns else set()
        assert set(rec.trials) == documented | arms, name
        for col, codes in spec.trial_codes.items():
            assert set(np.unique(rec.trials[col]).tolist()) <= set(codes), (name, col)
        assert set(np.unique(rec.steps["action"])) <= set(range(len(rec.attrs["action_names"])))
        assert set(np.unique(rec.steps["phase"])) <= set(range(len(rec.attrs["phase_names"])))
        for k, f in STEP_FIELDS.items():
            if k in rec.steps:
                assert str(rec.steps[k].dtype) == f.dtype, (name, k)
            else:
                assert f.when, f"{name}: steps/{k} missing"
        if name == "bandit":
            assert set(np.unique(rec.trials["choice"])) <= set(range(len(rec.attrs["action_names"])))


def test_one_seed_means_the_same_episodes_in_run_and_evaluate():
    from pfcda.circuit.evaluate import evaluate_bandit
    from pfcda.circuit.io.checkpoint import load_checkpoint
    from pfcda.circuit.run import run

    circuit = load_checkpoint("bandit_independent")[0]
    rec = run(circuit, episodes=300, seed=5)
    per_episode = np.bincount(rec.trials["episode"], weights=rec.trials["regret"])
    res = evaluate_bandit(circuit, episodes=300, seed=5, agents=())
    assert res["agents"]["circuit"]["regret"] == pytest.approx(per_episode.mean(), rel=1e-6)


def test_the_weight_hash_after_is_measured(tmp_path):
    import h5py

    from pfcda.circuit.io.checkpoint import load_checkpoint
    from pfcda.circuit.run import run

    circuit = load_checkpoint("reversal")[0]
    run(circuit, episodes=2, seed=0, out=str(tmp_path / "r.h5"))
    with h5py.File(tmp_path / "r.h5") as f:
        prov = json.loads(f.attrs["provenance"])
        assert f.attrs["weight_hash_after"] == prov["weight_hash"] == circuit.weight_hash()


def test_behrens_recordings_record_the_level_they_use(tmp_path):
    from pfcda.circuit.run import run

    rec = run("volatility", episodes=2, seed=0, task_overrides={"schedule": "behrens"})
    assert rec.attrs["task"]["volatile_level"] == 0.8
    assert np.allclose(np.unique(np.round(rec.trials["p_a"], 2)), [0.2, 0.25, 0.75, 0.8])


def test_daw_two_step_analyses_do_not_show_the_rats_references():
    from pfcda import protocols
    from pfcda.circuit.run import run

    rec = run("twostep_daw", episodes=30, seed=0)
    ref = protocols.get("twostep").analyze(rec)["reference"]
    assert set(ref) == {"hybrid_w"}


def test_default_volatility_analysis_says_why_and_raises_no_library_warnings(tmp_path):
    from pfcda.circuit.analyze import analyze_recording
    from pfcda.circuit.run import run

    run("volatility", episodes=30, seed=0, out=str(tmp_path / "v.h5"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no SingularMatrixWarning (episodes without a change excluded)
        res = analyze_recording(str(tmp_path / "v.h5"), figures=str(tmp_path / "figs"))
    assert any("Behrens" in w for w in res["warnings"])
    assert (tmp_path / "figs" / "volatility.png").stat().st_size > 1000


def test_statistics_carry_their_reliability():
    from pfcda.circuit.lab.compare import compare
    from pfcda.circuit.run import run
    from pfcda.protocols import labdata
    from pfcda.protocols.reliability import at_bounds

    mice = labdata.load("mice", "matching")
    rec = run("matching", episodes=40, seed=0)
    res = compare("matching", dict(rec.trials), mice, n_boot=20, seed=0)
    joined = "\n".join(res["warnings"])
    assert "20 resamples" in joined  # too few resamples
    assert "only 3 units" in joined  # the lab's CIs rest on 3 sessions
    assert all(np.isfinite(v["value"]) for v in res["lab"].values())
    assert at_bounds({"alpha": 0.0, "beta": 4.0}, {"alpha": (0.0, 1.0), "beta": (0.0, 20.0)}, "fit") == [
        "fit: alpha = 0 is at its bound (0, 1); the fit is not identified there — treat it as a limit, "
        "not an estimate"]


def test_a_two_episode_matching_run_gives_reasons_not_nans_or_tracebacks(tmp_path):
    from pfcda.circuit.run import run

    run("matching", episodes=2, seed=0, out=str(tmp_path / "m.h5"))
    code, err = cli("analyze", str(tmp_path / "m.h5"))
    assert code == 0, err
    from pfcda.circuit.analyze import analyze_recording

    st = analyze_recording(str(tmp_path / "m.h5"))["stats"]
    assert np.isnan(st["matching_slope"]["value"]) and "at least 3" in st["matching_slope"]["note"]


def test_ctrl_c_stops_a_run_at_once_and_leaves_no_partial(tmp_path):
    import signal
    import time

    out = tmp_path / "big.h5"
    proc = subprocess.Popen([sys.executable, "-m", "pfcda", "run", "bandit", "--episodes", "500000",
                             "--batch-size", "100", "--out", str(out), "--quiet"], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not os.path.exists(str(out) + ".partial") and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)  # once
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted by SIGINT" in err
    assert not os.listdir(tmp_path)



def test_a_failed_replay_leaves_the_earlier_recording_and_its_schedule(tmp_path):
    out = tmp_path / "rats.h5"
    out.write_bytes(b"earlier recording")
    sched = tmp_path / "rats.h5.schedule.csv"
    sched.write_text("earlier schedule")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[manipulation]]\ntarget = "units"\naction = "silence"\nunits = [999]\n')
    code, err = cli("replay", "twostep", "--lab", "rats", "--out", str(out), "--manipulation", str(bad),
                    "--force", "--quiet")
    assert code == 2 and "999" in err
    assert out.read_bytes() == b"earlier recording" and sched.read_text() == "earlier schedule"


def test_lesion_sweeps_report_one_kind_of_sem(tmp_path):
    from pfcda.circuit.lesion_sweep import lesion_sweep

    res = lesion_sweep("bandit_correlated", sizes=[0.0, 0.5, 1.0], draws=3, episodes=30)
    for row in res["rows"]:  # always the sem over episodes; the subsets' spread apart
        assert row["sem"] > 0 and row["n"] == 30 * (3 if row["size"] == 0.5 else 1)
        assert (row["sem_draws"] is not None) == (row["size"] == 0.5)
