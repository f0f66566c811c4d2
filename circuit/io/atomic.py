"""One atomic writer for every file pfcda writes (recordings, spikes, checkpoints, NWB, tables).

Nothing a user owns is replaced by accident: a target that exists is refused unless the
writer is asked to overwrite it (``--force``), and a target that is one of the command's inputs
is always refused (:func:`check_outputs`, called before any work).

A file is written beside its target as ``NAME.partial`` (visible, in the same directory, so
that the final rename is atomic) and renamed onto the target only once it is complete and
flushed to disk: a crash leaves the complete new file or the untouched old one under the
target's name, never a half-written one. While it is written the partial file is held with an
advisory lock (``flock``), so a second writer to the same target fails at once; the partial is
removed on every exit path Python sees (an exception, Ctrl-C, SIGTERM — see
:mod:`pfcda.circuit.signals`), and a partial left by a killed process (no lock held) is
recognised, removed and named by the next writer of that target. OS errors (a full disk, no
permission) become one line naming the path and the errno's meaning, and leave nothing behind.

Writers that open the temporary path themselves (h5py, torch, pynwb, pandas) write to
:attr:`AtomicOutput.tmp`; HDF5 files must be opened with ``locking=False`` (HDF5's own lock
would collide with the advisory one).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys

from pfcda.errors import OutputError

PARTIAL = ".partial"


def os_error(path: str, e: OSError, doing: str = "cannot write") -> OutputError:
    """An OS error as one line: the path and the errno's meaning."""
    reason = os.strerror(e.errno) if e.errno else str(e)
    if e.errno == errno.ENOSPC:
        reason = "no space left on the device"
    return OutputError(f"{path}: {doing} ({reason})")


def free_bytes(path: str) -> int:
    """Bytes free for an unprivileged writer on the filesystem of ``path``."""
    st = os.statvfs(os.path.dirname(os.path.abspath(path)) or ".")
    return st.f_bavail * st.f_frsize


#: room kept free beyond what a write needs (metadata, the filesystem's own)
SPACE_MARGIN = 4 << 20


def ensure_space(path: str, nbytes: int) -> None:
    """Refuse a write of about ``nbytes`` to ``path`` (or its partial file) before it starts when
    the filesystem cannot hold it (HDF5 and torch do not fail cleanly on a full disk: they can
    leave corrupt files or crash)."""
    free = free_bytes(path)
    path = path[:-len(PARTIAL)] if path.endswith(PARTIAL) else path
    if nbytes + SPACE_MARGIN > free:
        raise OutputError(f"{path}: cannot write (no space left on the device: needs about "
                          f"{(nbytes + SPACE_MARGIN) / 1e6:.1f} MB, {free / 1e6:.1f} MB free)")


def write_failed(path: str, e: BaseException) -> OutputError | None:
    """An :class:`OutputError` for an exception a library raised while writing ``path`` when the
    cause is the OS (an ``OSError``, or a full disk behind another exception type), else None."""
    if isinstance(e, OutputError):
        return e
    if isinstance(e, OSError) and e.errno:
        return os_error(path, e)
    text = str(e)
    try:
        full = free_bytes(path) < SPACE_MARGIN
    except OSError:
        full = False
    if full or "errno = 28" in text or "No space left" in text:
        return OutputError(f"{path}: cannot write (no space left on the device)")
    if isinstance(e, OSError):
        return os_error(path, e)
    return None


def same_file(a: str, b: str) -> bool:
    """Whether two paths name the same file (resolved; an existing file also by inode)."""
    ra, rb = os.path.realpath(a), os.path.realpath(b)
    if ra == rb:
        return True
    try:
        return os.path.samefile(ra, rb)
    except OSError:
        return False


def check_outputs(outputs, inputs=(), overwrite: bool = False) -> None:
    """Refuse, before any work, outputs that are inputs, outputs that name one file twice, and
    outputs that exist (unless ``overwrite``); directories that do not exist. ``outputs`` and
    ``inputs`` are paths (None entries are skipped)."""
    outputs = [os.fspath(o) for o in outputs if o]
    inputs = [os.fspath(i) for i in inputs if i]
    for k, out in enumerate(outputs):
        for inp in inputs:
            if same_file(out, inp):
                raise OutputError(f"{out}: is also an input of this command ({inp}); write the output "
                                  f"elsewhere")
        for other in outputs[:k]:
            if same_file(out, other):
                raise OutputError(f"{out}: named as two outputs of this command")
        if os.path.isdir(out):
            raise OutputError(f"{out}: is a directory; expected a file path")
        directory = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(directory):
            raise OutputError(f"{out}: directory {directory} does not exist")
        if os.path.exists(out) and not overwrite:
            raise OutputError(f"{out}: exists; give --force to replace it (or write elsewhere)")


class AtomicOutput:
    """A file being written to ``tmp`` (``PATH.partial``) and committed to ``path``.

    overwrite: replace an existing target (else it is refused); inputs: paths the target must
    not be."""

    def __init__(self, path: str, overwrite: bool = True, inputs=()):
        path = os.fspath(path)
        self.path = os.path.abspath(path)
        self.shown = path
        self.tmp = self.path + PARTIAL
        self._fd = None
        self.done = True
        check_outputs([path], inputs, overwrite)
        try:
            existed = os.path.exists(self.tmp)
            self._fd = os.open(self.tmp, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise os_error(path, e) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            self._fd = None
            raise OutputError(f"{path}: another process is writing it now ({self.tmp} is locked)") from None
        if existed and os.fstat(self._fd).st_size:  # left by a killed run: start afresh, say so
            print(f"pfcda: removed {self.tmp}, a partial file left by an interrupted run", file=sys.stderr)
        os.ftruncate(self._fd, 0)
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
            raise os_error(self.shown, e) from None
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
def atomic_write(path: str, overwrite: bool = True, inputs=()):
    """``with atomic_write(path) as tmp: <write the file at tmp>`` — committed to ``path`` when
    the block ends without an exception, removed otherwise (an OS error becomes an
    :class:`OutputError` naming the path)."""
    out = AtomicOutput(path, overwrite=overwrite, inputs=inputs)
    try:
        yield out.tmp
    except Exception as e:  # noqa: BLE001 - the OS's refusals become one line; bugs stay bugs
        out.abort()
        err = write_failed(out.shown, e)
        if err is None:
            raise
        raise err from None
    except BaseException:
        out.abort()
        raise
    out.commit()
