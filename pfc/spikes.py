"""PFC spike trains from unit activity, so that PSTHs and decoding run as on electrophysiology.

Rate mapping (documented choice): an LSTM unit's hidden activity h ∈ (−1, 1) at an agent step
sets its firing rate for that step's ``step_ms`` of biological time,
``r = r_min + (r_max − r_min)·(h + 1)/2`` (1–40 Hz by default). Spikes are an inhomogeneous
Poisson process in 1-ms bins with an absolute refractory period (a spike is dropped when the
same unit fired within ``refractory_ms``; a dead-time renewal process). Plain numpy,
vectorised over units and steps (faster than a brian2 PoissonGroup for this; shared/SPIKING.md).
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
    "rates_hz": [n_steps, n_units]}`` sorted by time."""
    hidden = np.asarray(hidden, dtype=float)
    if hidden.ndim != 2:
        raise ValueError(f"hidden: expected [n_steps, n_units] activity, got shape {hidden.shape}")
    if step_ms < 1 or refractory_ms < 0 or not 0 <= r_min <= r_max:
        raise ValueError("step_ms ≥ 1, refractory_ms ≥ 0 and 0 ≤ r_min ≤ r_max expected")
    rng = np.random.default_rng(seed)
    rates = unit_rates(hidden, r_min, r_max)
    n_steps, n_units = rates.shape
    bins = int(round(step_ms))
    dead = int(np.ceil(refractory_ms))
    times, units = [], []
    last = np.full(n_units, -10**9)  # bin of each unit's last spike (carried across chunks)
    for start in range(0, n_steps, chunk_steps):
        r = rates[start:start + chunk_steps]  # [s, U]
        p = np.repeat(r, bins, axis=0) / 1000.0  # per 1-ms bin
        spikes = rng.random(p.shape) < p
        t_idx, u_idx = np.nonzero(spikes)
        t_idx = t_idx + start * bins
        order = np.lexsort((t_idx, u_idx))
        t_idx, u_idx = t_idx[order], u_idx[order]
        keep = np.ones(len(t_idx), bool)
        # dead time: walk each unit's spikes in time (few per unit; vectorised by unit runs)
        prev_t = np.r_[-10**9, t_idx[:-1]]
        first = np.r_[True, u_idx[1:] != u_idx[:-1]]
        prev_t[first] = last[u_idx[first]]
        close = (t_idx - prev_t) <= dead
        if close.any():  # rare at ≤ 40 Hz: resolve sequentially where needed
            for i in np.flatnonzero(close):
                j = i - 1
                while j >= 0 and u_idx[j] == u_idx[i] and not keep[j]:
                    j -= 1
                ref = t_idx[j] if j >= 0 and u_idx[j] == u_idx[i] else last[u_idx[i]]
                keep[i] = t_idx[i] - ref > dead
        t_idx, u_idx = t_idx[keep], u_idx[keep]
        for u in np.unique(u_idx):
            last[u] = t_idx[u_idx == u].max()
        times.append(t_idx)
        units.append(u_idx)
    t = np.concatenate(times) if times else np.zeros(0, int)
    u = np.concatenate(units) if units else np.zeros(0, int)
    order = np.lexsort((u, t))
    return {"times_s": (t[order] + 0.5) / 1000.0, "units": u[order].astype(np.int32), "rates_hz": rates}
