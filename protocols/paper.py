"""What a protocol reproduces of its paper: the runs that make its panels and the quantitative
statements (claims) read off them, each with the paper's value, the animals' value and the
criterion that decides the verdict. ``pfcda reproduce`` runs them (:mod:`pfcda.circuit.reproduce`);
the protocol's own analyses compute every number — nothing here computes a statistic.

A claim's criterion is the effect the paper states, in the form its protocol test asserts (e.g.
"RPE to an inferred cue > 0", "inferred / experienced ≥ 0.5", "regret below Thompson's"): the
verdict is *reproduced* when the model's value meets it, else *differs*; the model's distance to
the paper's and to the animals' values is reported beside it either way.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
       "|>=": lambda v, b: abs(v) >= b,   # the size of an effect of either sign (a correlation)
       ">|": lambda v, b: v > abs(b),     # larger than another effect's size
       "|<": lambda v, b: abs(v) < b}     # no effect: smaller in size than a bound


@dataclass(frozen=True)
class PaperRun:
    """One frozen run behind a set of panels: the checkpoint (default: the protocol's), the
    episodes for ``--quick``, task options and named manipulation presets."""

    name: str
    episodes: int
    checkpoint: str | None = None
    task: dict = field(default_factory=dict)
    presets: tuple = ()


@dataclass(frozen=True)
class Claim:
    """A statement of the paper about one statistic of one run.

    figure: the panel (e.g. "Fig. 4b"); statement: the claim in words; run, stat: where the
    model's value is (``run`` names a :class:`PaperRun`; ``stat`` a statistic of the protocol's
    analysis of it); paper, lab: the published values (None where there is none; ``lab_unit``
    when the animals' value is in other units, e.g. spikes/s, and not comparable);
    criterion: ``(op, bound[, factor[, offset]])``: the model's value ``op`` factor × bound +
    offset, with op one of ``> >= < <=``, ``|>=`` (|value| ≥ bound), ``>|`` (value > |bound|) or
    ``|<`` (|value| < bound: no effect) and
    bound a number or another statistic, ``"stat"`` of the same run or ``"run:stat"`` (e.g.
    Thompson's regret on the same episodes, the control condition's choice); source: where the
    numbers come from."""

    figure: str
    statement: str
    run: str
    stat: str
    criterion: tuple
    paper: float | None = None
    lab: float | None = None
    lab_unit: str | None = None
    source: str = ""

    def bound(self, value_of) -> float:
        """The criterion's bound, ``value_of(run, stat)`` giving another statistic's value."""
        b = self.criterion[1]
        factor = self.criterion[2] if len(self.criterion) > 2 else 1.0
        offset = self.criterion[3] if len(self.criterion) > 3 else 0.0
        if isinstance(b, str):
            run, _, stat = b.rpartition(":")
            b = value_of(run or self.run, stat)
        return float(b) * factor + offset

    def holds(self, value: float, value_of) -> bool:
        return bool(OPS[self.criterion[0]](value, self.bound(value_of)))

    def criterion_text(self) -> str:
        op, b = self.criterion[0], self.criterion[1]
        factor = self.criterion[2] if len(self.criterion) > 2 else 1.0
        offset = self.criterion[3] if len(self.criterion) > 3 else 0.0
        text = b if isinstance(b, str) else f"{b:g}"
        if factor != 1.0:
            text = f"{factor:g} × {text}"
        if offset:
            text += f" {'+' if offset > 0 else '−'} {abs(offset):g}"
        value = {"|>=": "|value| ≥", ">|": "value > |", "|<": "|value| <"}.get(op)
        if value:
            return f"{value} {text}" + ("|" if op == ">|" else "")
        return f"{op} {text}"


@dataclass(frozen=True)
class Paper:
    """A protocol's reproduction: its runs and claims."""

    runs: tuple
    claims: tuple

    def run(self, name: str) -> PaperRun:
        for r in self.runs:
            if r.name == name:
                return r
        raise KeyError(name)
