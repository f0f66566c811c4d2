"""Benchmark: training throughput and time-to-criterion of every protocol, fused engine vs today's.

The baseline is today's trainer — ``engine="autograd"``, every step through autograd — run in
the same process, on the same machine, interleaved with the fused engine (baseline, fused,
baseline, fused, …; the median of each), so that the ratios do not depend on the load of the
moment. Each protocol trains with its shipped configuration (``ProtocolSpec.train_defaults``).

1. Throughput (env-steps/s, one thread) per protocol at its shipped batch, and the ratio.
2. Throughput against batch size (bandit, independent prior), both engines.
3. ``--criterion``: time to reach the protocol's acceptance in periodic frozen evaluations
   (training seconds, evaluations excluded): every paper claim that ``pfcda reproduce`` judges on
   the circuit holds (``TrainConfig.eval_claims``; the bandit also needs its regret floor), for
   today's trainer (autograd, today's budget: ``TODAY_STEPS``) and the shipped configuration, each
   stopped at its criterion. Ratios: to criterion, and today's full-budget training time over the
   new time to criterion. Minutes per protocol.

One JSON line per measurement on stdout (``"bench"``: throughput | batch | criterion).

    python benchmarks/train_speed.py [--protocols bandit:independent,twostep:daw]
        [--seconds 4] [--repeats 3] [--batches 128,256,512,1024,2048] [--criterion] [--no-batch]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch

from pfcda.circuit.config import TrainConfig
from pfcda.circuit.train import train
from pfcda.protocols import describe

#: The shipped circuits: protocol and variant (the README's checkpoint commands).
SHIPPED = ("bandit:independent", "bandit:correlated", "matching", "volatility", "reversal",
           "twostep:miller", "twostep:daw", "harlow", "stopper")


def shipped_config(entry: str, **changes) -> TrainConfig:
    """The training configuration of ``"protocol[:variant]"``, with ``changes``."""
    name, _, variant = entry.partition(":")
    d = describe(name).train_defaults(**({"variant": variant} if variant else {}))
    d.update(changes)
    return TrainConfig.from_dict(d)


def rate(cfg: TrainConfig, seconds: float) -> float:
    """Env-steps/s of ``train(cfg)``: a short probe, then a run sized to last about ``seconds``
    (start-up included once per run, as a user sees it; evaluations and checkpoints off)."""
    chunk = cfg.batch_size * cfg.t_max
    base = {**cfg.to_dict(), "eval_every": 0, "checkpoint_every": 0, "threads": 1}
    probe = TrainConfig.from_dict({**base, "steps": chunk * 3})
    t = time.perf_counter()
    train(probe, progress=False, log=lambda *a: None)
    guess = probe.steps / (time.perf_counter() - t)
    steps = max(chunk * 5, int(guess * seconds) // chunk * chunk)
    run = TrainConfig.from_dict({**base, "steps": steps})
    t = time.perf_counter()
    train(run, progress=False, log=lambda *a: None)
    return steps / (time.perf_counter() - t)


def paired(cfg: TrainConfig, seconds: float, repeats: int) -> dict:
    """Both engines on ``cfg``, interleaved ``repeats`` times: medians and their ratio."""
    out = {"autograd": [], "fused": []}
    for _ in range(repeats):
        for engine in out:
            out[engine].append(rate(TrainConfig.from_dict({**cfg.to_dict(), "engine": engine}), seconds))
    a, f = statistics.median(out["autograd"]), statistics.median(out["fused"])
    return {"baseline_steps_per_s": round(a), "steps_per_s": round(f), "ratio": round(f / a, 2),
            "baseline_runs": [round(x) for x in out["autograd"]], "runs": [round(x) for x in out["fused"]]}


def _uses_fused(cfg: TrainConfig) -> bool:
    from pfcda.circuit.agent import Circuit
    from pfcda.circuit.manipulations import Manipulated
    from pfcda.circuit.train import fused_applies

    circuit = Circuit(cfg.circuit)
    agent = Manipulated(circuit, cfg.manipulations, circuit.make_task(), "train", cfg.batch_size)
    return fused_applies(cfg, circuit, agent)


#: The budgets of today's trainer (the shipped configurations when issue #15 was filed), for the
#: time-to-criterion baseline; protocols whose budget has not changed since are absent.
TODAY_STEPS = {"reversal": 10_000_000}


def criterion(entry: str):
    """(description, test of one periodic evaluation's history entry): every paper claim the
    protocol declares on this circuit holds in the frozen evaluation (``eval_claims``: the claims
    of ``pfcda reproduce``, the effects its tests assert), and for the bandit also the regret floor
    of issue #15 against the Bayes-optimal agent."""
    name, _, variant = entry.partition(":")

    def claims(h):
        return h.get("claims", 0) > 0 and h["claims_met"] == h["claims"]

    if name == "bandit":
        from pfcda.protocols.bandit.agents import bayes_optimal_regret

        floor = {"independent": 1.30, "correlated": 1.12}[variant or "independent"]
        best = bayes_optimal_regret(100, variant or "independent")
        return (f"every paper claim holds and regret <= {floor} x Bayes-optimal ({best:.4f})",
                lambda h: claims(h) and h["regret"] <= floor * best)
    return "every paper claim on this circuit holds (pfcda reproduce's criteria)", claims


def time_to(cfg: TrainConfig, test, every: int, episodes: int, claims_scale: float) -> dict:
    """Train ``cfg`` with periodic frozen evaluations until ``test`` holds (or the budget ends):
    training seconds to the criterion (evaluations excluded), and the budget's training time
    extrapolated from the rate measured."""
    run = TrainConfig.from_dict({**cfg.to_dict(), "eval_every": every, "eval_episodes": episodes,
                                 "eval_claims": claims_scale, "checkpoint_every": 0, "threads": 1})
    t = time.perf_counter()
    history = train(run, progress=False, log=lambda *a: None, stop=test).history
    hit = next((h for h in history if test(h)), None)
    last = history[-1]
    return {"seconds": hit["seconds"] if hit else None, "steps": hit["steps"] if hit else None,
            "budget_steps": cfg.steps, "budget_seconds": round(last["seconds"] * cfg.steps / last["steps"], 1),
            "wall_seconds": round(time.perf_counter() - t, 1), "engine": cfg.engine,
            "last": {k: v for k, v in last.items() if isinstance(v, (int, float))}}


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocols", default=",".join(SHIPPED), help="protocol[:variant] list (default: the shipped circuits)")
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each throughput run")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved runs per engine (median)")
    ap.add_argument("--batches", default="128,256,512,1024,2048", help="batch sizes of the sweep")
    ap.add_argument("--no-batch", action="store_true", help="skip the batch-size sweep")
    ap.add_argument("--no-throughput", action="store_true", help="skip the per-protocol throughput")
    ap.add_argument("--criterion", action="store_true", help="also time-to-criterion (full budgets, both engines)")
    ap.add_argument("--eval-every", type=int, default=500_000, help="steps between the criterion's evaluations")
    ap.add_argument("--eval-episodes", type=int, default=1000)
    ap.add_argument("--claims-scale", type=float, default=0.5,
                    help="episodes of the claims' frozen runs, × pfcda reproduce's")
    args = ap.parse_args()
    torch.set_num_threads(1)
    entries = [e for e in args.protocols.split(",") if e]
    emit({"bench": "machine", "torch": torch.__version__, "threads": 1, "cores": os.cpu_count(),
          "cpu": platform.processor() or platform.machine(), "cuda": torch.cuda.is_available()})
    if not args.no_throughput:
        for entry in entries:
            cfg = shipped_config(entry)
            rec = {"bench": "throughput", "protocol": entry, "batch": cfg.batch_size, "t_max": cfg.t_max,
                   "units": cfg.circuit.n_units, "fused_applies": _uses_fused(cfg),
                   "baseline": "engine=autograd (today's trainer), same process"}
            emit({**rec, **paired(cfg, args.seconds, args.repeats)})
    if not args.no_batch:
        for B in (int(b) for b in args.batches.split(",")):
            cfg = shipped_config("bandit:independent", batch_size=B)
            emit({"bench": "batch", "protocol": "bandit:independent", "batch": B, "t_max": cfg.t_max,
                  **paired(cfg, args.seconds, args.repeats)})
    if args.criterion:
        for entry in entries:
            desc, test = criterion(entry)
            cfg = shipped_config(entry)
            today = TrainConfig.from_dict({**cfg.to_dict(), "engine": "autograd",
                                           "steps": TODAY_STEPS.get(entry, cfg.steps)})
            res = {"baseline": time_to(today, test, args.eval_every, args.eval_episodes, args.claims_scale),
                   "new": time_to(cfg, test, args.eval_every, args.eval_episodes, args.claims_scale)}
            b, n = res["baseline"], res["new"]
            emit({"bench": "criterion", "protocol": entry, "criterion": desc,
                  "baseline_is": "today's trainer: engine=autograd, today's budget, same process", **res,
                  "ratio_to_criterion": round(b["seconds"] / n["seconds"], 2) if b["seconds"] and n["seconds"] else None,
                  "ratio_vs_today_wall": round(b["budget_seconds"] / n["seconds"], 2) if n["seconds"] else None})

if __name__ == "__main__":
    main()
