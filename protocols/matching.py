"""Baited two-armed foraging (matching) — Wang et al. 2018 Sim 1 (Fig. 2); Tsutsui et al. 2016;
Lau & Glimcher 2005.

Task card
---------
Citation
    Wang, Kurth-Nelson et al. 2018, Nat Neurosci 21:860, Simulation 1, Fig. 2.
    Lab: Tsutsui, Grabenhorst, Kobayashi & Schultz 2016, Nat Commun 7:12554 (2 rhesus macaques,
    205 DLPFC neurons); Lau & Glimcher 2005, J Exp Anal Behav 84:555 (rhesus monkeys).
Species
    Rhesus macaque.
Trial timeline (2 agent steps per trial)
    ``fixation``: a central fixation cue; the agent must emit ``fixate`` (else reward −1).
    ``choice``: the two targets; the agent must emit ``left`` or ``right`` (``fixate`` here is
    invalid: reward −1, no choice). The chosen arm pays its bait (1) or nothing (0).
Observation channels
    ``fixation_cue``, ``choice_cue`` (one-hot of the phase). Previous action and reward are added
    by the network.
Actions
    ``fixate`` (a_C), ``left`` (a_L), ``right`` (a_R).
Reward rule (baiting)
    At every trial each arm independently becomes baited with its base probability p₀(a); a bait
    stays until that arm is chosen. So an arm unchosen for n trials pays with probability
    1 − (1 − p₀)^(n+1), the paper's formula. Invalid responses: −1.
Episode parameters
    p₀(right) ~ U[0, 0.5], p₀(left) = 0.5 − p₀(right) (the sum is constant, as in Tsutsui);
    trials per episode ~ U{50, …, 100}.
Lab schedules
    ``schedule=PATH`` replays a lab's sessions: a CSV with columns ``p_left, p_right`` (each
    trial's base probabilities), optional ``episode`` (several sessions of any lengths: run
    episode k replays session k mod n with its number of trials) and ``baited`` (0/1 per
    session: with 0 a bait lasts one trial only, as in unbaited bandits). ``pfcda replay``
    writes such a file from lab data (the dynamic-foraging mice).
Training distribution vs held-out test conditions
    ``split="train"``: p₀(right) ∈ [0, 0.1] ∪ [0.2, 0.3] ∪ [0.4, 0.5];
    ``split="heldout"``: p₀(right) ∈ [0.1, 0.2] ∪ [0.3, 0.4] (the paper's generalisation points);
    ``split="all"``: U[0, 0.5].
Training
    γ = 0.75 (the paper's), other hyperparameters the shared defaults (see :func:`train_defaults`).

Decisions on the open choices (protocols.md §10, items 5, 6)
    * Choice-history regressors are coded +1 right / −1 left (Lau & Glimcher's convention:
      positive = tendency to repeat); reward history is binary, +1 rewarded right / −1 rewarded
      left / 0 unrewarded. The paper's Fig. 2f plots choice coefficients on an inverted axis.
    * "Choice value" for the unit analysis is the true instantaneous reward probability of the
      left arm, 1 − (1 − p₀(left))^(n_left + 1), at the trial's fixation step (the paper uses the
      left value only, as the two are anticorrelated).
    * An invalid response at the choice step counts as no choice: the trial is excluded from the
      behavioural analyses (and counted in ``excluded_trials``).
"""
from __future__ import annotations

import numpy as np
import torch

from .base import StepResult, Task, check_actions, episode_positions

SPLITS = ("train", "heldout", "all")
FIXATE, LEFT, RIGHT = 0, 1, 2

