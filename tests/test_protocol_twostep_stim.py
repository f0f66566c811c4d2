"""The stimulation two-step task (Blanco-Pozo, Akam & Walton 2024): the mice's task and
stimulation schedule, the analyses on tables with a known answer, and the shipped actor-critic
circuits — model-based, the DA-input stimulation measured with its CI beside the mice's null
result, and the mechanism controls (the stimulation's DA blocked at the target changes no
choice, on the DA-input route and in the closed loop with the spiking DA population)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pfcda.protocols.twostep_stim import analysis as A
from pfcda.protocols.twostep_stim.task import (
    BLOCK_PROBS,
    NEUTRAL,
    NEUTRAL_LENGTH,
    PRESETS,
    StimTwoStepTask,
    forced_schedule,
    stim_schedule,
)


def test_stimulation_schedule_is_the_mice_codes():
    g = torch.Generator().manual_seed(0)
    stim = stim_schedule(4000, 200, g)
    frac = stim.float().mean().item()
    assert 0.135 < frac < 0.151  # 1 / (1 + 3 + 1/0.25 − 1) = 1/7 ≈ 0.143
    assert not stim[:, 0].any()
    for row in stim[:200].numpy():
        t = np.flatnonzero(row)
        assert np.all(np.diff(t) >= 4)  # at least 3 unstimulated trials after a stimulated one
    kind = forced_schedule(4000, 200, g, stim)
    assert not (kind[:, 1:] > 0)[stim[:, :-1]].any()  # the trial after a stimulated one is free
    forced = (kind > 0).float().mean().item()
    assert abs(forced - 0.25 * (1 - frac)) < 0.01  # a quarter of the bag, less the freed trials
    assert abs((kind == 1).float().mean().item() - (kind == 2).float().mean().item()) < 0.01


def _blocks(policy, B=128, trials=300, seed=1):
    """Block type and state 1's reward probability per trial [trials, B] under ``policy``
    ("oracle": always the good state's common side; "chance": a random side), with the forced
    side taken on forced trials."""
    g = torch.Generator().manual_seed(seed)
    task = StimTwoStepTask(trials=trials)
    task.reset(B, g)
    blocks, p1 = [], []
    for _ in range(3 * trials):
        trial, phase = task.clock()
        avail = task._available(trial.clamp(max=task.trials - 1))
        want = torch.where(task.block == 1, 2, 1) if policy == "oracle" else torch.randint(1, 3, (B,), generator=g)
        side = torch.where(avail[:, 0] & ~avail[:, 1], 1, torch.where(avail[:, 1] & ~avail[:, 0], 2, want))
        r = task.step(torch.where(phase == 1, side, 0))
        if bool((phase == 2).all()):
            blocks.append(r.info["block"].clone())
            p1.append(r.info["p_state1"].clone())
    return torch.stack(blocks).numpy(), torch.stack(p1).numpy()


def _lengths(blocks):
    out = {k: [] for k in range(3)}
    for e in range(blocks.shape[1]):
        x = blocks[:, e]
        cut = np.flatnonzero(np.diff(x)) + 1
        assert np.all(x[cut] != x[cut - 1])
        for a, b in list(zip(np.r_[0, cut], np.r_[cut, len(x)]))[1:-1]:  # complete blocks
            out[int(x[a])].append(b - a)
    return out


def test_blocks_follow_performance_and_the_neutral_blocks_last_20_to_30_trials():
    blocks, p1 = _blocks("oracle")
    assert {round(float(v), 2) for v in np.unique(p1)} <= {p for pair in BLOCK_PROBS for p in pair}
    lengths = _lengths(blocks)
    lo, hi = NEUTRAL_LENGTH
    assert lengths[NEUTRAL] and min(lengths[NEUTRAL]) >= lo and max(lengths[NEUTRAL]) <= hi
    for k in (0, 1):
        # a perfect agent crosses the 0.75 criterion within a few trials, then 5–15 more
        assert len(lengths[k]) > 50 and 5 < np.median(lengths[k]) <= 30 and min(lengths[k]) > 5
    # a chance agent seldom reaches the criterion: few of its good-state blocks end
    chance = _lengths(_blocks("chance")[0])
    assert len(chance[0]) + len(chance[1]) < (len(lengths[0]) + len(lengths[1])) / 4


def _table(n_ep, trials, stay_fn, seed=0):
    """A synthetic trials table: random transitions and outcomes, the task's schedule of
    stimulated trials, and a next choice drawn from ``stay_fn(common, rewarded, stim)``."""
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    stim = stim_schedule(n_ep, trials, g).numpy()
    common = rng.random((n_ep, trials)) < 0.8
    rewarded = rng.random((n_ep, trials)) < 0.5
    choice = np.zeros((n_ep, trials), int)
    choice[:, 0] = rng.integers(2, size=n_ep)
    for t in range(1, trials):
        p = stay_fn(common[:, t - 1], rewarded[:, t - 1], stim[:, t - 1])
        stay = rng.random(n_ep) < p
        choice[:, t] = np.where(stay, choice[:, t - 1], 1 - choice[:, t - 1])
    n = n_ep * trials
    return {"episode": np.repeat(np.arange(n_ep), trials), "choice": choice.reshape(-1),
            "common": common.reshape(-1), "reward": rewarded.reshape(-1).astype(float),
            "stim": stim.reshape(-1), "error": np.zeros(n, bool), "forced": np.zeros(n, bool),
            "block": np.zeros(n, int), "correct": rng.random(n) < 0.5}


def _mb(common, rewarded):
    return np.where(common == rewarded, 0.8, 0.4)  # model-based: CR and UU stay, CU and UR switch


def test_analysis_recovers_a_reward_like_stimulation_and_a_null_one():
    like_reward = _table(400, 200, lambda c, r, s: _mb(c, r | s))
    null = _table(400, 200, lambda c, r, s: _mb(c, r), seed=1)
    a, b = A.stim_effect(like_reward), A.stim_effect(null)
    # stimulation as reward: unrewarded trials become rewarded ones: CU 0.4 → 0.8, UU 0.8 → 0.4
    assert a["stim"]["CU"] - a["nostim"]["CU"] > 0.3 and a["nostim"]["UU"] - a["stim"]["UU"] > 0.3
    assert abs(a["effect"]) < 0.05  # the mean over the four cells cancels in a model-based agent …
    reg = A.regression(like_reward)
    lo, hi = reg["transition:stim"]["ci"]
    assert lo > 0.5  # … but the transition × stim term shows it (the mice's model-based test)
    assert abs(a["like_reward"] - 1.0) < 0.15 and a["like_reward_ci"][0] > 0.7  # as a reward
    assert b["like_reward_ci"][0] < 0 < b["like_reward_ci"][1]
    assert b["ci"][0] < 0 < b["ci"][1] and abs(b["effect"]) < 0.03
    rn = A.regression(null)
    for t in ("stim", "outcome:stim", "transition:stim", "outcome:transition:stim"):
        assert rn[t]["ci"][0] < 0 < rn[t]["ci"][1], t
    assert b["mb_interaction"] > 0.7  # (0.8 − 0.4) − (0.4 − 0.8)


def test_a_table_without_the_stimulation_columns_is_one_clear_error():
    from pfcda.errors import LabDataError

    table = _table(2, 20, lambda c, r, s: _mb(c, r))
    del table["stim"]
    with pytest.raises(LabDataError, match="stim"):
        A.stim_effect(table)


def test_presets_are_valid_manipulations():
    from pfcda.circuit.manipulations import Manipulation

    for name, ms in PRESETS.items():
        for m in ms:
            Manipulation(**m)


# --------------------------------------------------------------- the shipped circuits
CONDITIONS = ("control", "da_input_outcome", "da_input_second_step")
EPISODES = 300


@pytest.fixture(scope="module")
def runs():
    """Both shipped circuits, frozen, the same 300 episodes (seed 0) in every condition:
    ``twostep_stim`` (the outcome also observed, feedback "trial") and ``twostep_stim_da_only``
    (the outcome reaches the PFC actor only as the critic's RPE)."""
    from pfcda.circuit.run import run_conditions

    return {ck: run_conditions(ck, {c: PRESETS[c] for c in CONDITIONS}, episodes=EPISODES, seed=0)
            for ck in ("twostep_stim", "twostep_stim_da_only")}


@pytest.mark.parametrize("ck", ["twostep_stim", "twostep_stim_da_only"])
def test_the_circuits_are_model_based(runs, ck):
    """The mice's task shows model-based stay probabilities (Akam et al. 2021): a reward after a
    common transition and no reward after a rare one repeat the choice; the other two switch."""
    e = A.stim_effect(runs[ck]["control"].trials)
    s = e["nostim"]
    assert e["mb_interaction"] > 0.5, s
    assert s["CR"] > s["CU"] + 0.2 and s["UU"] > s["UR"] + 0.2, s


def test_outcome_stimulation_acts_as_a_reward_only_where_the_outcome_reaches_pfc_as_da(runs):
    """Blanco-Pozo et al. 2024: DA activation at the outcome did not change the mice's next
    choice. The circuit whose PFC observes the outcome: +1 on its DA input at the outcome acts
    as a small fraction of a reward (within the null criterion, a quarter of a reward); the
    circuit whose outcome arrives only as DA treats it as most of a reward — the RPE-as-input
    account's prediction the mice contradict."""
    seen = A.stim_effect(runs["twostep_stim"]["da_input_outcome"].trials)
    da_only = A.stim_effect(runs["twostep_stim_da_only"]["da_input_outcome"].trials)
    assert 0.0 < seen["like_reward_ci"][0] and seen["like_reward_ci"][1] < 0.25, seen
    assert da_only["like_reward_ci"][0] > 0.4, da_only
    assert da_only["like_reward"] > seen["like_reward"] + 0.3
    # stimulated after no reward, the DA-only circuit repeats a commonly-reached choice (as after a
    # reward) and leaves a rarely-reached one: the model-based signature of a reward
    assert da_only["stim"]["CU"] > da_only["nostim"]["CU"] + 0.2
    assert da_only["stim"]["UU"] < da_only["nostim"]["UU"] - 0.1
    reg = A.regression(runs["twostep_stim_da_only"]["da_input_outcome"].trials)
    assert reg["transition:stim"]["ci"][0] > 0


@pytest.mark.parametrize("ck", ["twostep_stim", "twostep_stim_da_only"])
def test_without_stimulation_the_stimulated_trials_are_ordinary(runs, ck):
    """The control run's "stimulated" trials (the schedule, no light): no effect, so an effect
    elsewhere is the stimulation's, not the trials' selection."""
    e = A.stim_effect(runs[ck]["control"].trials)
    assert e["like_reward_ci"][0] < 0 < e["like_reward_ci"][1] or abs(e["like_reward"]) < 0.05, e


@pytest.mark.parametrize("ck", ["twostep_stim", "twostep_stim_da_only"])
def test_second_step_cue_stimulation_is_small(runs, ck):
    """At the second-step cue the RPE input is read before the outcome replaces it: measured
    ≤ 0.05 of a reward in both circuits (the mice's result at this time point was not found)."""
    e = A.stim_effect(runs[ck]["da_input_second_step"].trials)
    assert abs(e["like_reward"]) < 0.15, e


@pytest.mark.parametrize("ck", ["twostep_stim", "twostep_stim_da_only"])
def test_stimulation_blocked_at_the_target_changes_no_choice(ck):
    """Mechanism: the stimulation's RPE silenced downstream (at the actor's input) leaves every
    choice as with the input silenced alone; unblocked, the same stimulation changes choices."""
    from pfcda.circuit.run import run_conditions

    r = run_conditions(ck, {c: PRESETS[c] for c in ("control", "da_input_outcome", "da_input_silenced",
                                                     "da_input_silenced_outcome")}, episodes=40, seed=0)
    blocked, silenced = r["da_input_silenced_outcome"].trials, r["da_input_silenced"].trials
    assert np.array_equal(blocked["choice"], silenced["choice"])
    assert np.array_equal(r["da_input_silenced_outcome"].steps["rpe_input"], r["da_input_silenced"].steps["rpe_input"])
    assert not np.array_equal(r["da_input_outcome"].trials["choice"], r["control"].trials["choice"])


def test_chr2_in_the_closed_loop_bursts_the_da_population_and_d1_blockade_removes_its_effect():
    """The spiking DA population (closed loop): ChR2 light at 25 Hz on the stimulated outcomes
    raises its firing; with D1 fully blocked at the target the light changes no choice."""
    pytest.importorskip("brian2")
    from pfcda.circuit.run import run

    kw = dict(episodes=4, seed=0, batch_size=4, closed_loop=True, task_overrides={"trials": 20})
    lit_run = run("twostep_stim_da_only", manipulations=PRESETS["chr2_outcome_d1_blocked"], **kw)
    dark = run("twostep_stim_da_only", manipulations=PRESETS["d1_blocked"], **kw)
    assert np.array_equal(lit_run.trials["choice"], dark.trials["choice"])
    lit = lit_run.steps["manipulation_active"][:, 0]
    assert lit.any() and np.all(dark.steps["rpe_input"] == 0)
    assert lit_run.steps["da_rate_hz"][lit].mean() > dark.steps["da_rate_hz"][lit].mean() + 2
