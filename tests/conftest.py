import os

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("PYNWB_NO_CACHE_DIR", "1")

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
    from pfcda.circuit.io.checkpoint import load_checkpoint, shipped_checkpoints

    return {name: load_checkpoint(path)[0] for name, path in shipped_checkpoints().items()}


@pytest.fixture(scope="session")
def shipped_stats(shipped):
    """``get(name, episodes, **task_overrides)``: the protocol analysis of a frozen run of the
    shipped checkpoint ``name`` (seed 0), cached; skips where that checkpoint is not shipped."""
    from pfcda import protocols
    from pfcda.circuit.run import run

    cache = {}

    def get(name, episodes, **task_overrides):
        if name not in shipped:
            pytest.skip(f"no shipped {name} checkpoint")
        key = (name, episodes, tuple(sorted(task_overrides.items())))
        if key not in cache:
            protocol = shipped[name].config.protocol
            rec = run(name, episodes=episodes, seed=0, task_overrides=task_overrides or None)
            cache[key] = protocols.get(protocol).analyze(rec)["stats"]
        return cache[key]

    return get
