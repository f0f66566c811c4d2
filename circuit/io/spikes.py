"""Spikes files: the :class:`Spikes` container, its writer and reader (format ``pfcda-spikes``
v1; fields in :mod:`pfcda.circuit.io.schema`). A spikes file is rendered from a recording
(:func:`pfcda.circuit.render.render`) and linked to it by the recording's SHA-256.
"""
from __future__ import annotations

import json

import numpy as np

from pfcda.dopamine.spiking import DAParams
from pfcda.errors import RecordingError

from .atomic import atomic_write
from .codec import decode_attr, open_h5
from .schema import SPIKES_FIELDS
from .schema import SPIKES_FORMAT as FORMAT
from .schema import SPIKES_VERSION as VERSION


class Spikes:
    """Rendered spikes: attributes, datasets by path (``da/spike_times_s``…) and group
    attributes (``pfc/n_units``, ``stim/opto``), with typed accessors. Indexing by a dataset
    path or attribute name (``spikes["da/spike_times_s"]``) reads the flat mapping."""

    def __init__(self, attrs: dict, data: dict, groups: dict | None = None):
        self.attrs, self.data, self.groups = dict(attrs), dict(data), dict(groups or {})

    # ------------------------------------------------------------------ the flat mapping
    def flat(self) -> dict:
        out = dict(self.attrs)
        out.update(self.data)
        for g, attrs in self.groups.items():
            out.update({f"{g}/{k}": v for k, v in attrs.items()})
        return out

    def __getitem__(self, key):
        return self.flat()[key]

    def __contains__(self, key) -> bool:
        return key in self.flat()

    def get(self, key, default=None):
        return self.flat().get(key, default)

    def keys(self):
        return self.flat().keys()

    # ---------------------------------------------------------------------- accessors
    @property
    def params(self) -> dict:
        p = self.attrs.get("params") or "{}"
        return json.loads(p) if isinstance(p, str) else dict(p)

    @property
    def da_params(self) -> DAParams:
        return DAParams(**self.params.get("da", {}))

    @property
    def recording_sha256(self) -> str | None:
        return self.attrs.get("recording_sha256")

    @property
    def step_start_s(self) -> np.ndarray:
        return self.data["steps/start_s"]

    @property
    def has_da(self) -> bool:
        return "da/spike_times_s" in self.data

    @property
    def has_pfc(self) -> bool:
        return "pfc/spike_times_s" in self.data

    @property
    def da_spike_times_s(self) -> np.ndarray:
        return self.data["da/spike_times_s"]

    @property
    def da_spike_neurons(self) -> np.ndarray:
        return self.data["da/spike_neurons"]

    @property
    def pfc_spike_times_s(self) -> np.ndarray:
        return self.data["pfc/spike_times_s"]

    @property
    def pfc_spike_units(self) -> np.ndarray:
        return self.data["pfc/spike_units"]

    @property
    def pfc_n_units(self) -> int:
        """The PFC population's size (units that never fired included)."""
        u = self.pfc_spike_units
        declared = int(self.groups.get("pfc", {}).get("n_units", 0))
        return max(declared, int(u.max()) + 1 if len(u) else 0)

    @property
    def opto(self) -> list | None:
        """The light settings of a closed-loop run (``stim`` group attribute), or None."""
        if "stim" not in self.groups:
            return None
        o = self.groups["stim"].get("opto", "[]")
        return json.loads(o) if isinstance(o, str) else o


def write_spikes(path: str, attrs: dict, data: dict, groups: dict | None = None, overwrite: bool = False,
                 inputs=()) -> str:
    """Write a spikes file atomically: ``attrs`` (root attributes), ``data`` (datasets by path:
    the schema's fields), ``groups`` (group → attributes)."""
    import h5py

    unknown = [k for k in data if k not in SPIKES_FIELDS]
    if unknown:
        raise ValueError(f"spikes file: {unknown} are not fields of the format ({sorted(SPIKES_FIELDS)})")
    with atomic_write(path, overwrite=overwrite, inputs=inputs) as tmp:
        with h5py.File(tmp, "w", locking=False) as f:
            for k, v in {"format": FORMAT, "version": VERSION, **attrs}.items():
                f.attrs[k] = v
            for k, v in data.items():
                if k == "stim/kind":
                    f.create_dataset(k, data=[str(x) for x in v], dtype=h5py.string_dtype())
                else:  # shuffle + gzip level 1: 2× faster than gzip's default, smaller
                    f.create_dataset(k, data=v, compression="gzip", compression_opts=1, shuffle=True)
            for g, gattrs in (groups or {}).items():
                grp = f.require_group(g)
                for k, v in gattrs.items():
                    grp.attrs[k] = v
    return path


def read_spikes(path: str) -> Spikes:
    """Read a spikes file, with a clear error for anything else."""
    import h5py

    with open_h5(path, FORMAT, "spikes file") as f:
        attrs = {k: decode_attr(f.attrs[k], parse_json=False) for k in f.attrs}
        data, groups = {}, {}

        def take(name, obj):
            if isinstance(obj, h5py.Dataset):
                data[name] = obj.asstr()[()] if h5py.check_string_dtype(obj.dtype) else obj[()]
            elif len(obj.attrs):
                groups[name] = {k: decode_attr(v, parse_json=False) for k, v in obj.attrs.items()}
        f.visititems(take)
    if "stim/kind" in data:
        data["stim/kind"] = np.asarray(data["stim/kind"], dtype=object)
    if "steps/start_s" not in data:
        raise RecordingError(f"{path}: a pfcda spikes file without steps/start_s")
    return Spikes(attrs, data, groups)
