"""Analyses of the stimulation two-step task (Blanco-Pozo et al. 2024): stay probabilities by
transition × outcome after stimulated and unstimulated trials, the effect of stimulation on the
next choice with a bootstrap CI over episodes, and the mice's logistic regression of staying on
outcome × transition × stimulation (statsmodels, CIs clustered by episode). Functions of trials
tables (columns of :meth:`StimTwoStepTask.trial_table`), so they run on a lab's table with the
same columns."""
from __future__ import annotations

import numpy as np
import statsmodels.api as sm

from pfcda.errors import LabDataError

from ..plotting import subplots
from ..reliability import captured
from .task import REFERENCE

CELLS = ("CR", "CU", "UR", "UU")  # common/uncommon (rare) × rewarded/unrewarded
NEEDED = ("episode", "choice", "common", "reward", "stim", "block", "correct")
#: the regression's terms (previous trial; ±0.5 coding, as the mice's contrasts)
TERMS = ("correct", "choice", "outcome", "transition", "stim", "outcome:transition", "outcome:stim",
         "transition:stim", "outcome:transition:stim")

STATS = {
    **{f"stay_{c}_{s}": f"P(repeat the first-step choice) after a {c} trial ({s})"
       for c in CELLS for s in ("stim", "nostim")},
    "stim_effect": "P(stay) after stimulated − after unstimulated trials, mean over the 4 "
                   "transition × outcome cells (95 % bootstrap CI over episodes; ≈ +0.015 without "
                   "any stimulation: the trial after a stimulated one is always free, which changes how "
                   "often the unstimulated comparison trials are forced — stim_like_reward is free of it)",
    "stim_like_reward": "the fraction of a reward's effect that stimulation after an unrewarded trial "
                        "has on staying, averaged over common and rare transitions (1: as a reward; "
                        "95 % bootstrap CI over episodes)",
    "reward_effect": "P(stay) after rewarded − after unrewarded unstimulated trials (the size of "
                     "a reward's effect, for scale)",
    "mb_interaction": "model-based index: (CR − CU) − (UR − UU) stay probabilities, unstimulated",
    **{f"glm_{t}": f"logistic regression of staying: the {t} weight (95 % CI clustered by episode)"
       for t in TERMS},
    "stim_fraction": "fraction of trials stimulated",
}


def pairs(tr: dict) -> dict:
    """Consecutive trial pairs (t, t + 1) of one episode used by the mice's analyses: trial t
    error-free, trial t + 1 a free, error-free choice; ``stim``: trial t stimulated;
    ``clean``: trials t − 1 and t − 2 unstimulated (the regression's "n−1, n−2 unstimulated",
    counted from the predictor trial). Returns columns for the kept pairs."""
    missing = [k for k in NEEDED if k not in tr]
    if missing:
        raise LabDataError(f"trials table: missing column(s) {missing} for the stimulation two-step "
                           f"analyses (expected {list(NEEDED)}, optionally error and forced)")
    ep = np.asarray(tr["episode"])
    n = len(ep)
    ok = ~np.asarray(tr.get("error", np.zeros(n, bool)), bool)
    free = ~np.asarray(tr.get("forced", np.zeros(n, bool)), bool)
    stim = np.asarray(tr["stim"], bool)
    choice = np.asarray(tr["choice"])
    prev1 = np.r_[False, stim[:-1] & (ep[1:] == ep[:-1])]
    prev2 = np.r_[False, False, stim[:-2] & (ep[2:] == ep[:-2])]
    keep = np.r_[(ep[1:] == ep[:-1]) & ok[:-1] & ok[1:] & free[1:], False]
    idx = np.flatnonzero(keep)
    correct = np.asarray(tr["correct"], bool)
    neutral = np.asarray(tr["block"]) == 2
    return {"episode": ep[idx], "stay": choice[idx + 1] == choice[idx], "stim": stim[idx],
            "clean": ~prev1[idx] & ~prev2[idx], "common": np.asarray(tr["common"], bool)[idx],
            "rewarded": np.asarray(tr["reward"])[idx] > 0, "choice": choice[idx],
            "correct": np.where(neutral[idx], 0.0, np.where(correct[idx], 0.5, -0.5))}


