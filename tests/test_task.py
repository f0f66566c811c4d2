"""The batched bandit task: distributions, reward rule, auto-reset, validation."""
import pytest
import torch

from pfcda.protocols import make_task
from pfcda.protocols.bandit import BanditTask


def test_reward_rates_follow_probabilities():
    task = BanditTask("independent", probs=(0.2, 0.9), trials=1000)
    g = torch.Generator().manual_seed(0)
    task.reset(500, g)
    rewards = {0: [], 1: []}
    for t in range(200):
        a = torch.full((500,), t % 2, dtype=torch.long)
        rewards[t % 2].append(task.step(a).reward.mean())
    assert float(torch.stack(rewards[0]).mean()) == pytest.approx(0.2, abs=0.01)
    assert float(torch.stack(rewards[1]).mean()) == pytest.approx(0.9, abs=0.01)


def test_correlated_probabilities_sum_to_one():
    p = BanditTask("correlated").sample_params(1000, torch.Generator().manual_seed(1))["probs"]
    assert torch.allclose(p.sum(1), torch.ones(1000))
    assert 0.45 < float(p[:, 0].mean()) < 0.55


def test_k_arms_and_auto_reset():
    task = BanditTask("independent", arms=5, trials=3)
    g = torch.Generator().manual_seed(2)
    obs = task.reset(4, g)
    assert obs.shape == (4, 1) and task.n_actions == 5
    first = task.params["probs"].clone()
    for t in range(3):
        res = task.step(torch.zeros(4, dtype=torch.long))
        assert bool(res.done.all()) == (t == 2)
    assert not torch.equal(first, task.params["probs"])  # new episodes, new arm probabilities
    assert torch.equal(res.obs, torch.zeros(4, 1))  # trial counter restarted


def test_outcome_tape_fixes_rewards():
    task = BanditTask("independent", trials=10)
    params = task.sample_params(3, torch.Generator().manual_seed(0), outcomes=True)
    runs = []
    for seed in (1, 2):
        task.reset(3, torch.Generator().manual_seed(seed), params)
        runs.append(torch.stack([task.step(torch.ones(3, dtype=torch.long)).reward for _ in range(10)]))
    assert torch.equal(runs[0], runs[1])
    assert torch.equal(runs[0].T.bool(), params["outcomes"][:, :, 1])


@pytest.mark.parametrize("kwargs,field", [
    ({"variant": "bogus"}, "variant"), ({"arms": 1}, "arms"),
    ({"variant": "correlated", "arms": 3}, "arms"), ({"probs": (0.5, 1.5)}, "probs"),
    ({"trials": 0}, "trials"),
])
def test_bad_options_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        BanditTask(**kwargs)


def test_bad_action_is_rejected():
    task = BanditTask()
    task.reset(2, torch.Generator())
    with pytest.raises(ValueError, match="action"):
        task.step(torch.tensor([0, 2]))


def test_registry_and_unknown_option():
    from pfcda import protocols

    assert "bandit" in protocols.names()
    with pytest.raises(ValueError, match="task options"):
        make_task("bandit", colour="red")
    with pytest.raises(ValueError, match="unknown 'nope'"):
        make_task("nope")
