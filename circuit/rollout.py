"""The agent–environment step, written once, and the frozen-weight loop over episodes.

Training, frozen evaluation, recording, replay, teacher-forced scoring and the spiking closed
loop all go through :func:`env_step`: the circuit (under its manipulations,
:class:`~pfcda.circuit.manipulations.Manipulated`) reads the observation, previous action and
previous reward, a policy picks the action (sampled, greedy, or the animal's own when forcing),
the task steps, and the step is returned as a typed
:class:`~pfcda.protocols.base.Transition`; finished episodes restart their network state.

Frozen evaluation (:func:`iter_batches`) runs under ``torch.inference_mode`` with no optimiser:
within-episode learning at test comes only from the network's activity dynamics.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import torch

from pfcda.dopamine.closed_loop import ClosedLoop
from pfcda.errors import ConfigError
from pfcda.protocols.base import Batch, Transition

from . import signals
from .manipulations import Manipulated, validate


class Carry(NamedTuple):
    """What the loop carries from one step to the next (batch first)."""

    obs: torch.Tensor  #: [B, n_obs] the observation to act on
    prev_action: torch.Tensor  #: [B] long, −1 at an episode's start
    prev_reward: torch.Tensor  #: [B], 0 at an episode's start
    state: object  #: the circuit's recurrent state


def start(agent, task, batch_size: int, generator: torch.Generator, params: dict | None = None) -> Carry:
    """Reset ``task`` for ``batch_size`` episodes and the circuit's state: the first carry."""
    obs = task.reset(batch_size, generator, params)
    return Carry(obs, torch.full((batch_size,), -1, dtype=torch.long), torch.zeros(batch_size),
                 agent.initial_state(batch_size))


#: A policy: (logits [B, n_actions], loop step k) → actions [B] (long).
Policy = Callable[[torch.Tensor, int], torch.Tensor]


def sample_actions(logits: torch.Tensor, generator: torch.Generator, greedy: bool = False):
    """Actions drawn from the softmax policy (``greedy``: its argmax)."""
    if greedy:
        return logits.argmax(-1)
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(-1)


def sampling(generator: torch.Generator, greedy: bool = False) -> Policy:
    """The circuit's own policy (sampled with ``generator``, or greedy)."""
    return lambda logits, k: sample_actions(logits, generator, greedy)


def forcing(actions) -> Policy:
    """Teacher forcing: at loop step k every episode takes ``actions[:, k]`` (an animal's own
    actions, padded past each session's end with any valid action)."""
    tape = torch.as_tensor(np.asarray(actions), dtype=torch.long)
    return lambda logits, k: tape[:, min(k, tape.shape[1] - 1)]


def env_step(agent: Manipulated, task, carry: Carry, policy: Policy, k: int = 0) -> tuple[Carry, Transition]:
    """One agent–environment step of a batch: → (the next carry, this step's Transition)."""
    trial, phase = task.clock()
    active = agent.active(trial, phase)
    out = agent.step(carry.obs, carry.prev_action, carry.prev_reward, carry.state, active)
    with torch.no_grad():
        a = policy(out.logits, k)
    res = task.step(a)
    teach = agent.observe(a, res, trial, phase)
    tr = Transition(obs=carry.obs, trial=trial, phase=phase, action=a, reward=res.reward,
                    done=res.done, logits=out.logits, value=out.value, hidden=out.activity,
                    cell=out.cell, rpe_input=out.rpe_input, da_rate_hz=agent.da_rate_hz,
                    manipulation_active=active, teaching_active=teach, info=res.info)
    state = agent.reset_where(out.state, res.done)
    nxt = Carry(res.obs, torch.where(res.done, -1, a), torch.where(res.done, 0.0, res.reward), state)
    return nxt, tr


def iter_batches(circuit, task, n_episodes: int, seed: int = 0, batch_size: int = 1000,
                 params: dict | None = None, greedy: bool = False, manipulations=None,
                 closed_loop=None, policy: Policy | None = None):
    """Run ``n_episodes`` fresh episodes of ``task`` with the circuit's weights frozen, yielding
    one :class:`~pfcda.protocols.base.Batch` per batch of episodes.

    params: optional per-episode task parameters ({name: [n_episodes, …] tensor}); by default
    they are drawn from the task's distribution with ``seed``, so every agent given the same
    seed and task sees the same episodes. Episodes may differ in length: a batch runs until each
    of its episodes has ended once, and ``valid`` marks each episode's own steps (a prefix).
    manipulations: :class:`~pfcda.circuit.manipulations.Manipulation` objects (or dicts) acting
    at test; ``manipulation_active`` marks where each one acted.
    closed_loop: None, True or a dict of :class:`~pfcda.dopamine.closed_loop.ClosedLoop`
    options (``params``, ``rpe_scale`` — default the task's ``reward_scale`` —, ``seed``,
    ``target``): each step's RPE passes through the spiking DA population before reaching the
    actor (actor-critic circuits); ``da_rate_hz`` is then filled.
    policy: the actions (default: sampled from the circuit's policy, or greedy); e.g.
    :func:`forcing` for teacher forcing (then ``n_episodes`` must fit in one batch).
    """
    validate(manipulations, circuit, task, "test", bool(closed_loop))
    if n_episodes < 1:
        raise ConfigError(f"episodes: expected a positive integer, got {n_episodes}")
    if batch_size < 1:
        raise ConfigError(f"batch_size: expected a positive integer, got {batch_size}")
    g_task = torch.Generator().manual_seed(seed)
    g_act = torch.Generator().manual_seed(seed + 1_000_003)
    if params is None:
        params = task.sample_test_params(n_episodes, g_task)
    act = policy or sampling(g_act, greedy)
    with torch.inference_mode(), signals.polling():
        for first in range(0, n_episodes, batch_size):
            b = min(batch_size, n_episodes - first)
            batch_params = {k: v[first:first + b] for k, v in params.items()}
            carry = start(circuit, task, b, g_task, batch_params)
            loop = _closed_loop(closed_loop, task, b, seed, first)
            agent = Manipulated(circuit, manipulations, task, "test", b, closed_loop=loop)
            steps, valid = [], []
            alive = torch.ones(b, dtype=torch.bool)
            k = 0
            while True:
                signals.check()  # Ctrl-C / SIGTERM stop here, between two steps
                carry, tr = env_step(agent, task, carry, act, k)
                steps.append(tr)
                valid.append(alive.clone())
                alive &= ~tr.done
                k += 1
                if not bool(alive.any()):
                    break
            yield Batch.stack(steps, valid, batch_params)


def _closed_loop(options, task, batch_size: int, seed: int, first: int):
    """The spiking DA population of the batch starting at episode ``first`` (each batch its own
    DA noise: the loop's seed, default the run's, + ``first``), or None."""
    if not options:
        return None
    opts = dict(options) if isinstance(options, dict) else {}
    opts.setdefault("rpe_scale", float(task.reward_scale))
    opts["seed"] = opts.get("seed", seed) + first
    return ClosedLoop(batch_size, **opts)
