"""Benchmark: rendering a bandit run as spikes — DA population (brian2) and PFC spike trains.

Issue #8's target: DA spikes for 1,000 bandit episodes (100 trials each) and PFC spikes for the
48 units over the same run, ≤ 30 s wall time on 2 cores after the first build (build time
reported separately). Measured in the same run as baselines: the numpy target on the first few
episodes (extrapolated per biological second) — the ratio says what the compiled target buys.

    python benchmarks/bench_spikes.py [--episodes 1000] [--dt-ms 0.1] [--numpy-episodes 4]

Prints one JSON line with the times, the biological duration and the ratios.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--dt-ms", type=float, default=0.5, help="DA integration step (0.5 = the calibrated default)")
    ap.add_argument("--numpy-episodes", type=int, default=4, help="episodes for the numpy baseline")
    ap.add_argument("--workers", type=int, default=2, help="processes for the DA render (2 cores)")
    args = ap.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(1)
    from pfcda.circuit.run import run
    from pfcda.dopamine.spiking import DAParams, simulate_episodes
    from pfcda.pfc.spikes import spike_trains

    params = dataclasses.replace(DAParams(), dt_ms=args.dt_ms)
    rec = run("bandit_independent", episodes=args.episodes, seed=0)
    ep = rec.steps["episode"]
    lengths = np.bincount(ep)
    E, S = len(lengths), int(lengths.max())
    deltas = np.zeros((E, S))
    within = np.arange(len(ep)) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    deltas[ep, within] = rec.steps["delta"]
    hidden = rec.units["hidden"]
    bio_s = float(lengths.sum() * params.step_ms / 1000.0)

    t = time.perf_counter()
    pfc = spike_trains(hidden, params.step_ms, seed=1)
    pfc_s = time.perf_counter() - t

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        da = simulate_episodes(deltas, lengths, params, seed=0, target="cpp_standalone", directory=d,
                               workers=args.workers)
        da_total = time.perf_counter() - t
    k = min(args.numpy_episodes, E)
    t = time.perf_counter()
    simulate_episodes(deltas[:k], lengths[:k], params, seed=0, target="numpy")
    np_s = time.perf_counter() - t
    np_per_bio = np_s / float(lengths[:k].sum() * params.step_ms / 1000.0)
    # the user's path end to end: pfcda spikes --target cpp_standalone --workers 2
    from pfcda.circuit.render import render

    with tempfile.TemporaryDirectory() as d:
        rec_path = os.path.join(d, "run.h5")
        run("bandit_independent", episodes=args.episodes, seed=0, out=rec_path)
        t = time.perf_counter()
        os.environ["PFCDA_CACHE_DIR"] = os.path.join(d, "cache")  # cold, then warm build cache
        res = render(rec_path, os.path.join(d, "spikes.h5"), target="cpp_standalone",
                     workers=args.workers, params=params)
        render_s = time.perf_counter() - t
        t = time.perf_counter()
        warm = render(rec_path, os.path.join(d, "spikes2.h5"), target="cpp_standalone",
                      workers=args.workers, params=params, seed=1)
        render_warm_s = time.perf_counter() - t
    out = {
        "episodes": E, "steps": int(lengths.sum()), "biological_s": bio_s, "da_neurons": E * params.n_neurons,
        "dt_ms": args.dt_ms, "workers": args.workers, "pfc_units": int(hidden.shape[1]), "pfc_spikes": int(len(pfc["times_s"])),
        "pfc_s": round(pfc_s, 2), "da_spikes": int(len(da["spike_times_s"])),
        "da_build_s": round(da["build_s"], 2), "da_run_s": round(da["run_s"], 2),
        "da_total_s": round(da_total, 2),
        "after_first_build_s": round(pfc_s + da["run_s"], 2), "target_s": 30.0,
        "ratio_to_target": round((pfc_s + da["run_s"]) / 30.0, 2),
        "numpy_baseline_s_per_bio_s_per_episode": round(np_per_bio / k, 5),
        "numpy_projected_s": round(np_per_bio * bio_s / k, 1),
        "standalone_speedup_vs_numpy": round(np_per_bio * bio_s / k / max(da["run_s"], 1e-9), 1),
        "render_end_to_end_s": round(render_s, 2),
        "render_parts_s": {k: round(v, 2) for k, v in res["timing"].items()},
        "render_again_s (cached build)": round(render_warm_s, 2),
        "render_again_parts_s": {k: round(v, 2) for k, v in warm["timing"].items()},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
