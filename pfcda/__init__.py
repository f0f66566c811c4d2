"""pfcda — the prefrontal–dopamine circuit as a meta-reinforcement-learning system
(Wang, Kurth-Nelson et al. 2018, Nat Neurosci 21:860).

The installed packages live under this one namespace: ``pfcda.circuit`` (the agent, training,
runs, files, lab comparison, the command line), ``pfcda.dopamine`` (RPEs, the spiking DA
population), ``pfcda.pfc`` (the recurrent networks, plasticity, lesions) and
``pfcda.protocols`` (the experiments and their registry). The public API below is imported
lazily, so ``import pfcda`` stays instant::

    import pfcda
    rec = pfcda.run("bandit_independent", episodes=300, seed=0, out="run.h5")
    pfcda.protocols.names()                 # the registered protocols
"""
from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys

__all__ = ["run", "run_conditions", "train", "load", "read_recording", "read_spikes",
           "Manipulation", "ProtocolSpec", "register_protocol", "load_plugins", "evaluate_bandit",
           "TrainConfig", "CircuitConfig", "circuit", "dopamine", "pfc", "protocols", "errors"]

_LAZY = {
    "run": ("pfcda.circuit.run", "run"),
    "run_conditions": ("pfcda.circuit.run", "run_conditions"),
    "train": ("pfcda.circuit.train", "train"),
    "load": ("pfcda.circuit.io.checkpoint", "load_circuit"),
    "read_recording": ("pfcda.circuit.io.recording", "read_recording"),
    "read_spikes": ("pfcda.circuit.io.spikes", "read_spikes"),
    "Manipulation": ("pfcda.circuit.manipulations", "Manipulation"),
    "ProtocolSpec": ("pfcda.protocols.spec", "ProtocolSpec"),
    "register_protocol": ("pfcda.protocols", "register"),
    "load_plugins": ("pfcda.protocols", "load_plugins"),
    "evaluate_bandit": ("pfcda.circuit.evaluate", "evaluate_bandit"),
    "TrainConfig": ("pfcda.circuit.config", "TrainConfig"),
    "CircuitConfig": ("pfcda.circuit.config", "CircuitConfig"),
}


_PACKAGES = ("circuit", "dopamine", "pfc", "protocols")
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _CheckoutFinder:
    """In a source checkout the four packages of the design card are the folders beside this
    one (``circuit/``, ``dopamine/``, ``pfc/``, ``protocols/``), which the install maps to
    ``pfcda.circuit`` etc.; this finder gives a checkout on ``sys.path`` (e.g. ``python -m
    pytest`` from the repository root) the same names. In an installed tree it never acts."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        head, _, name = fullname.partition(".")
        if head != "pfcda" or name not in _PACKAGES:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, [_ROOT])


if all(os.path.isfile(os.path.join(_ROOT, p, "__init__.py")) for p in _PACKAGES) \
        and not any(isinstance(f, type) and f.__name__ == "_CheckoutFinder" for f in sys.meta_path):
    sys.meta_path.append(_CheckoutFinder)


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in ("circuit", "dopamine", "pfc", "protocols", "errors"):
        return importlib.import_module(f"pfcda.{name}")
    raise AttributeError(f"module 'pfcda' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