#: Published values (Wang et al. 2018 Fig. 2 read off the figures, ±0.02–0.05; lab values
#: as cited there). See shared protocols.md §3.
REFERENCE = {
    "matching_slope": {"paper": 0.5, "lab": 0.5,
                       "source": "Fig. 2a/d: model and Lau & Glimcher monkeys undermatch, slope ≈ 0.5"},
    "reward_coef_lag1": {"paper": 1.0, "lab": 3.3,
                         "source": "Fig. 2c,f: lag-1 reward coefficient (model ≈ 1.0; "
                                   "Lau & Glimcher ≈ 3.3; Tsutsui 1.25)"},
    "choice_coef_lag1": {"paper": 5.1, "lab": -1.95,
                         "source": "Fig. 2c,f (the model's axis is inverted in the figure; "
                                   "Lau & Glimcher's lag-1 choice coefficient −1.95)"},
    "unit_abs_r_last_action": {"paper": 0.22, "lab": None, "source": "Fig. 2e, mean |r|"},
    "unit_abs_r_last_reward": {"paper": 0.07, "lab": None, "source": "Fig. 2e, mean |r|"},
    "unit_abs_r_action_x_reward": {"paper": 0.11, "lab": None, "source": "Fig. 2e, mean |r|"},
    "unit_abs_r_value_left": {"paper": 0.21, "lab": None, "source": "Fig. 2e, mean |r|"},
    "unit_frac_last_action": {"paper": None, "lab": 0.21, "source": "Fig. 2b, Tsutsui neurons "
                              "coding previous action during fixation"},
    "unit_frac_last_reward": {"paper": None, "lab": 0.165, "source": "Fig. 2b (Tsutsui)"},
    "unit_frac_action_x_reward": {"paper": None, "lab": 0.13, "source": "Fig. 2b (Tsutsui)"},
    "unit_frac_value_left": {"paper": None, "lab": 0.33, "source": "Fig. 2b (Tsutsui)"},
}


def _sample_p0_right(n: int, split: str, g: torch.Generator) -> torch.Tensor:
    u = torch.rand(n, generator=g)
    if split == "all":
        return 0.5 * u
    bins = torch.tensor([0.0, 0.2, 0.4]) if split == "train" else torch.tensor([0.1, 0.3])
    k = torch.randint(len(bins), (n,), generator=g)
    return bins[k] + 0.1 * u


