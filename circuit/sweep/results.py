"""A sweep's results as one tidy table, a summary over seeds and a figure.

``cells.csv`` / ``cells.parquet``: one row per cell in the spec's order — ``cell`` (its folder
under ``cells/``), ``status``, the grid values, the metrics of its commands (``evaluate.…``,
``analyze.<statistic>`` and ``.sem``, ``lesion-sweep.<measure>[size=…]``, ``train.final.…``),
``path.<file>`` (relative to the sweep's folder), ``seconds.<command>`` and ``error``.
``summary.csv``: for every combination of the factors other than seeds and every numeric
metric, n, mean, sd and the 95 % t confidence interval over the seeds of the done cells.
``summary.png``/``.svg``: one metric against the first factor (lines: the second factor), with
95 % CIs, for a grid of one or two factors besides seeds. The three are derived from the cells and
rewritten by every collect.
"""
from __future__ import annotations

import json
import math
import os

from pfcda.errors import ConfigError

from ..io.atomic import atomic_write
from . import CELLS, cell_dirs, read_sweep
from .cell import KEEP, read_cell, state

#: parts of the commands' JSON that are not a cell's results (per-seed detail, the literature)
SKIP = {"per_seed", "reference", "draws", "protocol"}
#: metrics a figure shows by default, the first present
PREFERRED = ("evaluate.agents.circuit.ratio", "evaluate.agents.circuit.regret", "train.final.regret")


def _value(v):
    """A grid value as a table cell: scalars as they are, lists and tables as JSON text."""
    return v if v is None or isinstance(v, (bool, int, float, str)) else json.dumps(v, sort_keys=True)


def flatten(obj, prefix: str, out: dict) -> dict:
    """Scalar leaves of a command's JSON as ``prefix.key.key``; ``{"value", "sem"}`` statistics as
    ``prefix.name`` and ``prefix.name.sem``; rows with a ``size`` as ``prefix[size=…]``."""
    if isinstance(obj, dict):
        if "value" in obj and set(obj) <= {"value", "sem", "n", "warning", "reason"}:
            out[prefix] = obj["value"]
            if obj.get("sem") is not None:
                out[prefix + ".sem"] = obj["sem"]
            return out
        for k, v in obj.items():
            if k not in SKIP:
                flatten(v, f"{prefix}.{k}", out)
    elif isinstance(obj, list):
        if obj and all(isinstance(r, dict) and "size" in r for r in obj):
            for r in obj:
                flatten({k: v for k, v in r.items() if k != "size"}, f"{prefix}[size={r['size']:g}]", out)
    elif obj is None or isinstance(obj, (bool, int, float, str)):
        out[prefix] = obj
    return out


def metrics(celldir: str, chain) -> dict:
    out = {}
    for step in chain:
        path = os.path.join(celldir, f"{step}.json")
        if os.path.exists(path):
            with open(path) as f:
                data = json.load(f)
            if step == "analyze":
                data = data.get("stats", {})
            elif step == "lesion-sweep":
                data = {data.get("measure", "value"): data.get("rows", [])}
            flatten(data, step, out)
    return out


def table(outdir: str):
    """The tidy table of a sweep's folder (a pandas DataFrame)."""
    import pandas as pd

    meta = read_sweep(outdir)
    rows = []
    for cid, d in zip(meta["cells"], cell_dirs(outdir, meta["cells"])):
        s = state(d)
        try:
            c = read_cell(d)
        except (OSError, ValueError):
            c = {"grid": {}}
        row = {"cell": cid, "status": s}
        row.update({k: _value(v) for k, v in c.get("grid", {}).items()})
        if s == "done":
            row.update(metrics(d, meta["chain"]))
            for name in sorted(os.listdir(d)):
                if name not in KEEP and not name.endswith(".json") and not name.endswith(".toml"):
                    row[f"path.{name}"] = os.path.join(CELLS, cid, name)
        for step, info in (c.get("steps") or {}).items():
            row[f"seconds.{step}"] = info.get("seconds")
        row["seconds.total"] = c.get("seconds")
        row["error"] = c.get("error")
        rows.append(row)
    df = pd.DataFrame(rows)
    front = ["cell", "status", *meta["grid"]]
    tail = [k for k in df.columns if k.startswith(("path.", "seconds.")) or k == "error"]
    middle = [k for k in df.columns if k not in front and k not in tail]
    return df[front + middle + sorted(tail, key=lambda k: (k == "error", k))], meta


def seed_factors(grid) -> list:
    return [k for k in grid if k == "seed" or k.endswith(".seed")]


