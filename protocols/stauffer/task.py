"""Optogenetic stimulation of dopamine neurons paired with one of two options — Stauffer, Lak et
al. 2016 in rhesus macaques (beyond the paper: a test of the RPE-as-input and RPE-as-teacher
accounts of Wang et al. 2018).

Task card
---------
Citation
    Stauffer W. R., Lak A., Yang A., Borel M., Paulsen O., Boyden E. S. & Schultz W. 2016,
    Cell 166:1564–1571 ("Dopamine neuron-specific optogenetic stimulation in rhesus
    macaques"); the figure descriptions as reproduced in Alikaya, Rack-Wildner & Stauffer 2018
    (J Neural Transm 125:565, their Fig. 3) and the paper's Fig. S3 legend.
Species
    Rhesus macaques (monkeys A and B). Channelrhodopsin-2 in midbrain DA neurons by two viral
    vectors (a tyrosine-hydroxylase-promoter Cre and a Cre-dependent ChR2), > 95 % specific to
    DA neurons; optical fibre in the injected hemisphere, or, as the control, in the
    uninjected one.
What the monkeys did (the paper)
    Pavlovian: visual cues predicted liquid reward delivered with or without optical
    stimulation; DA neurons responded more to the cue that predicted reward + stimulation
    than to the cue that predicted reward alone. Choice: saccades to one of two visual cues,
    both predicting the same juice, one of them also the optical stimulation at the reward;
    the monkeys came to choose the stimulation-paired cue (a session's 10-trial running average
    rising from chance), while with the fibre in the uninjected hemisphere they kept choosing
    either with equal frequency. Without any juice (monkey B, Fig. S3), a session started at
    random choices and "slowly but completely" became biased to the stimulated cue; repeated
    with 8 never-before-seen cue pairs, the choices of the stimulated option were higher in the
    last 30 trials of a session than in the first 30 (p < 0.001, t test across cue pairs).
Trial timeline (3 agent steps per trial)
    ``fixation``: fixate the central spot; valid action ``fixate``.
    ``cue``: the session's two cues, one on each side (sides drawn per trial), and the agent
    saccades ``left`` / ``right``; on a single-cue trial (the Pavlovian condition, interleaved)
    one cue only, on a random side, and the other side is invalid.
    ``outcome``: the chosen cue stays on screen (``chosen_cue_1`` / ``chosen_cue_2``); valid
    action ``fixate``; the chosen cue's juice (reward = its size, every trial, as the monkeys'
    cues each predicted a fixed juice). Invalid responses give −1 and void the trial's juice
    (flagged ``error``).
    ``layout="fixed"`` keeps cue 1 on the left and cue 2 on the right (a single cue on its own
    side): the side is then the option (measured: the circuit trained so collapsed onto one
    side and stayed at chance for 1 M steps; the shipped circuits use ``"random"``).
Trial types
    Bags of 6 trials drawn without replacement: 4 choice trials, 1 single cue 1, 1 single cue 2.
Sessions (``session`` option)
    ``"experiment"`` (Stauffer's choice sessions): both cues pay the same juice, 0.5, on every
    trial; which of the two is the stimulation-paired cue is drawn per session
    (``paired=None``), or fixed (``paired=0`` / ``1``: the same cue pair and paired cue in every
    session, as the monkeys' repeated sessions with one pair).
    ``"training"`` (the circuits' meta-training distribution): each cue's juice size is drawn
    per session, uniform in [0, 1], independently — which cue is worth more must be learned
    anew in every session, whose cues are new, as the monkeys' never-before-seen cue pairs.
    (Measured: with juice *probabilities* drawn uniform instead of sizes, the circuit stayed at
    chance for 3 M steps — the shipped bandit circuits needed tens of millions.)
Events (for manipulations)
    ``paired_outcome``: the outcome step of an error-free trial on which the stimulation-paired
    cue was chosen — the step whose RPE carries the juice (Stauffer: light at the reward).
Stimulation
    Presets (``pfcda run stauffer --task session=experiment --preset NAME``):
    ``da_input_paired`` (+0.5 on the RPE the PFC actor receives at the paired cue's juice: the
    size of the RPE of the session's juice, were it unexpected), ``chr2_paired`` (ChR2 light on 70 % of the spiking
    DA population, closed loop), ``control_hemisphere`` (light without opsin: the fibre in the
    uninjected hemisphere — nothing reaches the DA neurons), and the mechanism controls
    ``da_input_silenced_paired`` (the stimulation with the DA input silenced downstream) and
    ``chr2_paired_d1_blocked`` (the light with D1 fully blocked at the target). Through the
    *teaching* signal the stimulation acts only where weights learn:
    :func:`pfcda.circuit.plastic.plastic_sessions` with :data:`PLASTIC` replays sessions with
    plasticity on and the stimulation added to the TD error at the paired cue's juice
    (:func:`.analysis.sessions_summary` reads them); ``da_teaching_paired`` adds it to that
    step's own teaching signal only (stage ``train``; it taught nothing, see
    :mod:`pfcda.circuit.plastic`), ``da_teaching_blocked`` silences the teaching signal.
Observation channels
    ``fixation_cue``; ``left_cue_1``, ``left_cue_2``, ``right_cue_1``, ``right_cue_2`` (the cue
    step); ``chosen_cue_1``, ``chosen_cue_2`` (the outcome step); for the whole next trial
    ``last_cue_1``, ``last_cue_2`` (the cue chosen) and, with ``feedback="trial"`` (default),
    ``last_reward``; ``feedback="trial_no_reward"`` leaves it out, so that the juice reaches
    the PFC actor only through the DA input (the critic's RPE).
Not found (recorded, and chosen here)
    The stimulation's parameters (pulse frequency, width, train duration), its size in units of
    the juice's RPE, the number of trials per session, the juice volume, the proportion of Pavlovian trials, and the choice
    percentages themselves (the texts reachable here give the figures' descriptions, not their
    numbers). Chosen: 100 trials per session; 1 in 3 trials single-cue; light 25 Hz, 10-ms
    pulses (the two-step stimulation protocol's). The reference effect of :data:`REFERENCE` is
    read off those descriptions and marked as such.
Training
    Actor-critic circuit (Wang et al. 2018 Sim 6's architecture: the critic's RPE is the actor's
    DA input) on ``session="training"``, no stimulation; see :func:`train_defaults`.
"""
from __future__ import annotations

