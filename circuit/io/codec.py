"""Small pieces every file type shares: HDF5 attribute values and file hashes."""
from __future__ import annotations

import hashlib
import json

import numpy as np


def encode_attr(value):
    """A Python value → an HDF5 attribute value: dicts, lists, tuples and None as JSON text,
    numbers and strings as they are."""
    if isinstance(value, (dict, list, tuple)) or value is None:
        return json.dumps(value, sort_keys=True, default=str)
    return value


def decode_attr(value, parse_json: bool = True):
    """An HDF5 attribute value → a Python value (JSON text decoded unless ``parse_json`` is
    false, numpy scalars as Python scalars, arrays as lists, bytes as text)."""
    if isinstance(value, bytes):
        value = value.decode()
    if parse_json and isinstance(value, str) and (value[:1] in ("[", "{", '"') or value == "null"):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, TypeError):
            return value
    if isinstance(value, np.ndarray):
        return [decode_attr(v, parse_json) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def file_hash(path: str) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def open_h5(path: str, fmt: str, what: str):
    """Open a pfcda HDF5 file for reading and check its ``format`` attribute; errors name the
    file (missing, not HDF5 — e.g. truncated —, or another kind of file)."""
    import os

    import h5py

    from pfcda.errors import RecordingError

    if not os.path.isfile(path):
        raise RecordingError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise RecordingError(f"{path}: not a readable HDF5 file ({e}); truncated or not HDF5") from None
    got = decode_attr(f.attrs.get("format"), parse_json=False)
    if got != fmt:
        f.close()
        raise RecordingError(f"{path}: not a pfcda {what} (format attribute {got!r}, expected {fmt!r})")
    return f
