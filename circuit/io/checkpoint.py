"""Checkpoint files: one ``torch.save`` file per trained circuit (loaded with
``weights_only=True``: plain data only)::

    {"format": "pfcda-checkpoint", "version": 1,
     "circuit": CircuitConfig as dict, "train": TrainConfig as dict (or None),
     "state_dict": network weights (:meth:`Circuit.weights`), "steps": environment steps trained,
     "provenance": {...}, "history": [evaluations during training],
     "resume": {optimizer state, RNG states} (absent in shipped checkpoints)}

Shipped checkpoints live in the package (``pfcda/circuit/checkpoints/NAME.pt``) and are named by
their file's stem (``pfcda checkpoints``).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from importlib import resources

import torch

from pfcda.errors import CheckpointError

from .atomic import atomic_write, ensure_space

FORMAT, VERSION = "pfcda-checkpoint", 1


@dataclass
class Checkpoint:
    """A checkpoint file's contents, with typed accessors (:func:`read_checkpoint`)."""

    path: str
    circuit_config: dict  #: the CircuitConfig as a dict
    train_config: dict | None  #: the TrainConfig as a dict (None: not made by pfcda train)
    state_dict: dict = field(repr=False)  #: the weights (:meth:`Circuit.weights` layout)
    steps: int = 0  #: environment steps trained
    provenance: dict = field(default_factory=dict)
    history: list = field(default_factory=list)  #: the periodic frozen evaluations
    resume: dict | None = field(default=None, repr=False)  #: optimiser and RNG states, if kept

    @property
    def protocol(self) -> str:
        return self.circuit_config["protocol"]

    @property
    def eval_episodes(self) -> int:
        return int((self.train_config or {}).get("eval_episodes", 1000))

    def circuit(self):
        """The trained circuit, weights frozen."""
        from pfcda.circuit.agent import Circuit
        from pfcda.circuit.config import CircuitConfig

        c = Circuit(CircuitConfig(**self.circuit_config))
        c.load_weights(self.state_dict)
        return c.freeze()

    def payload(self) -> dict:
        """The file's dict, as written."""
        out = {"format": FORMAT, "version": VERSION, "circuit": self.circuit_config,
               "train": self.train_config, "state_dict": self.state_dict, "steps": self.steps,
               "provenance": self.provenance, "history": self.history}
        if self.resume is not None:
            out["resume"] = self.resume
        return out


def save_checkpoint(circuit, path: str, train_config=None, steps: int = 0, provenance=None,
                    history=None, resume=None, overwrite: bool = False) -> str:
    """Write ``circuit`` (and what trained it) as a checkpoint, atomically (an existing file is
    replaced only with ``overwrite``)."""
    payload = {
        "format": FORMAT, "version": VERSION,
        "circuit": dataclasses.asdict(circuit.config),
        "train": train_config.to_dict() if train_config is not None else None,
        "state_dict": circuit.weights(), "steps": int(steps),
        "provenance": provenance or {}, "history": history or [],
    }
    if resume is not None:
        payload["resume"] = resume
    nbytes = sum(t.numel() * t.element_size() for t in _tensors(payload))
    with atomic_write(path, overwrite=overwrite) as tmp:
        ensure_space(tmp, 2 * nbytes)
        torch.save(payload, tmp)
    return path


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


def shipped_dir():
    return resources.files("pfcda.circuit") / "checkpoints"


#: A folder of candidate checkpoints that shadow the shipped ones of the same names (to run the
#: tests, which assert each protocol's effects on the shipped circuits, against freshly trained ones).
OVERRIDE_ENV = "PFCDA_CHECKPOINTS"


def shipped_checkpoints() -> dict:
    """Name → path of the checkpoints shipped inside the package (those in the folder named by
    ``$PFCDA_CHECKPOINTS`` take the place of the shipped ones of the same name)."""
    d = shipped_dir()
    out = {p.name[:-3]: str(p) for p in sorted(d.iterdir(), key=lambda p: p.name)
           if p.name.endswith(".pt")}
    extra = os.environ.get(OVERRIDE_ENV)
    if extra:
        if not os.path.isdir(extra):
            raise CheckpointError(f"${OVERRIDE_ENV}: {extra!r} is not a folder")
        out.update({f[:-3]: os.path.join(extra, f) for f in sorted(os.listdir(extra))
                    if f.endswith(".pt") and not f.endswith(".resume.pt")})
    return out


def resolve(path_or_name: str) -> str:
    """A checkpoint path, or the name of a shipped checkpoint, → a path that exists."""
    if os.path.isfile(path_or_name):
        return path_or_name
    shipped = shipped_checkpoints()
    if path_or_name in shipped:
        return shipped[path_or_name]
    raise CheckpointError(f"checkpoint: {path_or_name!r} is neither a file nor a shipped "
                          f"checkpoint (shipped: {', '.join(shipped) or 'none'})")


def read_checkpoint(path_or_name: str) -> Checkpoint:
    """Read a checkpoint (a path or a shipped name), with a clear error for anything else."""
    path = resolve(path_or_name)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CheckpointError(f"checkpoint {path}: not a pfcda checkpoint ({type(e).__name__}: {first[:100]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: not a pfcda checkpoint (no format tag)")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path}: format version {payload.get('version')}, "
                              f"this pfcda reads version {VERSION}")
    return Checkpoint(path, payload["circuit"], payload.get("train"), payload["state_dict"],
                      int(payload.get("steps", 0)), payload.get("provenance") or {},
                      payload.get("history") or [], payload.get("resume"))


def load_checkpoint(path_or_name: str):
    """Load a checkpoint → (Circuit with frozen weights, the file's payload dict)."""
    ck = read_checkpoint(path_or_name)
    return ck.circuit(), ck.payload()


def load_circuit(path_or_name: str):
    """A trained circuit (weights frozen) from a checkpoint path or shipped name."""
    return load_checkpoint(path_or_name)[0]
