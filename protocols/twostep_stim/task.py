"""Dopamine stimulation in the mouse two-step task — Blanco-Pozo, Akam & Walton 2024
(beyond the paper: a test of the RPE-as-input account of Wang et al. 2018).

Task card
---------
Citation
    Blanco-Pozo M., Akam T. & Walton M. E. 2024, Nat Neurosci 27:286 ("Dopamine-independent
    effect of rewards on choices through hidden-state inference"). The task and the stimulation
    protocol are read off their public task code (github.com/Mblancopozo/two-step_dopamine,
    ``pyControl_code/two_step_task_stimulation.py``, final stage; analyses in
    ``analysis_code/plot_behaviour.py`` and ``main_script.py``); the task is Akam et al. 2021's
    (Neuron 109:149) mouse two-step task.
Species
    Mouse (ChR2 in VTA DA neurons, n = 7; YFP controls, n = 5).
Trial timeline (3 agent steps per trial)
    ``fixation``: centre-port poke; valid action ``fixate``.
    ``choice``: first-step choice, ``left`` / ``right``. 75 % of trials are free; 25 % forced
    (12.5 % forced left, 12.5 % forced right: trial types drawn without replacement from a bag
    of 6 free, 1 forced-left, 1 forced-right, refilled when empty); on a forced trial only the
    cued side is valid. The choice leads to the second step: ``left`` → state 1 ("up"),
    ``right`` → state 2 ("down") with probability 0.8 (common), the other state otherwise; the
    transition structure is fixed (the mice's code has reversals of it, switched off).
    ``outcome``: the second-step state is cued; valid action ``fixate`` (poke the lit port);
    reward 1 or 0 (the mice: water, or white noise and a 2-s timeout).
    Invalid responses give −1 and void the trial's reward (flagged ``error``).
Reward blocks
    State 1 / state 2 reward probabilities 0.8 / 0.2 ("state 1 good"), 0.2 / 0.8 ("state 2
    good") or 0.5 / 0.5 ("neutral"). A non-neutral block ends 5–15 trials (uniform) after the
    exponential moving average of correct free choices (τ = 8 trials; correct = the side whose
    common transition leads to the good state) first exceeds 0.75, counting only trials on
    which it stays above 0.75; a neutral block lasts 20–30 trials. At a switch the next block is
    either of the other two types (equal odds) and the average becomes 1 − itself (0.5 on
    entering a neutral block). The first block is drawn uniformly.
Stimulation schedule (per episode, the same trials for every preset)
    Each trial after the first is stimulated with probability 0.25 unless one of the previous
    three trials was (the mice's code's lockout, as its checks are ordered: at least 3
    unstimulated trials after each stimulated one, so ≈ 1/7 = 14 % of trials); the trial after a
    stimulated one is always a free choice. Stimulation itself is a manipulation (a preset),
    gated by the events below; a session stimulates at one time point.
Events (for manipulations)
    ``stim_second_step``: the choice step of a stimulated trial — the step whose outcome is the
    second-step cue, so a ``da_input`` manipulation gated by it acts on the RPE at the
    second-step cue (the mice: light from the second-step cue's onset).
    ``stim_outcome``: the outcome step of a stimulated trial — the RPE at the outcome cue,
    rewarded or not (the mice: light from the outcome cue's onset).
Stimulation (the mice)
    5 pulses at 25 Hz, 25 % duty cycle (10-ms pulses over ≈ 200 ms), 7 mW. Presets (``pfcda run
    twostep_stim --preset NAME``): ``da_input_outcome`` / ``da_input_second_step`` (+1 on the RPE
    the PFC actor receives: the size of a reward's RPE), ``chr2_outcome`` / ``chr2_second_step``
    (ChR2 light on 70 % of the spiking DA population at 25 Hz, 10-ms pulses, closed loop);
    mechanism controls: ``da_input_silenced_outcome`` (the stimulation, then the DA input
    silenced downstream of it; beside ``da_input_silenced``) and ``chr2_outcome_d1_blocked``
    (the light with D1 fully blocked at the target; beside ``d1_blocked``). With weights frozen, a ``da_teaching`` stimulation changes nothing by
    construction (the teaching signal only gates plasticity); it is the model's prediction for a
    circuit whose DA only teaches.
Observation channels
    ``fixation_cue``, ``left_available``, ``right_available`` (the choice step's cue: both on a
    free trial), ``state_1``, ``state_2``; with ``feedback="trial"`` (default) also
    ``last_choice_left``, ``last_choice_right``, ``last_state_1``, ``last_reward`` for the whole
    next trial (the two-step circuits' trial-level encoding, see :mod:`..twostep.task`);
    ``feedback="trial_no_reward"`` leaves out ``last_reward``, so that the outcome reaches the
    PFC actor only through the DA input (the critic's RPE).
Not found (recorded, and chosen here)
    The session length in trials (the mice: 1-hour sessions; here 200 trials per episode), the
    effect sizes of the stimulation (the paper's abstract: neither activating nor inhibiting DA
    neurons at the outcome changed the next choice; its numbers are not in the code), the
    result of second-step-cue stimulation, and the inhibition experiment's parameters.
Training
    Actor-critic circuit (Wang et al. 2018 Sim 6's architecture: the critic's RPE is the actor's
    DA input), no stimulation during training; see :func:`train_defaults`.
"""
from __future__ import annotations

