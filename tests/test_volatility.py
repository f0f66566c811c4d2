"""The Behrens volatility task (Sim 2) and its analyses, on known ground truth."""
import numpy as np
import pytest
import torch

from pfcda.protocols import volatility as V


def test_behrens_schedule():
    p = V.VolatilityTask("behrens").sample_params(200, torch.Generator().manual_seed(0))
    pa, vol, order = p["p_a"].numpy(), p["volatile"].numpy(), p["order"].numpy()
    assert set(np.unique(order)) == {0, 1}
    sf = order == 0
    # stable-first: 100 stable trials at 0.25/0.75, then 0.2/0.8 alternating every 25 trials
    assert not vol[sf, :100].any() and vol[sf, 100:].all()
    assert np.all(np.isin(np.round(pa[sf, :100], 2), [0.25, 0.75]))
    assert np.all(pa[sf, 100:125] == pa[sf, 100:101]) and np.all(pa[sf, 125] == 1 - pa[sf, 124])
    assert np.all(vol[~sf, :100]) and not vol[~sf, 100:].any()
    m = p["magnitudes"].numpy()
    assert m.min() > 0 and m.max() < 1 and abs(m.mean() - 0.5) < 0.01  # 100·Beta(4,4) / 100


def test_training_generative_model():
    p = V.VolatilityTask("training").sample_params(2000, torch.Generator().manual_seed(1))
    vol, pa = p["volatile"].numpy(), p["p_a"].numpy()
    flips = np.abs(np.diff(pa, axis=1) + 0) > 0.3  # a side flip changes p_a by ≥ 0.5
    # flips happen at rate 0.2 while volatile and never while stable
    assert flips[vol[:, :-1] & vol[:, 1:]].mean() == pytest.approx(0.2, abs=0.01)
    assert flips[~vol[:, :-1] & ~vol[:, 1:]].mean() == 0
    assert np.exp(p["log_k"].numpy()).min() >= np.exp(-4.5) - 1e-6


def _rw_agent(alpha, beta=8.0, E=150, seed=0):
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    p = V.VolatilityTask("stable_first").sample_params(E, g)
    pa, mags = p["p_a"].numpy(), p["magnitudes"].numpy()
    correct = (rng.random(pa.shape) >= pa).astype(int)
    rhat = V.rw_predictions(correct, np.array([alpha]))[0]
    z = beta * (rhat * mags[:, :, 0] - (1 - rhat) * mags[:, :, 1])
    choice = (rng.random(pa.shape) >= 1 / (1 + np.exp(-z))).astype(int)
    return {"episode": np.repeat(np.arange(E), 200), "correct": correct.reshape(-1),
            "choice": choice.reshape(-1), "magnitude_a": mags[:, :, 0].reshape(-1),
            "magnitude_b": mags[:, :, 1].reshape(-1)}


@pytest.mark.parametrize("alpha", [0.1, 0.4])
def test_sliding_rw_fit_recovers_a_known_learning_rate(alpha):
    fit = V.sliding_learning_rate(_rw_agent(alpha))
    assert np.median(fit["alpha"]) == pytest.approx(alpha, rel=0.15)


def test_bayes_observer_tracks_volatility():
    p = V.VolatilityTask("stable_first").sample_params(100, torch.Generator().manual_seed(2))
    rng = np.random.default_rng(2)
    correct = (rng.random((100, 200)) >= p["p_a"].numpy()).astype(int)
    b = V.bayes_observer(correct)
    assert b["volatility"][:, 150:].mean() > 1.5 * b["volatility"][:, 50:100].mean()
    # its predictions follow the true probabilities
    assert np.corrcoef(b["p_a"].reshape(-1), p["p_a"].numpy().reshape(-1))[0, 1] > 0.6


def test_literal_generative_model_is_deterministic_in_volatile_periods_only():
    g = torch.Generator().manual_seed(4)
    p = V.VolatilityTask(volatile_level=1.0).sample_params(300, g)
    pa, vol = p["p_a"].numpy(), p["volatile"].numpy()
    assert set(np.unique(pa[vol])) <= {0.0, 1.0}
    assert np.allclose(np.unique(pa[~vol]), [0.25, 0.75])
    test = V.VolatilityTask("behrens", volatile_level=1.0).sample_params(100, g)
    assert np.allclose(np.unique(test["p_a"].numpy()), [0.2, 0.25, 0.75, 0.8])  # Behrens' levels
    with pytest.raises(ValueError, match="volatile_level"):
        V.VolatilityTask(volatile_level=0.3)
