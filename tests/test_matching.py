"""The baited matching task (Sim 1) and its analyses, on known ground truth."""
import numpy as np
import pytest
import torch

from pfcda.protocols import matching
from pfcda.protocols.matching import FIXATE, LEFT, RIGHT, MatchingTask


def _play(task, choices_per_trial, batch=4000, seed=0):
    """Play a fixed sequence of choices (one per trial) in every episode; returns choice-step
    rewards [trials, batch]."""
    g = torch.Generator().manual_seed(seed)
    task.reset(batch, g)
    out = []
    for c in choices_per_trial:
        task.step(torch.full((batch,), FIXATE))
        out.append(task.step(torch.full((batch,), c)).reward)
    return torch.stack(out)


@pytest.mark.parametrize("n", [0, 2, 5])
def test_baiting_formula(n):
    # an arm left unchosen for n trials pays with probability 1 − (1 − p0)^(n+1)
    p0 = 0.3  # right arm
    task = MatchingTask(p0_right=p0, min_trials=20, max_trials=20)
    seq = [RIGHT] + [LEFT] * n + [RIGHT]
    r = _play(task, seq)
    assert float(r[-1].mean()) == pytest.approx(1 - (1 - p0) ** (n + 1), abs=0.025)


def test_invalid_responses_cost_one_and_episode_lengths():
    task = MatchingTask(min_trials=3, max_trials=3)
    g = torch.Generator().manual_seed(1)
    task.reset(2, g)
    r = task.step(torch.tensor([LEFT, FIXATE]))  # fixation phase: only `fixate` is valid
    assert r.reward.tolist() == [-1.0, 0.0]
    r = task.step(torch.tensor([FIXATE, LEFT]))  # choice phase: `fixate` is invalid
    assert r.reward[0] == -1.0
    dones = [bool(task.step(torch.tensor([FIXATE, FIXATE]) if k % 2 == 0 else torch.tensor([LEFT, LEFT])).done.all())
             for k in range(4)]
    assert dones == [False, False, False, True]  # 3 trials × 2 steps


def test_split_ranges():
    g = torch.Generator().manual_seed(2)
    tr = MatchingTask("train").sample_params(5000, g)["p0"][:, 1]
    ho = MatchingTask("heldout").sample_params(5000, g)["p0"][:, 1]
    in_heldout = lambda p: ((p > 0.1) & (p < 0.2)) | ((p > 0.3) & (p < 0.4))  # noqa: E731
    assert not bool(in_heldout(tr).any()) and bool(in_heldout(ho).all())
    p = MatchingTask("all").sample_params(100, g)
    assert torch.allclose(p["p0"].sum(1), torch.full((100,), 0.5))
    assert int(p["n_trials"].min()) >= 50 and int(p["n_trials"].max()) <= 100
    with pytest.raises(ValueError, match="split"):
        MatchingTask("test")


def _synthetic_trials(n_ep=300, T=100, w_rew=1.5, w_choice=0.8, seed=0):
    """Choices from a known logistic model of lag-1 reward and choice history."""
    rng = np.random.default_rng(seed)
    rows = {k: [] for k in ("episode", "trial", "choice", "reward")}
    for e in range(n_ep):
        prev_side, prev_rew = 0.0, 0.0
        p_r = rng.uniform(0.1, 0.9)
        for t in range(T):
            z = w_rew * prev_side * prev_rew + w_choice * prev_side
            right = rng.random() < 1 / (1 + np.exp(-z))
            rew = float(rng.random() < (p_r if right else 1 - p_r))
            for k, v in zip(rows, (e, t, RIGHT if right else LEFT, rew)):
                rows[k].append(v)
            prev_side, prev_rew = (1.0 if right else -1.0), rew
    return {k: np.array(v) for k, v in rows.items()}


def test_lag_regression_recovers_weights():
    tr = _synthetic_trials()
    lag = matching.lag_regression(tr, n_lags=5)
    assert lag["reward"][0] == pytest.approx(1.5, abs=0.2)
    assert lag["choice"][0] == pytest.approx(0.8, abs=0.2)
    assert np.all(np.abs(lag["reward"][1:]) < 0.25)


def test_matching_slope_of_a_matcher():
    # choice ratios equal to reward ratios (with noise) give slope ≈ 1
    rng = np.random.default_rng(0)
    rows = {k: [] for k in ("episode", "trial", "choice", "reward")}
    for e in range(200):
        q = rng.uniform(0.2, 0.8)
        right = rng.random(400) < q
        rew = np.where(right, rng.random(400) < 0.5, rng.random(400) < 0.5)
        rows["episode"] += [e] * 400
        rows["trial"] += list(range(400))
        rows["choice"] += list(np.where(right, RIGHT, LEFT))
        rows["reward"] += list(rew.astype(float))
    m = matching.matching({k: np.array(v) for k, v in rows.items()})
    assert m["slope"] == pytest.approx(1.0, abs=0.15)


def test_partial_spearman_isolates_the_coded_factor():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(2000, 3))
    units = np.column_stack([np.exp(F[:, 0]) + 0.3 * rng.normal(size=2000), rng.normal(size=2000)])
    r, p = matching.partial_spearman(units, F)
    assert r[0, 0] > 0.8 and abs(r[0, 1]) < 0.1 and p[0, 0] < 1e-10
    assert np.all(np.abs(r[1]) < 0.1)
