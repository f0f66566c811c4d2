"""Benchmark: the overhead of a local sweep against the same commands typed back to back.

32 cells that each do little — ``pfcda run bandit --episodes 10 --seed K`` on the shipped
circuit — as one sweep on the local executor with 2 workers, against the same 32 commands run
one after another as separate processes (what a user would type), in the same run on the same
machine. The figure of merit is the sweep's wall time over (back-to-back time / workers); the
target is ≤ 1.5. The two are interleaved (baseline, sweep, baseline, sweep…) and the median of
each is taken, so the ratio does not depend on the load of the moment.

    python benchmarks/sweep_overhead.py [--cells 32] [--workers 2] [--repeats 1]

Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

SPEC = """
[sweep]
name = "overhead"
chain = ["run"]
protocol = "bandit"

[grid]
seed = {seeds}

[run]
episodes = 10
"""


def back_to_back(cells: int, workdir: str) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    for k in range(cells):
        subprocess.run([sys.executable, "-m", "pfcda.circuit.cli", "run", "bandit", "--episodes", "10",
                        "--seed", str(k), "--out", os.path.join(workdir, f"run{k}.h5"), "--quiet"],
                       check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def sweep(cells: int, workers: int, workdir: str) -> float:
    spec = os.path.join(workdir, "overhead.toml")
    with open(spec, "w") as f:
        f.write(SPEC.format(seeds=list(range(cells))))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pfcda.circuit.cli", "sweep", spec, "--workers", str(workers),
                    "--out", os.path.join(workdir, "sweep"), "--quiet"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)
    base, swept = [], []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as d:
            base.append(back_to_back(args.cells, d))
        with tempfile.TemporaryDirectory() as d:
            swept.append(sweep(args.cells, args.workers, d))
    b, s = statistics.median(base), statistics.median(swept)
    print(json.dumps({"bench": "sweep_overhead", "cells": args.cells, "workers": args.workers,
                      "back_to_back_s": round(b, 2), "sweep_s": round(s, 2),
                      "ratio_vs_back_to_back_over_workers": round(s / (b / args.workers), 3),
                      "target": 1.5, "repeats": args.repeats, "cpus": os.cpu_count(),
                      "machine": platform.machine()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
