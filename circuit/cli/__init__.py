"""The ``pfcda`` command line: :func:`main`.

Each command parses its options (:mod:`.parser`, shared options declared once), calls one library
function and prints (:mod:`.report`). The project's own errors (:mod:`pfcda.errors`) become one
line and exit status 2; anything else is a bug and shows its traceback. Heavy imports (torch,
numpy) happen inside the commands, so ``pfcda --help`` and ``pfcda protocols`` are instant.
"""
from __future__ import annotations

import os
import sys

from pfcda.errors import PfcdaError

#: commands that never need torch (they stay instant)
LIGHT = {"protocols"}


def main(argv=None) -> int:
    from .. import signals

    signals.install()  # Ctrl-C and SIGTERM stop cleanly, outputs untouched or complete
    from .parser import build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command not in LIGHT:
            # torch's import runs Python callbacks from C++ (pybind11): an exception raised there by a
            # Ctrl-C aborts the process (SIGABRT) instead of unwinding, so a signal waits for its end
            with signals.polling():
                import torch  # noqa: F401
            signals.check()
        if args.protocols:
            from pfcda import protocols

            protocols.load_plugins([s for group in args.protocols for s in group.split(",")])
            protocols.export_plugins()  # worker processes load them too
        return args.func(args)
    except KeyboardInterrupt as e:
        why = str(e) or "interrupted"
        print(f"pfcda {args.command}: {why}; no partial output left", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except PfcdaError as e:
        if args.debug:
            raise
        print(f"pfcda {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
