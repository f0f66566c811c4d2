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
from pfc.network import PFCNetwork

from .config import CircuitConfig

FORMAT, VERSION = "pfcda-checkpoint", 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (missing, foreign, wrong version)."""


class Circuit:
    """PFC network + the task it was built for + the DA discount γ."""

    def __init__(self, config: CircuitConfig):
        self.config = config
        task = self.make_task()
        self.net = PFCNetwork(task.n_obs, task.n_actions, config.n_units, config.core)

    def make_task(self, **overrides):
        """A fresh task of the circuit's protocol; ``overrides`` change task options (e.g.
        fixed test probabilities) but not its observation/action layout."""
        kwargs = {**self.config.task, **overrides}
        return protocols.make_task(self.config.protocol, **kwargs)

    def input_channels(self) -> list[str]:
        """Names of the PFC input channels: the task's observation channels, ``prev_action:NAME``
        for each action, and ``prev_reward``."""
        task = self.make_task()
        return self.net.input_channels(task.obs_names, task.action_names)

    @property
    def gamma(self) -> float:
        return self.config.gamma

    def weight_hash(self) -> str:
        return self.net.weight_hash()

    # ---------------------------------------------------------------------- checkpoints
    def save(self, path: str, train_config=None, steps: int = 0, provenance=None, history=None,
             resume=None) -> None:
        """Write a checkpoint atomically (temporary file, then rename)."""
        payload = {
            "format": FORMAT, "version": VERSION,
            "circuit": dataclasses.asdict(self.config),
            "train": train_config.to_dict() if train_config is not None else None,
            "state_dict": self.net.state_dict(), "steps": int(steps),
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
    circuit.net.load_state_dict(payload["state_dict"])
    circuit.net.eval()
    for p in circuit.net.parameters():
        p.requires_grad_(False)
    return circuit, payload


def file_hash(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
