"""Learning to learn: the Harlow learning-set task — Wang et al. 2018 Sim 5 (Fig. 6); Harlow 1949.

Task card
---------
Citation
    Wang, Kurth-Nelson et al. 2018, Nat Neurosci 21:860, Simulation 5, Fig. 6.
    Lab: Harlow 1949, Psychol Rev 56:51, "The formation of learning sets" (rhesus monkeys).
Species
    Rhesus macaque.
Version
    Low-dimensional (the issue's "low-dimensional first"): objects are feature vectors, not
    ImageNet pictures on a PsychLab screen, and a trial is two agent steps, not a sequence of
    head rotations. Each object is a random ±1 vector of ``features`` entries (12 by default);
    two pools of ``pool_size`` objects (1,000 each, as the paper's image sets) are drawn once
    from a fixed seed and are disjoint (no vector in both, no repeats): ``pool="train"`` for
    training, ``pool="test"`` for the held-out test.
Trial timeline (3 agent steps per trial, 6 trials per episode)
    ``fixation``: a central fixation cue; ``fixate`` earns +0.2 (the paper's reward for holding
    fixation); any other action earns 0 (PsychLab did not punish it).
    ``choice``: the episode's two objects at random left/right positions (drawn per trial);
    ``left``/``right`` selects one: +1 for the episode's rewarded object, −1 for the other.
    ``fixate`` at the choice step selects nothing: −1, and the trial counts as an error.
    ``outcome``: the selected object is shown at the centre (``center_f*``; nothing if none was
    selected) while the outcome arrives — in PsychLab selecting an image means centring it in
    view, so the chosen image is on screen when the reward comes. Any action; reward 0.
Episode
    Two objects drawn (with replacement across episodes) from the pool, one of them rewarded for
    the whole episode (the "problem"); 6 trials; the LSTM state is reset at episode start.
Observation channels
    ``fixation_cue``, ``left_f0..left_f{F-1}``, ``right_f0..right_f{F-1}`` (the two objects,
    shown only at the choice step), ``center_f0..center_f{F-1}`` (the selected object, at the
    outcome step). Previous action and reward are added by the network.
Actions
    ``fixate``, ``left``, ``right``.
Training
    See :func:`train_defaults`: a larger core than the bandits (128 LSTM units; the paper used
    256 behind a conv net), γ 0.91 and β_v 0.4 as the paper's Harlow run (LTRL). The periodic
    evaluations during training run on the held-out pool and record accuracy by trial
    (``acc_trial1`` … ``acc_trial6``), so every checkpoint carries its learning-set curve.
"""
from __future__ import annotations

import numpy as np
import torch

from .base import StepResult, Task, check_actions

FIXATE, LEFT, RIGHT = 0, 1, 2
STEPS_PER_TRIAL = 3
POOL_SEED = 20180514  # the object pools are fixed: the same objects on every machine

#: Harlow 1949 (Fig. 6b of Wang et al. 2018): trial-2 % correct by problem block (monkeys), and
#: the paper's model (Fig. 6c): trial-2 % correct at the training quantiles and at the end.
HARLOW_1949_TRIAL2 = {"1-8": 51, "9-16": 66, "17-24": 68, "25-32": 71, "1-100": 78,
                      "101-200": 83, "201-256": 88, "257-312": 97}
PAPER_QUANTILES_TRIAL2 = [47, 55, 61, 70, 73, 90, 97]
REFERENCE = {
    "acc_trial1": {"paper": 0.50, "lab": 0.50, "source": "chance by construction (Fig. 6)"},
    "acc_trial2": {"paper": 0.97, "lab": 0.97, "source": "Fig. 6b,c: monkeys after 257–312 "
                   "problems (Harlow 1949); model at the end of training"},
    "acc_trial6": {"paper": 0.98, "lab": 0.98, "source": "Fig. 6b,c"},
}


def object_pools(features: int = 12, pool_size: int = 1000) -> dict:
    """The training and held-out object pools: {"train": [N, F], "test": [N, F]} (±1 floats),
    disjoint and without repeats, drawn from a fixed seed."""
    if 2 ** features < 2 * pool_size:
        raise ValueError(f"features: {features} binary features cannot make {2 * pool_size} "
                         f"distinct objects; expected at least {int(np.ceil(np.log2(2 * pool_size)))}")
    rng = np.random.default_rng(POOL_SEED)
    codes = rng.choice(2 ** features, size=2 * pool_size, replace=False)
    bits = (codes[:, None] >> np.arange(features)[None]) & 1
    objs = torch.tensor(2.0 * bits - 1.0, dtype=torch.float32)
    return {"train": objs[:pool_size], "test": objs[pool_size:]}


