"""Analyses of the stimulation-paired choice task (Stauffer, Lak et al. 2016): the choice of the
stimulation-paired cue over a session (first vs last 30 trials, the paper's Fig. S3B measure,
and a learning curve), and the DA response to each cue on the single-cue (Pavlovian) trials —
each with a 95 % bootstrap CI over sessions (episodes); across plastic sessions,
:func:`sessions_summary`. Functions of trials tables (columns of
:meth:`StimChoiceTask.trial_table` and its ``rpe_cue``), so they run on a lab's table with the
same columns."""
from __future__ import annotations

import numpy as np

from pfcda.errors import LabDataError

from ..base import episode_positions
from ..plotting import subplots
from .task import REFERENCE, WINDOW

NEEDED = ("episode", "trial", "paired_chosen", "single")
BIN = 10  #: trials per bin of the learning curve

STATS = {
    "paired_choice": "P(choose the stimulation-paired cue) on the error-free choice trials of a session",
    "paired_choice_first": f"… in the session's first {WINDOW} trials",
    "paired_choice_last": f"… in its last {WINDOW} trials",
    "preference_gain": f"last − first {WINDOW} trials' P(choose the paired cue) (Stauffer Fig. S3B; 95 % "
                       "bootstrap CI over sessions)",
    "preference_end": f"P(choose the paired cue) in the last {WINDOW} trials − 0.5 (the preference a session "
                      "ends with; 95 % bootstrap CI over sessions)",
    "cue_response_paired": "TD error (DA response) at the onset of the paired cue on single-cue trials, "
                           f"last {WINDOW} trials",
    "cue_response_unpaired": f"… of the other cue, last {WINDOW} trials",
    "cue_response_diff": f"paired − other cue's DA response, last {WINDOW} trials (95 % bootstrap CI)",
    "cue_response_rise": f"the paired − other cue's DA response difference, last − first {WINDOW} trials "
                         "(95 % bootstrap CI)",
    "da_rate_cue_diff": f"paired − other cue's spiking DA population rate at the cue, last {WINDOW} trials, "
                        "spikes/s (closed-loop runs; NaN otherwise)",
    "errors": "fraction of trials with an invalid response",
}


def _columns(tr: dict) -> dict:
    missing = [k for k in NEEDED if k not in tr]
    if missing:
        raise LabDataError(f"trials table: missing column(s) {missing} for the stimulation-paired choice "
                           f"analyses (expected {list(NEEDED)}, optionally error, rpe_cue, da_rate_cue)")
    n = len(np.asarray(tr["episode"]))
    ep, pos, E, T = episode_positions(tr["episode"])
    ok = ~np.asarray(tr.get("error", np.zeros(n, bool)), bool)
    single = np.asarray(tr["single"], bool)
    paired = np.asarray(tr["paired_chosen"], bool)
    trial = np.asarray(tr["trial"])
    last_trial = np.zeros(E, np.int64)
    np.maximum.at(last_trial, ep, trial)
    first = trial < WINDOW
    last = trial > last_trial[ep] - WINDOW
    return {"ep": ep, "E": E, "ok": ok, "single": single, "paired": paired, "first": first, "last": last,
            "trial": trial, "n": n}


