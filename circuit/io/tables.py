"""Text tables pfcda writes for people and other tools (hBayesDM trials, replay schedules)."""
from __future__ import annotations

from .atomic import atomic_write


def write_table(df, path: str, sep: str = ",", float_format: str | None = None,
                overwrite: bool = False, inputs=()) -> str:
    """A pandas DataFrame as a delimited text file, atomically."""
    with atomic_write(path, overwrite=overwrite, inputs=inputs) as tmp:
        df.to_csv(tmp, sep=sep, index=False, float_format=float_format)
    return path
