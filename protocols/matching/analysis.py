"""Sim 1 analyses (Wang et al. 2018 Fig. 2): the matching law, reward and choice history
regressions (Lau & Glimcher 2005) and the units' coding of action, reward and value (Tsutsui et
al. 2016); functions of trials tables, so they run on lab data unchanged."""
from __future__ import annotations

import numpy as np
import statsmodels.api as sm
from scipy import stats

from ..base import episode_positions
from ..plotting import subplots
from ..reliability import captured, nan
from .task import LEFT, REFERENCE, RIGHT

STATS = {
    "matching_slope": "slope of log2(C_R/C_L) on log2(R_R/R_L) across episodes (OLS; episodes "
                      "with a zero count are excluded), ± its standard error; 1 = matching, "
                      "< 1 = undermatching (Fig. 2a,d)",
    "matching_r2": "R² of that regression",
    "reward_coef_lag1": "logistic-regression weight of the lag-1 reward history on choosing "
                        "right (last 2/3 of each episode; ±1 by side if rewarded, else 0), ± se",
    "reward_coef_sum_lags1_3": "sum of the reward weights at lags 1–3",
    "reward_coef_sum_lags4_15": "sum of the reward weights at lags 4–15",
    "choice_coef_lag1": "weight of the lag-1 choice history (+1 right, −1 left), ± se",
    "unit_abs_r_last_action": "mean over units of |partial Spearman r| between activity at the "
                              "fixation step and the previous action (Fig. 2e)",
    "unit_abs_r_last_reward": "the same for the previous reward",
    "unit_abs_r_action_x_reward": "the same for previous action × previous reward",
    "unit_abs_r_value_left": "the same for the left arm's current reward probability",
    "unit_frac_last_action": "fraction of units whose partial correlation with the previous "
                             "action is significant (P < 0.05, Bonferroni over units)",
    "unit_frac_last_reward": "the same for the previous reward",
    "unit_frac_action_x_reward": "the same for action × reward",
    "unit_frac_value_left": "the same for the left value",
    "excluded_trials": "trials excluded from the behavioural analyses (invalid choice)",
}

N_LAGS = 15


def valid_trials(trials: dict) -> np.ndarray:
    return np.isin(trials["choice"], (LEFT, RIGHT))


def matching(trials: dict):
    """Per-episode log2 choice and reward ratios and the OLS slope (statsmodels)."""
    ok = valid_trials(trials)
    ep = trials["episode"][ok]
    right = trials["choice"][ok] == RIGHT
    rew = trials["reward"][ok] > 0
    eps, inv = np.unique(ep, return_inverse=True)
    c_r = np.bincount(inv, right, len(eps))
    c_l = np.bincount(inv, ~right, len(eps))
    r_r = np.bincount(inv, right & rew, len(eps))
    r_l = np.bincount(inv, ~right & rew, len(eps))
    use = (c_r > 0) & (c_l > 0) & (r_r > 0) & (r_l > 0)
    x, y = np.log2(r_r[use] / r_l[use]), np.log2(c_r[use] / c_l[use])
    if use.sum() < 3 or np.ptp(x) == 0:
        raise ValueError(f"matching: {int(use.sum())} episode(s) chose and were rewarded on both sides; "
                         f"the slope needs at least 3 with different reward ratios")
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    return {"x": x, "y": y, "slope": float(fit.params[1]), "slope_se": float(fit.bse[1]),
            "intercept": float(fit.params[0]), "r2": float(fit.rsquared), "episodes": int(use.sum())}


def history_design(trials: dict, n_lags: int = N_LAGS, fraction_kept: float = 2 / 3):
    """Design matrix of the lag regression (Lau & Glimcher 2005): for lags 1..n, reward history
    (+1 rewarded right, −1 rewarded left, 0 unrewarded or no choice) and choice history (+1
    right, −1 left, 0 none), within episodes; rows are valid trials in the last
    ``fraction_kept`` of each episode with a full history. Returns (X, y, names)."""
    ep, trial = trials["episode"], trials["trial"]
    choice = trials["choice"]
    side = np.where(choice == RIGHT, 1.0, np.where(choice == LEFT, -1.0, 0.0))
    rew = side * (trials["reward"] > 0)
    _, start = np.unique(ep, return_index=True)
    counts = np.diff(np.r_[start, len(ep)])
    n_in_ep = np.repeat(counts, counts)
    cols, names = [], []
    for label, series in (("reward", rew), ("choice", side)):
        for k in range(1, n_lags + 1):
            lagged = np.r_[np.zeros(k), series[:-k]]
            same_ep = np.r_[np.zeros(k, bool), ep[k:] == ep[:-k]]
            cols.append(np.where(same_ep, lagged, 0.0))
            names.append(f"{label}_lag{k}")
    X = np.stack(cols, 1)
    keep = (side != 0) & (trial >= n_in_ep * (1 - fraction_kept)) & (trial >= n_lags)
    return X[keep], (side[keep] > 0).astype(float), names