import numpy as np
import torch

from pfcda.errors import ConfigError

from ..base import Task

FIXATE, LEFT, RIGHT = 0, 1, 2
STEPS_PER_TRIAL = 3
TRIALS = 100
TRIAL_BAG = (0, 0, 0, 0, 1, 2)  # 4 choice trials, single cue 1, single cue 2
SESSIONS = ("training", "experiment")
JUICE = 0.5  #: both cues' juice in the experiment (the training sizes are uniform in [0, 1])
FEEDBACK = ("trial", "trial_no_reward")
LAYOUTS = ("random", "fixed")
WINDOW = 30  #: the first / last trials compared (Stauffer Fig. S3B)

#: What the monkeys showed. The choice percentages are not in the texts reachable here; the
#: reference effect is read off the figures' descriptions (a session from chance to a strong
#: preference for the stimulated cue; "slowly but completely" without juice) as a rise of at
#: least 0.30 in P(choose the paired cue) from a session's first to its last 30 trials.
REFERENCE = {
    "preference_gain": {"paper": 0.30, "lab": None,
                        "source": "Stauffer et al. 2016 Fig. 6 / Fig. S3 (descriptions): from chance to a "
                                  "strong preference for the stimulation-paired cue within a session; the "
                                  "value 0.30 is a reading of those descriptions, not a published number"},
    "preference_end": {"paper": 0.30, "lab": None,
                       "source": "Stauffer et al. 2016 Fig. 6 / Fig. S3 (descriptions): the monkeys started a session at "
                                 "chance, so their end preference is their rise (the same reading, 0.30)"},
    "control_gain": {"paper": 0.0, "lab": None,
                     "source": "Stauffer et al. 2016: fibre in the uninjected hemisphere, either cue "
                               "chosen with equal frequency"},
    "cue_response_paired": {"paper": None, "lab": None,
                            "source": "Stauffer et al. 2016: DA neurons respond more to cues predicting "
                                      "reward + stimulation than reward alone (spikes/s not compared)"},
}

_LIGHT = {"target": "da_neurons", "action": "chr2", "fraction": 0.7, "frequency_hz": 25.0, "width_ms": 10.0}
_STIM = {"name": "DA stimulation at the paired cue's juice (RPE input +0.5)", "target": "da_input",
         "action": "add", "value": JUICE, "event": "paired_outcome"}
