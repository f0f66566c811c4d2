"""Benchmark: recording a long bandit run to HDF5 with bounded memory.

Records N episodes (default 20,000 × 100 trials = 2,000,000 steps × 48 units, hidden and cell
state) of the shipped independent-bandit circuit with ``pfcda run``'s code path, in a child
process whose peak resident memory is measured. Baselines measured in the same run: the same
episodes simulated without recording (throughput ratio = the cost of recording), and the size
of the recorded arrays held in memory at once (peak-memory ratio). Target: peak RSS < 1 GB.

    python benchmarks/record_bandit.py [--episodes N] [--out PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import torch
    torch.set_num_threads(1)
    from pfcda.circuit.io.checkpoint import load_checkpoint
    from pfcda.circuit.rollout import iter_batches
    from pfcda.circuit.run import run
    mode, episodes, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    t = time.perf_counter()
    if mode == "simulate":
        circuit, _ = load_checkpoint("bandit_independent")
        n = 0
        for b in iter_batches(circuit, circuit.make_task(), episodes, seed=0, batch_size=500):
            n += b.action.numel()
    else:
        rec = run("bandit_independent", episodes=episodes, seed=0, batch_size=500, out=out)
        n = rec.n_steps
    dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"steps": n, "seconds": dt, "peak_rss": peak}))
""")


def child(mode: str, episodes: int, out: str) -> dict:
    p = subprocess.run([sys.executable, "-c", CHILD, mode, str(episodes), out],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=20_000)
    ap.add_argument("--out", default=None, help="HDF5 path (default: a temporary file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or os.path.join(tmp, "bench.h5")
        sim = child("simulate", args.episodes, out)
        rec = child("record", args.episodes, out)
        size = os.path.getsize(out)
    steps = rec["steps"]
    raw = steps * (2 * 48 * 4 + 2 * 4 + 4 * 4 + 1 * 4 + 16)  # units + policy + scalars, float32
    gb = 1024 ** 3
    print(f"recording {args.episodes:,} bandit episodes = {steps:,} steps × 48 units (hidden + cell)")
    print(f"simulate only (baseline): {sim['steps'] / sim['seconds']:12,.0f} steps/s  "
          f"peak RSS {sim['peak_rss'] / gb:5.2f} GB")
    print(f"simulate + write HDF5:    {steps / rec['seconds']:12,.0f} steps/s  "
          f"peak RSS {rec['peak_rss'] / gb:5.2f} GB  (target < 1 GB)")
    print(f"recording costs {sim['steps'] / sim['seconds'] / (steps / rec['seconds']):.2f}x the "
          f"simulation time; wall {rec['seconds']:.1f} s")
    print(f"arrays held at once would need {raw / gb:.2f} GB; peak RSS is "
          f"{rec['peak_rss'] / raw:.2f}x that")
    print(f"file size {size / 1e6:,.0f} MB ({size / steps:.0f} bytes/step, gzip on unit activity)")


if __name__ == "__main__":
    main()
