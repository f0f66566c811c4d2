"""Learning to learn: the Harlow learning-set task — Wang et al. 2018 Sim 5 (Fig. 6); Harlow 1949.

Task card
---------
Citation
    Wang, Kurth-Nelson et al. 2018, Nat Neurosci 21:860, Simulation 5, Fig. 6.
    Lab: Harlow 1949, Psychol Rev 56:51, "The formation of learning sets" (rhesus monkeys).
Species
    Rhesus macaque.
Version
    Low-dimensional (the issue's "low-dimensional first"): objects are feature vectors, not
    ImageNet pictures on a PsychLab screen, and a trial is two agent steps, not a sequence of
    head rotations. Each object is a random ±1 vector of ``features`` entries (12 by default);
    two pools of ``pool_size`` objects (1,000 each, as the paper's image sets) are drawn once
    from a fixed seed and are disjoint (no vector in both, no repeats): ``pool="train"`` for
    training, ``pool="test"`` for the held-out test.
Trial timeline (3 agent steps per trial, 6 trials per episode)
    ``fixation``: a central fixation cue; ``fixate`` earns +0.2 (the paper's reward for holding
    fixation); any other action earns 0 (PsychLab did not punish it).
    ``choice``: the episode's two objects at random left/right positions (drawn per trial);
    ``left``/``right`` selects one: +1 for the episode's rewarded object, −1 for the other.
    ``fixate`` at the choice step selects nothing: −1, and the trial counts as an error.
    ``outcome``: the selected object is shown at the centre (``center_f*``; nothing if none was
    selected) while the outcome arrives — in PsychLab selecting an image means centring it in
    view, so the chosen image is on screen when the reward comes. Any action; reward 0.
Episode
    Two objects drawn (with replacement across episodes) from the pool, one of them rewarded for
    the whole episode (the "problem"); 6 trials; the LSTM state is reset at episode start.
Observation channels
    ``fixation_cue``, ``left_f0..left_f{F-1}``, ``right_f0..right_f{F-1}`` (the two objects,
    shown only at the choice step), ``center_f0..center_f{F-1}`` (the selected object, at the
    outcome step). Previous action and reward are added by the network.
Actions
    ``fixate``, ``left``, ``right``.
Training
    See :func:`train_defaults`: a larger core than the bandits (128 LSTM units; the paper used
    256 behind a conv net), γ 0.91 and β_v 0.4 as the paper's Harlow run (LTRL). The periodic
    evaluations during training run on the held-out pool and record accuracy by trial
    (``acc_trial1`` … ``acc_trial6``), so every checkpoint carries its learning-set curve.
"""
from __future__ import annotations

import numpy as np
import torch

from pfcda.errors import ConfigError

from ..base import Task

FIXATE, LEFT, RIGHT = 0, 1, 2
STEPS_PER_TRIAL = 3
POOL_SEED = 20180514  # the object pools are fixed: the same objects on every machine

#: Harlow 1949 (Fig. 6b of Wang et al. 2018): trial-2 % correct by problem block (monkeys), and
#: the paper's model (Fig. 6c): trial-2 % correct at the training quantiles and at the end.
HARLOW_1949_TRIAL2 = {"1-8": 51, "9-16": 66, "17-24": 68, "25-32": 71, "1-100": 78,
                      "101-200": 83, "201-256": 88, "257-312": 97}
PAPER_QUANTILES_TRIAL2 = [47, 55, 61, 70, 73, 90, 97]
REFERENCE = {
    "acc_trial1": {"paper": 0.50, "lab": 0.50, "source": "chance by construction (Fig. 6)"},
    "acc_trial2": {"paper": 0.97, "lab": 0.97, "source": "Fig. 6b,c: monkeys after 257–312 "
                   "problems (Harlow 1949); model at the end of training"},
    "acc_trial6": {"paper": 0.98, "lab": 0.98, "source": "Fig. 6b,c"},
}


def object_pools(features: int = 12, pool_size: int = 1000) -> dict:
    """The training and held-out object pools: {"train": [N, F], "test": [N, F]} (±1 floats),
    disjoint and without repeats, drawn from a fixed seed."""
    if 2 ** features < 2 * pool_size:
        raise ConfigError(f"features: {features} binary features cannot make {2 * pool_size} "
                         f"distinct objects; expected at least {int(np.ceil(np.log2(2 * pool_size)))}")
    rng = np.random.default_rng(POOL_SEED)
    codes = rng.choice(2 ** features, size=2 * pool_size, replace=False)
    bits = (codes[:, None] >> np.arange(features)[None]) & 1
    objs = torch.tensor(2.0 * bits - 1.0, dtype=torch.float32)
    return {"train": objs[:pool_size], "test": objs[pool_size:]}


