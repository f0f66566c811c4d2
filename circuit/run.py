"""Run a protocol against a frozen circuit and record everything: :func:`run`.

The evaluation path never touches an optimiser: the circuit's weights are frozen
(``requires_grad`` off, ``torch.inference_mode``), and the weight hash before and after the
run is stored in the recording (they must be equal). The recording's per-step fields are
derived from the run's trajectory (:class:`pfcda.protocols.base.Batch`) through the format's
schema (:mod:`pfcda.circuit.io.schema`).
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import torch

from pfcda import protocols
from pfcda.dopamine.rpe import td_error
from pfcda.errors import UsageError

from .agent import Circuit
from .io.atomic import check_outputs
from .io.checkpoint import load_checkpoint, resolve, shipped_checkpoints
from .io.codec import file_hash
from .io.recording import Recording, RecordingWriter
from .io.schema import STEP_FIELDS, UNIT_FIELDS
from .manipulations import as_manipulations, load_toml, validate
from .provenance import provenance
from .rollout import iter_batches


def recording_arrays(task, batch, gamma: float, episode_offset: int) -> tuple[dict, dict, dict]:
    """One batch of episodes as the recording's per-step rows, unit rows and trial rows (each
    episode's own steps only: ``batch.valid``). Every per-step field of the schema is taken from
    the batch field its ``source`` names, or derived (``episode``, ``step``, ``delta``)."""
    b, T = batch.shape
    valid = batch.valid
    values = batch.value
    # V = 0 after an episode's last step; episodes' steps are a prefix of the batch's steps
    next_valid = torch.cat([valid[:, 1:], torch.zeros(b, 1, dtype=torch.bool)], dim=1)
    next_values = torch.cat([values[:, 1:], torch.zeros(b, 1)], dim=1) * next_valid
    keep = valid.numpy().reshape(-1)

    def flat(x, dtype):
        x = np.asarray(x)
        return np.ascontiguousarray(x.reshape(b * T, *x.shape[2:])[keep], dtype=dtype)

    derived = {
        "episode": np.broadcast_to(np.arange(episode_offset, episode_offset + b)[:, None], (b, T)),
        "step": np.broadcast_to(np.arange(T), (b, T)),
        "delta": td_error(batch.reward, values, next_values, ~next_valid, gamma).numpy(),
    }
    steps = {}
    for name, f in STEP_FIELDS.items():
        if f.source == "derived":
            steps[name] = flat(derived[name], f.dtype)
            continue
        value = getattr(batch, f.source)
        if value is not None:
            steps[name] = flat(value.numpy(), f.dtype)
    units = {name: flat(getattr(batch, f.source).numpy(), f.dtype) for name, f in UNIT_FIELDS.items()
             if getattr(batch, f.source) is not None}
    trials = task.trial_table(batch)
    trials.update(task.trial_signals(batch, derived["delta"]))
    trials["episode"] = trials["episode"].astype(np.int64) + episode_offset
    return steps, units, trials


def run(circuit, episodes: int = 100, seed: int = 0, batch_size: int = 500,
        manipulations: list | None = None, out: str | None = None, task_overrides: dict | None = None,
        greedy: bool = False, progress: bool = False, compression: str | None = "gzip",
        closed_loop=None, checkpoint: str | None = None, overwrite: bool = False) -> Recording:
    """Run ``episodes`` fresh episodes of the circuit's protocol with weights frozen.

    circuit: a :class:`Circuit`, or a checkpoint path or shipped name.
    manipulations: a list of :class:`~pfcda.circuit.manipulations.Manipulation` (or dicts),
    acting at test (stage ``test`` or ``both``); they are validated before anything runs, stored
    in the recording, and ``steps["manipulation_active"]`` [steps, M] marks where each one acted.
    out: an HDF5 path; the recording is then written incrementally (bounded memory) and the
    returned Recording reads its unit activity from the file on first access.
    task_overrides: task options for this run (e.g. fixed arm probabilities).
    closed_loop: True (or a dict of options, see :func:`~pfcda.circuit.rollout.iter_batches`):
    every step's RPE passes through the spiking DA population (brian2) before it reaches the
    actor, so ``da_neurons`` (optogenetics, lesions) and ``d1`` manipulations act;
    ``steps["da_rate_hz"]`` records the population's pulse-window rate.
    checkpoint: the checkpoint a given :class:`Circuit` was loaded from (recorded in the
    provenance with its SHA-256).
    overwrite: replace an existing ``out`` (else it is refused, before any work).
    """
    if out is not None:
        check_outputs([out], [checkpoint if isinstance(checkpoint, str) else None,
                              circuit if isinstance(circuit, str) else None], overwrite)
    manip_objs = as_manipulations(manipulations)
    manipulations = [m.to_dict() for m in manip_objs]
    if not isinstance(circuit, Circuit):
        checkpoint = resolve(circuit)
        circuit, _ = load_checkpoint(checkpoint)
    elif checkpoint is not None:
        checkpoint = resolve(checkpoint)
    task = circuit.make_task(**(task_overrides or {}))
    validate(manip_objs, circuit, task, "test", bool(closed_loop))  # before any output or progress
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
                           greedy=greedy, manipulations=manip_objs, closed_loop=closed_loop)
    collected = []
    writer = None
    try:
        offset = 0
        for batch in batches:
            steps, units, trials = recording_arrays(task, batch, circuit.gamma, offset)
            offset += batch.shape[0]
            if out is not None and writer is None:
                writer = RecordingWriter(out, attrs, prov, manipulations, compression=compression,
                                         overwrite=overwrite, inputs=[checkpoint])
            if writer is not None:
                writer.append(steps, trials, units)
            else:
                collected.append((steps, units, trials))
            if bar is not None:
                bar.update(batch.shape[0])
        hash_after = circuit.weight_hash()
        if hash_after != hash_before:
            raise RuntimeError("run: the weights changed during a frozen run")
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
    if writer is not None:
        writer.close({"weight_hash_after": hash_after})
        return Recording.read(out)
    cat = lambda i, k: np.concatenate([c[i][k] for c in collected])  # noqa: E731
    steps = {k: cat(0, k) for k in collected[0][0]}
    units = {k: cat(1, k) for k in collected[0][1]}
    trials = {k: cat(2, k) for k in collected[0][2]}
    attrs.update(n_steps=len(steps["action"]), n_trials=len(trials["trial"]),
                 weight_hash_after=hash_after)
    return Recording(attrs, trials, steps, manipulations, prov, units)


def default_checkpoint(protocol: str) -> str | None:
    """The checkpoint ``pfcda run PROTOCOL`` uses when none is given: the spec's
    ``default_checkpoint`` (a shipped name, or a path relative to a plug-in file's folder)."""
    spec = protocols.get(protocol)
    ckpt = spec.default_checkpoint
    if ckpt and spec.source.endswith(".py") and not os.path.isabs(ckpt) and ckpt not in shipped_checkpoints():
        ckpt = os.path.join(os.path.dirname(spec.source), ckpt)
    return ckpt


def protocol_circuit(protocol: str, checkpoint: str | None = None) -> tuple[str, Circuit]:
    """(checkpoint, frozen Circuit) for ``protocol``: ``checkpoint`` or the protocol's default,
    checked to be a circuit of that protocol."""
    protocols.describe(protocol)  # an unknown protocol: a clear error first
    ckpt = checkpoint or default_checkpoint(protocol)
    if ckpt is None:
        raise UsageError(f"--checkpoint: protocol {protocol!r} has no default checkpoint; give one")
    circuit, _ = load_checkpoint(ckpt)
    if circuit.config.protocol != protocol:
        raise UsageError(f"--checkpoint: {ckpt} is a {circuit.config.protocol!r} circuit, not {protocol!r}")
    return ckpt, circuit


def manipulations_for(protocol: str, files=(), presets=()) -> list:
    """Manipulations from TOML files (``[[manipulation]]`` tables) and the protocol's named
    presets (``ProtocolSpec.presets``)."""
    out = [m for path in files or () for m in load_toml(path)]
    available = dict(protocols.get(protocol).presets or {})
    for name in presets or ():
        if name not in available:
            raise UsageError(f"--preset: protocol {protocol!r} has no preset {name!r}; "
                             f"expected one of {sorted(available) or 'none'}")
        out += as_manipulations(available[name])
    return out


def run_conditions(circuit, conditions: dict, episodes: int = 100, seed: int = 0, **kwargs) -> dict:
    """Run the frozen circuit once per condition (name → list of manipulations; ``[]`` for a
    control) on the same episodes (same seed): name → :class:`Recording`. The weights are
    proven unchanged across all of them."""
    if not isinstance(circuit, Circuit):
        circuit, _ = load_checkpoint(circuit)
    before = circuit.weight_hash()
    out = {name: run(circuit, episodes=episodes, seed=seed, manipulations=manips, **kwargs)
           for name, manips in conditions.items()}
    if circuit.weight_hash() != before:
        raise RuntimeError("run_conditions: the weights changed during frozen runs")
    return out


def _loop_config(closed_loop):
    """The closed loop's options as recorded in the provenance (None when off)."""
    if not closed_loop:
        return None
    from pfcda.dopamine.spiking import DAParams

    opts = dict(closed_loop) if isinstance(closed_loop, dict) else {}
    params = opts.get("params", DAParams())
    return {**{k: v for k, v in opts.items() if k != "params"}, "params": params.to_dict()}