def _cell(p: dict) -> np.ndarray:
    return np.where(p["common"], np.where(p["rewarded"], 0, 1), np.where(p["rewarded"], 2, 3))


def stim_effect(tr: dict, n_boot: int = 2000, seed: int = 0) -> dict:
    """P(stay) after stimulated − after unstimulated (clean) trials, per cell and averaged over
    the 4 cells, with a 95 % bootstrap CI over episodes (the cells' counts pooled per resample).
    Also the stay probabilities themselves, the reward effect and the model-based index."""
    p = pairs(tr)
    eps, inv = np.unique(p["episode"], return_inverse=True)
    cell = _cell(p)

    def counts(sel):
        num = np.zeros((len(eps), 4))
        den = np.zeros((len(eps), 4))
        np.add.at(num, (inv[sel], cell[sel]), p["stay"][sel].astype(float))
        np.add.at(den, (inv[sel], cell[sel]), 1.0)
        return num, den

    ns, ds = counts(p["stim"])
    nn, dn = counts(~p["stim"] & p["clean"])

    def effect(w):
        with np.errstate(invalid="ignore", divide="ignore"):
            ps = (w @ ns) / (w @ ds)
            pn = (w @ nn) / (w @ dn)
        return ps, pn

    ones = np.ones(len(eps))
    ps, pn = effect(ones)
    rng = np.random.default_rng(seed)
    boot, boot_like = [], []
    for _ in range(n_boot):
        w = np.bincount(rng.integers(len(eps), size=len(eps)), minlength=len(eps)).astype(float)
        a, b = effect(w)
        boot.append(np.nanmean(a - b))
        boot_like.append(_like_reward(a, b))
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    like_lo, like_hi = np.nanpercentile(boot_like, [2.5, 97.5])
    return {"stim": dict(zip(CELLS, ps.tolist())), "nostim": dict(zip(CELLS, pn.tolist())),
            "n_stim": dict(zip(CELLS, ds.sum(0).astype(int).tolist())),
            "n_nostim": dict(zip(CELLS, dn.sum(0).astype(int).tolist())),
            "effect": float(np.nanmean(ps - pn)), "ci": (float(lo), float(hi)), "sem": float(np.nanstd(boot)),
            "like_reward": _like_reward(ps, pn), "like_reward_ci": (float(like_lo), float(like_hi)),
            "like_reward_sem": float(np.nanstd(boot_like)),
            "reward_effect": float((pn[0] + pn[2]) / 2 - (pn[1] + pn[3]) / 2),
            "mb_interaction": float((pn[0] - pn[1]) - (pn[2] - pn[3])), "episodes": len(eps)}


