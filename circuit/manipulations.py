"""Manipulations as data: virtual lesions, input ablations, dopamine stimulation and blockade.

A manipulation is a small declarative object (DESIGN.md, "Manipulations are data"):

*what* (``target``)
    ``units``        PFC units (``units=[…]`` indices, or ``fraction`` of them drawn with ``seed``)
    ``input``        one PFC input channel by name (``channel``, e.g. ``"prev_reward"``; see
                     ``Circuit.input_channels()``)
    ``da_teaching``  the DA teaching signal that gates plasticity (during training)
    ``da_input``     the DA activity input: the RPE fed to the actor PFC network (circuits with
                     ``architecture="actor_critic"``, the paper's Sim 6 variant)
    ``da_neurons``   the spiking DA population of the closed loop (``run(..., closed_loop=True)``,
                     :mod:`dopamine.closed_loop`): light on a ``fraction`` of its neurons (the
                     opsin's expression), or ``silence`` = a lesion of that fraction
    ``d1``           D1 receptors at the PFC target (closed loop): ``scale`` by ``value`` (a D1
                     antagonist; 0 = full blockade) or ``silence``
*how* (``action``, with ``value``)
    ``silence`` (set to 0), ``scale`` (× value), ``add`` (+ value), ``clamp`` (set to value),
    ``noise`` (+ Gaussian noise of SD value, drawn from ``seed``); on ``da_neurons`` also
    ``chr2`` (depolarising light current), ``archt`` / ``nphr`` (hyperpolarising), with ``value``
    the current amplitude in mV (0 → 30 mV), ``frequency_hz`` and ``width_ms`` of the pulse
    train (frequency 0 = continuous light) over the step's DA pulse window
*when*
    ``stage``   ``"test"`` (runs and evaluations, weights frozen), ``"train"`` or ``"both"``
    ``phase``   a trial phase of the protocol (its task card's phase names), or all
    ``trials``  ``[start, stop)`` trial range within the episode, or all
    ``event``   a named event of the protocol (``task.event_names()``, e.g. ``"rewarded"``,
                ``"risky_rewarded"``), or always.

Timing, precisely. Phase and trial are those of the step at which the manipulation acts. An
event refers to the outcome of a step, and a manipulation gated by it acts on the signals that
carry that outcome: the DA teaching signal *of that step*, and at the *next* step the network's
inputs, its units and the RPE fed to the actor (which is computed from that outcome). So
"``da_input``, ``add`` −4, event ``risky_rewarded``" is the paper's Sim 6 "block the risky
reward": the RPE that reaches the actor after a rewarded risky choice is lowered by 4.

Manipulations are validated against a circuit and its task before anything runs; errors name
the field and the expected form. They can be written in TOML::

    [[manipulation]]
    name = "block risky reward"
    target = "da_input"
    action = "add"
    value = -4.0
    event = "risky_rewarded"
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

TARGETS = ("units", "input", "da_teaching", "da_input", "da_neurons", "d1")
ACTIONS = ("silence", "scale", "add", "clamp", "noise", "chr2", "archt", "nphr")
LIGHT = ("chr2", "archt", "nphr")
SPIKING_TARGETS = ("da_neurons", "d1")
STAGES = ("test", "train", "both")


@dataclass(frozen=True)
class Manipulation:
    target: str  #: units | input | da_teaching | da_input
    action: str  #: silence | scale | add | clamp | noise
    value: float = 0.0  #: gain (scale), amount (add), level (clamp), SD (noise)
    units: tuple = ()  #: unit indices (target units)
    fraction: float | None = None  #: or a fraction of the units, drawn with ``seed``
    channel: str | None = None  #: input channel name (target input)
    phase: str | None = None  #: act only in this trial phase
    trials: tuple | None = None  #: act only on trials start ≤ trial < stop of each episode
    event: str | None = None  #: act only on the outcome of this event (see the module doc)
    stage: str = "test"  #: test | train | both
    seed: int = 0  #: draws the unit subset of ``fraction`` and the noise
    name: str = ""  #: a label for recordings and figures
    frequency_hz: float = 20.0  #: light pulse frequency (da_neurons; 0 = continuous)
    width_ms: float = 5.0  #: light pulse width (da_neurons)

    def __post_init__(self):
        def bad(field_name, expected, got):
            raise ValueError(f"manipulation {self.name or ''!s}: {field_name}: expected {expected}, "
                             f"got {got!r}".replace(" : ", ": "))

        if self.target not in TARGETS:
            bad("target", f"one of {TARGETS}", self.target)
        if self.action not in ACTIONS:
            bad("action", f"one of {ACTIONS}", self.action)
        if self.stage not in STAGES:
            bad("stage", f"one of {STAGES}", self.stage)
        try:
            object.__setattr__(self, "value", float(self.value))
        except (TypeError, ValueError):
            bad("value", "a number", self.value)
        if self.action == "noise" and self.value < 0:
            bad("value", "a noise SD ≥ 0", self.value)
        units = tuple(self.units) if isinstance(self.units, (list, tuple)) else self.units
        if not isinstance(units, tuple) or not all(isinstance(u, int) and not isinstance(u, bool) for u in units):
            bad("units", "a list of unit indices (integers)", self.units)
        object.__setattr__(self, "units", units)
        if self.target == "units":
            if bool(units) == (self.fraction is not None):
                bad("units/fraction", "exactly one of units=[…] or fraction for target 'units'",
                    (units, self.fraction))
            if self.fraction is not None and not 0.0 <= float(self.fraction) <= 1.0:
                bad("fraction", "a number in [0, 1]", self.fraction)
        elif self.target == "da_neurons":
            if units:
                bad("units", "none for target 'da_neurons' (give a fraction)", units)
            if self.fraction is not None and not 0.0 <= float(self.fraction) <= 1.0:
                bad("fraction", "a number in [0, 1]", self.fraction)
            if self.action not in LIGHT + ("silence",):
                bad("action", f"one of {LIGHT + ('silence',)} for target 'da_neurons'", self.action)
            if self.frequency_hz < 0 or self.width_ms <= 0:
                bad("frequency_hz/width_ms", "frequency ≥ 0 and width > 0", (self.frequency_hz, self.width_ms))
            if self.frequency_hz > 0 and self.width_ms >= 1000.0 / self.frequency_hz:
                bad("width_ms", f"a pulse shorter than the period ({1000.0 / self.frequency_hz:g} ms "
                                f"at {self.frequency_hz:g} Hz; frequency 0 = continuous light)", self.width_ms)
            if self.action in LIGHT and self.value < 0:
                bad("value", "a light current amplitude ≥ 0 in mV (the opsin sets the sign; 0 → 30 mV)",
                    self.value)
        elif units or self.fraction is not None:
            bad("units/fraction", "none unless target is 'units' or 'da_neurons'", (units, self.fraction))
        if self.action in LIGHT and self.target != "da_neurons":
            bad("action", f"light ({self.action}) acts on target 'da_neurons' only", self.action)
        if self.target == "d1" and self.action not in ("scale", "silence"):
            bad("action", "'scale' (a D1 antagonist's remaining gain) or 'silence' for target 'd1'", self.action)
        if self.target == "d1" and self.action == "scale" and self.value < 0:
            bad("value", "a D1 gain ≥ 0 (0 = full blockade, 1 = none, > 1 = an agonist)", self.value)
        if (self.target == "input") != (self.channel is not None):
            bad("channel", "an input channel name for target 'input' (and only then)", self.channel)
        if self.trials is not None:
            t = tuple(self.trials) if isinstance(self.trials, (list, tuple)) else None
            if t is None or len(t) != 2 or not all(isinstance(v, int) for v in t) or not 0 <= t[0] < t[1]:
                bad("trials", "[start, stop) with 0 ≤ start < stop (integers)", self.trials)
            object.__setattr__(self, "trials", t)
        if self.target == "da_teaching" and self.stage == "test":
            bad("stage", "'train' or 'both' for target 'da_teaching' (it gates plasticity)", self.stage)

    # ------------------------------------------------------------------------------ I/O
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["units"] = list(self.units)
        d["trials"] = list(self.trials) if self.trials is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Manipulation":
        if isinstance(d, Manipulation):
            return d
        if not isinstance(d, dict):
            raise ValueError(f"manipulation: expected a table of fields, got {d!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"manipulation {d.get('name', '')!s}: unknown field(s) {sorted(unknown)}; "
                             f"expected some of {sorted(known)}")
        missing = {"target", "action"} - set(d)
        if missing:
            raise ValueError(f"manipulation {d.get('name', '')!s}: missing field(s) {sorted(missing)}")
        return cls(**d)


def load_toml(path: str) -> list[Manipulation]:
    """Manipulations from a TOML file of ``[[manipulation]]`` tables."""
    import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"manipulation file: no file {path!r}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"manipulation file {path}: not valid TOML ({e})") from None
    tables = data.get("manipulation")
    if not isinstance(tables, list) or not tables:
        raise ValueError(f"manipulation file {path}: expected one or more [[manipulation]] tables")
    out = []
    for i, t in enumerate(tables):
        try:
            out.append(Manipulation.from_dict(t))
        except ValueError as e:
            raise ValueError(f"manipulation file {path}, table {i + 1}: {e}") from None
    return out


def as_manipulations(items) -> list[Manipulation]:
    """Manipulation objects from a list of objects or dicts (or None)."""
    return [Manipulation.from_dict(m) for m in (items or [])]


def da_selection(m: Manipulation, n_neurons: int):
    """The DA neurons a ``da_neurons`` manipulation acts on ([n_neurons] bool, numpy): a random
    ``fraction`` (default all) drawn with its ``seed`` — the same in the closed loop and in a
    rendering of its recording."""
    import numpy as np

    g = torch.Generator().manual_seed(m.seed)
    k = int(round((1.0 if m.fraction is None else m.fraction) * n_neurons))
    sel = np.zeros(n_neurons, bool)
    sel[torch.randperm(n_neurons, generator=g)[:k].numpy()] = True
    return sel


# -------------------------------------------------------------------------------- engine
@dataclass
class _Resolved:
    m: Manipulation
    units: torch.Tensor | None = None
    channel: int | None = None
    phase: int | None = None
    generator: torch.Generator | None = field(default=None, repr=False)


def _op(x: torch.Tensor, m: Manipulation, mask: torch.Tensor, gen) -> torch.Tensor:
    """Apply m's action to x where ``mask`` (broadcastable to x) is true."""
    if m.action == "silence":
        y = torch.zeros_like(x)
    elif m.action == "scale":
        y = x * m.value
    elif m.action == "add":
        y = x + m.value
    elif m.action == "clamp":
        y = torch.full_like(x, m.value)
    else:  # noise
        y = x + m.value * torch.randn(x.shape, generator=gen, dtype=x.dtype)
    return torch.where(mask, y, x)


