"""Sim 5 (Wang et al. 2018 Fig. 6; Harlow 1949) on the shipped Harlow circuit, weights frozen,
held-out objects, fixed seed: chance on trial 1 (45–55%), ≥ 90% on trial 2 (monkeys ≈ 97% after
257–312 problems; the paper's model ≈ 97%); the learning-set curve at training quantiles (the
checkpoint's evaluations on held-out objects) rises as Harlow's did."""
import numpy as np
import pytest

from pfcda.protocols.harlow import learning_set_curve


@pytest.fixture
def stats(shipped_stats):
    return shipped_stats("harlow", 2000, pool="test")


def test_one_shot_learning_on_held_out_objects(stats):
    assert 0.45 <= stats["acc_trial1"]["value"] <= 0.55
    assert stats["acc_trial2"]["value"] >= 0.9
    assert min(stats[f"acc_trial{k}"]["value"] for k in range(2, 7)) >= 0.9


def test_learning_set_curve_rises_across_training(shipped):
    if "harlow" not in shipped:
        pytest.skip("no shipped harlow checkpoint")
    from pfcda.circuit.io.checkpoint import load_checkpoint

    _, payload = load_checkpoint("harlow")
    curve = learning_set_curve(payload["history"], episodes=payload["train"]["eval_episodes"])
    trial2 = np.array([a[1] for a in curve["acc"]])
    trial1 = np.array([a[0] for a in curve["acc"]])
    # each quantile at least as good as the one before, within the evaluation's noise (1,000
    # episodes: sem ≤ 0.016); from near chance to ceiling
    assert np.all(np.diff(trial2) >= -0.03), trial2
    assert trial2[0] <= 0.75 and trial2[-1] >= 0.9
    assert np.all(np.abs(trial1 - 0.5) <= 0.06)