def lag_regression(trials: dict, n_lags: int = N_LAGS):
    """Logistic regression of choosing right on reward and choice history (statsmodels Logit)."""
    X, y, names = history_design(trials, n_lags)
    if len(y) < 10 * (X.shape[1] + 1) or len(np.unique(y)) < 2:
        raise ValueError(f"lag regression: {len(y)} usable trials (the last 2/3 of each episode with "
                         f"{n_lags} trials of history) for {X.shape[1] + 1} weights; run more episodes")
    try:
        fit = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
    except np.linalg.LinAlgError:
        raise ValueError("lag regression: singular design (a history regressor never varies)") from None
    coef = dict(zip(names, fit.params[1:]))
    se = dict(zip(names, fit.bse[1:]))
    return {"coef": coef, "se": se, "n": len(y),
            "reward": np.array([coef[f"reward_lag{k}"] for k in range(1, n_lags + 1)]),
            "choice": np.array([coef[f"choice_lag{k}"] for k in range(1, n_lags + 1)])}


def partial_spearman(activity: np.ndarray, factors: np.ndarray):
    """Partial Spearman correlation of each unit with each factor, controlling for the other
    factors: rank-transform, regress the others out of both, correlate the residuals.
    activity [n, units], factors [n, f] → (r [units, f], p [units, f])."""
    A = stats.rankdata(activity, axis=0)
    F = stats.rankdata(factors, axis=0)
    n, nf = F.shape
    r = np.zeros((A.shape[1], nf))
    for j in range(nf):
        Z = np.column_stack([np.ones(n), np.delete(F, j, axis=1)])
        fz = F[:, j] - Z @ np.linalg.lstsq(Z, F[:, j], rcond=None)[0]
        az = A - Z @ np.linalg.lstsq(Z, A, rcond=None)[0]
        num = (az * fz[:, None]).sum(0)
        den = np.sqrt((az ** 2).sum(0) * (fz ** 2).sum())
        r[:, j] = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    dof = n - 2 - (nf - 1)
    t = r * np.sqrt(dof / np.clip(1 - r ** 2, 1e-12, None))
    p = 2 * stats.t.sf(np.abs(t), dof)
    return r, p

UNIT_FACTORS = ("last_action", "last_reward", "action_x_reward", "value_left")


def unit_coding(rec):
    """Fig. 2e: partial rank correlation of every unit's activity at the fixation step of trial
    t with the previous action (+1 right, −1 left), the previous reward, their product and the
    left value; trials with a valid previous choice in the same episode."""
    s, tr = rec.steps, rec.trials
    hidden = rec.units["hidden"]
    fix_rows = np.flatnonzero(s["phase"] == 0)
    # trials table rows are in the same (episode, trial) order as the fixation steps
    prev_ok = np.r_[False, (tr["episode"][1:] == tr["episode"][:-1]) & valid_trials(tr)[:-1]]
    prev_side = np.r_[0.0, np.where(tr["choice"][:-1] == RIGHT, 1.0, -1.0)]
    prev_rew = np.r_[0.0, (tr["reward"][:-1] > 0).astype(float)]
    F = np.column_stack([prev_side, prev_rew, prev_side * prev_rew, tr["value_left"]])[prev_ok]
    r, p = partial_spearman(hidden[fix_rows][prev_ok], F)
    return r, p


def analyze(rec, seed: int = 0) -> dict:
    tr = rec.trials
    notes, stats, curves = [], {}, {}
    try:
        with captured(notes, "matching-law regression"):
            m = matching(tr)
        stats["matching_slope"] = {"value": m["slope"], "sem": m["slope_se"]}
        stats["matching_r2"] = {"value": m["r2"], "sem": None}
        curves.update(matching_x=m["x"].tolist(), matching_y=m["y"].tolist())
    except ValueError as e:
        stats["matching_slope"] = stats["matching_r2"] = nan(str(e))
    try:
        with captured(notes, "lag regression"):
            lag = lag_regression(tr)
        stats.update({
            "reward_coef_lag1": {"value": float(lag["reward"][0]), "sem": float(lag["se"]["reward_lag1"])},
            "reward_coef_sum_lags1_3": {"value": float(lag["reward"][:3].sum()), "sem": None},
            "reward_coef_sum_lags4_15": {"value": float(lag["reward"][3:].sum()), "sem": None},
            "choice_coef_lag1": {"value": float(lag["choice"][0]), "sem": float(lag["se"]["choice_lag1"])},
        })
        curves.update(reward_coefs=lag["reward"].tolist(), choice_coefs=lag["choice"].tolist())
    except ValueError as e:
        for k in ("reward_coef_lag1", "reward_coef_sum_lags1_3", "reward_coef_sum_lags4_15", "choice_coef_lag1"):
            stats[k] = nan(str(e))
    if "hidden" in rec.units:
        r, p = unit_coding(rec)
        n_units = r.shape[0]
        for j, name in enumerate(UNIT_FACTORS):
            a = np.abs(r[:, j])
            stats[f"unit_abs_r_{name}"] = {"value": float(a.mean()),
                                           "sem": float(a.std(ddof=1) / np.sqrt(n_units))}
            stats[f"unit_frac_{name}"] = {"value": float((p[:, j] < 0.05 / n_units).mean()),
                                          "sem": None}
    stats["excluded_trials"] = {"value": int((~valid_trials(tr)).sum()), "sem": None}
    return {"protocol": "matching", "stats": stats, "warnings": notes,
            "reference": {k: v for k, v in REFERENCE.items() if k in stats}, "curves": curves}


