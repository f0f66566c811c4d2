"""Export a recording to NWB (Neurodata Without Borders) with pynwb — ``pip install pfcda[nwb]``.

Mapping (documented in ``docs/recording-format.md``):

* time base: every agent step lasts ``step_duration`` seconds (the task's ``dt`` where it has
  one, else 0.5 s); the run's
  episodes are laid end to end, so global step k spans [k·dt, (k+1)·dt);
* ``trials``: the recording's trials table, every column kept, with ``start_time`` and
  ``stop_time`` of each trial's first and last step;
* processing module ``pfc``: TimeSeries ``hidden`` (and ``cell``) [steps × units];
* processing module ``dopamine``: TimeSeries ``rpe`` (δ, the model's DA signal) and ``value``;
  for a task with a time base of its own (a ``dt`` option: conditioning) also
  ``photometry_dff``, the simulated photometry (25 Hz) of :mod:`pfcda.dopamine.photometry`;
* processing module ``behavior``: TimeSeries ``action``, ``reward``, ``policy``, ``episode``,
  ``phase``, ``observation``;
* provenance: the file's ``notes`` hold the recording's provenance and attributes as JSON,
  ``source_script`` the code version; the subject is the simulated circuit.

The NWB file is written to a temporary name and renamed on success.
"""
from __future__ import annotations

import datetime
import json
import uuid

import numpy as np

from pfcda.errors import ConfigError

from .atomic import atomic_write, check_outputs
from .recording import read_recording

STEP_DURATION = 0.5  # seconds per agent step


def require_pynwb():
    try:
        import pynwb  # noqa: F401
    except ImportError:
        raise ConfigError("NWB export needs pynwb: pip install 'pfcda[nwb]'") from None


