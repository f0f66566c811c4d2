"""Reference agents of the two-step task (numpy, vectorised over episodes; loops over trials).

Every agent runs on a trial sequence given as arrays [episodes, trials] — the circuit's own,
a simulated one or a lab's — and returns its values, RPEs and choice probabilities there;
``simulate_hybrid`` also produces choices on a task's reward schedule.

* Model-free: SARSA(λ) as in Daw et al. 2011 (λ = 0 gives the SARSA(0)/TD RPEs of Sim 4):
  δ₁ = Q₂(s, o) − Q₁(c), Q₁(c) += α₁δ₁; δ₂ = r − Q₂(s, o), Q₂(s, o) += α₂δ₂, Q₁(c) += α₁λδ₂.
* Model-based (the paper's reference): a planner that knows the task's
  structure and tracks the latent reward state by Bayesian belief updating — for ``miller`` the
  belief that state 1 is the rich (0.9) state, with the 0.025 swap hazard; for ``daw`` a
  discretised posterior over each option's reward probability under the reflecting Gaussian
  random walk. Q_MB(c) = Σ_s P(s | c) max_o V(s, o). RPEs: δ at arrival = max_o V(s, o) −
  Q_MB(c), δ at reward = r − V(s, o).
* Hybrid (Daw et al. 2011): Q_net(c) = w·Q_MB(c) + (1 − w)·Q₁(c), where Q_MB is computed from
  the TD-learned Q₂; P(c) ∝ exp(β₁[Q_net(c) + p·1{c = previous c}]); P(o | s) ∝ exp(β₂Q₂(s, o)).
  :func:`fit_hybrid` fits (α₁, α₂, λ, β₁, β₂, p, w) by maximum likelihood (scipy.optimize).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from ..base import episode_positions
from .task import HIGH, LOW, SWAP, VARIANTS, WALK_HI, WALK_LO, WALK_SD

PARAM_NAMES = ("alpha1", "alpha2", "lam", "beta1", "beta2", "persev", "w")
BOUNDS = ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.0, 20.0), (0.0, 20.0), (-5.0, 5.0), (0.0, 1.0))


def _arrays(trials: dict):
    """Reshape a trials table (episode-major, equal-length episodes) to [E, T] arrays."""
    ep = np.asarray(trials["episode"])
    eps, counts = np.unique(ep, return_counts=True)
    if len(set(counts.tolist())) != 1:
        raise ValueError("trials: the two-step agents need episodes of equal length")
    shape = (len(eps), int(counts[0]))
    get = lambda k, dt: np.asarray(trials[k]).reshape(shape).astype(dt)  # noqa: E731
    option = get("option", np.int64) if "option" in trials else np.zeros(shape, np.int64)
    return (get("choice", np.int64), get("state", np.int64), option,
            (get("reward", float) > 0).astype(float))


def model_free(trials: dict, alpha1: float = 0.5, alpha2: float = 0.5, lam: float = 0.0) -> dict:
    """SARSA(λ) on the given trials: Q₁ before each choice [E, T, 2], Q₂ [E, T, 2, 2], RPEs at
    arrival (``rpe_arrival``) and at reward (``rpe_reward``) [E, T]."""
    c, s, o, r = _arrays(trials)
    E, T = c.shape
    rows = np.arange(E)
    q1, q2 = np.zeros((E, 2)), np.zeros((E, 2, 2))
    Q1, Q2 = np.zeros((E, T, 2)), np.zeros((E, T, 2, 2))
    d1, d2 = np.zeros((E, T)), np.zeros((E, T))
    for t in range(T):
        Q1[:, t], Q2[:, t] = q1, q2
        ct, st, ot = c[:, t], s[:, t], o[:, t]
        d1[:, t] = q2[rows, st, ot] - q1[rows, ct]
        q1[rows, ct] += alpha1 * d1[:, t]
        d2[:, t] = r[:, t] - q2[rows, st, ot]
        q2[rows, st, ot] += alpha2 * d2[:, t]
        q1[rows, ct] += alpha1 * lam * d2[:, t]
    return {"q1": Q1, "q2": Q2, "rpe_arrival": d1, "rpe_reward": d2}


def _walk_kernel(grid: np.ndarray) -> np.ndarray:
    """Transition matrix of the reflecting Gaussian random walk on ``grid`` (rows: from)."""
    step = grid[1] - grid[0]
    x = grid[:, None]
    k = np.zeros((len(grid), len(grid)))
    for mirror in (grid, 2 * WALK_LO - grid, 2 * WALK_HI - grid):  # reflections at the bounds
        k += np.exp(-0.5 * ((mirror[None, :] - x) / WALK_SD) ** 2)
    k *= step
    return k / k.sum(1, keepdims=True)


def model_based(trials: dict, variant: str = "miller", p_common: float | None = None,
                grid_points: int = 101, reward_probs=None, hazard: float = SWAP) -> dict:
    """The Bayesian model-based planner on the given trials (see the module docstring):
    V [E, T, 2, 2] (expected reward of each state/option before the trial), Q_MB [E, T, 2],
    ``rpe_arrival``, ``rpe_reward`` [E, T], and ``p_rich`` (miller: P(state 1 rich));
    ``reward_probs`` (rich, poor) and ``hazard`` (the reversal probability per trial): miller's
    task's unless given."""
    hi, lo = (HIGH, LOW) if reward_probs is None else map(float, reward_probs)
    pc = VARIANTS[variant]["p_common"] if p_common is None else p_common
    c, s, o, r = _arrays(trials)
    E, T = c.shape
    rows = np.arange(E)
    V = np.zeros((E, T, 2, 2))
    extra = {}
    if variant == "miller":
        b = np.full(E, 0.5)  # P(state 1 is the rich state)
        p_rich = np.zeros((E, T))
        for t in range(T):
            p_rich[:, t] = b
            v1 = b * hi + (1 - b) * lo
            V[:, t] = np.stack([v1, 1 - v1], 1)[:, :, None]
            p_if_rich = np.where(s[:, t] == 0, hi, lo)  # P(reward | H = state 1 rich)
            like_rich = np.where(r[:, t] > 0, p_if_rich, 1 - p_if_rich)
            like_other = np.where(r[:, t] > 0, 1 - p_if_rich, p_if_rich)
            b = b * like_rich / (b * like_rich + (1 - b) * like_other)
            b = b * (1 - hazard) + (1 - b) * hazard
        extra["p_rich"] = p_rich
    elif variant == "daw":
        grid = np.linspace(WALK_LO, WALK_HI, grid_points)
        K = _walk_kernel(grid)
        post = np.full((E, 4, grid_points), 1.0 / grid_points)
        for t in range(T):
            V[:, t] = (post @ grid).reshape(E, 2, 2)
            idx = 2 * s[:, t] + o[:, t]
            like = np.where(r[:, t, None] > 0, grid[None], 1 - grid[None])
            post[rows, idx] *= like
            post[rows, idx] /= post[rows, idx].sum(1, keepdims=True)
            post = post @ K
    else:
        raise ValueError(f"variant: expected 'miller' or 'daw', got {variant!r}")
    best = V.max(3)  # [E, T, 2]: value of each state for a greedy second-stage choice
    q_mb = np.stack([pc * best[:, :, 0] + (1 - pc) * best[:, :, 1],
                     pc * best[:, :, 1] + (1 - pc) * best[:, :, 0]], 2)
    tt = np.arange(T)[None, :]
    arrival = best[rows[:, None], tt, s] - q_mb[rows[:, None], tt, c]
    reward = r - V[rows[:, None], tt, s, o]
    return {"V": V, "q_mb": q_mb, "rpe_arrival": arrival, "rpe_reward": reward, **extra}


