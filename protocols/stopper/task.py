"""Dopamine stimulation and blockade in risk/reward decisions — Wang et al. 2018 Sim 6 (Fig. 7);
Stopper, Tse, Montes, Wiedman & Floresco 2014 (rats, optogenetics).

Task card
---------
Citation
    Wang, Kurth-Nelson et al. 2018, Nat Neurosci 21:860, Simulation 6, Fig. 7.
    Lab: Stopper et al. 2014, Neuron 84:177 ("Overriding phasic dopamine signals redirects
    action selection during risk/reward decision making").
Species
    Rat.
Trial timeline (2 agent steps per trial)
    ``fixation``: fixation cue; valid action ``fixate``.
    ``choice``: the available lever(s) are cued (``left_available``, ``right_available``);
    ``left``/``right`` presses a lever. Pressing an unavailable lever (on a forced trial) or
    not pressing (``fixate``) is invalid: −1, and no lever reward.
Arms and rewards
    Safe lever: reward 1 always. Risky lever: reward 4 with probability p, else 0; p is drawn
    per episode from {0.125, 0.5} ("safe arm better", expected value 0.5; "risky arm better", 2).
    The lever-to-side mapping is swapped with probability 0.5 per episode.
Episode
    30 trials: 10 forced trials (5 of each lever, in randomised pairs: each pair one safe and
    one risky in random order), then 20 free choices.
Observation channels
    ``fixation_cue``, ``left_available``, ``right_available``. The network adds the previous
    action and the previous reward — or, in the actor-critic circuit of Sim 6
    (``architecture="actor_critic"``, the shipped one), the critic's RPE in place of the reward.
Actions
    ``fixate``, ``left``, ``right``.
Events (for manipulations gated by an outcome)
    ``risky_rewarded`` (risky lever pressed and paid 4), ``risky_unrewarded`` (risky pressed,
    paid 0), ``safe_rewarded`` (safe pressed, paid 1).
Simulated optogenetics (§8.4; presets of ``pfcda run stopper --preset NAME``), weights frozen,
acting only on the RPE fed to the actor:
    ``block_risky_reward``: −4 after a rewarded risky press (LHb stimulation, 4 trains);
    ``block_safe_reward``: −1 after a safe press (LHb, 1 train);
    ``boost_risky_loss``: +1 after an unrewarded risky press (VTA stimulation).
Training
    Control condition only, the critic's normal RPE as the actor's input (see
    :func:`train_defaults`).
"""
from __future__ import annotations

import numpy as np
import torch

from pfcda.errors import ConfigError

from ..base import Task

FIXATE, LEFT, RIGHT = 0, 1, 2
STEPS_PER_TRIAL = 2
FORCED_PAIRS, FREE_TRIALS = 5, 20
P_RISKY = (0.125, 0.5)
SAFE_REWARD, RISKY_REWARD = 1.0, 4.0

PRESETS = {
    "control": [],
    "block_risky_reward": [{"name": "block risky reward (LHb)", "target": "da_input",
                            "action": "add", "value": -4.0, "event": "risky_rewarded"}],
    "block_safe_reward": [{"name": "block safe reward (LHb)", "target": "da_input",
                           "action": "add", "value": -1.0, "event": "safe_rewarded"}],
    "boost_risky_loss": [{"name": "add RPE on risky loss (VTA)", "target": "da_input",
                          "action": "add", "value": 1.0, "event": "risky_unrewarded"}],
}

#: % risky choices among free choices (Fig. 7a rats, Stopper et al. 2014; Fig. 7b model).
REFERENCE = {
    "risky_p0.5_control": {"paper": 0.90, "lab": 0.75, "source": "Fig. 7a,b (block-risky-reward cohort)"},
    "risky_p0.125_control": {"paper": 0.29, "lab": 0.25, "source": "Fig. 7a,b"},
    "risky_p0.5_block_risky_reward": {"paper": 0.43, "lab": 0.54, "source": "Fig. 7a,b"},
    "risky_p0.125_block_risky_reward": {"paper": 0.25, "lab": 0.23, "source": "Fig. 7a,b"},
    "risky_p0.5_block_safe_reward": {"paper": 0.98, "lab": 0.65, "source": "Fig. 7a,b"},
    "risky_p0.125_block_safe_reward": {"paper": 0.59, "lab": 0.43, "source": "Fig. 7a,b"},
    "risky_p0.5_boost_risky_loss": {"paper": 0.88, "lab": 0.69, "source": "Fig. 7a,b"},
    "risky_p0.125_boost_risky_loss": {"paper": 0.49, "lab": 0.50, "source": "Fig. 7a,b"},
}