class MatchingTask(Task):
    name = "matching"
    citation = "Wang et al. 2018 Sim 1 (Fig. 2); Tsutsui et al. 2016; Lau & Glimcher 2005"
    description = "baited two-armed foraging, fixation then choice, p0 sum 0.5, 50-100 trials"
    obs_names = ("fixation_cue", "choice_cue")
    action_names = ("fixate", "left", "right")
    phase_names = ("fixation", "choice")
    outcome_phase = 1  # the step whose reward is the trial's outcome (events)

    def __init__(self, split: str = "train", min_trials: int = 50, max_trials: int = 100,
                 p0_right=None, schedule: str | None = None):
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
        if not (isinstance(min_trials, int) and isinstance(max_trials, int) and 1 <= min_trials <= max_trials):
            raise ValueError(f"min_trials, max_trials: expected integers 1 ≤ min ≤ max, "
                             f"got {min_trials}, {max_trials}")
        if p0_right is not None and not 0.0 <= float(p0_right) <= 0.5:
            raise ValueError(f"p0_right: expected a probability in [0, 0.5], got {p0_right}")
        self.split, self.min_trials, self.max_trials = split, min_trials, max_trials
        self.p0_right = None if p0_right is None else float(p0_right)
        self.schedule = schedule
        self._sessions = None if schedule is None else load_sessions(schedule)
        self._next_session = 0

    def config(self) -> dict:
        return {"split": self.split, "min_trials": self.min_trials, "max_trials": self.max_trials,
                "p0_right": self.p0_right, "schedule": self.schedule}

    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """p0: base probabilities, [n, 2] for the task's own episodes, [n, trials, 2] (trial by
        trial) with ``schedule``; n_trials [n]; baited [n]."""
        if self._sessions is not None:
            k = (self._next_session + torch.arange(n)) % len(self._sessions["n_trials"])
            self._next_session = int(k[-1]) + 1 if n else self._next_session
            return {"p0": self._sessions["p0"][k].clone(), "n_trials": self._sessions["n_trials"][k].clone(),
                    "baited": self._sessions["baited"][k].clone()}
        if self.p0_right is not None:
            pr = torch.full((n,), self.p0_right)
        else:
            pr = _sample_p0_right(n, self.split, generator)
        trials = torch.randint(self.min_trials, self.max_trials + 1, (n,), generator=generator)
        return {"p0": torch.stack([0.5 - pr, pr], 1), "n_trials": trials,
                "baited": torch.ones(n, dtype=torch.bool)}

    def reset(self, batch_size: int, generator: torch.Generator, params: dict | None = None):
        self.generator, self.batch_size = generator, batch_size
        params = params if params is not None else self.sample_params(batch_size, generator)
        p0 = params["p0"].clone().float()
        self.p0 = p0.unsqueeze(1) if p0.dim() == 2 else p0  # [B, trials (or 1), 2]
        self.n_trials = params["n_trials"].clone().long()
        self.baited = params.get("baited", torch.ones(batch_size, dtype=torch.bool)).clone()
        if self.p0.shape[0] != batch_size or self.p0.shape[2:] != (2,) or self.n_trials.shape != (batch_size,):
            raise ValueError(f"params: expected p0 [{batch_size}, (trials,) 2] and n_trials [{batch_size}]")
        self._start(torch.ones(batch_size, dtype=torch.bool))
        return self._obs()

    def _start(self, which: torch.Tensor) -> None:
        if not hasattr(self, "trial"):
            self.trial = torch.zeros(self.batch_size, dtype=torch.long)
            self.phase = torch.zeros(self.batch_size, dtype=torch.long)
            self.bait = torch.zeros(self.batch_size, 2, dtype=torch.bool)
            self.unchosen = torch.zeros(self.batch_size, 2, dtype=torch.long)
        self.trial[which] = 0
        self.phase[which] = 0
        self.bait[which] = False
        self.unchosen[which] = 0

    def _obs(self) -> torch.Tensor:
        return torch.nn.functional.one_hot(self.phase, 2).float()

    def clock(self) -> tuple:
        return self.trial.clone(), self.phase.clone()

    def step(self, action: torch.Tensor) -> StepResult:
        check_actions(action, 3, self.batch_size)
        B = self.batch_size
        fix = self.phase == 0
        reward = torch.zeros(B)
        # fixation phase: only `fixate` is valid
        reward[fix & (action != FIXATE)] = -1.0
        # choice phase: bait, then pay the chosen arm's bait
        cho = ~fix
        p0 = self.p0[torch.arange(B), self.trial.clamp(max=self.p0.shape[1] - 1)]
        value_left = 1.0 - (1.0 - p0[:, 0]) ** (self.unchosen[:, 0] + 1).float()
        new_bait = torch.rand(B, 2, generator=self.generator) < p0
        self.bait[cho] |= new_bait[cho]
        arm = (action - 1).clamp(min=0)
        valid_choice = cho & (action != FIXATE)
        paid = self.bait.gather(1, arm.unsqueeze(1)).squeeze(1) & valid_choice
        reward[valid_choice] = paid[valid_choice].float()
        reward[cho & (action == FIXATE)] = -1.0
        chosen = torch.zeros(B, 2, dtype=torch.bool)
        chosen[valid_choice, arm[valid_choice]] = True
        self.bait &= ~chosen
        self.bait &= (self.baited | ~cho).unsqueeze(1)  # unbaited: a bait lasts one trial
        self.unchosen[cho] = torch.where(chosen[cho], 0, self.unchosen[cho] + 1)
        info = {"trial": self.trial.clone(), "phase": self.phase.clone(),
                "p0": p0, "value_left": value_left,
                "n_trials": self.n_trials.clone()}
        # advance
        self.trial = torch.where(cho, self.trial + 1, self.trial)
        self.phase = 1 - self.phase
        done = cho & (self.trial >= self.n_trials)
        if bool(done.any()):
            new = self.sample_params(int(done.sum()), self.generator)
            self.p0[done] = new["p0"].view(int(done.sum()), -1, 2)
            self.n_trials[done] = new["n_trials"]
            self.baited[done] = new["baited"]
            self._start(done)
        return StepResult(self._obs(), reward, done, info)

    # ---------------------------------------------------------------- recordings (numpy)
    def step_labels(self, batch: dict) -> dict:
        return {"trial": batch["info"]["trial"].numpy(), "phase": batch["info"]["phase"].numpy()}

    def trial_table(self, batch: dict) -> dict:
        """Columns: episode, trial, choice (1 left, 2 right, 0 invalid), reward (of the choice
        step), fixation_error, p0_left, p0_right, value_left (at the choice step, before it),
        n_trials."""
        info, valid = batch["info"], batch["valid"].numpy()
        phase = info["phase"].numpy()
        fix = (phase == 0) & valid
        cho = (phase == 1) & valid
        b, T = phase.shape
        ep = np.broadcast_to(np.arange(b)[:, None], (b, T))
        a = batch["actions"].numpy()
        r = batch["rewards"].numpy()
        # each trial = one fixation step followed by its choice step
        return {
            "episode": ep[cho].astype(np.int64),
            "trial": info["trial"].numpy()[cho].astype(np.int32),
            "choice": a[cho].astype(np.int16),
            "reward": r[cho].astype(np.float32),
            "fixation_error": (a[fix] != FIXATE),
            "p0_left": info["p0"].numpy()[:, :, 0][cho].astype(np.float32),
            "p0_right": info["p0"].numpy()[:, :, 1][cho].astype(np.float32),
            "value_left": info["value_left"].numpy()[cho].astype(np.float32),
            "n_trials": info["n_trials"].numpy()[cho].astype(np.int32),
        }


