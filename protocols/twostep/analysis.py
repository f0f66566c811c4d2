"""Sim 4 analyses (Wang et al. 2018 Fig. 5): stay probabilities, the Miller et al. 2017 GLM, the
circuit's δ regressed on model-based and model-free RPEs, and Daw's hybrid fitted to its choices;
functions of trials tables, so they run on lab data unchanged."""
from __future__ import annotations

import warnings

import numpy as np
import statsmodels.api as sm

from ..plotting import subplots
from ..reliability import at_bounds, captured, nan
from . import agents
from .task import REFERENCE, VARIANTS

TYPES = ("CR", "CU", "UR", "UU")  # common/uncommon × rewarded/unrewarded, Miller et al. 2017


STAY_NAMES = {"CR": "common_rewarded", "UR": "uncommon_rewarded", "CU": "common_unrewarded",
              "UU": "uncommon_unrewarded"}


def _trial_types(tr: dict) -> np.ndarray:
    """0..3 = CR, CU, UR, UU for every trial."""
    common = np.asarray(tr["common"], bool)
    rewarded = np.asarray(tr["reward"]) > 0
    return np.where(common, np.where(rewarded, 0, 1), np.where(rewarded, 2, 3))


def stay_probabilities(tr: dict) -> dict:
    """P(repeat the first-stage choice) after each previous-trial type (transition × reward),
    over consecutive pairs of error-free trials of the same episode; with a ``forced`` column
    (lab data: instructed trials) the repeating trial must be free, while a forced trial may
    be the one before (its outcome was experienced). Returns per type ``{"value", "sem", "n"}``
    (sem: binomial). Works on a lab's trials table unchanged."""
    ep = np.asarray(tr["episode"])
    choice = np.asarray(tr["choice"])
    ok = ~np.asarray(tr.get("error", np.zeros(len(ep), bool)), bool)
    free = ~np.asarray(tr.get("forced", np.zeros(len(ep), bool)), bool)
    pair = (ep[1:] == ep[:-1]) & ok[1:] & ok[:-1] & free[1:]
    stay = choice[1:] == choice[:-1]
    types = _trial_types(tr)[:-1]
    out = {}
    for i, name in enumerate(TYPES):
        m = pair & (types == i)
        n = int(m.sum())
        p = float(stay[m].mean()) if n else float("nan")
        out[name] = {"value": p, "sem": float(np.sqrt(p * (1 - p) / n)) if n > 1 else None, "n": n}
    return out


def glm_design(tr: dict, lags: int = 5):
    """The Miller et al. 2017 regression design: for each trial (the target: 1 = right) and each
    type × lag, +1 if the trial ``lag`` back was of that type with a right choice, −1 with a
    left choice, 0 otherwise (or if it was an error trial). Targets are error-free (and, with a
    ``forced`` column, free) trials with ``lags`` earlier trials in the same episode.
    Returns (X [n, 4·lags], y [n], names)."""
    ep = np.asarray(tr["episode"])
    choice = np.asarray(tr["choice"])
    ok = ~np.asarray(tr.get("error", np.zeros(len(ep), bool)), bool)
    free = ~np.asarray(tr.get("forced", np.zeros(len(ep), bool)), bool)
    types = _trial_types(tr)
    sign = np.where(choice == 1, 1.0, -1.0) * ok
    cols, names = [], []
    for k, name in enumerate(TYPES):
        for lag in range(1, lags + 1):
            x = np.zeros(len(ep))
            x[lag:] = np.where(types[:-lag] == k, sign[:-lag], 0.0)
            cols.append(x)
            names.append(f"{name}_lag{lag}")
    X = np.column_stack(cols)
    trial_in_ep = np.asarray(tr["trial"]) - np.minimum.reduceat(np.asarray(tr["trial"]),
                                                                np.r_[0, np.flatnonzero(np.diff(ep)) + 1]).repeat(
        np.diff(np.r_[0, np.flatnonzero(np.diff(ep)) + 1, len(ep)]))
    keep = ok & free & (trial_in_ep >= lags)
    return X[keep], (choice[keep] == 1).astype(float), names


