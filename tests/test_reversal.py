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


def test_a_stopped_batch_resumes_identically_across_episode_restarts():
    # the episodes' course is tabulated at their start and rebuilt from the parameters on load:
    # a batch restored mid-episode continues exactly, through the next restarts as well
    g_act = torch.Generator().manual_seed(1)
    actions = torch.randint(3, (120, 16), generator=g_act)
    a = ReversalTask(blocks=2)
    a.reset(16, torch.Generator().manual_seed(4))
    for k in range(30):
        a.step(actions[k])
    b = ReversalTask(blocks=2)
    b.reset(16, torch.Generator().manual_seed(99))  # other episodes, replaced by the loaded state
    b.load_state_dict(a.state_dict())
    a.generator, b.generator = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(a._obs(), b._obs())
    for k in range(30, 120):  # 40 steps per episode: three restarts
        ra, rb = a.step(actions[k]), b.step(actions[k])
        assert torch.equal(ra.obs, rb.obs) and torch.equal(ra.reward, rb.reward)
        assert all(torch.equal(ra.info[key], rb.info[key]) for key in ra.info)
    # after the restarts the observations follow the new episodes' own cues
    _, infos = _play_correctly(ReversalTask(blocks=2), 120, batch=4)
    cues = torch.stack([i["cue"] for i in infos[1::4]], 1)
    assert cues.float().std() > 0
