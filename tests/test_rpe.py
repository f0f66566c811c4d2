"""The dopamine module: TD error and the n-step advantage, against hand computation."""
import pytest
import torch

from pfcda.dopamine.rpe import advantages, td_error, teaching_signal


def test_td_error_one_step():
    r = torch.tensor([1.0, 0.0])
    v = torch.tensor([0.5, 0.2])
    v_next = torch.tensor([0.3, 0.4])
    done = torch.tensor([False, True])
    d = td_error(r, v, v_next, done, gamma=0.9)
    assert torch.allclose(d, torch.tensor([1.0 + 0.9 * 0.3 - 0.5, 0.0 - 0.2]))


def test_nstep_advantage_matches_bootstrapped_return():
    # T = 3, B = 1: R_0 = r0 + γ r1 + γ² r2 + γ³ V(s3)
    g = 0.9
    r = torch.tensor([[1.0], [0.0], [1.0]])
    v = torch.tensor([[0.2], [0.4], [0.6]])
    boot = torch.tensor([0.5])
    done = torch.zeros(3, 1, dtype=torch.bool)
    adv, ret = advantages(r, v, boot, done, g, lam=1.0)
    R0 = 1 + g * 0 + g ** 2 * 1 + g ** 3 * 0.5
    R1 = 0 + g * 1 + g ** 2 * 0.5
    R2 = 1 + g * 0.5
    assert torch.allclose(ret[:, 0], torch.tensor([R0, R1, R2]))
    assert torch.allclose(adv, ret - v)


def test_no_bootstrap_across_episode_end():
    g = 0.9
    r = torch.tensor([[1.0], [1.0]])
    v = torch.tensor([[0.0], [0.0]])
    done = torch.tensor([[True], [False]])
    adv, ret = advantages(r, v, torch.tensor([10.0]), done, g)
    assert ret[0, 0] == pytest.approx(1.0)  # episode ended at step 0
    assert ret[1, 0] == pytest.approx(1.0 + g * 10.0)


def test_gae_lambda_zero_is_td_error():
    g = 0.9
    r = torch.rand(5, 3)
    v = torch.rand(5, 3)
    boot = torch.rand(3)
    done = torch.zeros(5, 3, dtype=torch.bool)
    adv, _ = advantages(r, v, boot, done, g, lam=0.0)
    nxt = torch.cat([v[1:], boot[None]])
    assert torch.allclose(adv, td_error(r, v, nxt, done, g))


def test_teaching_signal_gain_and_bad_gamma():
    a = torch.tensor([1.0, -2.0])
    assert torch.equal(teaching_signal(a, 0.0), torch.zeros(2))
    with pytest.raises(ValueError, match="gamma"):
        advantages(a[None], a[None], a, torch.zeros(1, 2, dtype=torch.bool), gamma=1.5)
