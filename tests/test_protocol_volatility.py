"""Sim 2 (Wang et al. 2018 Fig. 3) on the shipped volatility circuit: weights frozen, fixed seed,
the Behrens schedule in both orders.

* The fitted RW learning rate in volatile halves is ≥ 1.5 × that in stable halves, in both orders
  (paper ≈ 0.46–0.51 vs 0.21–0.28; humans ≈ 0.19–0.21 vs 0.07–0.10).
* Volatility decoded from the units correlates with the Bayesian estimate on held-out episodes
  (r ≥ 0.5).
"""
import pytest


@pytest.fixture
def analysis(shipped_stats):
    return shipped_stats("volatility", 400, schedule="behrens")


@pytest.mark.parametrize("order", ["stable_first", "volatile_first"])
def test_learning_rate_adapts_to_volatility(analysis, order):
    assert analysis[f"lr_ratio_{order}"]["value"] >= 1.5


def test_volatility_is_decodable_from_units(analysis):
    assert analysis["decoded_volatility_r"]["value"] >= 0.5
