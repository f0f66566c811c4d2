"""Harlow learning-set analyses: accuracy by trial and the learning-set curve at training quantiles
(Wang et al. 2018 Fig. 6; Harlow 1949)."""
from __future__ import annotations

import matplotlib
import numpy as np

from ..plotting import subplots
from .task import HARLOW_1949_TRIAL2, PAPER_QUANTILES_TRIAL2, REFERENCE

STATS = {
    **{f"acc_trial{k}": f"fraction of trial-{k} choices of the rewarded object (± sem over "
                        f"episodes; held-out objects when run with pool='test')" for k in range(1, 7)},
    "error_rate": "fraction of choice steps with no choice (fixate)",
    "fixation_rate": "fraction of fixation steps where the circuit fixated",
}


def accuracy_by_trial(tr: dict) -> dict:
    """Per trial number: mean accuracy and sem over episodes (works on a lab's table with
    ``episode``, ``trial``, ``correct``)."""
    ep, trial, correct = (np.asarray(tr[k]) for k in ("episode", "trial", "correct"))
    out = {}
    for k in np.unique(trial):
        c = correct[trial == k].astype(float)
        out[int(k)] = (float(c.mean()), float(c.std(ddof=1) / np.sqrt(len(c))) if len(c) > 1 else None)
    return out


def learning_set_curve(history: list, quantiles: int = 6, episodes: int = 1000) -> dict:
    """The paper's Fig. 6c from a checkpoint's training history (evaluations of ``episodes``
    episodes each, with ``acc_trial{k}``): two change points — the first evaluation whose
    trial-2 accuracy is above chance by two binomial standard errors (0.5 + 1/√episodes) and
    the first within 0.05 of the final value — and ``quantiles`` evaluations evenly spaced
    between them, plus the final one. Returns ``{"steps": [...], "acc": [[trial-1..trial-k
    accuracies], ...]}``."""
    evals = [h for h in history if "acc_trial2" in h]
    if not evals:
        raise ValueError("history: no evaluations with acc_trial2 (train with eval_every > 0)")
    acc2 = np.array([h["acc_trial2"] for h in evals])
    above = np.flatnonzero(acc2 > 0.5 + 1.0 / np.sqrt(episodes))
    start = int(above[0]) if len(above) else 0
    near = np.flatnonzero(acc2 >= acc2[-1] - 0.05)
    stop = int(near[near >= start][0]) if len(near[near >= start]) else len(evals) - 1
    idx = np.unique(np.r_[np.round(np.linspace(start, stop, quantiles)).astype(int), len(evals) - 1]).tolist()
    k = max(int(key[9:]) for key in evals[0] if key.startswith("acc_trial"))
    return {"steps": [evals[i]["steps"] for i in idx],
            "acc": [[evals[i][f"acc_trial{j}"] for j in range(1, k + 1)] for i in idx]}


def analyze(rec, seed: int = 0) -> dict:
    tr = rec.trials
    stats = {}
    for k, (m, s) in accuracy_by_trial(tr).items():
        stats[f"acc_trial{k + 1}"] = {"value": m, "sem": s}
    stats["error_rate"] = {"value": float((np.asarray(tr["choice"]) < 0).mean()), "sem": None}
    stats["fixation_rate"] = {"value": float(np.asarray(tr["fixated"]).mean()), "sem": None}
    ref = {k: v for k, v in REFERENCE.items() if k in stats}
    return {"protocol": "harlow", "stats": stats, "reference": ref}


def figures(rec, result: dict, history: list | None = None, eval_episodes: int = 1000, **_) -> dict:
    """Accuracy by trial (Fig. 6c's final curve) and, with the checkpoint's training ``history``
    (its periodic evaluations of ``eval_episodes`` episodes, passed in by the caller), the
    learning-set curve at training quantiles beside Harlow's monkeys (Fig. 6b)."""
    episodes = eval_episodes

    st = result["stats"]
    trials = sorted(int(k[9:]) for k in st if k.startswith("acc_trial"))
    curve = None
    if history and any("acc_trial2" in h for h in history):
        curve = learning_set_curve(history, episodes=episodes)
    fig, axes = subplots(1, 3 if curve else 2, figsize=(12 if curve else 8, 3.2))
    ax = axes[0]
    if curve:
        cmap = matplotlib.colormaps["viridis"]
        for i, acc in enumerate(curve["acc"]):
            ax.plot(range(1, len(acc) + 1), np.array(acc) * 100, "o-", ms=3,
                    color=cmap(i / max(1, len(curve["acc"]) - 1)))
    ax.plot(trials, [st[f"acc_trial{k}"]["value"] * 100 for k in trials], "ko-", label="final (held-out)")
    ax.set_xlabel("trial")
    ax.set_ylabel("% correct")
    ax.set_ylim(30, 102)
    ax.legend(frameon=False, fontsize=7)
    ax = axes[1]
    blocks = list(HARLOW_1949_TRIAL2)
    ax.plot(range(len(blocks)), list(HARLOW_1949_TRIAL2.values()), "o-", color="tab:brown")
    ax.set_xticks(range(len(blocks)), blocks, rotation=45, fontsize=6)
    ax.set_xlabel("problems (Harlow 1949)")
    ax.set_ylabel("trial 2 % correct")
    ax.set_ylim(30, 102)
    if curve:
        ax = axes[2]
        t2 = [a[1] * 100 for a in curve["acc"]]
        ax.plot(range(len(t2)), t2, "o-", color="k", label="circuit (held-out objects)")
        ax.plot(np.linspace(0, len(t2) - 1, len(PAPER_QUANTILES_TRIAL2)), PAPER_QUANTILES_TRIAL2, "s--", color="grey",
                label="Wang et al. 2018 model")
        ax.set_xticks(range(len(t2)), [f"q{i + 1}" for i in range(len(t2) - 1)] + ["final"])
        ax.set_xlabel("training quantile")
        ax.set_ylabel("trial 2 % correct")
        ax.set_ylim(30, 102)
        ax.legend(frameon=False, fontsize=7)
    return {"harlow": fig}
