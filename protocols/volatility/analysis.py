"""Sim 2 analyses (Wang et al. 2018 Fig. 3; Behrens et al. 2007): the Bayesian observer of the
training model, sliding-window learning rates by block, and volatility in the units."""
from __future__ import annotations

import math

import numpy as np
import statsmodels.api as sm
from scipy.optimize import minimize
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GroupKFold, cross_val_predict

from ..plotting import subplots
from ..reliability import nan
from .task import BLOCK_NAMES, LEVEL, REFERENCE, V_HIGH


def bayes_observer(correct: np.ndarray, n_k: int = 11) -> dict:
    """Exact inference under the training generative model (a discretised posterior over the
    latent side s, volatility v ∈ {0, 0.2} and k on a grid of log k in [−4.5, −3.5]).

    correct: [episodes, trials], 0 when option a was correct. Returns ``volatility`` (E[v_t]
    before seeing trial t's outcome), ``p_a`` (predicted P(a correct) on trial t) [E, T].
    """
    E, T = correct.shape
    ks = np.exp(np.linspace(-4.5, -3.5, n_k))
    # state index: (k, v, s) → belief [E, n_k, 2, 2]; s = 1 means a is the likely side
    belief = np.full((E, n_k, 2, 2), 1.0 / (n_k * 4))
    level = np.array([LEVEL[0], LEVEL[1]])[None, None, :, None]  # by v
    p_a_given = np.where(np.array([0, 1])[None, None, None, :] == 1, level, 1 - level)
    vol, pa = np.zeros((E, T)), np.zeros((E, T))
    vflip = np.array([0.0, V_HIGH])[None, None, :, None]
    for t in range(T):
        vol[:, t] = belief[:, :, 1, :].sum((1, 2)) * V_HIGH
        pa[:, t] = (belief * p_a_given).sum((1, 2, 3))
        like = np.where((correct[:, t] == 0)[:, None, None, None], p_a_given, 1 - p_a_given)
        belief = belief * like
        belief /= belief.sum((1, 2, 3), keepdims=True)
        # side flips with probability v, then v toggles with probability k
        belief = belief * (1 - vflip) + belief[:, :, :, ::-1] * vflip
        kk = ks[None, :, None, None]
        belief = belief * (1 - kk) + belief[:, :, ::-1, :] * kk
    return {"volatility": vol, "p_a": pa}

# ---------------------------------------------------------------- learning-rate estimation
ALPHAS = np.exp(np.linspace(np.log(0.01), np.log(0.99), 50))


BETAS = np.exp(np.linspace(np.log(0.5), np.log(60.0), 16))


def rw_predictions(correct: np.ndarray, alphas: np.ndarray = ALPHAS) -> np.ndarray:
    """r̂ (the estimate of P(a correct) before each trial) for every α: [A, E, T]."""
    A = len(alphas)
    E, T = correct.shape
    r = np.full((A, E), 0.5)
    out = np.zeros((A, E, T))
    o = (correct == 0).astype(float)
    for t in range(T):
        out[:, :, t] = r
        r = r + alphas[:, None] * (o[None, :, t] - r)
    return out


def _choice_loglik(rhat: np.ndarray, choice, mag_a, mag_b, beta: np.ndarray) -> np.ndarray:
    """log P(choice) under σ(β[r̂M_a − (1 − r̂)M_b]); rhat [..., E, T], beta [B] → [B, ..., E, T]."""
    z = (rhat * mag_a - (1 - rhat) * mag_b)[None] * beta.reshape((-1,) + (1,) * rhat.ndim)
    sign = np.where(choice == 0, 1.0, -1.0)
    return -np.logaddexp(0.0, -sign * z)


