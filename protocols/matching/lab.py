"""The matching protocol meets two-choice foraging data (the dynamic-foraging mice, hBayesDM's
bandit layouts): the statistics ``pfcda compare`` sets side by side, a lab's sessions as the
task's episodes (replay), the animal's own history forced through the task (trial-by-trial
scoring), the held-out comparison with Q-learning models, and the hBayesDM export."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from pfcda.errors import LabDataError

from .. import choice_models as cm
from ..base import episode_positions
from ..plotting import subplots
from ..reliability import at_bounds
from ..spec import Forcing
from ..twostep.lab import bernoulli_ll
from .analysis import choice_history_kernel
from .task import FIXATE


def stats(tr: dict) -> dict:
    """The choice-history kernel (Lau & Glimcher 2005; Bari et al. 2019): the weights of the last
    five rewarded and unrewarded choices on P(right) (``pfcda compare matching``)."""
    k = choice_history_kernel(tr)
    out = {f"kernel_rewarded_lag{i + 1}": b for i, (b, _) in enumerate(k["rewarded"])}
    out.update({f"kernel_unrewarded_lag{i + 1}": b for i, (b, _) in enumerate(k["unrewarded"])})
    return out


def to_lab_frame(trials: dict) -> dict:
    """The circuit's trials table in the lab tables' coding: choice 0 left, 1 right, −1 none (the
    task records action indices 1 left, 2 right, 0 invalid)."""
    out = dict(trials)
    out["choice"] = np.asarray(out["choice"]).astype(np.int16) - 1
    return out


def schedule(trials: dict) -> tuple[pd.DataFrame, dict]:
    """A two-choice lab table → (the task's schedule, task options): each session one episode of
    its own length with each trial's base probabilities, baited where the session baited."""
    tr = {k: np.asarray(v) for k, v in trials.items() if not k.startswith("_")}
    missing = [k for k in ("episode", "p_left", "p_right") if k not in tr]
    if missing:
        raise LabDataError(f"lab table: missing column(s) {missing} for a matching replay (expected "
                           f"two-choice foraging: choice, p_left, p_right)")
    order = np.argsort(tr["episode"], kind="stable")
    tr = {k: v[order] for k, v in tr.items()}
    baited = np.ones(len(tr["episode"]), bool)
    if "bait_left" in tr or "baited" in tr:
        baited = np.asarray(tr.get("baited", True), bool)
    return pd.DataFrame({"episode": tr["episode"], "p_left": tr["p_left"], "p_right": tr["p_right"],
                         "baited": baited.astype(int)}), {}


def forcing(trials: dict, task_options: dict) -> Forcing:
    """The animal's choices and rewards forced through the matching task (a fixation step, then
    the choice step): a trial without a response is a fixation response with no reward, not
    scored. The circuit's log-odds of right at each choice step score the animal's choice."""
    missing = [k for k in ("episode", "choice", "reward") if k not in trials]
    if missing:
        raise LabDataError(f"lab table: missing column(s) {missing} for scoring two-choice data")
    c, r, scored = cm.padded(trials)
    E, T = c.shape
    idx, pos, _, _ = episode_positions(trials["episode"])
    counts = np.bincount(idx, minlength=E)
    sched = pd.DataFrame({"episode": np.repeat(np.arange(E), counts), "p_left": 0.5, "p_right": 0.5,
                          "reward": (r * (c >= 0))[idx, pos].astype(int)})
    actions = np.full((E, 2 * T), FIXATE, np.int64)
    actions[:, 1::2] = np.where(c >= 0, 1 + np.clip(c, 0, None), FIXATE)
    choice_step = np.broadcast_to(np.arange(T) * 2 + 1, (E, T))
    return Forcing(options={"schedule": sched}, actions=actions, choice_step=choice_step,
                   choice=c, scored=scored, pair=(1, 2))


def _session_label(trials: dict, ep: np.ndarray, e) -> str:
    """A unique label for episode ``e``: subject/session where both exist, else the episode."""
    rows = ep == e
    parts = [str(np.asarray(trials[k])[rows][0]) for k in ("subject", "session") if k in trials]
    label = "/".join(parts) if parts else str(e)
    return label if "session" in trials and "subject" in trials else f"{label}#{e}"


def compare_models(log_odds, trials: dict, seed: int = 0, task_options: dict | None = None) -> dict:
    """Leave-one-session-out model comparison on two-choice (foraging) data: for each session,
    the circuit's inverse temperature and the Q-learning models (``rw``: α, β, κ, b;
    ``rw_forget``: + forgetting ζ) are fitted on the other sessions and scored on it. Reports
    the held-out normalised likelihood per choice, pooled and per session, and each model's
    parameters fitted to every session alone (animal by animal)."""
    ep = np.asarray(trials["episode"])
    sessions = np.unique(ep)
    if len(sessions) < 2:
        raise LabDataError("trials: leave-one-session-out needs at least 2 sessions")
    sub = lambda m: {k: np.asarray(v)[m] for k, v in trials.items() if not k.startswith("_")}  # noqa: E731
    z_all, c_all, s_all = log_odds(trials)  # sessions are independent: score them once
    eidx = np.searchsorted(sessions, sessions)
    tot = {name: [0.0, 0] for name in ("circuit", "rw", "rw_forget")}
    per = {}
    for k, s in enumerate(sessions):
        train_rows = eidx != k
        res = minimize_scalar(
            lambda b: -bernoulli_ll(z_all[train_rows], c_all[train_rows], s_all[train_rows], b)[0],
            bounds=(0.0, 5.0), method="bounded")
        ll_c = bernoulli_ll(z_all[k:k + 1], c_all[k:k + 1], s_all[k:k + 1], float(res.x))
        label = _session_label(trials, ep, s)
        per[label] = {"circuit": ll_c}
        for model in ("rw", "rw_forget"):
            f = cm.fit(sub(ep != s), model, starts=3, seed=seed)
            per[label][model] = f["loglik_fn"](sub(ep == s))
        for name, (ll, n) in per[label].items():
            tot[name][0] += ll
            tot[name][1] += n
    held = {name: {"likelihood_per_trial": float(np.exp(ll / max(n, 1))), "n": n,
                   "per_session": {lab: float(np.exp(v[name][0] / max(v[name][1], 1))) for lab, v in per.items()}}
            for name, (ll, n) in tot.items()}
    own, notes = {}, []
    bounds = dict(zip(cm.PARAM_NAMES, cm.BOUNDS))
    for s in sessions:
        label = _session_label(trials, ep, s)
        own[label] = {m: cm.fit(sub(ep == s), m, starts=3, seed=seed)["params"] for m in ("rw", "rw_forget")}
        for m, params in own[label].items():
            notes += at_bounds(params, bounds, f"{m} fitted to session {label}")
    return {"held_out": held, "per_session_fits": own, "warnings": notes,
            "split": "leave one session out: fit on the others, score the held-out session"}


def fit_models(trials: dict, seed: int = 0, task_options: dict | None = None) -> dict:
    """Q-learning with perseveration, with and without forgetting, fitted to a two-choice table
    (``choice`` 0/1, −1 none)."""
    return {m: cm.fit(trials, m, starts=3, seed=seed)["params"] for m in ("rw", "rw_forget")}


def hbayesdm(trials: dict):
    """hBayesDM's ``bandit2arm`` layout: subjID, trial, choice 1/2, outcome 1 = reward, −1 none;
    each episode a subject, invalid trials left out. Returns (task, DataFrame, rows left out)."""
    return two_choice_hbayesdm(to_lab_frame(trials), "bandit2arm")


def two_choice_hbayesdm(trials: dict, task: str):
    """A two-choice table (``choice`` 0/1, −1 none) in hBayesDM's ``bandit2arm``/``prl`` layout."""
    tr = {k: np.asarray(v) for k, v in trials.items() if not k.startswith("_")}
    choice = tr["choice"].astype(int)
    keep = choice >= 0
    if "error" in tr:
        keep &= ~tr["error"].astype(bool)
    df = pd.DataFrame({"subjID": tr["episode"] + 1, "trial": tr["trial"] + 1, "choice": choice + 1,
                       "outcome": np.where(tr["reward"] > 0, 1, -1)})
    return task, df[keep], int((~keep).sum())


def figure(result: dict) -> dict:
    """Circuit and animals overlaid: the rewarded and unrewarded choice kernels by lag."""
    fig, ax = subplots(figsize=(5, 3.2))
    keys = list(result["model"])
    for who, col in (("model", "k"), ("lab", "tab:orange")):
        for kind, ls in (("rewarded", "-"), ("unrewarded", "--")):
            ks = [k for k in keys if k.startswith(f"kernel_{kind}_")]
            v = [result[who][k]["value"] for k in ks]
            ci = np.array([result[who][k]["ci"] for k in ks], dtype=float)
            lags = np.arange(1, len(ks) + 1)
            ax.plot(lags, v, ls, marker="o", color=col,
                    label=f"{'circuit' if who == 'model' else 'lab'}, {kind}")
            ax.fill_between(lags, ci[:, 0], ci[:, 1], color=col, alpha=0.15)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("trials back")
    ax.set_ylabel("weight on P(right)")
    ax.legend(frameon=False, fontsize=7)
    return {"compare_matching": fig}
