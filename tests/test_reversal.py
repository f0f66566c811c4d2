"""The Bromberg-Martin reversal task (Sim 3): timeline, rewards, reversal bookkeeping."""
import numpy as np
import torch

from pfcda.protocols.reversal import FIXATE, ReversalTask


def _play_correctly(task, n_steps, batch=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    obs = task.reset(batch, g)
    rewards, infos = [], []
    for k in range(n_steps):
        phase = k % 4
        cue_right = obs[:, 2].long()
        a = (1 + cue_right) if phase == 2 else torch.full((batch,), FIXATE)
        r = task.step(a)
        rewards.append(r.reward)
        infos.append(r.info)
        obs = r.obs
    return torch.stack(rewards, 1), infos


def test_correct_play_earns_the_rewarded_cue_only():
    task = ReversalTask(blocks=4)
    rewards, infos = _play_correctly(task, 80)
    assert rewards.min() >= 0  # no invalid responses
    outcome = rewards[:, 3::4]
    cue = torch.stack([i["cue"] for i in infos[3::4]], 1)
    rew_cue = torch.stack([i["rewarded_cue"] for i in infos[3::4]], 1)
    assert torch.equal(outcome > 0, cue == rew_cue)


def test_invalid_response_is_punished_and_voids_the_reward():
    task = ReversalTask(blocks=1)
    task.reset(2, torch.Generator().manual_seed(0))
    task.step(torch.tensor([FIXATE, 1]))  # episode 1 breaks fixation
    task.step(torch.tensor([FIXATE, FIXATE]))
    cue = task.params["cues"][:, 0]
    task.step(torch.stack([1 + cue[0], 1 + cue[1]]))
    out = task.step(torch.tensor([FIXATE, FIXATE]))
    assert out.reward[1] == 0 and out.info["error"][1]
    assert out.reward[0] == float(cue[0] == task.params["rewarded"][0, 0]) and not out.info["error"][0]


def test_reversals_are_first_trials_of_switched_blocks():
    task = ReversalTask(blocks=10)
    p = task.sample_params(500, torch.Generator().manual_seed(3))
    switches = (p["rewarded"][:, 1:] != p["rewarded"][:, :-1]).float().mean()
    assert abs(float(switches) - 0.5) < 0.03
    _, infos = _play_correctly(task, 200, batch=8)
    rev = torch.stack([i["reversal"] for i in infos], 1).numpy()
    trial = torch.stack([i["trial"] for i in infos], 1).numpy()
    assert np.all(trial[rev] % 5 == 0) and not np.any(trial[rev] == 0)
