"""Typed configuration of a circuit and of its training run.

Every field has a one-line docstring (the comment after it); defaults are the paper's values
(Wang et al. 2018, Methods: RMSProp, lr 7e-4, γ 0.9, β_v = β_e = 0.05, LSTM of 48 units) unless
the protocol's own training configuration overrides them (``protocols.<name>.TRAIN_DEFAULTS``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class CircuitConfig:
    """The circuit: which task it is built for and the shape of its PFC network."""

    protocol: str = "bandit"  # protocol name (see `pfcda protocols`)
    task: dict = field(default_factory=dict)  # keyword arguments of the protocol's task
    core: str = "lstm"  # recurrent core: lstm | gru | rnn
    n_units: int = 48  # recurrent units of the PFC network
    gamma: float = 0.9  # discount of the RPE (training and the one-step δ of analyses)
    architecture: str = "single"  # single (one PFC network) | actor_critic (Sim 6: critic δ → actor input)


@dataclass
class TrainConfig:
    """A meta-training run (A2C, dopamine-gated)."""

    circuit: CircuitConfig = field(default_factory=CircuitConfig)  # what is trained
    steps: int = 20_000_000  # total environment steps (summed over the batch)
    batch_size: int = 256  # episodes run in parallel as one tensor batch
    t_max: int = 20  # unroll length (BPTT window) in steps; one update per unroll
    optimizer: str = "rmsprop"  # rmsprop (paper) | adam
    lr: float = 7e-4  # learning rate at the start
    lr_final: float | None = None  # learning rate at the end (linear anneal); None = constant
    gae_lambda: float = 1.0  # 1 = the paper's n-step bootstrapped advantage; < 1 = GAE(λ)
    beta_v: float = 0.05  # weight of the value term
    beta_e: float = 0.05  # weight of the entropy term at the start
    beta_e_final: float | None = None  # entropy weight at the end (linear anneal); None = constant
    max_grad_norm: float = 40.0  # gradient-norm clip (0 = none)
    da_gain: float = 1.0  # gain of the DA teaching signal: 1 normal, 0 blockade
    seed: int = 0  # seeds weights, task draws and action sampling
    threads: int = 1  # torch threads for this process (1 where processes share the machine)
    eval_every: int = 2_000_000  # steps between frozen-weight evaluations (0 = never)
    eval_episodes: int = 500  # episodes per periodic evaluation
    eval_task: dict = field(default_factory=dict)  # task options of the evaluations (e.g. held-out objects)
    checkpoint_every: int = 5_000_000  # steps between checkpoints written during training
    manipulations: list = field(default_factory=list)  # manipulations during training (dicts; circuit.manipulations)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        c = dict(d.pop("circuit", {}))
        known_c = {f.name for f in dataclasses.fields(CircuitConfig)}
        if set(c) - known_c:
            raise ValueError(f"circuit config: unknown fields {sorted(set(c) - known_c)}; "
                             f"expected {sorted(known_c)}")
        circuit = CircuitConfig(**c)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"train config: unknown fields {sorted(unknown)}; expected {sorted(known)}")
        return cls(circuit=circuit, **d)


def describe(cls) -> dict:
    """Field name → (default, one-line description), read from the source comments."""
    import inspect

    src = inspect.getsource(cls)
    out = {}
    for line in src.splitlines():
        line = line.strip()
        if ":" in line and "#" in line and not line.startswith(("#", '"', "def", "class")):
            name = line.split(":", 1)[0].strip()
            out[name] = line.split("#", 1)[1].strip()
    return out
