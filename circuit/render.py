"""Render a recording as spikes: the DA population driven by the run's δ (brian2) and PFC spike
trains from its unit activity, on one biological time base, written to a spikes file.

Time base: the run's episodes are laid end to end, each agent step lasting ``step_ms`` (500 ms),
with ``gap_steps`` steps (tonic DA, minimal PFC activity) between episodes;
``steps/start_s`` gives every recorded step's start. Each episode drives its own copy of the DA
population (independent noise, as a new session would), all episodes simulated at once in one
brian2 population of episodes × neurons (``dopamine.spiking.simulate_episodes``), then laid
end to end on the time base. Targets: ``numpy`` (no compiler), ``cython``, ``cpp_standalone``
(fastest for long runs; its build is cached per model structure, so a second render of the
same shape re-runs the binary with new inputs; benchmarks/bench_spikes.py measures them).

The spikes file (:mod:`pfcda.circuit.io.spikes`; its fields in :mod:`pfcda.circuit.io.schema`)
is written atomically: a crash leaves the complete file or none.

DA drive: δ / ``rpe_scale`` (default the task's reward scale, as in the closed loop; Stopper 4).
DA timing: the δ of recorded step k is the TD error of the transition from step k to k+1, so
its current pulse starts step k+1 (the closed loop's timing: the new state's value is known
then); light recorded as active at step k lights step k's pulse, as in the closed loop. A
lesion (``da_neurons`` silence) is rendered as chronic; a D1 manipulation scales the
concentration trace during the steps it was active.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from pfcda import protocols
from pfcda.dopamine.spiking import DAParams, concentration, simulate_episodes, tonic_rate
from pfcda.errors import ConfigError
from pfcda.pfc.spikes import spike_trains

from .io.atomic import check_outputs
from .io.codec import file_hash
from .io.recording import read_recording
from .io.spikes import Spikes, write_spikes
from .manipulations import Manipulation, da_selection, light_of


def render(recording: str, out: str, population: str = "both", seed: int = 0,
           target: str = "numpy", params=None, gap_steps: int = 2, r_min: float = 1.0,
           r_max: float = 40.0, standalone_dir: str | None = None, progress: bool = False,
           workers: int = 1, rpe_scale: float | None = None, overwrite: bool = False) -> dict:
    """Render ``recording`` (a ``pfcda run`` HDF5 file) into the spikes file ``out``; returns the
    rendered :class:`~pfcda.circuit.io.spikes.Spikes` and the timings."""
    check_outputs([out], [recording], overwrite)
    if gap_steps < 1:
        raise ConfigError(f"gap_steps: expected ≥ 1 (an episode's last δ is emitted in the next step), "
                          f"got {gap_steps}")
    if population not in ("da", "pfc", "both"):
        raise ConfigError(f"population: expected 'da', 'pfc' or 'both', got {population!r}")
    params = params or DAParams()
    rec = read_recording(recording)
    if rpe_scale is None:  # the task's reward scale, as in the closed loop (Stopper: 4)
        rpe_scale = float(protocols.get_task_class(rec.attrs["protocol"]).reward_scale)
    ep = rec.steps["episode"]
    delta = rec.steps["delta"].astype(float)
    # global step index of every recorded step: episodes end to end with gaps between them
    new_ep = np.r_[0, np.flatnonzero(np.diff(ep)) + 1]
    offset = np.zeros(len(ep), dtype=np.int64)
    offset[new_ep[1:]] = gap_steps
    gidx = np.arange(len(ep)) + np.cumsum(offset)
    n_global = int(gidx[-1]) + 1 + gap_steps  # a gap after the last episode too
    result = {"steps/start_s": gidx * params.step_ms / 1000.0}
    timing = {}
    if population in ("da", "both"):
        # every episode drives its own copy of the population, all episodes in one simulation
        # (episodes × neurons); then laid end to end on the time base, the gaps tonic
        first = np.r_[new_ep, len(ep)]
        lengths = np.diff(first)
        ep_of = np.repeat(np.arange(len(lengths)), lengths)
        within = np.arange(len(ep)) - np.repeat(first[:-1], lengths)
        # δ of step k reports the transition k → k+1: its pulse starts step k+1 (when the new
        # state's value is known; the closed loop's timing). Each episode is rendered with the
        # gap after it (δ = 0, tonic firing), where its last δ's pulse falls.
        padded = np.zeros((len(lengths), int(lengths.max()) + gap_steps))
        padded[ep_of, within + 1] = delta / rpe_scale
        light, alive, gain, stim = _manipulations(rec, params, lengths, first, within, gidx, gap_steps)
        da = simulate_episodes(padded, lengths + gap_steps, params, seed=seed, target=target,
                               directory=standalone_dir, report="text" if progress else None,
                               workers=workers, light=light, alive=alive)
        lengths = lengths + gap_steps  # rendered steps per episode
        timing.update(da_build_s=da["build_s"], da_run_s=da["run_s"])
        ep_start_s = gidx[first[:-1]] * params.step_ms / 1000.0
        times = da["spike_times_s"] + ep_start_s[da["spike_episodes"]]
        order = np.lexsort((da["spike_neurons"], times))
        # DA concentration (1 = tonic): the population rate / its tonic level outside pulses,
        # low-pass filtered (τ_DA) on 10-ms bins, gaps between episodes at the tonic level
        per_step = int(params.step_ms) // 10
        rate = np.ones(n_global * per_step)
        bins = da["rate_10ms"]
        tonic = tonic_rate(bins, lengths, params, alive)
        for e, L in enumerate(lengths):
            start = int(gidx[first[e]]) * per_step
            rate[start:start + L * per_step] = bins[e, :L * per_step] / tonic
        g = None
        if gain is not None:  # D1 antagonist: the DA effect at the target scaled, per step
            g = np.ones(n_global)
            g[gidx] = gain
            g = np.repeat(g, per_step)
        conc = concentration(rate, params, g)
        result.update(stim)
        result.update({"da/spike_times_s": times[order], "da/spike_neurons": da["spike_neurons"][order],
                       "da/step_rate_hz": da["step_rate_hz"][ep_of, within + 1],
                       "da/concentration_10ms": conc})
    if population in ("pfc", "both"):
        hidden = rec.units["hidden"]
        full = np.full((n_global, hidden.shape[1]), -1.0)
        full[gidx] = hidden
        t_pfc = time.perf_counter()
        pfc = spike_trains(full, params.step_ms, r_min, r_max, seed=seed + 1)
        timing["pfc_s"] = time.perf_counter() - t_pfc
        result.update({"pfc/spike_times_s": pfc["times_s"], "pfc/spike_units": pfc["units"]})
    attrs = {"recording": os.path.abspath(recording), "recording_sha256": file_hash(recording),
             "seed": int(seed), "target": target, "population": population,
             "params": json.dumps({"da": params.to_dict(), "pfc_rate_hz": [r_min, r_max],
                                   "gap_steps": gap_steps, "rpe_scale": rpe_scale})}
    groups = {}
    opto = result.pop("_stim_opto", None)
    if opto is not None:
        groups["stim"] = {"opto": opto}
    if population in ("pfc", "both"):  # units that never fired are still units
        groups["pfc"] = {"n_units": int(rec.units["hidden"].shape[1])}
    t_write = time.perf_counter()
    write_spikes(out, attrs, result, groups, overwrite=overwrite, inputs=[recording])
    timing["write_s"] = time.perf_counter() - t_write
    return {"spikes": Spikes(attrs, result, groups), "timing": timing}


def _manipulations(rec, params, lengths, first, within, gidx, gap_steps):
    """The recording's manipulations on the DA population, for the render: light
    (``simulate_episodes``' form, active per [episode, step]), a chronic lesion (alive mask), the
    D1 gain per recorded step, and the stimulation pulses for the spikes file (``stim/``)."""
    manips = [Manipulation.from_dict(m) for m in (rec.manipulations or [])]
    active = rec.steps.get("manipulation_active")
    E, S = len(lengths), int(lengths.max()) + gap_steps  # rendered steps: with the gap after
    ep_of = np.repeat(np.arange(E), lengths)
    light, alive, gain, pulses = [], None, None, []
    for j, m in enumerate(manips):
        if m.target not in ("da_neurons", "d1"):
            continue
        act = np.asarray(active[:, j], bool)
        if m.target == "d1":
            g = np.where(act, 0.0 if m.action == "silence" else m.value, 1.0)
            gain = g if gain is None else gain * g
            continue
        if not m.is_light:  # a lesion: chronic in the render (documented)
            alive = (np.ones(params.n_neurons) if alive is None else alive) * ~da_selection(m, params.n_neurons)
            continue
        grid = np.zeros((E, S), bool)
        grid[ep_of, within] = act
        lt = light_of(m, params.n_neurons)
        light.append((lt, grid))
        start = gidx[act] * params.step_ms / 1000.0 + params.pulse_onset_ms / 1000.0
        if m.frequency_hz > 0:
            offs = np.arange(0.0, params.pulse_ms, 1000.0 / m.frequency_hz) / 1000.0
            on = (start[:, None] + offs[None, :]).reshape(-1)
            off = np.minimum(on + m.width_ms / 1000.0, np.repeat(start, len(offs)) + params.pulse_ms / 1000.0)
        else:
            on, off = start, start + params.pulse_ms / 1000.0
        pulses.append((on, off, [m.action] * len(on), {
            **lt.describe(), "duration_ms": params.pulse_ms, "onset_ms": params.pulse_onset_ms}))
    stim = {}
    if pulses:
        on = np.concatenate([p[0] for p in pulses])
        order = np.argsort(on, kind="stable")
        stim = {"stim/on_s": on[order], "stim/off_s": np.concatenate([p[1] for p in pulses])[order],
                "stim/kind": np.array(sum((p[2] for p in pulses), []), dtype=object)[order],
                "_stim_opto": json.dumps([p[3] for p in pulses])}
    return light, alive, gain, stim
