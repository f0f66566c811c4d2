"""Rendering recordings as DA spikes: optogenetic stimulation epochs from a closed-loop run, and
the Bromberg-Martin reversal PSTHs (Wang et al. 2018 Fig. 4a)."""
import numpy as np
import pytest

pytest.importorskip("brian2")

from pfcda.circuit.io.recording import read_recording  # noqa: E402
from pfcda.circuit.io.spikes import read_spikes
from pfcda.circuit.render import render  # noqa: E402
from pfcda.circuit.run import run  # noqa: E402

CHR2 = {"name": "ChR2 at risky loss", "target": "da_neurons", "action": "chr2",
        "event": "risky_unrewarded", "fraction": 0.5}


def test_closed_loop_stimulation_is_rendered_and_recorded(tmp_path):
    """A closed-loop ChR2 run rendered: every lit step gets its 4 light pulses (20 Hz × 5 ms over
    the 175-ms pulse window) in the spikes file, and the rendered DA rates agree with those the
    loop itself simulated (same model, independent noise)."""
    rec = run("stopper", episodes=6, seed=0, manipulations=[CHR2], closed_loop=True,
              out=str(tmp_path / "st.h5"), task_overrides={"p_risky": 0.125})
    render(str(tmp_path / "st.h5"), str(tmp_path / "sp.h5"), population="da")
    sp = read_spikes(str(tmp_path / "sp.h5"))
    lit = np.flatnonzero(rec.steps["manipulation_active"][:, 0])
    assert len(lit) > 10
    assert len(sp["stim/on_s"]) == 4 * len(lit)
    starts = sp["steps/start_s"][lit]
    np.testing.assert_allclose(sp["stim/on_s"][::4], starts)
    np.testing.assert_allclose(sp["stim/off_s"] - sp["stim/on_s"], 0.005)
    assert set(sp["stim/kind"]) == {"chr2"}
    # the rate of a lit pulse is in the row of the δ it carries: step k's pulse carries δ(k−1)
    inner = lit[(lit > 0) & (rec.steps["episode"][lit] == rec.steps["episode"][lit - 1])]
    rendered, looped = sp["da/step_rate_hz"][inner - 1], rec.steps["da_rate_hz"][inner]
    assert abs(rendered.mean() - looped.mean()) < 1.5
    same = rec.steps["episode"][1:] == rec.steps["episode"][:-1]
    assert np.corrcoef(rec.steps["da_rate_hz"][1:][same], sp["da/step_rate_hz"][:-1][same])[0, 1] > 0.9
    # the Stopper DA responses by outcome: a burst for the risky reward (+4), and at the risky
    # losses — a pause without light (≈ 0.9 spikes/s measured) — the ChR2 drive
    from pfcda.protocols.stopper import spike_analyses

    v = {k: x["value"] for k, x in spike_analyses(rec, sp)["stats"].items()}
    assert v["da_rate_risky_rewarded"] > v["da_baseline"] + 8
    assert v["da_rate_risky_unrewarded_lit"] > 2.5
    # stimulation epochs and spikes into NWB (OptogeneticSeries, Units) and back, exactly
    pytest.importorskip("pynwb")
    import os

    os.environ.setdefault("PYNWB_NO_CACHE_DIR", "1")
    from pfcda.circuit.io.nwb_spikes import export_spikes_nwb, read_spikes_nwb

    export_spikes_nwb(str(tmp_path / "sp.h5"), str(tmp_path / "sp.nwb"))
    back = read_spikes_nwb(str(tmp_path / "sp.nwb"))
    for k in ("stim/on_s", "stim/off_s", "da/spike_times_s", "da/spike_neurons"):
        assert np.array_equal(back[k], sp[k]), k
    assert list(back["stim/kind"]) == list(sp["stim/kind"])


@pytest.fixture(scope="module")
def reversal(tmp_path_factory):
    d = tmp_path_factory.mktemp("rev")
    run("reversal", episodes=30, seed=0, out=str(d / "rev.h5"))
    render(str(d / "rev.h5"), str(d / "sp.h5"), population="both", seed=1)
    return read_recording(str(d / "rev.h5")), read_spikes(str(d / "sp.h5"))


def test_bromberg_martin_psth(reversal):
    """DA firing at cue onset (Bromberg-Martin et al. 2010; Fig. 4a): a burst for the rewarded cue
    and a pause for the unrewarded one before the reversal, and — the inference — on the trial
    after a reversal the cue not yet seen since the reversal already evokes the burst or pause
    of its new value. Measured (60 episodes): baseline 3.8, rewarded 8.2 / 7.7 / 8.3 (before,
    experienced, inferred), unrewarded 1.4 / 1.3 / 1.4 spikes/s; monkeys 5; 18 / 22 / 10.5;
    2.5 / 1 / 3."""
    from pfcda.protocols.reversal import spike_analyses

    rec, sp = reversal
    st = spike_analyses(rec, sp)["stats"]
    v = {k: s["value"] for k, s in st.items()}
    assert 3.0 <= v["da_baseline"] <= 5.0
    for c in ("before", "experienced", "inferred"):
        assert v[f"da_rate_{c}_rewarded"] > v["da_baseline"] + 2.5
        assert v[f"da_rate_{c}_unrewarded"] < v["da_baseline"] - 1.5
    assert v["da_inferred_over_experienced"] > 0.6


def test_psth_follows_the_rpe_not_the_cue(reversal):
    """Control for the mechanism: aligned on the same cue onsets, sorting trials by the sign of
    the circuit's δ separates the DA responses; sorting by the cue's side does not."""
    from pfcda.dopamine.spiking import psth
    from pfcda.protocols.reversal import cue_rpe_table

    rec, sp = reversal
    t = cue_rpe_table(rec)
    fix = np.flatnonzero(rec.steps["phase"] == 0)
    onset = sp["steps/start_s"][fix + 1]
    rate = lambda m: psth(sp["da/spike_times_s"], onset[m], 40, (0.0, 0.175), 0.175)["rate"][0]  # noqa: E731
    assert rate(t["delta"] > 0.1) - rate(t["delta"] < -0.1) > 4.0
    cue = np.asarray(rec.trials["cue"])
    assert abs(rate(cue == 0) - rate(cue == 1)) < 1.0


def test_latent_state_decoded_from_pfc_spikes(reversal):
    """Fig. 4c as on electrophysiology: the latent state is read from the PFC units' spike counts
    in the fixation step (measured 0.95 on 60 episodes; from the unit activity itself 0.99);
    shuffling the labels across trials takes it to chance."""
    from pfcda.protocols.reversal import pfc_spike_decoding

    rec, sp = reversal
    assert sp["pfc/n_units"] == 48
    assert pfc_spike_decoding(rec, sp) > 0.85

    class Shuffled:
        steps, units = rec.steps, rec.units
        trials = dict(rec.trials)
    Shuffled.trials["rewarded_cue"] = np.random.default_rng(0).permutation(rec.trials["rewarded_cue"])
    assert pfc_spike_decoding(Shuffled, sp) < 0.65
