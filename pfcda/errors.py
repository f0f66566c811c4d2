"""The project's own error types: mistakes a user can fix (a bad option, file or field).

The command line turns these — and only these — into one-line messages with exit status 2;
anything else is a bug and shows its traceback. Each subclasses ``ValueError`` (or ``OSError``)
so that code catching the built-in types keeps working.
"""
from __future__ import annotations


class PfcdaError(Exception):
    """Base class: an error the user can fix, reported in one line naming the field or file."""


class ConfigError(PfcdaError, ValueError):
    """A bad option, field or argument value (its message names it and the expected form)."""


class UsageError(ConfigError):
    """A bad combination of command-line options."""


class ManipulationError(ConfigError):
    """A manipulation that cannot act on this circuit or task."""


class ProtocolError(ConfigError):
    """An unknown protocol, or a plug-in that cannot be loaded."""


class CheckpointError(PfcdaError, ValueError):
    """A checkpoint that cannot be used (missing, foreign, wrong version, another task)."""


class RecordingError(PfcdaError, ValueError):
    """A file that is not a readable pfcda recording (or spikes file)."""


class LabDataError(PfcdaError, ValueError):
    """A lab data file that cannot be read into a trials table."""


class OutputError(PfcdaError, OSError):
    """An output that cannot be written (exists, is an input, is locked, or the OS refused)."""
