"""Retraining the shipped bandit circuits from scratch (slow: minutes; run with -m slow).

Reproduces each shipped checkpoint with its documented command's configuration and checks that
the retrained circuit meets the same criterion as the shipped one.
"""
import pytest

from pfcda.circuit.config import TrainConfig
from pfcda.circuit.evaluate import evaluate_bandit
from pfcda.circuit.train import train
from pfcda.protocols.bandit import train_defaults

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("variant,factor", [("correlated", 1.20), ("independent", 1.40)])
def test_retrain_meets_criterion(variant, factor):
    circuit = train(TrainConfig.from_dict(train_defaults(variant)), progress=False)
    res = evaluate_bandit(circuit, episodes=2000, seed=0)["agents"]
    assert res["circuit"]["regret"] <= factor * res["bayes_optimal"]["regret"], res
