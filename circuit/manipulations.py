"""Manipulations as data: virtual lesions, input ablations, dopamine stimulation and blockade.

A manipulation is a small declarative object:

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
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from pfcda.dopamine.spiking import DEFAULT_LIGHT_MV, Light
from pfcda.errors import ManipulationError
from pfcda.pfc.lesions import apply, apply_columns

TARGETS = ("units", "input", "da_teaching", "da_input", "da_neurons", "d1")
ACTIONS = ("silence", "scale", "add", "clamp", "noise", "chr2", "archt", "nphr")
LIGHT = ("chr2", "archt", "nphr")
SPIKING_TARGETS = ("da_neurons", "d1")
STAGES = ("test", "train", "both")


@dataclass(frozen=True)
class Manipulation:
    target: str  #: units | input | da_teaching | da_input | da_neurons | d1
    action: str  #: silence | scale | add | clamp | noise | chr2 | archt | nphr (light: da_neurons)
    value: float = 0.0  #: gain (scale), amount (add), level (clamp), SD (noise), light current mV
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
            raise ManipulationError(f"manipulation {self.name or ''!s}: {field_name}: expected {expected}, "
                             f"got {got!r}".replace(" : ", ": "))

        if self.target not in TARGETS:
            bad("target", f"one of {TARGETS}", self.target)
        if self.action not in ACTIONS:
            bad("action", f"one of {ACTIONS}", self.action)
        if self.stage not in STAGES:
            bad("stage", f"one of {STAGES}", self.stage)
        try:
            if isinstance(self.value, bool):
                raise TypeError
            object.__setattr__(self, "value", float(self.value))
        except (TypeError, ValueError):
            bad("value", "a number", self.value)
        if not math.isfinite(self.value):
            bad("value", "a finite number", self.value)
        for k in ("frequency_hz", "width_ms"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                bad(k, "a finite number", v)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            bad("seed", "an integer", self.seed)
        if self.fraction is not None and (isinstance(self.fraction, bool)
                                          or not isinstance(self.fraction, (int, float))):
            bad("fraction", "a number in [0, 1]", self.fraction)
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

    @property
    def is_light(self) -> bool:
        """Light on the spiking DA population (ChR2, ArchT, NpHR)."""
        return self.target == "da_neurons" and self.action in LIGHT

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
            raise ManipulationError(f"manipulation: expected a table of fields, got {d!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ManipulationError(f"manipulation {d.get('name', '')!s}: unknown field(s) {sorted(unknown)}; "
                             f"expected some of {sorted(known)}")
        missing = {"target", "action"} - set(d)
        if missing:
            raise ManipulationError(f"manipulation {d.get('name', '')!s}: missing field(s) {sorted(missing)}")
        return cls(**d)


def load_toml(path: str) -> list[Manipulation]:
    """Manipulations from a TOML file of ``[[manipulation]]`` tables."""
    import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ManipulationError(f"manipulation file: no file {path!r}") from None
    except tomllib.TOMLDecodeError as e:
        raise ManipulationError(f"manipulation file {path}: not valid TOML ({e})") from None
    tables = data.get("manipulation")
    if not isinstance(tables, list) or not tables:
        raise ManipulationError(f"manipulation file {path}: expected one or more [[manipulation]] tables")
    out = []
    for i, t in enumerate(tables):
        try:
            out.append(Manipulation.from_dict(t))
        except ValueError as e:
            raise ManipulationError(f"manipulation file {path}, table {i + 1}: {e}") from None
    return out


def as_manipulations(items) -> list[Manipulation]:
    """Manipulation objects from a list of objects or dicts (or None)."""
    return [Manipulation.from_dict(m) for m in (items or [])]


def da_selection(m: Manipulation, n_neurons: int) -> np.ndarray:
    """The DA neurons a ``da_neurons`` manipulation acts on ([n_neurons] bool, numpy): a random
    ``fraction`` (default all) drawn with its ``seed`` — the same in the closed loop and in a
    rendering of its recording."""
    g = torch.Generator().manual_seed(m.seed)
    k = int(round((1.0 if m.fraction is None else m.fraction) * n_neurons))
    sel = np.zeros(n_neurons, bool)
    sel[torch.randperm(n_neurons, generator=g)[:k].numpy()] = True
    return sel


def light_of(m: Manipulation, n_neurons: int) -> Light:
    """The light a ``da_neurons`` light manipulation shines (the one place where a manipulation
    becomes light on the spiking DA population, for the closed loop and the render alike)."""
    if not m.is_light:
        raise ManipulationError(f"manipulation {m.name or m.target}: not light on DA neurons")
    return Light(kind=m.action, amplitude_mV=m.value or DEFAULT_LIGHT_MV, frequency_hz=m.frequency_hz,
                 width_ms=m.width_ms, expressing=da_selection(m, n_neurons), name=m.name)


# --------------------------------------------------------------------- a circuit under them
@dataclass
class _Resolved:
    m: Manipulation
    units: torch.Tensor | None = None
    channel: int | None = None
    phase: int | None = None
    generator: torch.Generator | None = field(default=None, repr=False)
    light: Light | None = None


def _resolve(manipulations, circuit, task, stage: str, closed_loop: bool, n_da: int) -> list:
    """Check manipulations against a circuit, its task and the run (stage, closed loop) and
    resolve what they act on; errors name the manipulation and the field."""
    channels = circuit.input_channels()
    phases = list(task.phase_names)
    events = task.event_names()
    n_units = circuit.net.n_units
    out = []
    for m in as_manipulations(manipulations):
        r = _Resolved(m)
        label = f"manipulation {m.name or m.target}"
        if m.stage not in (stage, "both"):
            where = "a run or evaluation (weights frozen)" if stage == "test" else "training"
            raise ManipulationError(f"{label}: stage: {m.stage!r} does not act in {where}; expected "
                                    f"{stage!r} or 'both'")
        if m.target == "units":
            if m.units:
                bad = [u for u in m.units if not 0 <= u < n_units]
                if bad:
                    raise ManipulationError(f"{label}: units: {bad} outside 0..{n_units - 1}")
                r.units = torch.tensor(sorted(set(m.units)), dtype=torch.long)
            else:
                g = torch.Generator().manual_seed(m.seed)
                k = int(round(m.fraction * n_units))
                r.units = torch.randperm(n_units, generator=g)[:k].sort().values
        if m.target == "input":
            if m.channel not in channels:
                raise ManipulationError(f"{label}: channel: unknown {m.channel!r}; expected one of {channels}")
            r.channel = channels.index(m.channel)
        if m.target in SPIKING_TARGETS and not closed_loop:
            raise ManipulationError(f"{label}: target {m.target!r} acts on the spiking DA population of "
                                    f"the closed loop: run with closed_loop=True (pfcda run --closed-loop)")
        if m.target == "da_neurons":  # the expressing (light) or silenced (lesion) DA neurons
            r.units = torch.as_tensor(da_selection(m, n_da))
            if m.is_light:
                r.light = light_of(m, n_da)
        if m.target == "da_input" and circuit.critic is None:
            raise ManipulationError(f"{label}: target 'da_input' needs an actor-critic circuit "
                                    f"(architecture='actor_critic'); this one is "
                                    f"{circuit.config.architecture!r}")
        if m.phase is not None:
            if m.phase not in phases:
                raise ManipulationError(f"{label}: phase: unknown {m.phase!r}; protocol "
                                        f"{task.name!r} has phases {phases}")
            r.phase = phases.index(m.phase)
        if m.event is not None and m.event not in events:
            raise ManipulationError(f"{label}: event: unknown {m.event!r}; protocol {task.name!r} "
                                    f"defines {events}")
        if m.action == "noise":
            r.generator = torch.Generator().manual_seed(m.seed + 7919)
        out.append(r)
    if closed_loop and circuit.critic is None:
        raise ManipulationError("closed_loop: the DA population's output reaches the PFC as the actor's "
                                "DA input, which needs an actor-critic circuit (architecture='actor_critic')")
    return out


def validate(manipulations, circuit, task, stage: str = "test", closed_loop: bool = False) -> list:
    """Check manipulations against a circuit and task before anything runs; returns them as
    :class:`Manipulation` objects."""
    from pfcda.dopamine.spiking import DAParams

    resolved = _resolve(manipulations, circuit, task, stage, closed_loop, DAParams().n_neurons)
    return [r.m for r in resolved]


class Manipulated:
    """A circuit under manipulations, for one batched run (``batch_size`` episodes of ``task``,
    training or test): the circuit's step, with each manipulation applied where it acts.

    It owns *when* they act — :meth:`active` from the task's clock (phase, trial) and the
    previous step's events, which :meth:`observe` records — and *how*, through the circuit's
    step hooks (inputs, units, the actor's RPE input; in closed loop the spiking DA population,
    light, lesions and D1 receptors) and :meth:`teaching` (the DA teaching signal). With no
    manipulations and no closed loop it is a no-op wrapper.
    """

    def __init__(self, circuit, manipulations, task, stage: str, batch_size: int, closed_loop=None):
        n_da = closed_loop.p.n_neurons if closed_loop is not None else 0
        self.circuit, self.task, self.stage, self.B = circuit, task, stage, batch_size
        self.closed_loop = closed_loop
        self.resolved = _resolve(manipulations, circuit, task, stage, closed_loop is not None, n_da)
        self.manipulations = [r.m for r in self.resolved]
        self.any = bool(self.resolved) or closed_loop is not None
        self._none = torch.zeros(batch_size, len(self.resolved), dtype=torch.bool)
        self.prev_events = {e: torch.zeros(batch_size, dtype=torch.bool) for e in task.event_names()}

    @property
    def n(self) -> int:
        return len(self.resolved)

    def state_dict(self) -> dict:
        """What carries from step to step (the previous step's events, the noise generators)."""
        return {"prev_events": dict(self.prev_events),
                "generators": [r.generator.get_state() if r.generator is not None else None
                               for r in self.resolved]}

    def load_state_dict(self, state: dict) -> None:
        self.prev_events = dict(state["prev_events"])
        for r, g in zip(self.resolved, state["generators"]):
            if g is not None:
                r.generator.set_state(g)

    # ---------------------------------------------------------------------------- timing
    def active(self, trial: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """[B, M] bool: which manipulations act on the step about to be taken at ``(trial,
        phase)`` (events: those of the previous step)."""
        if not self.resolved:
            return self._none
        return self._gate(trial, phase, self.prev_events)

    def _gate(self, trial, phase, events) -> torch.Tensor:
        out = torch.zeros(self.B, self.n, dtype=torch.bool)
        for j, r in enumerate(self.resolved):
            if r.m.stage not in ("both", self.stage):
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

    def observe(self, action: torch.Tensor, result, trial: torch.Tensor, phase: torch.Tensor):
        """Record the events of the step just taken (none carry over into a new episode);
        returns [B, M] the manipulations gating *this* step's teaching signal (its phase and
        trial, its own events), or None without manipulations."""
        if not self.resolved:
            return None
        events = self.task.event_flags(action, result)
        self.prev_events = {k: v & ~result.done for k, v in events.items()}
        return self._gate(trial, phase, events)

    # --------------------------------------------------------------------------- effects
    def step(self, obs, prev_action, prev_reward, state, active):
        """The circuit's step with the manipulations active in ``active`` [B, M]."""
        hooks = _Hooks(self, active) if self.any else None
        return self.circuit.step(obs, prev_action, prev_reward, state, hooks)

    def initial_state(self, batch_size: int):
        return self.circuit.initial_state(batch_size)

    def reset_where(self, state, done):
        return self.circuit.reset_where(state, done)

    @property
    def da_rate_hz(self) -> torch.Tensor | None:
        """[B] the DA population's pulse-window rate of the last step (closed loop), else None."""
        if self.closed_loop is None:
            return None
        return torch.as_tensor(self.closed_loop.last_rate_hz, dtype=torch.float32)

    def teaching(self, signal: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """signal [T, B]; gates [T, B, M] (phase/trial of step t, events of step t)."""
        for j, r in enumerate(self.resolved):
            if r.m.target == "da_teaching" and bool(gates[..., j].any()):
                signal = apply(signal, r.m.action, r.m.value, gates[..., j], r.generator)
        return signal


class _Hooks:
    """The manipulations active on one step, as the circuit's step hooks."""

    def __init__(self, owner: Manipulated, active: torch.Tensor):
        self.owner, self.active = owner, active
        todo = [(j, r) for j, r in enumerate(owner.resolved)
                if r.m.target == "units" and bool(active[:, j].any())]
        self.unit_fn = self._units(todo) if todo else None

    def _units(self, todo):
        def fn(h):
            for j, r in todo:
                h = apply_columns(h, r.units, r.m.action, r.m.value, self.active[:, j], r.generator)
            return h
        return fn

    def on_input(self, x: torch.Tensor) -> torch.Tensor:
        for j, r in enumerate(self.owner.resolved):
            if r.m.target == "input" and bool(self.active[:, j].any()):
                x = apply_columns(x, r.channel, r.m.action, r.m.value, self.active[:, j], r.generator)
        return x

    def on_rpe(self, delta: torch.Tensor) -> torch.Tensor:
        """The RPE that reaches the actor: ``da_input`` manipulations on δ, then, in closed loop,
        the spiking DA population (light, lesions) and the D1 gain at the target."""
        owner, active = self.owner, self.active
        for j, r in enumerate(owner.resolved):
            if r.m.target == "da_input" and bool(active[:, j].any()):
                delta = apply(delta, r.m.action, r.m.value, active[:, j], r.generator)
        if owner.closed_loop is None:
            return delta
        light, alive, gain = [], None, None
        n_da = owner.closed_loop.p.n_neurons
        for j, r in enumerate(owner.resolved):
            a = active[:, j]
            if r.light is not None:
                light.append((r.light, a.numpy()))
            elif r.m.target == "da_neurons":  # lesion: the silenced neurons of active episodes
                dead = (a.unsqueeze(1) & r.units.unsqueeze(0)).reshape(-1)
                alive = (torch.ones(owner.B * n_da) if alive is None else alive) * (~dead).float()
            elif r.m.target == "d1":
                g = torch.where(a, 0.0 if r.m.action == "silence" else r.m.value, 1.0)
                gain = g if gain is None else gain * g
        return owner.closed_loop.step(delta, light, None if alive is None else alive.numpy(), gain)
