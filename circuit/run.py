"""Run a protocol against a frozen circuit and record everything: ``circuit.run.run``.

The evaluation path never touches an optimiser: the circuit's weights are frozen
(``requires_grad`` off, ``torch.inference_mode``), and the weight hash before and after the
run is stored in the recording's provenance (they must be equal).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from dopamine.rpe import td_error

from .agent import Circuit, file_hash, load_checkpoint, resolve
from .evaluate import iter_batches
from .provenance import provenance
from .recording import Recording, RecordingWriter


def _batch_arrays(task, batch: dict, gamma: float, episode_offset: int, n_manip: int):
    """Flatten one batch of episodes into per-step rows, unit rows and trial rows (each
    episode's own steps only: ``batch["valid"]``)."""
    b, T = batch["actions"].shape
    valid = batch["valid"]
    values = batch["values"]
    # V = 0 after an episode's last step; episodes' steps are a prefix of the batch's steps
    next_valid = torch.cat([valid[:, 1:], torch.zeros(b, 1, dtype=torch.bool)], dim=1)
    next_values = torch.cat([values[:, 1:], torch.zeros(b, 1)], dim=1) * next_valid
    delta = td_error(batch["rewards"], values, next_values, ~next_valid, gamma)
    labels = task.step_labels(batch)
    keep = valid.numpy().reshape(-1)

    def flat(x, dtype):
        x = np.asarray(x)
        return np.ascontiguousarray(x.reshape(b * T, *x.shape[2:])[keep], dtype=dtype)

    episode = np.broadcast_to(np.arange(episode_offset, episode_offset + b)[:, None], (b, T))
    steps = {
        "episode": flat(episode, np.int64),
        "step": flat(np.broadcast_to(np.arange(T), (b, T)), np.int32),
        "trial": flat(labels["trial"], np.int32),
        "phase": flat(labels["phase"], np.int8),
        "obs": flat(batch["obs"].numpy(), np.float32),
        "action": flat(batch["actions"].numpy(), np.int16),
        "reward": flat(batch["rewards"].numpy(), np.float32),
        "value": flat(values.numpy(), np.float32),
        "delta": flat(delta.numpy(), np.float32),
        "policy": flat(batch["policy"].numpy(), np.float32),
    }
    steps["manipulation_active"] = flat(batch["manip_active"].numpy(), bool).reshape(len(steps["action"]), n_manip)
    if "rpe_input" in batch:  # actor-critic circuits: the RPE the actor received (after manipulations)
        steps["rpe_input"] = flat(batch["rpe_input"].numpy(), np.float32)
    if "da_rate_hz" in batch:  # closed loop: the DA population's pulse-window rate
        steps["da_rate_hz"] = flat(batch["da_rate_hz"].numpy(), np.float32)
    units = {k: flat(batch[k].numpy(), np.float32) for k in ("hidden", "cell") if k in batch}
    trials = task.trial_table(batch)
    trials["episode"] = trials["episode"].astype(np.int64) + episode_offset
    return steps, units, trials


def run(circuit, episodes: int = 100, seed: int = 0, batch_size: int = 500,
        manipulations: list | None = None, out: str | None = None, task_overrides: dict | None = None,
        greedy: bool = False, progress: bool = False, compression: str | None = "gzip",
        closed_loop=None) -> Recording:
    """Run ``episodes`` fresh episodes of the circuit's protocol with weights frozen.

    circuit: a :class:`Circuit`, or a checkpoint path or shipped name.
    manipulations: a list of :class:`circuit.manipulations.Manipulation` (or dicts), acting at
    test (stage ``test`` or ``both``); they are validated before anything runs, stored in the
    recording, and ``steps["manipulation_active"]`` [steps, M] marks where each one acted.
    out: an HDF5 path; the recording is then written incrementally (bounded memory) and the
    returned Recording reads its unit activity from the file on first access.
    task_overrides: task options for this run (e.g. fixed arm probabilities).
    closed_loop: True (or a dict of options, see :func:`circuit.evaluate.iter_batches`): every
    step's RPE passes through the spiking DA population (brian2) before it reaches the actor, so
    ``da_neurons`` (optogenetics, lesions) and ``d1`` manipulations act; ``steps["da_rate_hz"]``
    records the population's pulse-window rate.
    """
    from .manipulations import as_manipulations

    manip_objs = as_manipulations(manipulations)
    manipulations = [m.to_dict() for m in manip_objs]
    checkpoint = None
    if not isinstance(circuit, Circuit):
        checkpoint = resolve(circuit)
        circuit, _ = load_checkpoint(checkpoint)
    task = circuit.make_task(**(task_overrides or {}))
    hash_before = circuit.weight_hash()
    attrs = {
        "protocol": circuit.config.protocol, "n_episodes": int(episodes),
        "n_units": circuit.net.n_units, "core": circuit.config.core, "gamma": circuit.gamma,
        "obs_names": list(task.obs_names), "action_names": list(task.action_names),
        "phase_names": list(task.phase_names), "input_channels": circuit.input_channels(),
        "task": task.config(),
    }
    prov = {**provenance(), "seed": int(seed),
            "config": {"circuit": dataclasses.asdict(circuit.config), "run": {
                "episodes": int(episodes), "seed": int(seed), "batch_size": int(batch_size),
                "task_overrides": task_overrides or {}, "greedy": bool(greedy),
                "closed_loop": _loop_config(closed_loop)}},
            "checkpoint": checkpoint, "checkpoint_sha256": file_hash(checkpoint) if checkpoint else None,
            "weight_hash": hash_before}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=episodes, unit="episode", desc=f"run {circuit.config.protocol}")
    batches = iter_batches(circuit, task, episodes, seed=seed, batch_size=batch_size,
                           greedy=greedy, record_units=True, manipulations=manip_objs,
                           closed_loop=closed_loop)
    collected = []
    writer = RecordingWriter(out, attrs, prov, manipulations, compression=compression) if out else None
    try:
        offset = 0
        for batch in batches:
            steps, units, trials = _batch_arrays(task, batch, circuit.gamma, offset,
                                                 len(manipulations))
            offset += len(batch["actions"])
            if writer is not None:
                writer.append(steps, trials, units)
            else:
                collected.append((steps, units, trials))
            if bar is not None:
                bar.update(len(batch["actions"]))
        if circuit.weight_hash() != hash_before:
            raise RuntimeError("run: the weights changed during a frozen run")
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
    if writer is not None:
        writer.f.attrs["weight_hash_after"] = hash_before
        writer.close()
        return Recording.read(out)
    cat = lambda i, k: np.concatenate([c[i][k] for c in collected])  # noqa: E731
    steps = {k: cat(0, k) for k in collected[0][0]}
    units = {k: cat(1, k) for k in collected[0][1]}
    trials = {k: cat(2, k) for k in collected[0][2]}
    attrs.update(n_steps=len(steps["action"]), n_trials=len(trials["trial"]),
                 weight_hash_after=hash_before)
    return Recording(attrs, trials, steps, manipulations, prov, units)


def _loop_config(closed_loop):
    """The closed loop's options as recorded in the provenance (None when off)."""
    if not closed_loop:
        return None
    from dopamine.spiking import DAParams

    opts = dict(closed_loop) if isinstance(closed_loop, dict) else {}
    params = opts.get("params", DAParams())
    return {**{k: v for k, v in opts.items() if k != "params"}, "params": params.to_dict()}
