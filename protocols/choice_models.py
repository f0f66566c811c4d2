"""Classic two-choice learning models for bandit, foraging and reversal data: Rescorla–Wagner /
Q-learning with perseveration (and, optionally, forgetting of the unchosen value), simulated on a
reward schedule and fitted by maximum likelihood (scipy L-BFGS-B, several starts) on ragged
sessions — the models a lab fits to its animals, run here on animals and circuit alike.

Model (per session; Q starts at 0 for both arms)::

    P(right at t) = σ( β·(Q_R − Q_L) + κ·c_{t−1} + b ),   c_{t−1} = +1 right, −1 left, 0 none
    Q_chosen   ← Q_chosen + α·(r − Q_chosen)
    Q_unchosen ← (1 − ζ)·Q_unchosen            (ζ = 0: plain Rescorla–Wagner / Q-learning)

α learning rate, β inverse temperature, κ choice perseveration (stickiness; > 0 repeats),
b side bias, ζ forgetting (the "F-Q" model of Ito & Doya 2009, used for the dynamic-foraging
mice by Bari et al. 2019 and Grossman et al. 2022).

``common_q`` ("common Q" of the behaviour-model benchmarks: forgetting, a choice kernel and a
side bias) replaces the lag-1 perseveration κ·c_{t−1} by a choice kernel with its own rate and
weight (Wilson & Collins 2019, eLife 8:e49547)::

    P(right at t) = σ( β·(Q_R − Q_L) + β_c·(K_R − K_L) + b ),   K_a ← K_a + α_c·([a chosen] − K_a)

(K_R − K_L starts at 0; with α_c = 1 it is the last choice, ±1, and the term is the lag-1
perseveration β_c·c_{t−1}.) Trials without a response (``choice`` < 0)
are skipped: no update, not scored, and the previous choice is kept.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from .base import episode_positions

PARAM_NAMES = ("alpha", "beta", "kappa", "bias", "forget")
KERNEL_NAMES = ("ck_rate", "ck_weight")  # the choice kernel's rate α_c and weight β_c
ALL_NAMES = PARAM_NAMES + KERNEL_NAMES
BOUNDS = ((0.0, 1.0), (0.0, 30.0), (-5.0, 5.0), (-5.0, 5.0), (0.0, 1.0), (0.0, 1.0), (-10.0, 10.0))
MODELS = {"rw": ("alpha", "beta", "kappa", "bias"), "rw_forget": PARAM_NAMES,
          "common_q": ("alpha", "beta", "bias", "forget", "ck_rate", "ck_weight")}


def padded(trials: dict):
    """A ragged two-choice trials table → padded [E, T] arrays: choice (0/1; −1 none or padding),
    reward (0/1), and the mask of scored trials."""
    idx, pos, E, T = episode_positions(trials["episode"])
    c = np.full((E, T), -1, np.int64)
    r = np.zeros((E, T))
    c[idx, pos] = np.asarray(trials["choice"]).astype(np.int64)
    r[idx, pos] = np.asarray(trials["reward"]) > 0
    if "error" in trials:
        c[idx, pos] = np.where(np.asarray(trials["error"], bool), -1, c[idx, pos])
    c[(c != 0) & (c != 1)] = -1
    return c, r, c >= 0


def _run(params: dict, c=None, r=None, schedule=None, rng=None, trace=None):
    """Log-likelihood of given choices (c, r) or, with ``schedule`` (p [E, T, 2], baited [E]),
    simulated choices and rewards. Returns (loglik per session [E], c, r). ``trace`` [E, T]:
    receives each scored choice's log-likelihood."""
    a, b, k, bias, f = (params.get(n, 0.0) for n in PARAM_NAMES)
    ck_rate, ck_w = (params.get(n, 0.0) for n in KERNEL_NAMES)
    if schedule is not None:
        p, baited = schedule
        E, T = p.shape[:2]
        c, r = np.zeros((E, T), np.int64), np.zeros((E, T))
        bait = np.zeros((E, 2), bool)
    else:
        E, T = c.shape
    rows = np.arange(E)
    q = np.zeros((E, 2))
    kern = np.zeros(E)  # the choice kernel's K_R − K_L
    prev = np.zeros(E)
    ll = np.zeros(E)
    for t in range(T):
        z = b * (q[:, 1] - q[:, 0]) + k * prev + bias  # log-odds of right
        if ck_w:
            z = z + ck_w * kern
        if schedule is not None:
            c[:, t] = rng.random(E) < 1.0 / (1.0 + np.exp(-z))
            bait |= rng.random((E, 2)) < p[:, t]
            r[:, t] = bait[rows, c[:, t]]
            bait[rows, c[:, t]] = False
            bait &= baited[:, None]
        ct = c[:, t]
        ok = ct >= 0
        lt = np.where(ok, np.logaddexp(0.0, -np.where(ct == 1, z, -z)), 0.0)
        ll -= lt
        if trace is not None:
            trace[:, t] = -lt
        ch = np.clip(ct, 0, 1)
        unchosen = 1 - ch
        upd = ok.astype(float)
        q[rows, ch] += upd * a * (r[:, t] - q[rows, ch])
        q[rows, unchosen] *= 1.0 - upd * f
        prev = np.where(ok, 2.0 * ch - 1.0, prev)
        if ck_w:
            kern = np.where(ok, kern + ck_rate * (prev - kern), kern)
    return ll, c, r