def miller_glm(tr: dict, lags: int = 5) -> dict:
    """Logistic regression (statsmodels) of P(right) on 4 trial types × ``lags`` lags plus a
    bias; the model-based index ΣCR − ΣCU + ΣUU − ΣUR and model-free index ΣCR − ΣCU − ΣUU +
    ΣUR (sums over lags). Returns ``{"coef": {name: (value, se)}, "bias", "separation",
    "mb_index", "mf_index"}``.
    A near-deterministic agent (e.g. stay probability 1.0 after common-rewarded trials) makes
    the maximum-likelihood weights diverge (quasi-complete separation); the fit is then redone
    with a weak ridge penalty (statsmodels GLM, α = 1e-3), ``separation`` is True and the
    standard errors are None; so is a fit whose Hessian is singular (a short run in which a trial
    type never occurs at some lag).
    """
    X, y, names = glm_design(tr, lags)
    Xc = sm.add_constant(X, has_constant="add")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = sm.Logit(y, Xc).fit(disp=0, maxiter=200)
        except np.linalg.LinAlgError:  # a singular Hessian: a trial type never seen, or separation
            fit = None
    separated = (fit is None or not fit.mle_retvals.get("converged", True)
                 or float(np.abs(fit.params).max()) > 15)
    if separated:
        glm = sm.GLM(y, Xc, family=sm.families.Binomial())
        params = glm.fit_regularized(alpha=1e-3, L1_wt=0.0).params
        coef = {n: (float(v), None) for n, v in zip(names, params[1:])}
        bias = float(params[0])
    else:
        coef = {n: (float(v), float(s)) for n, v, s in zip(names, fit.params[1:], fit.bse[1:])}
        bias = float(fit.params[0])
    total = {t: sum(coef[f"{t}_lag{l}"][0] for l in range(1, lags + 1)) for t in TYPES}
    return {"coef": coef, "bias": bias, "separation": separated,
            "mb_index": total["CR"] - total["CU"] + total["UU"] - total["UR"],
            "mf_index": total["CR"] - total["CU"] - total["UU"] + total["UR"]}


def rpe_regression(delta_arrival: np.ndarray, delta_reward: np.ndarray, mb: dict, mf: dict,
                   ok: np.ndarray) -> dict:
    """Regress the circuit's δ (at second-stage arrival and at reward, pooled) on the
    model-based RPE, and on the part of the model-free RPE orthogonal to it (OLS residual of
    MF on MB), as in Sim 4 after Daw 2011; also both together. Arrays [E, T]; ``ok`` marks the
    error-free trials. Returns r² values (statsmodels OLS)."""
    y = np.r_[delta_arrival[ok], delta_reward[ok]]
    x_mb = np.r_[mb["rpe_arrival"][ok], mb["rpe_reward"][ok]]
    x_mf = np.r_[mf["rpe_arrival"][ok], mf["rpe_reward"][ok]]
    const = lambda x: sm.add_constant(x, has_constant="add")  # noqa: E731
    mf_orth = sm.OLS(x_mf, const(x_mb)).fit().resid
    both = sm.OLS(y, const(np.column_stack([x_mb, x_mf]))).fit()
    return {"r2_model_based": float(sm.OLS(y, const(x_mb)).fit().rsquared),
            "r2_model_free_orth": float(sm.OLS(y, const(mf_orth)).fit().rsquared),
            "r2_model_free": float(sm.OLS(y, const(x_mf)).fit().rsquared),
            "coef_both": {"model_based": float(both.params[1]), "model_free": float(both.params[2])}}

#: the model-free reference's learning rate for the RPE regression (the paper gives none)
MF_ALPHA = 0.5

STATS = {
    **{f"stay_{v}": f"P(repeat the first-stage choice) after a {v.replace('_', ', ')} trial "
                    f"(Fig. 5c; ± binomial sem)" for v in STAY_NAMES.values()},
    **{f"glm_{t}_lag{l}": f"Miller et al. GLM weight of trial type {t} (C/U = common/uncommon, "
                          f"R/U = rewarded/unrewarded) at lag {l} (Fig. 5d,e; ± se)"
       for t in TYPES for l in range(1, 6)},
    "glm_mb_index": "model-based index ΣCR − ΣCU + ΣUU − ΣUR of the GLM weights (lags 1–5)",
    "glm_mf_index": "model-free index ΣCR − ΣCU − ΣUU + ΣUR of the GLM weights (lags 1–5)",
    "glm_ridge": "1 if the GLM's maximum-likelihood weights diverged (a near-deterministic "
                 "circuit: separation) and the weights come from a weak ridge fit (no se), else 0",
    "rpe_r2_model_based": "r² of the circuit's δ (second-stage arrival and reward steps, pooled) "
                          "regressed on the Bayesian model-based planner's RPE on the same trials",
    "rpe_r2_model_free_orth": "r² of the circuit's δ on the part of the model-free (SARSA(0), "
                              f"α = {MF_ALPHA}) RPE orthogonal to the model-based RPE",
    "rpe_r2_model_free": "r² of the circuit's δ on the model-free RPE itself",
    "hybrid_w": "model-based weight w of Daw et al.'s hybrid model fitted by maximum likelihood "
                "to the circuit's choices (its episodes pooled as one subject's sessions)",
    "hybrid_likelihood_per_choice": "geometric-mean likelihood per choice of that fit",
    "error_rate": "fraction of trials with an invalid response (excluded from the analyses)",
}


