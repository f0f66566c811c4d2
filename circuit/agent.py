"""The Circuit: a PFC network wired to a dopamine module for one protocol.

``architecture="single"`` (Sims 1–5): one PFC network reads out both the policy and the value;
its input carries the previous reward. ``"actor_critic"`` (Sim 6): a critic network (observation,
previous action, previous reward → V) and an actor network (observation, previous action and
the critic's RPE δ = r + γV′ − V in place of the reward → policy); the RPE — computed by the
dopamine module (:func:`pfcda.dopamine.rpe.previous_step_rpe`) — reaches the actor one step after the
outcome it reports, and is the target of ``da_input`` manipulations.

Checkpoints (files) are read and written by :mod:`pfcda.circuit.io.checkpoint`.
"""
from __future__ import annotations

import hashlib
from typing import NamedTuple

import torch
from torch import nn

from pfcda import protocols
from pfcda.dopamine.rpe import previous_step_rpe
from pfcda.errors import ConfigError
from pfcda.pfc.network import PFCNetwork, StepOutput

from .config import CircuitConfig

ARCHITECTURES = ("single", "actor_critic")
_UNSET = object()


class ActorCriticState(NamedTuple):
    """The recurrent state of an actor-critic circuit (batch first)."""

    actor: tuple  #: the actor network's state
    critic: tuple  #: the critic network's state
    v_prev: torch.Tensor  #: [B, 1] the critic's value at the previous step
    start: torch.Tensor  #: [B, 1] 1 at an episode's first step (no RPE yet)


