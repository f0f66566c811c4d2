"""``pfcda reproduce``: the paper's panels and quantitative statements, run on the shipped circuits,
as one report — the paper's, the animals' and the model's numbers side by side, with a verdict
per statement.

What is run and what is claimed is declared by each protocol (``ProtocolSpec.paper``,
:mod:`pfcda.protocols.paper`); the numbers are the protocol's own analyses of frozen runs (the
same ones its tests assert), so nothing here computes a statistic or decides a value. The model's
value carries a 95 % interval over episodes (± 1.96 sem, where the statistic has a sampling
error). The verdict is computed from the claim's criterion: *reproduced* when the model meets it,
*differs* otherwise, with the distance to the paper's and to the animals' values beside it.

Written into the output folder: ``report.html`` (self-contained: figures embedded; the summary
table first, each row linking to its figures), ``report.md`` with ``figures/*.png|svg``, and
``results.json`` (the same numbers, machine-readable, with the provenance: code and package
versions, each checkpoint's SHA-256, seeds, commands, wall times).
"""
from __future__ import annotations

import base64
import copy
import datetime
import html
import json
import math
import os
import sys
import time

from pfcda import protocols
from pfcda.errors import ConfigError

from .analyze import training_context
from .io.atomic import atomic_write
from .io.checkpoint import resolve
from .io.codec import file_hash
from .io.figures import check_figure_dir, save_figures
from .provenance import provenance


def reproducible() -> list[str]:
    """The registered protocols that declare a reproduction."""
    return [n for n in protocols.names() if protocols.describe(n).raw("paper") is not None]


def _finite(v):
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def run_protocol(name: str, seed: int = 0, scale: float = 1.0, figdir: str | None = None, log=None,
                 checkpoints: dict | None = None, tag: str = "") -> dict:
    """Every run of protocol ``name``'s paper on its shipped circuits (or on ``checkpoints``: shipped
    name → another checkpoint, e.g. one training seed's): ``{"runs": {run: {"stats", "episodes",
    "checkpoint", "checkpoint_sha256", "seconds", "figures"}}}``."""
    from .run import manipulations_for, protocol_circuit
    from .run import run as run_frozen

    spec = protocols.get(name)
    out = {}
    for r in spec.paper.runs:
        t0 = time.perf_counter()
        from .run import default_checkpoint

        shipped = r.checkpoint or default_checkpoint(name)
        ckpt, circuit = protocol_circuit(name, (checkpoints or {}).get(shipped, shipped))
        episodes = max(20, int(round(r.episodes * scale)))
        if log:
            log(f"reproduce: {name} / {r.name}: {episodes} episodes on {ckpt}")
        rec = run_frozen(circuit, episodes=episodes, seed=seed, task_overrides=dict(r.task) or None,
                         manipulations=manipulations_for(name, presets=r.presets), checkpoint=ckpt)
        result = spec.analyze(rec, seed=seed)
        paths = []
        if figdir and spec.figures is not None:
            figs = spec.figures(rec, result, **training_context(rec))
            figs = {f"{name}_{r.name}{tag}_{k}": v for k, v in figs.items()}
            paths = save_figures(figs, figdir, overwrite=True)
        out[r.name] = {"stats": result["stats"], "episodes": episodes, "seed": seed, "checkpoint": ckpt,
                       "checkpoint_sha256": file_hash(resolve(ckpt)), "task": dict(r.task),
                       "presets": list(r.presets), "seconds": round(time.perf_counter() - t0, 2),
                       "figures": [os.path.basename(p) for p in paths]}
    return {"runs": out}


def _task(d) -> dict:
    return {k: v for k, v in (d or {}).items() if v is not None}


