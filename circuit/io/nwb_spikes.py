"""Export a spikes file (``pfcda spikes``, :func:`pfcda.circuit.render.render`) to NWB with pynwb —
``pip install pfcda[nwb]`` — and read it back.

Mapping (documented in ``docs/recording-format.md``, "Spikes in NWB"):

* ``units`` (the file's one Units table): every DA neuron and every PFC unit, one row each,
  DA first (``population`` = "da", ``unit_index`` 0..n_neurons−1, n_neurons from the params),
  then PFC (``population`` = "pfc", ``unit_index`` 0..n_units−1; n_units from a ``pfc`` group
  attribute ``n_units`` where present, else the largest index that fired + 1). Spike times are
  float64, exactly those of the spikes file, ascending within a unit; a unit without spikes
  keeps its row (an empty spike train). One table with a population column rather than a
  second Units table in a processing module: ``nwbfile.units`` is where NWB tools (nwbwidgets,
  spikeinterface, DANDI) look for units, and it validates with pynwb and nwbinspector;
* ``intervals/agent_steps`` (TimeIntervals): one row per recorded agent step,
  ``start_time`` = ``steps/start_s``, ``stop_time`` = start + ``step_ms``, column ``step``;
* processing module ``dopamine``: TimeSeries ``concentration`` (``da/concentration_10ms``,
  starting_time 0, rate 100 Hz, 1 = tonic) and ``step_rate`` (``da/step_rate_hz``, timestamps
  ``steps/start_s``);
* optogenetics (when the spikes file has ``stim/``): a Device ``simulated_laser``, one
  OptogeneticStimulusSite per opsin kind present (``<kind>_site``, location "VTA/SNc DA
  population (simulated)", excitation_lambda 473 nm ChR2, 532 nm ArchT, 589 nm NpHR) and one
  OptogeneticSeries per kind in ``stimulus/`` (``optogenetic_<kind>``): timestamps at every
  on and off edge of that kind's pulses, data the light power in watts — a nominal 0.01 W while
  on, 0 while off (the model's light is a current of ``amplitude_mV``, not a power); the
  TimeIntervals ``optogenetic_epochs`` holds every pulse (``start_time`` = ``stim/on_s``,
  ``stop_time`` = ``stim/off_s``, ``kind``, ``pulse_index`` = its row in the spikes file), rows
  sorted by time, so that the pulses round-trip exactly and in their original order;
* session: ``identifier`` a uuid5 of the spikes file's attributes (and the ``stim`` opto
  attribute), ``session_start_time`` a fixed placeholder (2000-01-01 UTC: a simulation has no
  date; all times are relative to it), ``notes`` the spikes file's attributes as JSON.

The NWB file is written to a temporary name beside the target and renamed on success: a failure
leaves no partial file and an existing target untouched.
"""
from __future__ import annotations

import datetime
import json
import uuid

import numpy as np

from pfcda.errors import RecordingError

from .atomic import check_outputs
from .nwb import require_pynwb, write_nwb
from .spikes import Spikes, read_spikes

SESSION_START = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
EXCITATION_NM = {"chr2": 473.0, "archt": 532.0, "nphr": 589.0}
LIGHT_POWER_W = 0.01  # nominal light power while a pulse is on
LOCATION = "VTA/SNc DA population (simulated)"


