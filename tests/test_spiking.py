"""The spiking DA population (brian2, numpy target): tonic firing, bursts and pauses with the
RPE, the concentration trace, and decoding the RPE back from population firing."""
import numpy as np
import pytest

pytest.importorskip("brian2", reason="the spiking DA population needs brian2 (pip install brian2)")

from pfcda.dopamine.spiking import DAParams, Light, calibrate, concentration, simulate_episodes, tonic_rate  # noqa: E402


def session(deltas, seed, **kw):
    """One rendered episode (the product path: simulate_episodes) → its result."""
    return simulate_episodes(np.asarray(deltas, float)[None, :], seed=seed, **kw)


@pytest.fixture(scope="module")
def fi():
    return calibrate(grid=(-1.0, -0.5, 0.0, 0.5, 1.0), repeats=6, seed=1)


def test_tonic_burst_and_pause(fi):
    rates = dict(zip(fi.deltas, fi.rates_hz))
    assert 3.0 <= rates[0.0] <= 5.0  # tonic ≈ 4 Hz (Bayer & Glimcher 2005)
    assert rates[1.0] >= 15.0  # burst for δ = +1
    assert rates[-1.0] <= 1.0  # pause for δ = −1 (bounded by zero: asymmetric)
    assert rates[1.0] - rates[0.0] > 3 * (rates[0.0] - rates[-1.0])


def test_decoded_rpe_tracks_positive_delta(fi):
    rng = np.random.default_rng(0)
    deltas = rng.uniform(0.0, 1.0, 30)
    res = session(deltas, seed=2)
    decoded = fi.decode(res["step_rate_hz"][0])
    assert np.corrcoef(decoded, deltas)[0, 1] >= 0.9