def runs_of(circuit) -> list:
    """The paper runs (:class:`~pfcda.protocols.paper.PaperRun`) of ``circuit``'s protocol that are
    made on a circuit trained like it: their checkpoint's protocol and task options are its own."""
    from .io.checkpoint import read_checkpoint
    from .run import default_checkpoint

    name = circuit.config.protocol
    paper = protocols.get(name).paper if name in protocols.names() else None
    out = []
    for r in (paper.runs if paper is not None else ()):
        ck = r.checkpoint or default_checkpoint(name)
        try:
            theirs = read_checkpoint(ck).circuit_config
        except Exception:  # noqa: BLE001 — a plug-in's checkpoint that is not there: not this circuit's run
            continue
        if theirs.get("protocol") == name and _task(theirs.get("task")) == _task(circuit.config.task):
            out.append(r)
    return out


def claims_status(circuit, scale: float = 0.5, seed: int = 0) -> dict:
    """The paper's claims on ``circuit`` (frozen, in memory; e.g. during training): every run of
    :func:`runs_of` at ``scale`` × its episodes, the protocol's analysis, the verdicts of the claims
    read off those runs → ``{"claims_met": k, "claims": n, "claims_failing": [stat, …]}`` (empty
    where the protocol declares no claim on such a circuit). The criterion of
    ``benchmarks/train_speed.py --criterion``: the first evaluation where every claim holds."""
    from .run import manipulations_for
    from .run import run as run_frozen

    name = circuit.config.protocol
    mine = runs_of(circuit)
    if not mine:
        return {}
    spec = protocols.get(name)
    runs = {}
    for r in mine:
        episodes = max(20, int(round(r.episodes * scale)))
        rec = run_frozen(circuit, episodes=episodes, seed=seed, task_overrides=dict(r.task) or None,
                         manipulations=manipulations_for(name, presets=r.presets))
        runs[r.name] = {"stats": spec.analyze(rec, seed=seed)["stats"], "episodes": episodes}
    claims = [c for c in spec.paper.claims if c.run in runs and not (
        isinstance(c.criterion[1], str) and c.criterion[1].rpartition(":")[0] not in ("", *runs))]
    rows = verdicts(name, runs, claims)
    failing = [r["stat"] for r in rows if r["verdict"] != "reproduced"]
    return {"claims_met": len(rows) - len(failing), "claims": len(rows), "claims_failing": failing}


def verdicts(name: str, runs: dict, claims=None) -> list[dict]:
    """Each claim of protocol ``name`` (or each of ``claims``) judged on the model's values in ``runs``."""
    spec = protocols.get(name)

    def stat(run, key):
        s = runs[run]["stats"].get(key)
        if s is None:
            raise ConfigError(f"reproduce: protocol {name!r}: run {run!r} has no statistic {key!r}")
        return s

    def value_of(run, key):
        return stat(run, key)["value"]

    rows = []
    for c in spec.paper.claims if claims is None else claims:
        s = stat(c.run, c.stat)
        v, sem = s.get("value"), s.get("sem")
        row = {"protocol": name, "figure": c.figure, "statement": c.statement, "run": c.run, "stat": c.stat,
               "model": v if _finite(v) else None, "sem": sem if _finite(sem) else None,
               "paper": c.paper, "lab": c.lab, "lab_unit": c.lab_unit, "criterion": c.criterion_text(),
               "source": c.source, "episodes": runs[c.run]["episodes"]}
        row["ci95"] = [v - 1.96 * sem, v + 1.96 * sem] if _finite(v) and _finite(sem) else None
        try:
            bound = c.bound(value_of)
        except (TypeError, ValueError):
            bound = None
        row["bound"] = bound if _finite(bound) else None
        if not _finite(v) or row["bound"] is None:
            row["verdict"] = "not computed"
            row["why"] = s.get("reason") or "the statistic could not be computed on this run"
        else:
            row["verdict"] = "reproduced" if c.holds(v, value_of) else "differs"
            row["why"] = f"model {v:.3g} vs criterion {c.criterion_text()} (= {row['bound']:.3g})"
        row["vs_paper"] = v - c.paper if _finite(v) and _finite(c.paper) else None
        row["vs_lab"] = v - c.lab if _finite(v) and _finite(c.lab) and not c.lab_unit else None
        rows.append(row)
    return rows