class StopperTask(Task):
    name = "stopper"
    obs_names = ("fixation_cue", "left_available", "right_available")
    action_names = ("fixate", "left", "right")
    phase_names = ("fixation", "choice")
    outcome_phase = 1  # the step whose reward is the trial's outcome (events)
    trials = 2 * FORCED_PAIRS + FREE_TRIALS
    reward_scale = RISKY_REWARD  #: RPEs ÷ this enter the spiking DA population (closed loop)

    def __init__(self, p_risky: float | None = None):
        if p_risky is not None and not 0.0 <= float(p_risky) <= 1.0:
            raise ConfigError(f"p_risky: expected a probability (or None: 0.125/0.5 per episode), got {p_risky}")
        self.p_risky = None if p_risky is None else float(p_risky)
        self.events = {
            "risky_rewarded": lambda a, r: r.info["risky_chosen"] & (r.reward > 0),
            "risky_unrewarded": lambda a, r: r.info["risky_chosen"] & (r.reward == 0),
            "safe_rewarded": lambda a, r: r.info["safe_chosen"] & (r.reward > 0),
        }

    def config(self) -> dict:
        return {"p_risky": self.p_risky}

    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """p [n]: the risky lever's probability; risky_side [n] (0 left, 1 right); forced [n, 10]
        (0 safe, 1 risky: the forced lever of each forced trial); wins [n, trials] uniforms."""
        if self.p_risky is None:
            p = torch.tensor(P_RISKY)[torch.randint(2, (n,), generator=generator)]
        else:
            p = torch.full((n,), self.p_risky)
        side = torch.randint(2, (n,), generator=generator)
        first = torch.randint(2, (n, FORCED_PAIRS), generator=generator)
        forced = torch.stack([first, 1 - first], 2).reshape(n, 2 * FORCED_PAIRS)
        return {"p": p, "risky_side": side, "forced": forced,
                "wins": torch.rand(n, self.trials, generator=generator)}

    def _available(self, trial):
        """[B, 2] availability of (left, right) on ``trial``."""
        rows = torch.arange(self.batch_size)
        is_forced = trial < 2 * FORCED_PAIRS
        lever = self.params["forced"][rows, trial.clamp(max=2 * FORCED_PAIRS - 1)]  # 0 safe, 1 risky
        risky_side = self.params["risky_side"]
        side = torch.where(lever == 1, risky_side, 1 - risky_side)
        only = torch.nn.functional.one_hot(side, 2).bool()
        return torch.where(is_forced.unsqueeze(1), only, torch.ones_like(only))

    def _obs(self) -> torch.Tensor:
        trial, phase = self.clock()
        obs = torch.zeros(self.batch_size, 3)
        obs[:, 0] = (phase == 0).float()
        obs[:, 1:] = self._available(trial.clamp(max=self.trials - 1)).float() * (phase == 1).float().unsqueeze(1)
        return obs

    def _step(self, action: torch.Tensor):
        B = self.batch_size
        rows = torch.arange(B)
        trial, phase = self.clock()
        tc = trial.clamp(max=self.trials - 1)
        avail = self._available(tc)
        side = (action - 1).clamp(min=0)
        risky_side, p = self.params["risky_side"], self.params["p"]
        pressed = (phase == 1) & (action != FIXATE) & avail[rows, side]
        invalid = torch.where(phase == 0, action != FIXATE, ~pressed)
        risky = pressed & (side == risky_side)
        safe = pressed & (side != risky_side)
        win = self.params["wins"][rows, tc] < p
        reward = torch.where(risky, torch.where(win, RISKY_REWARD, 0.0), torch.where(safe, SAFE_REWARD, 0.0))
        reward = torch.where(invalid, -1.0, reward)
        info = {"trial": trial, "phase": phase, "forced": trial < 2 * FORCED_PAIRS,
                "risky_chosen": risky, "safe_chosen": safe, "error": invalid & (phase == 1),
                "p": p.clone(), "risky_side": risky_side.clone()}
        return reward, info

    # ---------------------------------------------------------------- recordings (numpy)
    def trial_table(self, batch) -> dict:
        """Columns: episode, trial, forced (bool), choice (0 left, 1 right, −1 none/invalid),
        risky_chosen (bool), reward (choice step), p_risky, risky_side (0 left, 1 right),
        error (bool: invalid choice-step response)."""
        ch = batch.rows(1)
        act = batch.np("action")[ch]
        err = batch.np("error")[ch]
        return {
            "episode": batch.episode()[ch].astype(np.int64),
            "trial": batch.np("trial")[ch].astype(np.int32),
            "forced": batch.np("forced")[ch],
            "choice": np.where(err | (act == FIXATE), -1, act - 1).astype(np.int16),
            "risky_chosen": batch.np("risky_chosen")[ch],
            "reward": batch.np("reward")[ch].astype(np.float32),
            "p_risky": batch.np("p")[ch].astype(np.float32),
            "risky_side": batch.np("risky_side")[ch].astype(np.int8),
            "error": err,
        }


def train_defaults(**_) -> dict:
    """The shipped Sim 6 circuit: actor and critic LSTMs of 48 units,
    γ 0.9, trained in the control condition with the critic's RPE as the actor's input for the
    paper's 4 M steps with its constant entropy cost 0.05; as for the other shipped circuits,
    many small updates (32 episodes × 20-step unrolls), Adam 2e-3 → 1e-4, β_v 0.5. Measured:
    with the entropy cost annealed to 0 over 6 M steps the circuit became near-deterministic
    (7% risky choice at p = 0.125, the paper's 29%) and +1 on a risky loss moved it by only
    5 points (paper +20)."""
    return {
        "circuit": {"protocol": "stopper", "task": {}, "core": "lstm", "n_units": 48,
                    "gamma": 0.9, "architecture": "actor_critic"},
        "steps": 4_000_000, "batch_size": 32, "t_max": 20,
        "optimizer": "adam", "lr": 2e-3, "lr_final": 1e-4,
        "beta_v": 0.5, "beta_e": 0.05, "beta_e_final": None,
        "eval_every": 500_000, "eval_episodes": 500, "checkpoint_every": 2_000_000,
    }