import numpy as np
import torch

from pfcda.errors import ConfigError

from ..base import Task

FIXATE, LEFT, RIGHT = 0, 1, 2
STEPS_PER_TRIAL = 3
P_COMMON = 0.8
#: reward probabilities of (state 1, state 2) per block type: state 1 good, state 2 good, neutral
BLOCK_PROBS = ((0.8, 0.2), (0.2, 0.8), (0.5, 0.5))
NEUTRAL = 2
EMA_TAU, CRITERION = 8.0, 0.75
POST_CRITERION = (5, 15)  # trials after the criterion (inclusive)
NEUTRAL_LENGTH = (20, 30)
TRIAL_BAG = (0, 0, 0, 0, 0, 0, 1, 2)  # 6 free, forced left, forced right
STIM_P, STIM_LOCKOUT = 0.25, 3
TRIALS = 200
FEEDBACK = ("trial", "trial_no_reward")

#: What the mice showed (the abstract; the code's analyses give the tests, not the numbers).
REFERENCE = {
    "stim_effect_outcome": {"paper": None, "lab": 0.0,
                            "source": "Blanco-Pozo et al. 2024: DA activation at outcome did not change the "
                                      "next choice (null; effect size not found)"},
}

_LIGHT = {"target": "da_neurons", "action": "chr2", "fraction": 0.7, "frequency_hz": 25.0, "width_ms": 10.0}
PRESETS = {
    "control": [],
    "da_input_outcome": [{"name": "DA stimulation at outcome (RPE input +1)", "target": "da_input",
                          "action": "add", "value": 1.0, "event": "stim_outcome"}],
    "da_input_second_step": [{"name": "DA stimulation at the second-step cue (RPE input +1)",
                              "target": "da_input", "action": "add", "value": 1.0,
                              "event": "stim_second_step"}],
    "chr2_outcome": [{**_LIGHT, "name": "ChR2 at outcome (25 Hz, 10 ms)", "event": "stim_outcome"}],
    "chr2_second_step": [{**_LIGHT, "name": "ChR2 at the second-step cue (25 Hz, 10 ms)",
                          "event": "stim_second_step"}],
    # mechanism controls: the stimulation's DA blocked downstream, at the target
    "da_input_silenced_outcome": [
        {"name": "DA stimulation at outcome (RPE input +1)", "target": "da_input", "action": "add",
         "value": 1.0, "event": "stim_outcome"},
        {"name": "DA input silenced (after the stimulation)", "target": "da_input", "action": "silence"}],
    "da_input_silenced": [{"name": "DA input silenced", "target": "da_input", "action": "silence"}],
    "chr2_outcome_d1_blocked": [{**_LIGHT, "name": "ChR2 at outcome (25 Hz, 10 ms)", "event": "stim_outcome"},
                                {"name": "D1 fully blocked", "target": "d1", "action": "silence"}],
    "d1_blocked": [{"name": "D1 fully blocked", "target": "d1", "action": "silence"}],
}


