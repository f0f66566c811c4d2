"""Manipulations as data: validation, timing (phase, trial, event), effects on the frozen
circuit (lesions), the teaching-signal blockade, and TOML ≡ Python."""
import numpy as np
import pytest

from pfcda.circuit.manipulations import Manipulation, load_toml
from pfcda.circuit.run import run


@pytest.mark.parametrize("fields,message", [
    ({"target": "neurons", "action": "silence"}, r"target: expected one of"),
    ({"target": "units", "action": "boost", "units": [1]}, r"action: expected one of"),
    ({"target": "units", "action": "silence"}, r"exactly one of units"),
    ({"target": "units", "action": "silence", "fraction": 1.5}, r"fraction: expected a number in \[0, 1\]"),
    ({"target": "input", "action": "silence"}, r"channel: expected an input channel name"),
    ({"target": "units", "action": "silence", "units": [1], "trials": [5, 2]}, r"trials: expected \[start, stop\)"),
    ({"target": "da_teaching", "action": "silence"}, r"stage: expected 'train' or 'both'"),
    ({"target": "units", "action": "scale", "units": [0], "value": "big"}, r"value: expected a number"),
    ({"target": "units", "action": "silence", "units": [0], "colour": "red"}, r"unknown field\(s\) \['colour'\]"),
])
def test_invalid_manipulations_name_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        Manipulation.from_dict(fields)


@pytest.mark.parametrize("fields,message", [
    ({"target": "units", "action": "silence", "units": [48]}, r"units: \[48\] outside 0..47"),
    ({"target": "input", "action": "silence", "channel": "reward"}, r"channel: unknown 'reward'; expected one of"),
    ({"target": "units", "action": "silence", "units": [0], "event": "risky_rewarded"}, r"event: unknown 'risky_rewarded'"),
    ({"target": "units", "action": "silence", "units": [0], "phase": "outcome"}, r"phase: unknown 'outcome'"),
    ({"target": "da_input", "action": "add", "value": 1.0}, r"needs an actor-critic circuit"),
])
def test_manipulations_invalid_for_the_circuit_fail_before_running(fields, message, tmp_path):
    out = tmp_path / "x.h5"
    with pytest.raises(ValueError, match=message):
        run("bandit_independent", episodes=2, manipulations=[fields], out=str(out))
    assert not out.exists()



def test_silencing_all_units_or_the_reward_input_gives_chance_and_lesions_degrade_gradually():
    """LTRL's lesion and a lesion sweep on the independent bandit's own distribution of arm
    probabilities (random choice: regret E|p1 − p2|/2 × 100 trials = 16.7 per episode)."""
    from pfcda.circuit.io.checkpoint import load_checkpoint
    from pfcda.circuit.lesion_sweep import lesion_sweep

    circ, _ = load_checkpoint("bandit_independent")
    h0 = circ.weight_hash()
    chance = 100 / 6
    units = lesion_sweep(circ, sizes=[0.0, 0.25, 0.5, 0.75, 1.0], draws=3, episodes=300, seed=0)
    reward_input = lesion_sweep(circ, sizes=[0.0, 1.0], episodes=300, target="input",
                                channel="prev_reward")
    curve = [r["value"] for r in units["rows"]]
    assert units["measure"] == "regret_per_episode"
    assert curve[0] < 0.2 * chance  # intact: ≈ 2
    assert abs(curve[-1] - chance) < 0.1 * chance  # every unit silenced: chance
    assert abs(reward_input["rows"][-1]["value"] - chance) < 0.1 * chance  # no reward input: chance
    # degrades monotonically within noise (each step: no better than the previous by > 2 sem)
    for a, b in zip(units["rows"], units["rows"][1:]):
        assert b["value"] >= a["value"] - 2 * max(a["sem"], b["sem"]), curve
    assert curve[2] > curve[0] + 2  # half the units lost costs clearly
    assert circ.weight_hash() == h0  # lesions never touch the weights


