"""Typed configuration of a circuit and of its training run.

Every field documents itself (``field(metadata={"doc": …})``; :func:`describe`); defaults are the
paper's values (Wang et al. 2018, Methods: RMSProp, lr 7e-4, γ 0.9, β_v = β_e = 0.05, LSTM of 48
units) unless the protocol's training configuration overrides them
(``ProtocolSpec.train_defaults``; :func:`train_config_for`).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from pfcda.errors import ConfigError

#: Training engines: the written-out LSTM backward (default) and plain autograd.
ENGINES = ("fused", "autograd")


def _f(default, doc: str, factory=None):
    if factory is not None:
        return field(default_factory=factory, metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass
class CircuitConfig:
    """The circuit: which task it is built for and the shape of its PFC network."""

    protocol: str = _f("bandit", "protocol name (see `pfcda protocols`)")
    task: dict = _f(None, "keyword arguments of the protocol's task", factory=dict)
    core: str = _f("lstm", "recurrent core: lstm | gru | rnn")
    n_units: int = _f(48, "recurrent units of the PFC network")
    gamma: float = _f(0.9, "discount of the RPE (training and the one-step δ of analyses)")
    architecture: str = _f("single", "single (one PFC network) | actor_critic (Sim 6: critic δ → actor input)")


@dataclass
class TrainConfig:
    """A meta-training run (A2C, dopamine-gated)."""

    circuit: CircuitConfig = _f(None, "what is trained", factory=CircuitConfig)
    steps: int = _f(20_000_000, "total environment steps (summed over the batch)")
    batch_size: int = _f(256, "episodes run in parallel as one tensor batch")
    t_max: int = _f(20, "unroll length (BPTT window) in steps; one update per unroll")
    optimizer: str = _f("rmsprop", "rmsprop (paper) | adam")
    lr: float = _f(7e-4, "learning rate at the start")
    lr_final: float | None = _f(None, "learning rate at the end (linear anneal); None = constant")
    gae_lambda: float = _f(1.0, "1 = the paper's n-step bootstrapped advantage; < 1 = GAE(λ)")
    beta_v: float = _f(0.05, "weight of the value term")
    beta_e: float = _f(0.05, "weight of the entropy term at the start")
    beta_e_final: float | None = _f(None, "entropy weight at the end (linear anneal); None = constant")
    max_grad_norm: float = _f(40.0, "gradient-norm clip (0 = none)")
    da_gain: float = _f(1.0, "gain of the DA teaching signal: 1 normal, 0 blockade")
    seed: int = _f(0, "seeds weights, task draws and action sampling")
    threads: int = _f(1, "torch threads for this process (1 where processes share the machine)")
    eval_every: int = _f(2_000_000, "steps between frozen-weight evaluations (0 = never)")
    eval_episodes: int = _f(500, "episodes per periodic evaluation")
    eval_task: dict = _f(None, "task options of the evaluations (e.g. held-out objects)", factory=dict)
    eval_claims: float = _f(0.0, "at each evaluation, also judge the protocol's paper claims on frozen runs of "
                                 "this many times pfcda reproduce's episodes (0 = off): history's claims_met")
    checkpoint_every: int = _f(5_000_000, "steps between checkpoints written during training")
    manipulations: list = _f(None, "manipulations during training (dicts; circuit.manipulations)",
                             factory=list)
    engine: str = _f("fused", "fused: the LSTM's BPTT written out (pfc.bptt), falling back to autograd "
                              "where it does not apply | autograd: every step through autograd")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> "TrainConfig":
        """Every field of the expected type and range; errors name the field."""
        c = self.circuit
        _check(c, "protocol", str)
        _check(c, "task", dict)
        _check(c, "core", str, choices=("lstm", "gru", "rnn"))
        _check(c, "n_units", int, lo=1)
        _check(c, "gamma", float, lo=0.0, hi=1.0)
        _check(c, "architecture", str, choices=("single", "actor_critic"))
        for name in ("steps", "batch_size", "t_max", "eval_episodes", "threads"):
            _check(self, name, int, lo=1)
        for name in ("eval_every", "checkpoint_every", "seed"):
            _check(self, name, int, lo=0 if name != "seed" else None)
        _check(self, "optimizer", str, choices=("rmsprop", "adam"))
        _check(self, "engine", str, choices=ENGINES)
        for name in ("lr", "beta_v", "beta_e", "max_grad_norm", "da_gain", "eval_claims"):
            _check(self, name, float, lo=0.0)
        for name in ("lr_final", "beta_e_final"):
            _check(self, name, float, lo=0.0, optional=True)
        _check(self, "gae_lambda", float, lo=0.0, hi=1.0)
        _check(self, "eval_task", dict)
        _check(self, "manipulations", list)
        return self

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        c = dict(d.pop("circuit", {}))
        known_c = {f.name for f in dataclasses.fields(CircuitConfig)}
        if set(c) - known_c:
            raise ConfigError(f"circuit config: unknown fields {sorted(set(c) - known_c)}; "
                              f"expected {sorted(known_c)}")
        circuit = CircuitConfig(**c)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"train config: unknown fields {sorted(unknown)}; expected {sorted(known)}")
        return cls(circuit=circuit, **d).validate()


def _check(obj, name: str, kind, lo=None, hi=None, choices=None, optional: bool = False) -> None:
    """Check (and, int → float, coerce) one field; the error names it and the expected form."""
    value = getattr(obj, name)
    where = "circuit." + name if isinstance(obj, CircuitConfig) else name
    if value is None and optional:
        return
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
        setattr(obj, name, value)
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok and kind in (int, float) and not math.isfinite(value):
        ok = False
    expected = {int: "an integer", float: "a number", str: "a string", dict: "a table", list: "a list"}[kind]
    if lo is not None and hi is not None:
        expected += f" in [{lo:g}, {hi:g}]"
    elif lo == 1:
        expected = "a positive integer"
    elif lo is not None:
        expected += f" ≥ {lo:g}"
    if choices:
        expected = f"one of {choices}"
        ok = ok and value in choices
    if ok and lo is not None and value < lo or ok and hi is not None and value > hi:
        ok = False
    if not ok:
        raise ConfigError(f"{where}: expected {expected}{' or null' if optional else ''}, got {value!r}")


def describe(cls) -> dict:
    """Field name → its one-line description."""
    return {f.name: f.metadata.get("doc", "") for f in dataclasses.fields(cls)}


def train_config_for(protocol: str, task_options: dict | None = None, sets=(), steps: int | None = None,
                     seed: int | None = None, manipulations=()) -> TrainConfig:
    """The training configuration of ``protocol`` (its ``train_defaults``, given the task
    options), with ``sets`` (``(FIELD, VALUE)`` pairs, ``circuit.FIELD`` for the circuit's),
    ``steps``, ``seed`` and training-stage ``manipulations`` applied; the task options are
    validated before anything runs."""
    from pfcda import protocols

    spec = protocols.get(protocol)
    task_options = dict(task_options or {})
    if spec.train_defaults is not None:
        base = spec.train_defaults(**task_options)
    else:
        base = {"circuit": {"protocol": protocol, "task": {}}}
    base.setdefault("circuit", {})
    base["circuit"]["task"] = {**base["circuit"].get("task", {}), **task_options}
    base["circuit"]["protocol"] = protocol
    for key, value in sets:
        target, name = (base["circuit"], key.split(".", 1)[1]) if key.startswith("circuit.") else (base, key)
        target[name] = value
    if steps is not None:
        base["steps"] = steps
    if manipulations:
        base["manipulations"] = base.get("manipulations", []) + [m.to_dict() for m in manipulations]
    if seed is not None:
        base["seed"] = seed
    cfg = TrainConfig.from_dict(base)
    spec.task(**cfg.circuit.task)  # the task options, checked before any work
    return cfg

