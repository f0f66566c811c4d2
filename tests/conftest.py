import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

torch.set_num_threads(1)  # tests share a 2-core machine with pytest itself

SHARED = os.path.join(ROOT, "..", "shared")


@pytest.fixture
def shared_dir():
    if not os.path.isdir(SHARED):
        pytest.skip(f"../shared is absent (looked for {os.path.abspath(SHARED)}); "
                    "these tests need the project's shared lab data")
    return SHARED


@pytest.fixture(scope="session")
def shipped():
    """The shipped checkpoints, loaded once: name → Circuit."""
    from circuit.agent import load_checkpoint, shipped_checkpoints

    return {name: load_checkpoint(path)[0] for name, path in shipped_checkpoints().items()}


@pytest.fixture(scope="session")
def shipped_stats(shipped):
    """``get(name, episodes, **task_overrides)``: the protocol analysis of a frozen run of the
    shipped checkpoint ``name`` (seed 0), cached; skips where that checkpoint is not shipped."""
    import importlib

    from circuit.run import run
    from protocols import REGISTRY

    cache = {}

    def get(name, episodes, **task_overrides):
        if name not in shipped:
            pytest.skip(f"no shipped {name} checkpoint")
        key = (name, episodes, tuple(sorted(task_overrides.items())))
        if key not in cache:
            protocol = shipped[name].config.protocol
            rec = run(name, episodes=episodes, seed=0, task_overrides=task_overrides or None)
            cache[key] = importlib.import_module(REGISTRY[protocol][0]).analyze(rec)["stats"]
        return cache[key]

    return get
