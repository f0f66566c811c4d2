"""Render a recording as spikes: the DA population driven by the run's δ (brian2) and PFC spike
trains from its unit activity, on one biological time base, written to a spikes file.

Time base: the run's episodes are laid end to end, each agent step lasting ``step_ms`` (500 ms),
with ``gap_steps`` steps of δ = 0 (and minimal PFC activity) between episodes so the DA
population relaxes to tonic firing; ``steps/start_s`` gives every recorded step's start.

Spikes file (HDF5, written to a temporary file and renamed: a crash leaves the complete file or
none): attributes ``format`` = "pfcda-spikes", ``version`` 1, ``recording`` (path),
``recording_sha256``, ``params`` (JSON: the DA model, the rate mapping), ``seed``, ``target``;
datasets ``steps/start_s`` [n_steps], ``da/spike_times_s``, ``da/spike_neurons``,
``da/step_rate_hz`` [n_steps], ``da/concentration_10ms`` (1 = tonic), ``pfc/spike_times_s``,
``pfc/spike_units``.
"""
from __future__ import annotations

import json
import os

import numpy as np

FORMAT, VERSION = "pfcda-spikes", 1


def render(recording: str, out: str, population: str = "both", seed: int = 0,
           target: str = "numpy", params=None, gap_steps: int = 2, r_min: float = 1.0,
           r_max: float = 40.0) -> dict:
    """Render ``recording`` (a ``pfcda run`` HDF5 file) into the spikes file ``out``."""
    import h5py

    from dopamine.spiking import DAParams, simulate
    from pfc.spikes import spike_trains

    from .agent import file_hash
    from .recording import read_recording

    if population not in ("da", "pfc", "both"):
        raise ValueError(f"population: expected 'da', 'pfc' or 'both', got {population!r}")
    params = params or DAParams()
    rec = read_recording(recording)
    ep = rec.steps["episode"]
    delta = rec.steps["delta"].astype(float)
    # global step index of every recorded step: episodes end to end with gaps between them
    new_ep = np.r_[0, np.flatnonzero(np.diff(ep)) + 1]
    offset = np.zeros(len(ep), dtype=np.int64)
    offset[new_ep[1:]] = gap_steps
    gidx = np.arange(len(ep)) + np.cumsum(offset)
    n_global = int(gidx[-1]) + 1
    result = {"steps/start_s": gidx * params.step_ms / 1000.0}
    if population in ("da", "both"):
        seq = np.zeros(n_global)
        seq[gidx] = delta
        da = simulate(seq, params, seed=seed, target=target)
        result.update({"da/spike_times_s": da.spike_times_s, "da/spike_neurons": da.spike_neurons,
                       "da/step_rate_hz": da.step_rate_hz[gidx],
                       "da/concentration_10ms": da.concentration[:len(da.concentration) // 10 * 10]
                       .reshape(-1, 10).mean(1)})
    if population in ("pfc", "both"):
        hidden = rec.units["hidden"]
        full = np.full((n_global, hidden.shape[1]), -1.0)
        full[gidx] = hidden
        pfc = spike_trains(full, params.step_ms, r_min, r_max, seed=seed + 1)
        result.update({"pfc/spike_times_s": pfc["times_s"], "pfc/spike_units": pfc["units"]})
    attrs = {"format": FORMAT, "version": VERSION, "recording": os.path.abspath(recording),
             "recording_sha256": file_hash(recording), "seed": int(seed), "target": target,
             "population": population,
             "params": json.dumps({"da": params.to_dict(), "pfc_rate_hz": [r_min, r_max],
                                   "gap_steps": gap_steps})}
    directory = os.path.dirname(os.path.abspath(out))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(out)}.tmp{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            for k, v in attrs.items():
                f.attrs[k] = v
            for k, v in result.items():
                f.create_dataset(k, data=v, compression="gzip")
            if "pfc" in f:  # units that never fired are still units
                f["pfc"].attrs["n_units"] = int(rec.units["hidden"].shape[1])
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return {**attrs, **result}


def read_spikes(path: str) -> dict:
    """A spikes file → {attribute or dataset path: value}."""
    import h5py

    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT:
            raise ValueError(f"{path}: not a pfcda spikes file")
        out = {k: f.attrs[k] for k in f.attrs}
        def take(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj.asstr()[()] if h5py.check_string_dtype(obj.dtype) else obj[()]
        f.visititems(take)
    return out