def _str(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _canonical(times, units):
    """Spikes sorted by time, then unit (the spikes file's order)."""
    order = np.lexsort((units, times))
    return times[order], units[order]


def export_spikes_nwb(spikes_path: str, nwb_path: str, overwrite: bool = False) -> str:
    """Write the spikes file at ``spikes_path`` as an NWB file at ``nwb_path``; returns it."""
    require_pynwb()
    from hdmf.backends.hdf5 import H5DataIO
    from hdmf.common import VectorData, VectorIndex
    from pynwb import NWBFile, TimeSeries
    from pynwb.epoch import TimeIntervals
    from pynwb.file import Subject
    from pynwb.misc import Units
    from pynwb.ogen import OptogeneticSeries, OptogeneticStimulusSite

    check_outputs([nwb_path], [spikes_path], overwrite)
    src = read_spikes(spikes_path)
    attrs, data = src.attrs, src.data
    try:
        opto = src.opto
        params = src.params
    except (TypeError, ValueError):
        raise RecordingError(f"{spikes_path}: the params or stim/opto attribute is not JSON") from None
    da_params = params.get("da", {}) if isinstance(params, dict) else {}
    step_s = float(da_params.get("step_ms", 500.0)) / 1000.0

    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, "pfcda-spikes:" + json.dumps(
        {"attributes": attrs, "stim_opto": opto}, sort_keys=True, default=str)))
    population = attrs.get("population", "both")
    nwb = NWBFile(
        session_description=f"pfcda spikes rendered from a simulated recording "
                            f"(population {population}, seed {attrs.get('seed')})",
        identifier=ident, session_start_time=SESSION_START,
        experiment_description="Wang, Kurth-Nelson et al. 2018 (Nat Neurosci 21:860): a PFC "
                               "network and its dopamine RPE, rendered as spikes (a spiking DA "
                               "population and PFC Poisson spike trains).",
        notes=json.dumps({"attributes": attrs, "stim_opto": opto}, sort_keys=True, default=str),
        source_script_file_name="pfcda", source_script="pfcda.circuit.render.render",
        session_id=f"seed{attrs.get('seed', '')}",
        keywords=["meta-reinforcement learning", "prefrontal cortex", "dopamine", "simulation",
                  "spikes"],
    )
    nwb.subject = Subject(subject_id=f"circuit-{str(attrs.get('recording_sha256', ''))[:12]}",
                          description="simulated PFC network and spiking DA population "
                                      "(pfcda); not an animal", age="P0D", sex="U")

    # ---- units: DA neurons then PFC units, one row each, spike times ascending within a unit
    trains, pops, idx = [], [], []
    for pop, tkey, ukey, n_key in (("da", "da/spike_times_s", "da/spike_neurons", "n_neurons"),
                                   ("pfc", "pfc/spike_times_s", "pfc/spike_units", "n_units")):
        if tkey not in data:
            continue
        times = np.asarray(data[tkey], dtype=np.float64)
        who = np.asarray(data[ukey], dtype=np.int64)
        if times.shape != who.shape or times.ndim != 1:
            raise RecordingError(f"{spikes_path}: {tkey} and {ukey} differ in shape")
        if who.size and who.min() < 0:
            raise RecordingError(f"{spikes_path}: negative index in {ukey}")
        # population size: a group attribute n_neurons / n_units, else the params (da →
        # n_neurons), else the largest index seen + 1 (a PFC unit that never fired and has a
        # higher index than every unit that did cannot be known then)
        declared = src.groups.get(pop, {}).get(n_key)
        if declared is None and pop == "da":
            declared = da_params.get("n_neurons")
        n = max(int(declared) if declared is not None else 0, int(who.max()) + 1 if who.size else 0)
        order = np.lexsort((times, who))  # by unit, then time
        times, who = times[order], who[order]
        bounds = np.searchsorted(who, np.arange(n + 1))
        trains += [times[bounds[k]:bounds[k + 1]] for k in range(n)]
        pops += [pop] * n
        idx += list(range(n))
    # resolution: DA spikes fall on the brian2 clock (dt_ms); PFC spikes are in continuous time
    res = [float(da_params.get("dt_ms", 0.5)) / 1000.0 for p in set(pops) if p == "da"]
    counts = np.array([len(t) for t in trains], dtype=np.int64)
    spike_times = VectorData(name="spike_times", description="spike times (s) from session start",
                             data=H5DataIO(np.concatenate(trains) if trains
                                           else np.zeros(0, np.float64), compression="gzip"))
    nwb.units = Units(
        name="units", id=np.arange(len(trains)), resolution=min(res) if res else None,
        description="DA neurons (population 'da', the brian2 population) and PFC units "
                    "(population 'pfc', Poisson trains from unit activity); unit_index is the "
                    "index within the population",
        columns=[spike_times,
                 VectorIndex(name="spike_times_index", target=spike_times,
                             data=np.cumsum(counts).astype(np.uint64)),
                 VectorData(name="population", description="'da' or 'pfc'", data=pops),
                 VectorData(name="unit_index", description="index within the population "
                            "(da: spike_neurons, pfc: spike_units)",
                            data=np.asarray(idx, dtype=np.int32))])

    # ---- agent steps
    starts = np.asarray(data["steps/start_s"], dtype=np.float64)
    nwb.add_time_intervals(TimeIntervals(
        name="agent_steps", id=np.arange(len(starts)),
        description=f"one row per recorded agent step (each lasts {step_s} s; the gap steps "
                    "between episodes have no row)",
        columns=[VectorData(name="start_time", description="step start (s)", data=starts),
                 VectorData(name="stop_time", description="step end (s)", data=starts + step_s),
                 VectorData(name="step", description="index of the recorded step",
                            data=np.arange(len(starts), dtype=np.int64))]))

    # ---- dopamine
    if "da/concentration_10ms" in data or "da/step_rate_hz" in data:
        mod = nwb.create_processing_module("dopamine", "the spiking DA population's signals")
        if "da/concentration_10ms" in data:
            mod.add(TimeSeries(name="concentration",
                               data=H5DataIO(np.asarray(data["da/concentration_10ms"],
                                                        dtype=np.float64), compression="gzip"),
                               unit="fold tonic", starting_time=0.0, rate=100.0,
                               description="DA concentration at the target, mean of each 10-ms "
                                           "bin (1 = tonic)"))
        if "da/step_rate_hz" in data:
            mod.add(TimeSeries(name="step_rate",
                               data=np.asarray(data["da/step_rate_hz"], dtype=np.float64),
                               unit="Hz", timestamps=starts,
                               description="DA population rate in each agent step's RPE pulse "
                                           "window; timestamps are the steps' starts"))

    # ---- optogenetics
    if "stim/on_s" in data and np.size(data["stim/on_s"]):  # no pulses: notes' stim_opto only
        on = np.asarray(data["stim/on_s"], dtype=np.float64).reshape(-1)
        off = np.asarray(data["stim/off_s"], dtype=np.float64).reshape(-1)
        kind = np.array([_str(k) for k in np.asarray(data["stim/kind"]).reshape(-1)], dtype=object)
        if not (on.shape == off.shape == kind.shape):
            raise RecordingError(f"{spikes_path}: stim/on_s, stim/off_s and stim/kind differ in length")
        if np.any(off < on) or not np.all(np.isfinite(np.r_[on, off])):
            raise RecordingError(f"{spikes_path}: every stim pulse needs finite on_s ≤ off_s")
        bad = sorted(set(kind) - set(EXCITATION_NM))
        if bad:
            raise RecordingError(f"{spikes_path}: stim/kind {bad[0]!r} is not chr2, archt or nphr")
        laser = nwb.create_device(name="simulated_laser",
                                  description="a simulated laser (pfcda): the light is a current "
                                              "on the expressing DA neurons, no physical device")
        opto_list = opto if isinstance(opto, list) else []
        for k in sorted(set(kind)):
            entries = [o for o in opto_list if isinstance(o, dict) and o.get("kind") == k]
            site = OptogeneticStimulusSite(
                name=f"{k}_site", device=laser, location=LOCATION,
                excitation_lambda=EXCITATION_NM[k],
                description=f"{k} in the simulated DA population; settings (JSON): "
                            f"{json.dumps(entries, sort_keys=True)}")
            nwb.add_ogen_site(site)
            mine = kind == k
            edges = np.unique(np.r_[on[mine], off[mine]])
            # pulses lit just after each edge: those switched on minus those switched off by then
            lit = (np.searchsorted(np.sort(on[mine]), edges, "right")
                   - np.searchsorted(np.sort(off[mine]), edges, "right")) > 0
            nwb.add_stimulus(OptogeneticSeries(
                name=f"optogenetic_{k}", site=site, timestamps=edges,
                data=np.where(lit, LIGHT_POWER_W, 0.0),
                description=f"{k} light at each pulse edge: a nominal {LIGHT_POWER_W} W while "
                            "on, 0 while off (the model drives a current, not a power); exact "
                            "pulses in intervals/optogenetic_epochs"))
        order = np.lexsort((kind.astype(str), off, on))
        nwb.add_time_intervals(TimeIntervals(
            name="optogenetic_epochs", id=np.arange(len(on)),
            description="every light pulse of the simulated optogenetic stimulation, sorted by "
                        "time; pulse_index is its row in the spikes file's stim/ datasets",
            columns=[VectorData(name="start_time", description="light on (s)", data=on[order]),
                     VectorData(name="stop_time", description="light off (s)", data=off[order]),
                     VectorData(name="kind", description="opsin: chr2, archt or nphr",
                                data=np.array([str(x) for x in kind[order]], dtype="U")),
                     VectorData(name="pulse_index", description="row in stim/on_s, stim/off_s",
                                data=order.astype(np.int64))]))

    write_nwb(nwb, nwb_path, overwrite=overwrite, inputs=[spikes_path])
    return nwb_path


