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
Trial timeline (2 agent steps per trial; protocols.md §8.3)
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

from .base import StepResult, Task, check_actions

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
    citation = "Wang et al. 2018 Sim 6 (Fig. 7); Stopper et al. 2014"
    description = "safe vs risky lever, 10 forced then 20 free choices; DA stimulation/blockade"
    obs_names = ("fixation_cue", "left_available", "right_available")
    action_names = ("fixate", "left", "right")
    phase_names = ("fixation", "choice")
    outcome_phase = 1  # the step whose reward is the trial's outcome (events)
    trials = 2 * FORCED_PAIRS + FREE_TRIALS
    reward_scale = RISKY_REWARD  #: RPEs ÷ this enter the spiking DA population (closed loop)

    def __init__(self, p_risky: float | None = None):
        if p_risky is not None and not 0.0 <= float(p_risky) <= 1.0:
            raise ValueError(f"p_risky: expected a probability (or None: 0.125/0.5 per episode), got {p_risky}")
        self.p_risky = None if p_risky is None else float(p_risky)
        self.steps_per_episode = self.trials * STEPS_PER_TRIAL
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

    def reset(self, batch_size: int, generator: torch.Generator, params: dict | None = None):
        self.generator, self.batch_size = generator, batch_size
        params = params if params is not None else self.sample_params(batch_size, generator)
        self.p, self.risky_side = params["p"].clone(), params["risky_side"].clone()
        self.forced, self.wins = params["forced"].clone(), params["wins"].clone()
        self.t = torch.zeros(batch_size, dtype=torch.long)
        return self._obs()

    def clock(self) -> tuple:
        return self.t // STEPS_PER_TRIAL, self.t % STEPS_PER_TRIAL

    def _available(self, trial):
        """[B, 2] availability of (left, right) on ``trial``."""
        rows = torch.arange(self.batch_size)
        is_forced = trial < 2 * FORCED_PAIRS
        lever = self.forced[rows, trial.clamp(max=2 * FORCED_PAIRS - 1)]  # 0 safe, 1 risky
        side = torch.where(lever == 1, self.risky_side, 1 - self.risky_side)
        only = torch.nn.functional.one_hot(side, 2).bool()
        return torch.where(is_forced.unsqueeze(1), only, torch.ones_like(only))

    def _obs(self) -> torch.Tensor:
        trial, phase = self.clock()
        obs = torch.zeros(self.batch_size, 3)
        obs[:, 0] = (phase == 0).float()
        obs[:, 1:] = self._available(trial.clamp(max=self.trials - 1)).float() * (phase == 1).float().unsqueeze(1)
        return obs

    def step(self, action: torch.Tensor) -> StepResult:
        B = self.batch_size
        check_actions(action, 3, B)
        rows = torch.arange(B)
        trial, phase = self.clock()
        tc = trial.clamp(max=self.trials - 1)
        avail = self._available(tc)
        side = (action - 1).clamp(min=0)
        pressed = (phase == 1) & (action != FIXATE) & avail[rows, side]
        invalid = torch.where(phase == 0, action != FIXATE, ~pressed)
        risky = pressed & (side == self.risky_side)
        safe = pressed & (side != self.risky_side)
        win = self.wins[rows, tc] < self.p
        reward = torch.where(risky, torch.where(win, RISKY_REWARD, 0.0), torch.where(safe, SAFE_REWARD, 0.0))
        reward = torch.where(invalid, -1.0, reward)
        info = {"trial": trial, "phase": phase, "forced": trial < 2 * FORCED_PAIRS,
                "risky_chosen": risky, "safe_chosen": safe, "error": invalid & (phase == 1),
                "p": self.p.clone(), "risky_side": self.risky_side.clone()}
        self.t = self.t + 1
        done = self.t >= self.steps_per_episode
        if bool(done.any()):
            new = self.sample_params(int(done.sum()), self.generator)
            for k, attr in (("p", "p"), ("risky_side", "risky_side"), ("forced", "forced"), ("wins", "wins")):
                getattr(self, attr)[done] = new[k]
            self.t[done] = 0
        return StepResult(self._obs(), reward, done, info)

    # ---------------------------------------------------------------- recordings (numpy)
    def step_labels(self, batch: dict) -> dict:
        return {"trial": batch["info"]["trial"].numpy(), "phase": batch["info"]["phase"].numpy()}

    def trial_table(self, batch: dict) -> dict:
        """Columns: episode, trial, forced (bool), choice (0 left, 1 right, −1 none/invalid),
        risky_chosen (bool), reward (choice step), p_risky, risky_side (0 left, 1 right),
        error (bool: invalid choice-step response)."""
        info, valid = batch["info"], batch["valid"].numpy()
        phase = info["phase"].numpy()
        b, T = phase.shape
        ep = np.broadcast_to(np.arange(b)[:, None], (b, T))
        ch = (phase == 1) & valid
        act = batch["actions"].numpy()[ch]
        err = info["error"].numpy()[ch]
        return {
            "episode": ep[ch].astype(np.int64),
            "trial": info["trial"].numpy()[ch].astype(np.int32),
            "forced": info["forced"].numpy()[ch],
            "choice": np.where(err | (act == FIXATE), -1, act - 1).astype(np.int16),
            "risky_chosen": info["risky_chosen"].numpy()[ch],
            "reward": batch["rewards"].numpy()[ch].astype(np.float32),
            "p_risky": info["p"].numpy()[ch].astype(np.float32),
            "risky_side": info["risky_side"].numpy()[ch].astype(np.int8),
            "error": err,
        }