def analyze(rec, seed: int = 0, fit: bool | None = None) -> dict:
    """Every STAT on a recording of the two-step protocol (hybrid fit: ``daw`` variant, or
    ``fit=True``)."""
    tr = rec.trials
    task_cfg = rec.attrs.get("task", {})
    variant = task_cfg.get("variant", "miller")
    p_common = float(task_cfg.get("p_common", VARIANTS[variant]["p_common"]))
    stats, notes = {}, []
    for t, p in stay_probabilities(tr).items():
        stats[f"stay_{STAY_NAMES[t]}"] = {"value": p["value"], "sem": p["sem"]} if p["n"] else \
            nan(f"no consecutive pair after a {STAY_NAMES[t].replace('_', ', ')} trial")
    with captured(notes, "Miller GLM"):
        glm = miller_glm(tr)
    if glm["separation"]:
        notes.append("Miller GLM: the maximum-likelihood weights diverge (a near-deterministic agent: "
                     "separation); the weights are a weak ridge fit's, without standard errors")
    for name, (v, se) in glm["coef"].items():
        stats[f"glm_{name}"] = {"value": v, "sem": se}
    stats["glm_mb_index"] = {"value": glm["mb_index"], "sem": None}
    stats["glm_mf_index"] = {"value": glm["mf_index"], "sem": None}
    stats["glm_ridge"] = {"value": float(glm["separation"]), "sem": None}

    err = np.asarray(tr["error"], bool)
    E = len(np.unique(tr["episode"]))
    ok = ~err.reshape(E, -1)
    clean = {**tr, "reward": np.clip(tr["reward"], 0, None)}
    if task_cfg.get("blocks") == "rats":  # the rats' task: its rewards and mean reversal rate
        from .task import rats_block_lengths

        mb = agents.model_based(clean, variant, p_common, reward_probs=task_cfg.get("reward_probs"),
                                hazard=1.0 / float(np.mean(rats_block_lengths())))
    else:
        mb = agents.model_based(clean, variant, p_common, reward_probs=task_cfg.get("reward_probs"))
    mf = agents.model_free(clean, MF_ALPHA, MF_ALPHA, 0.0)
    s = rec.steps
    d_arr = s["delta"][s["phase"] == 1].reshape(E, -1)
    d_rew = s["delta"][s["phase"] == 2].reshape(E, -1)
    with captured(notes, "RPE regression"):
        reg = rpe_regression(d_arr, d_rew, mb, mf, ok)
    for k in ("r2_model_based", "r2_model_free_orth", "r2_model_free"):
        stats[f"rpe_{k}"] = {"value": reg[k], "sem": None}
    if fit if fit is not None else variant == "daw":
        with captured(notes, "hybrid fit"):
            f = agents.fit_hybrid(clean, p_common, two_options=variant == "daw", seed=seed)
        notes += at_bounds(f["params"], dict(zip(agents.PARAM_NAMES, agents.BOUNDS)), "hybrid fit")
        stats["hybrid_w"] = {"value": f["params"]["w"], "sem": None}
        stats["hybrid_likelihood_per_choice"] = {"value": f["likelihood_per_choice"], "sem": None}
    stats["error_rate"] = {"value": float(err.mean()), "sem": None}
    # the paper's and the rats' values are for the miller task; the daw task has Daw's humans' w
    ref = {k: v for k, v in REFERENCE.items() if k in stats and (variant == "miller" or k == "hybrid_w")}
    return {"protocol": "twostep", "stats": stats, "reference": ref, "variant": variant, "warnings": notes}


def figures(rec, result: dict, **_) -> dict:
    """Fig. 5c-like stay-probability bars and Fig. 5d,e-like GLM weights by lag."""
    st = result["stats"]
    fig, axes = subplots(1, 2, figsize=(8, 3.2))
    ax = axes[0]
    for j, (rew, col) in enumerate((("rewarded", "tab:blue"), ("unrewarded", "tab:red"))):
        vals = [st[f"stay_{tr}_{rew}"] for tr in ("common", "uncommon")]
        ax.bar(np.arange(2) + 0.38 * j, [v["value"] for v in vals], 0.36,
               yerr=[v["sem"] or 0 for v in vals], color=col, label=rew)
    ax.set_xticks(np.arange(2) + 0.19, ["common", "uncommon"])
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("stay probability")
    ax.legend(frameon=False, fontsize=7)
    ax = axes[1]
    colours = {"CR": "tab:blue", "UU": "tab:cyan", "CU": "tab:red", "UR": "tab:orange"}
    for t, col in colours.items():
        ax.plot(range(1, 6), [st[f"glm_{t}_lag{l}"]["value"] for l in range(1, 6)], "o-",
                color=col, label=t)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("trials back")
    ax.set_ylabel("regression weight")
    ax.legend(frameon=False, fontsize=7)
    return {"twostep": fig}