def load_sessions(path: str) -> dict:
    """A foraging schedule file (see the task card) → {"p0" [sessions, max trials, 2] (padded
    with each session's last row), "n_trials" [sessions], "baited" [sessions]}, validated."""
    import os

    import pandas as pd

    if not os.path.isfile(path):
        raise ValueError(f"schedule: no file {path!r}")
    df = pd.read_csv(path, sep=None, engine="python")
    missing = [c for c in ("p_left", "p_right") if c not in df.columns]
    if missing:
        raise ValueError(f"schedule {path}: missing column(s) {missing}; expected p_left, p_right "
                         f"(optional episode, baited)")
    for col in ("p_left", "p_right") + (("baited",) if "baited" in df.columns else ()):
        v = pd.to_numeric(df[col], errors="coerce").to_numpy()
        bad = ~np.isfinite(v) | (v < 0) | (v > 1) | ((~np.isin(v, (0, 1))) if col == "baited" else False)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            expected = "0 or 1" if col == "baited" else "a probability in [0, 1]"
            raise ValueError(f"schedule {path}: column {col!r}, row {row + 1}: expected {expected}, "
                             f"got {df[col].iloc[row]!r}")
    p = df[["p_left", "p_right"]].to_numpy(float)
    ep = df["episode"].to_numpy() if "episode" in df.columns else np.zeros(len(df))
    cut = np.r_[0, np.flatnonzero(ep[1:] != ep[:-1]) + 1, len(df)]
    if len({str(ep[a]) for a in cut[:-1]}) != len(cut) - 1:
        raise ValueError(f"schedule {path}: column 'episode': each session's rows must be contiguous")
    lengths = np.diff(cut)
    T = int(lengths.max())
    p0 = np.stack([np.pad(p[a:b], ((0, T - (b - a)), (0, 0)), mode="edge") for a, b in zip(cut[:-1], cut[1:])])
    if "baited" in df.columns:
        b = df["baited"].to_numpy().astype(float)
        for a, e in zip(cut[:-1], cut[1:]):
            if np.any(b[a:e] != b[a]):
                row = a + int(np.flatnonzero(b[a:e] != b[a])[0])
                raise ValueError(f"schedule {path}: column 'baited', row {row + 1}: a session is baited "
                                 f"or not throughout (its first row says {int(b[a])})")
        baited = b[cut[:-1]] > 0
    else:
        baited = np.ones(len(lengths), bool)
    return {"p0": torch.tensor(p0, dtype=torch.float32), "n_trials": torch.tensor(lengths),
            "baited": torch.tensor(baited)}


def train_defaults(split: str = "train", **_) -> dict:
    """The shipped matching circuit's training configuration: the paper's γ = 0.75 and 48 LSTM
    units; many small updates (32 episodes × 10-step unrolls, the state carried across unrolls:
    47,000 updates in 15 M steps). Measured on held-out p₀ (seed 0): with 128 × 100-step
    unrolls for 40 M steps the circuit alternated and undermatched (slope 0.24, left-value
    coding below last-reward coding); with 32 × 20-step unrolls the reward kernel stayed flat
    over lags 1–6 (Σ lags 4–15 > Σ lags 1–3); 10-step unrolls gave the paper's pattern."""
    return {
        "circuit": {"protocol": "matching", "task": {"split": split}, "core": "lstm",
                    "n_units": 48, "gamma": 0.75},
        "steps": 15_000_000, "batch_size": 32, "t_max": 10,
        "optimizer": "adam", "lr": 2e-3, "lr_final": 1e-4,
        "beta_v": 0.25, "beta_e": 0.05, "beta_e_final": 0.0,
        "eval_every": 1_500_000, "eval_episodes": 500, "checkpoint_every": 5_000_000,
    }