def train_defaults(**_) -> dict:
    """The shipped Sim 6 circuit: actor and critic LSTMs of 48 units (protocols.md §8.2),
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


# ------------------------------------------------------------------------------- analyses
CONDITIONS = tuple(PRESETS)
STATS = {f"risky_p{p}_{c}": f"fraction of free choices on the risky lever when p = {p}, "
                            f"condition {c} (± sem over episodes)"
         for c in CONDITIONS for p in P_RISKY}
STATS["risky_p0.5"] = "fraction of free choices on the risky lever when p = 0.5, this recording"
STATS["risky_p0.125"] = "… when p = 0.125, this recording"
STATS["error_rate"] = "fraction of choice steps with an invalid response"


def risky_fraction(tr: dict) -> dict:
    """Per p: fraction of free, valid choices on the risky lever (mean and sem over episodes).
    Works on a lab's trials table with ``episode``, ``forced``, ``risky_chosen``, ``p_risky``."""
    ep = np.asarray(tr["episode"])
    free = ~np.asarray(tr["forced"], bool)
    ok = free & (np.asarray(tr.get("error", np.zeros(len(ep), bool)), bool) == 0)
    out = {}
    for p in P_RISKY:
        m = ok & np.isclose(np.asarray(tr["p_risky"]), p)
        if not m.any():
            continue
        eps, idx = np.unique(ep[m], return_inverse=True)
        per = np.bincount(idx, weights=np.asarray(tr["risky_chosen"])[m].astype(float)) / np.bincount(idx)
        out[p] = (float(per.mean()), float(per.std(ddof=1) / np.sqrt(len(per))) if len(per) > 1 else None)
    return out


def analyze(rec, seed: int = 0) -> dict:
    """Risky choice by p in this recording (its manipulations, if any, are in the recording)."""
    stats = {}
    for p, (m, s) in risky_fraction(rec.trials).items():
        stats[f"risky_p{p}"] = {"value": m, "sem": s}
    stats["error_rate"] = {"value": float(np.asarray(rec.trials["error"]).mean()), "sem": None}
    return {"protocol": "stopper", "stats": stats, "reference": {},
            "manipulations": [m.get("name", "") for m in rec.manipulations]}


def experiment(circuit, episodes: int = 1333, seed: int = 0) -> dict:
    """The paper's Sim 6: the frozen circuit in the four conditions (control and the three
    presets), ``episodes`` each, the same episodes in every condition (same seed). Returns
    ``{"protocol", "stats": {risky_p{p}_{condition}: {value, sem}}, "reference",
    "weight_hash": [before, after]}``."""
    from circuit.agent import Circuit, load_checkpoint
    from circuit.run import run

    if not isinstance(circuit, Circuit):
        circuit, _ = load_checkpoint(circuit)
    before = circuit.weight_hash()
    stats = {}
    for cond, manips in PRESETS.items():
        rec = run(circuit, episodes=episodes, seed=seed, manipulations=manips)
        for p, (m, s) in risky_fraction(rec.trials).items():
            stats[f"risky_p{p}_{cond}"] = {"value": m, "sem": s}
    return {"protocol": "stopper", "stats": stats, "reference": dict(REFERENCE),
            "weight_hash": [before, circuit.weight_hash()]}


