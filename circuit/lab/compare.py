"""Circuit vs lab: the protocol's statistics (``ProtocolSpec.lab.stats``) on a recording and on
lab data, side by side, with bootstrap confidence intervals (resampling episodes of the circuit
and sessions of the lab).

``pfcda compare twostep --model run.h5 --lab rats`` (stay probabilities, Miller GLM);
``pfcda compare matching --model run.h5 --lab mice`` (choice-history kernel, Bari/Lau &
Glimcher style).
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from pfcda import protocols
from pfcda.errors import ConfigError
from pfcda.protocols.plotting import subplots
from pfcda.protocols.reliability import captured, few_resamples, few_units

from ..io.figures import check_figure_dir, save_figures


def comparable() -> list[str]:
    """The protocols with lab statistics (``pfcda compare`` takes them)."""
    return [n for n in protocols.names() if protocols.describe(n).lab is not None
            and protocols.describe(n).lab.raw("stats") is not None]


def _resample(tr: dict, rng, order: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> dict:
    """A bootstrap sample of whole episodes (sessions), renumbered (vectorised: the rows of the
    sorted table, ``starts``/``counts`` per episode)."""
    pick = rng.integers(len(counts), size=len(counts))
    n = counts[pick]
    offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    idx = order[np.repeat(starts[pick], n) + offsets]
    out = {k: np.asarray(v)[idx] for k, v in tr.items() if not k.startswith("_")}
    out["episode"] = np.repeat(np.arange(len(pick)), n)
    return out


def with_ci(tr: dict, fn, n_boot: int = 100, seed: int = 0, level: float = 0.95,
            what: str = "") -> tuple[dict, list]:
    """``fn(tr)`` and percentile bootstrap intervals over episodes (sessions): ({stat: {value, ci,
    n_boot_ok}}, warnings). A resample where a statistic cannot be fitted (e.g. a separated
    regression) counts for none of it; the library warnings of the fits are summarised."""
    rng = np.random.default_rng(seed)
    ep = np.asarray(tr["episode"])
    order = np.argsort(ep, kind="stable")
    _, starts, counts = np.unique(ep[order], return_index=True, return_counts=True)
    notes = few_units(len(counts), f"{what} ({len(counts)} episodes/sessions)")
    with captured(notes, f"{what}: the statistics' fit"):
        point = fn(tr)
    boots = {k: [] for k in point}
    failed = Counter()
    with captured(notes, f"{what}: the bootstrap resamples' fits"):
        for _ in range(n_boot):
            try:
                s = fn(_resample(tr, rng, order, starts, counts))
            except (ValueError, np.linalg.LinAlgError, FloatingPointError) as e:  # a degenerate resample
                failed[type(e).__name__] += 1
                continue
            for k in boots:
                boots[k].append(s.get(k, np.nan))
    if failed:
        notes.append(f"{what}: {sum(failed.values())} of {n_boot} resamples could not be fitted "
                     f"({', '.join(f'{k} {v}' for k, v in failed.items())}); their CIs rest on the rest")
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    out = {}
    for k in point:
        b = np.asarray(boots[k], float)
        b = b[np.isfinite(b)]
        out[k] = {"value": float(point[k]),
                  "ci": [float(np.percentile(b, lo)), float(np.percentile(b, hi))] if len(b) else [None, None],
                  "n_boot_ok": int(len(b))}
    return out, notes


def compare(protocol: str, model_trials: dict, lab_trials: dict, n_boot: int = 100,
            seed: int = 0) -> dict:
    """The protocol's lab statistics on the circuit's trials (in the lab's coding) and on the
    lab's, each with percentile bootstrap CIs over episodes / sessions, and the reliability
    warnings of both (``"warnings"``)."""
    if protocol not in comparable():
        raise ConfigError(f"protocol: compare supports {comparable()}, got {protocol!r}")
    lab_spec = protocols.get(protocol).lab
    fn = lab_spec.stats
    if lab_spec.to_lab_frame is not None:
        model_trials = lab_spec.to_lab_frame(model_trials)
    lab = {k: v for k, v in lab_trials.items() if not k.startswith("_")}
    model_stats, model_notes = with_ci(model_trials, fn, n_boot, seed, what="circuit")
    lab_stats, lab_notes = with_ci(lab, fn, n_boot, seed + 1, what="lab")
    if not set(model_stats) & set(lab_stats):
        raise ConfigError(f"compare {protocol}: the recording and the lab data share no statistic (circuit: "
                          f"{sorted(model_stats)}; lab: {sorted(lab_stats)}) — e.g. a run of cue trials "
                          "beside the lab's unpredicted rewards: run the matching task (--task mode=random)")
    return {"protocol": protocol, "n_boot": n_boot, "model": model_stats, "lab": lab_stats,
            "warnings": few_resamples(n_boot) + model_notes + lab_notes,
            "lab_excluded": lab_trials.get("_excluded", {}),
            "n_episodes": {"model": int(len(np.unique(model_trials["episode"]))),
                           "lab": int(len(np.unique(lab["episode"])))}}


def compare_recording(protocol: str, model: str, lab: str, mapping=None, n_boot: int = 100,
                      seed: int = 0, score: str | None = None, figures: str | None = None,
                      overwrite: bool = False) -> dict:
    """``pfcda compare``: the protocol's lab statistics on the recording ``model`` and on the lab
    data ``lab`` (bundled name or file, through ``mapping`` where given), side by side with
    bootstrap CIs; with ``score`` (a checkpoint) also that circuit scored trial by trial on the
    lab's choices beside the protocol's classic models on held-out sessions, and the classic
    models fitted to the recording's own choices."""
    from pfcda.protocols import labdata

    from ..io.checkpoint import load_checkpoint
    from ..io.recording import read_recording
    from .scoring import classic_fit, model_comparison

    if protocol not in comparable():
        raise ConfigError(f"protocol: compare supports {comparable()}, got {protocol!r}")
    if figures:
        check_figure_dir(figures, overwrite)
    rec = read_recording(model)
    if rec.attrs.get("protocol") != protocol:
        raise ConfigError(f"--model: {model} records protocol {rec.attrs.get('protocol')!r}, "
                          f"not {protocol!r}")
    lab_spec = protocols.get(protocol).lab
    if lab_spec.load is not None:  # the protocol's own lab data (e.g. photometry)
        if mapping is not None:
            raise ConfigError(f"--mapping: protocol {protocol} reads its lab data in one layout (no mapping)")
        table = lab_spec.load(lab)
    else:
        table = labdata.load(lab, protocol, mapping=mapping)
    model_table = lab_spec.from_recording(rec) if lab_spec.from_recording is not None else dict(rec.trials)
    res = compare(protocol, model_table, table, n_boot=n_boot, seed=seed)
    res["model_path"], res["lab_source"] = model, lab
    if score:
        scorer = load_checkpoint(score)[0]
        if scorer.config.protocol != protocol:
            raise ConfigError(f"--score: {score} is a {scorer.config.protocol!r} circuit, not {protocol!r}")
        res["model_comparison"] = model_comparison(scorer, table, seed=seed)
        own = dict(rec.trials)
        to_lab = protocols.get(protocol).lab.to_lab_frame
        res["model_comparison"]["circuit_own_choices"] = classic_fit(
            protocol, to_lab(own) if to_lab is not None else own, seed=seed,
            task_options=rec.attrs.get("task") or {})
    if figures:
        res["_tables"] = (model_table, table)  # for the protocol's overlay figure
        try:
            res["figures"] = save_figures(figure(res), figures, overwrite=overwrite)
        finally:
            del res["_tables"]
    return res


def figure(result: dict) -> dict:
    """Circuit and animals overlaid (name → figure): the protocol's own (``LabSpec.figure``; the
    result holds ``_tables``, the model's and the lab's compared tables) where it has one, else every statistic as a point with its CI, circuit beside lab."""
    lab_spec = protocols.get(result["protocol"]).lab
    if lab_spec is not None and lab_spec.figure is not None:
        return lab_spec.figure(result)
    keys = list(result["model"])
    fig, ax = subplots(figsize=(max(4, 0.6 * len(keys)), 3.2))
    x = np.arange(len(keys))
    for j, (who, col) in enumerate((("model", "k"), ("lab", "tab:orange"))):
        v = np.array([result[who][k]["value"] for k in keys], dtype=float)
        ci = np.array([result[who][k]["ci"] for k in keys], dtype=float)
        ax.errorbar(x + 0.15 * (2 * j - 1), v, yerr=[v - ci[:, 0], ci[:, 1] - v], fmt="o", color=col,
                    label="circuit" if who == "model" else "lab", capsize=2)
    ax.set_xticks(x, keys, rotation=60, fontsize=6)
    ax.legend(frameon=False, fontsize=7)
    return {f"compare_{result['protocol']}": fig}