def stim_schedule(n: int, trials: int, generator: torch.Generator) -> torch.Tensor:
    """[n, trials] bool: the stimulated trials (see the task card), vectorised over episodes:
    after a stimulated trial t the next one is t + 1 + 3 + k, k geometric (failures before a
    success of p 0.25); the first candidate is trial 1 (trial 0 is never stimulated)."""
    m = trials // (STIM_LOCKOUT + 1) + 2
    u = torch.rand(n, m, generator=generator)
    k = torch.floor(torch.log1p(-u) / np.log1p(-STIM_P)).long()  # failures before the first success
    gap = k + 1
    gap[:, 1:] += STIM_LOCKOUT
    pos = gap.cumsum(1)  # first stimulated trial: 1 + k₀
    out = torch.zeros(n, trials + pos.max().item() + 1, dtype=torch.bool)
    out.scatter_(1, pos, True)
    return out[:, :trials]


def forced_schedule(n: int, trials: int, generator: torch.Generator, stim: torch.Tensor) -> torch.Tensor:
    """[n, trials] long: 0 free, 1 forced left, 2 forced right — bags of 8 trial types drawn
    without replacement; the trial after a stimulated one is made free."""
    bags = trials // len(TRIAL_BAG) + 1
    order = torch.rand(n, bags, len(TRIAL_BAG), generator=generator).argsort(2)
    kind = torch.tensor(TRIAL_BAG)[order].reshape(n, -1)[:, :trials].clone()
    after = torch.zeros_like(stim)
    after[:, 1:] = stim[:, :-1]
    kind[after] = 0
    return kind