# ----------------------------------------------------------------------------- hybrid model
def padded(trials: dict):
    """A ragged trials table (episodes of any length; lab sessions) → padded [E, T] arrays
    (c, s, o, r) and masks: ``live`` (a real trial without a violation: the agent learns from
    it) and ``scored`` (live and a free choice: it enters the likelihood)."""
    ep = np.asarray(trials["episode"])
    idx, pos, E, T = episode_positions(ep)
    out = []
    for k, dt in (("choice", np.int64), ("state", np.int64), ("option", np.int64), ("reward", float)):
        a = np.zeros((E, T), dt)
        if k in trials:
            a[idx, pos] = np.asarray(trials[k]).astype(dt)
        out.append(a)
    out[3] = (out[3] > 0).astype(float)
    live = np.zeros((E, T), bool)
    err = np.asarray(trials.get("error", np.zeros(len(ep), bool)), bool)
    forced = np.asarray(trials.get("forced", np.zeros(len(ep), bool)), bool)
    live[idx, pos] = ~err
    scored = np.zeros((E, T), bool)
    scored[idx, pos] = ~err & ~forced
    return (*out, live, scored)


def _hybrid(params, c, s, o, r, p_common, simulate=None, live=None, scored=None, trace=None):
    """Run Daw's hybrid on given trials (log-likelihood) or, with ``simulate`` = (probs
    [E, T, 2, 2], rng), generate choices, transitions and rewards. Returns (loglik, c, s, o, r).
    ``live``/``scored`` masks [E, T] (ragged lab data, see :func:`padded`): the agent learns
    only from live trials, and only scored choices enter the log-likelihood."""
    a1, a2, lam, b1, b2, persev, w = params
    E, T = c.shape if simulate is None else simulate[0].shape[:2]
    rows = np.arange(E)
    if simulate is not None:
        probs, rng = simulate
        c, s, o, r = (np.zeros((E, T), np.int64), np.zeros((E, T), np.int64),
                      np.zeros((E, T), np.int64), np.zeros((E, T)))
    q1, q2 = np.zeros((E, 2)), np.zeros((E, 2, 2))
    prev = np.full(E, -1)
    ll = np.zeros(E)
    for t in range(T):
        best = q2.max(2)
        q_mb = np.stack([p_common * best[:, 0] + (1 - p_common) * best[:, 1],
                         p_common * best[:, 1] + (1 - p_common) * best[:, 0]], 1)
        net = w * q_mb + (1 - w) * q1 + persev * (np.arange(2)[None] == prev[:, None])
        z1 = b1 * (net[:, 1] - net[:, 0])  # log-odds of choosing right
        z2 = b2 * (q2[:, :, 1] - q2[:, :, 0])  # [E, 2 states]
        if simulate is not None:
            c[:, t] = rng.random(E) < 1 / (1 + np.exp(-z1))
            common = rng.random(E) < p_common
            s[:, t] = np.where(common, c[:, t], 1 - c[:, t])
            o[:, t] = rng.random(E) < 1 / (1 + np.exp(-z2[rows, s[:, t]]))
            r[:, t] = rng.random(E) < probs[rows, t, s[:, t], o[:, t]]
        ct, st, ot = c[:, t], s[:, t], o[:, t]
        lt = np.logaddexp(0.0, -np.where(ct == 1, z1, -z1)) + \
            np.logaddexp(0.0, -np.where(ot == 1, z2[rows, st], -z2[rows, st]))
        if trace is not None:  # each trial's log-likelihood (first stage, and second where scored)
            trace[:, t] = -lt
        if live is None:
            ll -= lt
            g = 1.0
        else:
            ll -= np.where(scored[:, t], lt, 0.0)
            g = live[:, t].astype(float)
        d1 = q2[rows, st, ot] - q1[rows, ct]
        q1[rows, ct] += g * a1 * d1
        d2 = r[:, t] - q2[rows, st, ot]
        q2[rows, st, ot] += g * a2 * d2
        q1[rows, ct] += g * a1 * lam * d2
        prev = ct if live is None else np.where(live[:, t], ct, prev)
    return ll, c, s, o, r