def _like_reward(ps, pn) -> float:
    """How much of a reward's effect stimulation after an unrewarded trial has: per transition,
    (stay after stimulated − unstimulated unrewarded trials) ÷ (stay after rewarded − after
    unrewarded unstimulated trials), averaged over common and rare (1: as a reward, 0: none)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.nanmean([(ps[1] - pn[1]) / (pn[0] - pn[1]), (ps[3] - pn[3]) / (pn[2] - pn[3])]))


def regression(tr: dict, notes: list | None = None) -> dict:
    """The mice's regression of staying (Blanco-Pozo et al. 2024, their mixed model's fixed
    part): stay ~ correct + choice + outcome × transition × stim on the previous trial (±0.5
    coding; pairs with the two trials before the predictor unstimulated), a binomial GLM
    (statsmodels) with CIs clustered by episode. Returns term → {"value", "ci"}."""
    p = pairs(tr)
    keep = p["clean"]
    out = np.where(p["rewarded"], 0.5, -0.5)[keep]
    trans = np.where(p["common"], 0.5, -0.5)[keep]
    stim = np.where(p["stim"], 0.5, -0.5)[keep]
    cols = {"correct": p["correct"][keep], "choice": np.where(p["choice"] == 1, 0.5, -0.5)[keep],
            "outcome": out, "transition": trans, "stim": stim, "outcome:transition": out * trans,
            "outcome:stim": out * stim, "transition:stim": trans * stim,
            "outcome:transition:stim": out * trans * stim}
    X = sm.add_constant(np.column_stack([cols[t] for t in TERMS]), has_constant="add")
    y = p["stay"][keep].astype(float)
    groups = np.unique(p["episode"][keep], return_inverse=True)[1]
    with captured(notes if notes is not None else [], "twostep_stim stay regression"):
        res = sm.GLM(y, X, family=sm.families.Binomial()).fit(cov_type="cluster",
                                                              cov_kwds={"groups": groups})
    ci = np.asarray(res.conf_int())
    return {t: {"value": float(res.params[i + 1]), "sem": float(res.bse[i + 1]),
                "ci": (float(ci[i + 1, 0]), float(ci[i + 1, 1]))} for i, t in enumerate(TERMS)}


def analyze(rec, seed: int = 0) -> dict:
    """Every statistic of :data:`STATS` on this recording (its manipulations, if any, are in the
    recording)."""
    tr = rec.trials
    eff = stim_effect(tr, seed=seed)
    stats = {}
    for c in CELLS:
        stats[f"stay_{c}_stim"] = {"value": eff["stim"][c], "sem": None, "n": eff["n_stim"][c]}
        stats[f"stay_{c}_nostim"] = {"value": eff["nostim"][c], "sem": None, "n": eff["n_nostim"][c]}
    stats["stim_effect"] = {"value": eff["effect"], "sem": eff["sem"], "ci": list(eff["ci"])}
    stats["stim_like_reward"] = {"value": eff["like_reward"], "sem": eff["like_reward_sem"],
                                 "ci": list(eff["like_reward_ci"])}
    stats["reward_effect"] = {"value": eff["reward_effect"], "sem": None}
    stats["mb_interaction"] = {"value": eff["mb_interaction"], "sem": None}
    notes: list = []
    reg = regression(tr, notes)
    for t in TERMS:
        stats[f"glm_{t}"] = {"value": reg[t]["value"], "sem": reg[t]["sem"], "ci": list(reg[t]["ci"])}
    stats["stim_fraction"] = {"value": float(np.asarray(tr["stim"]).mean()), "sem": None}
    return {"protocol": "twostep_stim", "stats": stats, "reference": dict(REFERENCE), "notes": notes,
            "manipulations": [m.get("name", "") for m in rec.manipulations]}


def figures(rec, result: dict, **_) -> dict:
    """Stay probabilities by transition × outcome after stimulated and unstimulated trials (the
    mice's Fig. 5-style panel)."""
    st = result["stats"]
    fig, ax = subplots(figsize=(3.6, 3.0))
    x = np.arange(4)
    for j, (s, col) in enumerate((("nostim", "0.6"), ("stim", "tab:blue"))):
        ax.bar(x + 0.38 * j, [st[f"stay_{c}_{s}"]["value"] for c in CELLS], 0.36, color=col,
               label="unstimulated" if s == "nostim" else "stimulated")
    ax.set_xticks(x + 0.19, ["common\nrewarded", "common\nunrewarded", "rare\nrewarded", "rare\nunrewarded"],
                  fontsize=7)
    ax.set_ylabel("P(stay)")
    ax.set_ylim(0, 1)
    e = st["stim_effect"]
    ax.set_title(f"stimulation effect {e['value']:+.3f} [{e['ci'][0]:+.3f}, {e['ci'][1]:+.3f}]", fontsize=8)
    ax.legend(frameon=False, fontsize=7)
    return {"twostep_stim": fig}

