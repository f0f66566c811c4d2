"""The shipped bandit circuits against the limit of behaviour (issue: circuit core).

Weights frozen, 2,000 fresh episodes, actions sampled from the policy as in the paper, every
agent on the same episodes (same arm probabilities and reward tape):
  correlated circuit  ≤ 1.20 × Bayes-optimal regret (≈ 1.22 for this prior),
  independent circuit ≤ 1.40 × Bayes-optimal regret (≈ 1.75),
  both below Thompson sampling and UCB1.
"""
import pytest

from pfcda.circuit.evaluate import evaluate_bandit

CRITERIA = {"bandit_correlated": 1.20, "bandit_independent": 1.40}


def test_every_shipped_checkpoint_loads(shipped):
    assert set(CRITERIA) <= set(shipped)
    for name, circuit in shipped.items():
        assert circuit.config.protocol in name
        assert circuit.net.n_units == circuit.config.n_units


@pytest.mark.parametrize("name", sorted(CRITERIA))
def test_shipped_circuit_near_bayes_optimal(shipped, name):
    res = evaluate_bandit(shipped[name], episodes=2000, seed=0)["agents"]
    circuit, bayes = res["circuit"]["regret"], res["bayes_optimal"]["regret"]
    assert circuit <= CRITERIA[name] * bayes, res
    assert circuit < res["thompson"]["regret"] and circuit < res["ucb1"]["regret"], res
