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


def test_a_candidate_folder_shadows_the_shipped_checkpoints(tmp_path, monkeypatch):
    """$PFCDA_CHECKPOINTS: freshly trained circuits take the place of the shipped ones of the same
    name (how the science tests are run against a candidate before it is shipped)."""
    import shutil

    from pfcda.circuit.io.checkpoint import OVERRIDE_ENV, shipped_checkpoints
    from pfcda.errors import CheckpointError

    shipped = shipped_checkpoints()
    shutil.copy(shipped["reversal"], tmp_path / "reversal.pt")
    (tmp_path / "reversal.resume.pt").write_bytes(b"")  # a resumable file is no candidate
    monkeypatch.setenv(OVERRIDE_ENV, str(tmp_path))
    now = shipped_checkpoints()
    assert now["reversal"] == str(tmp_path / "reversal.pt")
    assert {k: v for k, v in now.items() if k != "reversal"} == {k: v for k, v in shipped.items() if k != "reversal"}
    monkeypatch.setenv(OVERRIDE_ENV, str(tmp_path / "nope"))
    with pytest.raises(CheckpointError, match="PFCDA_CHECKPOINTS"):
        shipped_checkpoints()
