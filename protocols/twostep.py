"""Model-based behaviour and RPEs in the two-step task — Wang et al. 2018 Sim 4 (Fig. 5);
Miller, Botvinick & Brody 2017 (rats); Daw, Gershman, Seymour, Dayan & Dolan 2011 (humans).

Task card
---------
Citation
    Wang, Kurth-Nelson et al. 2018, Nat Neurosci 21:860, Simulation 4, Fig. 5.
    Lab: Miller, Botvinick & Brody 2017, Nat Neurosci 20:1269 (rats; variant ``miller``);
    Daw et al. 2011, Neuron 69:1204 (humans, n = 17; variant ``daw``).
Species
    Rat (``miller``), human (``daw``).
Trial timeline (3 agent steps per trial)
    ``fixation``: central fixation cue; valid action ``fixate`` (a_C).
    ``choice``: first-stage choice cue; valid actions ``left`` / ``right``. The choice leads to a
    second-stage state: ``left`` → state 1 and ``right`` → state 2 with probability
    ``p_common`` (common transition), to the other state otherwise (uncommon). The transition
    structure is fixed for all episodes.
    ``outcome``: the second-stage state is shown (``state_1`` / ``state_2``, perceptually
    distinct one-hot channels). ``miller``: one valid response, ``fixate`` (poke the lit
    outcome port). ``daw``: two options in each state, ``left`` / ``right``. The reward (1 or 0)
    is the reward of this step, so the network sees it as its previous reward at the next
    fixation.
    Invalid responses (the wrong kind of action for the current cue) give −1 and void the
    trial's reward; an invalid first-stage response still causes a transition (from a random
    choice) so that the trial completes, and the trial is flagged ``error`` (excluded, and
    counted, by the analyses).
Observation channels
    ``fixation_cue``, ``choice_cue``, ``state_1``, ``state_2``; with ``feedback="trial"`` also
    ``last_choice_left``, ``last_choice_right``, ``last_state_1``, ``last_reward``.
Actions
    ``fixate`` (a_C), ``left`` (a_L), ``right`` (a_R).
Reward schedules
    ``miller`` (the paper's Sim 4): [p(r | state 1), p(r | state 2)] is [0.9, 0.1] or
    [0.1, 0.9], swapping with probability 0.025 at the start of each trial (the first trial's
    assignment is uniform); p_common = 0.8; 100 trials.
    ``daw``: four options (2 states × 2), reward probabilities following independent Gaussian
    random walks (SD 0.025, reflecting bounds 0.25 and 0.75, start uniform in the bounds);
    p_common = 0.7; 201 trials. ``schedule=PATH`` replays a lab's exact schedule (either
    variant): a CSV with columns ``p1a, p1b, p2a, p2b`` (one row per trial; state 1/2 × option
    a = left, b = right; ``miller`` has one outcome per state, so there p1a = p1b and
    p2a = p2b) or a ``.npy`` array [trials, 4]. Optional columns: ``episode`` (several sessions
    of any lengths in one file: run episode k replays session k mod n, with that session's
    number of trials) and ``common`` (0/1: replays the transitions the animal experienced on
    each trial instead of drawing them). ``pfcda replay`` writes such a file from lab data.
Input encoding (the open choice of protocols.md §6.2, decided and configurable)
    ``feedback="step"`` (the task's default): the network's standard inputs only — at every
    step the previous step's action and reward, so the stage-1 choice is seen at the outcome
    step and the stage-2 reward at the next fixation. ``feedback="trial"``: in addition the
    observation carries, for the whole next trial, the previous trial's stage-1 choice,
    second-stage state and reward (a trial-level encoding like that of the mtrazzi/two-step-task
    reproduction, which fed back stage-1 actions and stage-2 rewards). The shipped circuits use
    ``"trial"``: measured (seed 0, 32 × 20-step updates), with ``"step"`` the first-stage
    choice stayed at chance (return 50 of 74 attainable per 100 trials) after 7 M steps, while
    with ``"trial"`` the model-based pattern appeared within 3 M steps.
Training
    γ = 0.9, 48 LSTM units, the shared defaults (see :func:`train_defaults`).
RPEs (protocols.md §6.3)
    δ at second-stage arrival = ``delta`` on the choice step (r + γV(outcome) − V(choice));
    δ at reward = ``delta`` on the outcome step. The reference agents' RPEs on the same trials
    come from :mod:`protocols.twostep_agents`.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from .base import StepResult, Task, check_actions

FIXATE, LEFT, RIGHT = 0, 1, 2
STEPS_PER_TRIAL = 3
VARIANTS = {"miller": {"p_common": 0.8, "trials": 100}, "daw": {"p_common": 0.7, "trials": 201}}
SWAP, HIGH, LOW = 0.025, 0.9, 0.1  # miller reward schedule
WALK_SD, WALK_LO, WALK_HI = 0.025, 0.25, 0.75  # daw random walks

#: Stay probabilities (Fig. 5c), lag-1 GLM weights (Fig. 5d,e), RPE regressions, hybrid weight.
REFERENCE = {
    "stay_common_rewarded": {"paper": 0.99, "lab": 0.92, "source": "Fig. 5c; rats n = 6 (Miller 2017)"},
    "stay_uncommon_rewarded": {"paper": 0.63, "lab": 0.70, "source": "Fig. 5c"},
    "stay_common_unrewarded": {"paper": 0.62, "lab": 0.70, "source": "Fig. 5c"},
    "stay_uncommon_unrewarded": {"paper": 0.99, "lab": 0.91, "source": "Fig. 5c"},
    "glm_CR_lag1": {"paper": 3.4, "lab": 1.15, "source": "Fig. 5d (rats n = 21), 5e (model)"},
    "glm_UU_lag1": {"paper": 3.2, "lab": 1.05, "source": "Fig. 5d,e"},
    "glm_CU_lag1": {"paper": -1.9, "lab": -0.5, "source": "Fig. 5d,e"},
    "glm_UR_lag1": {"paper": -2.0, "lab": -0.3, "source": "Fig. 5d,e"},
    "rpe_r2_model_based": {"paper": 0.89, "lab": None, "source": "Sim 4: δ on the model-based RPE"},
    "rpe_r2_model_free_orth": {"paper": 5.8e-7, "lab": None,
                               "source": "Sim 4: δ on the model-free RPE orthogonal to the MB RPE"},
    "hybrid_w": {"paper": None, "lab": 0.39, "source": "Daw et al. 2011: median w, humans n = 17"},
}


def load_schedule(path: str) -> np.ndarray:
    """A lab's reward schedule → float array [trials, 4] (p1a, p1b, p2a, p2b), validated (all
    rows; see :func:`load_sessions` for files with several sessions)."""
    return np.concatenate([p for p, _ in load_sessions(path)])


def load_sessions(path: str) -> list:
    """A schedule file → [(probs [trials, 4], common [trials] bool or None)] per session
    (``episode`` column; one session without it), validated: row numbers in errors are 1-based
    data rows of the file."""
    if not os.path.isfile(path):
        raise ValueError(f"schedule: no file {path!r}")
    cols = ["p1a", "p1b", "p2a", "p2b"]
    episode = common = None
    if path.endswith(".npy"):
        arr = np.load(path, allow_pickle=False)
    else:
        import pandas as pd

        df = pd.read_csv(path, sep=None, engine="python")
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"schedule {path}: missing column(s) {missing}; expected columns {cols}")
        arr = df[cols].to_numpy()
        if "episode" in df.columns:
            episode = df["episode"].to_numpy()
        if "common" in df.columns:
            common = pd.to_numeric(df["common"], errors="coerce").to_numpy()
            bad = ~np.isin(common, (0, 1))
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise ValueError(f"schedule {path}: column 'common', row {row + 1}: expected 0 or 1, "
                                 f"got {df['common'].iloc[row]!r}")
    arr = np.asarray(arr, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 4 or len(arr) < 2:
        raise ValueError(f"schedule {path}: expected [trials ≥ 2, 4] probabilities, got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(f"schedule {path}: row {row + 1}: probabilities must be in [0, 1], got {arr[row].tolist()}")
    if episode is None:
        bounds = [(0, len(arr))]
    else:
        cut = np.r_[0, np.flatnonzero(episode[1:] != episode[:-1]) + 1, len(arr)]
        bounds = list(zip(cut[:-1], cut[1:]))
        if len({str(episode[a]) for a, _ in bounds}) != len(bounds):
            raise ValueError(f"schedule {path}: column 'episode': each session's rows must be contiguous")
    return [(arr[a:b], None if common is None else common[a:b] > 0) for a, b in bounds]


class TwoStepTask(Task):
    name = "twostep"
    citation = "Wang et al. 2018 Sim 4 (Fig. 5); Miller et al. 2017; Daw et al. 2011"
    description = "two-step task: fixation, first-stage choice, common/uncommon transition, outcome"
    action_names = ("fixate", "left", "right")
    phase_names = ("fixation", "choice", "outcome")
    outcome_phase = 2  # the step whose reward is the trial's outcome (events)

    def __init__(self, variant: str = "miller", feedback: str = "step", trials: int | None = None,
                 p_common: float | None = None, schedule: str | None = None):
        if variant not in VARIANTS:
            raise ValueError(f"variant: expected one of {list(VARIANTS)}, got {variant!r}")
        if feedback not in ("step", "trial"):
            raise ValueError(f"feedback: expected 'step' or 'trial', got {feedback!r}")
        self.variant, self.feedback = variant, feedback
        self.p_common = float(VARIANTS[variant]["p_common"] if p_common is None else p_common)
        if not 0.5 <= self.p_common <= 1.0:
            raise ValueError(f"p_common: expected a probability in [0.5, 1], got {p_common}")
        self.schedule = schedule
        self._sessions = None
        if schedule is not None:
            sessions = load_sessions(schedule)
            if variant == "miller" and any(np.any(p[:, 0] != p[:, 1]) or np.any(p[:, 2] != p[:, 3])
                                           for p, _ in sessions):
                raise ValueError(f"schedule {schedule}: variant 'miller' has one outcome per state, so "
                                 f"p1a must equal p1b and p2a equal p2b (use variant 'daw' for four options)")
            longest = max(len(p) for p, _ in sessions)
            if trials is not None and trials != longest:
                raise ValueError(f"trials: the schedule has {longest} trials, got {trials}")
            trials = longest
            probs = np.stack([np.pad(p, ((0, longest - len(p)), (0, 0)), mode="edge") for p, _ in sessions])
            common = np.stack([np.pad(np.zeros(len(p), bool) if c is None else c, (0, longest - len(p)))
                               for p, c in sessions])
            self._sessions = {"probs": torch.tensor(probs, dtype=torch.float32).view(len(sessions), longest, 2, 2),
                              "n_trials": torch.tensor([len(p) for p, _ in sessions]),
                              "common": torch.tensor(common), "replay_common": sessions[0][1] is not None}
            self._next_session = 0
        trials = VARIANTS[variant]["trials"] if trials is None else trials
        if not isinstance(trials, int) or trials < 2:
            raise ValueError(f"trials: expected an integer ≥ 2, got {trials!r}")
        self.trials = trials
        self.obs_names = ("fixation_cue", "choice_cue", "state_1", "state_2") + (
            ("last_choice_left", "last_choice_right", "last_state_1", "last_reward")
            if feedback == "trial" else ())
        self.steps_per_episode = trials * STEPS_PER_TRIAL

    def config(self) -> dict:
        return {"variant": self.variant, "feedback": self.feedback, "trials": self.trials,
                "p_common": self.p_common, "schedule": self.schedule}

    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """probs [n, trials, 2 states, 2 options]: reward probabilities (for ``miller`` both
        options of a state are equal); uniforms [n, trials, 3] for the transition, the reward
        and the choice an invalid first-stage response is replaced by (common random numbers:
        the same episode replays identically for any agent)."""
        T = self.trials
        n_trials = torch.full((n,), T)
        if self._sessions is not None:
            k = (self._next_session + torch.arange(n)) % len(self._sessions["n_trials"])
            self._next_session = int(k[-1]) + 1 if n else self._next_session
            probs = self._sessions["probs"][k].clone()
            n_trials = self._sessions["n_trials"][k].clone()
        elif self.variant == "miller":
            swaps = (torch.rand(n, T, generator=generator) < SWAP).long()
            swaps[:, 0] = torch.randint(2, (n,), generator=generator)
            h = swaps.cumsum(1) % 2  # 0: state 1 is the rich state
            p1 = torch.where(h == 0, HIGH, LOW)
            probs = torch.stack([p1, 1 - p1], 2).unsqueeze(-1).expand(n, T, 2, 2).clone()
        else:
            p = WALK_LO + (WALK_HI - WALK_LO) * torch.rand(n, 4, generator=generator)
            noise = WALK_SD * torch.randn(n, T, 4, generator=generator)
            out = [p]
            for t in range(1, T):  # reflecting Gaussian random walk, vectorised over episodes
                p = p + noise[:, t]
                p = torch.where(p > WALK_HI, 2 * WALK_HI - p, p)
                p = torch.where(p < WALK_LO, 2 * WALK_LO - p, p)
                out.append(p)
            probs = torch.stack(out, 1).view(n, T, 2, 2)
        uniforms = torch.rand(n, T, 3, generator=generator)
        if self._sessions is not None and self._sessions["replay_common"]:
            # the animal's transitions: common ⇔ u < p_common
            uniforms[:, :, 0] = torch.where(self._sessions["common"][k], 0.0, 1.0)
        return {"probs": probs, "uniforms": uniforms, "n_trials": n_trials}

    def reset(self, batch_size: int, generator: torch.Generator, params: dict | None = None):
        self.generator, self.batch_size = generator, batch_size
        params = params if params is not None else self.sample_params(batch_size, generator)
        self.probs, self.uniforms = params["probs"].clone(), params["uniforms"].clone()
        B = batch_size
        self.n_steps = params.get("n_trials", torch.full((B,), self.trials)).clone() * STEPS_PER_TRIAL
        self.t = torch.zeros(B, dtype=torch.long)
        self.error = torch.zeros(B, dtype=torch.bool)
        self.choice = torch.zeros(B, dtype=torch.long)
        self.state = torch.zeros(B, dtype=torch.long)
        self.last = torch.zeros(B, 4)  # previous trial: choice L, choice R, state 1, reward
        return self._obs()

    def _obs(self) -> torch.Tensor:
        B = self.batch_size
        phase = self.t % STEPS_PER_TRIAL
        obs = torch.zeros(B, self.n_obs)
        channel = torch.where(phase == 2, 2 + self.state, phase)
        obs[torch.arange(B), channel] = 1.0
        if self.feedback == "trial":
            obs[:, 4:] = self.last
        return obs

    def clock(self) -> tuple:
        return self.t // STEPS_PER_TRIAL, self.t % STEPS_PER_TRIAL

    def step(self, action: torch.Tensor) -> StepResult:
        B = self.batch_size
        check_actions(action, 3, B)
        rows = torch.arange(B)
        trial, phase = self.t // STEPS_PER_TRIAL, self.t % STEPS_PER_TRIAL
        tc = trial.clamp(max=self.trials - 1)
        u = self.uniforms[rows, tc]
        if self.variant == "miller":
            invalid2 = action != FIXATE
            option = torch.zeros(B, dtype=torch.long)
        else:
            invalid2 = action == FIXATE
            option = (action - 1).clamp(min=0)
        invalid = torch.where(phase == 0, action != FIXATE,
                              torch.where(phase == 1, action == FIXATE, invalid2))
        self.error = torch.where(phase == 0, invalid, self.error | invalid)
        # stage 1: choice → transition
        choice = torch.where(action == FIXATE, (u[:, 2] < 0.5).long(), action - 1)
        common = u[:, 0] < self.p_common
        state = torch.where(common, choice, 1 - choice)
        self.choice = torch.where(phase == 1, choice, self.choice)
        self.state = torch.where(phase == 1, state, self.state)
        # stage 2: outcome
        p = self.probs[rows, tc, self.state, option]
        win = (phase == 2) & ~self.error & (u[:, 1] < p)
        reward = torch.where(invalid, -1.0, win.float())
        info = {"trial": trial, "phase": phase, "choice": self.choice.clone(),
                "state": self.state.clone(), "common": self.state == self.choice,
                "option": torch.where(phase == 2, option, 0), "error": self.error.clone(),
                "probs": self.probs[rows, tc].reshape(B, 4)}
        end_trial = phase == 2
        if self.feedback == "trial" and bool(end_trial.any()):
            last = torch.stack([(self.choice == 0).float(), (self.choice == 1).float(),
                                (self.state == 0).float(), win.float()], 1)
            self.last = torch.where(end_trial.unsqueeze(1), last, self.last)
        self.t = self.t + 1
        done = self.t >= self.n_steps
        if bool(done.any()):
            new = self.sample_params(int(done.sum()), self.generator)
            self.probs[done], self.uniforms[done] = new["probs"], new["uniforms"]
            self.n_steps[done] = new["n_trials"] * STEPS_PER_TRIAL
            self.t[done] = 0
            self.error[done] = False
            self.last[done] = 0.0
        return StepResult(self._obs(), reward, done, info)

    # ---------------------------------------------------------------- recordings (numpy)
    def step_labels(self, batch: dict) -> dict:
        return {"trial": batch["info"]["trial"].numpy(), "phase": batch["info"]["phase"].numpy()}

    def trial_table(self, batch: dict) -> dict:
        """Columns: episode, trial, choice (stage 1: 0 left, 1 right), state (0 state 1, 1 state 2),
        common (bool), option (stage-2 option: 0 left/only, 1 right), reward (0/1; −1 on an
        invalid outcome response), error (any invalid response in the trial), p1a, p1b, p2a,
        p2b (the trial's reward probabilities)."""
        info, valid = batch["info"], batch["valid"].numpy()
        phase = info["phase"].numpy()
        b, T = phase.shape
        ep = np.broadcast_to(np.arange(b)[:, None], (b, T))
        out = (phase == 2) & valid
        probs = info["probs"].numpy()[out]
        table = {
            "episode": ep[out].astype(np.int64),
            "trial": info["trial"].numpy()[out].astype(np.int32),
            "choice": info["choice"].numpy()[out].astype(np.int16),
            "state": info["state"].numpy()[out].astype(np.int8),
            "common": info["common"].numpy()[out],
            "option": info["option"].numpy()[out].astype(np.int8),
            "reward": batch["rewards"].numpy()[out].astype(np.float32),
            "error": info["error"].numpy()[out],
        }
        for i, k in enumerate(("p1a", "p1b", "p2a", "p2b")):
            table[k] = probs[:, i].astype(np.float32)
        return table


def train_defaults(variant: str = "miller", **_) -> dict:
    """Training configuration of the shipped two-step circuits: the paper's γ = 0.9 and 48 LSTM
    units, the trial-level input encoding (see the task card); as for the reversal and matching
    circuits, many small updates (32 episodes × 20-step unrolls, state carried across unrolls:
    15,600 updates in 10 M steps), Adam 2e-3 → 1e-4, β_v 0.5, entropy 0.05 → 0.
    ``daw`` (drifting probabilities, weak reward differences) needs more: 25 M steps, γ 0.75,
    entropy 0.01 → 0. Measured: with the ``miller`` settings (10 M steps, γ 0.9), with γ 0.6
    and with GAE λ 0.5 (15 M steps each) the daw circuit's choices stayed at chance."""
    daw = variant == "daw"
    return {
        "circuit": {"protocol": "twostep", "task": {"variant": variant, "feedback": "trial"}, "core": "lstm",
                    "n_units": 48, "gamma": 0.75 if daw else 0.9},
        "steps": 25_000_000 if daw else 10_000_000, "batch_size": 32, "t_max": 20,
        "optimizer": "adam", "lr": 2e-3, "lr_final": 1e-4,
        "beta_v": 0.5, "beta_e": 0.01 if daw else 0.05, "beta_e_final": 0.0,
        "eval_every": 1_000_000, "eval_episodes": 300, "checkpoint_every": 5_000_000,
    }


# ------------------------------------------------------------------------------- analyses
TYPES = ("CR", "CU", "UR", "UU")  # common/uncommon × rewarded/unrewarded, Miller et al. 2017
STAY_NAMES = {"CR": "common_rewarded", "UR": "uncommon_rewarded", "CU": "common_unrewarded",
              "UU": "uncommon_unrewarded"}


def _trial_types(tr: dict) -> np.ndarray:
    """0..3 = CR, CU, UR, UU for every trial."""
    common = np.asarray(tr["common"], bool)
    rewarded = np.asarray(tr["reward"]) > 0
    return np.where(common, np.where(rewarded, 0, 1), np.where(rewarded, 2, 3))


def stay_probabilities(tr: dict) -> dict:
    """P(repeat the first-stage choice) after each previous-trial type (transition × reward),
    over consecutive pairs of error-free trials of the same episode; with a ``forced`` column
    (lab data: instructed trials) the repeating trial must be free, while a forced trial may
    be the one before (its outcome was experienced). Returns per type ``{"value", "sem", "n"}``
    (sem: binomial). Works on a lab's trials table unchanged."""
    ep = np.asarray(tr["episode"])
    choice = np.asarray(tr["choice"])
    ok = ~np.asarray(tr.get("error", np.zeros(len(ep), bool)), bool)
    free = ~np.asarray(tr.get("forced", np.zeros(len(ep), bool)), bool)
    pair = (ep[1:] == ep[:-1]) & ok[1:] & ok[:-1] & free[1:]
    stay = choice[1:] == choice[:-1]
    types = _trial_types(tr)[:-1]
    out = {}
    for i, name in enumerate(TYPES):
        m = pair & (types == i)
        n = int(m.sum())
        p = float(stay[m].mean()) if n else float("nan")
        out[name] = {"value": p, "sem": float(np.sqrt(p * (1 - p) / n)) if n > 1 else None, "n": n}
    return out


def glm_design(tr: dict, lags: int = 5):
    """The Miller et al. 2017 regression design: for each trial (the target: 1 = right) and each
    type × lag, +1 if the trial ``lag`` back was of that type with a right choice, −1 with a
    left choice, 0 otherwise (or if it was an error trial). Targets are error-free (and, with a
    ``forced`` column, free) trials with ``lags`` earlier trials in the same episode.
    Returns (X [n, 4·lags], y [n], names)."""
    ep = np.asarray(tr["episode"])
    choice = np.asarray(tr["choice"])
    ok = ~np.asarray(tr.get("error", np.zeros(len(ep), bool)), bool)
    free = ~np.asarray(tr.get("forced", np.zeros(len(ep), bool)), bool)
    types = _trial_types(tr)
    sign = np.where(choice == 1, 1.0, -1.0) * ok
    cols, names = [], []
    for k, name in enumerate(TYPES):
        for lag in range(1, lags + 1):
            x = np.zeros(len(ep))
            x[lag:] = np.where(types[:-lag] == k, sign[:-lag], 0.0)
            cols.append(x)
            names.append(f"{name}_lag{lag}")
    X = np.column_stack(cols)
    trial_in_ep = np.asarray(tr["trial"]) - np.minimum.reduceat(np.asarray(tr["trial"]),
                                                                np.r_[0, np.flatnonzero(np.diff(ep)) + 1]).repeat(
        np.diff(np.r_[0, np.flatnonzero(np.diff(ep)) + 1, len(ep)]))
    keep = ok & free & (trial_in_ep >= lags)
    return X[keep], (choice[keep] == 1).astype(float), names


def miller_glm(tr: dict, lags: int = 5) -> dict:
    """Logistic regression (statsmodels) of P(right) on 4 trial types × ``lags`` lags plus a
    bias; the model-based index ΣCR − ΣCU + ΣUU − ΣUR and model-free index ΣCR − ΣCU − ΣUU +
    ΣUR (sums over lags). Returns ``{"coef": {name: (value, se)}, "bias", "separation",
    "mb_index", "mf_index"}``.
    A near-deterministic agent (e.g. stay probability 1.0 after common-rewarded trials) makes
    the maximum-likelihood weights diverge (quasi-complete separation); the fit is then redone
    with a weak ridge penalty (statsmodels GLM, α = 1e-3), ``separation`` is True and the
    standard errors are None.
    """
    import warnings

    import statsmodels.api as sm

    X, y, names = glm_design(tr, lags)
    Xc = sm.add_constant(X, has_constant="add")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.Logit(y, Xc).fit(disp=0, maxiter=200)
    separated = not fit.mle_retvals.get("converged", True) or float(np.abs(fit.params).max()) > 15
    if separated:
        glm = sm.GLM(y, Xc, family=sm.families.Binomial())
        params = glm.fit_regularized(alpha=1e-3, L1_wt=0.0).params
        coef = {n: (float(v), None) for n, v in zip(names, params[1:])}
        bias = float(params[0])
    else:
        coef = {n: (float(v), float(s)) for n, v, s in zip(names, fit.params[1:], fit.bse[1:])}
        bias = float(fit.params[0])
    total = {t: sum(coef[f"{t}_lag{l}"][0] for l in range(1, lags + 1)) for t in TYPES}
    return {"coef": coef, "bias": bias, "separation": separated,
            "mb_index": total["CR"] - total["CU"] + total["UU"] - total["UR"],
            "mf_index": total["CR"] - total["CU"] - total["UU"] + total["UR"]}


def rpe_regression(delta_arrival: np.ndarray, delta_reward: np.ndarray, mb: dict, mf: dict,
                   ok: np.ndarray) -> dict:
    """Regress the circuit's δ (at second-stage arrival and at reward, pooled) on the
    model-based RPE, and on the part of the model-free RPE orthogonal to it (OLS residual of
    MF on MB), as in Sim 4 after Daw 2011; also both together. Arrays [E, T]; ``ok`` marks the
    error-free trials. Returns r² values (statsmodels OLS)."""
    import statsmodels.api as sm

    y = np.r_[delta_arrival[ok], delta_reward[ok]]
    x_mb = np.r_[mb["rpe_arrival"][ok], mb["rpe_reward"][ok]]
    x_mf = np.r_[mf["rpe_arrival"][ok], mf["rpe_reward"][ok]]
    const = lambda x: sm.add_constant(x, has_constant="add")  # noqa: E731
    mf_orth = sm.OLS(x_mf, const(x_mb)).fit().resid
    both = sm.OLS(y, const(np.column_stack([x_mb, x_mf]))).fit()
    return {"r2_model_based": float(sm.OLS(y, const(x_mb)).fit().rsquared),
            "r2_model_free_orth": float(sm.OLS(y, const(mf_orth)).fit().rsquared),
            "r2_model_free": float(sm.OLS(y, const(x_mf)).fit().rsquared),
            "coef_both": {"model_based": float(both.params[1]), "model_free": float(both.params[2])}}


#: the model-free reference's learning rate for the RPE regression (the paper gives none)
MF_ALPHA = 0.5

STATS = {
    **{f"stay_{v}": f"P(repeat the first-stage choice) after a {v.replace('_', ', ')} trial "
                    f"(Fig. 5c; ± binomial sem)" for v in STAY_NAMES.values()},
    **{f"glm_{t}_lag{l}": f"Miller et al. GLM weight of trial type {t} (C/U = common/uncommon, "
                          f"R/U = rewarded/unrewarded) at lag {l} (Fig. 5d,e; ± se)"
       for t in TYPES for l in range(1, 6)},
    "glm_mb_index": "model-based index ΣCR − ΣCU + ΣUU − ΣUR of the GLM weights (lags 1–5)",
    "glm_mf_index": "model-free index ΣCR − ΣCU − ΣUU + ΣUR of the GLM weights (lags 1–5)",
    "glm_ridge": "1 if the GLM's maximum-likelihood weights diverged (a near-deterministic "
                 "circuit: separation) and the weights come from a weak ridge fit (no se), else 0",
    "rpe_r2_model_based": "r² of the circuit's δ (second-stage arrival and reward steps, pooled) "
                          "regressed on the Bayesian model-based planner's RPE on the same trials",
    "rpe_r2_model_free_orth": "r² of the circuit's δ on the part of the model-free (SARSA(0), "
                              f"α = {MF_ALPHA}) RPE orthogonal to the model-based RPE",
    "rpe_r2_model_free": "r² of the circuit's δ on the model-free RPE itself",
    "hybrid_w": "model-based weight w of Daw et al.'s hybrid model fitted by maximum likelihood "
                "to the circuit's choices (its episodes pooled as one subject's sessions)",
    "hybrid_likelihood_per_choice": "geometric-mean likelihood per choice of that fit",
    "error_rate": "fraction of trials with an invalid response (excluded from the analyses)",
}


def analyze(rec, seed: int = 0, fit: bool | None = None) -> dict:
    """Every STAT on a recording of the two-step protocol (hybrid fit: ``daw`` variant, or
    ``fit=True``)."""
    tr = rec.trials
    task_cfg = rec.attrs.get("task", {})
    variant = task_cfg.get("variant", "miller")
    p_common = float(task_cfg.get("p_common", VARIANTS[variant]["p_common"]))
    stats = {}
    for t, p in stay_probabilities(tr).items():
        stats[f"stay_{STAY_NAMES[t]}"] = {"value": p["value"], "sem": p["sem"]}
    glm = miller_glm(tr)
    for name, (v, se) in glm["coef"].items():
        stats[f"glm_{name}"] = {"value": v, "sem": se}
    stats["glm_mb_index"] = {"value": glm["mb_index"], "sem": None}
    stats["glm_mf_index"] = {"value": glm["mf_index"], "sem": None}
    stats["glm_ridge"] = {"value": float(glm["separation"]), "sem": None}
    from . import twostep_agents as agents

    err = np.asarray(tr["error"], bool)
    E = len(np.unique(tr["episode"]))
    ok = ~err.reshape(E, -1)
    clean = {**tr, "reward": np.clip(tr["reward"], 0, None)}
    mb = agents.model_based(clean, variant, p_common)
    mf = agents.model_free(clean, MF_ALPHA, MF_ALPHA, 0.0)
    s = rec.steps
    d_arr = s["delta"][s["phase"] == 1].reshape(E, -1)
    d_rew = s["delta"][s["phase"] == 2].reshape(E, -1)
    reg = rpe_regression(d_arr, d_rew, mb, mf, ok)
    for k in ("r2_model_based", "r2_model_free_orth", "r2_model_free"):
        stats[f"rpe_{k}"] = {"value": reg[k], "sem": None}
    if fit if fit is not None else variant == "daw":
        f = agents.fit_hybrid(clean, p_common, two_options=variant == "daw", seed=seed)
        stats["hybrid_w"] = {"value": f["params"]["w"], "sem": None}
        stats["hybrid_likelihood_per_choice"] = {"value": f["likelihood_per_choice"], "sem": None}
    stats["error_rate"] = {"value": float(err.mean()), "sem": None}
    ref = {k: v for k, v in REFERENCE.items() if k in stats}
    return {"protocol": "twostep", "stats": stats, "reference": ref, "variant": variant}


def figures(rec, result: dict, outdir: str) -> list[str]:
    """Fig. 5c-like stay-probability bars and Fig. 5d,e-like GLM weights by lag."""
    from .plotting import save, subplots

    st = result["stats"]
    fig, axes = subplots(1, 2, figsize=(8, 3.2))
    ax = axes[0]
    for j, (rew, col) in enumerate((("rewarded", "tab:blue"), ("unrewarded", "tab:red"))):
        vals = [st[f"stay_{tr}_{rew}"] for tr in ("common", "uncommon")]
        ax.bar(np.arange(2) + 0.38 * j, [v["value"] for v in vals], 0.36,
               yerr=[v["sem"] or 0 for v in vals], color=col, label=rew)
    ax.set_xticks(np.arange(2) + 0.19, ["common", "uncommon"])
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("stay probability")
    ax.legend(frameon=False, fontsize=7)
    ax = axes[1]
    colours = {"CR": "tab:blue", "UU": "tab:cyan", "CU": "tab:red", "UR": "tab:orange"}
    for t, col in colours.items():
        ax.plot(range(1, 6), [st[f"glm_{t}_lag{l}"]["value"] for l in range(1, 6)], "o-",
                color=col, label=t)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("trials back")
    ax.set_ylabel("regression weight")
    ax.legend(frameon=False, fontsize=7)
    return save(fig, outdir, "twostep")
