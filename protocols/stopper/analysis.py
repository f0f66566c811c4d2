"""Sim 6 analyses (Wang et al. 2018 Fig. 7; Stopper et al. 2014): risky choice by reward
probability and condition, and DA responses to the lever outcomes from rendered spikes."""
from __future__ import annotations

import numpy as np

from pfcda.dopamine.spiking import condition_responses
from pfcda.errors import RecordingError

from ..plotting import subplots
from .task import P_RISKY, PRESETS, REFERENCE

CONDITIONS = tuple(PRESETS)


STATS = {f"risky_p{p}_{c}": f"fraction of free choices on the risky lever when p = {p}, "
                            f"condition {c} (± sem over episodes)"
         for c in CONDITIONS for p in P_RISKY}
STATS["risky_p0.5"] = "fraction of free choices on the risky lever when p = 0.5, this recording"
STATS["risky_p0.125"] = "… when p = 0.125, this recording"
STATS["error_rate"] = "fraction of choice steps with an invalid response"


def risky_fraction(tr: dict) -> dict:
    """Per p: fraction of free, valid choices on the risky lever (mean and sem over episodes).
    Works on a lab's trials table with ``episode``, ``forced``, ``risky_chosen``, ``p_risky``."""
    ep = np.asarray(tr["episode"])
    free = ~np.asarray(tr["forced"], bool)
    ok = free & (np.asarray(tr.get("error", np.zeros(len(ep), bool)), bool) == 0)
    out = {}
    for p in P_RISKY:
        m = ok & np.isclose(np.asarray(tr["p_risky"]), p)
        if not m.any():
            continue
        eps, idx = np.unique(ep[m], return_inverse=True)
        per = np.bincount(idx, weights=np.asarray(tr["risky_chosen"])[m].astype(float)) / np.bincount(idx)
        out[p] = (float(per.mean()), float(per.std(ddof=1) / np.sqrt(len(per))) if len(per) > 1 else None)
    return out


def analyze(rec, seed: int = 0) -> dict:
    """Risky choice by p in this recording (its manipulations, if any, are in the recording)."""
    stats = {}
    for p, (m, s) in risky_fraction(rec.trials).items():
        stats[f"risky_p{p}"] = {"value": m, "sem": s}
    stats["error_rate"] = {"value": float(np.asarray(rec.trials["error"]).mean()), "sem": None}
    return {"protocol": "stopper", "stats": stats, "reference": {},
            "manipulations": [m.get("name", "") for m in rec.manipulations]}


def conditions_table(recordings: dict) -> dict:
    """The paper's Sim 6 table from one recording per condition (``circuit.run.run_conditions``
    with :data:`PRESETS`): ``{"protocol", "stats": {risky_p{p}_{condition}: {value, sem}},
    "reference"}``."""
    stats = {}
    for cond, rec in recordings.items():
        for p, (m, s) in risky_fraction(rec.trials).items():
            stats[f"risky_p{p}_{cond}"] = {"value": m, "sem": s}
    return {"protocol": "stopper", "stats": stats, "reference": dict(REFERENCE)}


def figures(rec, result: dict, **_) -> dict:
    """Fig. 7b-like bars: % risky choice by p for this recording, or by condition for the
    result of :func:`conditions_table`."""
    st = result["stats"]
    conds = [c for c in CONDITIONS if f"risky_p0.5_{c}" in st] or [""]
    fig, ax = subplots(figsize=(1.6 + 1.2 * len(conds), 3.2))
    for i, c in enumerate(conds):
        for j, (p, col) in enumerate(((0.5, "tab:green"), (0.125, "tab:purple"))):
            key = f"risky_p{p}_{c}" if c else f"risky_p{p}"
            if key in st:
                ax.bar(i + 0.38 * j, 100 * st[key]["value"], 0.36, yerr=100 * (st[key]["sem"] or 0),
                       color=col, label=f"p = {p}" if i == 0 else None)
    ax.set_xticks(np.arange(len(conds)) + 0.19, [c.replace("_", "\n") or "this run" for c in conds], fontsize=7)
    ax.set_ylabel("% risky choice (free trials)")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False, fontsize=7)
    return {"stopper": fig}

# ------------------------------------------------------------------------------ DA spikes
SPIKE_STATS = {f"da_rate_{c}": f"DA population rate (spikes/s per neuron) in the pulse window of "
                               f"the outcome δ after a {c.replace('_', ' ')} press"
               for c in ("risky_rewarded", "risky_unrewarded", "safe_rewarded")}
SPIKE_STATS["da_baseline"] = "DA rate in the 300–50 ms before the outcome pulse (spikes/s)"


def spike_analyses(rec, spikes, window_s=(-0.3, 0.5), bin_s: float = 0.025) -> dict:
    """DA responses to the lever outcomes from rendered spikes (``pfcda spikes``): PSTHs aligned
    on the outcome δ's pulse (the choice step's δ is emitted at the start of the next step) by
    outcome — risky rewarded, risky unrewarded, safe — with the light-stimulated outcomes apart
    when the recording has light on the DA neurons (closed loop). Stopper et al. 2014 recorded
    no DA firing (they stimulated), so there is no lab reference."""
    p = spikes.da_params
    if not spikes.has_da:
        raise RecordingError("spikes: no DA population in this spikes file (render with --population "
                             "da or both)")
    st = rec.steps
    cho = np.flatnonzero(st["phase"] == 1)
    same_ep = np.r_[st["episode"][1:] == st["episode"][:-1], False]
    # the next step's pulse (the step after an episode's last one is the first gap step)
    onset = spikes.step_start_s[cho] + (p.step_ms + p.pulse_onset_ms) / 1000.0
    tr = rec.trials
    nxt = np.minimum(cho + 1, len(st["phase"]) - 1)
    lit = rec.light_active()[nxt] & same_ep[cho]  # the next step's pulse carries the outcome
    ok = ~np.asarray(tr["error"], bool)
    conds = {"risky_rewarded": tr["risky_chosen"] & (tr["reward"] > 0),
             "risky_unrewarded": tr["risky_chosen"] & (tr["reward"] == 0),
             "safe_rewarded": np.asarray(tr["reward"] > 0) & ~np.asarray(tr["risky_chosen"], bool)}
    by = {f"{c}{suffix}": mask & sel for c, mask in conds.items() for suffix, sel in (("", ~lit), ("_lit", lit))}
    stats, curves = condition_responses(spikes.da_spike_times_s, onset, by, p.n_neurons,
                                        p.pulse_ms / 1000.0, window_s, bin_s, valid=ok)
    return {"stats": stats, "psth": curves, "reference": {}}
