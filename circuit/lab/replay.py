"""Replay a lab's own schedules against a frozen circuit: every session of a lab table becomes
one episode of the circuit's protocol, with that session's number of trials and its trial-by-
trial reward probabilities (and, for the two-step task, the transitions the animal experienced):
the protocol's ``LabSpec.schedule`` says how.

The schedule is written beside the recording (``<out>.schedule.csv``) and named in the
recording's task configuration, so the run is reproducible from its files.
"""
from __future__ import annotations

import os

from pfcda import protocols
from pfcda.errors import ConfigError
from pfcda.protocols import labdata

from ..agent import Circuit
from ..io.atomic import check_outputs
from ..io.checkpoint import load_checkpoint
from ..io.tables import write_table
from ..manipulations import validate
from ..run import run


def replayable() -> list[str]:
    """The protocols that replay lab schedules."""
    return [n for n in protocols.names() if protocols.describe(n).lab is not None
            and protocols.describe(n).lab.raw("schedule") is not None]


def replay(circuit, lab: str, out: str, seed: int = 0, mapping=None, progress: bool = False,
           manipulations=None, table: dict | None = None, checkpoint: str | None = None,
           overwrite: bool = False):
    """Run the circuit (a :class:`Circuit` loaded from ``checkpoint``, or a checkpoint path or
    shipped name) on every session of the lab data ``lab`` (bundled name or file, see
    :func:`pfcda.protocols.labdata.load`; or the already loaded ``table``), one episode per
    session; records to ``out`` and returns the :class:`~pfcda.circuit.io.recording.Recording`.
    Both outputs (``out`` and ``out.schedule.csv``) are checked before any work: neither may be
    an input, nor exist unless ``overwrite``."""
    schedule_path = os.path.abspath(f"{out}.schedule.csv")  # the recording names it: absolute
    inputs = [lab if isinstance(lab, str) and os.path.exists(lab) else None,
              mapping if isinstance(mapping, str) else None, checkpoint if isinstance(checkpoint, str) else None]
    check_outputs([out, schedule_path], inputs, overwrite)
    if not isinstance(circuit, Circuit):
        checkpoint = circuit
        circuit = load_checkpoint(circuit)[0]
    protocol = circuit.config.protocol
    if protocol not in replayable():
        raise ConfigError(f"protocol: replay supports {replayable()}, got {protocol!r}")
    if table is None:
        table = labdata.load(lab, protocol, mapping=mapping)
    sched, options = protocols.get(protocol).lab.schedule(table)
    options = {**options, "schedule": sched}
    circuit.make_task(**options)  # the schedule is checked by the task before anything is written
    n_sessions = int(sched["episode"].nunique())
    validate(manipulations, circuit, circuit.make_task(**options))
    write_table(sched, schedule_path, float_format="%.6g", overwrite=overwrite)
    try:
        return run(circuit, episodes=n_sessions, seed=seed, batch_size=n_sessions, out=out,
                   task_overrides={**options, "schedule": schedule_path}, progress=progress,
                   manipulations=manipulations, checkpoint=checkpoint, overwrite=overwrite)
    except BaseException:  # no recording: no schedule beside it either
        if os.path.exists(schedule_path) and not os.path.exists(out):
            os.remove(schedule_path)
        raise