def test_phase_trial_and_event_gating_are_recorded_per_step():
    manips = [
        {"name": "fixation only", "target": "units", "action": "scale", "value": 1.0, "units": [0],
         "phase": "fixation"},
        {"name": "trials 10-19", "target": "units", "action": "scale", "value": 1.0, "units": [0],
         "trials": [10, 20]},
        {"name": "after reward", "target": "units", "action": "scale", "value": 1.0, "units": [0],
         "event": "rewarded"},
    ]
    rec = run("matching", episodes=20, seed=0, manipulations=manips)
    s = rec.steps
    act = s["manipulation_active"]
    assert act.shape == (len(s["action"]), 3)
    assert np.array_equal(act[:, 0], s["phase"] == 0)
    assert np.array_equal(act[:, 1], (s["trial"] >= 10) & (s["trial"] < 20))
    # an event acts on the step after it, within the episode
    prev_rewarded = np.r_[False, (s["reward"][:-1] > 0) & (s["episode"][1:] == s["episode"][:-1])]
    assert np.array_equal(act[:, 2], prev_rewarded)
    assert [m["name"] for m in rec.manipulations] == ["fixation only", "trials 10-19", "after reward"]


def test_toml_file_and_python_objects_give_identical_recordings(tmp_path):
    toml = tmp_path / "lesion.toml"
    toml.write_text('''
[[manipulation]]
name = "noisy reward input"
target = "input"
channel = "prev_reward"
action = "noise"
value = 0.5
seed = 3

[[manipulation]]
name = "silence a quarter of the units in trials 20-49"
target = "units"
action = "silence"
fraction = 0.25
trials = [20, 50]
''')
    from_file = load_toml(str(toml))
    in_python = [Manipulation(target="input", channel="prev_reward", action="noise", value=0.5, seed=3,
                              name="noisy reward input"),
                 Manipulation(target="units", action="silence", fraction=0.25, trials=(20, 50),
                              name="silence a quarter of the units in trials 20-49")]
    assert from_file == in_python
    a = run("bandit_correlated", episodes=30, seed=2, manipulations=from_file, out=str(tmp_path / "a.h5"))
    b = run("bandit_correlated", episodes=30, seed=2, manipulations=in_python, out=str(tmp_path / "b.h5"))
    for k in a.steps:
        assert np.array_equal(a.steps[k], b.steps[k]), k
    assert np.array_equal(a.units["hidden"], b.units["hidden"])
    assert a.manipulations == b.manipulations
    bad = tmp_path / "bad.toml"
    bad.write_text('[[manipulation]]\ntarget = "units"\naction = "silence"\nunits = [0]\nfase = "choice"\n')
    with pytest.raises(ValueError, match=r"bad.toml, table 1: .*unknown field\(s\) \['fase'\]"):
        load_toml(str(bad))


def test_teaching_signal_blockade_as_a_manipulation_equals_da_gain_zero():
    from pfcda.circuit.config import CircuitConfig, TrainConfig
    from pfcda.circuit.train import train

    base = dict(circuit=CircuitConfig(protocol="bandit", task={"variant": "independent"}),
                steps=20 * 32 * 20, batch_size=32, t_max=20, eval_every=0, checkpoint_every=0)
    gain0 = train(TrainConfig(**base, da_gain=0.0), progress=False)
    blocked = train(TrainConfig(**base, manipulations=[
        {"target": "da_teaching", "action": "silence", "stage": "train"}]), progress=False)
    normal = train(TrainConfig(**base), progress=False)
    assert blocked.weight_hash() == gain0.weight_hash() != normal.weight_hash()


def test_a_manipulation_for_another_stage_is_an_error_not_a_silent_no_op():
    with pytest.raises(ValueError, match=r"stage: 'train' does not act in a run"):
        run("bandit_independent", episodes=2, manipulations=[
            {"target": "units", "action": "silence", "units": [0], "stage": "train"}])
    from pfcda.circuit.config import CircuitConfig, TrainConfig
    from pfcda.circuit.train import train

    with pytest.raises(ValueError, match=r"stage: 'test' does not act in training"):
        train(TrainConfig(circuit=CircuitConfig(), steps=640, batch_size=32, eval_every=0,
                          manipulations=[{"target": "units", "action": "silence", "units": [0]}]),
              progress=False)


def test_rewarded_and_unrewarded_events_are_outcomes_only():
    rec = run("twostep_miller", episodes=5, seed=0, manipulations=[
        {"target": "units", "action": "scale", "value": 1.0, "units": [0], "event": "unrewarded"}])
    s = rec.steps
    flag = s["manipulation_active"][:, 0]
    prev_unrewarded_outcome = np.r_[False, (s["phase"][:-1] == 2) & (s["reward"][:-1] == 0)
                                    & (s["episode"][1:] == s["episode"][:-1])]
    assert np.array_equal(flag, prev_unrewarded_outcome)
    assert flag.any() and not flag[s["phase"] != 0].any()  # acts only at the next fixation
