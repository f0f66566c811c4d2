"""Simulated recordings: the :class:`Recording` container and its HDF5 file (format
``pfcda-recording`` v1).

One run → one HDF5 file, self-describing and versioned; every field is declared in
:mod:`pfcda.circuit.io.schema` (which also generates the tables of ``docs/recording-format.md``).
The writer appends one batch of episodes at a time (memory stays bounded) to ``PATH.partial``
(:mod:`pfcda.circuit.io.atomic`) and renames it onto the target only when the run completed and
the file was closed: a run killed at any moment leaves either the complete file or none under
the final name.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from pfcda.errors import RecordingError

from .atomic import AtomicOutput, ensure_space, write_failed
from .codec import decode_attr, encode_attr, open_h5
from .schema import RECORDING_FORMAT as FORMAT
from .schema import RECORDING_VERSION as VERSION
from .schema import check_steps


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

    def light_active(self) -> np.ndarray:
        """[n_steps] bool: steps where light on the DA neurons acted (closed-loop runs)."""
        from pfcda.circuit.manipulations import Manipulation

        active = self.steps.get("manipulation_active")
        lit = np.zeros(self.n_steps, bool)
        for j, m in enumerate(self.manipulations or []):
            if Manipulation.from_dict(m).is_light:
                lit |= np.asarray(active[:, j], bool)
        return lit

    # ------------------------------------------------------------------------------- I/O
    def write(self, path: str, compression: str | None = "gzip", overwrite: bool = False) -> str:
        """Write the whole recording to ``path`` (atomically; an existing file is replaced only
        with ``overwrite``)."""
        with RecordingWriter(path, self.attrs, self.provenance, self.manipulations,
                             compression=compression, overwrite=overwrite) as w:
            w.append(self.steps, self.trials, self.units)
        return path

    @classmethod
    def read(cls, path: str, units: bool = False) -> "Recording":  # noqa: D102
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
                 compression: str | None = "gzip", chunk_steps: int = 16384, overwrite: bool = False,
                 inputs=()):
        import h5py

        self.path = path
        self.out = AtomicOutput(path, overwrite=overwrite, inputs=inputs)
        self.compression = compression
        self.chunk_steps = chunk_steps
        try:
            self.f = None
            self.f = h5py.File(self.out.tmp, "w", locking=False)
            self.f.attrs["format"] = FORMAT
            self.f.attrs["version"] = VERSION
            self.f.attrs["complete"] = False
            for k, v in attrs.items():
                self.f.attrs[k] = encode_attr(v)
            self.f.attrs["provenance"] = encode_attr(provenance)
            self.f.attrs["manipulations"] = encode_attr(manipulations)
        except Exception as e:  # noqa: BLE001
            err = write_failed(path, e)
            self.abort()
            if err is None:
                raise
            raise err from None
        except BaseException:
            self.abort()
            raise
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
        """Append a batch: per-step arrays (equal lengths), trial rows, unit activity rows. An OS
        error (a full disk) removes the partial file and names the path."""
        raw = sum(np.asarray(v).nbytes for d in (steps, trials, units or {}) for v in d.values())
        try:
            ensure_space(self.out.tmp, raw)  # conservative (compression is not counted)
            self._append_batch(steps, trials, units)
            self.f.flush()
        except Exception as e:  # noqa: BLE001 - the OS's refusals become one line; bugs stay bugs
            err = write_failed(self.path, e)
            self.abort()
            if err is None:
                raise
            raise err from None

    def _append_batch(self, steps: dict, trials: dict, units: dict | None = None) -> None:
        check_steps(steps, units or {})
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

    def close(self, attrs: dict | None = None) -> str:
        """Complete the file (``attrs``: root attributes known only at the end) and rename it
        onto the target."""
        try:
            for k, v in (attrs or {}).items():
                self.f.attrs[k] = encode_attr(v)
            self.f.attrs["complete"] = True
            self.f.attrs["n_steps"] = self.n_steps
            self.f.attrs["n_trials"] = self.n_trials
            self.f.flush()
            self.f.close()
        except Exception as e:  # noqa: BLE001
            err = write_failed(self.path, e)
            self.abort()
            if err is None:
                raise
            raise err from None
        return self.out.commit()

    def abort(self) -> None:
        try:
            if self.f is not None:
                self.f.close()
        except Exception:  # noqa: BLE001 - a file that cannot even close (full disk): drop it
            pass
        finally:
            self.out.abort()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


def read_recording(path: str, units: bool = False) -> Recording:
    """Read a pfcda recording, with a clear error for anything else."""
    f = open_h5(path, FORMAT, "recording")
    with f:
        if f.attrs.get("version") != VERSION:
            raise RecordingError(f"{path}: recording format version {f.attrs.get('version')}, "
                                 f"this pfcda reads version {VERSION}")
        if not bool(f.attrs.get("complete", False)):
            raise RecordingError(f"{path}: incomplete recording (the run did not finish)")
        try:
            attrs = {k: decode_attr(v) for k, v in f.attrs.items()
                     if k not in ("provenance", "manipulations", "format", "version", "complete")}
            trials = {k: f["trials"][k][()] for k in f["trials"]}
            steps = {k: f["steps"][k][()] for k in f["steps"]}
            unit_data = {k: f["units"][k][()] for k in f["units"]} if units else None
            provenance = json.loads(f.attrs["provenance"])
            manipulations = json.loads(f.attrs["manipulations"])
        except (KeyError, OSError, ValueError) as e:
            raise RecordingError(f"{path}: damaged recording ({type(e).__name__}: {e})") from None
    return Recording(attrs, trials, steps, manipulations, provenance, unit_data, path=path)
