"""The batched task API shared by every protocol, and the trajectory its tables are made from.

A task runs B episodes side by side as tensors (gymnax style: explicit per-episode parameters,
no per-episode Python loop in :meth:`Task.step`). The base class owns the episode: the step
clock ``t`` (agent steps since the episode began), the auto-reset of episodes that end
(restarted in place with freshly drawn parameters; ``done`` tells the circuit to reset their
network state, so episodes of different lengths can share a batch) and the trial/phase clock.
A subclass implements :meth:`Task.sample_params`, :meth:`Task._step` (reward and info of the
step, advancing nothing), :meth:`Task._obs` and, where it keeps per-episode state besides its
parameters, :meth:`Task._begin`.

Vocabulary (neurogym): an *episode* is a run of *trials* with fixed task parameters; a trial is
made of *phases* (fixation, cue, choice, outcome…), each lasting one agent step. Observation
channels and actions have names; every task documents them in its task card.

The trajectory: one agent–environment step of a batch is a :class:`Transition` (what the circuit
saw, did and computed); a run's steps stacked over time are a :class:`Batch`, from which a task
makes its trials table (:meth:`Task.trial_table`) and the recording its per-step arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from pfcda.errors import ConfigError


@dataclass
class StepResult:
    obs: torch.Tensor  #: [B, n_obs] observation for the next step (of a new episode where done)
    reward: torch.Tensor  #: [B] float reward for the action just taken
    done: torch.Tensor  #: [B] bool: this step ended its episode
    info: dict = field(default_factory=dict)  #: [B] tensors describing the step (task specific)


class Task:
    """Base class of the batched tasks.

    Class attributes: ``name``, ``obs_names``, ``action_names``, ``phase_names`` (a trial's
    phases, one agent step each, in order), ``outcome_phase`` (the phase whose reward is the
    trial's outcome; None: every step), ``events`` (see :meth:`event_flags`).
    """

    name: str = ""
    obs_names: tuple = ()
    action_names: tuple = ()
    phase_names: tuple = ("choice",)
    outcome_phase: int | None = None
    #: RPEs ÷ this enter the spiking DA population (closed loop, render): the task's largest
    #: reward, so that its RPEs stay within the population's calibrated range
    reward_scale: float = 1.0
    #: Named events a manipulation can be gated by: name → function(action, StepResult) → [B]
    #: bool, true where the step just taken was such an event (e.g. "risky arm chosen and
    #: rewarded"). Every task has "rewarded" and "unrewarded": an outcome step (the phase
    #: ``outcome_phase``; every step where it is None) that paid more than 0, or exactly 0
    #: (penalties for invalid responses are neither).
    events: dict = {}
    #: Per-episode parameters of the running batch (name → tensor [B, ...]), set by reset.
    params: dict

    @property
    def n_obs(self) -> int:
        return len(self.obs_names)

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    @property
    def steps_per_trial(self) -> int:
        return len(self.phase_names)

    # ----------------------------------------------------------------- what subclasses give
    def config(self) -> dict:
        """The task's constructor arguments (recorded in checkpoints and recordings)."""
        raise NotImplementedError

    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """Draw the parameters of ``n`` episodes from the task's distribution: a dict of tensors
        with a leading dimension n."""
        raise NotImplementedError

    def sample_test_params(self, n: int, generator: torch.Generator) -> dict:
        """The parameters of ``n`` episodes of a frozen run (``pfcda run``, evaluation): by
        default those of :meth:`sample_params`; a task may add what makes runs comparable across
        agents (the bandit: its reward tape), so that one seed means the same episodes in every
        command."""
        return self.sample_params(n, generator)

    def _step(self, action: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Reward [B] and info of the step ``action`` takes at clock ``t`` (update per-episode
        state here; the base advances ``t`` and restarts finished episodes)."""
        raise NotImplementedError

    def _obs(self) -> torch.Tensor:
        """The observation [B, n_obs] at the current clock."""
        raise NotImplementedError

    def _episode_steps(self) -> torch.Tensor | int:
        """Agent steps of each running episode ([B] or a number)."""
        return self.trials * self.steps_per_trial

    def _load_params(self, params: dict) -> dict:
        """Check and store a batch's parameters (default: a private copy of each tensor)."""
        return {k: v.clone() for k, v in params.items()}

    def _begin(self, which: torch.Tensor) -> None:
        """Reset per-episode state (besides ``t`` and the parameters) of the episodes flagged in
        ``which`` [B]: at reset and at every auto-reset."""

    # --------------------------------------------------------------------------- the episode
    def reset(self, batch_size: int, generator: torch.Generator, params: dict | None = None):
        """Start ``batch_size`` episodes (with ``params`` if given, else drawn). Returns obs."""
        self.generator, self.batch_size = generator, batch_size
        params = params if params is not None else self.sample_params(batch_size, generator)
        self.params = self._load_params(params)
        self.t = torch.zeros(batch_size, dtype=torch.long)
        self._begin(torch.ones(batch_size, dtype=torch.bool))
        return self._obs()

    def step(self, action: torch.Tensor, check: bool = True) -> StepResult:
        """Take ``action`` [B] (long) in every episode; finished episodes restart in place.
        ``check=False`` skips validating the actions (for a caller that draws them itself from
        the policy over ``n_actions``, the trainer)."""
        if check:
            check_actions(action, self.n_actions, self.batch_size)
        reward, info = self._step(action)
        self.t = self.t + 1
        done = self.t >= self._episode_steps()
        if bool(done.any()):
            n = int(done.sum())
            for k, v in self.sample_params(n, self.generator).items():
                target = self.params.get(k)
                if target is not None:  # (a parameter the batch was started without stays absent)
                    target[done] = v.reshape((n,) + target.shape[1:])
            self.t[done] = 0
            self._begin(done)
        return StepResult(self._obs(), reward, done, info)

    def state_dict(self) -> dict:
        """The running batch's state — its parameters, the clock, every per-episode tensor, the
        schedule position — so that a run stopped between steps resumes exactly
        (:meth:`load_state_dict` after a :meth:`reset` of the same batch size)."""
        out = {"params": dict(self.params)}
        for k, v in vars(self).items():
            if isinstance(v, torch.Tensor) or k == "_next_session":
                out[k] = v
        return out

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, dict(v) if k == "params" else v)

    def clock(self) -> tuple:
        """(trial [B], phase [B]) of the step about to be taken (long tensors): what the "when"
        of a manipulation (a phase, a trial range) is evaluated against, and the recording's
        ``trial`` and ``phase`` of that step."""
        spt = self.steps_per_trial
        if spt == 1:
            return self.t.clone(), torch.zeros_like(self.t)
        return self.t // spt, self.t % spt

    def event_names(self) -> list[str]:
        return ["rewarded", "unrewarded", *self.events]

    def event_flags(self, action: torch.Tensor, result: "StepResult") -> dict:
        """Every event of the step just taken: name → [B] bool."""
        outcome = torch.ones_like(result.reward, dtype=torch.bool)
        if self.outcome_phase is not None and "phase" in result.info:
            outcome = result.info["phase"] == self.outcome_phase
        out = {"rewarded": outcome & (result.reward > 0), "unrewarded": outcome & (result.reward == 0)}
        for name, fn in self.events.items():
            out[name] = fn(action, result)
        return out

    def score(self, batch: "Batch") -> dict:
        """Sums over a batch's episodes of the task's own scores for the periodic evaluations
        during training (the caller divides by the number of episodes); none by default."""
        return {}

    # ---------------------------------------------------------------- recordings (numpy)
    def trial_signals(self, batch: "Batch", delta: np.ndarray) -> dict:
        """Trial columns made from the run's per-step TD errors ``delta`` [b, T] (the recording's
        δ, known only once the values are): none by default; e.g. the conditioning task's
        simulated photometry window of each trial."""
        return {}

    def trial_table(self, batch: "Batch") -> dict:
        """One row per trial of a batch (columns as numpy arrays, episode-major), with at least
        ``episode`` (index within the batch), ``trial``, ``choice`` and ``reward``; only the
        steps marked in ``batch.valid`` belong to the batch's episodes."""
        raise NotImplementedError


class Transition(NamedTuple):
    """One agent–environment step of a batch of B episodes (torch tensors, batch first)."""

    obs: torch.Tensor  #: [B, n_obs] the observation the circuit acted on
    trial: torch.Tensor  #: [B] the task's trial at this step
    phase: torch.Tensor  #: [B] the task's phase code at this step
    action: torch.Tensor  #: [B] the action taken
    reward: torch.Tensor  #: [B] the reward it received
    done: torch.Tensor  #: [B] the step ended its episode
    logits: torch.Tensor  #: [B, n_actions] policy logits
    value: torch.Tensor  #: [B] the value estimate V(s_t)
    hidden: torch.Tensor  #: [B, n_units] hidden-unit activity after the step's input
    cell: torch.Tensor | None  #: [B, n_units] LSTM cell state (LSTM cores)
    rpe_input: torch.Tensor | None  #: [B] the RPE the actor received (actor-critic circuits)
    da_rate_hz: torch.Tensor | None  #: [B] DA population pulse-window rate (closed loop)
    manipulation_active: torch.Tensor  #: [B, M] which manipulation acted on this step
    teaching_active: torch.Tensor | None  #: [B, M] which gated this step's teaching signal
    info: dict  #: the task's per-step info ([B] tensors)


#: Transition fields stacked into a Batch (``info`` is stacked per key).
_STACKED = ("obs", "trial", "phase", "action", "reward", "done", "logits", "value", "hidden",
            "cell", "rpe_input", "da_rate_hz", "manipulation_active")


@dataclass
class Batch:
    """A run of b episodes stacked over steps: every field [b, T, ...] (torch), ``info`` a dict
    of [b, T, ...] tensors, ``valid`` [b, T] (each episode's own steps: a prefix) and
    ``params`` the episodes' task parameters. Optional fields are None when absent."""

    obs: torch.Tensor
    trial: torch.Tensor
    phase: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    done: torch.Tensor
    logits: torch.Tensor
    value: torch.Tensor
    hidden: torch.Tensor
    cell: torch.Tensor | None
    rpe_input: torch.Tensor | None
    da_rate_hz: torch.Tensor | None
    manipulation_active: torch.Tensor
    info: dict
    valid: torch.Tensor
    params: dict

    @classmethod
    def stack(cls, steps: list, valid: list, params: dict) -> "Batch":
        fields = {}
        for name in _STACKED:
            seq = [getattr(s, name) for s in steps]
            fields[name] = None if seq[0] is None else torch.stack(seq, 1)
        info = {k: torch.stack([s.info[k] for s in steps], 1) for k in steps[0].info}
        return cls(**fields, info=info, valid=torch.stack(valid, 1), params=params)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.action.shape)

    @property
    def policy(self) -> torch.Tensor:
        """[b, T, n_actions] action probabilities π(·|s_t)."""
        return torch.softmax(self.logits, -1)

    def rows(self, phase: int | None = None) -> np.ndarray:
        """[b, T] bool: the valid steps (of trial phase ``phase`` if given) — a trials table's
        rows in episode-major order."""
        valid = self.valid.numpy()
        return valid if phase is None else valid & (self.phase.numpy() == phase)

    def episode(self) -> np.ndarray:
        """[b, T] the index (within the batch) of each step's episode."""
        b, T = self.shape
        return np.broadcast_to(np.arange(b)[:, None], (b, T))

    def np(self, name: str) -> np.ndarray:
        """A field or an info entry as numpy."""
        value = getattr(self, name, None) if name in _STACKED else self.info.get(name)
        if value is None:
            raise KeyError(f"batch: no field or info entry {name!r}")
        return value.numpy()


