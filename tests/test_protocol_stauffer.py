"""The stimulation-paired choice task (Stauffer, Lak et al. 2016): the task and its events, the
analyses on tables with a known answer, and the shipped actor-critic circuits — stimulation
paired with one cue raises its choice (the DA-input route, and ChR2 on the spiking DA population
in the closed loop), no stimulation or the stimulation's DA blocked at the target changes
nothing, and through the DA teaching signal (plasticity on) the DA response to the paired cue
rises across sessions."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pfcda.errors import ConfigError, LabDataError
from pfcda.protocols.stauffer import analysis as A
from pfcda.protocols.stauffer.task import JUICE, PRESETS, REFERENCE, StimChoiceTask

GAIN = REFERENCE["preference_gain"]["paper"]  # the monkeys' rise, read off the figures (0.30)


@pytest.mark.parametrize("option, bad", [("session", "test"), ("feedback", "none"), ("paired", 2),
                                         ("layout", "grid"), ("trials", 1)])
def test_bad_task_options_name_the_option(option, bad):
    with pytest.raises(ConfigError, match=option):
        StimChoiceTask(**{option: bad})


def _play(task, B, choose, seed=0):
    """Run a whole session with a scripted agent: fixate, then ``choose(left_cue, right_cue)`` →
    the side (1 left, 2 right) at the cue step. Returns the per-step infos and rewards."""
    g = torch.Generator().manual_seed(seed)
    task.reset(B, g)
    infos, rewards = [], []
    for _ in range(task.trials * 3):
        trial, phase = task.clock()
        left, right = task._layout(trial.clamp(max=task.trials - 1))
        a = torch.where(phase == 1, choose(left, right), 0)
        r = task.step(a)
        infos.append(r.info)
        rewards.append(r.reward)
    return infos, torch.stack(rewards)


def test_the_experiment_pays_the_same_juice_for_both_cues_and_a_third_of_trials_show_one_cue():
    task = StimChoiceTask(session="experiment")
    # pick a shown cue (the left one when there is one)
    infos, rewards = _play(task, 64, lambda left, right: torch.where(left >= 0, 1, 2))
    out = torch.stack([i["phase"] for i in infos]) == 2
    assert torch.all(rewards[out] == JUICE) and torch.all(rewards[~out] == 0)  # no errors
    single = torch.stack([i["single"] for i in infos])[out].float().mean().item()
    assert abs(single - 1 / 3) < 0.01  # bags of 6: 4 choice, 2 single-cue trials
    # the event fires on the outcome step of the paired cue's trials only
    ev = torch.stack([task.events["paired_outcome"](None, type("R", (), {"info": i})) for i in infos])
    paired = torch.stack([i["paired_chosen"] for i in infos])
    assert torch.equal(ev, paired & out)
    frac = paired[out].float().mean().item()
    assert 0.4 < frac < 0.6


def test_training_sessions_draw_juice_sizes_and_an_empty_side_is_an_error():
    task = StimChoiceTask(session="training")
    g = torch.Generator().manual_seed(1)
    task.reset(4000, g)
    juice = task.params["juice"]
    assert 0.0 <= juice.min() and juice.max() <= 1.0 and abs(juice.mean().item() - 0.5) < 0.02
    # always saccade left: on the single-cue trials with the cue on the right it is an error
    infos, rewards = _play(StimChoiceTask(), 32, lambda left, right: torch.ones_like(left))
    cue_step = torch.stack([i["phase"] for i in infos]) == 1
    right_only = torch.stack([(i["cue_left"] < 0) for i in infos]) & cue_step
    assert right_only.any() and torch.all(rewards[right_only] == -1)


def test_the_fixed_layout_keeps_each_cue_on_its_side():
    task = StimChoiceTask(layout="fixed")
    infos, _ = _play(task, 16, lambda left, right: torch.where(left >= 0, 1, 2))
    for i in infos:
        cue = i["phase"] == 1
        assert torch.all(i["cue_left"][cue] != 1) and torch.all(i["cue_right"][cue] != 0)


def _table(n_ep, trials, p_paired_fn, seed=0, rpe=None):
    """A synthetic trials table: the paired cue chosen with probability ``p_paired_fn(trial)``;
    one trial in three a single-cue trial; ``rpe(trial, paired) → rpe_cue``."""
    rng = np.random.default_rng(seed)
    trial = np.tile(np.arange(trials), n_ep)
    single = rng.random(n_ep * trials) < 1 / 3
    paired = rng.random(n_ep * trials) < p_paired_fn(trial)
    out = {"episode": np.repeat(np.arange(n_ep), trials), "trial": trial, "single": single,
           "paired_chosen": np.where(single, rng.random(n_ep * trials) < 0.5, paired),
           "error": np.zeros(n_ep * trials, bool)}
    if rpe is not None:
        out["rpe_cue"] = rpe(trial, out["paired_chosen"]) + 0.01 * rng.standard_normal(n_ep * trials)
    return out


def test_analysis_recovers_a_learned_preference_and_none():
    learned = _table(200, 100, lambda t: 0.5 + 0.4 * np.minimum(t / 50, 1.0),
                     rpe=lambda t, p: np.where(p, 0.2 * t / 100, 0.0))
    flat = _table(200, 100, lambda t: np.full(t.shape, 0.5), seed=1, rpe=lambda t, p: np.zeros(t.shape))
    a, b = A.choice_stats(learned), A.choice_stats(flat)
    # first 30 trials: 0.5 + 0.4 · mean(t/50) over t < 30 = 0.616; last 30: 0.9
    assert abs(a["first"]["value"] - 0.616) < 0.02 and abs(a["last"]["value"] - 0.9) < 0.02
    assert abs(a["gain"]["value"] - 0.284) < 0.03 and a["gain"]["ci"][0] > 0.2
    assert abs(a["end"]["value"] - 0.4) < 0.02
    assert b["gain"]["ci"][0] < 0 < b["gain"]["ci"][1] and abs(b["end"]["value"]) < 0.02
    ca, cb = A.cue_stats(learned), A.cue_stats(flat)
    assert abs(ca["diff"]["value"] - 0.2 * np.mean(np.arange(71, 100)) / 100) < 0.01
    assert ca["rise"]["ci"][0] > 0.1 and cb["rise"]["ci"][0] < 0 < cb["rise"]["ci"][1]
    curve = A.learning_curve(learned)
    assert curve["p_paired"][0] < 0.6 < 0.85 < curve["p_paired"][-1]


def test_a_table_without_the_needed_columns_is_one_clear_error():
    table = _table(2, 40, lambda t: np.full(t.shape, 0.5))
    del table["paired_chosen"]
    with pytest.raises(LabDataError, match="paired_chosen"):
        A.choice_stats(table)


def test_presets_are_valid_manipulations():
    from pfcda.circuit.manipulations import Manipulation

    for name, ms in PRESETS.items():
        for m in ms:
            Manipulation(**m)


# --------------------------------------------------------------- the shipped circuits
CIRCUITS = ("stauffer", "stauffer_da_only")
CONDITIONS = ("control", "da_input_paired", "da_input_silenced_paired")
EXPERIMENT = {"session": "experiment"}


@pytest.fixture(scope="module")
def runs():
    """Both shipped circuits, frozen, the same 200 experiment sessions (seed 0) in every
    condition: ``stauffer`` (the juice also observed) and ``stauffer_da_only`` (the juice
    reaches the PFC actor only as the critic's RPE)."""
    from pfcda.circuit.run import run_conditions

    return {ck: run_conditions(ck, {c: PRESETS[c] for c in CONDITIONS}, episodes=200, seed=0,
                               task_overrides=EXPERIMENT) for ck in CIRCUITS}


@pytest.mark.parametrize("ck", CIRCUITS)
def test_the_circuits_learn_which_cue_pays_more_within_a_session(ck):
    """Meta-learning: on the training distribution (new cues, juice sizes drawn per session),
    the frozen circuit comes to choose the larger juice within the session."""
    from pfcda.circuit.run import run

    tr = run(ck, episodes=500, seed=0).trials
    jc, jo = np.asarray(tr["juice_chosen"]), np.asarray(tr["juice_other"])
    choice = ~np.asarray(tr["single"]) & ~np.asarray(tr["error"]) & (np.abs(jc - jo) > 0.1)
    trial = np.asarray(tr["trial"])
    first, late = choice & (trial == 0), choice & (trial >= 50)
    assert abs(np.mean(jc[first] > jo[first]) - 0.5) < 0.1  # the first choice is a guess
    assert np.mean(jc[late] > jo[late]) > 0.9
    assert np.mean(tr["error"]) < 0.02


@pytest.mark.parametrize("ck", CIRCUITS)
def test_without_stimulation_either_cue_is_chosen_equally(runs, ck):
    """Stauffer et al.: with the fibre in the uninjected hemisphere the monkeys kept choosing
    either cue equally; so does each circuit without stimulation (the paired cue is a label)."""
    s = A.choice_stats(runs[ck]["control"].trials)
    assert abs(s["end"]["value"]) < 0.05 and s["end"]["ci"][0] < 0 < s["end"]["ci"][1], s["end"]


def test_stimulation_paired_with_a_cue_raises_its_choice(runs):
    """The DA-input route: +0.5 on the RPE the PFC actor receives at the paired cue's juice. In
    the circuit whose juice reaches the PFC only as DA, the paired cue's choice ends the session
    at least half the monkeys' rise above chance (0.30, read off Stauffer Fig. 6/S3); in the
    circuit that also observes the juice the rise is smaller (the stimulation competes with the
    observed, equal juice)."""
    da_only = A.choice_stats(runs["stauffer_da_only"]["da_input_paired"].trials)
    seen = A.choice_stats(runs["stauffer"]["da_input_paired"].trials)
    assert da_only["end"]["ci"][0] >= 0.5 * GAIN, da_only["end"]
    assert seen["end"]["ci"][0] > 0, seen["end"]
    assert da_only["end"]["value"] > seen["end"]["value"], (da_only["end"], seen["end"])


@pytest.mark.parametrize("ck", CIRCUITS)
def test_stimulation_blocked_at_the_target_changes_no_choice(runs, ck):
    """Mechanism: the stimulation with the DA input silenced downstream of it leaves no
    preference for the paired cue."""
    s = A.choice_stats(runs[ck]["da_input_silenced_paired"].trials)
    assert abs(s["end"]["value"]) < 0.05, s["end"]


def test_with_weights_frozen_the_critic_reads_the_stimulation_off_the_choices(runs):
    """The stimulation reaches the actor, never the critic; yet in the circuit that observes the
    juice, the DA response (TD error) at the paired cue's onset exceeds the other cue's once the
    actor prefers it: the critic, trained beside the actor on sessions where the cue chosen more
    is the one worth more, infers a cue's value from the agent's own choices. Without the
    stimulation (no preference), no difference."""
    c = A.cue_stats(runs["stauffer"]["da_input_paired"].trials)
    assert c["diff"]["ci"][0] > 0.02, c["diff"]
    ctrl = A.cue_stats(runs["stauffer"]["control"].trials)
    assert abs(ctrl["diff"]["value"]) < 0.01, ctrl["diff"]


def test_chr2_on_the_spiking_da_population_raises_the_paired_cues_choice_and_d1_blockade_removes_it():
    """The closed loop: ChR2 light (25 Hz, 10-ms pulses, 70 % of the DA neurons) at the paired
    cue's juice bursts the population and the circuit comes to choose that cue; with D1 fully
    blocked at the target the light changes no choice."""
    pytest.importorskip("brian2")
    from pfcda.circuit.run import run

    kw = dict(seed=0, closed_loop=True)
    lit = run("stauffer", episodes=40, batch_size=40, manipulations=PRESETS["chr2_paired"],
              task_overrides={**EXPERIMENT, "trials": 30}, **kw)
    s = A.choice_stats(lit.trials)
    assert s["all"]["ci"][0] > 0.5 + 0.5 * GAIN, s["all"]
    on = lit.steps["manipulation_active"][:, 0]
    assert on.any() and lit.steps["da_rate_hz"][on].mean() > lit.steps["da_rate_hz"][~on].mean() + 2
    short = dict(episodes=4, batch_size=4, task_overrides={**EXPERIMENT, "trials": 10}, **kw)
    blocked = run("stauffer", manipulations=PRESETS["chr2_paired_d1_blocked"], **short)
    dark = run("stauffer", manipulations=PRESETS["d1_blocked"], **short)
    assert np.array_equal(blocked.trials["choice"], dark.trials["choice"])


def test_through_the_teaching_signal_the_da_response_to_the_paired_cue_rises_across_sessions():
    """Stauffer et al.: DA neurons came to respond more to the cue predicting the stimulation,
    and the monkeys to choose it. With plasticity on and the stimulation added to the TD error
    at the paired cue's juice (counterbalanced: cue 1 paired for one learner, cue 2 for the
    other), the critic's value — and so the TD error at the cue's onset — grows for the paired
    cue, and the choice of it grows session after session; the same sessions without the
    stimulation, or with the DA teaching signal blocked, teach neither."""
    from pfcda.circuit.plastic import plastic_sessions
    from pfcda.protocols.stauffer.task import PLASTIC

    kw = dict(test_episodes=100, seed=0)
    stim = A.sessions_summary(plastic_sessions("stauffer", sessions=4, **PLASTIC, **kw))
    d, ci, choice = np.asarray(stim["cue_response_diff"]), stim["ci"]["cue_response_diff"], stim["paired_choice"]
    assert ci[0][0] < 0 < ci[0][1] and ci[-1][0] > 0.01 and d[-1] > d[0] + 0.015, (d, ci)
    assert choice[0] == 0.5 and np.all(np.diff(choice) > 0) and choice[-1] > 0.7, choice
    juice = A.sessions_summary(plastic_sessions("stauffer", sessions=2, **{**PLASTIC, "stimulation": 0.0}, **kw))
    assert abs(juice["cue_response_diff"][-1]) < 0.005 and abs(juice["paired_choice"][-1] - 0.5) < 0.01, juice
    blocked = A.sessions_summary(plastic_sessions("stauffer", sessions=2, blocked=True, **PLASTIC, **kw))
    for g in blocked["groups"]:  # nothing learned: every test as the first
        assert g["paired_choice"] == [g["paired_choice"][0]] * 3
        assert g["cue_response_diff"] == [g["cue_response_diff"][0]] * 3


def test_plastic_sessions_refuse_bad_arguments_by_name():
    from pfcda.circuit.plastic import plastic_sessions
    from pfcda.protocols.stauffer.task import PLASTIC

    for kw, field in ((dict(event="nope"), "event"), (dict(sessions=0), "sessions"), (dict(lr=-1.0), "lr"),
                      (dict(stimulation="big"), "stimulation"), (dict(groups=[]), "groups")):
        with pytest.raises(ConfigError, match=field):
            plastic_sessions("stauffer", **{**PLASTIC, **kw})