def figures(rec, result: dict, outdir: str) -> list[str]:
    """Fig. 7b-like bars: % risky choice by p for this recording, or by condition for the
    result of :func:`experiment`."""
    from .plotting import save, subplots

    st = result["stats"]
    conds = [c for c in CONDITIONS if f"risky_p0.5_{c}" in st] or [""]
    fig, ax = subplots(figsize=(1.6 + 1.2 * len(conds), 3.2))
    for i, c in enumerate(conds):
        for j, (p, col) in enumerate(((0.5, "tab:green"), (0.125, "tab:purple"))):
            key = f"risky_p{p}_{c}" if c else f"risky_p{p}"
            if key in st:
                ax.bar(i + 0.38 * j, 100 * st[key]["value"], 0.36, yerr=100 * (st[key]["sem"] or 0),
                       color=col, label=f"p = {p}" if i == 0 else None)
    ax.set_xticks(np.arange(len(conds)) + 0.19, [c.replace("_", "\n") or "this run" for c in conds], fontsize=7)
    ax.set_ylabel("% risky choice (free trials)")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False, fontsize=7)
    return save(fig, outdir, "stopper")


# --------------------------------------------------------------------- DA spikes (issue #8)
SPIKE_STATS = {f"da_rate_{c}": f"DA population rate (spikes/s per neuron) in the pulse window of "
                               f"the outcome δ after a {c.replace('_', ' ')} press"
               for c in ("risky_rewarded", "risky_unrewarded", "safe_rewarded")}
SPIKE_STATS["da_baseline"] = "DA rate in the 300–50 ms before the outcome pulse (spikes/s)"


def spike_analyses(rec, spikes: dict, window_s=(-0.3, 0.5), bin_s: float = 0.025) -> dict:
    """DA responses to the lever outcomes from rendered spikes (``pfcda spikes``): PSTHs aligned
    on the outcome δ's pulse (the choice step's δ is emitted at the start of the next step) by
    outcome — risky rewarded, risky unrewarded, safe — with the light-stimulated outcomes apart
    when the recording has light on the DA neurons (closed loop). Stopper et al. 2014 recorded
    no DA firing (they stimulated), so there is no lab reference."""
    import json as _json

    from dopamine.spiking import DAParams, condition_responses

    p = DAParams(**_json.loads(spikes["params"])["da"])
    if "da/spike_times_s" not in spikes:
        raise ValueError("spikes: no DA population in this spikes file (render with --population da or both)")
    st = rec.steps
    cho = np.flatnonzero(st["phase"] == 1)
    same_ep = np.r_[st["episode"][1:] == st["episode"][:-1], False]
    # the next step's pulse (the step after an episode's last one is the first gap step)
    onset = spikes["steps/start_s"][cho] + (p.step_ms + p.pulse_onset_ms) / 1000.0
    tr = rec.trials
    lit = np.zeros(len(cho), bool)
    for j, m in enumerate(rec.manipulations or []):
        if m.get("target") == "da_neurons" and m.get("action") in ("chr2", "archt", "nphr"):
            nxt = np.minimum(cho + 1, len(st["phase"]) - 1)
            lit |= st["manipulation_active"][nxt, j] & same_ep[cho]
    ok = ~np.asarray(tr["error"], bool)
    conds = {"risky_rewarded": tr["risky_chosen"] & (tr["reward"] > 0),
             "risky_unrewarded": tr["risky_chosen"] & (tr["reward"] == 0),
             "safe_rewarded": np.asarray(tr["reward"] > 0) & ~np.asarray(tr["risky_chosen"], bool)}
    by = {f"{c}{suffix}": mask & sel for c, mask in conds.items() for suffix, sel in (("", ~lit), ("_lit", lit))}
    stats, curves = condition_responses(spikes["da/spike_times_s"], onset, by, p.n_neurons,
                                        p.pulse_ms / 1000.0, window_s, bin_s, valid=ok)
    return {"stats": stats, "psth": curves, "reference": {}}
