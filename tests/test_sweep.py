"""Sweeps: the spec is checked before anything runs; a grid of short trainings + frozen runs +
analyses gives the same table on the local process pool and on a real one-node SLURM cluster
(started by ``tests/slurm/cluster.sh``; skipped with its reason where it cannot start); a sweep
killed (SIGKILL of the driver, ``scancel`` of an array task) and run again finishes only the
missing cells and ends with the table of an uninterrupted sweep; a failing cell is recorded with
its message while the others finish."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from pfcda.circuit import sweep
from pfcda.circuit.sweep.cell import read_cell, state
from pfcda.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER = os.path.join(ROOT, "tests", "slurm", "cluster.sh")

# 2 protocols × 4 seeds × 2 learning rates: a short training, a frozen run and its analyses
GRID = """
[sweep]
name = "grid"
chain = ["train", "run", "analyze"]

[grid]
protocol = ["reversal", "harlow"]
seed = [0, 1, 2, 3]
"set.lr" = [0.001, 0.002]

[train]
steps = 3000

[run]
episodes = 10

[slurm]
time_min = 10
cpus_per_task = 1
mem_gb = 2
array_parallelism = 2
"""
# four cells of GRID (the same configurations, so the same cells)
SUBSET = GRID.replace('protocol = ["reversal", "harlow"]', 'protocol = ["reversal"]').replace(
    "seed = [0, 1, 2, 3]", "seed = [0, 1]")


def pfcda(*args, check=True, **kw):
    res = subprocess.run([sys.executable, "-m", "pfcda.circuit.cli", *args], capture_output=True, text=True,
                         cwd=kw.pop("cwd", None), **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"pfcda {' '.join(args)} → {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


def write(path, text):
    path.write_text(text)
    return str(path)


def results(outdir):
    """The collected table without what depends on the machine (seconds)."""
    sweep.collect(outdir, figure=False)
    df = pd.read_csv(os.path.join(outdir, "cells.csv"))
    return df[[c for c in df.columns if not c.startswith("seconds.")]]


def states(outdir):
    meta = sweep.read_sweep(outdir)
    return {c: state(d) for c, d in zip(meta["cells"], sweep.cell_dirs(outdir, meta["cells"]))}


# -- a real SLURM cluster -----------------------------------------------------------------------


def _sinfo() -> tuple[bool, str]:
    """Whether the cluster of $SLURM_CONF answers (three tries: a loaded machine is slow), and why not."""
    why = ""
    for _ in range(3):
        try:
            res = subprocess.run(["sinfo", "-h"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError) as e:
            why = str(e)
        else:
            if res.returncode == 0:
                return True, ""
            why = (res.stderr or res.stdout).strip()
        time.sleep(1)
    return False, why


def _slurm_works() -> bool:
    return _sinfo()[0]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """SLURM_CONF of a running one-node cluster: the one in the environment (.ci/run starts one),
    else one started here; skips with the reason where it cannot start."""
    if os.environ.get("SLURM_CONF"):
        ok, why = _sinfo()
        if not ok:  # a second cluster on this machine would collide with the first's ports
            pytest.skip(f"the SLURM cluster of SLURM_CONF={os.environ['SLURM_CONF']} does not answer: {why}")
        yield os.environ["SLURM_CONF"]
        return
    d = str(tmp_path_factory.mktemp("slurm"))
    res = subprocess.run(["bash", CLUSTER, "start", d], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"no SLURM cluster on this machine: {res.stderr.strip() or res.stdout.strip()}")
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = os.path.join(d, "slurm.conf")
    yield os.environ["SLURM_CONF"]
    subprocess.run(["bash", CLUSTER, "stop", d], capture_output=True)
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old


def _queue(fmt="%i", *states_):
    args = ["squeue", "-h", "-o", fmt] + (["-t", ",".join(states_)] if states_ else [])
    return subprocess.run(args, capture_output=True, text=True).stdout.split()


# -- the spec -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, field", [
    ('[sweep]\nchain = ["train", "fly"]\nprotocol = "bandit"', "[sweep] chain"),
    ('[sweep]\nchain = ["run"]\nprotocol = "bandit"\ncolour = 1', "[sweep] colour"),
    ('[sweep]\nchain = ["run"]\nprotocol = "bandit"\n[grid]\nseed = 3', "[grid] seed"),
    ('[sweep]\nchain = ["run"]\nprotocol = "bandit"\n[grid]\n"run.nonsense" = [1, 2]', "[grid] run.nonsense"),
    ('[sweep]\nchain = ["run"]\nprotocol = "bandit"\n[grid]\n"evaluate.episodes" = [1, 2]', "[grid] evaluate.episodes"),
    ('[sweep]\nchain = ["train"]\nprotocol = "bandit"\n[grid]\n"set.lrr" = [0.1]', "set.lrr"),
    ('[sweep]\nchain = ["run"]\nprotocol = "bandit"\n[run]\nepisodes = "many"', "--episodes"),
    ('[sweep]\nchain = ["run"]\nprotocol = "bandit"\n[run]\nout = "x.h5"', "[run] out"),
    ('[sweep]\nchain = ["run"]\nprotocol = "bandito"', "protocol"),
    ('[sweep]\nchain = ["run", "analyze"]\nprotocol = "bandit"\n[slurm]\nnodes = 3', "[slurm] nodes"),
    ('[sweep]\nchain = ["run", "analyze"]\nprotocol = "bandit"\n[slurm]\ntime_min = -5', "[slurm] time_min"),
    ('[sweep]\nchain = ["analyze"]\nprotocol = "bandit"', "[sweep] chain"),
    ('[sweep]\nchain = ["evaluate", "train"]\nprotocol = "bandit"', "[sweep] chain"),
    ('[sweep]\nchain = ["run"]\nprotocol = "bandit"\n[train]\nsteps = 5', "[train]"),
    ('[sweep]\nchain = ["run"]\nprotocol = "bandit"\n[grid]\n"manipulation.value" = [0.5]', "manipulation.value"),
    ('[sweep]\nchain = ["run"]\nprotocol = "bandit"\n[[run.manipulation]]\ntarget = "neurons"\naction = "silence"',
     "run.manipulation"),
    ('[sweep\nchain = ["run"]', "not valid TOML"),
])
def test_bad_spec_is_one_line_naming_the_field_and_writes_nothing(tmp_path, text, field):
    spec = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as e:
        sweep.load_spec(spec)
    assert field in str(e.value) and "\n" not in str(e.value)
    res = pfcda("sweep", spec, "--out", str(tmp_path / "out"), check=False)
    assert res.returncode == 2 and field in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_grid_reaches_every_kind_of_option(tmp_path):
    spec = write(tmp_path / "s.toml", """
