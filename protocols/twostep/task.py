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
Variant ``rats`` (the bundled Miller et al. rats' task, for ``pfcda benchmark rats``)
    ``miller``'s trial with the statistics of the bundled rats (``protocols/labdata``, 6 rats,
    52 sessions, 36,413 trials), measured there: reward probabilities 0.8 / 0.2 (``reward_probs``;
    the data's two values), reversals after blocks whose lengths are drawn from the rats' 565
    complete blocks (``blocks="rats"``, :func:`rats_block_lengths`: median 45 trials, 11–342; in
    the rats' sessions a reversal followed a performance criterion, here the length is drawn
    independently of behaviour), p_common = 0.8 (the data: 0.798), 600 trials per episode (the
    median session has 618). Recorded as variant ``miller`` with ``blocks`` and ``reward_probs``,
    so every ``miller`` analysis applies.
Input encoding (an open choice, decided and configurable)
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
RPEs
    δ at second-stage arrival = ``delta`` on the choice step (r + γV(outcome) − V(choice));
    δ at reward = ``delta`` on the outcome step. The reference agents' RPEs on the same trials
    come from :mod:`protocols.twostep_agents`.
"""
from __future__ import annotations

import functools
import os

import numpy as np
import torch

from pfcda.errors import ConfigError

from ..base import Task, schedule_frame

FIXATE, LEFT, RIGHT = 0, 1, 2
STEPS_PER_TRIAL = 3
VARIANTS = {"miller": {"p_common": 0.8, "trials": 100}, "daw": {"p_common": 0.7, "trials": 201}}
SWAP, HIGH, LOW = 0.025, 0.9, 0.1  # miller reward schedule
RATS_REWARD, RATS_TRIALS = (0.8, 0.2), 600  # the rats' task (variant ``rats``), measured


@functools.lru_cache(maxsize=1)
def rats_block_lengths() -> tuple:
    """The bundled rats' complete blocks (trials between reward-probability reversals; each
    session's last block, cut by its end, left out), in recorded order."""
    from pfcda.protocols import labdata

    t = labdata.load("rats")
    out = []
    ep, p = np.asarray(t["episode"]), np.asarray(t["p_left"])
    for e in np.unique(ep):
        x = p[ep == e]
        out += np.diff(np.r_[0, np.flatnonzero(np.diff(x) != 0) + 1]).tolist()
    return tuple(int(v) for v in out)
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
    return np.concatenate([s["probs"] for s in load_sessions(path)])


def load_sessions(schedule) -> list:
    """A schedule (a CSV/TSV or ``.npy`` path, or a pandas DataFrame with the CSV's columns) →
    one dict per session (``episode`` column; one session without it): ``probs`` [trials, 4],
    ``common`` [trials] bool or None, ``reward`` [trials] or None; validated: row numbers in
    errors are 1-based data rows."""
    import pandas as pd

    cols = ["p1a", "p1b", "p2a", "p2b"]
    episode = common = reward = None
    if isinstance(schedule, str) and schedule.endswith(".npy"):
        if not os.path.isfile(schedule):
            raise ConfigError(f"schedule: no file {schedule!r}")
        df, path = None, schedule
    else:
        df, path = schedule_frame(schedule)
    if df is None:
        arr = np.load(path, allow_pickle=False)
    else:
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ConfigError(f"schedule {path}: missing column(s) {missing}; expected columns {cols}")
        arr = df[cols].to_numpy()
        if "episode" in df.columns:
            episode = df["episode"].to_numpy()
        for col in ("common", "reward"):
            if col in df.columns:
                v = pd.to_numeric(df[col], errors="coerce").to_numpy()
                bad = ~np.isin(v, (0, 1))
                if bad.any():
                    row = int(np.flatnonzero(bad)[0])
                    raise ConfigError(f"schedule {path}: column {col!r}, row {row + 1}: expected 0 or 1, "
                                      f"got {df[col].iloc[row]!r}")
                if col == "common":
                    common = v
                else:
                    reward = v
    arr = np.asarray(arr, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 4 or len(arr) < 2:
        raise ConfigError(f"schedule {path}: expected [trials ≥ 2, 4] probabilities, got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ConfigError(f"schedule {path}: row {row + 1}: probabilities must be in [0, 1], "
                          f"got {arr[row].tolist()}")
    if episode is None:
        bounds = [(0, len(arr))]
    else:
        cut = np.r_[0, np.flatnonzero(episode[1:] != episode[:-1]) + 1, len(arr)]
        bounds = list(zip(cut[:-1], cut[1:]))
        if len({str(episode[a]) for a, _ in bounds}) != len(bounds):
            raise ConfigError(f"schedule {path}: column 'episode': each session's rows must be contiguous")
    return [{"probs": arr[a:b], "common": None if common is None else common[a:b] > 0,
             "reward": None if reward is None else reward[a:b].astype(float)} for a, b in bounds]


class TwoStepTask(Task):
    name = "twostep"
    action_names = ("fixate", "left", "right")
    phase_names = ("fixation", "choice", "outcome")
    outcome_phase = 2  # the step whose reward is the trial's outcome (events)

    def __init__(self, variant: str = "miller", feedback: str = "step", trials: int | None = None,
                 p_common: float | None = None, schedule=None, blocks: str | None = None,
                 reward_probs=None):
        if variant == "rats":  # miller's task with the rats' statistics (see the task card)
            variant, blocks = "miller", "rats" if blocks is None else blocks
            reward_probs = RATS_REWARD if reward_probs is None else reward_probs
            trials = RATS_TRIALS if trials is None and schedule is None else trials
        if variant not in VARIANTS:
            raise ConfigError(f"variant: expected one of {[*VARIANTS, 'rats']}, got {variant!r}")
        if blocks not in (None, "rats") or (blocks is not None and variant != "miller"):
            raise ConfigError(f"blocks: expected None or 'rats' (variant miller), got {blocks!r}")
        try:
            hi, lo = (HIGH, LOW) if reward_probs is None else map(float, reward_probs)
        except (TypeError, ValueError):
            raise ConfigError(f"reward_probs: expected [rich, poor] probabilities, got {reward_probs!r}") from None
        if not 0.0 <= lo <= hi <= 1.0:
            raise ConfigError(f"reward_probs: expected [rich, poor] with 0 ≤ poor ≤ rich ≤ 1, got {reward_probs!r}")
        self.blocks, self.reward_probs = blocks, None if reward_probs is None else (hi, lo)
        if feedback not in ("step", "trial"):
            raise ConfigError(f"feedback: expected 'step' or 'trial', got {feedback!r}")
        self.variant, self.feedback = variant, feedback
        try:
            self.p_common = float(VARIANTS[variant]["p_common"] if p_common is None else p_common)
        except (TypeError, ValueError):
            raise ConfigError(f"p_common: expected a probability in [0.5, 1], got {p_common!r}") from None
        if not 0.5 <= self.p_common <= 1.0:
            raise ConfigError(f"p_common: expected a probability in [0.5, 1], got {p_common}")
        self.schedule = schedule if isinstance(schedule, (str, type(None))) else "(in memory)"
        self._sessions = None
        if schedule is not None:
            sessions = load_sessions(schedule)
            if variant == "miller" and any(np.any(s["probs"][:, 0] != s["probs"][:, 1])
                                           or np.any(s["probs"][:, 2] != s["probs"][:, 3]) for s in sessions):
                raise ConfigError(f"schedule {self.schedule}: variant 'miller' has one outcome per state, "
                                  f"so p1a must equal p1b and p2a equal p2b (use variant 'daw' for four "
                                  f"options)")
            longest = max(len(s["probs"]) for s in sessions)
            if trials is not None and trials != longest:
                raise ConfigError(f"trials: the schedule has {longest} trials, got {trials}")
            trials = longest

            def pad(x, fill=None):
                return np.pad(x, ((0, longest - len(x)),) + ((0, 0),) * (x.ndim - 1), mode="edge")

            probs = np.stack([pad(s["probs"]) for s in sessions])
            common = np.stack([np.pad(np.zeros(len(s["probs"]), bool) if s["common"] is None else s["common"],
                                      (0, longest - len(s["probs"]))) for s in sessions])
            self._sessions = {"probs": torch.tensor(probs, dtype=torch.float32).view(len(sessions), longest, 2, 2),
                              "n_trials": torch.tensor([len(s["probs"]) for s in sessions]),
                              "common": torch.tensor(common), "replay_common": sessions[0]["common"] is not None}
            if sessions[0]["reward"] is not None:  # the animal's outcomes (teacher forcing)
                self._sessions["rewards"] = torch.tensor(
                    np.stack([pad(s["reward"]) for s in sessions]), dtype=torch.float32)
            self._next_session = 0
        trials = VARIANTS[variant]["trials"] if trials is None else trials
        if not isinstance(trials, int) or trials < 2:
            raise ConfigError(f"trials: expected an integer ≥ 2, got {trials!r}")
        self.trials = trials
        self.obs_names = ("fixation_cue", "choice_cue", "state_1", "state_2") + (
            ("last_choice_left", "last_choice_right", "last_state_1", "last_reward")
            if feedback == "trial" else ())

    def config(self) -> dict:
        out = {"variant": self.variant, "feedback": self.feedback, "trials": self.trials,
               "p_common": self.p_common, "schedule": self.schedule}
        if self.blocks is not None:
            out["blocks"] = self.blocks
        if self.reward_probs is not None:
            out["reward_probs"] = list(self.reward_probs)
        return out

    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """probs [n, trials, 2 states, 2 options]: reward probabilities (for ``miller`` both
        options of a state are equal); uniforms [n, trials, 3] for the transition, the reward
        and the choice an invalid first-stage response is replaced by (common random numbers:
        the same episode replays identically for any agent); n_trials [n]; with a schedule that
        replays the animal's outcomes also ``rewards`` [n, trials]."""
        T = self.trials
        n_trials = torch.full((n,), T)
        extra = {}
        if self._sessions is not None:
            k = (self._next_session + torch.arange(n)) % len(self._sessions["n_trials"])
            self._next_session = int(k[-1]) + 1 if n else self._next_session
            probs = self._sessions["probs"][k].clone()
            n_trials = self._sessions["n_trials"][k].clone()
            if "rewards" in self._sessions:
                extra["rewards"] = self._sessions["rewards"][k].clone()
        elif self.variant == "miller":
            if self.blocks == "rats":  # block lengths drawn from the rats' own
                lengths = torch.tensor(rats_block_lengths())
                L = lengths[torch.randint(len(lengths), (n, T // int(lengths.min()) + 1), generator=generator)]
                block = torch.searchsorted(L.cumsum(1), torch.arange(T).expand(n, T).contiguous(), right=True)
                h = (torch.randint(2, (n, 1), generator=generator) + block) % 2
            else:
                swaps = (torch.rand(n, T, generator=generator) < SWAP).long()
                swaps[:, 0] = torch.randint(2, (n,), generator=generator)
                h = swaps.cumsum(1) % 2  # 0: state 1 is the rich state
            hi, lo = self.reward_probs or (HIGH, LOW)
            p1 = torch.where(h == 0, hi, lo)
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
        return {"probs": probs, "uniforms": uniforms, "n_trials": n_trials, **extra}

    def _load_params(self, params: dict) -> dict:
        out = {"probs": params["probs"].clone(), "uniforms": params["uniforms"].clone(),
               "n_trials": params.get("n_trials", torch.full((self.batch_size,), self.trials)).clone()}
        if "rewards" in params:
            out["rewards"] = params["rewards"].clone()
        return out

    def _episode_steps(self):
        return self.params["n_trials"] * STEPS_PER_TRIAL

    def _begin(self, which: torch.Tensor) -> None:
        B = self.batch_size
        if not hasattr(self, "last") or self.last.shape[0] != B:
            self.error = torch.zeros(B, dtype=torch.bool)
            self.choice = torch.zeros(B, dtype=torch.long)
            self.state = torch.zeros(B, dtype=torch.long)
            self.last = torch.zeros(B, 4)  # previous trial: choice L, choice R, state 1, reward
        self.error[which] = False
        self.last[which] = 0.0

    def _obs(self) -> torch.Tensor:
        B = self.batch_size
        phase = self.t % STEPS_PER_TRIAL
        obs = torch.zeros(B, self.n_obs)
        channel = torch.where(phase == 2, 2 + self.state, phase)
        obs[torch.arange(B), channel] = 1.0
        if self.feedback == "trial":
            obs[:, 4:] = self.last
        return obs

    def _step(self, action: torch.Tensor):
        B = self.batch_size
        rows = torch.arange(B)
        trial, phase = self.t // STEPS_PER_TRIAL, self.t % STEPS_PER_TRIAL
        tc = trial.clamp(max=self.trials - 1)
        u = self.params["uniforms"][rows, tc]
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
        # stage 2: outcome (the schedule's own outcome where it replays the animal's)
        probs = self.params["probs"]
        p = probs[rows, tc, self.state, option]
        if "rewards" in self.params:
            hit = self.params["rewards"][rows, tc] > 0
        else:
            hit = u[:, 1] < p
        win = (phase == 2) & ~self.error & hit
        reward = torch.where(invalid, -1.0, win.float())
        info = {"trial": trial, "phase": phase, "choice": self.choice.clone(),
                "state": self.state.clone(), "common": self.state == self.choice,
                "option": torch.where(phase == 2, option, 0), "error": self.error.clone(),
                "probs": probs[rows, tc].reshape(B, 4)}
        end_trial = phase == 2
        if self.feedback == "trial" and bool(end_trial.any()):
            last = torch.stack([(self.choice == 0).float(), (self.choice == 1).float(),
                                (self.state == 0).float(), win.float()], 1)
            self.last = torch.where(end_trial.unsqueeze(1), last, self.last)
        return reward, info

    def trial_table(self, batch) -> dict:
        """Columns: episode, trial, choice (stage 1: 0 left, 1 right), state (0 state 1, 1 state 2),
        common (bool), option (stage-2 option: 0 left/only, 1 right), reward (0/1; −1 on an
        invalid outcome response), error (any invalid response in the trial), p1a, p1b, p2a,
        p2b (the trial's reward probabilities)."""
        out = batch.rows(2)
        probs = batch.np("probs")[out]
        table = {
            "episode": batch.episode()[out].astype(np.int64),
            "trial": batch.np("trial")[out].astype(np.int32),
            "choice": batch.np("choice")[out].astype(np.int16),
            "state": batch.np("state")[out].astype(np.int8),
            "common": batch.np("common")[out],
            "option": batch.np("option")[out].astype(np.int8),
            "reward": batch.np("reward")[out].astype(np.float32),
            "error": batch.np("error")[out],
        }
        for i, k in enumerate(("p1a", "p1b", "p2a", "p2b")):
            table[k] = probs[:, i].astype(np.float32)
        return table


def train_defaults(variant: str = "miller", **_) -> dict:  # ``rats``: miller's settings
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
