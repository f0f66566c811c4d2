"""One cell of a sweep: a folder named by the hash of its configuration.

``cell.json`` holds the configuration (the chain's command lines and inline manipulations), the
grid values, the status, the timings of each command, the provenance and, for a failed cell, its
error; ``log.txt`` holds everything the commands printed, attempt after attempt. A cell runs as
its own process (``python -m pfcda.circuit.sweep CELL``) holding an advisory lock on the
folder, one torch thread; each command of the chain is ``pfcda``'s own (:func:`pfcda.circuit.cli.main`),
its ``--json`` output kept as ``COMMAND.json``.

States: ``pending`` (never started), ``running`` (its lock is held), ``done`` (every command
succeeded; written last, atomically, so a half-finished cell is never read as done), ``failed``
(a command failed: its message is kept; retried only with ``--retry-failed``), ``interrupted``
(SIGINT/SIGTERM — a Ctrl-C, ``scancel``, a time limit — or killed outright: a ``running`` cell
whose lock nobody holds). A new attempt starts by removing the previous attempt's outputs.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import traceback

CELL = "cell.json"
LOG = "log.txt"
LOCK = ".lock"
STATES = ("pending", "running", "done", "failed", "interrupted")
KEEP = {CELL, LOG, LOCK}
#: exit status of a cell process that found its cell locked by another process
BUSY = 75


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def read_cell(celldir: str) -> dict:
    with open(os.path.join(celldir, CELL)) as f:
        return json.load(f)


def write_json(path: str, data: dict) -> None:
    """Write JSON atomically (a temporary file beside it, flushed, renamed)."""
    tmp = f"{path}.partial-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def locked(celldir: str) -> bool:
    """Whether a process holds the cell's lock now."""
    try:
        fd = os.open(os.path.join(celldir, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def state(celldir: str) -> str:
    """The cell's state; a ``running`` cell whose lock is free was killed: ``interrupted``."""
    try:
        status = read_cell(celldir)["status"]
    except (OSError, ValueError, KeyError):
        return "pending"
    if status == "running" and not locked(celldir):
        return "interrupted"
    return status


def prepare(celldir: str, cell: dict) -> None:
    """Create the cell's folder and its ``cell.json`` (pending) unless it exists with the same
    configuration."""
    os.makedirs(celldir, exist_ok=True)
    path = os.path.join(celldir, CELL)
    if os.path.exists(path):
        try:
            old = read_cell(celldir)
        except ValueError:
            old = None
        if old is not None and old.get("config") == cell["config"]:
            return
    write_json(path, {"id": cell["id"], "grid": cell["grid"], "config": cell["config"],
                      "status": "pending", "attempts": 0, "steps": {}, "error": None})


def pdeathsig(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (a killed sweep driver
    takes its workers and their cells with it); elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = os.environ.get("PFCDA_SWEEP_PARENT")
    if parent and os.getppid() != int(parent):  # the parent died before the request took hold
        os.kill(os.getpid(), sig)


def worker_init() -> None:
    """Initialiser of a local pool worker: dies with the driver."""
    pdeathsig(signal.SIGTERM)


def execute(celldir: str) -> str:
    """Run one cell in its own process and wait for it; returns the cell's state. This is the
    function the executors run (a local pool worker, a SLURM array task)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PFCDA_SWEEP_PARENT": str(os.getpid())}
    with open(os.path.join(celldir, LOG), "a") as log:
        proc = subprocess.Popen([sys.executable, "-m", "pfcda.circuit.sweep", os.path.abspath(celldir)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=celldir)
        try:
            rc = proc.wait()
        except BaseException:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
            raise
    if rc == BUSY:
        return "running"
    return state(celldir)


# -- inside the cell's process ------------------------------------------------------------------


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, s):
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self):
        for st in self.streams:
            st.flush()


def _error_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "error:" in ln:
            return ln
    return lines[-1] if lines else "failed without a message"


def _clear(celldir: str) -> None:
    for name in os.listdir(celldir):
        if name in KEEP:
            continue
        path = os.path.join(celldir, name)
        if os.path.isdir(path):
            import shutil

            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


def _write_manipulations(celldir: str, manipulations: dict) -> None:
    for step, tables in manipulations.items():
        lines = []
        for t in tables:
            lines.append("[[manipulation]]")
            for k, v in t.items():
                lines.append(f"{k} = {json.dumps(v)}")
            lines.append("")
        with open(os.path.join(celldir, f"{step}.manipulation.toml"), "w") as f:
            f.write("\n".join(lines))


def _train_metrics(celldir: str) -> dict:
    from ..io.checkpoint import read_checkpoint

    ck = read_checkpoint(os.path.join(celldir, "train.pt"))
    last = (ck.history or [{}])[-1]
    # the last periodic evaluation, its timing left out (a cell's results do not depend on the machine)
    return {"steps": ck.steps, "final": {k: v for k, v in last.items()
                                         if isinstance(v, (int, float)) and k != "seconds"}}


def run_cell(celldir: str) -> int:
    """Run the cell's chain here (the body of ``python -m pfcda.circuit.sweep CELL``)."""
    from .. import signals
    from ..cli import main
    from ..provenance import provenance
    from .spec import JSON_STEPS

    signals.install()  # SIGINT/SIGTERM (Ctrl-C, scancel, a time limit): the cell ends 'interrupted'
    celldir = os.path.abspath(celldir)
    fd = os.open(os.path.join(celldir, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print(f"pfcda sweep: {celldir} is being run by another process", file=sys.stderr)
        return BUSY
    # a signal during the set-up (provenance() runs subprocesses) waits for the first check() below,
    # so the cell still ends 'interrupted' with its log free of a traceback
    with signals.polling():
        cell = read_cell(celldir)
        if cell["status"] == "done":
            return 0
        _clear(celldir)
        cell.update(status="running", attempts=cell.get("attempts", 0) + 1, started=_now(), finished=None,
                    error=None, steps={}, host=socket.gethostname(), pid=os.getpid(),
                    slurm_job_id=os.environ.get("SLURM_ARRAY_JOB_ID", os.environ.get("SLURM_JOB_ID")),
                    slurm_task_id=os.environ.get("SLURM_ARRAY_TASK_ID"), provenance=provenance())
        write_json(os.path.join(celldir, CELL), cell)
        print(f"=== attempt {cell['attempts']} {cell['started']} on {cell['host']} (pid {os.getpid()})",
              flush=True)
    status, error = "done", None
    t_cell = time.perf_counter()
    try:
        signals.check()
        with signals.polling():  # a signal inside torch's import would abort the process (pybind11)
            import torch
        signals.check()
        torch.set_num_threads(1)
        _write_manipulations(celldir, cell["config"].get("manipulations", {}))
        for step in cell["config"]["chain"]:
            argv = cell["config"]["argv"][step]
            print(f"--- pfcda {' '.join(argv)}", flush=True)
            out, err = io.StringIO(), io.StringIO()
            t0 = time.perf_counter()
            try:
                with contextlib.redirect_stdout(_Tee(out, sys.stdout)), \
                        contextlib.redirect_stderr(_Tee(err, sys.stderr)):
                    rc = main(list(argv))
            except SystemExit as e:  # argparse
                rc = e.code if isinstance(e.code, int) else 2
            except KeyboardInterrupt:
                rc = 130
            except Exception:  # a bug in a command: its traceback goes to the log
                text = traceback.format_exc()
                print(text, file=sys.stderr, flush=True)
                rc, err = 1, io.StringIO(text)
            seconds = time.perf_counter() - t0
            cell["steps"][step] = {"seconds": round(seconds, 3), "rc": rc}
            if rc != 0:
                status = "interrupted" if rc == 130 else "failed"
                error = f"{step}: {_error_line(err.getvalue())}"
                break
            metrics = None
            if step in JSON_STEPS:
                metrics = json.loads(out.getvalue())
            elif step == "train":
                metrics = _train_metrics(celldir)
            if metrics is not None:
                write_json(os.path.join(celldir, f"{step}.json"), metrics)
            cell["steps"][step]["outputs"] = sorted(n for n in os.listdir(celldir) if n not in KEEP)
            write_json(os.path.join(celldir, CELL), cell)
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted between commands"
    cell.update(status=status, error=error, finished=_now(), seconds=round(time.perf_counter() - t_cell, 3))
    write_json(os.path.join(celldir, CELL), cell)
    print(f"=== {status}" + (f": {error}" if error else ""), flush=True)
    os.close(fd)
    return 0 if status == "done" else (130 if status == "interrupted" else 1)