class HarlowTask(Task):
    name = "harlow"
    citation = "Wang et al. 2018 Sim 5 (Fig. 6); Harlow 1949"
    description = "learning-set task: two novel objects per episode, one always rewarded"
    action_names = ("fixate", "left", "right")
    phase_names = ("fixation", "choice", "outcome")
    outcome_phase = 1  # the step whose reward is the trial's outcome (events)

    def __init__(self, pool: str = "train", trials: int = 6, features: int = 12,
                 pool_size: int = 1000):
        if pool not in ("train", "test"):
            raise ValueError(f"pool: expected 'train' or 'test' (held-out objects), got {pool!r}")
        if not isinstance(trials, int) or trials < 2:
            raise ValueError(f"trials: expected an integer ≥ 2, got {trials!r}")
        if not isinstance(features, int) or features < 2:
            raise ValueError(f"features: expected an integer ≥ 2, got {features!r}")
        if not isinstance(pool_size, int) or pool_size < 2:
            raise ValueError(f"pool_size: expected an integer ≥ 2, got {pool_size!r}")
        self.pool, self.trials, self.features, self.pool_size = pool, trials, features, pool_size
        self.objects = object_pools(features, pool_size)[pool]
        self.obs_names = ("fixation_cue",) + tuple(f"left_f{i}" for i in range(features)) + \
            tuple(f"right_f{i}" for i in range(features)) + tuple(f"center_f{i}" for i in range(features))
        self.steps_per_episode = trials * STEPS_PER_TRIAL

    def config(self) -> dict:
        return {"pool": self.pool, "trials": self.trials, "features": self.features,
                "pool_size": self.pool_size}

    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """objects [n, 2]: pool indices of the episode's two objects (distinct; object 0 is the
        rewarded one); rewarded_left [n, trials]: whether the rewarded object is on the left."""
        a = torch.randint(self.pool_size, (n,), generator=generator)
        b = (a + 1 + torch.randint(self.pool_size - 1, (n,), generator=generator)) % self.pool_size
        left = torch.rand(n, self.trials, generator=generator) < 0.5
        return {"objects": torch.stack([a, b], 1), "rewarded_left": left}

    def reset(self, batch_size: int, generator: torch.Generator, params: dict | None = None):
        self.generator, self.batch_size = generator, batch_size
        params = params if params is not None else self.sample_params(batch_size, generator)
        self.obj_idx, self.rewarded_left = params["objects"].clone(), params["rewarded_left"].clone()
        self.t = torch.zeros(batch_size, dtype=torch.long)
        self.chosen = torch.zeros(batch_size, self.features)
        return self._obs()

    def _obs(self) -> torch.Tensor:
        B = self.batch_size
        trial, phase = self.t // STEPS_PER_TRIAL, self.t % STEPS_PER_TRIAL
        left_rew = self.rewarded_left[torch.arange(B), trial.clamp(max=self.trials - 1)]
        good, bad = self.objects[self.obj_idx[:, 0]], self.objects[self.obj_idx[:, 1]]
        left = torch.where(left_rew.unsqueeze(1), good, bad)
        right = torch.where(left_rew.unsqueeze(1), bad, good)
        show = (phase == 1).float().unsqueeze(1)
        center = self.chosen * (phase == 2).float().unsqueeze(1)
        return torch.cat([(phase == 0).float().unsqueeze(1), left * show, right * show, center], 1)

    def clock(self) -> tuple:
        return self.t // STEPS_PER_TRIAL, self.t % STEPS_PER_TRIAL

    def step(self, action: torch.Tensor) -> StepResult:
        B = self.batch_size
        check_actions(action, 3, B)
        trial, phase = self.t // STEPS_PER_TRIAL, self.t % STEPS_PER_TRIAL
        left_rew = self.rewarded_left[torch.arange(B), trial.clamp(max=self.trials - 1)]
        correct = torch.where(left_rew, LEFT, RIGHT)
        fix_reward = torch.where(action == FIXATE, 0.2, 0.0)
        choice_reward = torch.where(action == correct, 1.0, -1.0)
        reward = torch.where(phase == 0, fix_reward, torch.where(phase == 1, choice_reward, 0.0))
        good, bad = self.objects[self.obj_idx[:, 0]], self.objects[self.obj_idx[:, 1]]
        picked = torch.where((action == correct).unsqueeze(1), good, bad) * (action != FIXATE).float().unsqueeze(1)
        self.chosen = torch.where((phase == 1).unsqueeze(1), picked, self.chosen)
        info = {"trial": trial, "phase": phase, "correct": (phase == 1) & (action == correct),
                "rewarded_left": left_rew, "error": (phase == 1) & (action == FIXATE)}
        self.t = self.t + 1
        done = self.t >= self.steps_per_episode
        if bool(done.any()):
            new = self.sample_params(int(done.sum()), self.generator)
            self.obj_idx[done], self.rewarded_left[done] = new["objects"], new["rewarded_left"]
            self.t[done] = 0
        return StepResult(self._obs(), reward, done, info)

    # ------------------------------------------------------------------------ evaluation
    def score(self, batch: dict) -> dict:
        """Sums over a batch's episodes for the periodic evaluations during training:
        ``acc_trial{k}`` (the caller divides by the number of episodes)."""
        info, valid = batch["info"], batch["valid"]
        choice = (info["phase"] == 1) & valid
        correct = (info["correct"] & choice).float()
        trial = info["trial"]
        return {f"acc_trial{k + 1}": float(correct[trial == k].sum()) for k in range(self.trials)}

    # ---------------------------------------------------------------- recordings (numpy)
    def step_labels(self, batch: dict) -> dict:
        return {"trial": batch["info"]["trial"].numpy(), "phase": batch["info"]["phase"].numpy()}

    def trial_table(self, batch: dict) -> dict:
        """Columns: episode, trial, choice (0 left, 1 right, −1 none), reward (choice step),
        correct (bool: the rewarded object chosen), rewarded_left (bool), fixated (bool)."""
        info, valid = batch["info"], batch["valid"].numpy()
        phase = info["phase"].numpy()
        b, T = phase.shape
        ep = np.broadcast_to(np.arange(b)[:, None], (b, T))
        ch = (phase == 1) & valid
        fx = (phase == 0) & valid
        act = batch["actions"].numpy()
        return {
            "episode": ep[ch].astype(np.int64),
            "trial": info["trial"].numpy()[ch].astype(np.int32),
            "choice": np.where(act[ch] == FIXATE, -1, act[ch] - 1).astype(np.int16),
            "reward": batch["rewards"].numpy()[ch].astype(np.float32),
            "correct": info["correct"].numpy()[ch],
            "rewarded_left": info["rewarded_left"].numpy()[ch],
            "fixated": act[fx] == FIXATE,
        }


