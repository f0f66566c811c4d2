"""Sweeps: a grid of chained pfcda commands (seeds × protocols × settings × manipulations), run on
a local process pool or as a SLURM job array (submitit), resumable, nothing lost.

``pfcda sweep SPEC.toml`` checks the spec (:mod:`.spec`), writes the sweep's folder — ``sweep.json``
(the spec, its cells in order, every submission) and one folder per cell, ``cells/<hash>``
(:mod:`.cell`) — and runs every cell that is not done: ``pending`` and ``interrupted`` cells, and
``failed`` ones only with ``retry_failed``. Running the same spec again is therefore idempotent and
resumes a sweep that was killed, interrupted or cancelled; a different spec is refused for the
same folder. ``pfcda sweep status DIR`` counts the cells by state; ``pfcda sweep collect DIR``
writes the tidy table, its summary over seeds and a figure (:mod:`.results`).

Executors: ``local`` — :class:`concurrent.futures.ProcessPoolExecutor` (spawn), one torch thread
per cell, a progress bar; ``slurm`` — one submitit job array per submission (``[slurm]`` resources,
array parallelism), from a login node; the driver waits (``wait=False`` submits and returns, and
``status``/``collect`` can be run later). Each cell runs in a process of its own under either, so
the two give identical tables.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import time

from pfcda.errors import ConfigError, UsageError

from .cell import execute, prepare, read_cell, state, worker_init, write_json
from .spec import Spec, load_spec

__all__ = ["load_spec", "run_sweep", "sweep_status", "collect", "Spec"]

SWEEP = "sweep.json"
CELLS = "cells"


def cell_dirs(outdir: str, ids) -> list[str]:
    return [os.path.join(outdir, CELLS, i) for i in ids]


def read_sweep(outdir: str) -> dict:
    path = os.path.join(outdir, SWEEP)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{outdir}: not a sweep folder (no {SWEEP}); give the folder a "
                          f"`pfcda sweep SPEC.toml --out DIR` wrote") from None
    except ValueError as e:
        raise ConfigError(f"{path}: not readable JSON ({e})") from None


def _prepare(spec: Spec, outdir: str) -> dict:
    path = os.path.join(outdir, SWEEP)
    ids = [c["id"] for c in spec.cells]
    if os.path.exists(path):
        old = read_sweep(outdir)
        if old.get("digest") != spec.digest():
            raise ConfigError(f"{outdir}: holds another sweep ({old.get('name')!r} from {old.get('spec_path')}); "
                              f"its cells do not match {spec.path} — give another --out")
        meta = old
    else:
        if os.path.isdir(outdir) and os.listdir(outdir):
            raise ConfigError(f"{outdir}: exists and is not a sweep folder; give another --out")
        os.makedirs(outdir, exist_ok=True)
        meta = {"name": spec.name, "spec_path": spec.path, "digest": spec.digest(), "spec": spec.raw,
                "chain": spec.chain, "grid": list(spec.grid), "factors": spec.grid, "cells": ids,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "submissions": []}
        write_json(path, meta)
    for cell, d in zip(spec.cells, cell_dirs(outdir, ids)):
        prepare(d, cell)
    return meta


def _record(outdir: str, submission: dict) -> None:
    meta = read_sweep(outdir)
    meta.setdefault("submissions", []).append(submission)
    write_json(os.path.join(outdir, SWEEP), meta)


def to_run(outdir: str, ids, retry_failed: bool = False) -> tuple[list, dict]:
    """The cells to run now, and the states of all."""
    states = {i: state(d) for i, d in zip(ids, cell_dirs(outdir, ids))}
    wanted = {"pending", "interrupted"} | ({"failed"} if retry_failed else set())
    return [i for i in ids if states[i] in wanted], states


def run_sweep(spec_path: str, out: str | None = None, executor: str = "local", workers: int | None = None,
              retry_failed: bool = False, wait: bool = True, progress: bool = True, log=None) -> dict:
    """Run (or resume) the sweep of ``spec_path`` into ``out``; returns its status."""
    log = log or (lambda m: print(m, file=sys.stderr))
    spec = load_spec(spec_path)
    if executor not in ("local", "slurm"):
        raise UsageError(f"--executor: expected local or slurm, got {executor!r}")
    if executor == "slurm":
        _slurm_available()
    outdir = os.path.abspath(out or f"{spec.name}.sweep")
    meta = _prepare(spec, outdir)
    todo, states = to_run(outdir, meta["cells"], retry_failed)
    done = sum(s == "done" for s in states.values())
    skipped = {s: n for s in ("failed", "running") if (n := sum(1 for i in meta["cells"]
                                                              if states[i] == s and i not in todo))}
    log(f"sweep {spec.name}: {len(meta['cells'])} cells in {outdir}; {done} done, {len(todo)} to run"
        + "".join(f", {n} {s} (left{' — --retry-failed to rerun' if s == 'failed' else ''})"
                  for s, n in skipped.items()))
    if todo:
        dirs = cell_dirs(outdir, todo)
        if executor == "local":
            n = workers or spec.local.get("workers") or os.cpu_count() or 1
            _record(outdir, {"executor": "local", "workers": n, "cells": todo, "time": _now()})
            try:
                _local(dirs, n, progress, spec.name)
            except KeyboardInterrupt as e:
                raise KeyboardInterrupt(f"{e or 'interrupted'}; the cells not done are marked interrupted and the same "
                              f"command finishes them") from None
        else:
            _slurm(outdir, todo, dirs, spec, wait, progress)
    return sweep_status(outdir)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _local(dirs, workers: int, progress: bool, name: str) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    pool = ProcessPoolExecutor(max_workers=min(workers, len(dirs)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=worker_init)
    try:
        futures = [pool.submit(execute, d) for d in dirs]
        with tqdm(total=len(futures), desc=f"sweep {name}", unit="cell", disable=not progress,
                  file=sys.stderr) as bar:
            for f in as_completed(futures):
                f.result()
                bar.update()
    except BaseException:
        # Ctrl-C/SIGTERM/an error: stop the workers; their cells see SIGTERM and end 'interrupted'
        for p in list(getattr(pool, "_processes", {}).values()):
            p.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _slurm_parameters(spec: Spec) -> dict:
    r = spec.slurm
    p = {"timeout_min": int(r.get("time_min", 60)), "cpus_per_task": int(r.get("cpus_per_task", 1)),
         "slurm_array_parallelism": int(r.get("array_parallelism", 64)), "name": f"pfcda-{spec.name}"}
    if "mem_gb" in r:
        p["mem_gb"] = r["mem_gb"]
    for key, name in (("partition", "slurm_partition"), ("account", "slurm_account"), ("qos", "slurm_qos"),
                      ("constraint", "slurm_constraint"), ("additional_parameters", "slurm_additional_parameters")):
        if key in r:
            p[name] = r[key]
    return p


def _slurm_available() -> None:
    try:
        import submitit  # noqa: F401
    except ImportError:
        raise UsageError("--executor slurm: needs submitit (pip install \"pfcda[slurm]\")") from None
    if shutil.which("sbatch") is None:
        raise UsageError("--executor slurm: no sbatch on PATH (run on a SLURM login node; set SLURM_CONF "
                         "where the cluster needs it)")


def _slurm(outdir: str, ids, dirs, spec: Spec, wait: bool, progress: bool) -> None:
    import submitit

    ex = submitit.AutoExecutor(folder=os.path.join(outdir, ".submitit", "%j"), cluster="slurm")
    ex.update_parameters(**_slurm_parameters(spec))
    try:
        jobs = ex.map_array(execute, dirs)
    except Exception as e:  # sbatch refused (a partition that does not exist, a limit)
        first = (str(e).strip().splitlines() or ["sbatch failed"])[-1]
        raise UsageError(f"--executor slurm: submission failed: {first}") from None
    array = sorted({j.job_id.split("_")[0] for j in jobs})
    _record(outdir, {"executor": "slurm", "array": array, "jobs": {i: j.job_id for i, j in zip(ids, jobs)},
                     "parameters": _slurm_parameters(spec), "time": _now()})
    print(f"sweep {spec.name}: submitted SLURM array {', '.join(array)} ({len(jobs)} tasks)", file=sys.stderr)
    if not wait:
        return
    from tqdm import tqdm

    with tqdm(total=len(dirs), desc=f"sweep {spec.name} (slurm {', '.join(array)})", unit="cell",
              disable=not progress, file=sys.stderr) as bar:
        while True:
            finished = sum(state(d) in ("done", "failed") for d in dirs)
            if finished != bar.n:
                bar.update(finished - bar.n)
            if not _queued(array):
                break
            time.sleep(1.0)
        bar.update(sum(state(d) in ("done", "failed") for d in dirs) - bar.n)


def _queued(array) -> bool:
    """Whether any task of these SLURM jobs is still pending or running."""
    res = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(array)], capture_output=True, text=True)
    return res.returncode == 0 and bool(res.stdout.strip())


def sweep_status(outdir: str) -> dict:
    """Counts of the cells by state, and each failure with its first error line."""
    outdir = os.path.abspath(outdir)
    meta = read_sweep(outdir)
    counts = {s: 0 for s in ("done", "running", "pending", "interrupted", "failed")}
    failures = []
    for i, d in zip(meta["cells"], cell_dirs(outdir, meta["cells"])):
        s = state(d)
        counts[s] += 1
        if s == "failed":
            c = read_cell(d)
            failures.append({"cell": i, "grid": c.get("grid", {}), "error": (c.get("error") or "").splitlines()[0]
                             if c.get("error") else "failed without a message"})
    last = (meta.get("submissions") or [{}])[-1]
    return {"sweep": meta["name"], "dir": outdir, "cells": len(meta["cells"]), "counts": counts,
            "failures": failures, "last_submission": last}


def collect(outdir: str, metric: str | None = None, figure: bool = True) -> dict:
    from .results import collect as _collect

    return _collect(outdir, metric=metric, figure=figure)
