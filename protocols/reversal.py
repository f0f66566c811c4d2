"""Reversal with inferred value — Wang et al. 2018 Sim 3 (Fig. 4); Bromberg-Martin et al. 2010.

Task card
---------
Citation
    Wang, Kurth-Nelson et al. 2018, Nat Neurosci 21:860, Simulation 3, Fig. 4.
    Lab: Bromberg-Martin, Matsumoto, Hong & Hikosaka 2010, J Neurophysiol 104:1068 (2 monkeys,
    dopamine neurons).
Species
    Rhesus macaque.
Trial timeline (4 agent steps per trial)
    ``fixation``: central fixation cue; valid action ``fixate``.
    ``cue``: one of two targets appears (``cue_left`` or ``cue_right``, each with p = 0.5);
    no response is required (any action is valid).
    ``response``: the cue stays on and a ``go`` signal appears; the agent must saccade to the
    cued side (``left`` for ``cue_left``, ``right`` for ``cue_right``): forced choice, so only
    value learning matters.
    ``outcome``: the outcome is delivered; no response is required. Reward +1 if the cue is the
    currently rewarded one and the trial had no invalid response, else 0.
    An invalid response (not ``fixate`` at fixation, not the cued side at response): −1.
    (Decision: the paper requires a_C at the fixation cue and a_L/a_R at the stimulus cue; it
    names no required action at the cue-presentation and outcome steps, so none is imposed.
    Requiring ``fixate`` there too made A2C collapse onto ``fixate`` everywhere.)
Blocks and reversals
    Trials come in blocks of 5 with a fixed rewarded cue; at the start of every block the
    rewarded cue switches with probability 0.5 (uncued reversal).
Observation channels
    ``fixation_cue``, ``cue_left``, ``cue_right``, ``go``, ``outcome_cue``. Previous action and
    reward are added by the network.
Actions
    ``fixate`` (a_C), ``left`` (a_L), ``right`` (a_R).
Episode and hidden state (the open choice of protocols.md §5.2, decided)
    Fig. 4c shows the network's state at fixation of the reversal trial already clustered by the
    latent state, which needs activity carried across blocks. So an *episode* here is a
    continuous stream of ``blocks`` 5-trial blocks (10 by default: 200 steps, the paper's BPTT
    window) with no state reset at block boundaries; the LSTM state is reset only at episode
    start. A *reversal trial* is the first trial of a block whose rewarded cue differs from the
    previous block's (the first block of an episode is never a reversal).
Training
    γ = 0.9, the shared defaults, 48 LSTM units (see :func:`train_defaults`).
RPE at cue onset
    The model's DA response to the cue is the TD error of the transition into the cue step,
    δ = r(fixation) + γV(cue) − V(fixation), i.e. ``delta`` on the fixation step.
"""
from __future__ import annotations

import numpy as np
import torch

from .base import StepResult, Task, check_actions

FIXATE, LEFT, RIGHT = 0, 1, 2
STEPS_PER_TRIAL, TRIALS_PER_BLOCK = 4, 5

#: Cue-onset RPEs read off Wang et al. 2018 Fig. 4b (model) and DA firing (spikes/s, baseline
#: ≈ 5) read off Fig. 4a (Bromberg-Martin et al. 2010), ±0.02–0.05 / ±1.
REFERENCE = {
    "rpe_before_rewarded": {"paper": 0.30, "lab": 18.0, "source": "Fig. 4a,b: before reversal"},
    "rpe_before_unrewarded": {"paper": -0.35, "lab": 2.5, "source": "Fig. 4a,b: before reversal"},
    "rpe_experienced_rewarded": {"paper": 0.30, "lab": 22.0, "source": "Fig. 4a,b: trial after "
                                 "reversal, cue seen on the reversal trial"},
    "rpe_experienced_unrewarded": {"paper": -0.38, "lab": 1.0, "source": "Fig. 4a,b"},
    "rpe_inferred_rewarded": {"paper": 0.34, "lab": 10.5, "source": "Fig. 4a,b: trial after "
                              "reversal, cue not seen since the reversal"},
    "rpe_inferred_unrewarded": {"paper": -0.35, "lab": 3.0, "source": "Fig. 4a,b"},
}