# ------------------------------------------------------------------------------- analyses
STATS = {
    "matching_slope": "slope of log2(C_R/C_L) on log2(R_R/R_L) across episodes (OLS; episodes "
                      "with a zero count are excluded), ± its standard error; 1 = matching, "
                      "< 1 = undermatching (Fig. 2a,d)",
    "matching_r2": "R² of that regression",
    "reward_coef_lag1": "logistic-regression weight of the lag-1 reward history on choosing "
                        "right (last 2/3 of each episode; ±1 by side if rewarded, else 0), ± se",
    "reward_coef_sum_lags1_3": "sum of the reward weights at lags 1–3",
    "reward_coef_sum_lags4_15": "sum of the reward weights at lags 4–15",
    "choice_coef_lag1": "weight of the lag-1 choice history (+1 right, −1 left), ± se",
    "unit_abs_r_last_action": "mean over units of |partial Spearman r| between activity at the "
                              "fixation step and the previous action (Fig. 2e)",
    "unit_abs_r_last_reward": "the same for the previous reward",
    "unit_abs_r_action_x_reward": "the same for previous action × previous reward",
    "unit_abs_r_value_left": "the same for the left arm's current reward probability",
    "unit_frac_last_action": "fraction of units whose partial correlation with the previous "
                             "action is significant (P < 0.05, Bonferroni over units)",
    "unit_frac_last_reward": "the same for the previous reward",
    "unit_frac_action_x_reward": "the same for action × reward",
    "unit_frac_value_left": "the same for the left value",
    "excluded_trials": "trials excluded from the behavioural analyses (invalid choice)",
}

N_LAGS = 15


def valid_trials(trials: dict) -> np.ndarray:
    return np.isin(trials["choice"], (LEFT, RIGHT))


def matching(trials: dict):
    """Per-episode log2 choice and reward ratios and the OLS slope (statsmodels)."""
    import statsmodels.api as sm

    ok = valid_trials(trials)
    ep = trials["episode"][ok]
    right = trials["choice"][ok] == RIGHT
    rew = trials["reward"][ok] > 0
    eps, inv = np.unique(ep, return_inverse=True)
    c_r = np.bincount(inv, right, len(eps))
    c_l = np.bincount(inv, ~right, len(eps))
    r_r = np.bincount(inv, right & rew, len(eps))
    r_l = np.bincount(inv, ~right & rew, len(eps))
    use = (c_r > 0) & (c_l > 0) & (r_r > 0) & (r_l > 0)
    x, y = np.log2(r_r[use] / r_l[use]), np.log2(c_r[use] / c_l[use])
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    return {"x": x, "y": y, "slope": float(fit.params[1]), "slope_se": float(fit.bse[1]),
            "intercept": float(fit.params[0]), "r2": float(fit.rsquared), "episodes": int(use.sum())}


def history_design(trials: dict, n_lags: int = N_LAGS, fraction_kept: float = 2 / 3):
    """Design matrix of the lag regression (Lau & Glimcher 2005): for lags 1..n, reward history
    (+1 rewarded right, −1 rewarded left, 0 unrewarded or no choice) and choice history (+1
    right, −1 left, 0 none), within episodes; rows are valid trials in the last
    ``fraction_kept`` of each episode with a full history. Returns (X, y, names)."""
    ep, trial = trials["episode"], trials["trial"]
    choice = trials["choice"]
    side = np.where(choice == RIGHT, 1.0, np.where(choice == LEFT, -1.0, 0.0))
    rew = side * (trials["reward"] > 0)
    _, start = np.unique(ep, return_index=True)
    counts = np.diff(np.r_[start, len(ep)])
    n_in_ep = np.repeat(counts, counts)
    cols, names = [], []
    for label, series in (("reward", rew), ("choice", side)):
        for k in range(1, n_lags + 1):
            lagged = np.r_[np.zeros(k), series[:-k]]
            same_ep = np.r_[np.zeros(k, bool), ep[k:] == ep[:-k]]
            cols.append(np.where(same_ep, lagged, 0.0))
            names.append(f"{label}_lag{k}")
    X = np.stack(cols, 1)
    keep = (side != 0) & (trial >= n_in_ep * (1 - fraction_kept)) & (trial >= n_lags)
    return X[keep], (side[keep] > 0).astype(float), names


