"""Reference agents for the Bernoulli bandit: the limit of behaviour and the classic heuristics.

All agents run many episodes at once (numpy, vectorised over episodes; one loop over trials) on
given arm probabilities, so that they are scored on exactly the episodes the circuit saw.

* ``bayes_optimal`` — the Bayes-optimal policy for the finite horizon H, by exact dynamic
  programming over Beta(1, 1)-posterior counts. Independent prior (K = 2): DP over
  (n_L, s_L, s_R) at each trial (≈ 4.6 M belief states for H = 100). Correlated prior
  (p_R = 1 − p_L): the posterior of p_L is Beta(1 + s_L + f_R, 1 + f_L + s_R) and acting greedily on
  its mean is optimal (every pull is equally informative), which the DP confirms.
* ``gittins`` — Gittins indices of the Beta posteriors for discount ``gamma`` (0.99 by default),
  computed by calibration (retirement-value DP over the whole (a, b) lattice for a grid of
  retirement rewards λ).
* ``thompson`` — Thompson sampling with Beta(1, 1) priors (Thompson 1933).
* ``ucb1`` — UCB1 (Auer, Cesa-Bianchi & Fischer 2002): pull each arm once, then
  argmax mean + c·√(ln t / n) with c = √2 (the classic constant).
* ``random`` — uniform random choice.

Ties are broken uniformly at random. Regret is the pseudo-regret Σ_t (max_k p_k − p_{a_t}).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

AGENTS = ("bayes_optimal", "gittins", "thompson", "ucb1", "random")


# --------------------------------------------------------------------------- Bayes-optimal DP
@lru_cache(maxsize=4)
def bayes_optimal_table(horizon: int = 100):
    """Exact DP for the independent Beta(1,1) prior, two arms.

    Returns ``(decisions, value0)``: ``decisions[t]`` is an int8 array [t+1, t+1, t+1] indexed by
    (n_L, s_L, s_R) after t trials (n_R = t − n_L): 0 = left, 1 = right, 2 = both optimal;
    ``value0`` is the optimal expected total reward from the prior.
    """
    V = np.zeros((horizon + 1,) * 3)
    decisions = [None] * horizon
    for t in range(horizon - 1, -1, -1):
        n = np.arange(t + 1)
        nL = n[:, None, None]
        sL = n[None, :, None]
        sR = n[None, None, :]
        mL = (sL + 1.0) / (nL + 2.0)
        mR = (sR + 1.0) / (t - nL + 2.0)
        qL = mL * (1.0 + V[1:t + 2, 1:t + 2, :t + 1]) + (1.0 - mL) * V[1:t + 2, :t + 1, :t + 1]
        qR = mR * (1.0 + V[:t + 1, :t + 1, 1:t + 2]) + (1.0 - mR) * V[:t + 1, :t + 1, :t + 1]
        d = np.full(qL.shape, 2, dtype=np.int8)
        tol = 1e-9
        d[qL > qR + tol] = 0
        d[qR > qL + tol] = 1
        decisions[t] = d
        Vt = np.maximum(qL, qR)
        V = np.zeros((horizon + 1,) * 3)
        V[:t + 1, :t + 1, :t + 1] = Vt
    return decisions, float(V[0, 0, 0])


def bayes_optimal_regret(horizon: int = 100, variant: str = "independent") -> float:
    """Expected regret of the Bayes-optimal agent under the training prior (exact)."""
    if variant == "independent":
        _, v0 = bayes_optimal_table(horizon)
        return horizon * 2.0 / 3.0 - v0  # E[max(p_L, p_R)] = 2/3 for i.i.d. U[0,1]
    if variant == "correlated":
        # greedy on the posterior mean is optimal; its value by DP over the evidence difference
        return _correlated_greedy_regret(horizon)
    raise ValueError(f"variant: expected 'independent' or 'correlated', got {variant!r}")


def _correlated_greedy_regret(horizon: int) -> float:
    # State: evidence counts (a, b) of the Beta(1+a, 1+b) posterior on p_L; a + b = t.
    # Greedy pulls the arm whose posterior mean is larger; the chosen arm's expected reward is
    # max(m, 1-m) with m = (a+1)/(t+2), whichever arm is pulled the evidence moves a or b with the
    # same predictive probabilities, so the value is a sum over the posterior-predictive walk.
    total = 0.0
    prob = np.array([1.0])  # P(a) after t trials, a = 0..t
    for t in range(horizon):
        a = np.arange(t + 1)
        m = (a + 1.0) / (t + 2.0)
        total += float((prob * np.maximum(m, 1.0 - m)).sum())
        new = np.zeros(t + 2)
        new[1:] += prob * m  # evidence for L grows with the posterior-predictive probability m
        new[:-1] += prob * (1.0 - m)
        prob = new
    return horizon * 0.75 - total  # E[max(p, 1-p)] = 3/4


# --------------------------------------------------------------------------------- Gittins
@lru_cache(maxsize=4)
def gittins_table(gamma: float = 0.99, max_count: int = 102, depth: int = 400,
                  n_lambda: int = 2001) -> np.ndarray:
    """Gittins indices G[a, b] of a Beta(a, b) arm (a, b ≥ 1, a + b ≤ max_count), discount gamma.

    Calibration: for each retirement reward λ on a grid, the value of "continue or retire for
    λ/(1 − γ)" is computed on the lattice a + b ≤ depth by backward induction along the
    diagonals; G(a, b) is the largest λ at which continuing is still at least as good.
    """
    lam = np.linspace(0.0, 1.0, n_lambda)[:, None]
    retire = lam / (1.0 - gamma)
    G = np.full((max_count + 1, max_count + 1), np.nan)
    # diagonal n holds states a = 1..n-1, b = n - a
    a = np.arange(1, depth)
    p = a / depth
    V = np.maximum(retire, p[None, :] / (1.0 - gamma))  # truncation: known-arm approximation
    for n in range(depth - 1, 1, -1):
        a = np.arange(1, n)
        p = a / n
        # successors on diagonal n+1 (index a-1 there): success → (a+1, b): index a; failure → (a, b+1): index a-1
        cont = p * (1.0 + gamma * V[:, a]) + (1.0 - p) * gamma * V[:, a - 1]
        if n <= max_count:
            ok = cont >= retire - 1e-12  # monotone in λ: continuing is worth it up to the index
            idx = ok.sum(0) - 1
            G[a, n - a] = lam[np.clip(idx, 0, n_lambda - 1), 0]
        V = np.maximum(retire, cont)
    return G


# ---------------------------------------------------------------------------------- running
def _choose(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """argmax over arms with uniform random tie-breaking; scores [N, K]."""
    noise = rng.random(scores.shape) * 1e-9
    best = scores.max(1, keepdims=True)
    return np.argmax(np.where(scores >= best - 1e-12, 1.0 + noise, 0.0), axis=1)


def simulate(name: str, probs: np.ndarray, trials: int, seed: int = 0, variant: str = "independent",
             outcomes: np.ndarray | None = None, gamma: float = 0.99,
             ucb_c: float = float(np.sqrt(2.0))):
    """Run agent ``name`` on episodes with arm probabilities ``probs`` [N, K].

    outcomes: optional reward tape [N, trials, K] (bool), as drawn by
    ``BanditTask.sample_params(..., outcomes=True)``; without it rewards are drawn here.

    Returns ``(actions, rewards)``, int and float arrays [N, trials].
    """
    if name not in AGENTS:
        raise ValueError(f"agent: expected one of {AGENTS}, got {name!r}")
    probs = np.asarray(probs, dtype=float)
    N, K = probs.shape
    rng = np.random.default_rng(seed)
    s = np.zeros((N, K))
    n = np.zeros((N, K))
    actions = np.zeros((N, trials), dtype=np.int64)
    rewards = np.zeros((N, trials))
    rows = np.arange(N)
    if name == "bayes_optimal":
        if K != 2:
            raise ValueError("bayes_optimal: exact DP is implemented for 2 arms only")
        if variant == "independent":
            decisions, _ = bayes_optimal_table(trials)
    if name == "gittins":
        G = gittins_table(gamma, max_count=trials + 2)
    for t in range(trials):
        if name == "bayes_optimal" and variant == "correlated":
            ev_l = s[:, 0] + (n[:, 1] - s[:, 1])
            ev_r = (n[:, 0] - s[:, 0]) + s[:, 1]
            a = _choose(np.stack([ev_l, ev_r], 1), rng)
        elif name == "bayes_optimal":
            d = decisions[t][n[:, 0].astype(int), s[:, 0].astype(int), s[:, 1].astype(int)]
            a = np.where(d == 2, rng.integers(0, 2, N), d)
        elif name == "gittins":
            a = _choose(G[(s + 1).astype(int), (n - s + 1).astype(int)], rng)
        elif name == "thompson":
            a = _choose(rng.beta(s + 1.0, n - s + 1.0), rng)
        elif name == "ucb1":
            mean = s / np.maximum(n, 1)
            bonus = ucb_c * np.sqrt(np.log(max(t, 1)) / np.maximum(n, 1))
            a = _choose(np.where(n == 0, np.inf, mean + bonus), rng)
        else:  # random
            a = rng.integers(0, K, N)
        if outcomes is not None:
            r = outcomes[rows, t, a].astype(float)
        else:
            r = (rng.random(N) < probs[rows, a]).astype(float)
        n[rows, a] += 1
        s[rows, a] += r
        actions[:, t], rewards[:, t] = a, r
    return actions, rewards


def regret_of(actions: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per-episode pseudo-regret Σ_t (max p − p_{a_t})."""
    probs = np.asarray(probs, dtype=float)
    chosen = np.take_along_axis(probs, actions, axis=1)
    return (probs.max(1, keepdims=True) - chosen).sum(1)


def run_agent(name: str, probs: np.ndarray, trials: int, seed: int = 0,
              variant: str = "independent", **kw) -> np.ndarray:
    """Per-episode regret of agent ``name`` on episodes with arm probabilities ``probs``."""
    actions, _ = simulate(name, probs, trials, seed=seed, variant=variant, **kw)
    return regret_of(actions, probs)


def available(name: str, task) -> bool:
    """Whether agent ``name`` can run on ``task`` (the exact DP needs K = 2)."""
    return name != "bayes_optimal" or task.arms == 2