def sliding_learning_rate(trials: dict, window: int = 10) -> dict:
    """Maximum-likelihood RW learning rate in a sliding window of ``window`` trials, pooled over
    the episodes of one episode type: only the window's trials enter the likelihood, while every
    earlier trial feeds the value estimate (the paper's method). The fit is a grid search over
    (α, β) refined with scipy.optimize (bounded) from the best grid point.

    Returns ``{"start": window starts, "alpha": [n_windows], "beta": [n_windows]}``.
    """
    ep = trials["episode"]
    eps = np.unique(ep)
    T = int(np.bincount(ep - ep.min()).max())
    shape = (len(eps), T)
    correct = trials["correct"].reshape(shape)
    choice = trials["choice"].reshape(shape)
    ma, mb = trials["magnitude_a"].reshape(shape), trials["magnitude_b"].reshape(shape)
    rhat = rw_predictions(correct).astype(np.float32)
    ma32, mb32 = ma.astype(np.float32), mb.astype(np.float32)
    ll = np.stack([_choice_loglik(rhat, choice, ma32, mb32, BETAS[i:i + 8].astype(np.float32)).sum(2)
                   for i in range(0, len(BETAS), 8)]).reshape(len(BETAS), len(ALPHAS), T)
    # [B, A, T]: log-likelihood of each trial summed over episodes
    csum = np.concatenate([np.zeros(ll.shape[:2] + (1,)), ll.cumsum(2)], 2)
    starts = np.arange(0, T - window + 1)
    win = csum[:, :, starts + window] - csum[:, :, starts]  # [B, A, n_windows]
    alphas, betas = np.zeros(len(starts)), np.zeros(len(starts))
    for i, s in enumerate(starts):
        b0, a0 = np.unravel_index(np.argmax(win[:, :, i]), win[:, :, i].shape)

        def nll(x, s=s):
            a, b = 1 / (1 + np.exp(-x[0])), np.exp(x[1])
            r = rw_predictions(correct[:, :s + window], np.array([a]))[0]
            return -_choice_loglik(r[:, s:], choice[:, s:s + window], ma[:, s:s + window],
                                   mb[:, s:s + window], np.array([b])).sum()

        x0 = [math.log(ALPHAS[a0] / (1 - ALPHAS[a0])), math.log(BETAS[b0])]
        res = minimize(nll, x0, method="L-BFGS-B", bounds=[(-6, 6), (-3, 5)],
                       options={"maxiter": 15})
        alphas[i], betas[i] = 1 / (1 + math.exp(-res.x[0])), math.exp(res.x[1])
    return {"start": starts, "alpha": alphas, "beta": betas}


def half_learning_rates(trials: dict, order: str, window: int = 10) -> dict:
    """Mean sliding-window learning rate in each 100-trial half of one episode type, named as
    in Fig. 3c,d, where 1/2 is the phase's position in the session: stable-first episodes give
    ``stable_1`` and ``volatile_2``, volatile-first episodes ``volatile_1`` and ``stable_2``."""
    fit = sliding_learning_rate(trials, window)
    last = fit["start"] + window - 1  # a window belongs to the half of its last trial
    first_half = fit["alpha"][last < 100].mean()
    second_half = fit["alpha"][fit["start"] >= 100].mean()
    names = ("stable_1", "volatile_2") if order == "stable_first" else ("volatile_1", "stable_2")
    return {names[0]: float(first_half), names[1]: float(second_half), "curve": fit}

# ------------------------------------------------------------------------------ unit analyses
def decode_volatility(hidden: np.ndarray, target: np.ndarray, groups: np.ndarray,
                      folds: int = 5) -> float:
    """Cross-validated linear read-out (ridge, scikit-learn) of ``target`` from unit activity,
    folds by episode (GroupKFold); returns Pearson r between held-out predictions and target."""
    pred = cross_val_predict(RidgeCV(alphas=np.logspace(-3, 3, 13)), hidden, target,
                             groups=groups, cv=GroupKFold(n_splits=folds))
    return float(np.corrcoef(pred, target)[0, 1])


def volatility_units(rec, max_episodes: int = 100) -> np.ndarray:
    """Per episode, the fraction of units whose activity depends on the true volatility (0/1)
    with previous reward, next action and the true reward probability as covariates (OLS,
    statsmodels; P < 0.05 Bonferroni-corrected over units). Only episodes whose volatility
    changes enter (in the others its regressor is constant: the fit is not identified). Returns
    one fraction per such episode (at most ``max_episodes``)."""
    tr, H = rec.trials, rec.units["hidden"]
    ep, vol = np.asarray(tr["episode"]), np.asarray(tr["volatile"], bool)
    eps = np.unique(ep)
    _, idx = np.unique(ep, return_inverse=True)
    n_vol = np.bincount(idx, weights=vol.astype(float))
    changes = (n_vol > 0) & (n_vol < np.bincount(idx))
    eps = eps[changes][:max_episodes]
    n_units = H.shape[1]
    out = []
    for e in eps:
        rows = np.flatnonzero(tr["episode"] == e)
        prev_reward = np.r_[0.0, tr["reward"][rows][:-1]]
        X = np.column_stack([tr["volatile"][rows].astype(float), prev_reward,
                             tr["choice"][rows].astype(float), tr["p_a"][rows]])
        X = sm.add_constant(X, has_constant="add")
        sig = 0
        for u in range(n_units):
            y = H[rows, u]
            if np.ptp(y) == 0:
                continue
            sig += sm.OLS(y, X).fit().pvalues[1] < 0.05 / n_units
        out.append(sig / n_units)
    return np.array(out)