class StimTwoStepTask(Task):
    name = "twostep_stim"
    action_names = ("fixate", "left", "right")
    phase_names = ("fixation", "choice", "outcome")
    outcome_phase = 2

    def __init__(self, trials: int = TRIALS, feedback: str = "trial"):
        if not isinstance(trials, int) or isinstance(trials, bool) or trials < 2:
            raise ConfigError(f"trials: expected an integer ≥ 2, got {trials!r}")
        if feedback not in FEEDBACK:
            raise ConfigError(f"feedback: expected one of {list(FEEDBACK)}, got {feedback!r}")
        self.trials, self.feedback = trials, feedback
        self.obs_names = ("fixation_cue", "left_available", "right_available", "state_1", "state_2",
                          "last_choice_left", "last_choice_right", "last_state_1") + (
            ("last_reward",) if feedback == "trial" else ())
        self.events = {
            "stim_second_step": lambda a, r: r.info["stim"] & (r.info["phase"] == 1),
            "stim_outcome": lambda a, r: r.info["stim"] & (r.info["phase"] == 2),
        }

    def config(self) -> dict:
        return {"trials": self.trials, "feedback": self.feedback}

    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """stim [n, trials] bool, kind [n, trials] (0 free, 1 forced left, 2 forced right),
        first_block [n], uniforms [n, trials, 5]: transition, reward, invalid-choice side, the
        next block type and the block's countdown (common random numbers)."""
        T = self.trials
        stim = stim_schedule(n, T, generator)
        kind = forced_schedule(n, T, generator, stim)
        first = torch.randint(3, (n,), generator=generator)
        uniforms = torch.rand(n, T, 5, generator=generator)
        return {"stim": stim, "kind": kind, "first_block": first, "uniforms": uniforms}

    def _begin(self, which: torch.Tensor) -> None:
        B = self.batch_size
        if not hasattr(self, "last") or self.last.shape[0] != B:
            self.error = torch.zeros(B, dtype=torch.bool)
            self.choice = torch.zeros(B, dtype=torch.long)
            self.state = torch.zeros(B, dtype=torch.long)
            self.last = torch.zeros(B, 4)
            self.block = torch.zeros(B, dtype=torch.long)
            self.ema = torch.full((B,), 0.5)
            self.countdown = torch.zeros(B, dtype=torch.long)  # trials left once the criterion is met
            self.armed = torch.zeros(B, dtype=torch.bool)  # a non-neutral block's criterion was met
        self.error[which] = False
        self.last[which] = 0.0
        first = self.params["first_block"][which]
        self.block[which] = first
        self.ema[which] = 0.5
        u = self.params["uniforms"][which, 0, 4]
        self.countdown[which] = torch.where(first == NEUTRAL, _draw(u, NEUTRAL_LENGTH), 0)
        self.armed[which] = False

    def _available(self, trial) -> torch.Tensor:
        kind = self.params["kind"][torch.arange(self.batch_size), trial]
        return torch.stack([kind != 2, kind != 1], 1)

    def _obs(self) -> torch.Tensor:
        B = self.batch_size
        trial, phase = self.t // STEPS_PER_TRIAL, self.t % STEPS_PER_TRIAL
        obs = torch.zeros(B, self.n_obs)
        obs[:, 0] = (phase == 0).float()
        obs[:, 1:3] = self._available(trial.clamp(max=self.trials - 1)).float() * (phase == 1).float().unsqueeze(1)
        obs[torch.arange(B), 3 + self.state] = (phase == 2).float()
        obs[:, 5:] = self.last[:, :self.n_obs - 5]
        return obs

    def _step(self, action: torch.Tensor):
        B = self.batch_size
        rows = torch.arange(B)
        trial, phase = self.t // STEPS_PER_TRIAL, self.t % STEPS_PER_TRIAL
        tc = trial.clamp(max=self.trials - 1)
        u = self.params["uniforms"][rows, tc]
        avail = self._available(tc)
        kind = self.params["kind"][rows, tc]
        side = (action - 1).clamp(min=0)
        ok_choice = (action != FIXATE) & avail[rows, side]
        invalid = torch.where(phase == 1, ~ok_choice, action != FIXATE)
        self.error = torch.where(phase == 0, invalid, self.error | invalid)
        # stage 1: the choice (an invalid one: the forced side, or a random side) → transition
        fallback = torch.where(kind == 1, 0, torch.where(kind == 2, 1, (u[:, 2] < 0.5).long()))
        choice = torch.where(ok_choice, side, fallback)
        state = torch.where(u[:, 0] < P_COMMON, choice, 1 - choice)
        self.choice = torch.where(phase == 1, choice, self.choice)
        self.state = torch.where(phase == 1, state, self.state)
        probs = torch.tensor(BLOCK_PROBS)[self.block]  # [B, 2]
        p = probs[rows, self.state]
        end = phase == 2
        win = end & ~self.error & (u[:, 1] < p)
        reward = torch.where(invalid, -1.0, win.float())
        correct = self.choice == torch.where(self.block == 0, 0, 1)
        free = kind == 0
        info = {"trial": trial, "phase": phase, "choice": self.choice.clone(), "state": self.state.clone(),
                "common": self.state == self.choice, "error": self.error.clone(), "forced": ~free,
                "stim": self.params["stim"][rows, tc], "block": self.block.clone(),
                "p_state1": probs[:, 0].clone(), "correct": correct & (self.block != NEUTRAL)}
        if bool(end.any()):
            last = torch.stack([(self.choice == 0).float(), (self.choice == 1).float(),
                                (self.state == 0).float(), win.float()], 1)
            self.last = torch.where(end.unsqueeze(1), last, self.last)
            self._advance_blocks(end, free & ~self.error, correct, u)
        return reward, info

    def _advance_blocks(self, end, free, correct, u) -> None:
        """The block rule at the end of a trial (see the task card)."""
        neutral = self.block == NEUTRAL
        upd = end & free & ~neutral
        self.ema = torch.where(upd, self.ema + (correct.float() - self.ema) / EMA_TAU, self.ema)
        above = self.ema > CRITERION
        arm = end & ~neutral & ~self.armed & above
        self.countdown = torch.where(arm, _draw(u[:, 4], POST_CRITERION), self.countdown)
        self.armed = self.armed | arm
        # count the trial: neutral blocks always, armed blocks while above the criterion
        tick = end & (neutral | (self.armed & above & ~arm))
        self.countdown = torch.where(tick, self.countdown - 1, self.countdown)
        switch = end & (neutral | self.armed) & (self.countdown <= 0)
        if bool(switch.any()):
            new = (self.block + 1 + (u[:, 3] < 0.5).long()) % 3  # either other type
            self.ema = torch.where(switch, torch.where(new == NEUTRAL, 0.5, 1.0 - self.ema), self.ema)
            self.countdown = torch.where(switch, torch.where(new == NEUTRAL, _draw(u[:, 4], NEUTRAL_LENGTH), 0),
                                         self.countdown)
            self.armed = self.armed & ~switch
            self.block = torch.where(switch, new, self.block)

    def trial_table(self, batch) -> dict:
        """Columns: episode, trial, choice (0 left, 1 right), state (0 state 1, 1 state 2),
        common, reward (0/1; −1 invalid), error, forced, stim (a stimulated trial), block (0
        state 1 good, 1 state 2 good, 2 neutral), p_state1, correct (a choice of the good
        state's common side, non-neutral blocks)."""
        out = batch.rows(2)
        return {
            "episode": batch.episode()[out].astype(np.int64),
            "trial": batch.np("trial")[out].astype(np.int32),
            "choice": batch.np("choice")[out].astype(np.int16),
            "state": batch.np("state")[out].astype(np.int8),
            "common": batch.np("common")[out],
            "reward": batch.np("reward")[out].astype(np.float32),
            "error": batch.np("error")[out],
            "forced": batch.np("forced")[batch.rows(1)],
            "stim": batch.np("stim")[out],
            "block": batch.np("block")[out].astype(np.int8),
            "p_state1": batch.np("p_state1")[out].astype(np.float32),
            "correct": batch.np("correct")[batch.rows(1)],
        }


