"""Pavlovian conditioning against recorded dopamine (Jeong et al. 2022; the bundled CC0
photometry): the loader, the simulated photometry, the frozen circuit's cue responses beside the
mice's, and the mechanism (no DA teaching ⇒ no CS+/CS− difference)."""
import gzip
import json

import numpy as np
import pytest
import torch

from pfcda.circuit.lab.compare import with_ci
from pfcda.dopamine import photometry
from pfcda.errors import ConfigError, LabDataError
from pfcda.protocols.conditioning import lab
from pfcda.protocols.conditioning.task import CUE, OUTCOME, ConditioningTask


@pytest.fixture(scope="module")
def recorded():
    return lab.load("jeong2022")


def test_recorded_cs_plus_response_exceeds_cs_minus(recorded):
    st = lab.stats(recorded)
    # the numbers checked independently (shared/labdata/jeong2022_photometry/README.md)
    assert st["cs_plus_response"] == pytest.approx(3.16, abs=0.01)
    assert st["cs_minus_response"] == pytest.approx(0.16, abs=0.01)
    res, _ = with_ci(recorded, lab.stats, n_boot=200, seed=0)
    assert res["cs_plus_response"]["ci"][0] > res["cs_minus_response"]["ci"][1]
    assert len(np.unique(recorded["episode"])) == 7 and len(recorded["episode"]) == 690


def test_bundled_sets_load_with_their_layouts():
    delay = lab.load("jeong2022_delay")
    assert set(np.unique(delay["cue_s"])) == {2.0, 8.0} and (delay["cs"] == 0).all()
    assert len(delay["episode"]) == 1034 + 1408
    iri = lab.load("jeong2022_iri")
    assert iri["trace"].shape == (580, 112) and (iri["kind"] == 1).all()
    assert np.isfinite(iri["iri_s"]).all() and iri["iri_s"].min() > 0
    # the IRI dependence that Jeong et al. report (a positive correlation) holds in the bundled rewards
    assert lab.stats(iri)["iri_r"] > 0.05


def _write(path, header, rows):
    with gzip.open(path, "wt") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")


@pytest.mark.parametrize("header,rows,message", [
    (["id", "session", "trial", "cs", "photometry.1", "photometry.2"], [[1, 1, 1, 2, 0.1, 0.2]],
     r"column 'cs', row 1: expected 0 \(CS\+\) or 1 \(CS−\), got 2"),
    (["id", "session", "trial", "photometry.1"], [[1, 1, 1, 0.1]], r"missing column\(s\) \['cs'\]"),
    (["id", "session", "trial", "cs", "photometry.1", "photometry.2"], [[1, 1, 1, 0, 0.1, 0.2], [1, 1, 2, 0, "", 0.1]],
     r"column 'photometry', row 2: expected a complete trace"),
    (["id", "session", "trial", "cs"], [[1, 1, 1, 0]], r"no photometry.1 … photometry.N columns"),
    (["id", "session", "trial", "iri", "photometry.1"], [[1, 1, 1, -3, 0.1]], r"column 'iri', row 1"),
])
def test_bad_photometry_files_name_the_column_and_row(tmp_path, header, rows, message):
    p = str(tmp_path / "bad.csv.gz")
    _write(p, header, rows)
    with pytest.raises(LabDataError, match=message):
        lab.load(p)


def test_unknown_bundled_name_lists_the_sets():
    with pytest.raises(LabDataError, match=r"jeong2022_delay"):
        lab.load("jeong2021")


# -- the simulated photometry --------------------------------------------------------------------


def test_kernel_peaks_after_the_burst_and_integrates_the_drive():
    k = photometry.Kernel()
    h = k.impulse_response(25.0, 5.0)
    peak = np.argmax(h) / 25.0
    assert k.latency_s < peak < k.latency_s + k.burst_s + 0.2
    # area: one unit of drive × the clearance time constant (the sensor and burst are normalised)
    assert h.sum() / 25.0 == pytest.approx(k.clearance_s, rel=0.05)
    with pytest.raises(ConfigError, match="clearance_s: expected a positive"):
        photometry.Kernel(clearance_s=0)