def episode_positions(episode) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Row layout of a ragged trials table: for each row its episode's index among the sorted
    distinct episodes and its position within that episode (in row order), with the padded
    shape (E episodes × T longest). Vectorised (no per-episode loop)."""
    ep = np.asarray(episode)
    _, idx = np.unique(ep, return_inverse=True)
    idx = idx.reshape(-1)
    counts = np.bincount(idx)
    order = np.argsort(idx, kind="stable")
    pos = np.empty(len(ep), dtype=np.int64)
    pos[order] = np.arange(len(ep)) - np.repeat(np.cumsum(counts) - counts, counts)
    return idx, pos, len(counts), int(counts.max()) if len(counts) else 0


def schedule_frame(schedule):
    """A task's ``schedule`` option → (a pandas DataFrame, its name for messages): a DataFrame
    as it is (``"(in memory)"``), or a CSV/TSV file read with its separator sniffed."""
    import os

    import pandas as pd

    if isinstance(schedule, pd.DataFrame):
        return schedule.reset_index(drop=True), "(in memory)"
    if not isinstance(schedule, str) or not os.path.isfile(schedule):
        raise ConfigError(f"schedule: no file {schedule!r}")
    try:
        return pd.read_csv(schedule, sep=None, engine="python"), schedule
    except Exception as e:  # noqa: BLE001 - any parse failure: say which file
        raise ConfigError(f"schedule {schedule}: not a readable CSV/TSV table ({type(e).__name__}: {e})") from None


def check_actions(action: torch.Tensor, n_actions: int, batch_size: int) -> None:
    """Validate an action batch: a long tensor [B] with values in 0..n_actions-1."""
    if action.shape != (batch_size,):
        raise ConfigError(f"action: expected shape ({batch_size},), got {tuple(action.shape)}")
    if action.dtype not in (torch.int64, torch.int32):
        raise ConfigError(f"action: expected an integer tensor, got {action.dtype}")
    if bool(((action < 0) | (action >= n_actions)).any()):
        raise ConfigError(f"action: expected values in 0..{n_actions - 1}")