def lag_regression(trials: dict, n_lags: int = N_LAGS):
    """Logistic regression of choosing right on reward and choice history (statsmodels Logit)."""
    import statsmodels.api as sm

    X, y, names = history_design(trials, n_lags)
    fit = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
    coef = dict(zip(names, fit.params[1:]))
    se = dict(zip(names, fit.bse[1:]))
    return {"coef": coef, "se": se, "n": len(y),
            "reward": np.array([coef[f"reward_lag{k}"] for k in range(1, n_lags + 1)]),
            "choice": np.array([coef[f"choice_lag{k}"] for k in range(1, n_lags + 1)])}


def partial_spearman(activity: np.ndarray, factors: np.ndarray):
    """Partial Spearman correlation of each unit with each factor, controlling for the other
    factors: rank-transform, regress the others out of both, correlate the residuals.
    activity [n, units], factors [n, f] → (r [units, f], p [units, f])."""
    from scipy import stats

    A = stats.rankdata(activity, axis=0)
    F = stats.rankdata(factors, axis=0)
    n, nf = F.shape
    r = np.zeros((A.shape[1], nf))
    for j in range(nf):
        Z = np.column_stack([np.ones(n), np.delete(F, j, axis=1)])
        fz = F[:, j] - Z @ np.linalg.lstsq(Z, F[:, j], rcond=None)[0]
        az = A - Z @ np.linalg.lstsq(Z, A, rcond=None)[0]
        num = (az * fz[:, None]).sum(0)
        den = np.sqrt((az ** 2).sum(0) * (fz ** 2).sum())
        r[:, j] = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    dof = n - 2 - (nf - 1)
    t = r * np.sqrt(dof / np.clip(1 - r ** 2, 1e-12, None))
    p = 2 * stats.t.sf(np.abs(t), dof)
    return r, p


UNIT_FACTORS = ("last_action", "last_reward", "action_x_reward", "value_left")


def unit_coding(rec):
    """Fig. 2e: partial rank correlation of every unit's activity at the fixation step of trial
    t with the previous action (+1 right, −1 left), the previous reward, their product and the
    left value; trials with a valid previous choice in the same episode."""
    s, tr = rec.steps, rec.trials
    hidden = rec.units["hidden"]
    fix_rows = np.flatnonzero(s["phase"] == 0)
    # trials table rows are in the same (episode, trial) order as the fixation steps
    prev_ok = np.r_[False, (tr["episode"][1:] == tr["episode"][:-1]) & valid_trials(tr)[:-1]]
    prev_side = np.r_[0.0, np.where(tr["choice"][:-1] == RIGHT, 1.0, -1.0)]
    prev_rew = np.r_[0.0, (tr["reward"][:-1] > 0).astype(float)]
    F = np.column_stack([prev_side, prev_rew, prev_side * prev_rew, tr["value_left"]])[prev_ok]
    r, p = partial_spearman(hidden[fix_rows][prev_ok], F)
    return r, p


def analyze(rec, seed: int = 0) -> dict:
    tr = rec.trials
    m = matching(tr)
    lag = lag_regression(tr)
    stats = {
        "matching_slope": {"value": m["slope"], "sem": m["slope_se"]},
        "matching_r2": {"value": m["r2"], "sem": None},
        "reward_coef_lag1": {"value": float(lag["reward"][0]), "sem": float(lag["se"]["reward_lag1"])},
        "reward_coef_sum_lags1_3": {"value": float(lag["reward"][:3].sum()), "sem": None},
        "reward_coef_sum_lags4_15": {"value": float(lag["reward"][3:].sum()), "sem": None},
        "choice_coef_lag1": {"value": float(lag["choice"][0]), "sem": float(lag["se"]["choice_lag1"])},
    }
    if "hidden" in rec.units:
        r, p = unit_coding(rec)
        n_units = r.shape[0]
        for j, name in enumerate(UNIT_FACTORS):
            a = np.abs(r[:, j])
            stats[f"unit_abs_r_{name}"] = {"value": float(a.mean()),
                                           "sem": float(a.std(ddof=1) / np.sqrt(n_units))}
            stats[f"unit_frac_{name}"] = {"value": float((p[:, j] < 0.05 / n_units).mean()),
                                          "sem": None}
    stats["excluded_trials"] = {"value": int((~valid_trials(tr)).sum()), "sem": None}
    return {"protocol": "matching", "stats": stats,
            "reference": {k: v for k, v in REFERENCE.items() if k in stats},
            "curves": {"matching_x": m["x"].tolist(), "matching_y": m["y"].tolist(),
                       "reward_coefs": lag["reward"].tolist(), "choice_coefs": lag["choice"].tolist()}}