STATS = {
    "lr_stable_1": "RW learning rate (sliding 10-trial ML fit, pooled episodes) in the stable "
                   "first half of stable-first episodes (Fig. 3d)",
    "lr_volatile_2": "… in the volatile second half of stable-first episodes",
    "lr_volatile_1": "… in the volatile first half of volatile-first episodes",
    "lr_stable_2": "… in the stable second half of volatile-first episodes",
    "lr_ratio_stable_first": "volatile / stable learning rate in stable-first episodes",
    "lr_ratio_volatile_first": "volatile / stable learning rate in volatile-first episodes",
    "bayes_lr_ratio_stable_first": "the same ratio for the Bayesian observer's own choices "
                                   "(a learner that tracks volatility)",
    "decoded_volatility_r": "Pearson r between the Bayesian observer's volatility estimate and "
                            "its cross-validated (by episode) linear read-out from the units, "
                            "on training-distribution episodes",
    "volatility_unit_fraction": "fraction of units coding the true volatility within an episode "
                                "(Bonferroni P < 0.05; mean ± sem over episodes)",
}


def _subset(trials: dict, mask: np.ndarray) -> dict:
    return {k: v[mask] for k, v in trials.items()}


def analyze(rec, seed: int = 0) -> dict:
    tr = rec.trials
    stats, notes = {}, []
    if not np.isin(tr["order"], (0, 1)).any():
        notes.append("learning rates by block need the Behrens schedules (run with --task "
                     "schedule=behrens); this recording has the training model's episodes")
    for order, code in (("stable_first", 0), ("volatile_first", 1)):
        m = tr["order"] == code
        if not m.any():
            continue
        lr = half_learning_rates(_subset(tr, m), order)
        for k in ("stable_1", "volatile_2", "volatile_1", "stable_2"):
            if k in lr:
                stats[f"lr_{k}"] = {"value": lr[k], "sem": None}
        vol = lr["volatile_2" if code == 0 else "volatile_1"]
        stab = lr["stable_1" if code == 0 else "stable_2"]
        stats[f"lr_ratio_{order}"] = {"value": vol / stab, "sem": None}
    E = len(np.unique(tr["episode"]))
    correct = tr["correct"].reshape(E, -1)
    bayes = bayes_observer(correct)
    # the same learning-rate method applied to a Bayesian agent that tracks volatility: it
    # chooses by expected value under the observer's prediction (softmax, β = 10)
    rng = np.random.default_rng(seed)
    z = 10.0 * (bayes["p_a"] * tr["magnitude_a"].reshape(E, -1)
                - (1 - bayes["p_a"]) * tr["magnitude_b"].reshape(E, -1))
    bayes_choice = (rng.random(z.shape) >= 1 / (1 + np.exp(-z))).astype(np.int16).reshape(-1)
    m = tr["order"] == 0
    if m.any():
        lr = half_learning_rates(_subset({**tr, "choice": bayes_choice}, m), "stable_first")
        stats["bayes_lr_ratio_stable_first"] = {"value": lr["volatile_2"] / lr["stable_1"],
                                                "sem": None}
    if "hidden" in rec.units:
        stats["decoded_volatility_r"] = {
            "value": decode_volatility(rec.units["hidden"], bayes["volatility"].reshape(-1),
                                       tr["episode"]), "sem": None}
        frac = volatility_units(rec)
        stats["volatility_unit_fraction"] = {"value": float(frac.mean()),
                                             "sem": float(frac.std(ddof=1) / np.sqrt(len(frac)))
                                             if len(frac) > 1 else None} if len(frac) else \
            nan("no episode in which the volatility changes")
    ref = {k: REFERENCE[k] for k in REFERENCE if k in stats}
    for k in ("lr_stable_1", "lr_stable_2"):
        if k in stats:
            ref[k] = REFERENCE["lr_stable"]
    for k in ("lr_volatile_1", "lr_volatile_2"):
        if k in stats:
            ref[k] = REFERENCE["lr_volatile"]
    return {"protocol": "volatility", "stats": stats, "reference": ref, "warnings": notes,
            "curves": {"bayes_volatility_mean": bayes["volatility"].mean(0).tolist()}}


def figures(rec, result: dict, **_) -> dict:
    """Fig. 3d-like bars of the learning rate by block."""
    st = result["stats"]
    names = [n for n in BLOCK_NAMES if f"lr_{n}" in st]
    fig, ax = subplots(figsize=(4, 3.2))
    if not names:  # say why instead of an empty axis
        ax.text(0.5, 0.5, "learning rates by block need the Behrens schedules\n"
                "(pfcda run volatility --task schedule=behrens)", ha="center", va="center",
                fontsize=8, transform=ax.transAxes)
        ax.set_axis_off()
        return {"volatility": fig}
    ax.bar(range(len(names)), [st[f"lr_{n}"]["value"] for n in names],
           color=["tab:blue" if n.startswith("stable") else "tab:red" for n in names])
    ax.set_xticks(range(len(names)), [n.replace("_", " ") for n in names])
    ax.set_yscale("log")
    ax.set_ylabel("learning rate (RW fit)")
    return {"volatility": fig}
