"""Sim 3 analyses (Wang et al. 2018 Fig. 4): cue-onset RPEs by condition around uncued reversals
(Bromberg-Martin et al. 2010), the latent state in the units (Fig. 4c), and the same from
rendered DA and PFC spikes."""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score

from pfcda.dopamine.spiking import condition_responses

from ..plotting import subplots
from .task import REFERENCE

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


def figures(rec, result: dict, **_) -> dict:
    """Fig. 4b-like bars of cue-onset δ by condition, and Fig. 4c-like PCA of unit activity at
    each step of the reversal trial and the next, coloured by the latent state."""
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
    return {"reversal": fig}

# ------------------------------------------------------------------------------ DA spikes
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


def pfc_spike_decoding(rec, spikes) -> float:
    """Fig. 4c as on electrophysiology: the latent state (which cue is rewarded) decoded from the
    PFC units' spike counts in each trial's fixation step (cross-validated logistic regression,
    folds by episode; reversal trials excluded, as for the unit-activity decoding). ``spikes``:
    the rendered spikes (:class:`pfcda.circuit.io.spikes.Spikes`)."""
    fix = np.flatnonzero(rec.steps["phase"] == 0)
    start = spikes.step_start_s[fix]
    step_s = spikes.da_params.step_ms / 1000.0
    t, u = spikes.pfc_spike_times_s, spikes.pfc_spike_units
    n_units = spikes.pfc_n_units
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


def spike_analyses(rec, spikes, window_s=(-0.3, 0.5), bin_s: float = 0.025) -> dict:
    """Fig. 4a from rendered DA spikes (``pfcda spikes``): PSTHs aligned on cue onset — where the
    δ of the transition into the cue (the fixation step's δ, see the task card) is emitted — by
    condition (before the reversal, the trial after it for the experienced and for the inferred
    cue) × whether the cue is rewarded; response = mean rate over the pulse window. Returns
    {"stats", "psth": {condition_value: psth dict}, "reference"}."""
    p = spikes.da_params
    stats, curves = {}, {}
    if spikes.has_pfc:
        stats["pfc_latent_state_decoding"] = {"value": pfc_spike_decoding(rec, spikes), "sem": None}
    if not spikes.has_da:
        return {"stats": stats, "psth": curves, "reference": SPIKE_REFERENCE}
    t = cue_rpe_table(rec)
    fix = np.flatnonzero(rec.steps["phase"] == 0)
    # the fixation step's δ (fixation → cue) is emitted at the start of the cue step (+ onset)
    onset = spikes.step_start_s[fix + 1] + p.pulse_onset_ms / 1000.0
    conds = {f"{c}_{v}": (t["condition"] == c) & (t["cue_rewarded"] == flag)
             for c in ("before", "experienced", "inferred") for v, flag in (("rewarded", True), ("unrewarded", False))}
    da, curves = condition_responses(spikes.da_spike_times_s, onset, conds, p.n_neurons,
                                     p.pulse_ms / 1000.0, window_s, bin_s, valid=~t["error"])
    stats.update(da)
    b = stats["da_baseline"]["value"]
    if "da_rate_inferred_rewarded" in stats and "da_rate_experienced_rewarded" in stats:
        stats["da_inferred_over_experienced"] = {
            "value": (stats["da_rate_inferred_rewarded"]["value"] - b)
            / (stats["da_rate_experienced_rewarded"]["value"] - b), "sem": None}
    return {"stats": stats, "psth": curves, "reference": SPIKE_REFERENCE}
