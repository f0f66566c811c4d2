"""The two-step task (Sim 4): timeline, transitions, reward schedules, reference agents and
analyses checked on agents whose answer is known."""
import numpy as np
import pytest
import torch

from pfcda.protocols.twostep import (
    FIXATE,
    LEFT,
    RIGHT,
    TwoStepTask,
    load_schedule,
    miller_glm,
    rpe_regression,
    stay_probabilities,
)
from pfcda.protocols.twostep import agents as A


def _play(task, trials, batch=256, seed=0, choose=None):
    """Valid play: fixate, a first-stage choice (random unless ``choose``), a valid outcome
    response. Returns rewards [B, steps] and the infos."""
    g = torch.Generator().manual_seed(seed)
    task.reset(batch, g)
    rewards, infos = [], []
    for _ in range(trials):
        for phase in range(3):
            if phase == 0:
                a = torch.full((batch,), FIXATE)
            elif phase == 1:
                a = choose() if choose else 1 + torch.randint(2, (batch,), generator=g)
            else:
                a = torch.full((batch,), FIXATE) if task.variant == "miller" else \
                    1 + torch.randint(2, (batch,), generator=g)
            r = task.step(a)
            rewards.append(r.reward)
            infos.append(r.info)
    return torch.stack(rewards, 1), infos


@pytest.mark.parametrize("variant,p_common", [("miller", 0.8), ("daw", 0.7)])
def test_transitions_are_common_with_the_variants_probability(variant, p_common):
    task = TwoStepTask(variant)
    rewards, infos = _play(task, 40)
    assert rewards.min() >= 0  # valid play is never punished
    common = torch.stack([i["common"] for i in infos[2::3]]).float().mean()
    assert abs(float(common) - p_common) < 0.02
    # left leads to state 1 on common transitions
    out = infos[2::3]
    c = torch.stack([i["choice"] for i in out])
    s = torch.stack([i["state"] for i in out])
    com = torch.stack([i["common"] for i in out])
    assert torch.equal(com, c == s)


def test_miller_rewards_follow_the_rich_state_and_swap_at_2_5_percent():
    task = TwoStepTask("miller")
    p = task.sample_params(2000, torch.Generator().manual_seed(1))["probs"]
    p1 = p[:, :, 0, 0]
    assert np.allclose(np.unique(p1.numpy()), [0.1, 0.9])
    assert torch.allclose(p[:, :, 1, 0], 1 - p1) and torch.equal(p[..., 0], p[..., 1])
    swap = (p1[:, 1:] != p1[:, :-1]).float().mean()
    assert abs(float(swap) - 0.025) < 0.002
    rewards, infos = _play(task, 100, batch=512)
    state = torch.stack([i["state"] for i in infos[2::3]], 1)
    probs = torch.stack([i["probs"] for i in infos[2::3]], 1)  # [B, T, 4]
    p_state = torch.where(state == 0, probs[..., 0], probs[..., 2])
    win = rewards[:, 2::3]
    assert abs(float(win[p_state > 0.5].mean()) - 0.9) < 0.01
    assert abs(float(win[p_state < 0.5].mean()) - 0.1) < 0.01


def test_daw_random_walks_stay_in_bounds_with_sd_0_025():
    p = TwoStepTask("daw").sample_params(500, torch.Generator().manual_seed(2))["probs"]
    assert p.shape == (500, 201, 2, 2)
    assert float(p.min()) >= 0.25 and float(p.max()) <= 0.75
    steps = (p[:, 1:] - p[:, :-1]).reshape(-1)
    inner = steps[steps.abs() < 0.1]
    assert abs(float(inner.std()) - 0.025) < 0.003


def test_invalid_responses_are_punished_and_void_the_reward():
    task = TwoStepTask("miller")
    task.reset(2, torch.Generator().manual_seed(0))
    r = task.step(torch.tensor([FIXATE, LEFT]))  # episode 1 breaks fixation
    assert r.reward.tolist() == [0.0, -1.0]
    r = task.step(torch.tensor([LEFT, FIXATE]))  # episode 1: no choice at the choice cue
    assert r.reward.tolist() == [0.0, -1.0]
    task.params["probs"][:] = 1.0  # every outcome would pay
    r = task.step(torch.tensor([FIXATE, FIXATE]))
    assert r.reward.tolist() == [1.0, 0.0] and r.info["error"].tolist() == [False, True]
    r = task.step(torch.tensor([FIXATE, FIXATE]))
    task.step(torch.tensor([LEFT, LEFT]))
    r = task.step(torch.tensor([RIGHT, FIXATE]))  # a response other than the port: invalid
    assert r.reward.tolist() == [-1.0, 1.0]


def test_trial_feedback_encoding_carries_last_trial():
    task = TwoStepTask("miller", feedback="trial")
    assert task.obs_names[-4:] == ("last_choice_left", "last_choice_right", "last_state_1", "last_reward")
    task.reset(1, torch.Generator().manual_seed(0))
    task.params["probs"][:] = 1.0
    for a in (FIXATE, RIGHT):
        task.step(torch.tensor([a]))
    r = task.step(torch.tensor([FIXATE]))
    s = int(r.info["state"])
    assert r.obs[0, 4:].tolist() == [0.0, 1.0, float(s == 0), 1.0]