class HarlowTask(Task):
    name = "harlow"
    action_names = ("fixate", "left", "right")
    phase_names = ("fixation", "choice", "outcome")
    outcome_phase = 1  # the step whose reward is the trial's outcome (events)

    def __init__(self, pool: str = "train", trials: int = 6, features: int = 12,
                 pool_size: int = 1000):
        if pool not in ("train", "test"):
            raise ConfigError(f"pool: expected 'train' or 'test' (held-out objects), got {pool!r}")
        if not isinstance(trials, int) or trials < 2:
            raise ConfigError(f"trials: expected an integer ≥ 2, got {trials!r}")
        if not isinstance(features, int) or features < 2:
            raise ConfigError(f"features: expected an integer ≥ 2, got {features!r}")
        if not isinstance(pool_size, int) or pool_size < 2:
            raise ConfigError(f"pool_size: expected an integer ≥ 2, got {pool_size!r}")
        self.pool, self.trials, self.features, self.pool_size = pool, trials, features, pool_size
        self.objects = object_pools(features, pool_size)[pool]
        self.obs_names = ("fixation_cue",) + tuple(f"left_f{i}" for i in range(features)) + \
            tuple(f"right_f{i}" for i in range(features)) + tuple(f"center_f{i}" for i in range(features))

    def config(self) -> dict:
        return {"pool": self.pool, "trials": self.trials, "features": self.features,
                "pool_size": self.pool_size}

    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """objects [n, 2]: pool indices of the episode's two objects (distinct; object 0 is the
        rewarded one); rewarded_left [n, trials]: whether the rewarded object is on the left."""
        a = torch.randint(self.pool_size, (n,), generator=generator)
        b = (a + 1 + torch.randint(self.pool_size - 1, (n,), generator=generator)) % self.pool_size
        left = torch.rand(n, self.trials, generator=generator) < 0.5
        return {"objects": torch.stack([a, b], 1), "rewarded_left": left}

    # What an episode shows at fixation and at the choice, and which response is correct, depend
    # only on its parameters and the clock: they are tabulated when the episode starts (one row per
    # step), so that a step reads a row (the trainer's hot path); the outcome step shows the object
    # chosen, which the step itself records.
    def _begin(self, which: torch.Tensor) -> None:
        B, F, S = self.batch_size, self.features, self.trials * STEPS_PER_TRIAL
        if not hasattr(self, "chosen") or self.chosen.shape[0] != B:
            self.chosen = torch.zeros(B, F)  # the object chosen this trial
        if getattr(self, "_course", None) is None or self._course.shape[:2] != (B, S):
            self._course = torch.zeros(B, S, 4, dtype=torch.long)  # trial, phase, rewarded-left, correct
            self._course_obs = torch.zeros(B, S, 1 + 3 * F)
            self._good, self._bad = torch.zeros(B, F), torch.zeros(B, F)
        self.chosen[which] = 0.0
        self._tabulate(which)

    def _tabulate(self, which: torch.Tensor) -> None:
        rows = which.nonzero().squeeze(1)
        n, F, S = len(rows), self.features, self.trials * STEPS_PER_TRIAL
        step = torch.arange(S)
        trial, phase = step // STEPS_PER_TRIAL, step % STEPS_PER_TRIAL
        left_rew = self.params["rewarded_left"][rows][:, trial.clamp(max=self.trials - 1)]  # [n, S]
        idx = self.params["objects"][rows]
        good, bad = self.objects[idx[:, 0]], self.objects[idx[:, 1]]
        self._good[rows], self._bad[rows] = good, bad
        lr = left_rew.unsqueeze(2)
        left = torch.where(lr, good.unsqueeze(1), bad.unsqueeze(1))
        right = torch.where(lr, bad.unsqueeze(1), good.unsqueeze(1))
        show = (phase == 1).float().view(1, S, 1)
        self._course_obs[rows] = torch.cat([(phase == 0).float().view(1, S, 1).expand(n, S, 1), left * show,
                                            right * show, torch.zeros(n, S, F)], 2)
        self._course[rows] = torch.stack([trial.expand(n, S), phase.expand(n, S), left_rew.long(),
                                          torch.where(left_rew, LEFT, RIGHT)], -1)

    def _now(self):
        return torch.arange(self.batch_size), self.t.clamp(max=self._course.shape[1] - 1)

    def _obs(self) -> torch.Tensor:
        rows, t = self._now()
        obs = self._course_obs[rows, t]
        F = self.features
        torch.mul(self.chosen, (self._course[rows, t, 1] == 2).float().unsqueeze(1), out=obs[:, 1 + 2 * F:])
        return obs

    def _step(self, action: torch.Tensor):
        trial, phase, left_rew, correct = self._course[self._now()].unbind(1)
        fix_reward = torch.where(action == FIXATE, 0.2, 0.0)
        hit = action == correct
        choice_reward = torch.where(hit, 1.0, -1.0)
        reward = torch.where(phase == 0, fix_reward, torch.where(phase == 1, choice_reward, 0.0))
        picked = torch.where(hit.unsqueeze(1), self._good, self._bad) * (action != FIXATE).float().unsqueeze(1)
        self.chosen = torch.where((phase == 1).unsqueeze(1), picked, self.chosen)
        info = {"trial": trial, "phase": phase, "correct": (phase == 1) & hit,
                "rewarded_left": left_rew.bool(), "error": (phase == 1) & (action == FIXATE)}
        return reward, info

    def state_dict(self) -> dict:  # the course is rebuilt from the parameters
        return {k: v for k, v in super().state_dict().items() if not k.startswith(("_course", "_good", "_bad"))}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        chosen = self.chosen
        self._course = None
        self._begin(torch.zeros(self.batch_size, dtype=torch.bool))
        self._tabulate(torch.ones(self.batch_size, dtype=torch.bool))
        self.chosen = chosen

    # ------------------------------------------------------------------------ evaluation
    def score(self, batch: dict) -> dict:
        """Sums over a batch's episodes for the periodic evaluations during training:
        ``acc_trial{k}`` (the caller divides by the number of episodes)."""
        choice = (batch.phase == 1) & batch.valid
        correct = (batch.info["correct"] & choice).float()
        trial = batch.trial
        return {f"acc_trial{k + 1}": float(correct[trial == k].sum()) for k in range(self.trials)}

    # ---------------------------------------------------------------- recordings (numpy)
    def trial_table(self, batch) -> dict:
        """Columns: episode, trial, choice (0 left, 1 right, −1 none), reward (choice step),
        correct (bool: the rewarded object chosen), rewarded_left (bool), fixated (bool)."""
        ch, fx = batch.rows(1), batch.rows(0)
        act = batch.np("action")
        return {
            "episode": batch.episode()[ch].astype(np.int64),
            "trial": batch.np("trial")[ch].astype(np.int32),
            "choice": np.where(act[ch] == FIXATE, -1, act[ch] - 1).astype(np.int16),
            "reward": batch.np("reward")[ch].astype(np.float32),
            "correct": batch.np("correct")[ch],
            "rewarded_left": batch.np("rewarded_left")[ch],
            "fixated": act[fx] == FIXATE,
        }


def train_defaults(**_) -> dict:
    """Training configuration of the shipped Harlow circuit: 128 LSTM units, the paper's Harlow
    γ 0.91 and β_v 0.4 (LTRL), Adam 1e-3 → 1e-4, entropy 0.01 → 0, one whole episode
    (18 steps) per unroll, 32 episodes per update (≈ 14,000 updates in 8 M steps); the
    evaluations every 200,000 steps run 1,000 episodes on held-out objects, so the checkpoint's
    history is its learning-set curve. Measured: with objects shown only at the choice step (no
    outcome step) and 64-episode updates the circuit stayed at chance for 4 M steps."""
    return {
        "circuit": {"protocol": "harlow", "task": {"pool": "train"}, "core": "lstm",
                    "n_units": 128, "gamma": 0.91},
        "steps": 8_000_000, "batch_size": 32, "t_max": 18,
        "optimizer": "adam", "lr": 1e-3, "lr_final": 1e-4,
        "beta_v": 0.4, "beta_e": 0.01, "beta_e_final": 0.0,
        "eval_every": 200_000, "eval_episodes": 1000, "eval_task": {"pool": "test"},
        "checkpoint_every": 4_000_000,
    }
