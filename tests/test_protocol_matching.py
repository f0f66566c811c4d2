"""Sim 1 (Wang et al. 2018 Fig. 2) on the shipped matching circuit: weights frozen, fixed seed,
held-out p₀ (the paper's generalisation conditions).

* Matching: slope of log2 choice ratio on log2 reward ratio between 0.3 and 1.0 (monkeys and
  model ≈ 0.5: undermatching).
* Reward history: the lag-1 coefficient is positive and the weights decay (sum over lags 1–3 >
  sum over lags 4–15).
* Unit coding at fixation: mean |partial r| of the last action and of the left value are each
  larger than that of the last reward (paper ≈ 0.22 and 0.21 vs 0.07).
"""
import pytest


@pytest.fixture
def analysis(shipped_stats):
    return shipped_stats("matching", 500, split="heldout")


def test_undermatching_on_heldout_p0(analysis):
    assert 0.3 <= analysis["matching_slope"]["value"] <= 1.0


def test_reward_history_positive_and_decaying(analysis):
    assert analysis["reward_coef_lag1"]["value"] > 0
    assert analysis["reward_coef_sum_lags1_3"]["value"] > analysis["reward_coef_sum_lags4_15"]["value"]


def test_units_code_action_and_value_more_than_reward(analysis):
    r_rew = analysis["unit_abs_r_last_reward"]["value"]
    assert analysis["unit_abs_r_last_action"]["value"] > r_rew
    assert analysis["unit_abs_r_value_left"]["value"] > r_rew
