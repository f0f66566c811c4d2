"""The batched task API shared by every protocol.

A task runs B episodes side by side as tensors (gymnax style: explicit parameters, no
per-episode Python loop in :meth:`Task.step`). Episodes that end are re-started in place with
freshly drawn parameters (auto-reset), and ``done`` tells the circuit to reset their network
state, so that episodes of different lengths can share a batch.

Vocabulary (neurogym): an *episode* is a run of *trials* with fixed task parameters; a trial is
made of *phases* (fixation, cue, choice, outcome…), each lasting one or more agent steps.
Observation channels and actions have names; every task documents them in its task card.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class StepResult:
    obs: torch.Tensor  #: [B, n_obs] observation for the next step (of a new episode where done)
    reward: torch.Tensor  #: [B] float reward for the action just taken
    done: torch.Tensor  #: [B] bool: this step ended its episode
    info: dict = field(default_factory=dict)  #: [B] tensors describing the step (task specific)


class Task:
    """Base class of the batched tasks. Subclasses set the class attributes and implement
    :meth:`sample_params`, :meth:`_start` and :meth:`step`."""

    name: str = ""
    citation: str = ""
    description: str = ""
    obs_names: tuple = ()
    action_names: tuple = ()
    phase_names: tuple = ("choice",)

    @property
    def n_obs(self) -> int:
        return len(self.obs_names)

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    def config(self) -> dict:
        """The task's constructor arguments (recorded in checkpoints and recordings)."""
        raise NotImplementedError

    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """Draw the parameters of ``n`` episodes from the task's distribution: a dict of tensors
        with a leading dimension n."""
        raise NotImplementedError

    def reset(self, batch_size: int, generator: torch.Generator, params: dict | None = None):
        """Start ``batch_size`` episodes (with ``params`` if given, else drawn). Returns obs."""
        raise NotImplementedError

    def step(self, action: torch.Tensor) -> StepResult:
        raise NotImplementedError

    def clock(self) -> tuple:
        """(trial [B], phase [B]) of the step about to be taken (long tensors): what the
        "when" of a manipulation (a phase, a trial range) is evaluated against."""
        raise NotImplementedError

    #: Named events a manipulation can be gated by: name → function(action, StepResult) → [B]
    #: bool, true where the step just taken was such an event (e.g. "risky arm chosen and
    #: rewarded"). Protocols define theirs; every task has "rewarded" and "unrewarded": an
    #: outcome step (the phase ``outcome_phase``; every step where it is None) that paid more
    #: than 0, or exactly 0 (penalties for invalid responses are neither).
    events: dict = {}
    outcome_phase: int | None = None

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

    # ---------------------------------------------------------------- recordings (numpy)
    def step_labels(self, batch: dict) -> dict:
        """Trial index and phase code of every step of a batch from ``circuit.evaluate.
        iter_batches``: ``{"trial": [b, T], "phase": [b, T]}`` (default: one step per trial)."""
        b, T = batch["actions"].shape
        return {"trial": np.broadcast_to(np.arange(T), (b, T)), "phase": np.zeros((b, T), np.int8)}

    def trial_table(self, batch: dict) -> dict:
        """One row per trial of a batch (columns as numpy arrays, episode-major), with at least
        ``episode`` (index within the batch), ``trial``, ``choice`` and ``reward``; only the
        steps marked in ``batch["valid"]`` belong to the batch's episodes."""
        raise NotImplementedError


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


def check_actions(action: torch.Tensor, n_actions: int, batch_size: int) -> None:
    """Validate an action batch: a long tensor [B] with values in 0..n_actions-1."""
    if action.shape != (batch_size,):
        raise ValueError(f"action: expected shape ({batch_size},), got {tuple(action.shape)}")
    if action.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"action: expected an integer tensor, got {action.dtype}")
    if bool(((action < 0) | (action >= n_actions)).any()):
        raise ValueError(f"action: expected values in 0..{n_actions - 1}")
