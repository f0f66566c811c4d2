"""Benchmark: training throughput and time-to-target of the bandit circuit.

Measured in one run, on this machine:

1. Throughput (environment steps per second) of the batched trainer against a
   one-episode-at-a-time loop of the same network and the same A2C update (B = 1, one update
   per episode: the style of the public reproductions), and their ratio. Target ≥ 30×.
2. Time to reach 2×, 1.5× and 1.3× the Bayes-optimal regret (independent prior, H = 100:
   1.7482) when training with the shipped configuration (``protocols.bandit.train_defaults``),
   training wall time with the periodic frozen evaluations excluded. Target: 1.5× within
   5 minutes on 2 cores.

    python benchmarks/train_bandit.py [--budget-steps N] [--threads T] [--seed S] [--throughput-only]
"""
from __future__ import annotations

import argparse
import os
import time

import torch  # noqa: E402

from pfcda.circuit.config import TrainConfig  # noqa: E402
from pfcda.circuit.train import train  # noqa: E402
from pfcda.protocols.bandit import train_defaults  # noqa: E402
from pfcda.protocols.bandit.agents import bayes_optimal_regret  # noqa: E402


def throughput(cfg: TrainConfig, seconds: float) -> float:
    """Steps per second of ``train`` with ``cfg``, from a run sized to last about ``seconds``."""
    probe = TrainConfig.from_dict({**cfg.to_dict(), "steps": cfg.batch_size * cfg.t_max * 3,
                                   "eval_every": 0, "checkpoint_every": 0})
    t = time.perf_counter()
    train(probe, progress=False)
    rate = probe.steps / (time.perf_counter() - t)
    steps = max(cfg.batch_size * cfg.t_max, int(rate * seconds))
    run = TrainConfig.from_dict({**probe.to_dict(), "steps": steps})
    t = time.perf_counter()
    train(run, progress=False)
    return (steps // (cfg.batch_size * cfg.t_max)) * cfg.batch_size * cfg.t_max / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-steps", type=int, default=None,
                    help="steps for the time-to-target run (default: the shipped budget)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=2_000_000)
    ap.add_argument("--throughput-only", action="store_true",
                    help="measure the throughput ratio only (no time-to-target run)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    base = TrainConfig.from_dict(train_defaults("independent"))
    base.threads, base.seed = args.threads, args.seed

    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} cores visible")
    single = TrainConfig.from_dict({**base.to_dict(), "batch_size": 1, "t_max": 100})
    r1 = throughput(single, seconds=15)
    rb = throughput(base, seconds=15)
    print(f"throughput  one-episode loop (B=1, update per episode): {r1:10,.0f} steps/s")
    print(f"throughput  batched trainer (B={base.batch_size}, t_max={base.t_max}):      "
          f"{rb:10,.0f} steps/s   ratio {rb / r1:5.1f}x  (target >= 30x)")

    if args.throughput_only:
        return
    best = bayes_optimal_regret(100, "independent")
    run = TrainConfig.from_dict({**base.to_dict(), "eval_every": args.eval_every,
                                 "eval_episodes": 2000, "checkpoint_every": 0})
    if args.budget_steps:
        run.steps = args.budget_steps
    t = time.perf_counter()
    history = train(run, progress=False).history
    total = time.perf_counter() - t
    print(f"time to target (independent prior, Bayes-optimal regret {best:.4f}; "
          f"evaluations of 2,000 frozen episodes every {args.eval_every:,} steps, excluded):")
    for factor in (2.0, 1.5, 1.3):
        hit = next((h for h in history if h["regret"] <= factor * best), None)
        if hit:
            print(f"  {factor:3.1f}x ({factor * best:5.3f}): {hit['seconds']:7.1f} s, "
                  f"{hit['steps']:>12,} steps (regret {hit['regret']:.3f})")
        else:
            print(f"  {factor:3.1f}x ({factor * best:5.3f}): not reached in {run.steps:,} steps")
    final = history[-1]
    print(f"final: regret {final['regret']:.3f} = {final['regret'] / best:.2f}x Bayes-optimal "
          f"after {final['steps']:,} steps, {final['seconds']:.0f} s training "
          f"({total:.0f} s with evaluations)")


if __name__ == "__main__":
    main()
