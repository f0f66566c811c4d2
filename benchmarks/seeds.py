"""Robustness across training seeds: train a protocol's shipped circuit with several seeds and
count how many meet the protocol's acceptance floors.

Each seed is trained with the shipped command (``pfcda train PROTOCOL [--variant V] --seed S``),
one process and one thread per seed, ``--workers`` at a time (the standard library's process
pool); a seed whose checkpoint is already in ``--dir`` is not retrained, so the script resumes.
Acceptance:

* bandit: the regret ratio to the Bayes-optimal agent on 4 × 2,000 fresh episodes (episode
  seeds 0–3, ``pfcda evaluate``), against the floors of issue #15 (median over training seeds
  ≤ 1.30× independent, ≤ 1.12× correlated);
* every protocol: its science tests (``tests/test_protocol_<name>.py``, the effects the paper and
  the lab data show, with their tolerances) run against the seed's circuit in place of the
  shipped one (``$PFCDA_CHECKPOINTS``).

One JSON line per seed, then a summary line.

    python benchmarks/seeds.py bandit:independent [--seeds 0-7] [--workers 2] [--dir seeds]

A protocol whose tests use several circuits (``twostep_stim``: both stimulation circuits) trains
each of them per seed (:data:`COMPANIONS`).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: protocol[:variant] → the shipped checkpoint's name
SHIPPED = {"bandit:independent": "bandit_independent", "bandit:correlated": "bandit_correlated",
           "matching": "matching", "volatility": "volatility", "reversal": "reversal",
           "twostep:miller": "twostep_miller", "twostep:daw": "twostep_daw", "harlow": "harlow",
           "stopper": "stopper", "twostep_stim": "twostep_stim", "stauffer": "stauffer"}
#: protocol → the other circuits its science tests use, each with its training arguments
#: (trained per seed beside the first, and swapped in with it)
COMPANIONS = {"twostep_stim": [("twostep_stim_da_only", ["--task", "feedback=trial_no_reward"])],
              "stauffer": [("stauffer_da_only", ["--task", "feedback=trial_no_reward"])]}
BANDIT_FLOOR = {"independent": 1.30, "correlated": 1.12}


def seed_list(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        lo, dash, hi = part.partition("-")
        out += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
    return out


def train_one(entry: str, seed: int, out: str, extra: tuple = ()) -> dict:
    name, _, variant = entry.partition(":")
    cmd = ["pfcda", "train", name, *(["--variant", variant] if variant else []), *extra, "--seed", str(seed),
           "--out", out, "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return {"seed": seed, "command": " ".join(cmd), "train_seconds": round(time.perf_counter() - t, 1),
            "returncode": p.returncode, "error": p.stderr.strip().splitlines()[-1:] if p.returncode else []}


def bandit_acceptance(path: str, variant: str) -> dict:
    from pfcda.circuit.evaluate import evaluate_bandit_seeds
    from pfcda.circuit.io.checkpoint import load_checkpoint

    res = evaluate_bandit_seeds(load_checkpoint(path)[0], [0, 1, 2, 3], episodes=2000, agents=("bayes_optimal",))
    c = res["agents"]["circuit"]
    return {"ratio": round(c["ratio"], 4), "ratio_min": round(c["ratio_min"], 4), "ratio_max": round(c["ratio_max"], 4)}


def tests_acceptance(paths: dict, entry: str) -> dict:
    """The protocol's science tests with ``paths`` (checkpoint name → this seed's file) in place
    of the shipped checkpoints."""
    name = entry.partition(":")[0]
    test_file = os.path.join(ROOT, "tests", f"test_protocol_{name}.py")
    with tempfile.TemporaryDirectory() as d:
        for ck, path in paths.items():
            os.symlink(os.path.abspath(path), os.path.join(d, ck + ".pt"))
        env = {**os.environ, "PFCDA_CHECKPOINTS": d, "OMP_NUM_THREADS": "1", "PYNWB_NO_CACHE_DIR": "1"}
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file, "-rf"],
                           capture_output=True, text=True, env=env, cwd=ROOT)
    failed = [ln.split("::", 1)[-1].split(" ")[0] for ln in p.stdout.splitlines() if ln.startswith("FAILED")]
    summary = (p.stdout.strip().splitlines() or [""])[-1]
    return {"tests_pass": p.returncode == 0, "tests_failed": failed, "tests_summary": summary}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("protocol", choices=sorted(SHIPPED), help="protocol[:variant]")
    ap.add_argument("--seeds", type=seed_list, default=list(range(8)), help="training seeds (0-7)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dir", default="seeds", help="where the seeds' checkpoints go (reused)")
    ap.add_argument("--no-tests", action="store_true", help="skip the science tests (bandit: regret only)")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    entry, (name, _, variant) = args.protocol, args.protocol.partition(":")
    circuits = [(SHIPPED[entry], ())] + [(ck, tuple(extra)) for ck, extra in COMPANIONS.get(entry, [])]
    paths = {s: {ck: os.path.join(args.dir, f"{ck}_seed{s}.pt") for ck, _ in circuits} for s in args.seeds}
    todo = [(s, ck, extra) for s in args.seeds for ck, extra in circuits if not os.path.exists(paths[s][ck])]
    trained = {}
    if todo:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as pool:
            futures = {pool.submit(train_one, entry, s, paths[s][ck], extra): (s, ck) for s, ck, extra in todo}
            for f in cf.as_completed(futures):
                s, ck = futures[f]
                trained.setdefault(s, {})[ck] = f.result()
    rows = []
    for s in args.seeds:
        done = trained.get(s, {})
        row = {"protocol": entry, "seed": s, **(done.get(SHIPPED[entry]) or {"train_seconds": None})}
        if len(circuits) > 1:
            row["companions"] = {ck: done.get(ck, {"train_seconds": None}) for ck, _ in circuits[1:]}
        if all(os.path.exists(p) for p in paths[s].values()):
            path = paths[s][SHIPPED[entry]]
            if name == "bandit":
                row.update(bandit_acceptance(path, variant))
            if not args.no_tests:
                row.update(tests_acceptance(paths[s], entry))
        print(json.dumps(row), flush=True)
        rows.append(row)
    summary = {"protocol": entry, "seeds": args.seeds,
               "tests_pass": sum(bool(r.get("tests_pass")) for r in rows) if not args.no_tests else None}
    if name == "bandit":
        ratios = [r["ratio"] for r in rows if "ratio" in r]
        summary.update(ratio_median=statistics.median(ratios), ratio_min=min(ratios), ratio_max=max(ratios),
                       floor=BANDIT_FLOOR[variant], below_floor=sum(x <= BANDIT_FLOOR[variant] for x in ratios))
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    main()