def test_concentration_rises_with_a_burst_and_spikes_are_well_formed():
    p = DAParams()
    res = session([0.0, 0.0, 1.0, 0.0, -1.0, 0.0], seed=3)
    c = concentration(res["rate_10ms"][0] / tonic_rate(res["rate_10ms"], [6], p), p)
    assert len(c) == 6 * int(p.step_ms) // 10
    at = lambda step, ms: c[int((step * p.step_ms + ms) // 10)]  # noqa: E731
    assert at(2, 175) > 1.5 * at(1, 400)  # burst raises DA above tonic
    assert at(4, 175) < at(3, 400)  # pause lowers it
    assert np.all(np.diff(res["spike_times_s"]) >= 0)
    assert res["spike_neurons"].min() >= 0 and res["spike_neurons"].max() < p.n_neurons
    with pytest.raises(ValueError, match="deltas"):
        session([np.nan], seed=0)


def test_optogenetics_lesions_and_d1_blockade():
    n = DAParams().n_neurons
    everyone = np.ones(n, bool)
    zeros = np.zeros(8)
    lit = np.zeros((1, 8), bool)
    lit[0, [2, 5]] = True
    base = session(zeros, seed=4)["step_rate_hz"][0]
    chr2 = session(zeros, seed=4, light=[(Light("chr2", 30.0, 20.0, 5.0, everyone), lit)])["step_rate_hz"][0]
    assert chr2[[2, 5]].mean() > 3 * max(base[[2, 5]].mean(), 1.0)
    odd = np.zeros((1, 8), bool)
    odd[0, 1::2] = True
    arch = session(np.ones(8), seed=4, light=[(Light("archt", 30.0, 0.0, 5.0, everyone), odd)])["step_rate_hz"][0]
    burst = session(np.ones(8), seed=4)["step_rate_hz"][0]
    assert arch[1::2].mean() < 0.3 * burst[1::2].mean()
    alive = np.r_[np.ones(n // 2), np.zeros(n - n // 2)]
    half = session(zeros, seed=4, alive=alive)
    full = session(zeros, seed=4)
    assert len(half["spike_times_s"]) < 0.7 * len(full["spike_times_s"])
    assert set(np.unique(half["spike_neurons"])) <= set(range(n // 2))
    flat = session([0, 1, 0], seed=5)
    p = DAParams()
    rel = flat["rate_10ms"][0] / tonic_rate(flat["rate_10ms"], [3], p)
    assert np.allclose(concentration(rel, p, d1_gain=np.zeros(len(rel))), 1.0)  # full D1 block
    with pytest.raises(ValueError, match="light kind"):
        Light("laser", 30.0, 20.0, 5.0, everyone)


def test_render_a_recording_round_trips_exactly(tmp_path):
    from pfcda.circuit.io.spikes import read_spikes
    from pfcda.circuit.render import render
    from pfcda.circuit.run import run

    run("harlow", episodes=2, seed=0, out=str(tmp_path / "h.h5"))
    res = render(str(tmp_path / "h.h5"), str(tmp_path / "s.h5"), seed=1)["spikes"]
    back = read_spikes(str(tmp_path / "s.h5"))
    for k in ("steps/start_s", "da/spike_times_s", "da/spike_neurons", "da/step_rate_hz",
              "pfc/spike_times_s", "pfc/spike_units"):
        assert np.array_equal(back[k], res[k]), k
    assert len(back["steps/start_s"]) == 36  # 2 episodes × 6 trials × 3 steps
    assert back["steps/start_s"][18] == pytest.approx((18 + 2) * 0.5)  # a 2-step gap between episodes
    assert len(back["da/spike_times_s"]) > 0 and back["pfc/spike_units"].max() < 128


def test_psth_shows_burst_and_pause_aligned_to_the_rpe():
    from pfcda.dopamine.spiking import psth

    p = DAParams()
    deltas = np.tile([0.0, 1.0, 0.0, -1.0], 6)
    res = session(deltas, seed=6)
    onsets = np.arange(len(deltas)) * p.step_ms / 1000.0 + p.pulse_onset_ms / 1000.0
    pos = psth(res["spike_times_s"], onsets[deltas > 0], p.n_neurons, window_s=(-0.2, 0.4), bin_s=0.05)
    neg = psth(res["spike_times_s"], onsets[deltas < 0], p.n_neurons, window_s=(-0.2, 0.4), bin_s=0.05)
    after = (pos["t_s"] > 0) & (pos["t_s"] < 0.175)
    before = pos["t_s"] < 0
    assert pos["rate"][after].mean() > 3 * pos["rate"][before].mean()  # burst: ≈ 20 vs ≈ 4 Hz
    assert neg["rate"][after].mean() < 0.5 * neg["rate"][before].mean()  # pause


@pytest.mark.parametrize("target", ["numpy", "cpp_standalone"])
def test_episodes_rendered_in_parallel_keep_the_transfer_function(target, tmp_path):
    """Each episode drives its own copy of the population (one simulation of episodes × neurons):
    per episode, tonic 3–5 Hz, bursts ≥ 15 Hz for δ = +1 and pauses ≤ 1 Hz for δ = −1, spikes
    only within the episode's own length. cpp_standalone needs a C++ compiler."""
    import shutil

    from pfcda.dopamine.spiking import simulate_episodes

    if target == "cpp_standalone" and shutil.which("g++") is None:
        pytest.skip("cpp_standalone needs a C++ compiler (g++), absent here")
    deltas = np.zeros((12, 6))
    deltas[:, 1], deltas[:, 3] = 1.0, -1.0
    lengths = np.array([6] * 11 + [3])
    import os

    env = dict(os.environ)
    r = simulate_episodes(deltas, lengths, seed=2, target=target, directory=str(tmp_path / "sa"))
    # brian2's standalone run sets LD_BIND_NOW=1 in os.environ; left there it broke every later
    # child process that loads plugins lazily (SLURM's sinfo in the sweep tests)
    assert dict(os.environ) == env
    if target == "cpp_standalone":  # the build is cached per model structure and re-run

        os.environ["PFCDA_CACHE_DIR"] = str(tmp_path / "cache")
        try:
            r = simulate_episodes(deltas, lengths, seed=2, target=target)
            again = simulate_episodes(deltas[::-1], lengths[::-1], seed=3, target=target)
        finally:
            del os.environ["PFCDA_CACHE_DIR"]
        builds = os.listdir(tmp_path / "cache" / "brian2-standalone")
        assert len(builds) == 1  # one structure, one build directory, reused
        assert not os.path.exists(tmp_path / "cache" / "brian2-standalone" / builds[0] / "results")
        # the re-run took its new inputs: the short episode is now the first
        assert again["step_rate_hz"][0, 3:].sum() == 0 and again["step_rate_hz"][11, 3:].sum() > 0
        assert again["step_rate_hz"][:, 1].mean() >= 15.0
    rate = r["step_rate_hz"]
    assert 3.0 <= rate[:, [0, 2, 4]].mean() <= 5.0
    assert rate[:, 1].mean() >= 15.0
    assert rate[:11, 3].mean() <= 1.0
    last = r["spike_episodes"] == 11
    assert r["spike_times_s"][last].max() < 1.5 and rate[11, 3:].sum() == 0