def train_defaults(**_) -> dict:
    """Training configuration of the shipped Harlow circuit: 128 LSTM units, the paper's Harlow
    γ 0.91 and β_v 0.4 (LTRL), Adam 1e-3 → 1e-4, entropy 0.01 → 0, one whole episode
    (18 steps) per unroll, 32 episodes per update (≈ 14,000 updates in 8 M steps); the
    evaluations every 200,000 steps run 1,000 episodes on held-out objects, so the checkpoint's
    history is its learning-set curve. Measured: with objects shown only at the choice step (no
    outcome step) and 64-episode updates the circuit stayed at chance for 4 M steps."""
    return {
        "circuit": {"protocol": "harlow", "task": {"pool": "train"}, "core": "lstm",
                    "n_units": 128, "gamma": 0.91},
        "steps": 8_000_000, "batch_size": 32, "t_max": 18,
        "optimizer": "adam", "lr": 1e-3, "lr_final": 1e-4,
        "beta_v": 0.4, "beta_e": 0.01, "beta_e_final": 0.0,
        "eval_every": 200_000, "eval_episodes": 1000, "eval_task": {"pool": "test"},
        "checkpoint_every": 4_000_000,
    }


# ------------------------------------------------------------------------------- analyses
STATS = {
    **{f"acc_trial{k}": f"fraction of trial-{k} choices of the rewarded object (± sem over "
                        f"episodes; held-out objects when run with pool='test')" for k in range(1, 7)},
    "error_rate": "fraction of choice steps with no choice (fixate)",
    "fixation_rate": "fraction of fixation steps where the circuit fixated",
}


def accuracy_by_trial(tr: dict) -> dict:
    """Per trial number: mean accuracy and sem over episodes (works on a lab's table with
    ``episode``, ``trial``, ``correct``)."""
    ep, trial, correct = (np.asarray(tr[k]) for k in ("episode", "trial", "correct"))
    out = {}
    for k in np.unique(trial):
        c = correct[trial == k].astype(float)
        out[int(k)] = (float(c.mean()), float(c.std(ddof=1) / np.sqrt(len(c))) if len(c) > 1 else None)
    return out


