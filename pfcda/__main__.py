"""``python -m pfcda``: the command line."""
import sys

from pfcda.circuit.cli import main

sys.exit(main())
