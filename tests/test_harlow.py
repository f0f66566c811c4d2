"""The Harlow learning-set task (Sim 5): object pools, timeline, rewards, the curve analysis."""
import numpy as np
import pytest
import torch

from pfcda.protocols.harlow import FIXATE, LEFT, RIGHT, HarlowTask, accuracy_by_trial, learning_set_curve, object_pools


def test_pools_are_disjoint_fixed_and_without_repeats():
    a, b = object_pools(), object_pools()
    assert torch.equal(a["train"], b["train"]) and a["train"].shape == (1000, 12)
    rows = {tuple(r) for r in torch.cat([a["train"], a["test"]]).tolist()}
    assert len(rows) == 2000  # no object in both pools, none repeated
    with pytest.raises(ValueError, match="features"):
        object_pools(features=4)


def test_rewarded_object_pays_wherever_it_appears():
    task = HarlowTask(pool="test")
    g = torch.Generator().manual_seed(0)
    B = 200
    obs = task.reset(B, g)
    F = task.features
    good = task.objects[task.params["objects"][:, 0]]
    total = torch.zeros(B)
    for k in range(6):
        assert torch.all(obs[:, 0] == 1) and torch.all(obs[:, 1:] == 0)  # fixation: no objects
        r = task.step(torch.full((B,), FIXATE))
        assert torch.all(r.reward == 0.2)
        obs = r.obs
        left_is_good = (obs[:, 1:1 + F] == good).all(1)
        right_is_good = (obs[:, 1 + F:1 + 2 * F] == good).all(1)
        assert torch.all(left_is_good ^ right_is_good)  # the rewarded object is on one side
        r = task.step(torch.where(left_is_good, LEFT, RIGHT))
        assert torch.all(r.reward == 1.0) and torch.all(r.info["correct"])
        total += r.reward
        assert torch.all(r.obs[:, 1 + 2 * F:] == good)  # outcome: the chosen object, centred
        assert torch.all(r.obs[:, :1 + 2 * F] == 0)
        r = task.step(torch.full((B,), FIXATE))
        assert torch.all(r.reward == 0)
        obs = r.obs
    assert torch.all(r.done)
    side = task.sample_params(5000, g)["rewarded_left"].float().mean()
    assert abs(float(side) - 0.5) < 0.02


def test_wrong_object_and_no_choice_cost_one():
    task = HarlowTask()
    task.reset(3, torch.Generator().manual_seed(1))
    r = task.step(torch.tensor([LEFT, FIXATE, RIGHT]))
    assert torch.allclose(r.reward, torch.tensor([0.0, 0.2, 0.0]))  # breaking fixation: no penalty
    left_good = task.params["rewarded_left"][:, 0]
    wrong = torch.where(left_good, RIGHT, LEFT)
    r = task.step(torch.stack([wrong[0], torch.tensor(FIXATE), torch.where(left_good, LEFT, RIGHT)[2]]))
    assert r.reward.tolist() == [-1.0, -1.0, 1.0]
    assert r.info["error"].tolist() == [False, True, False]
    F = task.features
    assert torch.all(r.obs[1, 1 + 2 * F:] == 0)  # nothing selected, nothing centred
    bad = task.objects[task.params["objects"][0, 1]]
    assert torch.equal(r.obs[0, 1 + 2 * F:], bad)


def test_two_distinct_objects_per_episode_and_bad_options():
    p = HarlowTask().sample_params(10_000, torch.Generator().manual_seed(2))["objects"]
    assert bool((p[:, 0] != p[:, 1]).all())
    with pytest.raises(ValueError, match="pool: expected 'train' or 'test'"):
        HarlowTask(pool="heldout")


def test_learning_set_curve_finds_change_points_and_quantiles():
    # a synthetic history: chance, then a rise, then a plateau
    acc2 = [0.5] * 5 + list(np.linspace(0.55, 0.95, 9)) + [0.96] * 5
    hist = [{"steps": i * 100, **{f"acc_trial{k}": (0.5 if k == 1 else a) for k in range(1, 7)}}
            for i, a in enumerate(acc2)]
    curve = learning_set_curve(hist, quantiles=6, episodes=1000)
    t2 = [a[1] for a in curve["acc"]]
    assert curve["steps"][0] == 500  # the first evaluation above 0.5 + 2 binomial sem
    assert len(curve["acc"]) == 7 and t2[-1] == 0.96
    assert all(b >= a for a, b in zip(t2, t2[1:]))
    table = {"episode": np.repeat(np.arange(4), 6), "trial": np.tile(np.arange(6), 4),
             "correct": np.tile([0, 1, 1, 1, 1, 1], 4).astype(bool)}
    acc = accuracy_by_trial(table)
    assert acc[0][0] == 0.0 and acc[1][0] == 1.0
