"""Training plumbing: checkpoints hold weights + config + versions, resume, clear errors."""
import pytest
import torch

from pfcda.circuit.config import CircuitConfig, TrainConfig
from pfcda.circuit.io.checkpoint import load_checkpoint
from pfcda.circuit.train import train
from pfcda.errors import CheckpointError


def _cfg(**kw):
    base = dict(circuit=CircuitConfig(task={"trials": 10}, n_units=8), steps=6_400, batch_size=32,
                t_max=10, eval_every=3_200, eval_episodes=20, checkpoint_every=3_200, seed=1)
    base.update(kw)
    return TrainConfig(**base)


def test_checkpoint_contents_and_resume(tmp_path):
    out = tmp_path / "c.pt"
    circuit = train(_cfg(), out=str(out), progress=False)
    loaded, payload = load_checkpoint(str(out))
    assert loaded.weight_hash() == circuit.weight_hash()
    assert payload["steps"] == 6_400 and payload["train"]["seed"] == 1
    assert payload["circuit"]["task"] == {"trials": 10}
    assert {"torch", "numpy", "python"} <= set(payload["provenance"]["packages"])
    assert payload["provenance"]["code_version"]
    assert len(payload["history"]) == 2 and "regret" in payload["history"][0]
    # Continue to a larger budget from the saved optimiser, RNG and episode states: with no
    # schedule tied to the budget, that is the longer run, bit for bit.
    more = tmp_path / "more.pt"
    resumed = train(_cfg(steps=12_800), out=str(more), resume=str(out), progress=False)
    _, p2 = load_checkpoint(str(more))
    assert p2["steps"] == 12_800 and len(p2["history"]) == 4
    fresh = train(_cfg(steps=12_800), progress=False)
    assert resumed.weight_hash() == fresh.weight_hash() != circuit.weight_hash()
    assert [h["steps"] for h in p2["history"]] == [h["steps"] for h in fresh.history]
    # An annealed schedule is tied to its budget: a larger one is refused, naming why.
    annealed = tmp_path / "annealed.pt"
    train(_cfg(lr_final=1e-4), out=str(annealed), progress=False)
    with pytest.raises(CheckpointError, match="anneals lr_final"):
        train(_cfg(lr_final=1e-4, steps=12_800), out=str(tmp_path / "x.pt"), resume=str(annealed),
              progress=False)
    with pytest.raises(CheckpointError, match="may only grow"):
        train(_cfg(steps=3_200), out=str(tmp_path / "y.pt"), resume=str(out), progress=False)


def test_bad_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="neither a file nor a shipped checkpoint"):
        load_checkpoint(str(tmp_path / "missing.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a pfcda checkpoint"):
        load_checkpoint(str(junk))
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="no format tag"):
        load_checkpoint(str(other))


def test_config_round_trip_and_unknown_field():
    cfg = _cfg()
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown fields"):
        TrainConfig.from_dict({"learning_rate": 1e-3})
    with pytest.raises(ValueError, match="circuit config: unknown fields"):
        TrainConfig.from_dict({"circuit": {"units": 48}})


def test_paper_claims_judged_during_training_and_a_stop_at_the_criterion(tmp_path):
    # eval_claims: each evaluation also judges the protocol's paper claims (pfcda reproduce's) on
    # frozen runs of the circuit in training; stop(entry) ends the run there (time to criterion)
    cfg = TrainConfig(circuit=CircuitConfig(protocol="reversal", task={"blocks": 10}, n_units=8),
                      steps=6_400, batch_size=16, t_max=20, eval_every=3_200, eval_episodes=10,
                      eval_claims=0.05, checkpoint_every=0, seed=0)
    out = tmp_path / "r.pt"
    circuit = train(cfg, out=str(out), progress=False, stop=lambda entry: entry["claims"] > 0)
    (entry,) = circuit.history
    # an untrained circuit: its cue-onset RPEs do not yet follow the rewarded cue
    assert entry["claims"] == 7 and entry["claims_met"] < 7 and entry["claims_failing"]
    _, payload = load_checkpoint(str(out))
    assert payload["steps"] == entry["steps"] == 3_200 < cfg.steps
    with pytest.raises(Exception, match="eval_claims"):
        TrainConfig(eval_claims=-1.0).validate()
