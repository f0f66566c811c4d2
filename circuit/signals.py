"""Interrupts that stop cleanly: Ctrl-C (SIGINT) and a cluster's time limit (SIGTERM).

The command line calls :func:`install`. A signal then raises :class:`Interrupted` (a
``KeyboardInterrupt``, so no ``except Exception`` swallows it), and every writer on the way out
removes its partial file. Inside the long loops that poll (:func:`polling`: training updates, the
steps of a run) the first signal only *requests* the stop, which :func:`check` raises at the next
clean point between steps — outside any library callback, where an exception raised in, say, an
h5py finaliser would be ignored by Python and the run would go on. A second signal raises at
once. Without :func:`install` (a library user's own program) nothing changes.
"""
from __future__ import annotations

import contextlib
import signal

_requested: int | None = None
_polling = 0


class Interrupted(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM (exit status 130)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def _handler(signum, frame):
    global _requested
    if _requested is not None or not _polling:
        _requested = signum
        raise Interrupted(signum)
    _requested = signum


def install() -> None:
    """SIGINT and SIGTERM raise :class:`Interrupted` (deferred to :func:`check` while polling)."""
    global _requested
    _requested = None
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)


@contextlib.contextmanager
def polling():
    """A loop that calls :func:`check` between its steps: signals wait for it."""
    global _polling
    _polling += 1
    try:
        yield
    finally:
        _polling -= 1


def requested() -> int | None:
    """The signal that asked to stop, or None."""
    return _requested


def check() -> None:
    """Raise :class:`Interrupted` if a stop was requested (call it between steps)."""
    if _requested is not None:
        raise Interrupted(_requested)