class Circuit(nn.Module):
    """PFC network(s) + the task they were built for + the DA discount γ.

    ``net`` is the network whose units are recorded (the actor of an actor-critic circuit);
    ``critic`` is None for a single network. ``step`` takes optional ``hooks`` — an object with
    ``on_input(x)``, ``unit_fn`` (or None) and ``on_rpe(delta)`` — through which manipulations
    act (:class:`pfcda.circuit.manipulations.Manipulated`); a plain circuit has none.
    """

    def __init__(self, config: CircuitConfig):
        super().__init__()
        if config.architecture not in ARCHITECTURES:
            raise ConfigError(f"architecture: expected one of {ARCHITECTURES}, got {config.architecture!r}")
        self.config = config
        task = protocols.make_task(config.protocol, **config.task)
        self.obs_names, self.action_names = tuple(task.obs_names), tuple(task.action_names)
        self.net = PFCNetwork(task.n_obs, task.n_actions, config.n_units, config.core)
        self.critic = (PFCNetwork(task.n_obs, task.n_actions, config.n_units, config.core)
                       if config.architecture == "actor_critic" else None)
        self.train(False)

    # ------------------------------------------------------------------------- weights
    def weights(self) -> dict:
        """The trained weights in the checkpoint's layout: the network's own keys for a single
        network, ``actor.*`` and ``critic.*`` for an actor-critic circuit."""
        if self.critic is None:
            return self.net.state_dict()
        return {**{f"actor.{k}": v for k, v in self.net.state_dict().items()},
                **{f"critic.{k}": v for k, v in self.critic.state_dict().items()}}

    def load_weights(self, sd: dict) -> None:
        """Load weights in the checkpoint's layout (see :meth:`weights`)."""
        if self.critic is None:
            self.net.load_state_dict(sd)
            return
        self.net.load_state_dict({k.removeprefix("actor."): v for k, v in sd.items() if k.startswith("actor.")})
        self.critic.load_state_dict({k.removeprefix("critic."): v for k, v in sd.items()
                                     if k.startswith("critic.")})

    def weight_hash(self) -> str:
        """SHA-256 of every weight: proves that frozen weights did not change."""
        if self.critic is None:
            return self.net.weight_hash()
        return hashlib.sha256((self.net.weight_hash() + self.critic.weight_hash()).encode()).hexdigest()

    def freeze(self) -> "Circuit":
        """Evaluation mode, no gradients: the weights of a run."""
        self.train(False)
        for p in self.parameters():
            p.requires_grad_(False)
        return self

    # ------------------------------------------------------------------------- dynamics
    def initial_state(self, batch_size: int):
        """The circuit's state at episode start (batch first)."""
        if self.critic is None:
            return self.net.initial_state(batch_size)
        return ActorCriticState(self.net.initial_state(batch_size), self.critic.initial_state(batch_size),
                                torch.zeros(batch_size, 1), torch.ones(batch_size, 1))

    def reset_where(self, state, done: torch.Tensor):
        """Restart the state of the episodes flagged in ``done`` [B]."""
        init = self.initial_state(done.shape[0])
        if self.critic is None:
            return PFCNetwork.reset_where(state, done, init)
        return ActorCriticState(PFCNetwork.reset_where(state.actor, done, init.actor),
                                PFCNetwork.reset_where(state.critic, done, init.critic),
                                *PFCNetwork.reset_where((state.v_prev, state.start), done,
                                                        (init.v_prev, init.start)))

    @staticmethod
    def flatten_state(state) -> list:
        """The state as a flat list of tensors (for a checkpoint's resume block)."""
        if isinstance(state, ActorCriticState):
            return [*state.actor, *state.critic, state.v_prev, state.start]
        return list(state)

    def unflatten_state(self, flat: list):
        """:meth:`flatten_state`'s inverse for this circuit."""
        if self.critic is None:
            return tuple(flat)
        k = len(self.net.initial_state(1))
        return ActorCriticState(tuple(flat[:k]), tuple(flat[k:2 * k]), flat[2 * k], flat[2 * k + 1])

    @staticmethod
    def detach_state(state):
        """The state cut from the autograd graph (truncated BPTT between unrolls)."""
        if isinstance(state, ActorCriticState):
            return ActorCriticState(tuple(s.detach() for s in state.actor),
                                    tuple(s.detach() for s in state.critic),
                                    state.v_prev.detach(), state.start.detach())
        return tuple(s.detach() for s in state)

    def step(self, obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor,
             state, hooks=None) -> StepOutput:
        """One step of the circuit (``hooks``: manipulations acting on this step, or None)."""
        unit_fn = hooks.unit_fn if hooks is not None else None
        if self.critic is None:
            x = self.net.make_input(obs, prev_action, prev_reward)
            if hooks is not None:
                x = hooks.on_input(x)
            return self.net.step(x, state, unit_fn)
        v_prev, start = state.v_prev[:, 0], state.start[:, 0]
        oc = self.critic.step(self.critic.make_input(obs, prev_action, prev_reward), state.critic)
        v = oc.value.detach()
        # the DA module's one-step TD error of the previous step (none at an episode's start)
        delta = previous_step_rpe(prev_reward, v_prev, v, start, self.gamma)
        if hooks is not None:
            delta = hooks.on_rpe(delta)
        x = self.net.make_input(obs, prev_action, delta)
        if hooks is not None:
            x = hooks.on_input(x)
        oa = self.net.step(x, state.actor, unit_fn)
        new_state = ActorCriticState(oa.state, oc.state, v.unsqueeze(1), torch.zeros_like(start).unsqueeze(1))
        return StepOutput(oa.logits, oc.value, new_state, oa.activity, oa.cell, rpe_input=delta)

    def make_task(self, **overrides):
        """A fresh task of the circuit's protocol; ``overrides`` change task options (e.g. fixed
        test probabilities, held-out objects) but never its observation or action channels,
        which the trained network's inputs and readouts are made for (refused)."""
        kwargs = {**self.config.task, **overrides}
        task = protocols.make_task(self.config.protocol, **kwargs)
        for what, trained, now in (("observation", self.obs_names, tuple(task.obs_names)),
                                   ("action", self.action_names, tuple(task.action_names))):
            if now != trained:
                changed = ", ".join(f"{k}={v!r}" for k, v in overrides.items()
                                    if self.config.task.get(k, _UNSET) != v) or "the options"
                raise ConfigError(f"--task {changed}: changes the task's {what} channels (trained on "
                                  f"{len(trained)}: {', '.join(trained)}; asked: {len(now)}: "
                                  f"{', '.join(now)}); a trained circuit runs only the task it was "
                                  f"trained for — train a new one")
        return task

    def input_channels(self) -> list[str]:
        """Names of the PFC input channels: the task's observation channels, ``prev_action:NAME``
        for each action, and ``prev_reward`` (``prev_rpe`` for the actor of an actor-critic)."""
        task = self.make_task()
        names = self.net.input_channels(task.obs_names, task.action_names)
        if self.critic is not None:
            names[-1] = "prev_rpe"  # the actor's reward slot carries the critic's RPE
        return names

    @property
    def gamma(self) -> float:
        return self.config.gamma