class ReversalTask(Task):
    name = "reversal"
    citation = "Wang et al. 2018 Sim 3 (Fig. 4); Bromberg-Martin et al. 2010"
    description = "forced-choice cue task, uncued reversals in 5-trial blocks"
    obs_names = ("fixation_cue", "cue_left", "cue_right", "go", "outcome_cue")
    action_names = ("fixate", "left", "right")
    phase_names = ("fixation", "cue", "response", "outcome")
    outcome_phase = 3  # the step whose reward is the trial's outcome (events)

    def __init__(self, blocks: int = 10, p_switch: float = 0.5):
        if not isinstance(blocks, int) or blocks < 1:
            raise ValueError(f"blocks: expected a positive integer, got {blocks!r}")
        if not 0.0 <= p_switch <= 1.0:
            raise ValueError(f"p_switch: expected a probability, got {p_switch}")
        self.blocks, self.p_switch = blocks, float(p_switch)
        self.steps_per_episode = blocks * TRIALS_PER_BLOCK * STEPS_PER_TRIAL

    def config(self) -> dict:
        return {"blocks": self.blocks, "p_switch": self.p_switch}

    def sample_params(self, n: int, generator: torch.Generator) -> dict:
        """rewarded [n, blocks]: the rewarded cue (0 left, 1 right) of every block (the first
        uniform, then a switch with probability p_switch); cues [n, trials]: the cue shown."""
        first = torch.randint(2, (n, 1), generator=generator)
        switch = (torch.rand(n, self.blocks - 1, generator=generator) < self.p_switch).long()
        rewarded = torch.cat([first, first + switch.cumsum(1)], 1) % 2
        cues = torch.randint(2, (n, self.blocks * TRIALS_PER_BLOCK), generator=generator)
        return {"rewarded": rewarded, "cues": cues}

    def reset(self, batch_size: int, generator: torch.Generator, params: dict | None = None):
        self.generator, self.batch_size = generator, batch_size
        params = params if params is not None else self.sample_params(batch_size, generator)
        self.rewarded, self.cues = params["rewarded"].clone(), params["cues"].clone()
        self.t = torch.zeros(batch_size, dtype=torch.long)
        self.error = torch.zeros(batch_size, dtype=torch.bool)
        return self._obs()

    def _where(self):
        trial = self.t // STEPS_PER_TRIAL
        phase = self.t % STEPS_PER_TRIAL
        rows = torch.arange(self.batch_size)
        cue = self.cues[rows, trial.clamp(max=self.cues.shape[1] - 1)]
        block = (trial // TRIALS_PER_BLOCK).clamp(max=self.blocks - 1)
        rew_cue = self.rewarded[rows, block]
        return trial, phase, cue, block, rew_cue

    def _obs(self) -> torch.Tensor:
        _, phase, cue, _, _ = self._where()
        obs = torch.zeros(self.batch_size, 5)
        rows = torch.arange(self.batch_size)
        channel = torch.where(phase == 0, 0, torch.where(phase == 3, 4, 1 + cue))
        obs[rows, channel] = 1.0
        obs[:, 3] = (phase == 2).float()  # go
        return obs

    def clock(self) -> tuple:
        return self.t // STEPS_PER_TRIAL, self.t % STEPS_PER_TRIAL

    def step(self, action: torch.Tensor) -> StepResult:
        check_actions(action, 3, self.batch_size)
        trial, phase, cue, block, rew_cue = self._where()
        expected = torch.where(phase == 2, 1 + cue, FIXATE)
        invalid = (action != expected) & ((phase == 0) | (phase == 2))
        self.error = torch.where(phase == 0, invalid, self.error | invalid)
        reward = torch.where(invalid, -1.0, 0.0)
        pay = (phase == 3) & ~self.error & (cue == rew_cue)
        reward = torch.where(pay, 1.0, reward)
        prev_block_cue = self.rewarded[torch.arange(self.batch_size), (block - 1).clamp(min=0)]
        info = {"trial": trial, "phase": phase, "cue": cue, "rewarded_cue": rew_cue,
                "block": block, "reversal": (block > 0) & (trial % TRIALS_PER_BLOCK == 0)
                & (rew_cue != prev_block_cue), "error": self.error.clone()}
        self.t += 1
        done = self.t >= self.steps_per_episode
        if bool(done.any()):
            new = self.sample_params(int(done.sum()), self.generator)
            self.rewarded[done], self.cues[done] = new["rewarded"], new["cues"]
            self.t[done] = 0
            self.error[done] = False
        return StepResult(self._obs(), reward, done, info)

    # ---------------------------------------------------------------- recordings (numpy)
    def step_labels(self, batch: dict) -> dict:
        return {"trial": batch["info"]["trial"].numpy(), "phase": batch["info"]["phase"].numpy()}

    def trial_table(self, batch: dict) -> dict:
        """Columns: episode, trial, block, choice (the response-step action), reward (at the
        outcome step), cue (0 left, 1 right), rewarded_cue, cue_rewarded (bool), reversal (bool:
        first trial of a switched block), error (any invalid response in the trial)."""
        info, valid = batch["info"], batch["valid"].numpy()
        phase = info["phase"].numpy()
        b, T = phase.shape
        ep = np.broadcast_to(np.arange(b)[:, None], (b, T))
        resp = (phase == 2) & valid
        out = (phase == 3) & valid
        cue = info["cue"].numpy()[resp]
        rew_cue = info["rewarded_cue"].numpy()[resp]
        return {
            "episode": ep[resp].astype(np.int64),
            "trial": info["trial"].numpy()[resp].astype(np.int32),
            "block": info["block"].numpy()[resp].astype(np.int32),
            "choice": batch["actions"].numpy()[resp].astype(np.int16),
            "reward": batch["rewards"].numpy()[out].astype(np.float32),
            "cue": cue.astype(np.int8), "rewarded_cue": rew_cue.astype(np.int8),
            "cue_rewarded": cue == rew_cue,
            "reversal": info["reversal"].numpy()[resp],
            "error": info["error"].numpy()[out],
        }


def train_defaults(**_) -> dict:
    """Training configuration of the shipped reversal circuit: the paper's γ = 0.9 and 48 units;
    episodes of 10 blocks (200 steps, the paper's BPTT window) run as unrolls of 20 steps with
    the state carried across unrolls, 32 episodes per batch, so that the run makes many updates
    (15,600 in 10 M steps), and β_v = 0.5. Measured: with 128 × 200-step unrolls the weights
    barely moved from their initialisation in 20 M steps (780 updates), and with 64 × 40-step
    unrolls (3,100 updates in 8 M steps) the value never came to depend on the cue, so the
    cue-onset RPEs stayed at 0; the policy (forced choice) needs no memory, so only the value
    term teaches the network the latent state."""
    return {
        "circuit": {"protocol": "reversal", "task": {"blocks": 10}, "core": "lstm",
                    "n_units": 48, "gamma": 0.9},
        "steps": 10_000_000, "batch_size": 32, "t_max": 20,
        "optimizer": "adam", "lr": 2e-3, "lr_final": 1e-4,
        "beta_v": 0.5, "beta_e": 0.05, "beta_e_final": 0.0,
        "eval_every": 1_000_000, "eval_episodes": 500, "checkpoint_every": 5_000_000,
    }


# ------------------------------------------------------------------------------- analyses
CONDITIONS = ("before", "reversal", "experienced", "inferred")
STATS = {}
for _c, _what in (("before", "on trials of the block before a reversal"),
                  ("reversal", "on the reversal trial (the old values still apply to the cue)"),
                  ("experienced", "on the trial after the reversal, for the cue shown on the "
                                  "reversal trial"),
                  ("inferred", "on the trial after the reversal, for the other cue (its new "
                               "value can only be inferred)")):
    for _v in ("rewarded", "unrewarded"):
        _when = "before the reversal" if _c in ("before", "reversal") else "after the reversal"
        STATS[f"rpe_{_c}_{_v}"] = (f"mean δ at cue onset {_what}, for a cue {_v} {_when} "
                                   f"(± sem over trials)")
STATS["inferred_over_experienced"] = ("ratio of the inferred to the experienced flip: "
                                      "(δ_inferred,rew − δ_inferred,unrew) / "
                                      "(δ_experienced,rew − δ_experienced,unrew); 1 = full inference")
STATS["error_rate"] = "fraction of trials with an invalid response"
STATS["latent_state_decoding"] = ("Fig. 4c: cross-validated accuracy (logistic regression, folds by "
                                  "episode) of reading the latent state (which cue is rewarded) "
                                  "from unit activity at the fixation step, on every trial but "
                                  "reversal trials (where nothing has revealed the switch yet)")
STATS["latent_state_pc_separation"] = ("Fig. 4c: distance between the two latent states' mean "
                                       "positions in the plane of the first two principal "
                                       "components of fixation-step activity, in units of the "
                                       "pooled within-state standard deviation")


def latent_state_clustering(rec, max_trials: int = 20_000, seed: int = 0) -> dict:
    """Does the network's state at fixation carry the latent state (Fig. 4c)? Decoding accuracy
    (scikit-learn LogisticRegression, GroupKFold by episode) and the separation of the two
    states in PC1–PC2 space. Reversal trials are excluded: their latent state is not yet
    knowable. Needs the recording's unit activity."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score

    s, tr = rec.steps, rec.trials
    fix = np.flatnonzero(s["phase"] == 0)
    H = rec.units["hidden"][fix]
    y = np.asarray(tr["rewarded_cue"])
    keep = ~np.asarray(tr["reversal"]) & ~np.asarray(tr["error"])
    if len(H) != len(y):
        raise ValueError("latent_state_clustering: one fixation step per trial expected")
    rows = np.flatnonzero(keep)[:max_trials]
    H, y, groups = H[rows], y[rows], np.asarray(tr["episode"])[rows]
    acc = cross_val_score(LogisticRegression(max_iter=2000), H, y, groups=groups,
                          cv=GroupKFold(n_splits=5)).mean()
    Z = PCA(n_components=2, random_state=seed).fit_transform(H)
    m0, m1 = Z[y == 0].mean(0), Z[y == 1].mean(0)
    pooled = np.sqrt(0.5 * (Z[y == 0].var(0).sum() + Z[y == 1].var(0).sum()))
    return {"accuracy": float(acc), "pc_separation": float(np.linalg.norm(m1 - m0) / pooled)}


def cue_rpe_table(rec) -> dict:
    """Per trial: the cue-onset δ (delta on the trial's fixation step) and its condition."""
    s, tr = rec.steps, rec.trials
    fix = s["phase"] == 0
    delta = s["delta"][fix]
    ep, rev = tr["episode"], tr["reversal"]
    # the trial after a reversal trial, in the same episode
    after = np.r_[False, rev[:-1] & (ep[1:] == ep[:-1])]
    rev_cue = np.r_[-1, tr["cue"][:-1]]
    before = np.r_[rev[1:] & (ep[1:] == ep[:-1]), False]  # the trial just before a reversal
    cond = np.full(len(ep), "", dtype=object)
    cond[before] = "before"
    cond[rev] = "reversal"
    cond[after & (tr["cue"] == rev_cue)] = "experienced"
    cond[after & (tr["cue"] != rev_cue)] = "inferred"
    # whether the shown cue is rewarded: before/reversal → the old assignment, after → the new
    old_rewarded = np.where(rev, tr["rewarded_cue"] ^ 1, tr["rewarded_cue"])
    rewarded = np.where(cond == "reversal", tr["cue"] == old_rewarded, tr["cue_rewarded"])
    return {"delta": delta, "condition": cond, "cue_rewarded": rewarded, "error": tr["error"]}


def analyze(rec, seed: int = 0) -> dict:
    t = cue_rpe_table(rec)
    stats = {}
    ok = ~t["error"]
    for c in CONDITIONS:
        for v, flag in (("rewarded", True), ("unrewarded", False)):
            d = t["delta"][(t["condition"] == c) & (t["cue_rewarded"] == flag) & ok]
            stats[f"rpe_{c}_{v}"] = {"value": float(d.mean()) if len(d) else float("nan"),
                                     "sem": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None}
    flip = lambda c: stats[f"rpe_{c}_rewarded"]["value"] - stats[f"rpe_{c}_unrewarded"]["value"]  # noqa: E731
    stats["inferred_over_experienced"] = {"value": flip("inferred") / flip("experienced"), "sem": None}
    stats["error_rate"] = {"value": float(t["error"].mean()), "sem": None}
    if "hidden" in rec.units:
        lat = latent_state_clustering(rec, seed=seed)
        stats["latent_state_decoding"] = {"value": lat["accuracy"], "sem": None}
        stats["latent_state_pc_separation"] = {"value": lat["pc_separation"], "sem": None}
    ref = {k: v for k, v in REFERENCE.items() if k in stats}
    return {"protocol": "reversal", "stats": stats, "reference": ref}


def figures(rec, result: dict, outdir: str) -> list[str]:
    """Fig. 4b-like bars of cue-onset δ by condition, and Fig. 4c-like PCA of unit activity at
    each step of the reversal trial and the next, coloured by the latent state."""
    from sklearn.decomposition import PCA

    from .plotting import save, subplots

    st = result["stats"]
    fig, axes = subplots(1, 2, figsize=(8, 3.2))
    ax = axes[0]
    for i, c in enumerate(("before", "experienced", "inferred")):
        for j, (v, col) in enumerate((("rewarded", "tab:red"), ("unrewarded", "tab:blue"))):
            s = st[f"rpe_{c}_{v}"]
            ax.bar(i + 0.38 * j, s["value"], 0.36, yerr=s["sem"] or 0, color=col,
                   label=v if i == 0 else None)
    ax.set_xticks(np.arange(3) + 0.19, ["before", "experienced", "inferred"])
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylabel("δ at cue onset")
    ax.legend(frameon=False, fontsize=7, loc="center right")
    ax = axes[1]
    if "hidden" in rec.units:
        tr, s = rec.trials, rec.steps
        key = s["episode"].astype(np.int64) * 10_000 + s["trial"]
        rev_keys = tr["episode"][tr["reversal"]].astype(np.int64) * 10_000 + tr["trial"][tr["reversal"]]
        rows = np.isin(key, rev_keys) | np.isin(key, rev_keys + 1)
        H = rec.units["hidden"][rows]
        if len(H) > 2:
            Z = PCA(n_components=2).fit_transform(H)
            latent = np.repeat(tr["rewarded_cue"], 4)[rows] if len(tr["rewarded_cue"]) * 4 == len(key) else None
            ax.scatter(Z[:, 0], Z[:, 1], c=latent if latent is not None else s["phase"][rows],
                       cmap="coolwarm", s=4)
            ax.set_xlabel("PC1")
            ax.set_ylabel("PC2")
            ax.set_title("reversal trial and next: units by latent state", fontsize=8)
    return save(fig, outdir, "reversal")


# --------------------------------------------------------------------- DA spikes (issue #8)
SPIKE_STATS = {}
for _c in ("before", "experienced", "inferred"):
    for _v in ("rewarded", "unrewarded"):
        SPIKE_STATS[f"da_rate_{_c}_{_v}"] = (f"DA population rate (spikes/s per neuron) in the cue "
                                             f"response window, condition {_c}, cue {_v}")
SPIKE_STATS["da_baseline"] = "DA rate in the 300–50 ms before cue-response onset (spikes/s)"
SPIKE_STATS["pfc_latent_state_decoding"] = ("Fig. 4c from PFC spikes: cross-validated accuracy of "
                                            "the latent state decoded from each unit's spike count "
                                            "in the fixation step (reversal trials excluded)")
SPIKE_STATS["da_inferred_over_experienced"] = ("(rate inferred,rew − baseline) / (rate "
                                              "experienced,rew − baseline); Bromberg-Martin's "
                                              "monkeys: (10.5 − 5) / (22 − 5) ≈ 0.32")
#: Bromberg-Martin et al. 2010 (Wang et al. 2018 Fig. 4a), DA firing read off the figure (±1).
SPIKE_REFERENCE = {k: {"lab": v, "source": "Bromberg-Martin et al. 2010, Fig. 4a"} for k, v in (
    ("da_baseline", 5.0), ("da_rate_before_rewarded", 18.0), ("da_rate_experienced_rewarded", 22.0),
    ("da_rate_inferred_rewarded", 10.5), ("da_rate_before_unrewarded", 2.5),
    ("da_rate_experienced_unrewarded", 1.0), ("da_rate_inferred_unrewarded", 3.0),
    ("da_inferred_over_experienced", 0.32))}


def pfc_spike_decoding(rec, spikes: dict) -> float:
    """Fig. 4c as on electrophysiology: the latent state (which cue is rewarded) decoded from the
    PFC units' spike counts in each trial's fixation step (cross-validated logistic regression,
    folds by episode; reversal trials excluded, as for the unit-activity decoding)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score

    fix = np.flatnonzero(rec.steps["phase"] == 0)
    start = spikes["steps/start_s"][fix]
    step_s = np.diff(spikes["steps/start_s"][:2])[0] if len(spikes["steps/start_s"]) > 1 else 0.5
    t, u = spikes["pfc/spike_times_s"], spikes["pfc/spike_units"]
    n_units = int(spikes.get("pfc/n_units", u.max() + 1 if len(u) else 0))
    n_units = max(n_units, int(u.max()) + 1 if len(u) else 0)
    trial = np.searchsorted(start, t, side="right") - 1
    inside = (trial >= 0) & (t < start[np.clip(trial, 0, None)] + step_s)
    X = np.zeros((len(fix), n_units))
    np.add.at(X, (trial[inside], u[inside]), 1.0)
    tr = rec.trials
    keep = ~np.asarray(tr["reversal"]) & ~np.asarray(tr["error"])
    y, groups = np.asarray(tr["rewarded_cue"])[keep], np.asarray(tr["episode"])[keep]
    n_folds = min(5, len(np.unique(groups)))
    return float(cross_val_score(LogisticRegression(max_iter=2000), X[keep], y, groups=groups,
                                 cv=GroupKFold(n_splits=n_folds)).mean())


def spike_analyses(rec, spikes: dict, window_s=(-0.3, 0.5), bin_s: float = 0.025) -> dict:
    """Fig. 4a from rendered DA spikes (``pfcda spikes``): PSTHs aligned on cue onset — where the
    δ of the transition into the cue (the fixation step's δ, see the task card) is emitted — by
    condition (before the reversal, the trial after it for the experienced and for the inferred
    cue) × whether the cue is rewarded; response = mean rate over the pulse window. Returns
    {"stats", "psth": {condition_value: psth dict}, "reference"}."""
    import json as _json

    from dopamine.spiking import DAParams, condition_responses

    params = _json.loads(spikes["params"])["da"]
    p = DAParams(**params)
    stats, curves = {}, {}
    if "pfc/spike_times_s" in spikes:
        stats["pfc_latent_state_decoding"] = {"value": pfc_spike_decoding(rec, spikes), "sem": None}
    if "da/spike_times_s" not in spikes:
        return {"stats": stats, "psth": curves, "reference": SPIKE_REFERENCE}
    t = cue_rpe_table(rec)
    fix = np.flatnonzero(rec.steps["phase"] == 0)
    # the fixation step's δ (fixation → cue) is emitted at the start of the cue step (+ onset)
    onset = spikes["steps/start_s"][fix + 1] + p.pulse_onset_ms / 1000.0
    conds = {f"{c}_{v}": (t["condition"] == c) & (t["cue_rewarded"] == flag)
             for c in ("before", "experienced", "inferred") for v, flag in (("rewarded", True), ("unrewarded", False))}
    da, curves = condition_responses(spikes["da/spike_times_s"], onset, conds, p.n_neurons,
                                     p.pulse_ms / 1000.0, window_s, bin_s, valid=~t["error"])
    stats.update(da)
    b = stats["da_baseline"]["value"]
    if "da_rate_inferred_rewarded" in stats and "da_rate_experienced_rewarded" in stats:
        stats["da_inferred_over_experienced"] = {
            "value": (stats["da_rate_inferred_rewarded"]["value"] - b)
            / (stats["da_rate_experienced_rewarded"]["value"] - b), "sem": None}
    return {"stats": stats, "psth": curves, "reference": SPIKE_REFERENCE}
