"""The Circuit: a PFC network wired to a dopamine module for one protocol, and its checkpoints.

A checkpoint is one ``torch.save`` file (loaded with ``weights_only=True``: plain data only)::

    {"format": "pfcda-checkpoint", "version": 1,
     "circuit": CircuitConfig as dict, "train": TrainConfig as dict (or None),
     "state_dict": network weights, "steps": environment steps trained,
     "provenance": {...}, "history": [evaluations during training],
     "resume": {optimizer state, RNG states} (absent in shipped checkpoints)}
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from importlib import resources

import torch

import protocols
from pfc.network import PFCNetwork, StepOutput

from .config import CircuitConfig

FORMAT, VERSION = "pfcda-checkpoint", 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (missing, foreign, wrong version)."""


ARCHITECTURES = ("single", "actor_critic")


class Circuit:
    """PFC network + the task it was built for + the DA discount γ.

    ``architecture="single"`` (Sims 1–5): one PFC network reads out both the policy and the
    value; its input carries the previous reward. ``"actor_critic"`` (Sim 6, protocols.md §8.2):
    a critic network (observation, previous action, previous reward → V) and an actor network
    (``net``: observation, previous action and the critic's RPE δ = r + γV′ − V in place of the
    reward → policy); the RPE reaches the actor one step after the outcome it reports, and is
    the target of ``da_input`` manipulations.
    """

    def __init__(self, config: CircuitConfig):
        if config.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture: expected one of {ARCHITECTURES}, got {config.architecture!r}")
        self.config = config
        task = self.make_task()
        self.net = PFCNetwork(task.n_obs, task.n_actions, config.n_units, config.core)
        self.critic = (PFCNetwork(task.n_obs, task.n_actions, config.n_units, config.core)
                       if config.architecture == "actor_critic" else None)
        self._n_state = len(self.net.initial_state(1))

    # --------------------------------------------------------------------- the two networks
    def networks(self) -> list:
        return [self.net] + ([self.critic] if self.critic is not None else [])

    def parameters(self):
        return [p for n in self.networks() for p in n.parameters()]

    def train_mode(self, on: bool = True) -> None:
        for n in self.networks():
            n.train(on)

    @property
    def training(self) -> bool:
        return self.net.training

    def state_dict(self) -> dict:
        if self.critic is None:
            return self.net.state_dict()
        return {**{f"actor.{k}": v for k, v in self.net.state_dict().items()},
                **{f"critic.{k}": v for k, v in self.critic.state_dict().items()}}

    def load_state_dict(self, sd: dict) -> None:
        if self.critic is None:
            self.net.load_state_dict(sd)
            return
        self.net.load_state_dict({k[6:]: v for k, v in sd.items() if k.startswith("actor.")})
        self.critic.load_state_dict({k[7:]: v for k, v in sd.items() if k.startswith("critic.")})

    # ------------------------------------------------------------------------- dynamics
    def initial_state(self, batch_size: int) -> tuple:
        """The circuit's state at episode start, a flat tuple of tensors (batch first)."""
        if self.critic is None:
            return self.net.initial_state(batch_size)
        return (*self.net.initial_state(batch_size), *self.critic.initial_state(batch_size),
                torch.zeros(batch_size, 1), torch.ones(batch_size, 1))  # V_prev, episode start

    def reset_where(self, state: tuple, done: torch.Tensor) -> tuple:
        """Restart the state of the episodes flagged in ``done`` [B]."""
        return PFCNetwork.reset_where(state, done, self.initial_state(done.shape[0]))

    def step(self, obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor,
             state: tuple, engine=None, active=None) -> StepOutput:
        """One step of the circuit. ``engine``/``active``: manipulations acting on this step
        (:class:`circuit.manipulations.Engine`)."""
        unit_fn = engine.unit_fn(active) if engine is not None else None
        if self.critic is None:
            x = self.net.make_input(obs, prev_action, prev_reward)
            if engine is not None:
                x = engine.on_input(x, active)
            return self.net.step(x, state, unit_fn)
        k = self._n_state
        a_state, c_state = state[:k], state[k:2 * k]
        v_prev, start = state[2 * k][:, 0], state[2 * k + 1][:, 0]
        oc = self.critic.step(self.critic.make_input(obs, prev_action, prev_reward), c_state)
        v = oc.value.detach()
        delta = (prev_reward + self.gamma * v - v_prev) * (1.0 - start)
        if engine is not None:
            delta = engine.on_da_input(delta, active)
        x = self.net.make_input(obs, prev_action, delta)
        if engine is not None:
            x = engine.on_input(x, active)
        oa = self.net.step(x, a_state, unit_fn)
        new_state = (*oa.state, *oc.state, v.unsqueeze(1), torch.zeros_like(start).unsqueeze(1))
        return StepOutput(oa.logits, oc.value, new_state, oa.activity, rpe_input=delta)

    def make_task(self, **overrides):
        """A fresh task of the circuit's protocol; ``overrides`` change task options (e.g.
        fixed test probabilities) but not its observation/action layout."""
        kwargs = {**self.config.task, **overrides}
        return protocols.make_task(self.config.protocol, **kwargs)

    def input_channels(self) -> list[str]:
        """Names of the PFC input channels: the task's observation channels, ``prev_action:NAME``
        for each action, and ``prev_reward``."""
        task = self.make_task()
        names = self.net.input_channels(task.obs_names, task.action_names)
        if self.critic is not None:
            names[-1] = "prev_rpe"  # the actor's reward slot carries the critic's RPE
        return names

    @property
    def gamma(self) -> float:
        return self.config.gamma

    def weight_hash(self) -> str:
        if self.critic is None:
            return self.net.weight_hash()
        import hashlib

        return hashlib.sha256((self.net.weight_hash() + self.critic.weight_hash()).encode()).hexdigest()

    # ---------------------------------------------------------------------- checkpoints
    def save(self, path: str, train_config=None, steps: int = 0, provenance=None, history=None,
             resume=None) -> None:
        """Write a checkpoint atomically (temporary file, then rename)."""
        payload = {
            "format": FORMAT, "version": VERSION,
            "circuit": dataclasses.asdict(self.config),
            "train": train_config.to_dict() if train_config is not None else None,
            "state_dict": self.state_dict(), "steps": int(steps),
            "provenance": provenance or {}, "history": history or [],
        }
        if resume is not None:
            payload["resume"] = resume
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp{os.getpid()}")
        try:
            torch.save(payload, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    @classmethod
    def load(cls, path_or_name: str) -> "Circuit":
        circuit, _ = load_checkpoint(path_or_name)
        return circuit


def shipped_dir():
    return resources.files("circuit") / "checkpoints"


def shipped_checkpoints() -> dict:
    """Name → path of the checkpoints shipped inside the package."""
    d = shipped_dir()
    return {p.name[:-3]: str(p) for p in sorted(d.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".pt")}


def resolve(path_or_name: str) -> str:
    """A checkpoint path, or the name of a shipped checkpoint, → a path that exists."""
    if os.path.isfile(path_or_name):
        return path_or_name
    shipped = shipped_checkpoints()
    if path_or_name in shipped:
        return shipped[path_or_name]
    raise CheckpointError(f"checkpoint: {path_or_name!r} is neither a file nor a shipped "
                          f"checkpoint (shipped: {', '.join(shipped) or 'none'})")


def load_checkpoint(path_or_name: str):
    """Load a checkpoint → (Circuit, payload dict)."""
    path = resolve(path_or_name)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise CheckpointError(f"checkpoint {path}: not a pfcda checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: not a pfcda checkpoint (no format tag)")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path}: format version {payload.get('version')}, "
                              f"this pfcda reads version {VERSION}")
    circuit = Circuit(CircuitConfig(**payload["circuit"]))
    circuit.load_state_dict(payload["state_dict"])
    circuit.train_mode(False)
    for p in circuit.parameters():
        p.requires_grad_(False)
    return circuit, payload


def file_hash(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
