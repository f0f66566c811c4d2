"""The limit of behaviour: exact Bayes-optimal regret and the reference agents' ordering."""
import numpy as np
import pytest
import torch

from pfcda.protocols.bandit import BanditTask
from pfcda.protocols.bandit import agents as ba


def test_bayes_optimal_exact_values():
    # Exact finite-horizon values for H = 100 (shared PERFORMANCE.md): 1.7482 and 1.2214.
    assert ba.bayes_optimal_regret(100, "independent") == pytest.approx(1.7482, abs=1e-4)
    assert ba.bayes_optimal_regret(100, "correlated") == pytest.approx(1.2214, abs=1e-4)


def test_dp_greedy_limits_small_horizon():
    # H = 1: one pull, no information to use: regret = E[max] - 1/2 = 2/3 - 1/2.
    assert ba.bayes_optimal_regret(1, "independent") == pytest.approx(1 / 6)


def test_agents_order_on_independent_prior():
    task = BanditTask("independent")
    p = task.sample_params(3000, torch.Generator().manual_seed(3), outcomes=True)
    probs, out = p["probs"].numpy(), p["outcomes"].numpy()
    reg = {a: ba.run_agent(a, probs, 100, seed=1, outcomes=out).mean() for a in ba.AGENTS}
    # Simulated Bayes-optimal regret matches the exact DP value (sem ≈ 0.05).
    assert reg["bayes_optimal"] == pytest.approx(1.748, abs=0.15)
    assert reg["bayes_optimal"] < reg["thompson"] < reg["ucb1"] < reg["random"]
    assert reg["gittins"] < reg["thompson"]
    assert reg["random"] == pytest.approx(100 / 6, rel=0.05)


def test_correlated_greedy_beats_independent_dp():
    task = BanditTask("correlated")
    p = task.sample_params(3000, torch.Generator().manual_seed(4), outcomes=True)
    probs, out = p["probs"].numpy(), p["outcomes"].numpy()
    corr = ba.run_agent("bayes_optimal", probs, 100, variant="correlated", outcomes=out).mean()
    assert corr == pytest.approx(1.2214, abs=0.12)


def test_gittins_index_properties():
    G = ba.gittins_table(0.99)
    assert G[1, 1] > 0.5  # the index exceeds the mean: the value of information
    assert G[2, 1] > G[1, 1] > G[1, 2]  # increasing in successes, decreasing in failures
    a, b = 40, 40
    assert 0.5 < G[a, b] < G[1, 1]  # information bonus shrinks with experience


def test_unknown_agent_is_a_clear_error():
    with pytest.raises(ValueError, match="agent: expected one of"):
        ba.simulate("oracle", np.full((2, 2), 0.5), 10)
