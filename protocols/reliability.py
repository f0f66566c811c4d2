"""Statistics that carry their reliability: warnings a user can act on, as one line each.

Library warnings raised inside a fit (statsmodels' ConvergenceWarning and
PerfectSeparationWarning, numpy's RuntimeWarning, …) are captured and summarised — one line per
kind with its count — instead of a wall of repeated messages; estimates that cannot be computed
are NaN with a reason; fits at a parameter bound and intervals resting on few resampling units
say so. Analyses return these lines in ``result["warnings"]``; the command line prints them.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from collections import Counter

#: fewer resampling units (episodes, sessions, subjects) than this: a bootstrap CI is unreliable
MIN_UNITS = 10
#: fewer bootstrap resamples than this: the CI's ends are noise
MIN_RESAMPLES = 100


@contextlib.contextmanager
def captured(notes: list, what: str):
    """Run a fit with its library warnings captured; append one summary line per kind to
    ``notes`` (e.g. "matching lag regression: 3 ConvergenceWarnings (… did not converge)")."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    kinds = Counter(w.category.__name__ for w in caught)
    first = {}
    for w in caught:
        first.setdefault(w.category.__name__, str(w.message).splitlines()[0][:120])
    for kind, n in kinds.items():
        notes.append(f"{what}: {n} {kind}{'s' if n > 1 else ''} ({first[kind]})")


def nan(reason: str) -> dict:
    """A statistic that cannot be computed here, with the reason it is printed with."""
    return {"value": float("nan"), "sem": None, "note": reason}


def at_bounds(params: dict, bounds: dict, what: str, rel: float = 1e-3) -> list[str]:
    """Lines for the fitted parameters at (or within ``rel`` of the range of) a bound."""
    out = []
    for k, v in params.items():
        if k not in bounds or v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        lo, hi = bounds[k]
        tol = rel * (hi - lo)
        if v <= lo + tol or v >= hi - tol:
            out.append(f"{what}: {k} = {v:.3g} is at its bound ({lo:g}, {hi:g}); the fit is not "
                       f"identified there — treat it as a limit, not an estimate")
    return out


def few_units(n: int, what: str) -> list[str]:
    """A line when a bootstrap CI rests on fewer than :data:`MIN_UNITS` resampled units."""
    if n < MIN_UNITS:
        return [f"{what}: the CI resamples only {n} unit{'s' if n != 1 else ''} (< {MIN_UNITS}); treat it "
                f"as descriptive, not as an interval"]
    return []


def few_resamples(n_boot: int) -> list[str]:
    if n_boot < MIN_RESAMPLES:
        return [f"bootstrap: {n_boot} resample{'s' if n_boot != 1 else ''} (< {MIN_RESAMPLES}): the CIs' ends "
                f"are noise; use --bootstrap 1000 for intervals to report"]
    return []