def test_rpe_is_emitted_at_the_start_of_the_next_step():
    delta = np.zeros(10)
    delta[3] = 1.0  # δ of step 3 reports the transition into step 4: t = 4 × 0.5 s = 2 s
    trace = photometry.from_rpe(delta, np.zeros(10, int), np.arange(10), 0.5)[0]
    onset = np.flatnonzero(trace > 1e-9)[0] / 25.0
    assert onset == pytest.approx(2.0 + photometry.Kernel().latency_s, abs=0.041)


def test_concentration_route_sees_the_excess_over_tonic():
    conc = np.ones(1000)
    conc[200:220] = 3.0  # a 200-ms release at 2 s
    trace = photometry.from_concentration(conc, 0.01)
    assert abs(trace[:40]).max() < 1e-9 and 2.0 < np.argmax(trace) / 25.0 < 2.4


# -- the task -----------------------------------------------------------------------------------


def test_task_timeline_cue_then_reward_three_seconds_after_onset():
    task = ConditioningTask(mode="cs", p_reward=1.0)
    g = torch.Generator().manual_seed(0)
    obs = task.reset(8, g)
    n_rewards, n_cue = 0, 0
    for _ in range(300):
        t = task.t.clone()
        res = task.step(torch.zeros(8, dtype=torch.long))
        info = res.info
        cue_on = obs.sum(1) > 0
        assert torch.equal(cue_on, info["phase"] == CUE)
        n_cue += int(cue_on.sum())
        got = res.reward > 0
        # every reward: a CS+ trial's outcome step, whose reward arrives (its RPE is emitted)
        # 3 s = 6 steps after cue onset; with p_reward = 1 every CS+ outcome pays
        assert torch.equal(got, (info["phase"] == OUTCOME) & (info["cs"] == 0))
        assert ((t[got] + 1 - info["onset"][got]) * task.dt == 3.0).all()
        n_rewards += int(got.sum())
        obs = res.obs
    assert n_rewards > 20 and n_cue > 100
    assert task.params["cs"].sum(1).tolist() == [15] * 8  # half CS−


@pytest.mark.parametrize("opts,message", [
    ({"mode": "operant"}, r"mode: expected one of"), ({"trials": 7}, r"trials: expected an even integer"),
    ({"cue_s": 1.25}, r"cue_s: expected a multiple of dt"), ({"p_reward": 2}, r"p_reward: expected a probability"),
    ({"iri_range_s": [5]}, r"iri_range_s: expected \[low, high\]"),
])
def test_bad_task_options(opts, message):
    with pytest.raises(ConfigError, match=message):
        ConditioningTask(**opts)


# -- the shipped circuit against the recorded dopamine -------------------------------------------


@pytest.fixture(scope="module")
def shipped_run(tmp_path_factory):
    from pfcda.circuit.io.recording import read_recording
    from pfcda.circuit.run import run

    out = str(tmp_path_factory.mktemp("cond") / "cs.h5")
    run("conditioning", episodes=200, seed=0, out=out)
    return read_recording(out)


def test_simulated_photometry_cs_plus_exceeds_cs_minus_and_is_learnt_within_the_episode(shipped_run):
    from pfcda.protocols.conditioning.analysis import analyze

    st = {k: v["value"] for k, v in analyze(shipped_run)["stats"].items()}
    # the mice: CS+ 3.16 vs CS− 0.16 ΔF/F (ratio 0.05); the circuit's photometry: CS+ well above CS−
    assert st["cs_plus_response"] > 0 and st["cs_minus_over_plus"] < 0.25
    # weights frozen, the CS+ identity new in every episode: on the first CS+ trial the cue's
    # RPE is the prior's, later it is the learnt contingency's
    assert st["cs_plus_rpe_late"] > 0.3 and st["learning_rise"] > 0.1
    assert st["cs_plus_rpe_late"] - st["cs_minus_rpe_late"] > 0.5


def test_simulated_peak_latency_within_the_recorded_interval(shipped_run, recorded):
    from pfcda.protocols.conditioning.analysis import photometry_table

    rec_ci = with_ci(recorded, lab.stats, n_boot=1000, seed=0)[0]["peak_latency_s"]["ci"]
    sim = lab.stats(photometry_table(shipped_run))["peak_latency_s"]
    assert rec_ci[0] <= sim <= rec_ci[1], (sim, rec_ci)


