"""Spikes file → NWB (circuit.nwb_spikes): exact round trip of spikes and light pulses, schema
validation, atomic write, clear errors."""
import json
import os

import numpy as np
import pytest

os.environ.setdefault("PYNWB_NO_CACHE_DIR", "1")
pytest.importorskip("pynwb", reason="NWB export needs pynwb (pip install 'pfcda[nwb]')")
h5py = pytest.importorskip("h5py")

from pfcda.circuit.io.nwb import validate_nwb  # noqa: E402
from pfcda.circuit.io.nwb_spikes import export_spikes_nwb, read_spikes_nwb  # noqa: E402

SPIKE_KEYS = ("da/spike_times_s", "da/spike_neurons", "pfc/spike_times_s", "pfc/spike_units")
STIM_KEYS = ("stim/on_s", "stim/off_s")
OPTO = [{"kind": "chr2", "amplitude_mV": 30.0, "expression": 1.0, "frequency_hz": 20.0,
         "width_ms": 5.0, "duration_ms": 175.0, "onset_ms": 0.0},
        {"kind": "archt", "amplitude_mV": 30.0, "expression": 0.5, "frequency_hz": 0.0,
         "width_ms": 5.0, "duration_ms": 100.0, "onset_ms": 50.0}]


def _canonical(times, units):
    order = np.lexsort((units, times))
    return np.asarray(times)[order], np.asarray(units)[order]