def figures(rec, result: dict, **_) -> dict:
    """Fig. 2d (matching), Fig. 2f (lag coefficients), Fig. 2e (unit coding) analogues."""
    c, st = result["curves"], result["stats"]
    fig, axes = subplots(1, 3, figsize=(11, 3.2))
    ax = axes[0]
    if "matching_x" not in c or "reward_coefs" not in c:
        for ax, what in zip(axes, ("matching_slope", "reward_coef_lag1")):
            ax.text(0.5, 0.5, st[what].get("note", "not computable"), ha="center", va="center",
                    wrap=True, fontsize=8, transform=ax.transAxes)
            ax.set_axis_off()
        axes[2].set_axis_off()
        return {"matching": fig}
    ax.scatter(c["matching_x"], c["matching_y"], s=5, color="k", alpha=0.5)
    xs = np.linspace(min(c["matching_x"]), max(c["matching_x"]), 2)
    ax.plot(xs, xs, "--", color="grey", lw=1, label="matching")
    ax.plot(xs, st["matching_slope"]["value"] * xs, color="tab:red",
            label=f"slope {st['matching_slope']['value']:.2f}")
    ax.set_xlabel("log2(R_R / R_L)")
    ax.set_ylabel("log2(C_R / C_L)")
    ax.legend(frameon=False, fontsize=7)
    ax = axes[1]
    lags = np.arange(1, N_LAGS + 1)
    ax.plot(lags, c["reward_coefs"], "o-", color="tab:blue", label="reward")
    ax.plot(lags, c["choice_coefs"], "o-", color="tab:orange", label="choice")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("trials back")
    ax.set_ylabel("logistic coefficient")
    ax.legend(frameon=False, fontsize=7)
    ax = axes[2]
    names = [n for n in UNIT_FACTORS if f"unit_abs_r_{n}" in st]
    ax.bar(range(len(names)), [st[f"unit_abs_r_{n}"]["value"] for n in names], color="grey")
    ax.set_xticks(range(len(names)), ["a(t-1)", "r(t-1)", "a×r", "v_L"][:len(names)])
    ax.set_ylabel("mean |partial r|")
    return {"matching": fig}


def choice_history_kernel(tr: dict, lags: int = 5) -> dict:
    """Logistic regression (statsmodels) of P(right) on the last ``lags`` trials' rewarded and
    unrewarded choices (Lau & Glimcher 2005; Bari et al. 2019): at lag l the rewarded-choice
    regressor is +1 for a rewarded right choice, −1 for a rewarded left choice, 0 otherwise,
    and the unrewarded-choice regressor likewise; trials with no choice (``choice`` < 0) give 0
    and are not targets; lags do not cross episodes. Returns ``{"rewarded": [(b, se)…],
    "unrewarded": [(b, se)…], "bias": b, "n": targets}`` — works on a lab's table unchanged."""
    ep = np.asarray(tr["episode"])
    choice = np.asarray(tr["choice"])
    rewarded = np.asarray(tr["reward"]) > 0
    sign = np.where(choice == 1, 1.0, np.where(choice == 0, -1.0, 0.0))
    cols = []
    for kind in (rewarded, ~rewarded):
        for lag in range(1, lags + 1):
            x = np.zeros(len(ep))
            same = ep[lag:] == ep[:-lag]
            x[lag:] = np.where(same, sign[:-lag] * kind[:-lag], 0.0)
            cols.append(x)
    X = np.column_stack(cols)
    _, pos, _, _ = episode_positions(ep)
    keep = (choice >= 0) & (pos >= lags)
    fit = sm.Logit((choice[keep] == 1).astype(float), sm.add_constant(X[keep], has_constant="add")).fit(disp=0)
    b, se = fit.params[1:], fit.bse[1:]
    return {"rewarded": [(float(b[i]), float(se[i])) for i in range(lags)],
            "unrewarded": [(float(b[lags + i]), float(se[lags + i])) for i in range(lags)],
            "bias": float(fit.params[0]), "n": int(keep.sum())}