def test_da_teaching_blocked_in_training_leaves_cs_plus_and_cs_minus_alike(tmp_path):
    """The mechanism: the same training with the DA teaching signal silenced — the circuit
    learns nothing, and its cue responses do not tell the CS+ from the CS− (the shipped one's
    late CS+ − CS− RPE difference is ≈ 0.7)."""
    from pfcda import protocols
    from pfcda.circuit.config import TrainConfig
    from pfcda.circuit.io.recording import read_recording
    from pfcda.circuit.run import run
    from pfcda.circuit.train import train
    from pfcda.protocols.conditioning.analysis import analyze

    cfg = dict(protocols.get("conditioning").train_defaults())
    cfg.update(steps=300_000, eval_every=0, seed=0,
               manipulations=[{"target": "da_teaching", "action": "silence", "stage": "train"}])
    circuit = train(TrainConfig.from_dict(cfg), progress=False)
    out = str(tmp_path / "blocked.h5")
    run(circuit, episodes=100, seed=0, out=out)
    st = {k: v["value"] for k, v in analyze(read_recording(out))["stats"].items()}
    assert abs(st["cs_plus_rpe_late"] - st["cs_minus_rpe_late"]) < 0.02
    # the photometry's cue responses alike too (the shipped circuit's differ by ≈ 0.19)
    assert abs(st["cs_plus_response"] - st["cs_minus_response"]) < 0.01, st


def test_compare_with_the_recorded_dopamine_end_to_end(shipped_run, tmp_path):
    from pfcda.circuit.lab.compare import compare_recording

    res = compare_recording("conditioning", shipped_run.path, "jeong2022", n_boot=50, seed=0,
                            figures=str(tmp_path / "figs"))
    assert res["lab"]["cs_plus_response"]["value"] == pytest.approx(3.16, abs=0.01)
    assert res["model"]["cs_plus_response"]["value"] > res["model"]["cs_minus_response"]["value"]
    assert "_tables" not in res and any(p.endswith("conditioning_compare.png") for p in res["figures"])
    json.dumps(res, default=str)


def test_nwb_export_holds_the_simulated_photometry(shipped_run, tmp_path):
    pytest.importorskip("pynwb")
    from pynwb import NWBHDF5IO

    from pfcda.circuit.io.nwb import export_nwb

    path = export_nwb(shipped_run.path, str(tmp_path / "cond.nwb"))
    with NWBHDF5IO(path, "r") as io:
        nwb = io.read()
        ts = nwb.processing["dopamine"]["photometry_dff"]
        assert ts.rate == 25.0 and len(ts.data) >= len(shipped_run.steps["delta"]) * 0.5 * 25 - 1
        assert nwb.processing["dopamine"]["rpe"].rate == 2.0  # the task's 0.5-s steps
        assert len(nwb.trials) == len(shipped_run.trials["trial"])


def test_spiking_route_gives_the_same_cue_ordering(shipped_run, tmp_path):
    """The second route: the recording rendered by the spiking DA population (brian2), its
    dopamine concentration seen through the sensor."""
    from pfcda.circuit.io.recording import read_recording
    from pfcda.circuit.io.spikes import read_spikes
    from pfcda.circuit.render import render
    from pfcda.circuit.run import run
    from pfcda.protocols.conditioning.analysis import spike_analyses

    small = str(tmp_path / "small.h5")
    run("conditioning", episodes=6, seed=0, out=small)
    render(small, str(tmp_path / "s.h5"), population="da", seed=0)
    st = spike_analyses(read_recording(small), read_spikes(str(tmp_path / "s.h5")))["stats"]
    assert st["spiking_cs_plus_response"]["value"] > 0 > st["spiking_cs_minus_response"]["value"]


def test_compare_of_cue_trials_with_the_reward_data_says_what_to_run(shipped_run):
    from pfcda.circuit.lab.compare import compare_recording

    with pytest.raises(ConfigError, match=r"share no statistic.*--task mode=random"):
        compare_recording("conditioning", shipped_run.path, "jeong2022_iri", n_boot=5)