class Engine:
    """Applies a list of manipulations to one batched run (training or test) of a circuit."""

    def __init__(self, manipulations, circuit, task, stage: str, batch_size: int, closed_loop=None):
        self.manipulations = as_manipulations(manipulations)
        self.closed_loop = closed_loop
        self.stage, self.B = stage, batch_size
        self.task = task
        channels = circuit.input_channels()
        phases = list(task.phase_names)
        events = task.event_names()
        n_units = circuit.net.n_units
        self.resolved = []
        for m in self.manipulations:
            r = _Resolved(m)
            label = f"manipulation {m.name or m.target}"
            if m.stage not in (stage, "both"):
                where = "a run or evaluation (weights frozen)" if stage == "test" else "training"
                raise ValueError(f"{label}: stage: {m.stage!r} does not act in {where}; expected "
                                 f"{stage!r} or 'both'")
            if m.target == "units":
                if m.units:
                    bad = [u for u in m.units if not 0 <= u < n_units]
                    if bad:
                        raise ValueError(f"{label}: units: {bad} outside 0..{n_units - 1}")
                    r.units = torch.tensor(sorted(set(m.units)), dtype=torch.long)
                else:
                    g = torch.Generator().manual_seed(m.seed)
                    k = int(round(m.fraction * n_units))
                    r.units = torch.randperm(n_units, generator=g)[:k].sort().values
            if m.target == "input":
                if m.channel not in channels:
                    raise ValueError(f"{label}: channel: unknown {m.channel!r}; expected one of {channels}")
                r.channel = channels.index(m.channel)
            if m.target in SPIKING_TARGETS and closed_loop is None:
                raise ValueError(f"{label}: target {m.target!r} acts on the spiking DA population of "
                                 f"the closed loop: run with closed_loop=True (pfcda run --closed-loop)")
            if m.target == "da_neurons":  # the expressing (light) or silenced (lesion) DA neurons
                r.units = torch.as_tensor(da_selection(m, closed_loop.p.n_neurons))
            if m.target == "da_input" and circuit.critic is None:
                raise ValueError(f"{label}: target 'da_input' needs an actor-critic circuit "
                                 f"(architecture='actor_critic'); this one is "
                                 f"{circuit.config.architecture!r}")
            if m.phase is not None:
                if m.phase not in phases:
                    raise ValueError(f"{label}: phase: unknown {m.phase!r}; protocol "
                                     f"{task.name!r} has phases {phases}")
                r.phase = phases.index(m.phase)
            if m.event is not None and m.event not in events:
                raise ValueError(f"{label}: event: unknown {m.event!r}; protocol {task.name!r} "
                                 f"defines {events}")
            if m.action == "noise":
                r.generator = torch.Generator().manual_seed(m.seed + 7919)
            self.resolved.append(r)
        if closed_loop is not None and circuit.critic is None:
            raise ValueError("closed_loop: the DA population's output reaches the PFC as the actor's "
                             "DA input, which needs an actor-critic circuit (architecture='actor_critic')")
        self.prev_events = {e: torch.zeros(batch_size, dtype=torch.bool) for e in events}
        self.any = bool(self.resolved) or closed_loop is not None

    @property
    def n(self) -> int:
        return len(self.resolved)

    def _staged(self, r) -> bool:
        return r.m.stage == "both" or r.m.stage == self.stage

    def active(self) -> torch.Tensor:
        """[B, M] bool: which manipulations act on the step about to be taken (its phase and
        trial from the task's clock; events: those of the previous step)."""
        return self.active_at(self.task.clock() if self.any else None, self.prev_events)

    def active_at(self, clock, events: dict) -> torch.Tensor:
        """[B, M] bool for a step with ``clock`` = (trial, phase) and the given events."""
        out = torch.zeros(self.B, self.n, dtype=torch.bool)
        if not self.any:
            return out
        trial, phase = clock
        for j, r in enumerate(self.resolved):
            if not self._staged(r):
                continue
            a = torch.ones(self.B, dtype=torch.bool)
            if r.phase is not None:
                a &= phase == r.phase
            if r.m.trials is not None:
                a &= (trial >= r.m.trials[0]) & (trial < r.m.trials[1])
            if r.m.event is not None:
                a &= events[r.m.event]
            out[:, j] = a
        return out

    def observe(self, action: torch.Tensor, result, new_episode: torch.Tensor) -> dict:
        """Record the events of the step just taken (none carry over into a new episode);
        returns them."""
        if not self.any:
            return self.prev_events
        ev = self.task.event_flags(action, result)
        self.prev_events = {k: v & ~new_episode for k, v in ev.items()}
        return ev

    # -------------------------------------------------------------------------- effects
    def on_input(self, x: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        for j, r in enumerate(self.resolved):
            if r.m.target == "input" and bool(active[:, j].any()):
                col = _op(x[:, r.channel], r.m, active[:, j], r.generator)
                x = torch.cat([x[:, :r.channel], col.unsqueeze(1), x[:, r.channel + 1:]], 1)
        return x

    def unit_fn(self, active: torch.Tensor):
        todo = [(j, r) for j, r in enumerate(self.resolved)
                if r.m.target == "units" and bool(active[:, j].any())]
        if not todo:
            return None

        def fn(h):
            for j, r in todo:
                mask = torch.zeros_like(h, dtype=torch.bool)
                mask[:, r.units] = active[:, j].unsqueeze(1)
                h = _op(h, r.m, mask, r.generator)
            return h
        return fn

    def on_da_input(self, delta: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """The RPE that reaches the actor: ``da_input`` manipulations on δ, then, in closed loop,
        the spiking DA population (light, lesions) and the D1 gain at the target."""
        for j, r in enumerate(self.resolved):
            if r.m.target == "da_input" and bool(active[:, j].any()):
                delta = _op(delta, r.m, active[:, j], r.generator)
        if self.closed_loop is None:
            return delta
        light, alive, gain = [], None, None
        n_da = self.closed_loop.p.n_neurons
        for j, r in enumerate(self.resolved):
            a = active[:, j]
            if r.m.target == "da_neurons" and r.m.action in LIGHT:
                light.append((r.m, a.numpy(), r.units.numpy()))
            elif r.m.target == "da_neurons":  # lesion: the silenced neurons of active episodes
                dead = (a.unsqueeze(1) & r.units.unsqueeze(0)).reshape(-1)
                alive = (torch.ones(self.B * n_da) if alive is None else alive) * (~dead).float()
            elif r.m.target == "d1":
                g = torch.where(a, 0.0 if r.m.action == "silence" else r.m.value, 1.0)
                gain = g if gain is None else gain * g
        return self.closed_loop.step(delta, light, None if alive is None else alive.numpy(), gain)

    def on_teaching(self, signal: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """signal [T, B]; active [T, B, M] (phase/trial of step t, events of step t)."""
        for j, r in enumerate(self.resolved):
            if r.m.target == "da_teaching" and bool(active[..., j].any()):
                signal = _op(signal, r.m, active[..., j], r.generator)
        return signal
