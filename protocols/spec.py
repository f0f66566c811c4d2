"""What a protocol declares about itself: one :class:`ProtocolSpec` per experiment.

A protocol is a task (a batched environment, :class:`pfcda.protocols.base.Task`) plus everything
the rest of pfcda needs to know about that experiment, declared once, here, so that every command
works for it — a built-in or a user's own file. Optional parts are ``None`` (or empty) when a
protocol does not have them; nothing is probed with ``hasattr``.

Heavy parts (the task class, analyses, figures) may be given as objects or as references
``"module:attribute"`` (absolute, or relative to the spec's own package with a leading dot, as
in Python entry points). References are imported only when :meth:`ProtocolSpec.resolve` is
called, so listing protocols (``pfcda protocols``) imports neither torch nor the analyses.

A user's protocol is one Python file (or an installed package) that defines a ``ProtocolSpec``
at module level; see ``examples/prl.py`` and the README section "Add your own experiment".
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any

from pfcda.errors import ProtocolError

Ref = Any  # an object, or "module:attribute" (resolved by ProtocolSpec.resolve)


@dataclass(frozen=True)
class Forcing:
    """Teacher forcing of a lab's sessions through the task's own step: the task is built with
    ``options`` (the sessions' schedule, with the animal's transitions and outcomes replayed),
    and ``actions`` [sessions, steps] are forced at every step (padded past a session's end with
    any valid action). ``choice_step`` [sessions, trials] is the step of each trial's scored
    choice, ``choice`` [sessions, trials] the animal's choice among ``pair`` (0 = pair[0],
    1 = pair[1]) and ``scored`` [sessions, trials] the trials whose choice is scored."""

    options: dict
    actions: Any
    choice_step: Any
    choice: Any
    scored: Any
    pair: tuple = (1, 2)


class _Lazy:
    """Fields named in ``_lazy`` may hold ``"module:attribute"`` references, imported (once) when
    the field is first read; :meth:`raw` reads a field without importing."""

    _lazy: frozenset = frozenset()

    def __getattribute__(self, name):
        value = object.__getattribute__(self, name)
        if name in type(self)._lazy and isinstance(value, str) and ":" in value:
            cache = object.__getattribute__(self, "_cache")
            if name not in cache:
                package = object.__getattribute__(self, "_package")
                owner = object.__getattribute__(self, "_owner")
                cache[name] = _resolve(value, package, owner, name)
            return cache[name]
        return value

    def raw(self, name: str):
        """A field as declared (a reference stays a string)."""
        return object.__getattribute__(self, name)

    def _fields_raw(self) -> dict:
        return {f.name: self.raw(f.name) for f in dataclasses.fields(self)}

    def _bind(self, package: str | None, owner: str) -> None:
        object.__setattr__(self, "_cache", {})
        object.__setattr__(self, "_package", package)
        object.__setattr__(self, "_owner", owner)


@dataclass(frozen=True, eq=False, repr=False)
class LabSpec(_Lazy):
    """How a protocol meets lab data (all optional).

    stats: ``trials → {statistic: value}`` — what ``pfcda compare`` sets side by side (with
    bootstrap CIs over episodes and sessions); must run on the circuit's and the lab's tables.
    to_lab_frame: ``trials → trials`` — the circuit's trials table in the lab tables' coding.
    schedule: ``lab trials → (schedule DataFrame, task options)`` — a lab's sessions as the
    task's episodes (``pfcda replay``); the schedule is written beside the recording and its
    path added to the options as ``schedule``.
    forcing: ``(lab trials, task options) → Forcing`` — the animal's own history forced through
    the task (trial-by-trial scoring).
    checkpoint_for: ``lab trials → checkpoint name or None`` — which circuit serves this data
    (e.g. the daw two-step circuit for four option probabilities).
    compare_models: ``(circuit_log_odds, lab trials, seed, task options) → dict`` — the held-out
    comparison of the circuit (through ``circuit_log_odds(trials) → (z, choice, scored)``) with
    the protocol's classic models (``pfcda compare --score``).
    fit_models: ``(trials, seed, task options) → {model: params}`` — the classic models fitted
    to a trials table (the circuit's own choices, beside the animals').
    figure: ``(compare result, outdir) → [paths]`` — circuit and lab overlaid (default: every
    statistic as a point with its CI).
    from_recording: ``recording → table`` — what ``pfcda compare`` sets beside the lab table when
    it is not the recording's trials table (e.g. simulated photometry made from its RPEs).
    load: ``name or path → table`` — the protocol's own lab data (bundled names or files), in
    place of :func:`pfcda.protocols.labdata.load`.
    """

    stats: Ref = None
    to_lab_frame: Ref = None
    schedule: Ref = None
    forcing: Ref = None
    checkpoint_for: Ref = None
    compare_models: Ref = None
    fit_models: Ref = None
    figure: Ref = None
    from_recording: Ref = None
    load: Ref = None

    _lazy = frozenset({"stats", "to_lab_frame", "schedule", "forcing", "checkpoint_for",
                       "compare_models", "fit_models", "figure", "from_recording", "load"})

    def __post_init__(self):
        self._bind(None, "lab")

    def __repr__(self):
        return "LabSpec(" + ", ".join(f"{k}={v!r}" for k, v in self._fields_raw().items() if v) + ")"


@dataclass(frozen=True, eq=False, repr=False)
class ProtocolSpec(_Lazy):
    """One experiment, declared once.

    name: the protocol's name (``pfcda run NAME``). citation, description: one line each.
    task: the task class (a :class:`~pfcda.protocols.base.Task` subclass; its constructor's
    keyword arguments are the task options, ``--task OPTION=VALUE``).
    default_checkpoint: the shipped checkpoint (name) or a checkpoint path (relative paths are
    taken from the directory of the file that defined the spec) used when none is given.
    train_defaults: ``(**task options) → TrainConfig dict`` — the protocol's training
    configuration (``pfcda train NAME``); it receives the task options given on the command
    line (e.g. ``variant``) and must accept any (``**_``).
    stats: statistic name → its explanation (``pfcda analyze --list NAME``).
    analyze: ``(recording, seed) → {"protocol", "stats": {name: {"value", "sem"}}, "reference"}``.
    figures: ``(recording, result, outdir, **context) → [paths]``; the context holds
    ``history`` (the checkpoint's periodic evaluations) and ``eval_episodes`` where known.
    presets: name → list of manipulation dicts (``pfcda run --preset NAME``).
    reference: published values (statistic → {"paper", "lab", "source"}).
    trial_columns: trials-table column → its meaning and codes (documented; the recording's
    trials table is checked against it); ``p_<arm>`` stands for one column per action name.
    trial_codes: column → the values it may take (checked on recordings by a test).
    spike_stats, spike_analyses: DA/PFC spike analyses (``pfcda analyze --spikes``):
    ``(recording, spikes) → {"stats", "reference", ...}``.
    lab: :class:`LabSpec` (``pfcda compare``, ``replay``, ``--score``), or None.
    hbayesdm: ``trials → (hBayesDM task name, DataFrame, rows left out)`` (``pfcda export
    --hbayesdm``), or None.
    paper: a :class:`~pfcda.protocols.paper.Paper` — the runs and claims ``pfcda reproduce``
    reads off the protocol (its paper's panels, with the paper's and the animals' values), or None.
    source: where the spec was defined (a file or module; filled in by the registry).
    """

    name: str
    citation: str
    description: str
    task: Ref
    default_checkpoint: str | None = None
    train_defaults: Ref = None
    stats: Ref = field(default_factory=dict)
    analyze: Ref = None
    figures: Ref = None
    presets: Ref = field(default_factory=dict)
    reference: Ref = field(default_factory=dict)
    trial_columns: Ref = field(default_factory=dict)
    trial_codes: dict = field(default_factory=dict)
    spike_stats: Ref = field(default_factory=dict)
    spike_analyses: Ref = None
    lab: LabSpec | None = None
    hbayesdm: Ref = None
    paper: Ref = None
    source: str = ""

    _lazy = frozenset({"task", "train_defaults", "stats", "analyze", "figures", "presets",
                       "reference", "trial_columns", "spike_stats", "spike_analyses", "hbayesdm", "paper"})

    def __post_init__(self):
        name = self.raw("name")
        if not isinstance(name, str) or not name.isidentifier():
            raise ProtocolError(f"protocol spec: name: expected an identifier such as 'prl', got {name!r}")
        for k in ("citation", "description"):
            if not isinstance(self.raw(k), str) or not self.raw(k):
                raise ProtocolError(f"protocol {name}: {k}: expected a non-empty string")
        if self.raw("task") is None:
            raise ProtocolError(f"protocol {name}: task: expected a Task subclass or 'module:Class'")
        if self.raw("lab") is not None and not isinstance(self.raw("lab"), LabSpec):
            raise ProtocolError(f"protocol {name}: lab: expected a LabSpec")
        source = self.raw("source")
        package = source if source and not source.endswith(".py") else None
        self._bind(package, f"protocol {name}")
        if self.raw("lab") is not None:
            self.raw("lab")._bind(package, f"protocol {name}: lab")

    def __repr__(self):
        return f"ProtocolSpec(name={self.name!r}, source={self.source!r})"

    def with_source(self, source: str) -> "ProtocolSpec":
        """The same declaration, registered from ``source`` (its references unresolved)."""
        return ProtocolSpec(**{**self._fields_raw(), "source": source})

    def resolve(self) -> "ProtocolSpec":
        """Import every reference now (a check that the spec is complete); returns self."""
        for name in self._lazy:
            getattr(self, name)
        if self.lab is not None:
            for name in LabSpec._lazy:
                getattr(self.lab, name)
        from pfcda.protocols.base import Task  # noqa: PLC0415 - resolving imports the task API

        if not (isinstance(self.task, type) and issubclass(self.task, Task)):
            raise ProtocolError(f"protocol {self.name}: task: expected a subclass of "
                                f"pfcda.protocols.base.Task, got {self.task!r}")
        return self

    def option_names(self) -> list[str]:
        """The task options (keyword arguments of the task class)."""
        import inspect

        return [p for p in inspect.signature(self.task).parameters]


def _resolve(value: str, package: str | None, name: str, what: str):
    module, _, attr = value.partition(":")
    try:
        mod = importlib.import_module(module, package=package if module.startswith(".") else None)
        out = mod
        for part in attr.split("."):
            out = getattr(out, part)
    except (ImportError, AttributeError) as e:
        raise ProtocolError(f"{name}: {what}: cannot import {value!r} ({e})") from e
    return out


#: The trials-table columns every protocol has (``trial_columns={**BASE_COLUMNS, ...}``).
BASE_COLUMNS = {"episode": "episode index within the run", "trial": "trial within the episode"}


def package_parts(task_class: str) -> dict:
    """The references of a protocol laid out as a package (as the built-ins are): the task class
    ``task_class``, ``train_defaults`` and ``REFERENCE`` in its ``task`` module; ``STATS``,
    ``analyze`` and ``figures`` in its ``analysis`` module."""
    return {"task": f".task:{task_class}", "train_defaults": ".task:train_defaults",
            "reference": ".task:REFERENCE", "stats": ".analysis:STATS", "analyze": ".analysis:analyze",
            "figures": ".analysis:figures"}


def lazy_exports(package: str, modules=("task", "analysis", "agents", "lab")):
    """A module ``__getattr__`` (PEP 562) for a protocol package: ``from
    pfcda.protocols.NAME import X`` finds X in the package's task, analysis, agents or lab
    module, imported only then (the package itself stays as light as its spec)."""

    def __getattr__(name: str):
        if name.startswith("__") or name in modules:  # a submodule: the import system's
            raise AttributeError(name)
        for m in modules:
            try:
                mod = importlib.import_module(f"{package}.{m}")
            except ModuleNotFoundError as e:
                if e.name == f"{package}.{m}":
                    continue
                raise
            if hasattr(mod, name):
                return getattr(mod, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
