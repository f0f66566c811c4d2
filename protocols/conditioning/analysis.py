"""Analyses of a conditioning recording: the circuit's RPEs made into simulated photometry
(:mod:`pfcda.dopamine.photometry`) and measured with the same statistics as the recorded
dopamine (:func:`.lab.stats`), plus the within-episode learning of the cue response.
"""
from __future__ import annotations

import numpy as np

from pfcda.errors import ConfigError

from . import lab

STATS = {
    **lab.STATS,
    "cs_plus_rpe_late": "the circuit's δ at CS+ onset (reward units), second half of the episode's trials",
    "cs_minus_rpe_late": "the same, CS−",
    "cs_plus_rpe_first": "δ at CS+ onset on the episode's first CS+ trial (nothing learnt yet)",
    "learning_rise": "late CS+ δ minus the first CS+ trial's: the within-episode learning of the "
                     "contingency with weights frozen (the mice's learning across sessions)",
}

PRE_S, POST_S = 2.0, 3.0  #: seconds before and after the event in a window (125 samples)


def _dt(rec) -> float:
    dt = (rec.attrs.get("task") or {}).get("dt")
    if not dt:
        raise ConfigError(f"{rec.path or 'recording'}: not a conditioning recording (no task dt)")
    return float(dt)


def cue_rpe(rec) -> np.ndarray:
    """δ emitted at each trial's event (cue onset; random mode: the reward): δ of the step
    before it."""
    tr = rec.trials
    row = _step_rows(rec.steps, np.asarray(tr["episode"]), np.asarray(tr["onset_step"]) - 1)
    return np.where(row >= 0, np.asarray(rec.steps["delta"])[np.maximum(row, 0)], np.nan)


def _step_rows(st: dict, episode: np.ndarray, step: np.ndarray) -> np.ndarray:
    """The row in ``steps/`` of each (episode, step), −1 where there is none."""
    ep_s, step_s = np.asarray(st["episode"]).astype(np.int64), np.asarray(st["step"]).astype(np.int64)
    width = int(step_s.max()) + 2
    key = ep_s * width + step_s
    order = np.argsort(key, kind="stable")
    want = np.asarray(episode).astype(np.int64) * width + np.asarray(step)
    pos = np.clip(np.searchsorted(key[order], want), 0, len(order) - 1)
    return np.where(key[order][pos] == want, order[pos], -1)


def photometry_table(rec, kernel=None, spikes=None) -> dict:
    """The recording as a photometry table in the recorded data's layout (:mod:`.lab`): for each
    trial (cue trials, and the random mode's rewards) its simulated ΔF/F window at 25 Hz, 2 s
    before and 3 s after the event (cue onset; a reward's RPE — the recorded reward file is
    aligned to the first lick instead), 125 samples, from the RPE route (``kernel``: the
    default :class:`~pfcda.dopamine.photometry.Kernel`), or with ``spikes`` (a rendering of
    this recording, ``pfcda spikes``) from the spiking DA population's concentration."""
    from pfcda.dopamine import photometry

    dt = _dt(rec)
    st, tr = rec.steps, rec.trials
    ep = np.asarray(tr["episode"])
    kind, cs = np.asarray(tr["kind"]).astype(np.int8), np.asarray(tr["cs"]).astype(np.int8)
    if spikes is None and kernel is None and "photometry" in tr:  # recorded by the run
        win = np.asarray(tr["photometry"], float)
    elif spikes is None:
        trace = photometry.from_rpe(st["delta"], st["episode"], st["step"], dt, kernel)
        eps = np.unique(np.asarray(st["episode"]))
        win = photometry.aligned(trace, np.searchsorted(eps, ep), np.asarray(tr["onset_step"]) * dt, PRE_S, POST_S)
    else:  # the spiking route: the rendered population's concentration, on the spikes file's time base
        if "da/concentration_10ms" not in spikes:
            raise ConfigError("spikes: no DA population in this spikes file (render it with --population da or both)")
        step_ms = spikes.da_params.step_ms
        if abs(step_ms / 1000.0 - dt) > 1e-9:
            raise ConfigError(f"spikes: rendered with {step_ms:g}-ms steps, the task's dt is {dt:g} s")
        trace = photometry.from_concentration(spikes["da/concentration_10ms"], 0.01, kernel)
        row = _step_rows(st, ep, np.asarray(tr["onset_step"]))
        start = np.asarray(spikes.step_start_s)
        onset_s = np.where(row >= 0, start[np.maximum(row, 0)], np.nan)
        # a reward's RPE (random mode) is emitted at the start of the step after it: that step
        # is recorded unless the reward ended the episode (then its start is the gap's, 1 step on)
        last = row < 0
        onset_s[last] = start[_step_rows(st, ep[last], np.asarray(tr["onset_step"])[last] - 1)] + dt
        win = photometry.aligned(trace[None, :], np.zeros(len(ep), np.int64), onset_s, PRE_S, POST_S)
    # the data's `trial`: a CS+ trial's rank in its session (1-based), NaN otherwise
    plus = (kind == 0) & (cs == 0)
    _, first, counts = np.unique(ep[plus], return_index=True, return_counts=True)
    trial = np.full(len(ep), np.nan)
    trial[plus] = np.arange(plus.sum()) - np.repeat(first, counts) + 1
    keep = np.isfinite(win).all(1)
    out = {"episode": ep, "subject": ep.astype(str), "session": np.ones(len(ep), np.int32), "trial": trial,
           "kind": kind, "cs": cs, "cue_s": np.where(kind == 0, np.asarray(tr["cue_s"], float), np.nan),
           "iri_s": np.asarray(tr["iri_s"], float), "trace": win}
    return {k: v[keep] for k, v in out.items()}


