"""How the command line prints results: tables of statistics, comparisons, listings, JSON."""
from __future__ import annotations

import json
import math


def finite(obj):
    """JSON-safe copy: NaN and infinities become null (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item"):  # numpy scalars
        return finite(obj.item())
    return obj


def dumps(obj) -> str:
    return json.dumps(finite(obj), default=str)


def table(rows: dict, sep: str = "  ") -> list[str]:
    """``name  value`` lines, names padded to one width."""
    width = max((len(k) for k in rows), default=0)
    return [f"{k:<{width}}{sep}{v}" for k, v in rows.items()]


def evaluation(res: dict, checkpoint: str, probs=None) -> list[str]:
    what = (f"{res['arms']} arms ({res['variant']}{', probs ' + str(probs) if probs else ''})")
    if "seeds" in res:
        return _evaluation_seeds(res, checkpoint, what)
    lines = [f"{checkpoint}: {res['episodes']} episodes × {res['trials']} trials, {what}, "
             f"seed {res['seed']}, weights frozen"]
    best = res["agents"].get("bayes_optimal", {}).get("regret")
    lines.append(f"{'agent':<14} {'regret':>8} {'± sem':>7} {'× Bayes-opt':>12}")
    for name, r in res["agents"].items():
        ratio = f"{r['regret'] / best:12.2f}" if best else f"{'':>12}"
        lines.append(f"{name:<14} {r['regret']:8.3f} {r['regret_sem']:7.3f} {ratio}")
    return lines


def _seed_list(seeds) -> str:
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def _evaluation_seeds(res: dict, checkpoint: str, what: str) -> list[str]:
    n = len(res["seeds"])
    lines = [f"{checkpoint}: {n} episode seeds ({_seed_list(res['seeds'])}) × {res['episodes']} episodes "
             f"× {res['trials']} trials, {what}, weights frozen",
             "mean over the seeds; sd across seeds; × Bayes-opt on the same episodes (mean, min–max)"]
    has_ratio = "ratio" in res["agents"].get("circuit", {})
    lines.append(f"{'agent':<14} {'regret':>8} {'± sd':>7}" + (f" {'× Bayes-opt':>12} {'min–max':>11}" if has_ratio else ""))
    for name, r in res["agents"].items():
        sd = f"{r['regret_sd']:7.3f}" if math.isfinite(r["regret_sd"]) else f"{'n/a':>7}"
        row = f"{name:<14} {r['regret']:8.3f} {sd}"
        if has_ratio:
            row += f" {r['ratio']:12.2f} {r['ratio_min']:5.2f}–{r['ratio_max']:.2f}"
        lines.append(row)
    return lines


def _value(v: dict) -> str:
    """An estimate as printed: never a bare NaN (the reason instead)."""
    x = v.get("value")
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a (" + (v.get("note") or "not computable from this recording") + ")"
    return f"{x:.4g}"


def warnings(result: dict) -> list[str]:
    return [f"  warning: {w}" for w in result.get("warnings", [])]


def analysis(result: dict, path: str, n_episodes) -> list[str]:
    lines = [f"{path}: protocol {result['protocol']}, {n_episodes} episodes"]
    width = max(len(k) for k in result["stats"])
    for k, v in result["stats"].items():
        sem = f" ± {v['sem']:.3f}" if v.get("sem") is not None and math.isfinite(v["sem"]) else ""
        ref = result["reference"].get(k)
        if ref:
            parts = [f"{who} {ref[who]}" for who in ("paper", "lab") if ref.get(who) is not None]
            ref = f"   {', '.join(parts)} ({ref['source']})"
        else:
            ref = ""
        lines.append(f"  {k:<{width}}  {_value(v)}{sem}{ref}")
    for p in result.get("figures", []):
        lines.append(f"  figure: {p}")
    return lines + warnings(result)


def comparison(res: dict, n_boot: int, lab: str) -> list[str]:
    lines = [f"{res['protocol']}: circuit ({res['n_episodes']['model']} episodes) vs lab {lab} "
             f"({res['n_episodes']['lab']} sessions); 95% bootstrap CI over episodes/sessions "
             f"({n_boot} resamples)"]
    if res["lab_excluded"]:
        lines.append("  lab trials kept but excluded from the analyses: " +
                     ", ".join(f"{k} {v}" for k, v in res["lab_excluded"].items()))
    width = max(len(k) for k in res["model"])
    lines.append(f"  {'statistic':<{width}}  {'circuit':>22}  {'lab':>22}")
    for k in res["model"]:
        cells = []
        for who in ("model", "lab"):
            v = res[who].get(k)
            ok = v and math.isfinite(v["value"]) and v["ci"][0] is not None
            cells.append(f"{v['value']:7.3f} [{v['ci'][0]:6.3f}, {v['ci'][1]:6.3f}]" if ok
                         else "n/a (no fit)" if v else "—")
        lines.append(f"  {k:<{width}}  {cells[0]:>22}  {cells[1]:>22}")
    if "model_comparison" in res:
        mc = res["model_comparison"]
        lines.append(f"model comparison on held-out lab sessions ({mc['split']}): normalised "
                     f"likelihood per choice (0.5 = chance)")
        for name, row in mc["held_out"].items():
            if "per_subject" in row:
                parts = {k: v["likelihood_per_trial"] for k, v in row["per_subject"].items()}
            else:
                parts = row["per_session"]
            lines.append(f"  {name:<11} {row['likelihood_per_trial']:.3f}  (n = {row['n']}; "
                         + ", ".join(f"{k} {v:.3f}" for k, v in parts.items()) + ")")
        fmt = lambda d: ", ".join(f"{k} {v:.2f}" for k, v in d.items())  # noqa: E731
        if "hybrid_params" in mc:
            lines.append("  hybrid fitted to the animals: " + fmt(mc["hybrid_params"]))
        for label, fits in mc.get("per_session_fits", {}).items():
            for m, params in fits.items():
                lines.append(f"  {m} fitted to session {label}: " + fmt(params))
        for m, params in mc["circuit_own_choices"].items():
            lines.append(f"  {m} fitted to the circuit's own choices: " + fmt(params))
        lines += warnings(mc)
    for p in res.get("figures", []):
        lines.append(f"  figure: {p}")
    return lines + warnings(res)


def info(rec, path: str) -> dict:
    a, p = rec.attrs, rec.provenance
    return {
        "file": path, "protocol": a["protocol"], "task": a.get("task"),
        "episodes": a["n_episodes"], "trials": a["n_trials"], "steps": a["n_steps"],
        "units": f"{a['n_units']} ({a['core']})", "gamma": a["gamma"],
        "actions": a["action_names"], "observation channels": a["obs_names"],
        "trials columns": list(rec.trials), "step fields": list(rec.steps),
        "manipulations": rec.manipulations or "none", "seed": p.get("seed"),
        "checkpoint": p.get("checkpoint"), "checkpoint sha256": p.get("checkpoint_sha256"),
        "weight hash": p.get("weight_hash"), "code version": p.get("code_version"),
        "packages": ", ".join(f"{k} {v}" for k, v in p.get("packages", {}).items()),
        "created": p.get("created"),
    }


def info_lines(info: dict) -> list[str]:
    out = {}
    for k, v in info.items():
        if isinstance(v, (list, dict)):
            v = ", ".join(map(str, v)) if isinstance(v, list) else \
                ", ".join(f"{kk}={vv}" for kk, vv in v.items() if vv is not None)
        out[k] = v
    return table(out)


def sweep_status(res: dict) -> list[str]:
    c = res["counts"]
    lines = [f"sweep {res['sweep']} ({res['dir']}): {res['cells']} cells — "
             + ", ".join(f"{n} {s}" for s, n in c.items() if n)]
    last = res.get("last_submission") or {}
    if last.get("executor") == "slurm":
        lines.append(f"  last submission: SLURM array {', '.join(last.get('array', []))} at {last.get('time')}")
    for f in res["failures"]:
        grid = ", ".join(f"{k}={v}" for k, v in f["grid"].items())
        lines.append(f"  failed {f['cell']} ({grid}): {f['error']}")
    if c.get("failed"):
        lines.append("  rerun with --retry-failed to try the failed cells again")
    if c.get("pending") or c.get("interrupted"):
        lines.append("  run the same `pfcda sweep SPEC.toml --out DIR` again to finish the "
                     f"{c.get('pending', 0) + c.get('interrupted', 0)} cells not done")
    return lines


def sweep_collect(res: dict) -> list[str]:
    lines = [f"{res['dir']}: {res['cells']} cells ("
             + ", ".join(f"{n} {s}" for s, n in res["counts"].items()) + ")"]
    lines += [f"  wrote {p}" for p in res["written"]]
    if res.get("note"):
        lines.append(f"  {res['note']}")
    summ = res["summary"]
    metric = res.get("figure_metric")
    if metric is not None:
        s = summ[summ["metric"] == metric]
        lines.append(f"  {metric}, mean [95 % CI] over seeds:")
        factors = [c for c in s.columns if c not in ("metric", "n", "mean", "sd", "ci95_low", "ci95_high")]
        for _, r in s.iterrows():
            key = ", ".join(f"{f}={r[f]}" for f in factors)
            ci = (f"[{r['ci95_low']:.4g}, {r['ci95_high']:.4g}]" if r["n"] > 1 else "(no CI: one seed)")
            lines.append(f"    {key}: {r['mean']:.4g} {ci} (n = {r['n']})")
    return lines


def reproduction(res: dict) -> list[str]:
    c = res["summary"]
    lines = [f"{res['dir']}: {len(res['claims'])} statements — {c['reproduced']} reproduced, {c['differs']} differ, "
             f"{c['not computed']} not computed ({res['seconds']:.0f} s); report.html, report.md, results.json"]
    width = max((len(f"{r['protocol']} {r['figure']}") for r in res["claims"]), default=0)
    for r in res["claims"]:
        model = "—" if r["model"] is None else f"{r['model']:.3g}"
        paper = "" if r["paper"] is None else f", paper {r['paper']:.3g}"
        lab = "" if r["lab"] is None else f", animals {r['lab']:.3g}{' ' + r['lab_unit'] if r['lab_unit'] else ''}"
        lines.append(f"  {(r['protocol'] + ' ' + r['figure']):<{width}}  {r['verdict']:<12} {r['statement']}: "
                     f"model {model}{paper}{lab}")
    return lines


def benchmark(res: dict) -> list[str]:
    """The held-out table: NL per model (pooled, 95 % CI), its difference to the best classic
    model (paired CI), and per subject."""
    man = res["manifest"]
    best = res["best_classic"]
    subjects = list(man["subjects"])
    out = [f"{res['dataset']}: held-out normalised likelihood per choice ({res['score']})",
           f"  split: {man['rule']}",
           f"  data SHA-256 {man['data_sha256'][:12]}…, splits SHA-256 {man['splits_sha256'][:12]}…",
           f"  CIs: {res['bootstrap']['resamples']} paired bootstrap resamples of {res['bootstrap']['unit']}",
           "",
           f"  {'model':<15} {'NL':>6}  {'95 % CI':<15} {'− ' + str(best):<26} " + " ".join(f"{s:>7}" for s in subjects)]
    for m, r in res["models"].items():
        vs = r.get("vs_best_classic")
        diff = "" if vs is None or m == best else f"{vs['diff']:+.3f} [{vs['ci95'][0]:+.3f}, {vs['ci95'][1]:+.3f}]"
        out.append(f"  {m:<15} {r['nl']:6.3f}  [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]  {diff:<26} "
                   + " ".join(f"{r['per_subject'][s]['nl']:7.3f}" for s in subjects))
    n = next(iter(res["models"].values()))["per_subject"]
    out.append(f"  {'choices':<15} {'':6}  {'':15} {'':26} " + " ".join(f"{n[s]['n']:7d}" for s in subjects))
    if res.get("figures"):
        out.append("figures: " + ", ".join(res["figures"]))
    return out


def recovery(res: dict) -> list[str]:
    """The recovery confusion matrix: rows generate, columns win."""
    models = res["models"]
    out = [f"{res['dataset']}: model recovery, {res['subjects_per_model']} simulated subjects per model "
           f"({res['rule']})", "",
           f"  {'generated by':<14} " + " ".join(f"{m:>10}" for m in models) + f"  {'recovered':>9}"]
    for g in models:
        out.append(f"  {g:<14} " + " ".join(f"{res['confusion'][g][m]:>10d}" for m in models)
                   + f"  {res['recovered'][g]:>9.0%}")
    return out
