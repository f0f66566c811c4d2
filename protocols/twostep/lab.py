"""The two-step protocol meets lab data: the statistics ``pfcda compare`` sets side by side, a
lab's sessions as the task's episodes (replay), the animal's own history forced through the
task (trial-by-trial scoring), the held-out comparison with the classic models, and the
hBayesDM export. Lab tables: rats (Miller/Brody), humans (hBayesDM ``ts``; see
:mod:`pfcda.protocols.labdata`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from pfcda.errors import LabDataError

from ..base import episode_positions
from ..plotting import subplots
from ..reliability import at_bounds
from ..spec import Forcing
from .agents import BOUNDS, PARAM_NAMES, fit_hybrid_ragged, padded
from .analysis import STAY_NAMES, miller_glm, stay_probabilities
from .task import FIXATE, STEPS_PER_TRIAL

FOUR = ("p1a", "p1b", "p2a", "p2b")


def stats(tr: dict) -> dict:
    """Stay probabilities by transition × reward, the Miller GLM's lag-1 weights and its MB/MF
    indices (``pfcda compare twostep``)."""
    out = {f"stay_{STAY_NAMES[k]}": v["value"] for k, v in stay_probabilities(tr).items()}
    g = miller_glm(tr)
    for t in ("CR", "CU", "UR", "UU"):
        out[f"glm_{t}_lag1"] = g["coef"][f"{t}_lag1"][0]
    out["glm_mb_index"], out["glm_mf_index"] = g["mb_index"], g["mf_index"]
    return out


def checkpoint_for(table: dict) -> str | None:
    """The shipped circuit that serves a two-step lab table: the daw circuit for four drifting
    option probabilities (human, Daw 2011), else the protocol's default (None)."""
    return "twostep_daw" if all(k in table for k in FOUR) else None


def _require(tr: dict, need, what: str):
    missing = [k for k in need if k not in tr]
    if missing:
        raise LabDataError(f"lab table: missing column(s) {missing} for a two-step {what} (expected a "
                           f"rat two-step table: choice, state, common, p_left, p_right; or four "
                           f"option probabilities p1a, p1b, p2a, p2b)")


def schedule(trials: dict) -> tuple[pd.DataFrame, dict]:
    """A two-step lab table → (the task's schedule, task options): each session one episode of
    its own length with each trial's reward probabilities in the task's frame (state c is the
    one choice c reaches commonly, so for the incongruent rats the right port is state 1) and
    the transition the animal experienced (``common``)."""
    tr = {k: np.asarray(v) for k, v in trials.items() if not k.startswith("_")}
    four = all(k in tr for k in FOUR)
    _require(tr, ("episode", "common") + (() if four else ("choice", "state", "p_left", "p_right")), "replay")
    order = np.argsort(tr["episode"], kind="stable")
    tr = {k: v[order] for k, v in tr.items()}
    if four:  # the four options' probabilities, already in the task's frame
        df = pd.DataFrame({"episode": tr["episode"], **{k: tr[k] for k in FOUR},
                           "common": tr["common"].astype(int)})
        return df, {"trials": None}
    # which port is state 0 (reached commonly by a left choice)? per subject, from the trials
    # where the port is known
    port = tr.get("port", tr["state"])
    subj = tr.get("subject", np.zeros(len(port)))
    p_state0 = np.empty(len(port))
    for s in np.unique(subj):
        m = subj == s
        ok = m & (port >= 0)
        congruent = np.mean(port[ok] == tr["state"][ok]) >= 0.5 if ok.any() else True
        p_state0[m] = tr["p_left"][m] if congruent else tr["p_right"][m]
    p_state1 = np.where(p_state0 == tr["p_left"], tr["p_right"], tr["p_left"])
    df = pd.DataFrame({"episode": tr["episode"], "p1a": p_state0, "p1b": p_state0,
                       "p2a": p_state1, "p2b": p_state1, "common": tr["common"].astype(int)})
    return df, {"trials": None}