def hybrid_loglik(params, trials: dict, p_common: float, two_options: bool = True) -> float:
    """Total log-likelihood of the trials' choices under the hybrid model with ``params``
    (PARAM_NAMES order). With ``two_options`` False (miller), second-stage responses are not
    choices and do not enter the likelihood."""
    c, s, o, r = _arrays(trials)
    p = list(params)
    if not two_options:
        p[4] = 0.0  # β₂ = 0: log 0.5 per trial, a constant
    ll, *_ = _hybrid(p, c, s, o, r, p_common)
    if not two_options:
        ll = ll + c.shape[1] * np.log(2.0)
    return float(ll.sum())


def simulate_hybrid(params, probs: np.ndarray, p_common: float, seed: int = 0) -> dict:
    """Choices of the hybrid agent on a reward schedule probs [E, T, 2 states, 2 options]:
    a trials table (episode, trial, choice, state, common, option, reward)."""
    rng = np.random.default_rng(seed)
    E, T = probs.shape[:2]
    _, c, s, o, r = _hybrid(params, None, None, None, None, p_common, simulate=(probs, rng))
    ep = np.repeat(np.arange(E), T)
    return {"episode": ep, "trial": np.tile(np.arange(T), E), "choice": c.reshape(-1),
            "state": s.reshape(-1), "common": (c == s).reshape(-1), "option": o.reshape(-1),
            "reward": r.reshape(-1), "error": np.zeros(E * T, bool)}


