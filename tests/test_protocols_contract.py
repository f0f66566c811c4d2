"""Every registered protocol — the built-ins and the example plug-in (examples/prl.py) — honours
the task contract (neurogym's test_envs, without swallowed exceptions): construction, reset,
episodes of random valid actions with auto-reset, the clock, the trials table, seeding, events
and phases, the config round trip, a two-update training run and a recording round trip."""
import os

import numpy as np
import pytest
import torch

from pfcda import protocols

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
protocols.load_plugins([os.path.join(ROOT, "examples", "prl.py")])
NAMES = protocols.names()


def test_the_example_plug_in_is_registered_beside_the_built_ins():
    assert set(protocols.BUILTIN) < set(NAMES) and "prl" in NAMES
    assert protocols.describe("prl").source.endswith("prl.py")


@pytest.fixture(params=NAMES)
def spec(request):
    return protocols.get(request.param).resolve()


def _steps(task, n_steps, seed):
    g = torch.Generator().manual_seed(seed)
    obs = task.reset(4, g)
    out = [obs]
    dones, clocks = [], []
    for _ in range(n_steps):
        trial, phase = task.clock()
        clocks.append((trial, phase))
        a = torch.randint(task.n_actions, (4,), generator=g)
        res = task.step(a)
        out += [res.obs, res.reward]
        dones.append(res.done)
    return out, torch.stack(dones), clocks


def _episode_steps(task) -> int:
    """Steps of the task's first episode (run one to find out)."""
    g = torch.Generator().manual_seed(0)
    task.reset(1, g)
    for k in range(1, 100_000):
        if bool(task.step(torch.zeros(1, dtype=torch.long)).done[0]):
            return k
    raise AssertionError("an episode never ended")


def test_task_reset_step_auto_reset_clock_and_seeding(spec):
    task = spec.task()
    # (a Pavlovian task has one action: nothing the agent does changes what it gets)
    assert task.n_obs == len(task.obs_names) > 0 and task.n_actions == len(task.action_names) >= 1
    assert task.phase_names and task.steps_per_trial == len(task.phase_names)
    assert task.outcome_phase is None or 0 <= task.outcome_phase < len(task.phase_names)
    n = 2 * _episode_steps(spec.task()) + 3  # two episodes and a bit
    out, dones, clocks = _steps(task, n, seed=1)
    assert out[0].shape == (4, task.n_obs) and out[2].shape == (4,)
    assert int(dones[:, 0].sum()) >= 2, "two episodes of row 0 ended: auto-reset restarted them"
    after = int(torch.nonzero(dones[:, 0])[0]) + 1
    assert int(clocks[after][0][0]) == 0 and int(clocks[after][1][0]) == 0, "a new episode starts at trial 0"
    for trial, phase in clocks:
        assert trial.shape == phase.shape == (4,) and trial.dtype == phase.dtype == torch.long
        assert bool((phase >= 0).all()) and bool((phase < task.steps_per_trial).all())
    again, _, _ = _steps(spec.task(), n, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(out, again)), "same seed, same run"


def test_events_config_round_trip_and_trial_table(spec):
    task = spec.task()
    events = task.event_names()
    assert events[:2] == ["rewarded", "unrewarded"] and all(isinstance(e, str) for e in events)
    cfg = task.config()
    assert spec.task(**cfg).config() == cfg, "config() round-trips through the constructor"
    assert set(cfg) <= set(spec.option_names())

    from pfcda.circuit.agent import Circuit
    from pfcda.circuit.config import CircuitConfig
    from pfcda.circuit.rollout import iter_batches

    torch.manual_seed(0)
    circuit = Circuit(CircuitConfig(protocol=spec.name, n_units=8)).freeze()
    batch = next(iter_batches(circuit, task, 2, seed=3))
    flags = task.event_flags(batch.action[:, 0], _result(batch, 0))
    assert set(flags) == set(events) and all(v.shape == (2,) for v in flags.values())
    table = task.trial_table(batch)
    signals = task.trial_signals(batch, np.zeros(batch.shape))  # columns made from the run's δ
    assert all(len(v) == len(table["episode"]) for v in signals.values())
    table.update(signals)
    assert {"episode", "trial", "choice", "reward"} <= set(table)
    lengths = {len(v) for v in table.values()}
    assert len(lengths) == 1 and lengths.pop() > 0
    documented = {c for c in spec.trial_columns if "<" not in c}
    patterned = [c.split("<")[0] for c in spec.trial_columns if "<" in c]
    undocumented = [c for c in table if c not in documented and not any(c.startswith(p) for p in patterned)]
    assert not undocumented, f"trials-table columns missing from the spec's trial_columns: {undocumented}"
    assert documented <= set(table), f"documented but absent: {documented - set(table)}"


def _result(batch, k):
    from pfcda.protocols.base import StepResult

    return StepResult(batch.obs[:, k], batch.reward[:, k], batch.done[:, k],
                      {key: v[:, k] for key, v in batch.info.items()})


def test_two_update_training_and_a_recording_round_trip(spec, tmp_path):
    from pfcda.circuit.config import TrainConfig, train_config_for
    from pfcda.circuit.io.recording import read_recording
    from pfcda.circuit.run import run
    from pfcda.circuit.train import train

    cfg = train_config_for(spec.name, sets=[("batch_size", 4), ("t_max", 5), ("eval_every", 0),
                                            ("checkpoint_every", 0), ("circuit.n_units", 8)],
                           steps=40)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    before = {k: v.clone() for k, v in __import__("pfcda.circuit.agent", fromlist=["Circuit"])
              .Circuit(cfg.circuit).weights().items()}
    circuit = train(cfg, progress=False)
    assert any(not torch.equal(before[k], v) for k, v in circuit.weights().items()), "two updates moved weights"
    rec = run(circuit, episodes=3, seed=2, out=str(tmp_path / "r.h5"))
    back = read_recording(str(tmp_path / "r.h5"), units=True)
    mem = run(circuit, episodes=3, seed=2)
    for part in ("steps", "trials"):
        a, b = getattr(mem, part), getattr(back, part)
        assert set(a) == set(b)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{part}/{k}")
    for k in mem.units:
        np.testing.assert_array_equal(mem.units[k], back.units[k])
    assert rec.attrs["protocol"] == spec.name and back.attrs["n_episodes"] == 3
