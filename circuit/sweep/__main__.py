"""``python -m pfcda.circuit.sweep CELL``: run one cell of a sweep (what the executors launch)."""
import os
import signal
import sys

if __name__ == "__main__":
    # until the cell installs its own handlers: a stop before any work leaves the cell as it was
    for _sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_sig, lambda *_: os._exit(130))
    from .cell import pdeathsig, run_cell

    pdeathsig(signal.SIGTERM)  # a cell dies with the worker (and the driver) that launched it
    sys.exit(run_cell(sys.argv[1]))