def fit_hybrid(trials: dict, p_common: float, two_options: bool = True, starts: int = 4,
               seed: int = 0) -> dict:
    """Maximum-likelihood fit of the hybrid model (all episodes share the parameters: one
    subject, its episodes its sessions), by L-BFGS-B from several random starts.

    Returns ``{"params": {name: value}, "loglik", "n_choices", "likelihood_per_choice"}``."""
    rng = np.random.default_rng(seed)
    data = _arrays(trials)
    c = data[0]
    n_choices = c.size * (2 if two_options else 1)

    def nll(x):
        p = list(x)
        if not two_options:
            p[4] = 0.0
        ll, *_ = _hybrid(p, *data, p_common)
        return -float(ll.sum())

    best = None
    for i in range(starts):
        x0 = [rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8),
              rng.uniform(1, 6), rng.uniform(1, 6), rng.uniform(-0.5, 0.5), rng.uniform(0.2, 0.8)]
        res = minimize(nll, x0, method="L-BFGS-B", bounds=BOUNDS)
        if best is None or res.fun < best.fun:
            best = res
    ll = -best.fun + (0.0 if two_options else c.size * np.log(2.0))
    params = dict(zip(PARAM_NAMES, map(float, best.x)))
    if not two_options:
        params["beta2"] = float("nan")
    return {"params": params, "loglik": float(ll), "n_choices": int(n_choices),
            "likelihood_per_choice": float(np.exp(ll / n_choices))}


def fit_hybrid_ragged(trials: dict, p_common: float, two_options: bool = False, starts: int = 3,
                      seed: int = 0, w: float | None = None) -> dict:
    """:func:`fit_hybrid` for ragged tables with forced and violation trials (lab sessions):
    forced trials teach but are not scored, violations are skipped. ``w`` fixes the model-based
    weight (``w=0``: the model-free SARSA(λ) learner with perseveration). Returns the fit and
    a ``loglik_fn(trials)`` evaluating the fitted parameters on other (held-out) trials."""
    rng = np.random.default_rng(seed)
    data = padded(trials)

    def total(x, d):
        p = list(x)
        if w is not None:
            p[6] = w
        if not two_options:
            p[4] = 0.0
        ll, *_ = _hybrid(p, *d[:4], p_common, live=d[4], scored=d[5])
        n = int(d[5].sum())
        return float(ll.sum()) + (0.0 if two_options else n * np.log(2.0)), n

    best = None
    for _ in range(starts):
        x0 = [rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8),
              rng.uniform(1, 6), rng.uniform(1, 6), rng.uniform(-0.5, 0.5),
              rng.uniform(0.2, 0.8) if w is None else w]
        res = minimize(lambda x: -total(x, data)[0], x0, method="L-BFGS-B", bounds=BOUNDS)
        if best is None or res.fun < best.fun:
            best = res
    params = dict(zip(PARAM_NAMES, map(float, best.x)))
    if w is not None:
        params["w"] = float(w)
    if not two_options:
        params["beta2"] = float("nan")
    ll, n = total(best.x, data)

    def loglik_fn(other: dict):
        return total(best.x, padded(other))

    return {"params": params, "loglik": ll, "n_choices": n,
            "likelihood_per_choice": float(np.exp(ll / max(n, 1))), "loglik_fn": loglik_fn}