def claims_figure(name: str, rows: list, figdir: str) -> list[str]:
    """The claims of one protocol with a paper value: the model (mean ± 95 % CI over episodes),
    the paper (◆) and the animals (■, where in the model's units)."""
    from pfcda.protocols.plotting import subplots

    rows = [r for r in rows if r["model"] is not None and (r["paper"] is not None or r["lab"] is not None)]
    if not rows:
        return []
    fig, ax = subplots(figsize=(max(4.0, 0.55 * len(rows) + 2.5), 3.4))
    xs = list(range(len(rows)))
    for x, r in zip(xs, rows):
        lo, hi = (r["ci95"] or [r["model"], r["model"]])
        ax.errorbar([x], [r["model"]], yerr=[[r["model"] - lo], [hi - r["model"]]], fmt="o", color="k",
                    capsize=2, label="model (mean ± 95 % CI over episodes)" if x == 0 else None)
        if r["paper"] is not None:
            ax.plot([x + 0.18], [r["paper"]], "D", color="tab:red", ms=5,
                    label="paper (Wang et al. 2018)" if x == next(i for i, q in zip(xs, rows) if q["paper"] is not None)
                    else None)
        if r["lab"] is not None and not r["lab_unit"]:
            first = next((i for i, q in zip(xs, rows) if q["lab"] is not None and not q["lab_unit"]), None)
            ax.plot([x - 0.18], [r["lab"]], "s", color="tab:blue", ms=5, label="animals" if x == first else None)
    ax.set_xticks(xs, [f"{r['figure']}\n{r['stat']}" for r in rows], rotation=60, ha="right", fontsize=6)
    ax.set_ylabel("value (the statistic's own units)")
    ax.set_title(f"{name}: the paper's statements, model vs paper vs animals", fontsize=8)
    ax.legend(frameon=False, fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save_figures({f"{name}_claims": fig}, figdir, overwrite=True)


def training_targets(names) -> dict:
    """Shipped checkpoint → ``{"protocol", "task"}`` for every circuit the paper runs of ``names``
    use (the task options it was trained with, from its own configuration)."""
    from .io.checkpoint import read_checkpoint
    from .run import default_checkpoint

    out = {}
    for n in names:
        for r in protocols.get(n).paper.runs:
            ck = r.checkpoint or default_checkpoint(n)
            if ck not in out:
                task = read_checkpoint(ck).circuit_config.get("task", {})
                out[ck] = {"protocol": n, "task": {k: v for k, v in task.items() if v is not None}}
    return out


def _toml(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return json.dumps(v)


def train_seeds(out: str, names, seeds, executor: str = "local", workers: int | None = None,
                steps: int | None = None, progress: bool = True, log=None) -> dict:
    """Train every circuit the paper runs of ``names`` use, once per seed, with its protocol's
    shipped training command, as sweeps in ``out/training/<checkpoint>`` (resumable: a rerun
    reuses finished cells); returns ``{shipped checkpoint: {seed: path of the trained one}}``."""
    from . import sweep

    root = os.path.join(out, "training")
    os.makedirs(root, exist_ok=True)
    folders = {}
    for ck, t in training_targets(names).items():
        lines = ["[sweep]", f"name = {json.dumps(ck)}", 'chain = ["train"]', f"protocol = {json.dumps(t['protocol'])}",
                 "", "[grid]", f"seed = {_toml(list(seeds))}", "", "[train]"]
        if t["task"]:
            lines.append(f"task = {_toml(t['task'])}")
        if steps:
            lines.append(f"steps = {int(steps)}")
        lines += ["", "[slurm]", "time_min = 180", "cpus_per_task = 1", "mem_gb = 4"]
        spec = os.path.join(root, f"{ck}.toml")
        _write_text(spec, "\n".join(lines) + "\n")
        folders[ck] = (spec, os.path.join(root, ck))
    for ck, (spec, folder) in folders.items():
        if log:
            log(f"reproduce: training {ck} × {len(seeds)} seeds ({executor}) in {folder}")
        sweep.run_sweep(spec, out=folder, executor=executor, workers=workers, wait=executor == "local",
                        progress=progress)
    if executor == "slurm":  # every array at once; wait for all
        arrays = [a for _, folder in folders.values()
                  for a in (sweep.read_sweep(folder).get("submissions") or [{}])[-1].get("array", [])]
        while arrays and sweep._queued(arrays):
            time.sleep(2.0)
    paths, missing = {}, []
    for ck, (_, folder) in folders.items():
        meta = sweep.read_sweep(folder)
        paths[ck] = {}
        for cid, d in zip(meta["cells"], sweep.cell_dirs(folder, meta["cells"])):
            seed = json.load(open(os.path.join(d, "cell.json")))["grid"]["seed"]
            if sweep.state(d) == "done":
                paths[ck][seed] = os.path.join(d, "train.pt")
            else:
                missing.append(f"{ck} seed {seed} ({sweep.state(d)})")
    if missing:
        raise ConfigError(f"reproduce --seeds: {len(missing)} training(s) not done: {', '.join(missing)}; "
                          f"`pfcda sweep status {root}/<checkpoint>` says why; run the same command again "
                          f"to finish them")
    return paths


def across_seeds(name: str, per_seed: list) -> list[dict]:
    """The claims of ``name`` judged on the mean over training seeds (``per_seed``: one ``runs``
    dict each), with the 95 % t interval across seeds and how many seeds meet each alone."""
    import numpy as np
    from scipy import stats as st

    mean_runs = copy.deepcopy(per_seed[0])
    for run, r in mean_runs.items():
        for key, s in r["stats"].items():
            vals = [p[run]["stats"][key].get("value") for p in per_seed]
            vals = [v for v in vals if _finite(v)]
            s["value"] = float(np.mean(vals)) if vals else None
            s["sem"] = None
    rows = verdicts(name, mean_runs)
    singles = [verdicts(name, p) for p in per_seed]
    for i, row in enumerate(rows):
        vals = [s[i]["model"] for s in singles if s[i]["model"] is not None]
        n = len(vals)
        row["per_seed"] = [s[i]["model"] for s in singles]
        row["seeds"] = n
        row["seeds_reproduced"] = sum(s[i]["verdict"] == "reproduced" for s in singles)
        if n > 1:
            half = float(st.t.ppf(0.975, n - 1) * np.std(vals, ddof=1) / np.sqrt(n))
            row["ci95"] = [row["model"] - half, row["model"] + half]
        else:
            row["ci95"] = None
    return rows


def reproduce(out: str, names=None, seed: int = 0, scale: float = 1.0, overwrite: bool = False,
              progress: bool = True, log=None, seeds: int | None = None, executor: str = "local",
              workers: int | None = None, steps: int | None = None) -> dict:
    """Run the paper of every protocol in ``names`` (default: all that declare one) and write the
    report into the folder ``out``; returns the results. Without ``seeds``: on the shipped
    circuits, intervals over episodes. With ``seeds = N``: every circuit is trained N times (seeds
    0…N−1) with its shipped command through the sweep engine (``executor`` local or slurm;
    ``steps`` overrides the training budget, for a quick check), cached in ``out/training`` (a rerun
    reuses finished trainings), and the panels run on each; the model's value is the mean over
    seeds with its 95 % t interval, and each verdict says how many seeds meet it alone."""
    log = log or (lambda m: print(m, file=sys.stderr))
    available = reproducible()
    names = list(names or available)
    for n in names:
        protocols.describe(n)  # an unknown name: one line
        if n not in available:
            raise ConfigError(f"--protocols: {n!r} declares no reproduction (these do: {', '.join(available)})")
    if not 0 < scale <= 1:
        raise ConfigError(f"--scale: expected a fraction in (0, 1], got {scale}")
    if seeds is not None and seeds < 2:
        raise ConfigError(f"--seeds: expected at least 2 training seeds (an interval across them), got {seeds}")
    resuming = seeds is not None and os.path.isdir(os.path.join(out, "training"))
    if not resuming:
        check_figure_dir(out, overwrite)
    figdir = os.path.join(out, "figures")
    os.makedirs(figdir, exist_ok=True)
    from tqdm import tqdm

    t0 = time.perf_counter()
    trained = None
    if seeds is not None:
        trained = train_seeds(out, names, list(range(seeds)), executor=executor, workers=workers, steps=steps,
                              progress=progress, log=log if progress else None)
    results, rows = {}, []
    for n in tqdm(names, desc="reproduce", unit="protocol", disable=not progress, file=sys.stderr):
        t = time.perf_counter()
        if trained is None:
            res = run_protocol(n, seed=seed, scale=scale, figdir=figdir)
            claims = verdicts(n, res["runs"])
        else:
            per_seed = []
            for k in range(seeds):
                mapping = {ck: by_seed[k] for ck, by_seed in trained.items()}
                per_seed.append(run_protocol(n, seed=seed, scale=scale, figdir=figdir if k == 0 else None,
                                             checkpoints=mapping, tag="_seed0" if k == 0 else "")["runs"])
            res = {"runs": per_seed[0], "per_seed_runs": per_seed}
            claims = across_seeds(n, per_seed)
        res["claims_figure"] = [os.path.basename(p) for p in claims_figure(n, claims, figdir)]
        res["seconds"] = round(time.perf_counter() - t, 2)
        results[n] = res
        rows += claims
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("reproduced", "differs", "not computed")}
    doc = {"summary": counts, "claims": rows, "protocols": results, "seed": seed, "scale": scale,
           "mode": "quick (shipped circuits; intervals over episodes)" if seeds is None else
           f"{seeds} training seeds per circuit (trained here; intervals across seeds"
           + (f"; {steps} training steps each" if steps else "") + ")",
           "seeds": seeds,
           "seconds": round(time.perf_counter() - t0, 2),
           "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "provenance": provenance()}
    with atomic_write(os.path.join(out, "results.json"), overwrite=True) as tmp:
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1, default=str)
    _write_text(os.path.join(out, "report.md"), markdown(doc))
    _write_text(os.path.join(out, "report.html"), html_report(doc, figdir))
    doc["dir"] = out
    return doc


def _write_text(path: str, text: str) -> None:
    with atomic_write(path, overwrite=True) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def _num(v, digits=3) -> str:
    return "—" if v is None else f"{v:.{digits}g}"


def _model(r) -> str:
    if r["model"] is None:
        return "—"
    ci = f" [{_num(r['ci95'][0])}, {_num(r['ci95'][1])}]" if r["ci95"] else ""
    return _num(r["model"]) + ci


def _lab(r) -> str:
    return "—" if r["lab"] is None else _num(r["lab"]) + (f" {r['lab_unit']}" if r["lab_unit"] else "")


def _verdict(r) -> str:
    v = r["verdict"]
    extra = [f"{r['seeds_reproduced']}/{r['seeds']} seeds"] if r.get("seeds") else []
    if r["vs_paper"] is not None:
        extra.append(f"model − paper {r['vs_paper']:+.3g}")
    if r["vs_lab"] is not None:
        extra.append(f"model − animals {r['vs_lab']:+.3g}")
    if v == "not computed":
        extra = [r["why"]]
    return v + (f" ({'; '.join(extra)})" if extra else "")


def _header(doc) -> list[str]:
    c, p = doc["summary"], doc["provenance"]
    where = "the shipped circuits" if not doc.get("seeds") else f"{doc['seeds']} trained seeds per circuit"
    return [f"{len(doc['claims'])} statements of Wang et al. 2018 (Nat Neurosci 21:860) on {where}: "
            f"{c['reproduced']} reproduced, {c['differs']} differ, {c['not computed']} not computed.",
            f"Mode: {doc['mode']}; episode seed {doc['seed']}; {doc['seconds']:.0f} s; code {p['code_version']}; "
            f"created {doc['created']}. A verdict is the statement's criterion applied to the model's value; "
            "the paper's and the animals' values are shown beside it (the animals' in their own units where "
            "they are firing rates)."]


def markdown(doc) -> str:
    lines = ["# pfcda reproduce — Wang, Kurth-Nelson et al. 2018", "", *_header(doc), "",
             "| figure | statement | paper | animals | model [95 % CI] | criterion | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in doc["claims"]:
        lines.append(f"| [{r['figure']}](#{r['protocol']}) ({r['protocol']}) | {r['statement']} | {_num(r['paper'])} | "
                     f"{_lab(r)} | {_model(r)} | {r['criterion']} | {_verdict(r)} |")
    for name, res in doc["protocols"].items():
        lines += ["", f"## {name}", ""]
        spec = protocols.describe(name)
        lines.append(f"{spec.citation}. " + "; ".join(
            f"run `{k}`: {v['episodes']} episodes on `{v['checkpoint']}` (sha256 {v['checkpoint_sha256'][:12]}…"
            + (f", presets {', '.join(v['presets'])}" if v["presets"] else "")
            + (f", task {v['task']}" if v["task"] else "") + f"), {v['seconds']:.0f} s" for k, v in res["runs"].items()))
        for f in res["claims_figure"] + [f for v in res["runs"].values() for f in v["figures"]]:
            if f.endswith(".png"):
                lines += ["", f"![{f}](figures/{f})"]
    return "\n".join(lines) + "\n"


_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#f3f3f3}.reproduced{color:#1a7f37}.differs{color:#b35900;font-weight:600}
.not-computed{color:#888}img{max-width:100%;margin:.5em 0;border:1px solid #eee}h2{margin-top:2em}"""


def html_report(doc, figdir: str) -> str:
    e = html.escape
    rows = []
    for r in doc["claims"]:
        cls = r["verdict"].replace(" ", "-")
        rows.append(f"<tr><td><a href='#{e(r['protocol'])}'>{e(r['figure'])}</a><br><small>{e(r['protocol'])}</small></td>"
                    f"<td>{e(r['statement'])}</td><td>{_num(r['paper'])}</td><td>{e(_lab(r))}</td>"
                    f"<td>{e(_model(r))}</td><td>{e(r['criterion'])}</td><td class='{cls}'>{e(_verdict(r))}</td></tr>")
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>pfcda reproduce</title>",
             f"<style>{_CSS}</style></head><body><h1>pfcda reproduce — Wang, Kurth-Nelson et al. 2018</h1>",
             *[f"<p>{e(h)}</p>" for h in _header(doc)],
             "<table id='summary'><thead><tr><th>figure</th><th>statement</th><th>paper</th><th>animals</th>"
             "<th>model [95 % CI]</th><th>criterion</th><th>verdict</th></tr></thead><tbody>",
             *rows, "</tbody></table>"]
    for name, res in doc["protocols"].items():
        spec = protocols.describe(name)
        parts.append(f"<h2 id='{e(name)}'>{e(name)} — {e(spec.citation)}</h2><ul>")
        for k, v in res["runs"].items():
            parts.append(f"<li>run <code>{e(k)}</code>: {v['episodes']} episodes, seed {v['seed']}, "
                         f"<code>{e(v['checkpoint'])}</code> (sha256 {v['checkpoint_sha256'][:12]}…)"
                         + (f", presets {e(', '.join(v['presets']))}" if v["presets"] else "")
                         + (f", task {e(json.dumps(v['task']))}" if v["task"] else "") + f"; {v['seconds']:.0f} s</li>")
        parts.append("</ul>")
        for f in res["claims_figure"] + [f for v in res["runs"].values() for f in v["figures"]]:
            if f.endswith(".png"):
                with open(os.path.join(figdir, f), "rb") as fh:
                    data = base64.b64encode(fh.read()).decode()
                parts.append(f"<figure><img alt='{e(f)}' src='data:image/png;base64,{data}'>"
                             f"<figcaption><small>{e(f)}</small></figcaption></figure>")
    parts.append(f"<h2>Provenance</h2><pre>{e(json.dumps(doc['provenance'], indent=1))}</pre>")
    # after load, the page says whether every figure decoded (read by the browser test)
    parts.append("<script>window.addEventListener('load',()=>{document.body.dataset.figures="
                 "[...document.images].every(i=>i.complete&&i.naturalWidth>0)?'loaded':'broken';});</script>")
    parts.append("</body></html>")
    return "\n".join(parts)
