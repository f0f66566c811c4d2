"""One atomic writer for every file pfcda writes (recordings, spikes, checkpoints, NWB, tables).

A file is written beside its target as ``NAME.partial`` (visible, in the same directory, so
that the final rename is atomic) and renamed onto the target only once it is complete and
flushed to disk: a crash leaves the complete new file or the untouched old one under the
target's name, never a half-written one. While it is written the partial file is held with an
advisory lock (``flock``), so a second writer to the same target fails at once; the partial is
removed on every exit path Python sees (an exception, Ctrl-C, SIGTERM handled as an exception),
and a partial left by a killed process (no lock held) is recognised and removed by the next
writer of that target.

Writers that open the temporary path themselves (h5py, torch, pynwb, pandas) write to
:attr:`AtomicOutput.tmp`; HDF5 files must be opened with ``locking=False`` (HDF5's own lock
would collide with the advisory one).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os

from pfcda.errors import OutputError

PARTIAL = ".partial"


def _os_error(path: str, e: OSError) -> OutputError:
    reason = os.strerror(e.errno) if e.errno else str(e)
    if e.errno == errno.ENOSPC:
        reason = "no space left on the device"
    return OutputError(f"{path}: cannot write ({reason})")


class AtomicOutput:
    """A file being written to ``tmp`` (``PATH.partial``) and committed to ``path``."""

    def __init__(self, path: str):
        path = os.fspath(path)
        self.path = os.path.abspath(path)
        self.shown = path
        self.tmp = self.path + PARTIAL
        directory = os.path.dirname(self.path)
        if os.path.isdir(self.path):
            raise OutputError(f"{path}: is a directory; expected a file path")
        if not os.path.isdir(directory):
            raise OutputError(f"{path}: directory {directory} does not exist")
        try:
            self._fd = os.open(self.tmp, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise _os_error(path, e) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            self._fd = None
            raise OutputError(f"{path}: another process is writing it now ({self.tmp} is locked)") from None
        os.ftruncate(self._fd, 0)  # a partial left by a killed run: start afresh
        self.done = False

    def commit(self) -> str:
        """Flush the finished temporary file to disk and rename it onto the target."""
        try:
            with open(self.tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(self.tmp, self.path)
            dfd = os.open(os.path.dirname(self.path), os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as e:
            self.abort()
            raise _os_error(self.shown, e) from None
        self.done = True
        self._release()
        return self.shown

    def abort(self) -> None:
        """Remove the temporary file (the target is untouched)."""
        if not self.done:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.tmp)
        self.done = True
        self._release()

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "AtomicOutput":
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False

    def __del__(self):
        if getattr(self, "_fd", None) is not None and not self.done:
            self.abort()


@contextlib.contextmanager
def atomic_write(path: str):
    """``with atomic_write(path) as tmp: <write the file at tmp>`` — committed to ``path`` when
    the block ends without an exception, removed otherwise."""
    out = AtomicOutput(path)
    try:
        yield out.tmp
    except BaseException:
        out.abort()
        raise
    out.commit()
