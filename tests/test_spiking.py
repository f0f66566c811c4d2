"""The spiking DA population (brian2, numpy target): tonic firing, bursts and pauses with the
RPE, the concentration trace, and decoding the RPE back from population firing."""
import numpy as np
import pytest

pytest.importorskip("brian2", reason="the spiking DA population needs brian2 (pip install brian2)")

from dopamine.spiking import DAParams, calibrate, simulate  # noqa: E402


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
    res = simulate(deltas, seed=2)
    decoded = fi.decode(res.step_rate_hz)
    assert np.corrcoef(decoded, deltas)[0, 1] >= 0.9


def test_concentration_rises_with_a_burst_and_spikes_are_well_formed():
    p = DAParams()
    res = simulate([0.0, 0.0, 1.0, 0.0, -1.0, 0.0], p, seed=3)
    c = res.concentration
    assert len(c) == 6 * int(p.step_ms)
    at = lambda step, ms: c[int(step * p.step_ms + ms)]  # noqa: E731
    assert at(2, 175) > 1.5 * at(1, 400)  # burst raises DA above tonic
    assert at(4, 175) < at(3, 400)  # pause lowers it
    assert np.all(np.diff(res.spike_times_s) >= 0)
    assert res.spike_neurons.min() >= 0 and res.spike_neurons.max() < p.n_neurons
    with pytest.raises(ValueError, match="deltas"):
        simulate([np.nan])
