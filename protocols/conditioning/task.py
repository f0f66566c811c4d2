"""Pavlovian trace conditioning with dopamine photometry — after Jeong et al. 2022, Test 4
(head-fixed mice, NAc dopamine), and a variant with unpredicted rewards at random intervals.

Task card
---------
Citation
    Jeong H, Taylor A, Floeder JR, Lohmann M, Mihalas S, Wu B, Zhou M, Burke DA, Namboodiri VMK
    (2022). Mesolimbic dopamine release conveys causal associations. Science 378:eabq6740.
    Data: their Test 4 photometry as published by Loewinger, Cui, Lovinger & Pereira (2024,
    eLife; CC0), bundled as ``--lab jeong2022`` (see :mod:`.lab`). Not in Wang et al. 2018: an
    extension that sets the meta-RL circuit's RPE beside recorded dopamine.
Species
    Mouse (head-fixed), NAc dopamine photometry, 25 Hz.
Time base
    One agent step is ``dt`` = 0.5 s of the experiment (the photometry is made on the data's
    25-Hz grid from the steps' RPEs, :mod:`pfcda.dopamine.photometry`). Every duration below is
    in seconds and must be a multiple of ``dt``.
Trial timeline (``mode="cs"``)
    ``iti``: nothing on; ``cue``: one of two auditory cues (``cue_a`` or ``cue_b``) for
    ``cue_s`` (2 s; a list: drawn per episode); ``trace``: nothing on for ``trace_s`` (1 s; a
    list: drawn per episode; 0: delay conditioning, the cue on until the outcome); ``outcome``:
    the last trace step (no trace: the last cue step), whose reward is the trial's outcome — sucrose (reward 1) with probability
    ``p_reward`` after the CS+, never after the CS−. The reward thus arrives ``cue_s +
    trace_s`` (3 s) after cue onset, the design of Jeong et al.'s trace conditioning (cue 2 s,
    trace 1 s). ``trials`` (30) trials per episode, half CS+ and half CS−, in random order.
ITI (a decision)
    The mice's ITIs are tens of seconds; the circuit's are compressed to keep an episode within
    a few hundred steps: ``iti_min_s`` (2 s: the 2-s pre-cue baseline of the recorded traces
    lies in the ITI) plus a geometric number of steps with mean ``iti_mean_s`` − ``iti_min_s``
    (constant hazard: the cue's onset is unpredictable, as with the mice's exponential ITIs).
Conditioning problems (the meta-training distribution)
    Which cue is the CS+ is drawn per episode (cue_a or cue_b, p = 0.5; ``plus_cue`` fixes it)
    and the CS+ reward probability from ``p_set`` (1, 0.75, 0.5) unless ``p_reward`` is given
    (the shipped circuit: 1, as for Jeong et al.'s CS+): an episode is a new conditioning
    problem whose contingency the frozen circuit learns from its own experience within the
    episode. An episode stands for a session of the mice; its early trials for their learning.
Unpredicted rewards (``mode="random"``)
    No cues; each step pays a reward with probability ``dt / iri_mean_s`` (geometric
    inter-reward intervals, mean ``iri_mean_s`` drawn per episode from ``iri_range_s``), for
    ``random_s`` seconds: the reward response as a function of the inter-reward interval (IRI).
    ``mode="mixed"`` (training) draws each episode's mode (random with probability
    ``p_random``).
Observation channels
    ``cue_a``, ``cue_b``. The previous reward is added by the network (the action is constant).
Actions
    ``wait`` only: the task is Pavlovian, nothing the circuit does changes what it gets. (A
    decision: Jeong et al. measure licking, but the dopamine analyses need no choice; with one
    action the policy term of A2C vanishes and only the value — the critic whose TD error is the
    modelled dopamine — is trained.)
Phases
    ``iti``, ``cue``, ``trace``, ``outcome`` (random mode: ``iti``, and ``outcome`` at reward
    steps).
RPE time stamps
    ``delta`` of step t, δ_t = r_t + γV(s_{t+1}) − V(s_t), is emitted when s_{t+1} is observed,
    at the start of step t + 1: the cue response is δ of the step before cue onset, the reward
    response δ of the outcome step (:mod:`pfcda.dopamine.photometry`).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from pfcda.errors import ConfigError

from ..base import Task

ITI, CUE, TRACE, OUTCOME = 0, 1, 2, 3
MODES = ("cs", "random", "mixed")

#: The recorded numbers the protocol's tests and claims use (computed on the bundled data by
#: :mod:`.lab`, checked independently in ``shared/labdata/jeong2022_photometry/README.md``).
REFERENCE = {
    "cs_plus_response": {"paper": None, "lab": 3.16, "source": "Jeong et al. 2022 Test 4 (Loewinger "
                         "et al. 2024 data): baseline-subtracted mean ΔF/F 0–1 s after CS+ onset"},
    "cs_minus_response": {"paper": None, "lab": 0.16, "source": "same, CS−"},
}


def _steps(name: str, seconds, dt: float, minimum: int = 0) -> int:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise ConfigError(f"{name}: expected a duration in seconds, got {seconds!r}")
    n = seconds / dt
    if abs(n - round(n)) > 1e-6 or round(n) < minimum:
        raise ConfigError(f"{name}: expected a multiple of dt = {dt} s of at least {minimum * dt} s, "
                          f"got {seconds!r}")
    return int(round(n))


def _prob(name: str, p) -> float:
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ConfigError(f"{name}: expected a probability in [0, 1], got {p!r}")
    return float(p)


class ConditioningTask(Task):
    """Pavlovian trace conditioning (CS+/CS−) and unpredicted rewards (see the task card)."""

    name = "conditioning"
    obs_names = ("cue_a", "cue_b")
    action_names = ("wait",)
    phase_names = ("iti", "cue", "trace", "outcome")
    outcome_phase = OUTCOME

    def __init__(self, mode: str = "cs", trials: int = 30, dt: float = 0.5, cue_s: float = 2.0,
                 trace_s: float = 1.0, iti_min_s: float = 2.0, iti_mean_s: float = 4.0,
                 p_reward: float | None = None, p_set: tuple = (1.0, 0.75, 0.5),
                 p_random: float = 0.25, random_s: float = 200.0, iri_range_s: tuple = (4.0, 16.0),
                 plus_cue: int | None = None):
        if mode not in MODES:
            raise ConfigError(f"mode: expected one of {list(MODES)}, got {mode!r}")
        if not isinstance(trials, int) or isinstance(trials, bool) or trials < 2 or trials % 2:
            raise ConfigError(f"trials: expected an even integer ≥ 2 (half CS+, half CS−), got {trials!r}")
        if not isinstance(dt, (int, float)) or not 0.01 <= dt <= 2.0:
            raise ConfigError(f"dt: expected seconds per step in [0.01, 2], got {dt!r}")
        self.mode, self.trials, self.dt = mode, trials, float(dt)
        cues = cue_s if isinstance(cue_s, (list, tuple)) else [cue_s]
        if not cues:
            raise ConfigError("cue_s: expected seconds or a non-empty list of seconds")
        self.cue_set = tuple(_steps("cue_s", c, self.dt, 1) for c in cues)
        self.cue_steps = max(self.cue_set)  # the longest (episode lengths are bounded by it)
        traces = trace_s if isinstance(trace_s, (list, tuple)) else [trace_s]
        if not traces:
            raise ConfigError("trace_s: expected seconds or a non-empty list of seconds")
        self.trace_set = tuple(_steps("trace_s", x, self.dt, 0) for x in traces)
        self.trace_steps = max(self.trace_set)
        self.iti_min = _steps("iti_min_s", iti_min_s, self.dt, 1)
        if not isinstance(iti_mean_s, (int, float)) or iti_mean_s < iti_min_s:
            raise ConfigError(f"iti_mean_s: expected seconds ≥ iti_min_s ({iti_min_s}), got {iti_mean_s!r}")
        self.iti_mean_s = float(iti_mean_s)
        self.p_reward = None if p_reward is None else _prob("p_reward", p_reward)
        try:
            self.p_set = tuple(_prob("p_set", float(p)) for p in p_set)
        except (TypeError, ValueError):
            raise ConfigError(f"p_set: expected a list of probabilities, got {p_set!r}") from None
        if not self.p_set:
            raise ConfigError("p_set: expected at least one probability")
        self.p_random = _prob("p_random", p_random)
        if plus_cue not in (None, 0, 1) or isinstance(plus_cue, bool):
            raise ConfigError(f"plus_cue: expected 0 (cue_a), 1 (cue_b) or None (drawn per episode), got {plus_cue!r}")
        self.plus_cue = plus_cue
        self.random_steps = _steps("random_s", random_s, self.dt, 2)
        try:
            lo, hi = (float(x) for x in iri_range_s)
        except (TypeError, ValueError):
            raise ConfigError(f"iri_range_s: expected [low, high] seconds, got {iri_range_s!r}") from None
        if not self.dt < lo <= hi:
            raise ConfigError(f"iri_range_s: expected dt < low ≤ high, got {iri_range_s!r}")
        self.iri_range_s = (lo, hi)
        self._cue_s = [float(c) for c in cues] if isinstance(cue_s, (list, tuple)) else float(cue_s)
        self._trace_s = [float(x) for x in traces] if isinstance(trace_s, (list, tuple)) else float(trace_s)
        self._iti_min_s = float(iti_min_s)

    def config(self) -> dict:
        return {"mode": self.mode, "trials": self.trials, "dt": self.dt, "cue_s": self._cue_s,
                "trace_s": self._trace_s, "iti_min_s": self._iti_min_s, "iti_mean_s": self.iti_mean_s,
                "p_reward": self.p_reward, "p_set": list(self.p_set), "p_random": self.p_random,
                "random_s": self.random_steps * self.dt, "iri_range_s": list(self.iri_range_s),
                "plus_cue": self.plus_cue}

    @property
    def trial_steps(self) -> int:
        """Cue and trace steps of the longest trial (after its ITI)."""
        return self.cue_steps + self.trace_steps

    @property
    def max_steps(self) -> int:
        """The longest episode the parameters can describe (ITIs are capped at 4× their mean)."""
        iti_cap = self.iti_min + int(math.ceil(4 * (self.iti_mean_s - self._iti_min_s) / self.dt)) + 1
        return max(self.trials * (iti_cap + self.trial_steps) + self.iti_min, self.random_steps)

    # ------------------------------------------------------------------ episode parameters
    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """Per episode: ``random`` [n] (bool: the unpredicted-reward mode), ``plus_cue`` [n] (0
        cue_a, 1 cue_b is the CS+), ``p`` [n] (CS+ reward probability), ``cs`` [n, trials] (0
        CS+, 1 CS−), ``start`` [n, trials] (each trial's first step: its ITI), ``iti`` [n,
        trials] (ITI steps), ``wins`` [n, trials] (uniforms of the outcomes), ``rate`` [n] and
        ``tape`` [n, max_steps] (random mode: the per-step reward probability, and its uniforms),
        ``length`` [n] (the episode's steps)."""
        g, K = generator, self.trials
        if self.mode == "mixed":
            random = torch.rand(n, generator=g) < self.p_random
        else:
            random = torch.full((n,), self.mode == "random")
        plus = torch.randint(2, (n,), generator=g)
        if self.plus_cue is not None:  # (drawn anyway: the same random stream either way)
            plus = torch.full((n,), self.plus_cue)
        if self.p_reward is None:
            p = torch.tensor(self.p_set)[torch.randint(len(self.p_set), (n,), generator=g)]
        else:
            p = torch.full((n,), self.p_reward)
        cs = torch.argsort(torch.rand(n, K, generator=g), 1) % 2  # half CS+, half CS−, shuffled
        cue = torch.tensor(self.cue_set)[torch.randint(len(self.cue_set), (n,), generator=g)]
        trace = torch.tensor(self.trace_set)[torch.randint(len(self.trace_set), (n,), generator=g)]
        extra_mean = (self.iti_mean_s - self._iti_min_s) / self.dt
        cap = int(math.ceil(4 * extra_mean))
        if extra_mean > 0:  # geometric extra steps with mean extra_mean (capped at 4× the mean)
            q = 1.0 / (1.0 + extra_mean)
            u = torch.rand(n, K, generator=g).clamp(min=1e-12)
            extra = torch.floor(torch.log(u) / math.log(1.0 - q)).clamp(max=cap).long()
        else:
            extra = torch.zeros(n, K, dtype=torch.long)
        iti = self.iti_min + extra
        dur = iti + (cue + trace).unsqueeze(1)
        start = torch.cumsum(dur, 1) - dur
        length_cs = dur.sum(1) + self.iti_min  # a last ITI: the last reward's response is seen
        lo, hi = self.iri_range_s
        iri_mean = lo + (hi - lo) * torch.rand(n, generator=g)
        rate = self.dt / iri_mean
        tape = torch.rand(n, self.max_steps, generator=g)
        length = torch.where(random, torch.full_like(length_cs, self.random_steps), length_cs)
        return {"random": random, "plus_cue": plus, "p": p, "cs": cs, "cue_steps": cue, "trace_steps": trace, "start": start, "iti": iti,
                "wins": torch.rand(n, K, generator=g), "rate": rate, "tape": tape, "length": length}

    def _episode_steps(self):
        return self.params["length"]

    def _begin(self, which: torch.Tensor) -> None:
        if not hasattr(self, "last_reward") or self.last_reward.shape[0] != self.batch_size:
            self.last_reward = torch.zeros(self.batch_size, dtype=torch.long)
            self.reward_count = torch.zeros(self.batch_size, dtype=torch.long)
        self.last_reward[which] = 0  # the step after the last reward (0: none yet)
        self.reward_count[which] = 0  # rewards so far (random mode: the trial counter)

    # --------------------------------------------------------------------------- the clock
    def _timeline(self):
        """(trial [B], phase [B], offset within the trial [B]) at the clock ``t``."""
        start = self.params["start"]
        t = self.t.unsqueeze(1)
        trial = (torch.searchsorted(start, t, right=True) - 1).squeeze(1).clamp(0, self.trials - 1)
        rows = torch.arange(self.batch_size)
        offset = self.t - start[rows, trial]
        iti = self.params["iti"][rows, trial]
        cue, trace = self.params["cue_steps"], self.params["trace_steps"]
        phase = torch.full_like(offset, ITI)
        phase = torch.where((offset >= iti) & (offset < iti + cue), CUE, phase)
        phase = torch.where(offset >= iti + cue, TRACE, phase)
        # the outcome: the last trace step (no trace: the last cue step, the cue still on)
        phase = torch.where(offset == iti + cue + trace - 1, OUTCOME, phase)
        phase = torch.where(offset >= iti + cue + trace, ITI, phase)  # the episode's last ITI
        return trial, phase, offset

    def _random_reward(self) -> torch.Tensor:
        rows = torch.arange(self.batch_size)
        tape = self.params["tape"][rows, self.t.clamp(max=self.params["tape"].shape[1] - 1)]
        return tape < self.params["rate"]

    def clock(self) -> tuple:
        trial, phase, _ = self._timeline()
        random = self.params["random"]
        if bool(random.any()):
            trial = torch.where(random, self.reward_count, trial)
            phase = torch.where(random, torch.where(self._random_reward(), OUTCOME, ITI), phase)
        return trial, phase

    def _obs(self) -> torch.Tensor:
        trial, phase, offset = self._timeline()
        rows = torch.arange(self.batch_size)
        iti = self.params["iti"][rows, trial]
        cue_on = (offset >= iti) & (offset < iti + self.params["cue_steps"]) & ~self.params["random"]
        which = self.params["cs"][rows, trial] ^ self.params["plus_cue"]  # 0 cue_a, 1 cue_b
        obs = torch.zeros(self.batch_size, 2)
        obs[rows, which] = cue_on.float()
        return obs

    def _step(self, action: torch.Tensor):
        B = self.batch_size
        rows = torch.arange(B)
        trial, phase, offset = self._timeline()
        random = self.params["random"]
        cs = self.params["cs"][rows, trial]
        p = self.params["p"]
        win = self.params["wins"][rows, trial] < p
        reward_cs = (phase == OUTCOME) & (cs == 0) & win
        reward_rand = self._random_reward()
        reward = torch.where(random, reward_rand, reward_cs).float()
        # the inter-reward interval of a reward in random mode: steps since the last reward (or
        # since the episode's start, for the first)
        iri = self.t + 1 - self.last_reward
        phase_out = torch.where(random, torch.where(reward_rand, OUTCOME, ITI), phase)
        info = {"trial": torch.where(random, self.reward_count, trial), "phase": phase_out,
                "cs": torch.where(random, -1, cs), "cue": torch.where(random, -1, cs ^ self.params["plus_cue"]),
                "p": p.clone(), "random": random.clone(), "iri": iri, "cue_s": self.params["cue_steps"] * self.dt,
                "onset": self.t - offset + self.params["iti"][rows, trial], "first_reward": self.last_reward == 0}
        got = reward > 0
        self.last_reward = torch.where(got, self.t + 1, self.last_reward)
        self.reward_count = self.reward_count + (random & got).long()
        return reward, info

    def score(self, batch) -> dict:
        """Sums over a batch's episodes for the periodic evaluations during training:
        ``value_gap`` — the value on the first cue step of CS+ trials minus CS− trials, over
        the second half of each episode's trials (0 before the contingency is learnt; cue
        episodes only, random-mode episodes count 0)."""
        first_cue = batch.valid & (batch.phase == CUE)
        first_cue[:, 1:] &= batch.phase[:, :-1] != CUE
        late = batch.trial >= self.trials // 2
        cs = batch.info["cs"]
        v = batch.value
        gap = 0.0
        for code, sign in ((0, 1.0), (1, -1.0)):
            m = (first_cue & late & (cs == code)).float()
            gap += sign * float(((v * m).sum(1) / m.sum(1).clamp(min=1)).sum())
        return {"value_gap": gap}

    # ---------------------------------------------------------------- recordings (numpy)
    def trial_signals(self, batch, delta) -> dict:
        """``photometry`` [trials, 125]: each trial's simulated ΔF/F (25 Hz, the default kernel
        of :mod:`pfcda.dopamine.photometry`; 2 s before and 3 s after cue onset, or a reward's
        RPE in random mode), from the batch's δ."""
        from pfcda.dopamine import photometry

        b, T = batch.shape
        valid = batch.valid.numpy()
        d = np.where(valid, np.asarray(delta, float), 0.0)
        trace = photometry.from_rpe(d.reshape(-1), np.repeat(np.arange(b), T), np.tile(np.arange(T), b), self.dt)
        rows = batch.rows(OUTCOME)
        step = np.broadcast_to(np.arange(T)[None, :], (b, T))[rows]
        onset = np.where(batch.np("random")[rows], step + 1, batch.np("onset")[rows])
        win = photometry.aligned(trace, batch.episode()[rows], onset * self.dt, 2.0, 3.0)
        return {"photometry": win.astype(np.float32)}

    def trial_table(self, batch) -> dict:
        """One row per trial (cue trials: at the outcome step) or per reward (random mode).
        Columns: episode, trial, kind (0 a cue trial, 1 an unpredicted reward), choice (the
        outcome step's action: 0, ``wait``, the only one), cs (0 CS+, 1 CS−,
        −1 none; the data's coding), cue (0 cue_a, 1 cue_b, −1 none), reward (1 or 0), p_reward
        (the CS+ reward probability), onset_step (the step of the cue's onset within the episode;
        random mode: the reward's step + 1, when its RPE is emitted), iri_s (random mode: seconds
        since the previous reward, NaN for the episode's first reward and for cue trials)."""
        rows = batch.rows(OUTCOME)
        random = batch.np("random")[rows]
        step = np.broadcast_to(np.arange(batch.shape[1])[None, :], batch.shape)[rows]
        iri = batch.np("iri")[rows].astype(np.float32) * self.dt
        first = batch.np("first_reward")[rows]
        return {
            "episode": batch.episode()[rows].astype(np.int64),
            "trial": batch.np("trial")[rows].astype(np.int32),
            "kind": random.astype(np.int8),
            "choice": batch.np("action")[rows].astype(np.int16),
            "cs": batch.np("cs")[rows].astype(np.int8),
            "cue": batch.np("cue")[rows].astype(np.int8),
            "reward": batch.np("reward")[rows].astype(np.float32),
            "p_reward": batch.np("p")[rows].astype(np.float32),
            "cue_s": batch.np("cue_s")[rows].astype(np.float32),
            "onset_step": np.where(random, step + 1, batch.np("onset")[rows]).astype(np.int32),
            "iri_s": np.where(random & ~first, iri, np.nan).astype(np.float32),
        }


def train_defaults(**_) -> dict:
    """The shipped conditioning circuit: 48 LSTM units, γ = 0.95 per 0.5-s step, 20-trial
    episodes (10 CS+, 10 CS−), the CS+ always rewarded and **its identity drawn per episode**,
    so that the frozen activity must learn which cue pays; 64 episodes × 20-step unrolls with
    the state carried across unrolls, Adam 3e-3 → 3e-4, β_v 0.5 (one action: the value is all
    that is trained), 15 M steps. Unpredicted rewards (``mode="random"``) are not in the
    training distribution: the IRI analysis tests the circuit outside it.

    Measured (seed 0): the evaluations' ``value_gap`` (CS+ − CS− value at cue onset, late
    trials; ≈ 0.75 at most) sat at ≤ 0.01 for 7 M steps — a plateau, as the paper's Harlow
    circuits had — then rose to 0.66 by 8 M and 0.76 by 10 M. Budgets that stayed on the
    plateau: 48 units for 4 M and 8 M steps (20- or 40-step unrolls, lr 2e-3 or 5e-3,
    30-trial episodes, a mixture with random-reward episodes and 2–8-s cues), 128 units for
    8 M, 1-s steps for 4 M, delay conditioning (no trace) for 2.5 M. With the identity fixed
    (``plus_cue=0``, the mice's own task across sessions) the same network tells the cues
    apart within 1 M steps, but then by its weights, not by within-episode learning."""
    return {
        "circuit": {"protocol": "conditioning", "task": {"mode": "cs", "trials": 20, "p_reward": 1.0},
                    "core": "lstm", "n_units": 48, "gamma": 0.95},
        "steps": 15_000_000, "batch_size": 64, "t_max": 20,
        "optimizer": "adam", "lr": 3e-3, "lr_final": 3e-4,
        "beta_v": 0.5, "beta_e": 0.0, "beta_e_final": None,
        "eval_every": 1_000_000, "eval_episodes": 200, "checkpoint_every": 0,
    }


#: Manipulations of the frozen circuit (``pfcda run conditioning --preset NAME``).
PRESETS = {"control": []}
