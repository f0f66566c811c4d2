"""Fig. 1 analyses of bandit recordings: regret against the reference agents on the same episodes,
and the units' last-trial state (PCA), Wang et al. 2018 Fig. 1d–f."""
from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from sklearn.decomposition import PCA

from ..plotting import subplots
from . import agents as ba
from .task import REFERENCE

#: Statistics of :func:`analyze` (the names of ``pfcda analyze --json``), with their meaning.
STATS = {
    "regret_at_last_trial": "cumulative regret at the episode's last trial, mean over episodes "
                            "(± sem): Fig. 1d",
    "regret_bayes_optimal": "the same for the Bayes-optimal agent (exact DP, independent prior; "
                            "greedy posterior mean, correlated prior) on the same arm probabilities",
    "regret_gittins": "the same for Gittins indices (γ = 0.99)",
    "regret_thompson": "the same for Thompson sampling, Beta(1, 1) priors",
    "regret_ucb1": "the same for UCB1 (c = √2)",
    "pc1_spearman_p_left": "Spearman ρ across episodes between the first principal component of "
                           "the units' activity at the last trial and p_left (Fig. 1e,f: states "
                           "ordered by p_L on a 1-D manifold); NaN where p_left does not vary",
    "pc1_variance_explained": "fraction of the unit-activity variance at the last trial on PC1",
}


def _probs_per_episode(trials: dict, action_names) -> np.ndarray:
    first = np.r_[True, np.diff(trials["episode"]) != 0]
    return np.stack([trials[f"p_{a}"][first] for a in action_names], 1).astype(float)


def regret_curve(trials: dict) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sem over episodes of the cumulative regret at each trial (episodes of equal
    length)."""
    episodes = np.unique(trials["episode"])
    reg = np.asarray(trials["regret"], dtype=float).reshape(len(episodes), -1).cumsum(1)
    return reg.mean(0), reg.std(0, ddof=1) / np.sqrt(len(episodes))


def last_trial_pca(hidden: np.ndarray, steps: dict, p_left: np.ndarray):
    """PCA (scikit-learn) of the units' activity on each episode's last step; returns
    (PC scores [episodes, 2], explained variance ratios, Spearman ρ of PC1 with p_left)."""
    last = np.r_[np.diff(steps["episode"]) != 0, True]
    pca = PCA(n_components=2).fit(hidden[last])
    scores = pca.transform(hidden[last])
    rho = float(spearmanr(scores[:, 0], p_left).statistic) if np.ptp(p_left) > 0 else float("nan")
    return scores, pca.explained_variance_ratio_, rho


def analyze(rec, seed: int = 0) -> dict:
    """Fig. 1 analyses of a bandit recording: regret against the reference agents, unit PCA."""
    trials, names = rec.trials, rec.attrs["action_names"]
    task = rec.attrs.get("task", {})
    mean, sem = regret_curve(trials)
    stats = {"regret_at_last_trial": {"value": float(mean[-1]), "sem": float(sem[-1])}}
    probs = _probs_per_episode(trials, names)
    T = len(mean)
    for agent in ("bayes_optimal", "gittins", "thompson", "ucb1"):
        if agent == "bayes_optimal" and probs.shape[1] != 2:
            continue
        r = ba.run_agent(agent, probs, T, seed=seed, variant=task.get("variant", "independent"))
        stats[f"regret_{agent}"] = {"value": float(r.mean()), "sem": float(r.std(ddof=1) / np.sqrt(len(r)))}
    if "hidden" in rec.units and probs.shape[1] == 2:
        _, explained, rho = last_trial_pca(rec.units["hidden"], rec.steps, probs[:, 0])
        stats["pc1_spearman_p_left"] = {"value": rho, "sem": None}
        stats["pc1_variance_explained"] = {"value": float(explained[0]), "sem": None}
    fixed = task.get("probs")
    reference = {}
    if fixed is not None and sorted(np.round(fixed, 2)) == [0.25, 0.75]:
        key = "meta_rl_" + task.get("variant", "independent")
        reference["regret_at_last_trial"] = {"paper": REFERENCE[f"fig1d_regret_{key}"]["paper"],
                                             "lab": None, "source": "Wang et al. 2018 Fig. 1d "
                                             "(read off the figure, ±0.05)"}
        for agent, ref in (("gittins", "gittins"), ("thompson", "thompson"), ("ucb1", "ucb")):
            reference[f"regret_{agent}"] = {"paper": REFERENCE[f"fig1d_regret_{ref}"]["paper"],
                                            "lab": None, "source": "Wang et al. 2018 Fig. 1d"}
    return {"protocol": "bandit", "stats": stats, "reference": reference,
            "curves": {"regret_mean": mean.tolist(), "regret_sem": sem.tolist()}}


def figures(rec, result: dict, **_) -> dict:
    """Fig. 1d-like cumulative-regret curve and Fig. 1e,f-like PCA of unit activity."""
    mean = np.array(result["curves"]["regret_mean"])
    sem = np.array(result["curves"]["regret_sem"])
    t = np.arange(1, len(mean) + 1)
    fig, ax = subplots(figsize=(4, 3.2))
    ax.plot(t, mean, color="k", label="circuit (frozen)")
    ax.fill_between(t, mean - 1.96 * sem, mean + 1.96 * sem, color="k", alpha=0.2, lw=0)
    colors = {"bayes_optimal": "tab:green", "gittins": "tab:blue", "thompson": "tab:orange",
              "ucb1": "tab:red"}
    for agent, c in colors.items():
        s = result["stats"].get(f"regret_{agent}")
        if s:
            ax.plot([len(mean)], [s["value"]], "o", color=c, label=f"{agent} (trial {len(mean)})")
    ax.set_xlabel("trial")
    ax.set_ylabel("cumulative regret")
    ax.legend(frameon=False, fontsize=7)
    figs = {"bandit_regret": fig}
    if "hidden" in rec.units:
        probs = _probs_per_episode(rec.trials, rec.attrs["action_names"])
        if probs.shape[1] == 2 and np.ptp(probs[:, 0]) > 0:
            scores, explained, rho = last_trial_pca(rec.units["hidden"], rec.steps, probs[:, 0])
            fig, ax = subplots(figsize=(4, 3.2))
            sc = ax.scatter(scores[:, 0], scores[:, 1], c=probs[:, 0], cmap="viridis", s=6)
            fig.colorbar(sc, ax=ax, label="p_left")
            ax.set_xlabel(f"PC1 ({explained[0]:.0%})")
            ax.set_ylabel(f"PC2 ({explained[1]:.0%})")
            ax.set_title(f"units at the last trial; Spearman ρ(PC1, p_L) = {rho:.2f}", fontsize=8)
            figs["bandit_pca"] = fig
    return figs