[sweep]
chain = ["train", "run", "analyze"]
protocol = "bandit"
[grid]
seed = [3]
variant = ["correlated"]
"set.circuit.n_units" = [16]
"task.arms" = [3]
"manipulation.fraction" = [0.25, 0.5]
"run.episodes" = [7]
[[run.manipulation]]
target = "units"
action = "silence"
fraction = 0.1
seed = 2
""")
    s = sweep.load_spec(spec)
    assert len(s.cells) == 2 and len({c["id"] for c in s.cells}) == 2
    c = s.cells[1]["config"]
    train, run = c["argv"]["train"], c["argv"]["run"]
    assert train[:2] == ["train", "bandit"] and "--seed" in train and train[train.index("--seed") + 1] == "3"
    assert "circuit.n_units=16" in train and "arms=3" in train and train[train.index("--variant") + 1] == "correlated"
    assert "--seed" not in run  # the grid's seed is the chain's first command's
    assert run[run.index("--episodes") + 1] == "7" and "arms=3" in run
    assert run[run.index("--checkpoint") + 1] == "train.pt" and "run.manipulation.toml" in run
    assert c["manipulations"]["run"][0]["fraction"] == 0.5 and s.cells[0]["config"]["manipulations"]["run"][0][
        "fraction"] == 0.25
    # the cell's name is the hash of its configuration, wherever the sweep's folder is
    assert [x["id"] for x in sweep.load_spec(spec).cells] == [x["id"] for x in s.cells]


def test_a_folder_holds_one_sweep(tmp_path):
    a = write(tmp_path / "a.toml", '[sweep]\nchain = ["run"]\nprotocol = "bandit"\n[grid]\nseed = [0]\n[run]\nepisodes = 3')
    b = write(tmp_path / "b.toml", '[sweep]\nchain = ["run"]\nprotocol = "bandit"\n[grid]\nseed = [1]\n[run]\nepisodes = 3')
    out = str(tmp_path / "out")
    pfcda("sweep", a, "--out", out, "--quiet")
    res = pfcda("sweep", b, "--out", out, check=False)
    assert res.returncode == 2 and "holds another sweep" in res.stderr
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    res = pfcda("sweep", a, "--out", str(tmp_path / "other"), check=False)
    assert res.returncode == 2 and "not a sweep folder" in res.stderr
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


# -- failures -----------------------------------------------------------------------------------


def test_a_failing_cell_is_recorded_and_the_others_finish(tmp_path):
    spec = write(tmp_path / "f.toml", """