def _kinds(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def write_spikes(path, seed=0, n_da=12, n_pfc=7, stim=True, population="both"):
    """A spikes file in the format of circuit.spikes.render (plus the stim group), with random
    full-precision float64 spike times; DA neuron 3 never fires."""
    rng = np.random.default_rng(seed)
    n_steps = 20
    data = {"steps/start_s": np.arange(n_steps) * 0.5 + np.r_[np.zeros(10), np.ones(10)]}
    if population in ("da", "both"):
        t = rng.uniform(0, 11.0, 300)
        n = rng.integers(0, n_da, 300).astype(np.int32)
        n[n == 3] = 4
        t, n = _canonical(t, n)
        data.update({"da/spike_times_s": t, "da/spike_neurons": n,
                     "da/step_rate_hz": rng.uniform(0, 30, n_steps),
                     "da/concentration_10ms": 1 + rng.normal(0, 0.1, 1100)})
    if population in ("pfc", "both"):
        t = rng.uniform(0, 11.0, 200)
        u = rng.integers(0, n_pfc, 200).astype(np.int32)
        t, u = _canonical(t, u)
        data.update({"pfc/spike_times_s": t, "pfc/spike_units": u})
    with h5py.File(path, "w") as f:
        f.attrs.update({"format": "pfcda-spikes", "version": 1, "recording": "/x/run.h5",
                        "recording_sha256": "ab" * 32, "seed": seed, "target": "numpy",
                        "population": population,
                        "params": json.dumps({"da": {"n_neurons": n_da, "step_ms": 500.0},
                                              "pfc_rate_hz": [1.0, 40.0], "gap_steps": 2})})
        for k, v in data.items():
            f.create_dataset(k, data=v, compression="gzip")
        if stim:
            # chr2 pulses then an archt pulse at an earlier time: not sorted by time
            on = np.r_[1.0 + np.arange(4) * 0.05, 0.25] + rng.uniform(0, 1e-3, 5)
            off = on + np.r_[np.full(4, 0.005), 0.1]
            g = f.create_group("stim")
            g.create_dataset("on_s", data=on)
            g.create_dataset("off_s", data=off)
            g.create_dataset("kind", data=["chr2"] * 4 + ["archt"], dtype=h5py.string_dtype())
            g.attrs["opto"] = json.dumps(OPTO)
    return data


def _assert_round_trip(spikes_path, back):
    from pfcda.circuit.io.spikes import read_spikes

    orig = read_spikes(spikes_path)
    for tk, uk in (SPIKE_KEYS[:2], SPIKE_KEYS[2:]):
        if tk not in orig:
            assert tk not in back
            continue
        t0, u0 = _canonical(orig[tk], orig[uk])
        assert back[tk].dtype == np.float64 and np.array_equal(back[tk], t0), tk
        assert np.array_equal(back[uk], u0), uk
    for k in ("steps/start_s", "da/step_rate_hz", "da/concentration_10ms") + STIM_KEYS:
        if k in orig:
            assert back[k].dtype == np.float64 and np.array_equal(back[k], orig[k]), k
    if "stim/kind" in orig:
        assert _kinds(back["stim/kind"]) == _kinds(orig["stim/kind"])
    for k in ("format", "version", "recording", "recording_sha256", "seed", "target",
              "population", "params"):
        assert back[k] == orig[k], k


def test_synthetic_spikes_round_trip_exactly_and_validate(tmp_path):
    from pynwb import NWBHDF5IO

    src, dst = tmp_path / "s.h5", tmp_path / "s.nwb"
    write_spikes(src)
    assert export_spikes_nwb(str(src), str(dst)) == str(dst)
    back = read_spikes_nwb(str(dst))
    _assert_round_trip(str(src), back)
    assert validate_nwb(str(dst)) == []
    with NWBHDF5IO(str(dst), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        assert list(units["population"]) == ["da"] * 12 + ["pfc"] * 7
        assert list(units["unit_index"]) == list(range(12)) + list(range(7))
        assert len(units["spike_times"].iloc[3]) == 0  # the silent DA neuron keeps its row
        sites = nwb.ogen_sites
        assert sites["chr2_site"].excitation_lambda == 473.0
        assert sites["archt_site"].excitation_lambda == 532.0
        assert sites["chr2_site"].location == "VTA/SNc DA population (simulated)"
        light = nwb.stimulus["optogenetic_chr2"]
        assert set(np.asarray(light.data[:])) == {0.0, 0.01} and len(light.timestamps) == 8
        conc = nwb.processing["dopamine"]["concentration"]
        assert conc.rate == 100.0
    # deterministic identifier
    export_spikes_nwb(str(src), str(tmp_path / "again.nwb"))
    with NWBHDF5IO(str(dst), "r") as a, NWBHDF5IO(str(tmp_path / "again.nwb"), "r") as b:
        assert a.read().identifier == b.read().identifier


def test_one_population_and_no_stim(tmp_path):
    src, dst = tmp_path / "p.h5", tmp_path / "p.nwb"
    write_spikes(src, seed=3, stim=False, population="pfc")
    back = read_spikes_nwb(str(export_spikes_nwb(str(src), str(dst))))
    _assert_round_trip(str(src), back)
    assert "da/spike_times_s" not in back and "stim/on_s" not in back
    assert validate_nwb(str(dst)) == []


def test_a_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    from pynwb import NWBHDF5IO

    src, dst = tmp_path / "s.h5", tmp_path / "s.nwb"
    write_spikes(src)

    def boom(self, *a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(NWBHDF5IO, "write", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        export_spikes_nwb(str(src), str(dst))
    assert os.listdir(tmp_path) == ["s.h5"]
    dst.write_bytes(b"the old file")
    with pytest.raises(RuntimeError, match="disk full"):
        export_spikes_nwb(str(src), str(dst), overwrite=True)
    assert dst.read_bytes() == b"the old file"
    assert sorted(os.listdir(tmp_path)) == ["s.h5", "s.nwb"]


def test_not_a_spikes_file_is_a_clear_error(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "pfcda-recording"
    with pytest.raises(ValueError, match="other.h5.*not a pfcda spikes file"):
        export_spikes_nwb(str(other), str(tmp_path / "o.nwb"))
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match="text.h5.*not a readable HDF5 file"):
        export_spikes_nwb(str(text), str(tmp_path / "t.nwb"))
    assert not (tmp_path / "o.nwb").exists() and not (tmp_path / "t.nwb").exists()


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    from pfcda.circuit.run import run

    path = tmp_path_factory.mktemp("rec") / "h.h5"
    run("harlow", episodes=1, seed=0, out=str(path))
    return str(path)


@pytest.mark.parametrize("population", [
    "pfc",  # numpy only: fast
    pytest.param("both", marks=pytest.mark.slow),  # brian2 DA population: ≈ 10 s codegen
])
def test_a_rendered_recording_round_trips_exactly(tmp_path, recording, population):
    if population != "pfc":
        pytest.importorskip("brian2", reason="rendering DA spikes needs brian2")
    from pfcda.circuit.render import render

    render(recording, str(tmp_path / "s.h5"), population=population, seed=1)
    export_spikes_nwb(str(tmp_path / "s.h5"), str(tmp_path / "s.nwb"))
    back = read_spikes_nwb(str(tmp_path / "s.nwb"))
    _assert_round_trip(str(tmp_path / "s.h5"), back)
    assert len(back["pfc/spike_times_s"]) > 0
    assert population == "pfc" or len(back["da/spike_times_s"]) > 0
    assert validate_nwb(str(tmp_path / "s.nwb")) == []


def test_cli_spikes_writes_the_nwb_too(tmp_path, recording, capsys):
    from pfcda.circuit.cli import main

    out, nwb = tmp_path / "s.h5", tmp_path / "s.nwb"
    assert main(["spikes", recording, "--out", str(out), "--population", "pfc",
                 "--nwb", str(nwb)]) == 0
    assert str(nwb) in capsys.readouterr().out.splitlines()
    _assert_round_trip(str(out), read_spikes_nwb(str(nwb)))
