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
    Decision: the shipped circuit is trained on the paper's *literal*
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
Learning-rate analysis (decided)
    Rescorla–Wagner on the outcome (which option was correct), r̂ ← r̂ + α(o − r̂); choice rule
    P(a) = σ(β[r̂·M_a − (1 − r̂)·M_b]) (Behrens' form with magnitudes).
"""
from __future__ import annotations

import numpy as np
import torch

from pfcda.errors import ConfigError

from ..base import Task

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
    obs_names = ("magnitude_a", "magnitude_b")
    action_names = ("a", "b")

    def __init__(self, schedule: str = "training", trials: int = 200, volatile_level: float = LEVEL[1]):
        if isinstance(volatile_level, bool) or not isinstance(volatile_level, (int, float)) \
                or not 0.5 <= volatile_level <= 1.0:
            raise ConfigError(f"volatile_level: expected a probability in [0.5, 1], got {volatile_level}")
        self.volatile_level = float(volatile_level)
        if schedule not in SCHEDULES:
            raise ConfigError(f"schedule: expected one of {SCHEDULES}, got {schedule!r}")
        if not isinstance(trials, int) or trials < 1:
            raise ConfigError(f"trials: expected a positive integer, got {trials!r}")
        if schedule != "training" and trials != 200:
            raise ConfigError(f"trials: the Behrens schedules have 200 trials, got {trials}")
        self.schedule, self.trials = schedule, trials
        if schedule != "training":  # the test schedules' volatile periods are Behrens' 0.8/0.2
            self.volatile_level = LEVEL[1]

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

    def _obs(self) -> torch.Tensor:
        rows = torch.arange(self.batch_size)
        return self.params["magnitudes"][rows, self.t.clamp(max=self.trials - 1)]

    def _step(self, action: torch.Tensor):
        rows = torch.arange(self.batch_size)
        t = self.t
        p_a = self.params["p_a"][rows, t]
        a_correct = torch.rand(self.batch_size, generator=self.generator) < p_a
        correct = torch.where(a_correct, 0, 1)
        mags = self.params["magnitudes"][rows, t]
        reward = torch.where(action == correct, mags.gather(1, action.unsqueeze(1)).squeeze(1), 0.0)
        info = {"trial": t.clone(), "p_a": p_a, "volatile": self.params["volatile"][rows, t],
                "correct": correct, "magnitudes": mags, "order": self.params["order"].clone()}
        return reward, info

    def trial_table(self, batch) -> dict:
        """Columns: episode, trial, choice (0 a, 1 b), reward, correct (0 a, 1 b), p_a,
        volatile (bool), magnitude_a, magnitude_b (M/100), order (0 stable-first,
        1 volatile-first, −1 training model)."""
        valid = batch.rows()
        mags = batch.np("magnitudes")
        return {
            "episode": batch.episode()[valid].astype(np.int64),
            "trial": batch.np("trial")[valid].astype(np.int32),
            "choice": batch.np("action")[valid].astype(np.int16),
            "reward": batch.np("reward")[valid].astype(np.float32),
            "correct": batch.np("correct")[valid].astype(np.int8),
            "p_a": batch.np("p_a")[valid].astype(np.float32),
            "volatile": batch.np("volatile")[valid],
            "magnitude_a": mags[:, :, 0][valid].astype(np.float32),
            "magnitude_b": mags[:, :, 1][valid].astype(np.float32),
            "order": batch.np("order")[valid].astype(np.int8),
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