PRESETS = {
    "control": [],
    "da_input_paired": [_STIM],
    "chr2_paired": [{**_LIGHT, "name": "ChR2 at the paired cue's reward (25 Hz, 10 ms)", "event": "paired_outcome"}],
    # the fibre in the uninjected hemisphere: light, but no opsin in the DA neurons it reaches
    "control_hemisphere": [{**_LIGHT, "fraction": 0.0, "name": "light without opsin (uninjected hemisphere)",
                            "event": "paired_outcome"}],
    # mechanism controls: the stimulation's DA blocked downstream, at the target
    "da_input_silenced_paired": [_STIM, {"name": "DA input silenced (after the stimulation)",
                                         "target": "da_input", "action": "silence"}],
    "chr2_paired_d1_blocked": [{**_LIGHT, "name": "ChR2 at the paired cue's reward (25 Hz, 10 ms)",
                                "event": "paired_outcome"},
                               {"name": "D1 fully blocked", "target": "d1", "action": "silence"}],
    "d1_blocked": [{"name": "D1 fully blocked", "target": "d1", "action": "silence"}],
    # through the teaching signal (plasticity on; the per-step gate, see :mod:`pfcda.circuit.plastic`);
    # listed after the stimulation, the blockade silences the teaching signal it was added to
    "da_teaching_paired": [{"name": "DA stimulation at the paired cue's juice (teaching signal +0.5)",
                            "target": "da_teaching", "action": "add", "value": JUICE, "event": "paired_outcome",
                            "stage": "train"}],
    "da_teaching_blocked": [{"name": "DA teaching signal blocked", "target": "da_teaching", "action": "silence",
                             "stage": "train"}],
}


#: The plastic sessions of :func:`pfcda.circuit.plastic.plastic_sessions` for this protocol:
#: counterbalanced (cue 1 paired for one learner, cue 2 for the other), the stimulation added to
#: the TD error at the paired cue's juice, of the juice's own size.
PLASTIC = {"groups": [{"session": "experiment", "paired": 0}, {"session": "experiment", "paired": 1}],
           "event": "paired_outcome", "stimulation": JUICE}