def learning_set_curve(history: list, quantiles: int = 6, episodes: int = 1000) -> dict:
    """The paper's Fig. 6c from a checkpoint's training history (evaluations of ``episodes``
    episodes each, with ``acc_trial{k}``): two change points — the first evaluation whose
    trial-2 accuracy is above chance by two binomial standard errors (0.5 + 1/√episodes) and
    the first within 0.05 of the final value — and ``quantiles`` evaluations evenly spaced
    between them, plus the final one. Returns ``{"steps": [...], "acc": [[trial-1..trial-k
    accuracies], ...]}``."""
    evals = [h for h in history if "acc_trial2" in h]
    if not evals:
        raise ValueError("history: no evaluations with acc_trial2 (train with eval_every > 0)")
    acc2 = np.array([h["acc_trial2"] for h in evals])
    above = np.flatnonzero(acc2 > 0.5 + 1.0 / np.sqrt(episodes))
    start = int(above[0]) if len(above) else 0
    near = np.flatnonzero(acc2 >= acc2[-1] - 0.05)
    stop = int(near[near >= start][0]) if len(near[near >= start]) else len(evals) - 1
    idx = np.unique(np.r_[np.round(np.linspace(start, stop, quantiles)).astype(int), len(evals) - 1]).tolist()
    k = max(int(key[9:]) for key in evals[0] if key.startswith("acc_trial"))
    return {"steps": [evals[i]["steps"] for i in idx],
            "acc": [[evals[i][f"acc_trial{j}"] for j in range(1, k + 1)] for i in idx]}


def analyze(rec, seed: int = 0) -> dict:
    tr = rec.trials
    stats = {}
    for k, (m, s) in accuracy_by_trial(tr).items():
        stats[f"acc_trial{k + 1}"] = {"value": m, "sem": s}
    stats["error_rate"] = {"value": float((np.asarray(tr["choice"]) < 0).mean()), "sem": None}
    stats["fixation_rate"] = {"value": float(np.asarray(tr["fixated"]).mean()), "sem": None}
    ref = {k: v for k, v in REFERENCE.items() if k in stats}
    return {"protocol": "harlow", "stats": stats, "reference": ref}


def _checkpoint_history(rec):
    """(history, evaluation episodes) of the checkpoint a recording names, or (None, 0)."""
    path = (getattr(rec, "provenance", None) or {}).get("checkpoint")
    if not path:
        return None, 0
    try:
        from circuit.agent import load_checkpoint

        payload = load_checkpoint(path)[1]
    except Exception:  # noqa: BLE001 - the checkpoint moved or is unreadable: no curve
        return None, 0
    return payload.get("history") or None, int((payload.get("train") or {}).get("eval_episodes", 1000))


def figures(rec, result: dict, outdir: str, history: list | None = None) -> list[str]:
    """Accuracy by trial (Fig. 6c's final curve) and, with the checkpoint's training history
    (given, or read from the checkpoint the recording names), the learning-set curve at training
    quantiles beside Harlow's monkeys (Fig. 6b)."""
    from .plotting import save, subplots

    episodes = 1000
    if history is None:
        history, episodes = _checkpoint_history(rec)

    st = result["stats"]
    trials = sorted(int(k[9:]) for k in st if k.startswith("acc_trial"))
    curve = None
    if history and any("acc_trial2" in h for h in history):
        curve = learning_set_curve(history, episodes=episodes)
    fig, axes = subplots(1, 3 if curve else 2, figsize=(12 if curve else 8, 3.2))
    ax = axes[0]
    if curve:
        cmap = __import__("matplotlib").colormaps["viridis"]
        for i, acc in enumerate(curve["acc"]):
            ax.plot(range(1, len(acc) + 1), np.array(acc) * 100, "o-", ms=3,
                    color=cmap(i / max(1, len(curve["acc"]) - 1)))
    ax.plot(trials, [st[f"acc_trial{k}"]["value"] * 100 for k in trials], "ko-", label="final (held-out)")
    ax.set_xlabel("trial")
    ax.set_ylabel("% correct")
    ax.set_ylim(30, 102)
    ax.legend(frameon=False, fontsize=7)
    ax = axes[1]
    blocks = list(HARLOW_1949_TRIAL2)
    ax.plot(range(len(blocks)), list(HARLOW_1949_TRIAL2.values()), "o-", color="tab:brown")
    ax.set_xticks(range(len(blocks)), blocks, rotation=45, fontsize=6)
    ax.set_xlabel("problems (Harlow 1949)")
    ax.set_ylabel("trial 2 % correct")
    ax.set_ylim(30, 102)
    if curve:
        ax = axes[2]
        t2 = [a[1] * 100 for a in curve["acc"]]
        ax.plot(range(len(t2)), t2, "o-", color="k", label="circuit (held-out objects)")
        ax.plot(np.linspace(0, len(t2) - 1, len(PAPER_QUANTILES_TRIAL2)), PAPER_QUANTILES_TRIAL2, "s--", color="grey",
                label="Wang et al. 2018 model")
        ax.set_xticks(range(len(t2)), [f"q{i + 1}" for i in range(len(t2) - 1)] + ["final"])
        ax.set_xlabel("training quantile")
        ax.set_ylabel("trial 2 % correct")
        ax.set_ylim(30, 102)
        ax.legend(frameon=False, fontsize=7)
    return save(fig, outdir, "harlow")