def read_spikes_nwb(nwb_path: str) -> dict:
    """An NWB file written by :func:`export_spikes_nwb` → the :class:`~.spikes.Spikes` it came
    from: the attributes (from ``notes``),
    ``steps/start_s``, ``da/*`` and ``pfc/*`` spikes sorted by time then unit (indices int32),
    ``da/step_rate_hz``, ``da/concentration_10ms`` and ``stim/on_s``, ``stim/off_s``,
    ``stim/kind`` (str) in the spikes file's row order."""
    require_pynwb()
    from pynwb import NWBHDF5IO

    out: dict = {}
    with NWBHDF5IO(nwb_path, "r") as io:
        nwb = io.read()
        try:
            notes = json.loads(nwb.notes or "")
            out.update(notes["attributes"])
        except (TypeError, ValueError, KeyError):
            raise RecordingError(f"{nwb_path}: not an NWB file written by export_spikes_nwb") from None
        if "agent_steps" not in nwb.intervals:
            raise RecordingError(f"{nwb_path}: not an NWB file written by export_spikes_nwb")
        out["steps/start_s"] = np.asarray(nwb.intervals["agent_steps"]["start_time"].data[:],
                                          dtype=np.float64)
        units = nwb.units
        if units is not None and len(units) > 0:
            st = units["spike_times"]  # the ragged column: flat times + cumulative ends
            flat = np.asarray(st.target.data[:], dtype=np.float64)
            ends = np.asarray(st.data[:], dtype=np.int64)
            pops = np.array([_str(p) for p in units["population"].data[:]])
            idx = np.asarray(units["unit_index"].data[:], dtype=np.int32)
        else:
            flat, ends, pops, idx = (np.zeros(0, np.float64), np.zeros(0, np.int64),
                                     np.zeros(0, str), np.zeros(0, np.int32))
        row_of_spike = np.repeat(np.arange(len(ends)), np.diff(np.r_[0, ends]))
        for pop, tkey, ukey in (("da", "da/spike_times_s", "da/spike_neurons"),
                                ("pfc", "pfc/spike_times_s", "pfc/spike_units")):
            if not (pops == pop).any() and out.get("population") not in (pop, "both"):
                continue
            sel = pops[row_of_spike] == pop
            out[tkey], out[ukey] = _canonical(flat[sel], idx[row_of_spike[sel]])
        if "dopamine" in nwb.processing:
            mod = nwb.processing["dopamine"]
            if "concentration" in mod.data_interfaces:
                out["da/concentration_10ms"] = np.asarray(mod["concentration"].data[:], np.float64)
            if "step_rate" in mod.data_interfaces:
                out["da/step_rate_hz"] = np.asarray(mod["step_rate"].data[:], np.float64)
        if "optogenetic_epochs" in nwb.intervals:
            ep = nwb.intervals["optogenetic_epochs"]
            pulse = np.asarray(ep["pulse_index"].data[:], dtype=np.int64)
            back = np.empty(len(pulse), dtype=np.int64)
            back[pulse] = np.arange(len(pulse))
            out["stim/on_s"] = np.asarray(ep["start_time"].data[:], np.float64)[back]
            out["stim/off_s"] = np.asarray(ep["stop_time"].data[:], np.float64)[back]
            out["stim/kind"] = np.array([_str(k) for k in ep["kind"].data[:]], dtype=object)[back]
        elif notes.get("stim_opto") is not None:  # a stim group without pulses
            out.update({"stim/on_s": np.zeros(0), "stim/off_s": np.zeros(0),
                        "stim/kind": np.zeros(0, dtype=object)})
    attrs = dict(notes["attributes"])
    data = {k: v for k, v in out.items() if k not in attrs}
    groups = {"stim": {"opto": json.dumps(notes["stim_opto"])}} if notes.get("stim_opto") is not None else {}
    return Spikes(attrs, data, groups)
