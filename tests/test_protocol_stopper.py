"""Sim 6 (Wang et al. 2018 Fig. 7; Stopper et al. 2014) on the shipped actor-critic circuit,
weights frozen (hash unchanged), 1,333 episodes per condition, the same episodes in each:
manipulating only the RPE that reaches the actor shifts choices as optogenetics did in rats.

* control: more risky choice at p = 0.5 than at p = 0.125 (paper 90% vs 29%; rats 75% vs 25%);
* block the risky reward (−4): risky choice at p = 0.5 falls by ≥ 20 points (paper 90 → 43;
  rats 75 → 54);
* block the safe reward (−1): at p = 0.125 it rises by ≥ 10 points (29 → 59; rats 27 → 43);
* +1 on a risky loss: at p = 0.125 it rises by ≥ 10 points (29 → 49; rats 28 → 50).
"""
import pytest


@pytest.fixture(scope="module")
def sim6(shipped):
    if "stopper" not in shipped:
        pytest.skip("no shipped stopper checkpoint")
    from pfcda.circuit.run import run_conditions
    from pfcda.protocols.stopper import PRESETS, conditions_table

    circuit = shipped["stopper"]
    before = circuit.weight_hash()
    res = conditions_table(run_conditions(circuit, PRESETS, episodes=1333, seed=0))
    assert circuit.weight_hash() == before
    return {k: v["value"] for k, v in res["stats"].items()}


def test_control_prefers_risk_when_it_pays(sim6):
    assert sim6["risky_p0.5_control"] > sim6["risky_p0.125_control"] + 0.2


def test_blocking_the_risky_reward_lowers_risky_choice(sim6):
    assert sim6["risky_p0.5_control"] - sim6["risky_p0.5_block_risky_reward"] >= 0.20


def test_blocking_the_safe_reward_raises_risky_choice(sim6):
    assert sim6["risky_p0.125_block_safe_reward"] - sim6["risky_p0.125_control"] >= 0.10


def test_dopamine_on_risky_loss_raises_risky_choice(sim6):
    assert sim6["risky_p0.125_boost_risky_loss"] - sim6["risky_p0.125_control"] >= 0.10
