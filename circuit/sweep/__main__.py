"""``python -m pfcda.circuit.sweep CELL``: run one cell of a sweep (what the executors launch)."""
import signal
import sys

from .cell import pdeathsig, run_cell

if __name__ == "__main__":
    pdeathsig(signal.SIGTERM)  # a cell dies with the worker (and the driver) that launched it
    sys.exit(run_cell(sys.argv[1]))