def forcing(trials: dict, task_options: dict) -> Forcing:
    """The animal's history forced through the two-step task: its first-stage choices, the
    transitions it experienced (mapped into the task's frame: common = the state on the chosen
    side) and its outcomes (none on violation trials), its second-stage option (daw). The
    circuit's log-odds of right at every first-stage choice step score its next choice; the
    state is never reset within a session (lab sessions run past the trained episode length)."""
    _require(trials, ("episode", "choice", "common", "reward"), "scoring")
    c, _, opt, r, live, scored = padded(trials)
    idx, pos, E, T = episode_positions(trials["episode"])  # the same layout as padded()
    common = np.zeros((E, T), bool)
    common[idx, pos] = np.asarray(trials["common"], bool)
    counts = np.bincount(idx, minlength=E)
    variant = task_options.get("variant", "miller")
    # the schedule: probabilities are irrelevant (the outcomes are replayed), so 0.5
    sched = pd.DataFrame({"episode": np.repeat(np.arange(E), counts),
                          **{k: np.full(counts.sum(), 0.5) for k in FOUR},
                          "common": common[idx, pos].astype(int),
                          "reward": (r * live)[idx, pos].astype(int)})
    actions = np.full((E, T * STEPS_PER_TRIAL), FIXATE, np.int64)
    actions[:, 1::STEPS_PER_TRIAL] = 1 + c  # the first-stage choice
    if variant == "daw":  # the second-stage option (miller and its rats variant: one outcome port)
        actions[:, 2::STEPS_PER_TRIAL] = 1 + opt
    exists = np.zeros((E, T), bool)
    exists[idx, pos] = True
    choice_step = np.broadcast_to(np.arange(T) * STEPS_PER_TRIAL + 1, (E, T))
    return Forcing(options={"schedule": sched, "trials": None}, actions=actions,
                   choice_step=choice_step, choice=c, scored=scored & exists, pair=(1, 2))


def _split_sessions(trials: dict):
    """Alternate sessions of each subject into train (even) and held-out (odd) sets; where every
    subject has a single session (e.g. human data sets), alternate subjects instead."""
    subj = np.asarray(trials.get("subject", np.zeros(len(trials["episode"]))))
    ep = np.asarray(trials["episode"])
    test = np.zeros(len(ep), bool)
    subjects = np.unique(subj)
    if all(len(np.unique(ep[subj == sj])) == 1 for sj in subjects) and len(subjects) > 1:
        test = np.isin(subj, subjects[1::2])
    for sj in subjects:
        eps = np.unique(ep[subj == sj])
        held = eps[1::2]
        test |= np.isin(ep, held) & (subj == sj)
    sub = lambda m: {k: np.asarray(v)[m] for k, v in trials.items() if not k.startswith("_")}  # noqa: E731
    return sub(~test), sub(test)


def bernoulli_ll(z, c, mask, beta=1.0):
    """Log-likelihood (and count) of the choices ``c`` (0/1) under log-odds ``beta·z``."""
    zz = beta * z[mask]
    y = c[mask] == 1
    return float(-np.logaddexp(0.0, -np.where(y, zz, -zz)).sum()), int(mask.sum())


