"""PFC spike trains from unit activity: documented rate mapping, refractoriness, determinism."""
import numpy as np
import pytest

from pfcda.pfc.spikes import spike_trains, unit_rates


def test_rates_follow_the_mapping_and_respect_refractoriness():
    h = np.tile(np.array([[-1.0, 0.0, 1.0]]), (400, 1))  # 400 steps × 0.5 s = 200 s
    out = spike_trains(h, seed=1)
    assert np.allclose(unit_rates(h)[0], [1.0, 20.5, 40.0])
    dur = 400 * 0.5
    for u, rate in enumerate([1.0, 20.5, 40.0]):
        n = (out["units"] == u).sum()
        expected = rate * (1 - rate * 0.002) * dur  # the dead time thins slightly
        assert abs(n - expected) < 4 * np.sqrt(expected)  # 4 Poisson SDs
        t = out["times_s"][out["units"] == u]
        assert np.all(np.diff(t) > 0.002)
    assert np.all(np.diff(out["times_s"]) >= 0)


def test_activity_changes_show_in_a_psth_and_runs_are_reproducible():
    h = np.where(np.arange(200)[:, None] % 2 == 0, -1.0, 1.0) * np.ones((1, 4))
    a, b = spike_trains(h, seed=3), spike_trains(h, seed=3)
    assert np.array_equal(a["times_s"], b["times_s"]) and np.array_equal(a["units"], b["units"])
    step = (a["times_s"] // 0.5).astype(int)
    high = np.isin(step, np.arange(1, 200, 2)).sum()
    low = np.isin(step, np.arange(0, 200, 2)).sum()
    assert high > 20 * low
    with pytest.raises(ValueError, match="hidden"):
        spike_trains(np.zeros(5))