def test_lab_schedule_is_replayed_and_bad_files_are_named(tmp_path):
    good = tmp_path / "sched.csv"
    rows = np.column_stack([np.linspace(0.2, 0.8, 30)] * 4)
    np.savetxt(good, rows, delimiter=",", header="p1a,p1b,p2a,p2b", comments="")
    task = TwoStepTask("daw", schedule=str(good))
    assert task.trials == 30
    p = task.sample_params(3, torch.Generator())["probs"]
    assert torch.allclose(p[1, :, 1, 0], torch.tensor(rows[:, 2], dtype=torch.float32))
    bad = tmp_path / "bad.csv"
    rows[4, 1] = 1.5
    np.savetxt(bad, rows, delimiter=",", header="p1a,p1b,p2a,p2b", comments="")
    with pytest.raises(ValueError, match=r"bad.csv: row 5: probabilities must be in \[0, 1\]"):
        load_schedule(str(bad))
    missing = tmp_path / "missing.csv"
    np.savetxt(missing, rows[:, :3], delimiter=",", header="p1a,p1b,p2a", comments="")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['p2b'\]"):
        load_schedule(str(missing))
    four = tmp_path / "sched4.csv"
    rows4 = np.column_stack([np.linspace(0.2, 0.8, 30), np.linspace(0.8, 0.2, 30)] * 2)
    np.savetxt(four, rows4, delimiter=",", header="p1a,p1b,p2a,p2b", comments="")
    with pytest.raises(ValueError, match="variant 'daw'"):
        TwoStepTask("miller", schedule=str(four))


# ------------------------------------------------------------------------ agents, analyses
def _simulate(w, variant="miller", episodes=300, seed=0, beta=5.0, params=None):
    task = TwoStepTask(variant)
    probs = task.sample_params(episodes, torch.Generator().manual_seed(seed))["probs"].numpy()
    p = params or [0.6, 0.6, 1.0, beta, beta, 0.0, w]  # λ = 1: the pure MF pattern
    return A.simulate_hybrid(p, probs, task.p_common, seed=seed)


def test_stay_pattern_and_glm_separate_model_based_from_model_free_agents():
    mb, mf = stay_probabilities(_simulate(1.0)), stay_probabilities(_simulate(0.0))
    v = lambda s, t: s[t]["value"]  # noqa: E731
    # model-based: reward × transition interaction; model-free: main effect of reward
    assert v(mb, "CR") > v(mb, "CU") + 0.2 and v(mb, "UU") > v(mb, "UR") + 0.2
    assert v(mf, "CR") > v(mf, "CU") + 0.2 and v(mf, "UR") > v(mf, "UU") + 0.2
    g_mb, g_mf = miller_glm(_simulate(1.0)), miller_glm(_simulate(0.0))
    assert g_mb["coef"]["CR_lag1"][0] > 0 and g_mb["coef"]["UU_lag1"][0] > 0
    assert g_mb["coef"]["CU_lag1"][0] < 0 and g_mb["coef"]["UR_lag1"][0] < 0
    assert g_mb["mb_index"] > 2 * abs(g_mb["mf_index"])
    assert g_mf["mf_index"] > 2 * abs(g_mf["mb_index"])


def test_hybrid_fit_recovers_the_model_based_weight():
    for w in (0.2, 0.8):
        data = _simulate(w, "daw", episodes=25, seed=int(w * 10), params=[0.5, 0.5, 0.6, 5.0, 5.0, 0.3, w])
        fit = A.fit_hybrid(data, 0.7, starts=1)
        assert abs(fit["params"]["w"] - w) < 0.15, fit["params"]
        assert 0.5 < fit["likelihood_per_choice"] < 1.0


def test_rpe_regression_tells_model_based_from_model_free_rpes():
    data = _simulate(1.0, episodes=50)
    mb = A.model_based(data, "miller")
    mf = A.model_free(data, 0.5, 0.5, 0.0)
    ok = np.ones(mb["rpe_reward"].shape, bool)
    rng = np.random.default_rng(0)
    noise = lambda: 0.05 * rng.standard_normal(ok.shape)  # noqa: E731
    on_mb = rpe_regression(mb["rpe_arrival"] + noise(), mb["rpe_reward"] + noise(), mb, mf, ok)
    on_mf = rpe_regression(mf["rpe_arrival"] + noise(), mf["rpe_reward"] + noise(), mb, mf, ok)
    assert on_mb["r2_model_based"] > 0.95 and on_mb["r2_model_free_orth"] < 0.01
    assert on_mf["r2_model_free_orth"] > 0.1
    # the planner's belief follows the rich state
    rich = (data["state"] == 0).reshape(50, -1)  # not the truth; check belief in [0, 1]
    assert mb["p_rich"].shape == rich.shape and mb["p_rich"].min() >= 0 and mb["p_rich"].max() <= 1


def test_bayesian_planner_tracks_the_latent_rich_state():
    task = TwoStepTask("miller")
    probs = task.sample_params(200, torch.Generator().manual_seed(5))["probs"].numpy()
    data = A.simulate_hybrid([0.5, 0.5, 0.5, 5.0, 5.0, 0.0, 1.0], probs, 0.8, seed=5)
    mb = A.model_based(data, "miller")
    truth = probs[:, :, 0, 0] > 0.5
    acc = ((mb["p_rich"] > 0.5) == truth)[:, 10:].mean()
    assert acc > 0.85


def test_glm_of_a_short_run_with_a_singular_design_falls_back_to_ridge():
    """A short run in which a trial type never occurs at some lag makes the design singular: the
    GLM says so (ridge fit, no standard errors) rather than raising numpy's LinAlgError."""
    data = _simulate(1.0, episodes=300)
    data = {k: np.asarray(v) for k, v in data.items()}
    data["reward"] = np.ones_like(data["reward"])  # never unrewarded: the CU/UU columns are all 0
    g = miller_glm(data)
    assert g["separation"] is True and all(se is None for _, se in g["coef"].values())
    assert g["coef"]["CU_lag1"][0] == pytest.approx(0.0, abs=1e-6)
