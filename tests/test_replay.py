"""Replaying the lab's own schedules against the shipped, frozen circuits."""
import numpy as np
import pytest

from pfcda.circuit.io.recording import read_recording
from pfcda.circuit.lab.replay import replay
from pfcda.protocols.labdata import load
from pfcda.protocols.matching.lab import schedule as matching_schedule
from pfcda.protocols.twostep import stay_probabilities


@pytest.fixture(scope="module")
def rats_replay(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("replay") / "rats.h5")
    replay("twostep_miller", "rats", out, seed=0)
    return read_recording(out), load("rats")


def test_rats_sessions_replayed_trial_by_trial(rats_replay):
    rec, rats = rats_replay
    tr = rec.trials
    # one episode per session, with the session's own number of trials
    assert rec.attrs["n_episodes"] == len(np.unique(rats["episode"])) == 52
    assert np.array_equal(np.bincount(tr["episode"]), np.bincount(rats["episode"]))
    # the transitions the rats experienced, trial by trial
    assert np.array_equal(tr["common"], rats["common"])
    # each trial's reward probabilities, in the task's frame (state 0 = the port a left choice
    # reaches commonly: the right port for the incongruent rats)
    per_rat = {s: np.mean((rats["port"] == rats["state"])[(rats["subject"] == s) & (rats["port"] >= 0)])
               for s in np.unique(rats["subject"])}
    incongruent = np.array([per_rat[s] < 0.5 for s in rats["subject"]])
    assert incongruent.any() and (~incongruent).any()
    expected = np.where(incongruent, rats["p_right"], rats["p_left"])
    np.testing.assert_allclose(tr["p1a"], expected, atol=1e-6)


def test_circuit_on_the_rats_schedules_plans(rats_replay):
    """On the rats' own block reversals and transitions (sessions of ~700 trials, 7× the trained
    episode length) the frozen circuit keeps the model-based stay pattern and earns more than
    the rats did (measured 0.643 vs 0.578)."""
    rec, rats = rats_replay
    st = stay_probabilities(rec.trials)
    assert st["CR"]["value"] - st["UR"]["value"] > 0.2
    assert st["UU"]["value"] - st["CU"]["value"] > 0.2
    ok = ~rec.trials["error"]
    assert rec.trials["reward"][ok].mean() > rats["reward"][~rats["error"]].mean()


def test_mice_sessions_replayed_with_their_baiting(tmp_path):
    mice = load("mice")
    # baiting inferred per session from the bait columns: only session 703548 kept its baits
    baited = {s: bool(mice["baited"][mice["session"] == s][0]) for s in np.unique(mice["session"])}
    assert baited == {s: s.startswith("703548") for s in baited}
    sched, _ = matching_schedule(mice)
    assert sched.groupby("episode")["baited"].first().tolist() == [baited[s] for s in
                                                                   dict.fromkeys(mice["session"])]
    out = str(tmp_path / "mice.h5")
    replay("matching", "mice", out, seed=0)
    tr = read_recording(out).trials
    assert np.array_equal(np.bincount(tr["episode"]), np.bincount(mice["episode"]))
    np.testing.assert_allclose(tr["p0_left"], mice["p_left"], atol=1e-6)
    np.testing.assert_allclose(tr["p0_right"], mice["p_right"], atol=1e-6)


def test_unbaited_schedule_does_not_keep_baits(tmp_path):
    """A left arm of base probability 0.5, left alone for 10 trials and then chosen: in a baited
    session the bait has almost surely been set and kept (P = 1 − 0.5¹¹), in an unbaited one it
    pays with its base probability, 0.5."""
    import torch

    from pfcda.protocols.matching import MatchingTask

    path = tmp_path / "s.csv"
    rows = ["episode,p_left,p_right,baited"] + ["0,0.5,0.0,0"] * 11 + ["1,0.5,0.0,1"] * 11
    path.write_text("\n".join(rows) + "\n")
    task = MatchingTask(schedule=str(path))
    n = 2000
    task.reset(n, torch.Generator().manual_seed(0))  # episodes alternate sessions 0, 1, 0, …
    for t in range(11):
        task.step(torch.zeros(n, dtype=torch.long))  # fixate
        res = task.step(torch.full((n,), 2 if t < 10 else 1))  # right ×10, then left
    paid = res.reward.view(-1, 2).mean(0)
    assert abs(paid[0].item() - 0.5) < 0.05 and paid[1].item() > 0.99
    bad = tmp_path / "bad.csv"
    bad.write_text("p_left,p_right\n0.2,1.4\n")
    with pytest.raises(ValueError, match=r"bad.csv: column 'p_right', row 1: expected a probability"):
        MatchingTask(schedule=str(bad))


def _hbayesdm(shared_dir, name):
    import os

    return os.path.join(shared_dir, "labdata", "hbayesdm_examples", name)


def test_hbayesdm_files_are_recognised(shared_dir):
    """hBayesDM's layouts (GPL-3 example data, read from ../shared, never bundled) load through
    the named mappings: the human two-step stays are the data README's (0.86 / 0.74 / 0.59 /
    0.80 for rewarded-common / rewarded-rare / unrewarded-common / unrewarded-rare)."""
    ts = load(_hbayesdm(shared_dir, "ts_exampleData.txt"))
    assert ts["_excluded"]["total_trials"] == len(ts["choice"]) == 2190
    st = stay_probabilities(ts)
    for k, v in (("CR", 0.86), ("UR", 0.74), ("CU", 0.59), ("UU", 0.80)):
        assert abs(st[k]["value"] - v) < 0.01, k
    bandit = load(_hbayesdm(shared_dir, "bandit2arm_exampleData.txt"))
    assert len(np.unique(bandit["episode"])) == 20 and set(np.unique(bandit["reward"])) == {0.0, 1.0}


def test_daw_circuit_on_the_humans_schedules(shared_dir, tmp_path):
    """The humans' own drifting probabilities and transitions replayed against the frozen daw
    circuit: exact per trial, and the circuit shows the model-based interaction on them
    (measured: stays CR 0.98, UR 0.93, CU 0.92, UU 0.98; reward rate 0.61, humans 0.57)."""
    path = _hbayesdm(shared_dir, "ts_exampleData.txt")
    rec = replay("twostep_daw", path, str(tmp_path / "h.h5"), seed=0)
    hum = load(path)
    tr = rec.trials
    assert np.array_equal(tr["common"], hum["common"])
    for k in ("p1a", "p1b", "p2a", "p2b"):
        np.testing.assert_allclose(tr[k], hum[k], atol=1e-5)
    st = {k: v["value"] for k, v in stay_probabilities(tr).items()}
    assert (st["CR"] - st["UR"]) + (st["UU"] - st["CU"]) > 0.05
    assert tr["reward"][~tr["error"]].mean() > 0.55
