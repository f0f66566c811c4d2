"""The Stopper et al. 2014 risk task (Sim 6): levers, forced/free trials, events, presets."""
import pytest
import torch

from pfcda.circuit.manipulations import Manipulation
from pfcda.protocols.stopper import FIXATE, LEFT, PRESETS, RIGHT, StopperTask


def _play(task, B=400, seed=0, prefer_risky=True):
    g = torch.Generator().manual_seed(seed)
    obs = task.reset(B, g)
    out = []
    for _ in range(task.trials):
        r = task.step(torch.full((B,), FIXATE))
        assert torch.all(r.reward == 0)
        obs = r.obs
        avail = obs[:, 1:].bool()
        risky = torch.where(task.params["risky_side"] == 0, LEFT, RIGHT)
        safe = torch.where(task.params["risky_side"] == 0, RIGHT, LEFT)
        want = risky if prefer_risky else safe
        both = avail.all(1)
        forced_side = torch.where(avail[:, 0], LEFT, RIGHT)
        r = task.step(torch.where(both, want, forced_side))
        out.append(r)
    return out


def test_forced_then_free_and_rewards():
    task = StopperTask()
    res = _play(task)
    forced = torch.stack([r.info["forced"] for r in res], 1)
    assert forced[:, :10].all() and not forced[:, 10:].any()
    risky = torch.stack([r.info["risky_chosen"] for r in res], 1)
    # forced trials: exactly 5 of each lever, one of each in every pair
    assert torch.all(risky[:, :10].sum(1) == 5)
    assert torch.all(risky[:, 0:10:2] ^ risky[:, 1:10:2])
    rew = torch.stack([r.reward for r in res], 1)
    p = res[0].info["p"]
    assert set(rew[~risky].unique().tolist()) == {1.0}
    assert set(rew[risky].unique().tolist()) <= {0.0, 4.0}
    for pv in (0.125, 0.5):
        m = (p == pv).unsqueeze(1) & risky
        assert abs(float((rew[m] == 4).float().mean()) - pv) < 0.03
    assert abs(float((p == 0.5).float().mean()) - 0.5) < 0.08
    assert abs(float((res[0].info["risky_side"] == 0).float().mean()) - 0.5) < 0.08


def test_unavailable_lever_and_no_press_are_invalid():
    task = StopperTask(p_risky=1.0)
    task.reset(3, torch.Generator().manual_seed(1))
    task.step(torch.full((3,), FIXATE))
    trial_lever = task.params["forced"][:, 0]  # 1: risky is the forced lever
    avail_side = torch.where(trial_lever == 1, task.params["risky_side"], 1 - task.params["risky_side"])
    wrong = torch.where(avail_side == 0, RIGHT, LEFT)
    right = torch.where(avail_side == 0, LEFT, RIGHT)
    r = task.step(torch.stack([wrong[0], torch.tensor(FIXATE), right[2]]))
    assert r.reward[0] == -1 and r.reward[1] == -1 and r.reward[2] in (1.0, 4.0)
    assert r.info["error"].tolist() == [True, True, False]


def test_events_and_presets():
    task = StopperTask()
    res = _play(task, B=50)
    r = res[-1]
    ev = task.event_flags(torch.zeros(50, dtype=torch.long), r)
    assert torch.equal(ev["risky_rewarded"], r.info["risky_chosen"] & (r.reward == 4))
    assert torch.equal(ev["risky_unrewarded"], r.info["risky_chosen"] & (r.reward == 0))
    assert torch.equal(ev["safe_rewarded"], r.info["safe_chosen"])
    for name, manips in PRESETS.items():
        for m in manips:
            assert Manipulation.from_dict(m).target == "da_input", name
    with pytest.raises(ValueError, match="p_risky"):
        StopperTask(p_risky=2.0)
