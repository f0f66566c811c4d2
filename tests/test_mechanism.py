"""The mechanism, not just shapes: DA-gated plasticity makes a learner whose *activity* learns.

* Blocking the DA teaching signal (gain 0) during training prevents learning, including the
  within-episode improvement that frozen weights show after normal training.
* Lesioning the reward input of a trained, frozen circuit gives chance performance (LTRL).
* The same seed gives identical results.
"""
import numpy as np
import pytest

from pfcda.circuit.config import CircuitConfig, TrainConfig
from pfcda.circuit.evaluate import evaluate_bandit, rollout
from pfcda.circuit.manipulations import Manipulation
from pfcda.circuit.train import train

# A short, fast meta-training run: 20-trial correlated bandits, a small LSTM.
SHORT = dict(steps=1_500_000, batch_size=128, t_max=20, optimizer="adam", lr=1e-2, beta_e=0.01,
             beta_v=0.25, eval_every=0, seed=3)


def _short_run(gain):
    cfg = TrainConfig(circuit=CircuitConfig(task={"variant": "correlated", "trials": 20}, n_units=16),
                      da_gain=gain, **SHORT)
    circuit = train(cfg, progress=False)
    ro = rollout(circuit, circuit.make_task(), 2000, seed=5)
    return ro.info["regret"]


def test_da_blockade_during_training_prevents_meta_learning():
    normal, blocked = _short_run(1.0), _short_run(0.0)
    chance = 20 * 0.25  # E[max(p, 1-p)] - 1/2 per trial, 20 trials
    # Normal DA: far below chance, and it learns within the episode with frozen weights
    # (regret in the second half of the episode below the first half).
    assert normal.sum(1).mean() < 0.5 * chance
    assert normal[:, 10:].sum(1).mean() < 0.8 * normal[:, :10].sum(1).mean()
    # DA blocked: no improvement over chance, no within-episode learning.
    assert blocked.sum(1).mean() == pytest.approx(chance, rel=0.08)
    assert blocked[:, 10:].sum(1).mean() > 0.9 * blocked[:, :10].sum(1).mean()


def test_same_seed_same_results():
    cfg = TrainConfig(circuit=CircuitConfig(task={"trials": 10}, n_units=8), steps=20_000,
                      batch_size=32, t_max=10, eval_every=0, seed=11)
    a, b = train(cfg, progress=False), train(cfg, progress=False)
    assert a.weight_hash() == b.weight_hash()
    ra = rollout(a, a.make_task(), 50, seed=2)
    rb = rollout(b, b.make_task(), 50, seed=2)
    assert np.array_equal(ra.actions, rb.actions) and np.array_equal(ra.values, rb.values)
    cfg.seed = 12
    assert train(cfg, progress=False).weight_hash() != a.weight_hash()


@pytest.mark.parametrize("name,chance", [("bandit_independent", 100 / 6), ("bandit_correlated", 25.0)])
def test_reward_input_lesion_gives_chance(shipped, name, chance):
    circuit = shipped[name]
    intact = evaluate_bandit(circuit, episodes=1000, seed=1, agents=())["agents"]["circuit"]
    res = evaluate_bandit(circuit, episodes=1000, seed=1, agents=(),
                          manipulations=[Manipulation(target="input", action="silence",
                                                      channel="prev_reward")])["agents"]["circuit"]
    # Without the reward input, choices cannot depend on the arm probabilities: expected regret
    # is exactly chance (E[max p] − E[p] per trial); the sem here is ≈ 0.3–0.5.
    assert res["regret"] == pytest.approx(chance, abs=4 * res["regret_sem"] + 0.2)
    assert intact["regret"] < 0.25 * chance


def test_frozen_evaluation_does_not_change_weights(shipped):
    circuit = shipped["bandit_independent"]
    before = circuit.weight_hash()
    ro = rollout(circuit, circuit.make_task(), 20, seed=0)
    assert ro.hash_before == ro.hash_after == before
    assert not any(p.requires_grad for p in circuit.net.parameters())


def test_da_teaching_blockade_prevents_model_based_two_step_behaviour():
    """The paper's prediction 1 (protocols.md §8.5): interfering with phasic DA during training
    prevents model-based control from emerging. Small budget: 30-trial two-step episodes,
    24 units, 1.2 M steps; the blockade is a manipulation of the teaching signal."""
    from pfcda.circuit.rollout import iter_batches
    from pfcda.protocols.twostep import stay_probabilities

    def trained(manipulations):
        cfg = TrainConfig(circuit=CircuitConfig(protocol="twostep", n_units=24, task={
            "variant": "miller", "feedback": "trial", "trials": 30}), steps=1_200_000,
            batch_size=64, t_max=15, optimizer="adam", lr=5e-3, beta_e=0.01, beta_v=0.5,
            eval_every=0, seed=3, manipulations=manipulations)
        circuit = train(cfg, progress=False)
        task = circuit.make_task()
        tr = task.trial_table(next(iter_batches(circuit, task, 3000, seed=1, batch_size=3000)))
        st = {k: v["value"] for k, v in stay_probabilities(tr).items()}
        return st["CR"] - st["CU"] + st["UU"] - st["UR"], float(tr["error"].mean())

    mb_normal, err_normal = trained([])
    mb_blocked, err_blocked = trained([{"target": "da_teaching", "action": "silence", "stage": "train"}])
    assert mb_normal > 0.5 and err_normal < 0.05
    # blocked: the circuit learns nothing, not even the valid responses, and on its valid trials
    # stays do not depend on transition × reward
    assert err_blocked > 0.5 and abs(mb_blocked) < 0.25
