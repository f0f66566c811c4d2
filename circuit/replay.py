"""Replay a lab's own schedules against a frozen circuit: every session of a lab table becomes
one episode of the circuit's protocol, with that session's number of trials and its trial-by-
trial reward probabilities (and, for the two-step task, the transitions the animal experienced).

* rat two-step (Miller/Brody) → the ``twostep`` task, ``miller`` variant: each trial's reward
  probabilities of the two outcome ports, in the task's frame (state c is the one choice c
  reaches commonly, so for the incongruent rats the right port is state 1), and the trial's
  common/uncommon transition replayed — the block reversals and the transition draws the rat
  had. The circuit's own choices decide which state it reaches and whether it is rewarded.
* human two-step (hBayesDM's ``ts`` layout, Daw et al. 2011) → the ``twostep`` task, ``daw``
  variant circuit: each trial's four reward probabilities and the subject's transitions.
* two-choice foraging (the dynamic-foraging mice) → the ``matching`` task: each trial's base
  probabilities of left and right, baited (a bait stays until collected) when the lab's session
  baited.

The schedule is written beside the recording (``<out>.schedule.csv``) and named in the
recording's task configuration, so the run is reproducible from its files.
"""
from __future__ import annotations

import os

import numpy as np

LAYOUTS = {"twostep": "rat two-step (choice, state, common, p_left, p_right)",
           "matching": "two-choice foraging (choice, p_left, p_right)"}


def lab_schedule(protocol: str, trials: dict):
    """A lab trials table → the schedule table (pandas DataFrame) of ``protocol``'s task."""
    import pandas as pd

    if protocol not in LAYOUTS:
        raise ValueError(f"protocol: replay supports {sorted(LAYOUTS)}, got {protocol!r}")
    tr = {k: np.asarray(v) for k, v in trials.items() if not k.startswith("_")}
    four = all(k in tr for k in ("p1a", "p1b", "p2a", "p2b"))  # e.g. human (Daw) two-step
    need = {"twostep": ("episode", "common") + (() if four else ("choice", "state", "p_left", "p_right")),
            "matching": ("episode", "p_left", "p_right")}[protocol]
    missing = [k for k in need if k not in tr]
    if missing:
        raise ValueError(f"lab table: missing column(s) {missing} for a {protocol} replay "
                         f"(expected {LAYOUTS[protocol]})")
    order = np.argsort(tr["episode"], kind="stable")
    tr = {k: v[order] for k, v in tr.items()}
    if protocol == "matching":
        baited = np.ones(len(tr["episode"]), bool)
        if "bait_left" in tr or "baited" in tr:
            baited = np.asarray(tr.get("baited", True), bool)
        return pd.DataFrame({"episode": tr["episode"], "p_left": tr["p_left"], "p_right": tr["p_right"],
                             "baited": baited.astype(int)})
    if four:  # the four options' probabilities, already in the task's frame
        return pd.DataFrame({"episode": tr["episode"], **{k: tr[k] for k in ("p1a", "p1b", "p2a", "p2b")},
                             "common": tr["common"].astype(int)})
    # two-step: which port is state 0 (reached commonly by a left choice)? per subject, from
    # the trials where the port is known
    port = tr.get("port", tr["state"])
    subj = tr.get("subject", np.zeros(len(port)))
    p_state0 = np.empty(len(port))
    for s in np.unique(subj):
        m = subj == s
        ok = m & (port >= 0)
        congruent = np.mean(port[ok] == tr["state"][ok]) >= 0.5 if ok.any() else True
        p_state0[m] = tr["p_left"][m] if congruent else tr["p_right"][m]
    p_state1 = np.where(p_state0 == tr["p_left"], tr["p_right"], tr["p_left"])
    return pd.DataFrame({"episode": tr["episode"], "p1a": p_state0, "p1b": p_state0,
                         "p2a": p_state1, "p2b": p_state1, "common": tr["common"].astype(int)})


def replay(checkpoint, lab: str, out: str, seed: int = 0, mapping=None, progress: bool = False,
           manipulations=None):
    """Run the circuit (checkpoint path or shipped name) on every session of the lab data
    ``lab`` (bundled name or file, see :func:`protocols.labdata.load`), one episode per session;
    records to ``out`` and returns the :class:`Recording`."""
    from protocols import labdata

    from .agent import Circuit, load_checkpoint
    from .run import run

    circuit = checkpoint if isinstance(checkpoint, Circuit) else load_checkpoint(checkpoint)[0]
    protocol = circuit.config.protocol
    table = labdata.load(lab, protocol, mapping=mapping)
    sched = lab_schedule(protocol, table)
    path = os.path.abspath(f"{out}.schedule.csv")  # the recording names it: absolute
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    sched.to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, path)
    n_sessions = int(sched["episode"].nunique())
    overrides = {"schedule": path}
    if protocol == "twostep":
        overrides["trials"] = None  # the sessions' own lengths
    return run(checkpoint, episodes=n_sessions, seed=seed, batch_size=n_sessions, out=out,
               task_overrides=overrides, progress=progress, manipulations=manipulations)