def figures(rec, result: dict, outdir: str) -> list[str]:
    """Fig. 2d (matching), Fig. 2f (lag coefficients), Fig. 2e (unit coding) analogues."""
    from .plotting import save, subplots

    c, st = result["curves"], result["stats"]
    fig, axes = subplots(1, 3, figsize=(11, 3.2))
    ax = axes[0]
    ax.scatter(c["matching_x"], c["matching_y"], s=5, color="k", alpha=0.5)
    xs = np.linspace(min(c["matching_x"]), max(c["matching_x"]), 2)
    ax.plot(xs, xs, "--", color="grey", lw=1, label="matching")
    ax.plot(xs, st["matching_slope"]["value"] * xs, color="tab:red",
            label=f"slope {st['matching_slope']['value']:.2f}")
    ax.set_xlabel("log2(R_R / R_L)")
    ax.set_ylabel("log2(C_R / C_L)")
    ax.legend(frameon=False, fontsize=7)
    ax = axes[1]
    lags = np.arange(1, N_LAGS + 1)
    ax.plot(lags, c["reward_coefs"], "o-", color="tab:blue", label="reward")
    ax.plot(lags, c["choice_coefs"], "o-", color="tab:orange", label="choice")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("trials back")
    ax.set_ylabel("logistic coefficient")
    ax.legend(frameon=False, fontsize=7)
    ax = axes[2]
    names = [n for n in UNIT_FACTORS if f"unit_abs_r_{n}" in st]
    ax.bar(range(len(names)), [st[f"unit_abs_r_{n}"]["value"] for n in names], color="grey")
    ax.set_xticks(range(len(names)), ["a(t-1)", "r(t-1)", "a×r", "v_L"][:len(names)])
    ax.set_ylabel("mean |partial r|")
    return save(fig, outdir, "matching")


def choice_history_kernel(tr: dict, lags: int = 5) -> dict:
    """Logistic regression (statsmodels) of P(right) on the last ``lags`` trials' rewarded and
    unrewarded choices (Lau & Glimcher 2005; Bari et al. 2019): at lag l the rewarded-choice
    regressor is +1 for a rewarded right choice, −1 for a rewarded left choice, 0 otherwise,
    and the unrewarded-choice regressor likewise; trials with no choice (``choice`` < 0) give 0
    and are not targets; lags do not cross episodes. Returns ``{"rewarded": [(b, se)…],
    "unrewarded": [(b, se)…], "bias": b, "n": targets}`` — works on a lab's table unchanged."""
    import statsmodels.api as sm

    ep = np.asarray(tr["episode"])
    choice = np.asarray(tr["choice"])
    rewarded = np.asarray(tr["reward"]) > 0
    sign = np.where(choice == 1, 1.0, np.where(choice == 0, -1.0, 0.0))
    cols = []
    for kind in (rewarded, ~rewarded):
        for lag in range(1, lags + 1):
            x = np.zeros(len(ep))
            same = ep[lag:] == ep[:-lag]
            x[lag:] = np.where(same, sign[:-lag] * kind[:-lag], 0.0)
            cols.append(x)
    X = np.column_stack(cols)
    _, pos, _, _ = episode_positions(ep)
    keep = (choice >= 0) & (pos >= lags)
    fit = sm.Logit((choice[keep] == 1).astype(float), sm.add_constant(X[keep], has_constant="add")).fit(disp=0)
    b, se = fit.params[1:], fit.bse[1:]
    return {"rewarded": [(float(b[i]), float(se[i])) for i in range(lags)],
            "unrewarded": [(float(b[lags + i]), float(se[lags + i])) for i in range(lags)],
            "bias": float(fit.params[0]), "n": int(keep.sum())}