def summary(df, grid):
    """Mean, sd, n and the 95 % t CI of each numeric metric over seeds, per combination of the
    other factors (done cells only)."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    factors = [k for k in grid if k not in seed_factors(grid)]
    done = df[df["status"] == "done"]
    skip = {"cell", "status", "error", *grid}
    cols = [c for c in done.columns if c not in skip and not c.startswith(("path.", "seconds."))
            and pd.api.types.is_numeric_dtype(done[c]) and not pd.api.types.is_bool_dtype(done[c])]
    out = []
    groups = done.groupby(factors, sort=False, dropna=False) if factors else [((), done)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        for c in cols:
            v = g[c].dropna().to_numpy(float)
            n = len(v)
            mean = float(v.mean()) if n else math.nan
            sd = float(v.std(ddof=1)) if n > 1 else math.nan
            half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n > 1 else math.nan
            if not n:  # a metric this group's commands do not produce
                continue
            out.append({**dict(zip(factors, key)), "metric": c, "n": n, "mean": mean, "sd": sd,
                        "ci95_low": mean - half, "ci95_high": mean + half})
    return pd.DataFrame(out, columns=[*factors, "metric", "n", "mean", "sd", "ci95_low", "ci95_high"])


def _write(df, path: str, kind: str) -> str:
    with atomic_write(path) as tmp:
        if kind == "csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
    return path


def _figure(summ, grid, metric: str | None, outdir: str):
    factors = [k for k in grid if k not in seed_factors(grid) and len(grid[k]) > 1]
    if not 1 <= len(factors) <= 2 or summ.empty:
        return None, None
    present = list(dict.fromkeys(summ["metric"]))
    if metric is None:  # the first preferred metric that every group has
        groups = summ.groupby("metric")["n"].count()
        everywhere = [m for m in present if groups.get(m, 0) == groups.max()]
        metric = next((m for m in (*PREFERRED, *everywhere) if m in everywhere and not m.endswith(".sem")), None)
        if metric is None:
            return None, None
    if metric not in present:
        raise ConfigError(f"--metric: {metric!r} is not a numeric metric of this sweep; expected one of {present}")
    from pfcda.protocols.plotting import subplots

    from ..io.figures import save_figures

    s = summ[summ["metric"] == metric]
    numeric = [f for f in factors if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in grid[f])]
    x = numeric[0] if numeric else factors[0]
    lines = [f for f in factors if f != x]
    fig, ax = subplots(figsize=(4.2, 3.2))
    groups = s.groupby(lines[0], sort=False) if lines else [(None, s)]
    for label, g in groups:
        order = [v for v in grid[x] if v in set(g[x])]
        g = g.set_index(x).loc[order]
        xs = order if x in numeric else list(range(len(order)))
        err = [(g["mean"] - g["ci95_low"]).fillna(0), (g["ci95_high"] - g["mean"]).fillna(0)]
        ax.errorbar(xs, g["mean"], yerr=err, fmt="o-", capsize=2,
                    label=f"{lines[0]} = {label}" if lines else None)
        if x not in numeric:
            ax.set_xticks(xs, [str(v) for v in order])
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    n = int(s["n"].min()) if len(s) else 0
    ax.set_title(f"mean ± 95 % CI over seeds (n ≥ {n})", fontsize=8)
    if lines:
        ax.legend(frameon=False, fontsize=7)
    paths = save_figures({"summary": fig}, outdir, overwrite=True)
    return metric, paths


def collect(outdir: str, metric: str | None = None, figure: bool = True) -> dict:
    """Write ``cells.csv``, ``cells.parquet`` (with pyarrow), ``summary.csv`` and the figure into
    the sweep's folder; returns what was written and the counts."""
    outdir = os.path.abspath(outdir)
    df, meta = table(outdir)
    grid = {k: [_value(v) for v in vs] for k, vs in meta["factors"].items()}
    summ = summary(df, grid)
    written = [_write(df, os.path.join(outdir, "cells.csv"), "csv")]
    try:
        import pyarrow  # noqa: F401

        written.append(_write(df, os.path.join(outdir, "cells.parquet"), "parquet"))
        parquet = None
    except ImportError:
        parquet = "cells.parquet not written: needs pyarrow (pip install \"pfcda[slurm]\")"
    written.append(_write(summ, os.path.join(outdir, "summary.csv"), "csv"))
    shown = None
    if figure:
        shown, paths = _figure(summ, grid, metric, outdir)
        written += paths or []
    counts = df["status"].value_counts().to_dict()
    return {"dir": outdir, "cells": len(df), "counts": counts, "written": written, "figure_metric": shown,
            "note": parquet, "table": df, "summary": summ}
