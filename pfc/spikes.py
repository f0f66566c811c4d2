"""PFC spike trains from unit activity, so that PSTHs and decoding run as on electrophysiology.

Rate mapping (documented choice): an LSTM unit's hidden activity h ∈ (−1, 1) at an agent step
sets its firing rate for that step's ``step_ms`` of biological time,
``r = r_min + (r_max − r_min)·(h + 1)/2`` (1–40 Hz by default). Spikes are an inhomogeneous
Poisson process in continuous time with an absolute refractory period (a spike is dropped when
the same unit fired within ``refractory_ms``; a dead-time process). Plain numpy, vectorised over
units and steps, cost ∝ spikes (measured: faster than a brian2 PoissonGroup for this).
"""
from __future__ import annotations

import numpy as np


def unit_rates(hidden: np.ndarray, r_min: float = 1.0, r_max: float = 40.0) -> np.ndarray:
    """[n_steps, n_units] activity → firing rates (Hz) by the documented linear mapping."""
    h = np.clip(np.asarray(hidden, dtype=float), -1.0, 1.0)
    return r_min + (r_max - r_min) * (h + 1.0) / 2.0


def spike_trains(hidden: np.ndarray, step_ms: float = 500.0, r_min: float = 1.0,
                 r_max: float = 40.0, refractory_ms: float = 2.0, seed: int = 0,
                 chunk_steps: int = 2000) -> dict:
    """Spike trains of every unit over consecutive agent steps (step k spans
    [k·step_ms, (k+1)·step_ms) ms). Returns ``{"times_s": [n_spikes], "units": [n_spikes],
    "rates_hz": [n_steps, n_units]}`` sorted by time (then unit).

    The rate is constant within a step, so each (step, unit) draws its Poisson count and places
    the spikes uniformly in the step (continuous time: an exact inhomogeneous Poisson process for
    piecewise-constant rates); then a spike within ``refractory_ms`` of the unit's previous kept
    spike is dropped (dead time). Cost ∝ the number of spikes."""
    hidden = np.asarray(hidden, dtype=float)
    if hidden.ndim != 2:
        raise ValueError(f"hidden: expected [n_steps, n_units] activity, got shape {hidden.shape}")
    if step_ms < 1 or refractory_ms < 0 or not 0 <= r_min <= r_max:
        raise ValueError("step_ms ≥ 1, refractory_ms ≥ 0 and 0 ≤ r_min ≤ r_max expected")
    rng = np.random.default_rng(seed)
    rates = unit_rates(hidden, r_min, r_max)
    n_steps, n_units = rates.shape
    dead = refractory_ms / 1000.0
    last = np.full(n_units, -np.inf)  # each unit's last kept spike (carried across chunks)
    times, units = [], []
    for start in range(0, n_steps, chunk_steps):  # chunks stay in cache: cost ∝ spikes
        t, u = _chunk(rates[start:start + chunk_steps], start, step_ms / 1000.0, dead, last, rng)
        times.append(t)
        units.append(u)
    t = np.concatenate(times) if times else np.zeros(0)
    unit = np.concatenate(units) if units else np.zeros(0, np.int64)
    return {"times_s": t, "units": unit.astype(np.int32), "rates_hz": rates}


def _chunk(rates, first_step, step_s, dead, last, rng):
    """Spikes of consecutive steps ``rates`` [steps, units] starting at ``first_step``, sorted by
    time (then unit); ``last`` (updated) holds each unit's last kept spike time."""
    n_units = rates.shape[1]
    counts = rng.poisson(rates * step_s).reshape(-1)  # cells (step, unit), step-major
    n = int(counts.sum())
    cell = np.repeat(np.arange(counts.size), counts)
    # sorted uniform offsets within each cell without sorting: normalised cumulative sums of
    # exponential spacings (n + 1 spacings per cell of n spikes)
    gaps = rng.exponential(size=n + counts.size)
    ends = np.cumsum(counts + 1)
    csum = np.cumsum(gaps)
    base = np.r_[0.0, csum[ends[:-1] - 1]]
    total = csum[ends - 1] - base
    spike_pos = np.ones(n + counts.size, bool)
    spike_pos[ends - 1] = False  # each cell's last spacing closes the interval
    frac = (csum[spike_pos] - base[cell]) / total[cell]
    step, unit = np.divmod(cell, n_units)
    t = (first_step + step + frac) * step_s  # step-major, time-sorted within each cell
    if dead > 0 and n:
        # unit-major view (stable: time-sorted within unit), each unit's previous kept spike first
        tu = np.r_[last, t]
        uu = np.r_[np.arange(n_units), unit].astype(np.int16 if n_units < 2**15 else np.int64)
        by_unit = np.argsort(uu, kind="stable")  # radix sort for 16-bit keys
        tu, uu = tu[by_unit], uu[by_unit]
        k = np.ones(len(tu), bool)
        while True:  # resolve dead-time chains: decide spikes whose predecessor is surely kept
            idx = np.flatnonzero(k)
            tk, uk = tu[idx], uu[idx]
            viol = np.r_[False, (uk[1:] == uk[:-1]) & (tk[1:] - tk[:-1] <= dead)]
            if not viol.any():
                break
            k[idx[viol & np.r_[True, ~viol[:-1]]]] = False
        kept_all = np.empty(len(tu), bool)
        kept_all[by_unit] = k
        keep = kept_all[n_units:]
        t, unit = t[keep], unit[keep]
    if len(t):
        np.maximum.at(last, unit, t)
    order = np.argsort(t, kind="stable")  # runs already sorted: cheap; ties keep unit order
    return t[order], unit[order]