def analyze(rec, seed: int = 0) -> dict:
    table = photometry_table(rec)
    stats = {k: {"value": v, "sem": None} for k, v in lab.stats(table).items()}
    tr = rec.trials
    kind = np.asarray(tr["kind"])
    if (kind == 0).any():
        d = cue_rpe(rec)
        cs, ep = np.asarray(tr["cs"]), np.asarray(tr["episode"])
        trial = np.asarray(tr["trial"])
        late = trial >= np.median(trial[kind == 0])
        for name, code in (("plus", 0), ("minus", 1)):
            x = d[(kind == 0) & (cs == code) & late]
            stats[f"cs_{name}_rpe_late"] = {"value": float(np.nanmean(x)),
                                            "sem": float(np.nanstd(x, ddof=1) / np.sqrt(np.isfinite(x).sum()))}
        plus = (kind == 0) & (cs == 0)
        _, first = np.unique(ep[plus], return_index=True)
        x = d[np.flatnonzero(plus)[first]]
        stats["cs_plus_rpe_first"] = {"value": float(np.nanmean(x)),
                                      "sem": float(np.nanstd(x, ddof=1) / np.sqrt(np.isfinite(x).sum()))}
        stats["learning_rise"] = {"value": stats["cs_plus_rpe_late"]["value"] - stats["cs_plus_rpe_first"]["value"],
                                  "sem": None}
    return {"protocol": "conditioning", "stats": stats, "reference": {}}


SPIKE_STATS = {f"spiking_{k}": f"{v} — from the spiking DA population (photometry of its "
                                 "concentration at the target)" for k, v in lab.STATS.items()}


def spike_analyses(rec, spikes) -> dict:
    """The photometry statistics on the spiking route (``pfcda analyze run.h5 --spikes S.h5``)."""
    st = lab.stats(photometry_table(rec, spikes=spikes))
    return {"stats": {f"spiking_{k}": {"value": v, "sem": None} for k, v in st.items()}, "reference": {}}


def _mean_sem(x: np.ndarray, episode: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean trace and its sem across episodes (animals / sessions): each episode's mean first."""
    _, per = lab._group_means(x, episode)
    sem = per.std(0, ddof=1) / np.sqrt(len(per)) if len(per) > 1 else np.zeros(per.shape[1])
    return per.mean(0), sem


def figures(rec, result: dict, **_) -> dict:
    """The simulated photometry: CS+ and CS− (or reward) mean ± sem across episodes."""
    from pfcda.protocols.plotting import subplots

    t = photometry_table(rec)
    fig, ax = subplots(1, 1, figsize=(4.5, 3.2))
    _traces(ax, t, "circuit (simulated)")
    return {"conditioning_photometry": fig}


def _traces(ax, t: dict, label: str, scale: float = 1.0, style: str = "-") -> None:
    time = (np.arange(t["trace"].shape[1]) - lab.EVENT) / lab.RATE_HZ
    tr = lab.baselined(t["trace"]) * scale
    groups = [("CS+", (t["kind"] == 0) & (t["cs"] == 0), "tab:red"), ("CS−", (t["kind"] == 0) & (t["cs"] == 1), "tab:blue"),
              ("reward", t["kind"] == 1, "tab:green")]
    for name, rows, col in groups:
        if rows.sum() < 2:
            continue
        m, s = _mean_sem(tr[rows], t["episode"][rows])
        ax.plot(time, m, style, color=col, label=f"{label} {name}")
        ax.fill_between(time, m - s, m + s, color=col, alpha=0.2, lw=0)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set(xlabel="time from event (s)", ylabel="ΔF/F (baseline-subtracted)")
    ax.legend(fontsize=7, frameon=False)


def compare_figure(result: dict) -> dict:
    """Recorded and simulated traces overlaid (mean ± sem across animals / episodes), the
    simulated scaled by the one gain that matches their mean responses (stated in the title)."""
    from pfcda.protocols.plotting import subplots

    model_table, lab_table = result["_tables"]
    kind = 1 if (np.asarray(lab_table["kind"]) == 1).all() else 0
    key = "reward_response" if kind else "cs_plus_response"
    a, b = result["model"].get(key, {}).get("value"), result["lab"].get(key, {}).get("value")
    gain = (b / a) if a and b else 1.0
    fig, ax = subplots(1, 1, figsize=(5, 3.4))
    _traces(ax, lab_table, "recorded")
    _traces(ax, model_table, "circuit", scale=gain, style="--")
    ax.set_title(f"simulated × {gain:.3g} (matches the mean {key.replace('_', ' ')})", fontsize=8)
    return {"conditioning_compare": fig}