def _sums(c: dict, sel: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-session sums of ``value`` and counts over the rows ``sel``."""
    num = np.bincount(c["ep"][sel], weights=value[sel].astype(float), minlength=c["E"])
    den = np.bincount(c["ep"][sel], minlength=c["E"]).astype(float)
    return num, den


def _boot(stat, E: int, n_boot: int, seed: int) -> tuple[float, tuple, float]:
    """stat(weights [E] or [n, E]) → value(s); its value on the data, 95 % bootstrap CI and SD
    over sessions (resampled with replacement)."""
    value = stat(np.ones(E))
    if n_boot <= 0:  # the value alone
        return float(value), (float("nan"), float("nan")), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.integers(E, size=(n_boot, E)) + E * np.arange(n_boot)[:, None]
    w = np.bincount(draws.reshape(-1), minlength=n_boot * E).reshape(n_boot, E).astype(float)
    boot = np.asarray(stat(w))  # every resample at once: w [n_boot, E]
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    return float(value), (float(lo), float(hi)), float(np.nanstd(boot))


def _ratio(num, den):
    def stat(w):
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w @ num) / (w @ den)
    return stat


def choice_stats(tr: dict, n_boot: int = 2000, seed: int = 0) -> dict:
    """The paired cue's choice probability, whole session, first and last :data:`WINDOW` trials,
    their difference and the end preference, each with a bootstrap CI over sessions."""
    c = _columns(tr)
    choice = c["ok"] & ~c["single"]
    pc = c["paired"].astype(float)
    sums = {k: _sums(c, choice & m, pc) for k, m in
            (("all", np.ones(c["n"], bool)), ("first", c["first"]), ("last", c["last"]))}
    out = {}
    for k, (num, den) in sums.items():
        v, ci, sd = _boot(_ratio(num, den), c["E"], n_boot, seed)
        out[k] = {"value": v, "ci": ci, "sem": sd}
    f, la = _ratio(*sums["first"]), _ratio(*sums["last"])
    v, ci, sd = _boot(lambda w: la(w) - f(w), c["E"], n_boot, seed)
    out["gain"] = {"value": v, "ci": ci, "sem": sd}
    v, ci, sd = _boot(lambda w: la(w) - 0.5, c["E"], n_boot, seed)
    out["end"] = {"value": v, "ci": ci, "sem": sd}
    out["sessions"] = c["E"]
    return out


def learning_curve(tr: dict) -> dict:
    """P(choose the paired cue) per :data:`BIN` trials of a session (pooled over sessions) and the
    per-session SEM."""
    c = _columns(tr)
    choice = c["ok"] & ~c["single"]
    b = c["trial"] // BIN
    nb = int(b.max()) + 1 if c["n"] else 0
    idx = c["ep"] * nb + b
    num = np.bincount(idx[choice], weights=c["paired"][choice].astype(float), minlength=c["E"] * nb)
    den = np.bincount(idx[choice], minlength=c["E"] * nb).astype(float)
    num, den = num.reshape(c["E"], nb), den.reshape(c["E"], nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = num.sum(0) / den.sum(0)
        per = num / den
        sem = np.nanstd(per, 0) / np.sqrt(np.maximum(np.sum(~np.isnan(per), 0), 1))
    return {"bin_start": (np.arange(nb) * BIN).tolist(), "p_paired": pooled.tolist(), "sem": sem.tolist()}


def cue_stats(tr: dict, column: str = "rpe_cue", n_boot: int = 2000, seed: int = 0,
              whole: bool = False) -> dict:
    """The DA response (``column``: the TD error, or the spiking population's rate) at the onset
    of each cue on single-cue trials: paired, other, their difference in the last
    :data:`WINDOW` trials, and the difference's rise from the first window (bootstrap CIs).
    ``whole``: every trial of the session in both windows (the rise is then 0)."""
    c = _columns(tr)
    if whole:
        c["first"] = c["last"] = np.ones(c["n"], bool)
    if column not in tr:
        raise LabDataError(f"trials table: missing column {column!r} for the cue responses")
    val = np.asarray(tr[column], float)
    base = c["ok"] & c["single"] & np.isfinite(val)
    if not base.any():
        nan = {"value": float("nan"), "ci": (float("nan"),) * 2, "sem": float("nan")}
        return {"paired": nan, "unpaired": nan, "diff": nan, "rise": nan}
    s = {(w, p): _sums(c, base & c[w] & (c["paired"] == p), val) for w in ("first", "last") for p in (True, False)}

    def diff(w_name):
        a, b = _ratio(*s[(w_name, True)]), _ratio(*s[(w_name, False)])
        return lambda w: a(w) - b(w)

    out = {}
    for name, stat in (("paired", _ratio(*s[("last", True)])), ("unpaired", _ratio(*s[("last", False)])),
                       ("diff", diff("last"))):
        v, ci, sd = _boot(stat, c["E"], n_boot, seed)
        out[name] = {"value": v, "ci": ci, "sem": sd}
    d_last, d_first = diff("last"), diff("first")
    v, ci, sd = _boot(lambda w: d_last(w) - d_first(w), c["E"], n_boot, seed)
    out["rise"] = {"value": v, "ci": ci, "sem": sd}
    return out


def sessions_summary(result: dict, n_boot: int = 500, seed: int = 0) -> dict:
    """What plastic sessions taught (the result of :func:`pfcda.circuit.plastic.plastic_sessions`
    with this protocol's :data:`~.task.PLASTIC` groups: cue 1 paired for one learner, cue 2 for
    the other): per test k, the choice of the paired cue and the DA responses to each cue over
    whole test sessions, both groups' sessions pooled (values and 95 % bootstrap CIs over
    sessions), and each group's own values."""
    groups = result["tests"]
    n_tests = len(groups[0])
    names = ("paired_choice", "cue_response_diff", "cue_response_paired", "cue_response_unpaired")
    out = {k: [] for k in names}
    ci = {k: [] for k in names}
    per_group = [{k: [] for k in names} for _ in groups]

    def values(tr, nb):
        ch = choice_stats(tr, n_boot=nb, seed=seed)
        cue = cue_stats(tr, "rpe_cue", n_boot=nb, seed=seed, whole=True)
        return {"paired_choice": ch["all"], "cue_response_diff": cue["diff"], "cue_response_paired": cue["paired"],
                "cue_response_unpaired": cue["unpaired"]}

    for k in range(n_tests):
        tables = [g[k] for g in groups]
        offsets = np.cumsum([0] + [int(np.max(t["episode"])) + 1 for t in tables[:-1]])
        pooled = {c: np.concatenate([np.asarray(t[c]) + (o if c == "episode" else 0) for t, o in zip(tables, offsets)])
                  for c in tables[0]}
        for name, v in values(pooled, n_boot).items():
            out[name].append(v["value"])
            ci[name].append(list(v["ci"]))
        for j, t in enumerate(tables):
            for name, v in values(t, 0).items():
                per_group[j][name].append(v["value"])
    return {"sessions": list(range(n_tests)), **out, "ci": ci, "groups": per_group}


def analyze(rec, seed: int = 0) -> dict:
    """Every statistic of :data:`STATS` on this recording (its manipulations, if any, are in the
    recording)."""
    tr = rec.trials
    ch = choice_stats(tr, seed=seed)
    stats = {"paired_choice": ch["all"], "paired_choice_first": ch["first"], "paired_choice_last": ch["last"],
             "preference_gain": ch["gain"], "preference_end": ch["end"]}
    cue = cue_stats(tr, "rpe_cue", seed=seed)
    stats.update({"cue_response_paired": cue["paired"], "cue_response_unpaired": cue["unpaired"],
                  "cue_response_diff": cue["diff"], "cue_response_rise": cue["rise"]})
    rate = cue_stats(tr, "da_rate_cue", seed=seed) if "da_rate_cue" in tr else None
    stats["da_rate_cue_diff"] = rate["diff"] if rate else {"value": float("nan"), "sem": None}
    err = np.asarray(tr.get("error", np.zeros(len(tr["episode"]), bool)), bool)
    stats["errors"] = {"value": float(err.mean()) if err.size else float("nan"), "sem": None}
    for v in stats.values():
        if "ci" in v:
            v["ci"] = list(v["ci"])
    return {"protocol": "stauffer", "stats": stats, "reference": dict(REFERENCE),
            "learning_curve": learning_curve(tr), "sessions": ch["sessions"],
            "manipulations": [m.get("name", "") for m in rec.manipulations]}


def figures(rec, result: dict, **_) -> dict:
    """The paired cue's choice across a session (10-trial bins, SEM over sessions) with the
    paper's first- and last-30-trial comparison, and the DA response to each cue."""
    st, lc = result["stats"], result["learning_curve"]
    fig, (ax, bx) = subplots(1, 2, figsize=(8.4, 3.3))
    x = np.asarray(lc["bin_start"]) + BIN / 2
    y, e = np.asarray(lc["p_paired"]), np.asarray(lc["sem"])
    ax.fill_between(x, y - e, y + e, color="tab:blue", alpha=0.25, lw=0)
    ax.plot(x, y, color="tab:blue", label="model (± SEM over sessions)")
    ax.axhline(0.5, color="0.5", lw=0.8, ls=":", label="indifference (the control hemisphere)")
    ref = REFERENCE["preference_end"]["paper"]
    n_trials = lc["bin_start"][-1] + BIN if lc["bin_start"] else 100
    ax.errorbar([n_trials - WINDOW / 2], [0.5 + ref], xerr=[[WINDOW / 2], [WINDOW / 2]], fmt="s", color="k",
                ms=5, label=f"monkeys, last {WINDOW} trials (a reading of Fig. 6/S3)")
    ax.set_xlabel("trial of the session (10-trial bins)")
    ax.set_ylabel("P(choose the stimulation-paired cue)")
    ax.set_ylim(0, 1)
    g = st["preference_gain"]
    en = st["preference_end"]
    ax.set_title(f"Stauffer Fig. 6/S3: the paired cue's choice\nlast {WINDOW} trials − 0.5: {en['value']:+.2f} "
                 f"[{en['ci'][0]:+.2f}, {en['ci'][1]:+.2f}]; last − first {WINDOW}: {g['value']:+.2f}", fontsize=8)
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    vals = [st["cue_response_unpaired"], st["cue_response_paired"]]
    bx.bar([0, 1], [v["value"] for v in vals], 0.6, color=["0.6", "tab:blue"],
           yerr=[[v["value"] - v["ci"][0] for v in vals], [v["ci"][1] - v["value"] for v in vals]], capsize=3)
    bx.set_xticks([0, 1], ["reward alone", "reward + stimulation"], fontsize=7)
    bx.set_ylabel("DA response at the cue (TD error)")
    bx.set_title(f"DA response to each cue, single-cue trials\nlast {WINDOW} trials (95 % bootstrap CI)", fontsize=8)
    bx.axhline(0, color="0.3", lw=0.6)
    fig.tight_layout()
    return {"stauffer": fig}