def compare_models(log_odds, trials: dict, seed: int = 0, task_options: dict | None = None) -> dict:
    """Held-out normalised likelihood per trial of the circuit (one fitted inverse temperature;
    ``log_odds(trials) → (z, choice, scored)`` is the circuit teacher-forced on those trials),
    Daw's hybrid and the model-free learner (w = 0), pooled and per subject. Also the hybrid's
    parameters on the animals' training sessions."""
    p_common = float((task_options or {}).get("p_common") or 0.8)
    train, test = _split_sessions(trials)
    z_tr, c_tr, s_tr = log_odds(train)
    res = minimize_scalar(lambda b: -bernoulli_ll(z_tr, c_tr, s_tr, b)[0], bounds=(0.0, 5.0), method="bounded")
    beta = float(res.x)
    hyb = fit_hybrid_ragged(train, p_common, seed=seed)
    mf = fit_hybrid_ragged(train, p_common, seed=seed, w=0.0)

    def per_subject(fn):
        out = {}
        subj = np.asarray(test.get("subject", np.zeros(len(test["episode"]))))
        for sj in np.unique(subj):
            part = {k: v[subj == sj] for k, v in test.items()}
            ll, n = fn(part)
            out[str(sj)] = {"likelihood_per_trial": float(np.exp(ll / max(n, 1))), "n": n}
        return out

    def circuit_ll(part):
        z, c, s = log_odds(part)
        return bernoulli_ll(z, c, s, beta)

    rows = {}
    for name, fn in (("circuit", circuit_ll), ("hybrid", hyb["loglik_fn"]), ("model_free", mf["loglik_fn"])):
        ll, n = fn(test)
        rows[name] = {"likelihood_per_trial": float(np.exp(ll / max(n, 1))), "n": n,
                      "per_subject": per_subject(fn)}
    rows["circuit"]["inverse_temperature"] = beta
    bounds = dict(zip(PARAM_NAMES, BOUNDS))
    notes = (at_bounds({k: v for k, v in hyb["params"].items() if k != "beta2"}, bounds, "hybrid fit")
             + at_bounds({k: v for k, v in mf["params"].items() if k not in ("beta2", "w")}, bounds,
                         "model-free fit")
             + at_bounds({"inverse_temperature": beta}, {"inverse_temperature": (0.0, 5.0)}, "circuit fit"))
    return {"held_out": rows, "hybrid_params": hyb["params"], "model_free_params": mf["params"],
            "warnings": notes,
            "split": "alternate sessions of each subject: even → fit, odd → held out (one session "
                     "per subject: alternate subjects)"}


def fit_models(trials: dict, seed: int = 0, task_options: dict | None = None) -> dict:
    """Daw's hybrid fitted by maximum likelihood to a two-step table (sessions pooled)."""
    p_common = float((task_options or {}).get("p_common") or 0.8)
    return {"hybrid": fit_hybrid_ragged(trials, p_common, seed=seed)["params"]}


def hbayesdm(trials: dict):
    """hBayesDM's ``ts`` layout (Ahn, Haines & Zhang 2017): subjID, trial, level1_choice 1/2,
    level2_choice 1–4 (1–2 in the state reached commonly from choice 1), reward 0/1,
    A1prob…B2prob; each episode a subject, trials with an invalid response left out.
    Returns (task name, DataFrame, rows left out)."""
    tr = {k: np.asarray(v) for k, v in trials.items() if not k.startswith("_")}
    keep = ~tr["error"].astype(bool)
    df = pd.DataFrame({"subjID": tr["episode"] + 1, "trial": tr["trial"] + 1,
                       "level1_choice": tr["choice"] + 1,
                       "level2_choice": 2 * tr["state"] + tr["option"] + 1,
                       "reward": (tr["reward"] > 0).astype(int),
                       "A1prob": tr["p1a"], "A2prob": tr["p1b"], "B1prob": tr["p2a"], "B2prob": tr["p2b"]})
    return "ts", df[keep], int((~keep).sum())


def figure(result: dict) -> dict:
    """Circuit and animals overlaid: stay-probability bars with their bootstrap CIs."""
    fig, ax = subplots(figsize=(5, 3.2))
    keys = [k for k in result["model"] if k.startswith("stay_")]
    x = np.arange(len(keys))
    for j, (who, col) in enumerate((("model", "k"), ("lab", "tab:orange"))):
        v = [result[who][k]["value"] for k in keys]
        ci = np.array([result[who][k]["ci"] for k in keys], dtype=float)
        ax.bar(x + 0.38 * j, v, 0.36, color=col, alpha=0.8, label="circuit" if who == "model" else "lab",
               yerr=[np.array(v) - ci[:, 0], ci[:, 1] - np.array(v)])
    ax.set_xticks(x + 0.19, [k[5:].replace("_", "\n") for k in keys], fontsize=7)
    ax.set_ylabel("stay probability")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, fontsize=7)
    return {"compare_twostep": fig}