class StimChoiceTask(Task):
    name = "stauffer"
    action_names = ("fixate", "left", "right")
    phase_names = ("fixation", "cue", "outcome")
    outcome_phase = 2

    def __init__(self, trials: int = TRIALS, session: str = "training", feedback: str = "trial",
                 paired: int | None = None, layout: str = "random"):
        if not isinstance(trials, int) or isinstance(trials, bool) or trials < 2:
            raise ConfigError(f"trials: expected an integer ≥ 2, got {trials!r}")
        if session not in SESSIONS:
            raise ConfigError(f"session: expected one of {list(SESSIONS)}, got {session!r}")
        if feedback not in FEEDBACK:
            raise ConfigError(f"feedback: expected one of {list(FEEDBACK)}, got {feedback!r}")
        if paired is not None and (isinstance(paired, bool) or paired not in (0, 1)):
            raise ConfigError(f"paired: expected 0 (cue 1), 1 (cue 2) or None (drawn per session), got {paired!r}")
        if layout not in LAYOUTS:
            raise ConfigError(f"layout: expected one of {list(LAYOUTS)}, got {layout!r}")
        self.trials, self.session, self.feedback, self.paired = trials, session, feedback, paired
        self.layout = layout
        self.obs_names = ("fixation_cue", "left_cue_1", "left_cue_2", "right_cue_1", "right_cue_2",
                          "chosen_cue_1", "chosen_cue_2", "last_cue_1", "last_cue_2") + (
            ("last_reward",) if feedback == "trial" else ())
        self.events = {"paired_outcome": lambda a, r: r.info["paired_chosen"] & (r.info["phase"] == 2)
                       & ~r.info["error"]}

    def config(self) -> dict:
        return {"trials": self.trials, "session": self.session, "feedback": self.feedback, "paired": self.paired,
                "layout": self.layout}

    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """juice [n, 2] (the cues' juice sizes), paired [n] (0: cue 1, 1: cue 2 is the
        stimulation-paired cue), kind [n, trials] (0 choice, 1 single cue 1, 2 single cue 2),
        uniforms [n, trials, 2]: cue 1's side, an invalid choice's fallback side."""
        T = self.trials
        juice = torch.rand(n, 2, generator=generator)
        if self.session == "experiment":
            juice = torch.full((n, 2), JUICE)
        paired = torch.randint(2, (n,), generator=generator)
        if self.paired is not None:  # the same cue paired in every session (plastic sessions)
            paired = torch.full((n,), self.paired, dtype=torch.long)
        bags = T // len(TRIAL_BAG) + 1
        order = torch.rand(n, bags, len(TRIAL_BAG), generator=generator).argsort(2)
        kind = torch.tensor(TRIAL_BAG)[order].reshape(n, -1)[:, :T].contiguous()
        uniforms = torch.rand(n, T, 2, generator=generator)
        return {"juice": juice, "paired": paired, "kind": kind, "uniforms": uniforms}

    def _begin(self, which: torch.Tensor) -> None:
        B = self.batch_size
        if not hasattr(self, "last") or self.last.shape[0] != B:
            self.error = torch.zeros(B, dtype=torch.bool)
            self.chosen = torch.zeros(B, dtype=torch.long)
            self.last = torch.zeros(B, 3)
        self.error[which] = False
        self.chosen[which] = 0
        self.last[which] = 0.0

    def _layout(self, trial) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, 2] which cue (0 cue 1, 1 cue 2, −1 none) is on the left and on the right."""
        rows = torch.arange(self.batch_size)
        kind = self.params["kind"][rows, trial]
        cue1_left = self.params["uniforms"][rows, trial, 0] < 0.5
        if self.layout == "fixed":
            cue1_left = torch.ones_like(cue1_left)
        left = torch.where(cue1_left, 0, 1)
        right = 1 - left
        single = kind > 0
        shown = kind - 1  # the single trial's cue
        on_left = (shown == 0) == cue1_left  # a single cue on its side of the layout
        left = torch.where(single, torch.where(on_left, shown, -1), left)
        right = torch.where(single, torch.where(on_left, -1, shown), right)
        return left, right

    def _obs(self) -> torch.Tensor:
        B = self.batch_size
        rows = torch.arange(B)
        trial, phase = self.t // STEPS_PER_TRIAL, self.t % STEPS_PER_TRIAL
        left, right = self._layout(trial.clamp(max=self.trials - 1))
        obs = torch.zeros(B, self.n_obs)
        obs[:, 0] = (phase == 0).float()
        cue = (phase == 1).float()
        obs[rows, 1 + left.clamp(min=0)] = cue * (left >= 0).float()
        obs[rows, 3 + right.clamp(min=0)] = cue * (right >= 0).float()
        obs[rows, 5 + self.chosen] = (phase == 2).float()
        obs[:, 7:] = self.last[:, :self.n_obs - 7]
        return obs

    def _step(self, action: torch.Tensor):
        B = self.batch_size
        rows = torch.arange(B)
        trial, phase = self.t // STEPS_PER_TRIAL, self.t % STEPS_PER_TRIAL
        tc = trial.clamp(max=self.trials - 1)
        u = self.params["uniforms"][rows, tc]
        left, right = self._layout(tc)
        side_cue = torch.where(action == RIGHT, right, left)
        ok_choice = (action != FIXATE) & (side_cue >= 0)
        invalid = torch.where(phase == 1, ~ok_choice, action != FIXATE)
        self.error = torch.where(phase == 0, invalid, self.error | invalid)
        # an invalid choice: the single trial's cue, or a random one of the two
        kind = self.params["kind"][rows, tc]
        fallback = torch.where(kind > 0, kind - 1, (u[:, 1] < 0.5).long())
        chosen = torch.where(ok_choice, side_cue, fallback)
        self.chosen = torch.where(phase == 1, chosen, self.chosen)
        size = self.params["juice"][rows, self.chosen]
        end = phase == 2
        juice = torch.where(end & ~self.error, size, 0.0)
        reward = torch.where(invalid, -1.0, juice)
        paired = self.params["paired"]
        info = {"trial": trial, "phase": phase, "chosen": self.chosen.clone(), "paired": paired.clone(),
                "paired_chosen": self.chosen == paired, "single": kind > 0, "error": self.error.clone(),
                "cue_left": left, "cue_right": right, "juice_chosen": size.clone(),
                "juice_other": self.params["juice"][rows, 1 - self.chosen].clone(),
                "juice_paired": self.params["juice"][rows, paired].clone()}
        if bool(end.any()):
            last = torch.stack([(self.chosen == 0).float(), (self.chosen == 1).float(), juice], 1)
            self.last = torch.where(end.unsqueeze(1), last, self.last)
        return reward, info

    def score(self, batch) -> dict:
        """Sums over a batch's episodes for the periodic evaluations during training: ``better``
        (the fraction of the choice trials on which the cue with the larger juice was chosen) and ``errors`` (invalid trials per episode)."""
        out = (batch.phase == 2) & batch.valid & ~batch.info["single"]
        juice = batch.params["juice"]  # [b, 2]
        better = (juice[:, 1] > juice[:, 0]).long().unsqueeze(1)
        good = (batch.info["chosen"] == better) & out & ~batch.info["error"]
        n = out.sum(1).clamp(min=1).float()
        err = (batch.info["error"] & (batch.phase == 2) & batch.valid).sum(1).float()
        return {"better": float((good.sum(1) / n).sum()), "errors": float(err.sum())}

    def trial_table(self, batch) -> dict:
        """Columns: episode, trial, choice (the side: 0 left, 1 right), chosen (the cue: 0 cue 1,
        1 cue 2), paired (the stimulation-paired cue), paired_chosen, single (a single-cue
        trial), cue_left / cue_right (0 cue 1, 1 cue 2, −1 none), reward (the juice; −1 invalid),
        error, juice_chosen, juice_other (the other cue's), juice_paired (juice sizes)."""
        out, cue = batch.rows(2), batch.rows(1)
        side = (batch.np("action")[cue] == RIGHT).astype(np.int16)
        return {
            "episode": batch.episode()[out].astype(np.int64),
            "trial": batch.np("trial")[out].astype(np.int32),
            "choice": side,
            "chosen": batch.np("chosen")[out].astype(np.int8),
            "paired": batch.np("paired")[out].astype(np.int8),
            "paired_chosen": batch.np("paired_chosen")[out],
            "single": batch.np("single")[out],
            "cue_left": batch.np("cue_left")[cue].astype(np.int8),
            "cue_right": batch.np("cue_right")[cue].astype(np.int8),
            "reward": batch.np("reward")[out].astype(np.float32),
            "error": batch.np("error")[out],
            "juice_chosen": batch.np("juice_chosen")[out].astype(np.float32),
            "juice_other": batch.np("juice_other")[out].astype(np.float32),
            "juice_paired": batch.np("juice_paired")[out].astype(np.float32),
        }

    def trial_signals(self, batch, delta: np.ndarray) -> dict:
        """rpe_cue: the TD error at the cue's onset (δ of the fixation step: r + γV(cue) −
        V(fixation)) — the DA response to the cue; rpe_outcome: δ of the outcome step (the
        juice); da_rate_cue: the spiking DA population's rate at the cue (closed loop; NaN
        otherwise — its rate at a step reflects the RPE of the step before)."""
        fix, cue, out = batch.rows(0), batch.rows(1), batch.rows(2)
        # every episode ends on a trial's outcome step, so each phase has one row per trial
        cols = {"rpe_cue": np.asarray(delta)[fix].astype(np.float32),
                "rpe_outcome": np.asarray(delta)[out].astype(np.float32)}
        rate = batch.da_rate_hz
        cols["da_rate_cue"] = (rate.numpy()[cue].astype(np.float32) if rate is not None
                               else np.full(int(out.sum()), np.nan, np.float32))
        return cols


def train_defaults(feedback: str = "trial", **_) -> dict:
    """The shipped circuits: Sim 6's actor-critic (actor and critic LSTMs of 48 units; the
    critic's RPE is the actor's DA input), γ 0.9, on the training sessions (cue juice sizes
    uniform), 32 episodes × 20-step unrolls, Adam 2e-3 → 1e-4, β_v 0.5, entropy
    0.05 → 0, no stimulation; 8 M steps, 16 M where the juice reaches the actor only as DA.
    ``feedback``: ``"trial"`` (the juice also observed) or ``"trial_no_reward"`` (only as DA).
    Measured (seed 0): both left chance after 4–6 M steps; at 8 M the observed-juice circuit
    chose the larger juice on 0.99 of a session's late choice trials, the DA-only one on 0.74
    (0.9x at 16 M)."""
    return {
        "circuit": {"protocol": "stauffer", "task": {"session": "training", "feedback": feedback}, "core": "lstm",
                    "n_units": 48, "gamma": 0.9, "architecture": "actor_critic"},
        "steps": 8_000_000 if feedback == "trial" else 16_000_000, "batch_size": 32, "t_max": 20,
        "optimizer": "adam", "lr": 2e-3, "lr_final": 1e-4,
        "beta_v": 0.5, "beta_e": 0.05, "beta_e_final": 0.0,
        "eval_every": 1_000_000, "eval_episodes": 300, "checkpoint_every": 4_000_000,
    }