def loglik(params: dict, trials: dict) -> tuple[float, int]:
    """(total log-likelihood, number of scored choices) of a trials table under ``params``."""
    c, r, scored = padded(trials)
    ll, *_ = _run(params, c, r)
    return float(ll.sum()), int(scored.sum())


def simulate(params: dict, p: np.ndarray, baited=True, seed: int = 0) -> dict:
    """Choices of the model on a reward schedule ``p`` [sessions, trials, 2] (per-trial reward
    probabilities of left and right); ``baited``: a bait, once set, stays until its arm is chosen
    (bool, or one per session). Returns a two-choice trials table."""
    p = np.asarray(p, float)
    if p.ndim != 3 or p.shape[2] != 2:
        raise ValueError(f"p: expected [sessions, trials, 2] probabilities, got shape {p.shape}")
    E, T = p.shape[:2]
    baited = np.broadcast_to(np.asarray(baited, bool), (E,))
    _, c, r = _run(_full(params), schedule=(p, baited), rng=np.random.default_rng(seed))
    return {"episode": np.repeat(np.arange(E), T), "trial": np.tile(np.arange(T), E),
            "choice": c.reshape(-1), "reward": r.reshape(-1).astype(np.float32),
            "p_left": p[:, :, 0].reshape(-1), "p_right": p[:, :, 1].reshape(-1),
            "error": np.zeros(E * T, bool)}


def _full(params: dict) -> dict:
    """The five base parameters (0 where absent), and the choice kernel's where given."""
    unknown = set(params) - set(ALL_NAMES)
    if unknown:
        raise ValueError(f"params: unknown {sorted(unknown)}; expected names from {ALL_NAMES}")
    return {n: float(params.get(n, 0.0)) for n in PARAM_NAMES + tuple(n for n in KERNEL_NAMES if n in params)}


def fit(trials: dict, model: str = "rw", starts: int = 5, seed: int = 0) -> dict:
    """Maximum-likelihood fit of ``model`` (``rw``: α, β, κ, b; ``rw_forget``: + ζ;
    ``common_q``: α, β, b, ζ and the choice kernel's α_c, β_c) with the
    parameters shared by all sessions of the table. Returns ``{"model", "params", "loglik",
    "n_choices", "likelihood_per_choice", "bic", "loglik_fn"}``; ``loglik_fn(other)`` scores
    the fitted parameters on other (held-out) trials."""
    if model not in MODELS:
        raise ValueError(f"model: expected one of {sorted(MODELS)}, got {model!r}")
    names = MODELS[model]
    bounds = [BOUNDS[ALL_NAMES.index(n)] for n in names]
    c, r, scored = padded(trials)
    n = int(scored.sum())
    if n == 0:
        raise ValueError("trials: no scored choices to fit")
    rng = np.random.default_rng(seed)

    def nll(x):
        ll, *_ = _run(dict(zip(names, x)), c, r)
        return -float(ll.sum())

    best = None
    for _ in range(starts):
        # rates in (0.1, 0.9); β in the lower third of its range; κ and b around 0
        x0 = [rng.uniform(0.4 * lo, 0.4 * hi) if lo < 0 else
              rng.uniform(lo + 0.1 * (hi - lo), lo + (0.9 if hi <= 1 else 0.3) * (hi - lo))
              for lo, hi in bounds]
        res = minimize(nll, x0, method="L-BFGS-B", bounds=bounds)
        if best is None or res.fun < best.fun:
            best = res
    params = _full(dict(zip(names, map(float, best.x))))
    ll = -float(best.fun)
    return {"model": model, "params": params, "loglik": ll, "n_choices": n,
            "likelihood_per_choice": float(np.exp(ll / n)),
            "bic": float(len(names) * np.log(n) - 2 * ll),
            "loglik_fn": lambda other: loglik(params, other)}
