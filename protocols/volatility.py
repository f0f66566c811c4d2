"""Learning rate adapts to volatility — Wang et al. 2018 Sim 2 (Fig. 3); Behrens et al. 2007.

Task card
---------
Citation
    Wang, Kurth-Nelson et al. 2018, Nat Neurosci 21:860, Simulation 2, Fig. 3.
    Lab: Behrens, Woolrich, Walton & Rushworth 2007, Nat Neurosci 10:1214 (humans, n = 18).
Species
    Human.
Trial timeline
    One agent step per trial, a single phase ``choice`` (no fixation step: episodes are long).
    Two options; on every trial exactly one of them is "correct" (option a with probability
    r(t), b otherwise: perfectly anticorrelated). Both options' reward magnitudes are cued on
    every trial, M ~ 100·Beta(4, 4) drawn per trial and per option. Choosing the correct option
    pays its magnitude, the other pays 0. Rewards are in units of 100 points (so in [0, 1]).
Observation channels
    ``magnitude_a``, ``magnitude_b`` (M/100). Previous action and reward are added by the network.
Actions
    ``a``, ``b`` (Behrens' blue and green).
Training generative model (``schedule="training"``; Behrens' two-level model, per the paper)
    Volatility v ∈ {0, 0.2}; every trial, with probability v the correct side flips; with
    probability k the volatility toggles (v → 0.2 − v); log k ~ U[−4.5, −3.5] per episode;
    v(1) uniform on {0, 0.2}. The reward probability is 0.75/0.25 while v = 0, and
    ``volatile_level``/(1 − ``volatile_level``) while v = 0.2.
    Decision (protocols.md §4.2 ⚠): the shipped circuit is trained on the paper's *literal*
    model, r ∈ {0, 1} in volatile periods (``volatile_level=1.0``); the test schedules keep
    Behrens' 0.8/0.2. Measured (seed 0, 400 Behrens episodes): trained with the recommended
    0.8/0.2 instead (three set-ups), the circuit's fitted learning rate barely changed between
    phases (volatile/stable 1.0–1.25); trained on the literal model it adapts as the paper's
    does (≈ 2). The Bayesian observer of the analyses assumes 0.8/0.2 in volatile periods (the
    test schedule's level; with 1.0 every error in a volatile period would have likelihood 0).
Test schedules (the Behrens schedule, both orders; 200 trials)
    ``stable_first``: r = 0.75 or 0.25 (random) for 100 trials, then 0.8 ↔ 0.2 alternating every
    25 trials for 100 trials; ``volatile_first``: the same halves in the other order;
    ``behrens``: each episode one of the two orders at random (the paper's test: both types).
Training
    γ = 0.1 and the entropy cost annealed linearly from 1 to 0, as the paper (see
    :func:`train_defaults` for the rest).
Learning-rate analysis (decided, protocols.md §10 item 4)
    Rescorla–Wagner on the outcome (which option was correct), r̂ ← r̂ + α(o − r̂); choice rule
    P(a) = σ(β[r̂·M_a − (1 − r̂)·M_b]) (Behrens' form with magnitudes).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .base import StepResult, Task, check_actions

SCHEDULES = ("training", "stable_first", "volatile_first", "behrens")
V_HIGH = 0.2
LEVEL = {0: 0.75, 1: 0.8}  # P(a correct | side = a) when v = 0 / v = 0.2
BLOCK_NAMES = ("stable_1", "volatile_1", "volatile_2", "stable_2")

REFERENCE = {
    "lr_stable": {"paper": 0.245, "lab": 0.085, "source": "Fig. 3c,d: mean of stable blocks "
                  "(model ≈ 0.21, 0.28; humans ≈ 0.07, 0.10)"},
    "lr_volatile": {"paper": 0.485, "lab": 0.20, "source": "Fig. 3c,d: mean of volatile blocks "
                    "(model ≈ 0.46, 0.51; humans ≈ 0.19, 0.21)"},
    "lr_ratio_stable_first": {"paper": 2.0, "lab": 2.4, "source": "Fig. 3c,d: volatile / stable"},
    "lr_ratio_volatile_first": {"paper": 2.0, "lab": 2.4, "source": "Fig. 3c,d: volatile / stable"},
    "volatility_unit_fraction": {"paper": 0.37, "lab": None,
                                 "source": "Sim 2: 37 ± 1% of units code volatility (Bonferroni)"},
}


class VolatilityTask(Task):
    name = "volatility"
    citation = "Wang et al. 2018 Sim 2 (Fig. 3); Behrens et al. 2007"
    description = "anticorrelated two-option task with cued magnitudes and switching volatility"
    obs_names = ("magnitude_a", "magnitude_b")
    action_names = ("a", "b")

    def __init__(self, schedule: str = "training", trials: int = 200, volatile_level: float = LEVEL[1]):
        if not 0.5 <= volatile_level <= 1.0:
            raise ValueError(f"volatile_level: expected a probability in [0.5, 1], got {volatile_level}")
        self.volatile_level = float(volatile_level)
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule: expected one of {SCHEDULES}, got {schedule!r}")
        if not isinstance(trials, int) or trials < 1:
            raise ValueError(f"trials: expected a positive integer, got {trials!r}")
        if schedule != "training" and trials != 200:
            raise ValueError(f"trials: the Behrens schedules have 200 trials, got {trials}")
        self.schedule, self.trials = schedule, trials

    def config(self) -> dict:
        return {"schedule": self.schedule, "trials": self.trials,
                "volatile_level": self.volatile_level}

    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """The whole episode's latent sequence: p_a [n, trials] (P(a correct)), volatile
        [n, trials] (bool), log_k [n], order [n] (0 stable-first, 1 volatile-first, −1 for the
        training model); and the magnitudes [n, trials, 2] (M/100)."""
        T = self.trials
        u = torch.rand(n, T, 2, generator=generator)
        # Beta(4,4) by inverse CDF (torch's Beta sampler takes no generator)
        magnitudes = torch.tensor(_beta44_ppf(u.numpy()), dtype=torch.float32)
        if self.schedule == "training":
            log_k = -4.5 + torch.rand(n, generator=generator)
            k = log_k.exp().unsqueeze(1)
            vol = torch.zeros(n, T, dtype=torch.bool)
            side = torch.zeros(n, T, dtype=torch.bool)  # True: a is the likely-correct option
            v = torch.rand(n, generator=generator) < 0.5
            s = torch.rand(n, generator=generator) < 0.5
            flips = torch.rand(n, T, generator=generator)
            toggles = torch.rand(n, T, generator=generator)
            for t in range(T):  # latent chain over trials, vectorised over episodes
                vol[:, t], side[:, t] = v, s
                s = s ^ (v & (flips[:, t] < V_HIGH))
                v = v ^ (toggles[:, t] < k[:, 0])
            order = torch.full((n,), -1, dtype=torch.long)
        else:
            log_k = torch.full((n,), float("nan"))
            if self.schedule == "behrens":
                order = (torch.rand(n, generator=generator) < 0.5).long()
            else:
                order = torch.full((n,), int(self.schedule == "volatile_first"))
            second_half = (torch.arange(T) >= T // 2).expand(n, T)
            vol = torch.where(order.unsqueeze(1) == 0, second_half, ~second_half)
            start = torch.rand(n, generator=generator) < 0.5
            block = (torch.arange(T) % (T // 2)) // 25  # alternate every 25 trials
            alt = (block % 2 == 1).expand(n, T)
            side = torch.where(vol, start.unsqueeze(1) ^ alt, start.unsqueeze(1).expand(n, T))
        high = self.volatile_level if self.schedule == "training" else LEVEL[1]
        level = torch.where(vol, high, LEVEL[0])
        p_a = torch.where(side, level, 1.0 - level)
        return {"p_a": p_a, "volatile": vol, "log_k": log_k, "magnitudes": magnitudes,
                "order": order}

    def reset(self, batch_size: int, generator: torch.Generator, params: dict | None = None):
        self.generator, self.batch_size = generator, batch_size
        params = params if params is not None else self.sample_params(batch_size, generator)
        self.p_a, self.volatile = params["p_a"].clone(), params["volatile"].clone()
        self.magnitudes = params["magnitudes"].clone()
        self.log_k, self.order = params["log_k"].clone(), params["order"].clone()
        self.t = torch.zeros(batch_size, dtype=torch.long)
        return self._obs()

    def _obs(self) -> torch.Tensor:
        rows = torch.arange(self.batch_size)
        return self.magnitudes[rows, self.t.clamp(max=self.trials - 1)]

    def clock(self) -> tuple:
        return self.t.clone(), torch.zeros_like(self.t)

    def step(self, action: torch.Tensor) -> StepResult:
        check_actions(action, 2, self.batch_size)
        rows = torch.arange(self.batch_size)
        t = self.t
        p_a = self.p_a[rows, t]
        a_correct = torch.rand(self.batch_size, generator=self.generator) < p_a
        correct = torch.where(a_correct, 0, 1)
        mags = self.magnitudes[rows, t]
        reward = torch.where(action == correct, mags.gather(1, action.unsqueeze(1)).squeeze(1), 0.0)
        info = {"trial": t.clone(), "p_a": p_a, "volatile": self.volatile[rows, t],
                "correct": correct, "magnitudes": mags, "order": self.order.clone()}
        self.t = t + 1
        done = self.t >= self.trials
        if bool(done.any()):
            new = self.sample_params(int(done.sum()), self.generator)
            for name in ("p_a", "volatile", "magnitudes", "log_k", "order"):
                getattr(self, name)[done] = new[name]
            self.t[done] = 0
        return StepResult(self._obs(), reward, done, info)

    def trial_table(self, batch: dict) -> dict:
        """Columns: episode, trial, choice (0 a, 1 b), reward, correct (0 a, 1 b), p_a,
        volatile (bool), magnitude_a, magnitude_b (M/100), order (0 stable-first,
        1 volatile-first, −1 training model)."""
        info, valid = batch["info"], batch["valid"].numpy()
        b, T = valid.shape
        ep = np.broadcast_to(np.arange(b)[:, None], (b, T))
        mags = info["magnitudes"].numpy()
        return {
            "episode": ep[valid].astype(np.int64),
            "trial": info["trial"].numpy()[valid].astype(np.int32),
            "choice": batch["actions"].numpy()[valid].astype(np.int16),
            "reward": batch["rewards"].numpy()[valid].astype(np.float32),
            "correct": info["correct"].numpy()[valid].astype(np.int8),
            "p_a": info["p_a"].numpy()[valid].astype(np.float32),
            "volatile": info["volatile"].numpy()[valid],
            "magnitude_a": mags[:, :, 0][valid].astype(np.float32),
            "magnitude_b": mags[:, :, 1][valid].astype(np.float32),
            "order": info["order"].numpy()[valid].astype(np.int8),
        }


def _beta44_ppf(u: np.ndarray) -> np.ndarray:
    from scipy.stats import beta

    return beta.ppf(u, 4.0, 4.0)


def train_defaults(**_) -> dict:
    """The shipped volatility circuit's training: the paper's γ = 0.1, entropy cost 1 → 0 and
    generative model (literal: r ∈ {0, 1} in volatile periods, see the task card); Adam
    annealed 1e-3 → 5e-5 (the paper's final rate) in place of the paper's RMSProp at 5e-5 over
    40,000 single-episode updates; 48 LSTM units; many small updates (32 episodes × 20-step
    unrolls, state carried across unrolls: 23,000 updates in 15 M steps)."""
    return {
        "circuit": {"protocol": "volatility",
                    "task": {"schedule": "training", "volatile_level": 1.0}, "core": "lstm",
                    "n_units": 48, "gamma": 0.1},
        "steps": 15_000_000, "batch_size": 32, "t_max": 20,
        "optimizer": "adam", "lr": 1e-3, "lr_final": 5e-5,
        "beta_v": 0.25, "beta_e": 1.0, "beta_e_final": 0.0,
        "eval_every": 3_000_000, "eval_episodes": 500, "checkpoint_every": 10_000_000,
    }


# ------------------------------------------------------------------------- Bayesian observer
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
    from scipy.optimize import minimize

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
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GroupKFold, cross_val_predict

    pred = cross_val_predict(RidgeCV(alphas=np.logspace(-3, 3, 13)), hidden, target,
                             groups=groups, cv=GroupKFold(n_splits=folds))
    return float(np.corrcoef(pred, target)[0, 1])


def volatility_units(rec, max_episodes: int = 100) -> np.ndarray:
    """Per episode, the fraction of units whose activity depends on the true volatility (0/1)
    with previous reward, next action and the true reward probability as covariates (OLS,
    statsmodels; P < 0.05 Bonferroni-corrected over units). Returns one fraction per episode."""
    import statsmodels.api as sm

    tr, H = rec.trials, rec.units["hidden"]
    eps = np.unique(tr["episode"])[:max_episodes]
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
    stats = {}
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
                                             if len(frac) > 1 else None}
    ref = {k: REFERENCE[k] for k in REFERENCE if k in stats}
    for k in ("lr_stable_1", "lr_stable_2"):
        if k in stats:
            ref[k] = REFERENCE["lr_stable"]
    for k in ("lr_volatile_1", "lr_volatile_2"):
        if k in stats:
            ref[k] = REFERENCE["lr_volatile"]
    return {"protocol": "volatility", "stats": stats, "reference": ref,
            "curves": {"bayes_volatility_mean": bayes["volatility"].mean(0).tolist()}}


def figures(rec, result: dict, outdir: str) -> list[str]:
    """Fig. 3d-like bars of the learning rate by block."""
    from .plotting import save, subplots

    st = result["stats"]
    names = [n for n in BLOCK_NAMES if f"lr_{n}" in st]
    fig, ax = subplots(figsize=(4, 3.2))
    ax.bar(range(len(names)), [st[f"lr_{n}"]["value"] for n in names],
           color=["tab:blue" if n.startswith("stable") else "tab:red" for n in names])
    ax.set_xticks(range(len(names)), [n.replace("_", " ") for n in names])
    ax.set_yscale("log")
    ax.set_ylabel("learning rate (RW fit)")
    return save(fig, outdir, "volatility")