def export_nwb(recording_path: str, nwb_path: str, step_duration: float | None = None,
               overwrite: bool = False) -> str:
    """Write the recording at ``recording_path`` (HDF5) as an NWB file at ``nwb_path``.
    ``step_duration``: seconds per step (default: the task's ``dt`` where it has one, else
    0.5 s). A task with a ``dt`` (a time base of its own, e.g. conditioning) also gets the
    simulated photometry of its RPEs (``dopamine/photometry_dff``)."""
    require_pynwb()
    import h5py
    from hdmf.backends.hdf5 import H5DataIO
    from hdmf.common import VectorData
    from pynwb import NWBFile, TimeSeries
    from pynwb.epoch import TimeIntervals
    from pynwb.file import Subject

    check_outputs([nwb_path], [recording_path], overwrite)
    rec = read_recording(recording_path)
    task_dt = (rec.attrs.get("task") or {}).get("dt")
    if step_duration is None:
        step_duration = float(task_dt) if task_dt else STEP_DURATION
    if not (isinstance(step_duration, (int, float)) and step_duration > 0):
        raise ConfigError(f"step_duration: expected a positive number of seconds, got {step_duration}")
    prov, attrs = rec.provenance, rec.attrs
    created = prov.get("created")
    start = (datetime.datetime.fromisoformat(created) if created
             else datetime.datetime.now(datetime.timezone.utc))
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps([prov, attrs], sort_keys=True, default=str)))
    nwb = NWBFile(
        session_description=f"pfcda simulated recording: protocol {attrs['protocol']}, "
                            f"{attrs['n_episodes']} episodes, weights frozen",
        identifier=ident, session_start_time=start,
        experiment_description="Wang, Kurth-Nelson et al. 2018 (Nat Neurosci 21:860): a PFC "
                               "network trained by DA-gated plasticity, replayed with weights frozen.",
        notes=json.dumps({"provenance": prov, "attributes": attrs,
                          "manipulations": rec.manipulations}, sort_keys=True, default=str),
        source_script=str(prov.get("code_version", "")), source_script_file_name="pfcda",
        session_id=f"seed{prov.get('seed', '')}",
        keywords=["meta-reinforcement learning", "prefrontal cortex", "dopamine", "simulation",
                  str(attrs["protocol"])],
    )
    nwb.subject = Subject(subject_id=f"circuit-{str(prov.get('weight_hash', ''))[:12]}",
                          description=f"simulated {attrs['core']} PFC network of "
                                      f"{attrs['n_units']} units (pfcda); not an animal",
                          age="P0D", sex="U")

    # ---- trials: each trial spans its first step's start to its last step's end
    steps = rec.steps
    n_steps = len(steps["episode"])
    t_step = np.arange(n_steps) * step_duration
    width = int(max(steps["trial"].max(), np.max(rec.trials["trial"], initial=0))) + 1
    key = steps["episode"].astype(np.int64) * width + steps["trial"]
    first = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
    last = np.r_[first[1:] - 1, n_steps - 1]
    n_trials = len(rec.trials["trial"])
    # each trials row spans the steps of its (episode, trial); steps of no row (e.g. after the
    # last reward of an unpredicted-reward episode) belong to no trial
    row_key = np.asarray(rec.trials["episode"]).astype(np.int64) * width + np.asarray(rec.trials["trial"])
    at = np.clip(np.searchsorted(key[first], row_key), 0, len(first) - 1)
    if len(np.unique(key[first])) != len(first) or not np.array_equal(key[first][at], row_key):
        raise ValueError(f"{recording_path}: the trials rows do not match the steps' (episode, trial) runs")
    first, last = first[at], last[at]
    cols = [VectorData(name="start_time", description="start of the trial's first step (s)",
                       data=t_step[first]),
            VectorData(name="stop_time", description="end of the trial's last step (s)",
                       data=t_step[last] + step_duration)]
    for name, data in rec.trials.items():
        cols.append(VectorData(name=name, description=f"pfcda trials column {name!r}", data=data))
    nwb.trials = TimeIntervals(name="trials", description="one row per trial of the simulated run",
                               columns=cols, id=np.arange(n_trials))

    def series(name, data, unit, description, compress=False):
        # an HDF5 dataset is copied with its own chunking and compression (gzip)
        data = H5DataIO(data=data, link_data=False) if compress else data
        return TimeSeries(name=name, data=data, unit=unit, starting_time=0.0,
                          rate=1.0 / step_duration, description=description)

    behavior = nwb.create_processing_module("behavior", "the circuit's actions and outcomes per step")
    behavior.add(series("action", steps["action"], "n.a.",
                        f"action index per step; names {attrs['action_names']}"))
    behavior.add(series("reward", steps["reward"], "reward", "reward received for the action"))
    behavior.add(series("policy", steps["policy"], "probability", "action probabilities π(·|s)"))
    behavior.add(series("episode", steps["episode"], "n.a.", "episode index of each step"))
    behavior.add(series("phase", steps["phase"], "n.a.",
                        f"trial phase code per step; names {attrs['phase_names']}"))
    behavior.add(series("observation", steps["obs"], "n.a.",
                        f"observation channels {attrs['obs_names']}"))
    da = nwb.create_processing_module("dopamine", "the model's dopamine signal")
    da.add(series("rpe", steps["delta"], "reward",
                  f"one-step TD error δ = r + γV' − V (γ = {attrs['gamma']}): the DA signal"))
    da.add(series("value", steps["value"], "reward", "the network's state-value estimate V(s)"))
    if task_dt:
        from pfcda.dopamine import photometry

        kernel = photometry.Kernel()
        dff = photometry.from_rpe(steps["delta"], np.zeros(n_steps, np.int64), np.arange(n_steps),
                                  step_duration, kernel)[0]
        da.add(TimeSeries(name="photometry_dff", data=dff.astype(np.float32), unit="a.u. (δ × gain)",
                          starting_time=0.0, rate=photometry.RATE_HZ,
                          description="simulated fiber photometry (ΔF/F, not in %): the RPEs convolved "
                                      "with the photometry kernel (pfcda.dopamine.photometry), "
                                      f"parameters {json.dumps(kernel.to_dict())}, on the run's time base "
                                      "(episodes end to end)"))

    with h5py.File(recording_path, "r") as src:  # stream unit activity, never all in memory
        pfc = nwb.create_processing_module("pfc", "unit activity of the prefrontal network")
        for name in src["units"]:
            pfc.add(series(name, src["units"][name], "a.u.",
                           f"PFC {name} activity [steps × units]", compress=True))
        write_nwb(nwb, nwb_path, overwrite=overwrite, inputs=[recording_path])
    return nwb_path


def write_nwb(nwb, nwb_path: str, overwrite: bool = False, inputs=()) -> None:
    """Write an NWBFile atomically (:mod:`.atomic`): a crash leaves the complete file (or the
    previous one), never a partial one."""
    import h5py
    from pynwb import NWBHDF5IO

    with atomic_write(nwb_path, overwrite=overwrite, inputs=inputs) as tmp:
        with h5py.File(tmp, "w", locking=False) as f, NWBHDF5IO(file=f, mode="w") as io:
            io.write(nwb)


def validate_nwb(path: str) -> list[str]:
    """Errors from pynwb's schema validator (and nwbinspector's CRITICAL messages, where
    nwbinspector is installed); an empty list means the file validates."""
    require_pynwb()
    from pynwb import validate

    out = validate(path=path)
    errors = [str(e) for e in (out[0] if isinstance(out, tuple) else out)]
    try:
        from nwbinspector import Importance, inspect_nwbfile
    except ImportError:
        return errors
    for msg in inspect_nwbfile(nwbfile_path=path):
        if msg.importance == Importance.CRITICAL or msg.importance.name == "ERROR":
            errors.append(f"nwbinspector: {msg.message} ({msg.location})")
    return errors
