"""Experiments: one package per protocol, each declaring itself in a :class:`ProtocolSpec`, and
the registry that finds them.

Where protocols come from, in order:

1. the built-ins (``pfcda.protocols.<name>``, each with a module-level ``SPEC``);
2. installed plug-ins: the Python entry-point group ``pfcda.protocols`` (a package declares,
   in its ``pyproject.toml``, ``[project.entry-points."pfcda.protocols"] prl = "mypkg.prl:SPEC"``);
3. files or modules named in the environment variable ``PFCDA_PROTOCOLS`` (separated by
   ``os.pathsep``), or given on the command line (``pfcda --protocols my_task.py …``) or to
   :func:`load_plugins`;
4. :func:`register` (Python).

A plug-in file is imported once under the module name ``pfcda_plugin_<stem>``; every
``ProtocolSpec`` it defines at module level is registered. Listing protocols imports only the
specs (no torch); :func:`get` resolves a spec's references (task class, analyses).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import warnings

from pfcda.errors import ConfigError, ProtocolError

from .spec import Forcing, LabSpec, ProtocolSpec

__all__ = ["ProtocolSpec", "LabSpec", "Forcing", "names", "describe", "get", "register",
           "load_plugins", "export_plugins", "make_task", "get_task_class", "BUILTIN", "ENV_VAR", "ENTRY_POINT_GROUP"]

BUILTIN = ("bandit", "matching", "volatility", "reversal", "twostep", "harlow", "stopper", "conditioning",
           "twostep_stim", "stauffer")
ENTRY_POINT_GROUP = "pfcda.protocols"
ENV_VAR = "PFCDA_PROTOCOLS"

_specs: dict[str, ProtocolSpec] = {}
_sources_loaded: set[str] = set()
_discovered = False


def _discover() -> None:
    """Register the built-ins, the installed entry points and ``$PFCDA_PROTOCOLS`` (once)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for name in BUILTIN:
        module = importlib.import_module(f"pfcda.protocols.{name}")
        register(_with_source(module.SPEC, module.__name__), _builtin=True)
    _load_entry_points()
    env = os.environ.get(ENV_VAR, "")
    if env.strip():
        load_plugins([s for s in env.split(os.pathsep) if s.strip()])


def _with_source(spec: ProtocolSpec, source: str) -> ProtocolSpec:
    return spec.with_source(source)


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as e:  # noqa: BLE001 - a broken plug-in must not break pfcda
            warnings.warn(f"pfcda: the installed protocol plug-in {ep.name!r} ({ep.value}) "
                          f"could not be loaded: {type(e).__name__}: {e}", stacklevel=2)
            continue
        for spec in _specs_in(obj):
            register(_with_source(spec, getattr(obj, "__name__", ep.module)), replace=True)


def _specs_in(obj) -> list[ProtocolSpec]:
    if isinstance(obj, ProtocolSpec):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [s for s in obj if isinstance(s, ProtocolSpec)]
    return [v for v in vars(obj).values() if isinstance(v, ProtocolSpec)]


def register(spec: ProtocolSpec, *, replace: bool = False, _builtin: bool = False) -> ProtocolSpec:
    """Register a protocol. A name already taken by another spec is refused unless ``replace``
    (a plug-in re-loaded from the same source replaces itself)."""
    if not isinstance(spec, ProtocolSpec):
        raise ProtocolError(f"register: expected a ProtocolSpec, got {type(spec).__name__}")
    if not _builtin:
        _discover()
    old = _specs.get(spec.name)
    if old is not None and not replace and old.source != spec.source:
        raise ProtocolError(f"protocol {spec.name!r} is already registered (from {old.source or 'Python'}); "
                            f"the plug-in {spec.source or 'spec'} must use another name")
    _specs[spec.name] = spec
    return spec


def load_plugins(sources) -> list[str]:
    """Load protocol plug-ins from files (``path/to/my_task.py``) or importable modules
    (``mypkg.protocols``); returns the names they registered. (Worker processes load what
    ``$PFCDA_PROTOCOLS`` names: see :func:`export_plugins`.)"""
    _discover()
    names_out = []
    for src in ([sources] if isinstance(sources, str) else list(sources)):
        src = src.strip()
        if not src:
            continue
        key = os.path.abspath(src) if src.endswith(".py") else src
        module = _import_plugin(src)
        found = _specs_in(module)
        if not found:
            raise ProtocolError(f"--protocols: {src} defines no ProtocolSpec (expected a module-level "
                                f"ProtocolSpec(...), e.g. SPEC = ProtocolSpec(name=..., task=...))")
        for spec in found:
            register(_with_source(spec, key), replace=key in _sources_loaded)
            names_out.append(spec.name)
        _sources_loaded.add(key)
    return names_out


def export_plugins() -> None:
    """Add every plug-in loaded so far to ``$PFCDA_PROTOCOLS``, so that processes started from
    here (render workers, sweeps) load them too."""
    current = [s for s in os.environ.get(ENV_VAR, "").split(os.pathsep) if s]
    os.environ[ENV_VAR] = os.pathsep.join(current + [k for k in sorted(_sources_loaded) if k not in current])


def _import_plugin(src: str):
    if src.endswith(".py") or os.sep in src:
        path = os.path.abspath(src)
        if not os.path.isfile(path):
            raise ProtocolError(f"--protocols: no file {src!r}")
        stem = os.path.splitext(os.path.basename(path))[0]
        mod_name = "pfcda_plugin_" + "".join(c if c.isalnum() else "_" for c in stem)
        existing = sys.modules.get(mod_name)
        if existing is not None and os.path.abspath(getattr(existing, "__file__", "")) == path:
            return existing
        spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(mod_name, None)
            raise
        return module
    try:
        return importlib.import_module(src)
    except ImportError as e:
        raise ProtocolError(f"--protocols: cannot import module {src!r} ({e})") from e


def names() -> list[str]:
    """The registered protocols' names (built-ins first)."""
    _discover()
    return list(_specs)


def describe(name: str) -> ProtocolSpec:
    """The spec of ``name`` as declared (its references not imported: cheap)."""
    _discover()
    if name not in _specs:
        raise ProtocolError(f"protocol: unknown {name!r}; expected one of {names()} "
                            f"(a plug-in's protocol: load its file with --protocols FILE or ${ENV_VAR})")
    return _specs[name]


def get(name: str) -> ProtocolSpec:
    """The spec of ``name``; its references (task class, analyses, figures…) are imported when
    first used."""
    return describe(name)


def get_task_class(name: str):
    """The task class of protocol ``name``."""
    return get(name).task


def make_task(name: str, **kwargs):
    """Build protocol ``name``'s task with keyword arguments (see its task card)."""
    cls = get_task_class(name)
    known = get(name).option_names()
    unknown = [k for k in kwargs if k not in known]
    if unknown:
        raise ConfigError(f"task options for {name!r}: unknown {unknown}; expected some of {known}")
    return cls(**kwargs)
