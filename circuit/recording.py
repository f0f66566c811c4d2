"""Simulated recordings: the Recording object and its HDF5 file (format ``pfcda-recording`` v1).

One run → one HDF5 file, self-describing and versioned; the layout is documented field by field
in ``docs/recording-format.md`` and in :data:`STEP_FIELDS` / :data:`UNIT_FIELDS` below.

The writer appends one batch of episodes at a time (memory stays bounded) to a temporary file
beside the target, and renames it to the target only when the run completed and the file was
closed: a run killed at any moment leaves either the complete file or none under the final name.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

FORMAT, VERSION = "pfcda-recording", 1

#: Per-step arrays: name → (dtype, unit, meaning). Rows are agent steps, episode-major.
STEP_FIELDS = {
    "episode": ("int64", "", "episode index within the run (0-based)"),
    "step": ("int32", "step", "agent step within the episode (0-based)"),
    "trial": ("int32", "", "trial within the episode (0-based)"),
    "phase": ("int8", "", "trial phase code; names in attribute phase_names"),
    "obs": ("float32", "", "observation [n_obs]; channel names in attribute obs_names"),
    "action": ("int16", "", "action taken; names in attribute action_names"),
    "reward": ("float32", "reward", "reward received for the action"),
    "value": ("float32", "reward", "the network's value estimate V(s_t)"),
    "delta": ("float32", "reward", "one-step TD error δ_t = r_t + γV(s_{t+1}) − V(s_t) "
                                    "(V = 0 after the episode's last step): the model's DA signal"),
    "policy": ("float32", "probability", "action probabilities π(·|s_t) [n_actions]"),
    "manipulation_active": ("bool", "", "[n_manipulations] whether each manipulation acted "
                                        "on this step"),
    "rpe_input": ("float32", "reward", "actor-critic circuits only: the RPE the actor received "
                                       "as input at this step (the critic's δ of the previous "
                                       "step, after any da_input manipulation)"),
}
#: Unit activity: name → (dtype, meaning); arrays [n_steps, n_units], chunked and compressed.
UNIT_FIELDS = {
    "hidden": ("float32", "hidden-unit activity h_t of the PFC network (the readouts' input)"),
    "cell": ("float32", "LSTM cell state c_t (LSTM cores only)"),
}


class RecordingError(ValueError):
    """A file that is not a readable pfcda recording."""


def _json_attr(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class Recording:
    """A simulated recording: trials table, per-step arrays, unit activity, provenance.

    ``attrs`` describes the run (protocol, counts, channel/action/phase names, γ); ``trials`` and
    ``steps`` are dicts of numpy arrays (columns); ``units`` holds ``hidden`` (and ``cell``)
    [n_steps, n_units]; ``manipulations`` is the list of manipulations applied (dicts);
    ``provenance`` records config, seed, versions and checkpoint hash.
    A recording read from a file loads its unit activity on first access of ``units``.
    """

    attrs: dict
    trials: dict
    steps: dict
    manipulations: list = field(default_factory=list)
    provenance: dict = field(default_factory=dict)
    _units: dict | None = None
    path: str | None = None

    @property
    def units(self) -> dict:
        if self._units is None:
            if self.path is None:
                return {}
            import h5py

            with h5py.File(self.path, "r") as f:
                self._units = {k: f["units"][k][()] for k in f["units"]}
        return self._units

    @property
    def n_steps(self) -> int:
        return int(self.attrs["n_steps"])

    def trials_frame(self):
        """The trials table as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.trials)

    def steps_frame(self):
        """The scalar per-step arrays as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame({k: v for k, v in self.steps.items() if v.ndim == 1})

    # ------------------------------------------------------------------------------- I/O
    def write(self, path: str, compression: str | None = "gzip") -> str:
        """Write the whole recording to ``path`` (atomically)."""
        with RecordingWriter(path, self.attrs, self.provenance, self.manipulations,
                             compression=compression) as w:
            w.append(self.steps, self.trials, self.units)
        return path

    @classmethod
    def read(cls, path: str, units: bool = False) -> "Recording":
        """Read a recording; ``units=True`` loads the unit activity now (else on first access)."""
        return read_recording(path, units=units)


class RecordingWriter:
    """Incremental, crash-safe HDF5 writer. Use as a context manager::

        with RecordingWriter(path, attrs, provenance, manipulations) as w:
            for batch in ...:
                w.append(steps, trials, units)

    On leaving the block without an exception the file is completed and renamed to ``path``;
    with an exception (or if the process dies) only the temporary file is left (and removed when
    Python can), never a partial file under ``path``.
    """

    def __init__(self, path: str, attrs: dict, provenance: dict, manipulations: list,
                 compression: str | None = "gzip", chunk_steps: int = 16384):
        import h5py

        directory = os.path.dirname(os.path.abspath(path)) or "."
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"out: directory {directory} does not exist")
        self.path = path
        self.tmp = os.path.join(directory, f".{os.path.basename(path)}.partial-{os.getpid()}")
        self.compression = compression
        self.chunk_steps = chunk_steps
        self.f = h5py.File(self.tmp, "w")
        self.f.attrs["format"] = FORMAT
        self.f.attrs["version"] = VERSION
        self.f.attrs["complete"] = False
        for k, v in attrs.items():
            self.f.attrs[k] = _json_attr(v) if isinstance(v, (dict, list, tuple)) or v is None else v
        self.f.attrs["provenance"] = _json_attr(provenance)
        self.f.attrs["manipulations"] = _json_attr(manipulations)
        for g in ("trials", "steps", "units"):
            self.f.create_group(g)
        self.n_steps = self.n_trials = 0

    def _append(self, group, name: str, data: np.ndarray, compress: bool) -> None:
        data = np.asarray(data)
        if name not in group:
            chunks = (min(self.chunk_steps, max(1, len(data))),) + tuple(max(1, d) for d in data.shape[1:])
            kw = {"compression": self.compression, "shuffle": True} if compress and self.compression else {}
            maxshape = (None,) + tuple(None if d == 0 else d for d in data.shape[1:])
            group.create_dataset(name, data=data, maxshape=maxshape,
                                 chunks=chunks, **kw)
            return
        ds = group[name]
        if ds.shape[1:] != data.shape[1:]:
            raise ValueError(f"{group.name}/{name}: expected rows of shape {ds.shape[1:]}, "
                             f"got {data.shape[1:]}")
        n = ds.shape[0]
        ds.resize(n + len(data), axis=0)
        ds[n:] = data

    def append(self, steps: dict, trials: dict, units: dict | None = None) -> None:
        """Append a batch: per-step arrays (equal lengths), trial rows, unit activity rows."""
        lengths = {len(v) for v in steps.values()} | {len(v) for v in (units or {}).values()}
        if len(lengths) != 1:
            raise ValueError(f"append: per-step arrays and unit activity must have equal lengths, "
                             f"got {sorted(lengths)}")
        for k, v in steps.items():
            self._append(self.f["steps"], k, v, compress=False)
        for k, v in (units or {}).items():
            self._append(self.f["units"], k, v, compress=True)
        for k, v in trials.items():
            self._append(self.f["trials"], k, v, compress=False)
        self.n_steps += lengths.pop()
        self.n_trials += len(next(iter(trials.values()))) if trials else 0

    def close(self) -> str:
        self.f.attrs["complete"] = True
        self.f.attrs["n_steps"] = self.n_steps
        self.f.attrs["n_trials"] = self.n_trials
        self.f.flush()
        self.f.close()
        with open(self.tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self.f.close()
        finally:
            if os.path.exists(self.tmp):
                os.remove(self.tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


def _decode_attr(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and (value[:1] in ("[", "{", '"') or value == "null"):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, TypeError):
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_recording(path: str, units: bool = False) -> Recording:
    """Read a pfcda recording, with a clear error for anything else."""
    import h5py

    if not os.path.isfile(path):
        raise RecordingError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise RecordingError(f"{path}: not a readable HDF5 file ({e}); truncated or not HDF5") from None
    with f:
        fmt = f.attrs.get("format")
        if fmt != FORMAT:
            raise RecordingError(f"{path}: not a pfcda recording (format attribute {fmt!r}, "
                                 f"expected {FORMAT!r})")
        if f.attrs.get("version") != VERSION:
            raise RecordingError(f"{path}: recording format version {f.attrs.get('version')}, "
                                 f"this pfcda reads version {VERSION}")
        if not bool(f.attrs.get("complete", False)):
            raise RecordingError(f"{path}: incomplete recording (the run did not finish)")
        try:
            attrs = {k: _decode_attr(v) for k, v in f.attrs.items()
                     if k not in ("provenance", "manipulations", "format", "version", "complete")}
            trials = {k: f["trials"][k][()] for k in f["trials"]}
            steps = {k: f["steps"][k][()] for k in f["steps"]}
            unit_data = {k: f["units"][k][()] for k in f["units"]} if units else None
            provenance = json.loads(f.attrs["provenance"])
            manipulations = json.loads(f.attrs["manipulations"])
        except (KeyError, OSError, ValueError) as e:
            raise RecordingError(f"{path}: damaged recording ({type(e).__name__}: {e})") from None
    return Recording(attrs, trials, steps, manipulations, provenance, unit_data, path=path)