def _draw(u: torch.Tensor, bounds: tuple) -> torch.Tensor:
    """A uniform integer in [lo, hi] from uniforms u."""
    lo, hi = bounds
    return (lo + torch.floor(u * (hi - lo + 1))).long().clamp(max=hi)


def train_defaults(feedback: str = "trial", **_) -> dict:
    """The shipped circuits: Sim 6's actor-critic (actor and critic LSTMs of 48 units; the
    critic's RPE is the actor's DA input), γ 0.9, the two-step circuits' schedule (32 episodes ×
    20-step unrolls, Adam 2e-3 → 1e-4, β_v 0.5, entropy 0.05 → 0), 10 M steps, no stimulation.
    ``feedback``: ``"trial"`` (the outcome also observed) or ``"trial_no_reward"`` (the outcome
    reaches the actor only as DA)."""
    return {
        "circuit": {"protocol": "twostep_stim", "task": {"feedback": feedback}, "core": "lstm",
                    "n_units": 48, "gamma": 0.9, "architecture": "actor_critic"},
        "steps": 10_000_000, "batch_size": 32, "t_max": 20,
        "optimizer": "adam", "lr": 2e-3, "lr_final": 1e-4,
        "beta_v": 0.5, "beta_e": 0.05, "beta_e_final": 0.0,
        "eval_every": 1_000_000, "eval_episodes": 300, "checkpoint_every": 5_000_000,
    }