[sweep]
chain = ["run", "analyze"]
protocol = "bandit"
[grid]
"task.arms" = [2, 5]
[run]
episodes = 5
""")
    out = str(tmp_path / "f")
    res = pfcda("sweep", spec, "--out", out, "--workers", "2", "--quiet", check=False)
    assert res.returncode == 1, res.stderr
    st = sweep.sweep_status(out)
    assert st["counts"]["done"] == 1 and st["counts"]["failed"] == 1
    (fail,) = st["failures"]
    assert fail["grid"] == {"task.arms": 5} and "arms" in fail["error"] and fail["error"].startswith("run:")
    text = pfcda("sweep", "status", out, check=False).stdout
    assert "1 done" in text and "1 failed" in text and "arms" in text
    failed_dir = os.path.join(out, "cells", fail["cell"])
    assert read_cell(failed_dir)["attempts"] == 1 and "arms" in open(os.path.join(failed_dir, "log.txt")).read()
    # run again: nothing to do (the failure is kept) — unless asked to retry it
    again = pfcda("sweep", spec, "--out", out, check=False)
    assert "1 done, 0 to run, 1 failed" in again.stderr
    assert read_cell(failed_dir)["attempts"] == 1
    pfcda("sweep", spec, "--out", out, "--retry-failed", "--quiet", check=False)
    assert read_cell(failed_dir)["attempts"] == 2 and state(failed_dir) == "failed"
    table = results(out)
    assert list(table["status"]) == ["done", "failed"] and table["analyze.regret_at_last_trial"].notna().tolist() == [
        True, False]


# -- the grid on both executors, interrupted and resumed ----------------------------------------


@pytest.fixture(scope="module")
def grid_spec(tmp_path_factory):
    d = tmp_path_factory.mktemp("spec")
    return write(d / "grid.toml", GRID), write(d / "subset.toml", SUBSET)


@pytest.fixture(scope="module")
def uninterrupted(grid_spec, slurm, tmp_path_factory):
    """The grid run once without interruption on the SLURM cluster."""
    out = str(tmp_path_factory.mktemp("slurm_run") / "grid")
    res = pfcda("sweep", grid_spec[0], "--executor", "slurm", "--out", out, "--quiet")
    assert "16 cells" in res.stdout and "16 done" in res.stdout
    meta = sweep.read_sweep(out)
    assert meta["submissions"][-1]["executor"] == "slurm" and meta["submissions"][-1]["array"]
    return out


def test_grid_collect_gives_tidy_table_summary_and_figure(uninterrupted):
    res = sweep.collect(uninterrupted)
    df, summ = res["table"], res["summary"]
    assert len(df) == 16 and set(df["status"]) == {"done"}
    assert {"protocol", "seed", "set.lr", "path.train.pt", "path.run.h5", "seconds.train",
            "analyze.error_rate"} <= set(df.columns)
    for p in df["path.run.h5"]:
        assert os.path.isfile(os.path.join(uninterrupted, p))
    # the summary is the mean and t interval over the four seeds of each (protocol, lr)
    from scipy import stats

    g = df[(df["protocol"] == "reversal") & (df["set.lr"] == 0.001)]["analyze.error_rate"].to_numpy(float)
    row = summ[(summ["protocol"] == "reversal") & (summ["set.lr"] == 0.001) & (summ["metric"] == "analyze.error_rate")]
    assert int(row["n"].iloc[0]) == 4 and row["mean"].iloc[0] == pytest.approx(g.mean())
    half = stats.t.ppf(0.975, 3) * g.std(ddof=1) / 2
    assert row["ci95_high"].iloc[0] - row["mean"].iloc[0] == pytest.approx(half)
    assert os.path.isfile(os.path.join(uninterrupted, "summary.png"))
    assert pd.read_parquet(os.path.join(uninterrupted, "cells.parquet")).shape == df.shape
    # training seeds differ, so do the circuits (each cell trained its own)
    assert df["analyze.error_rate"].nunique() > 1


def test_local_sweep_killed_and_rerun_equals_uninterrupted_slurm_sweep(grid_spec, uninterrupted, tmp_path):
    out = str(tmp_path / "grid")
    driver = subprocess.Popen([sys.executable, "-m", "pfcda.circuit.cli", "sweep", grid_spec[0], "--workers", "2",
                               "--out", out, "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if os.path.exists(os.path.join(out, "sweep.json")) and sum(s == "done" for s in states(out).values()) >= 4:
            break
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)  # the driver only: its workers and cells must not outlive it
    driver.wait()
    deadline = time.time() + 60
    while time.time() < deadline and "running" in states(out).values():
        time.sleep(0.2)
    after = states(out)
    assert "running" not in after, "cells outlived the killed driver"
    done = sorted(c for c, s in after.items() if s == "done")
    assert 4 <= len(done) < 16, after
    for c, s in after.items():  # nothing half-written is read as finished
        d = os.path.join(out, "cells", c)
        if s == "done":
            assert os.path.isfile(os.path.join(d, "analyze.json")) and os.path.isfile(os.path.join(d, "run.h5"))
        else:
            assert read_cell(d)["status"] in ("pending", "running", "interrupted")
    mtimes = {c: os.path.getmtime(os.path.join(out, "cells", c, "train.pt")) for c in done}
    res = pfcda("sweep", grid_spec[0], "--workers", "2", "--out", out, "--quiet")
    assert f"{len(done)} done, {16 - len(done)} to run" in res.stderr
    assert {c: os.path.getmtime(os.path.join(out, "cells", c, "train.pt")) for c in done} == mtimes
    assert not [p for p in os.popen(f"find {out} -name '*.partial*'").read().split()]
    pd.testing.assert_frame_equal(results(out), results(uninterrupted))


def test_scancel_of_an_array_task_then_rerun_finishes_only_that_cell(grid_spec, uninterrupted, slurm, tmp_path):
    out = str(tmp_path / "subset")
    pfcda("sweep", grid_spec[1], "--executor", "slurm", "--no-wait", "--out", out, "--quiet")
    array = sweep.read_sweep(out)["submissions"][-1]["array"][0]
    victim = None
    deadline = time.time() + 120
    while time.time() < deadline and victim is None:
        for d in sweep.cell_dirs(out, sweep.read_sweep(out)["cells"]):
            if state(d) == "running":
                c = read_cell(d)
                if c.get("slurm_task_id") is not None:
                    victim = (d, f"{array}_{c['slurm_task_id']}")
                    break
        time.sleep(0.1)
    assert victim is not None, "no array task started"
    subprocess.run(["scancel", victim[1]], check=True)
    deadline = time.time() + 120
    while time.time() < deadline and any(j.startswith(array) for j in _queue()):
        time.sleep(0.5)
    deadline = time.time() + 30
    while time.time() < deadline and state(victim[0]) == "running":
        time.sleep(0.2)
    after = states(out)
    assert state(victim[0]) in ("interrupted", "pending")
    assert sum(s == "done" for s in after.values()) == 3, after
    res = pfcda("sweep", grid_spec[1], "--executor", "slurm", "--out", out, "--quiet")
    assert "3 done, 1 to run" in res.stderr
    assert read_cell(victim[0])["status"] == "done" and read_cell(victim[0])["attempts"] == 2
    full = results(uninterrupted).set_index("cell")
    mine = results(out).set_index("cell")
    cols = [c for c in mine.columns if c in full.columns]
    pd.testing.assert_frame_equal(mine[cols], full.loc[mine.index, cols])


def test_slurm_without_sbatch_is_one_line(tmp_path, monkeypatch):
    spec = write(tmp_path / "s.toml", '[sweep]\nchain = ["run"]\nprotocol = "bandit"\n[run]\nepisodes = 3')
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}
    if shutil.which("sbatch", path=env["PATH"]):
        pytest.skip("sbatch is beside the Python executable")
    res = pfcda("sweep", spec, "--executor", "slurm", "--out", str(tmp_path / "o"), check=False, env=env)
    assert res.returncode == 2 and "sbatch" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def test_ctrl_c_of_the_driver_stops_every_cell_cleanly_and_a_rerun_finishes(tmp_path):
    spec = write(tmp_path / "c.toml", '[sweep]\nchain = ["run"]\nprotocol = "bandit"\n[grid]\nseed = [0, 1, 2, 3]\n'
                                      '[run]\nepisodes = 200')
    out = str(tmp_path / "c")
    driver = subprocess.Popen([sys.executable, "-m", "pfcda.circuit.cli", "sweep", spec, "--workers", "2", "--out", out,
                               "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (os.path.exists(os.path.join(out, "sweep.json"))
                                          and "running" in states(out).values()):
        time.sleep(0.1)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=60)
    assert driver.returncode == 130 and "the same command finishes them" in err and "Traceback" not in err
    deadline = time.time() + 30
    while time.time() < deadline and "running" in states(out).values():
        time.sleep(0.2)
    assert "running" not in states(out).values() and "interrupted" in states(out).values()
    for d in sweep.cell_dirs(out, sweep.read_sweep(out)["cells"]):
        log = os.path.join(d, "log.txt")
        assert not os.path.exists(log) or "Traceback" not in open(log).read()
    pfcda("sweep", spec, "--out", out, "--quiet")
    assert set(states(out).values()) == {"done"}


def test_a_signal_during_a_cells_set_up_ends_it_interrupted_without_a_traceback(tmp_path):
    # CI once sent SIGTERM while the cell gathered its provenance (platform.uname runs a
    # subprocess): the signal waits for the cell's first check and the cell ends 'interrupted'
    from pfcda.circuit.sweep.cell import prepare

    celldir = str(tmp_path / "cell")
    prepare(celldir, {"id": "x", "grid": {}, "config": {"chain": ["run"], "argv": {"run": ["--help"]}}})
    code = ("import os, signal, sys\n"
            "import pfcda.circuit.provenance as p\n"
            "real = p.provenance\n"
            "def hit():\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n"
            "    return real()\n"
            "p.provenance = hit\n"
            "from pfcda.circuit.sweep.cell import run_cell\n"
            f"sys.exit(run_cell({celldir!r}))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 130, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    cell = read_cell(celldir)
    assert cell["status"] == "interrupted" and cell["steps"] == {} and cell["provenance"]
