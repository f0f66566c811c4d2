"""Recorded dopamine: NAc photometry of Jeong et al. 2022 (CC0), and the statistics that run
unchanged on recorded and simulated traces.

Bundled sets (``pfcda compare conditioning --lab NAME``; files in ``data/jeong2022/``, their
README and licence beside them):

``jeong2022``
    Test 4's short-delay session (cue 2 s, trace 1 s): 7 mice, one session each, 690 trials,
    CS+ and CS− (``cs_plus_minus_test4.csv.gz``).
``jeong2022_delay``
    CS+ only, the same 7 mice before and after Test 4's delay change: the last 3 short-delay
    sessions (cue 2 s, 1,034 trials) and the long-delay sessions (cue 8 s, trace 1 s: 29
    animal-sessions, 1,408 trials); column ``cue_s`` 2 or 8.
``jeong2022_iri``
    Unpredicted sucrose rewards (their Experiment 1): 8 mice, 19 sessions, 580 rewards, the trace
    aligned to the first lick after the reward, with the inter-reward interval ``iri_s``.

A table (recorded or simulated) is a dict of columns: ``episode`` (one per animal-session: the
bootstrap's unit), ``subject``, ``session``, ``trial``, ``kind`` (0 cue trial, 1 unpredicted
reward), ``cs`` (0 CS+, 1 CS−, −1 none), ``cue_s``, ``iri_s`` and ``trace`` [n, samples] at 25 Hz
with the event at sample 50 (2 s before it). Loaders check every file: an error names the
file, the column and the first bad row.
"""
from __future__ import annotations

import gzip
import os
from importlib import resources

import numpy as np

from pfcda.errors import LabDataError

RATE_HZ = 25.0
EVENT = 50  #: the event's sample (2 s of baseline before it)
BUNDLED = {
    "jeong2022": ("cs_plus_minus_test4.csv.gz",),
    "jeong2022_delay": ("cs_plus_within_session.csv.gz", "cs_plus_across_sessions.csv.gz"),
    "jeong2022_iri": ("reward_lick_aligned_iri.csv.gz",),
}
#: Samples per trace in each bundled file, and the cue duration of its sessions.
_LAYOUT = {"cs_plus_minus_test4.csv.gz": (125, 2.0), "cs_plus_within_session.csv.gz": (125, 2.0),
           "cs_plus_across_sessions.csv.gz": (125, 8.0), "reward_lick_aligned_iri.csv.gz": (112, None)}


def data_dir() -> str:
    return str(resources.files("pfcda.protocols.conditioning") / "data" / "jeong2022")


def _frame(path: str):
    import pandas as pd

    if not os.path.isfile(path):
        raise LabDataError(f"{path}: no such file")
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt") as f:
            df = pd.read_csv(f)
    except Exception as e:  # noqa: BLE001 - any parse failure: say which file
        raise LabDataError(f"{path}: not a readable CSV table ({type(e).__name__}: {e})") from None
    if len(df) == 0:
        raise LabDataError(f"{path}: no data rows (a header only?)")
    return df


def _bad(path: str, column: str, bad: np.ndarray, values, expected: str) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        v = values[i]
        v = v.item() if isinstance(v, np.generic) else v
        raise LabDataError(f"{path}: column {column!r}, row {i + 1}: expected {expected}, got {v!r}")


def read_photometry(path: str, samples: int | None = None, cue_s: float | None = None) -> dict:
    """One photometry file in the bundled layout (metadata columns ``id``, ``session``,
    ``trial``, ``cs`` or the reward file's ``iri``, then ``photometry.1 … photometry.N``) → a
    table. ``samples``: the expected trace length (checked)."""
    df = _frame(path)
    traces = [c for c in df.columns if c.startswith("photometry.")]
    if not traces:
        raise LabDataError(f"{path}: no photometry.1 … photometry.N columns; the file has {list(df.columns)[:8]}…")
    expect = [f"photometry.{i}" for i in range(1, len(traces) + 1)]
    if traces != expect:
        raise LabDataError(f"{path}: photometry columns must run photometry.1 … photometry.{len(traces)} in order")
    if samples is not None and len(traces) != samples:
        raise LabDataError(f"{path}: expected {samples} photometry samples per row, got {len(traces)}")
    iri_file = "iri" in df.columns
    need = ["id", "session"] + (["iri"] if iri_file else ["cs"])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise LabDataError(f"{path}: missing column(s) {missing}; the file has {list(df.columns)[:8]}…")
    trace = df[traces].to_numpy(dtype=float, na_value=np.nan)
    row_nan = ~np.isfinite(trace).all(1)
    _bad(path, "photometry", row_nan, [f"{int((~np.isfinite(r)).sum())} missing samples" for r in trace],
         "a complete trace (finite ΔF/F)")
    session = df["session"].to_numpy()
    _bad(path, "session", ~np.isfinite(session.astype(float)) | (session.astype(float) < 1), session,
         "a session number ≥ 1")
    subject = df["id"].astype(str).to_numpy()
    keys = np.char.add(np.char.add(subject.astype(str), "/"), session.astype(int).astype(str))
    _, episode = np.unique(keys, return_inverse=True)
    n = len(df)
    trial = df["trial"].to_numpy(dtype=float, na_value=np.nan) if "trial" in df.columns else np.full(n, np.nan)
    if iri_file:
        iri = df["iri"].to_numpy(dtype=float)
        _bad(path, "iri", ~np.isfinite(iri) | (iri <= 0), iri, "an inter-reward interval in seconds > 0")
        cs, kind, cue = np.full(n, -1, np.int8), np.ones(n, np.int8), np.full(n, np.nan)
    else:
        raw = df["cs"].to_numpy()
        _bad(path, "cs", ~np.isin(raw, (0, 1)), raw, "0 (CS+) or 1 (CS−)")
        cs, kind, iri = raw.astype(np.int8), np.zeros(n, np.int8), np.full(n, np.nan)
        cue = np.full(n, np.nan if cue_s is None else cue_s)
    return {"episode": episode.astype(np.int64), "subject": subject, "session": session.astype(np.int32),
            "trial": trial, "kind": kind, "cs": cs, "cue_s": cue, "iri_s": iri, "trace": trace,
            "_source": path}


def load(name_or_path: str) -> dict:
    """A bundled set (``jeong2022``, ``jeong2022_delay``, ``jeong2022_iri``) or a file in the
    bundled layout."""
    name_or_path = os.fspath(name_or_path)
    if name_or_path in BUNDLED:
        parts = []
        for f in BUNDLED[name_or_path]:
            samples, cue = _LAYOUT[f]
            parts.append(read_photometry(os.path.join(data_dir(), f), samples, cue))
        return concat(parts)
    if name_or_path.startswith("jeong") and not os.path.exists(name_or_path):
        raise LabDataError(f"--lab {name_or_path}: unknown bundled set; expected one of {sorted(BUNDLED)} "
                           "or a photometry CSV in their layout")
    return read_photometry(name_or_path)


def concat(parts: list) -> dict:
    """Tables one after the other, their episodes renumbered (distinct across parts)."""
    if len({p["trace"].shape[1] for p in parts}) > 1:
        raise LabDataError("photometry tables of different trace lengths cannot be combined")
    offsets = np.cumsum([0] + [int(p["episode"].max()) + 1 for p in parts[:-1]])
    out = {k: np.concatenate([p[k] + o if k == "episode" else p[k] for p, o in zip(parts, offsets)])
           for k in parts[0] if not k.startswith("_")}
    out["_source"] = ", ".join(p.get("_source", "") for p in parts)
    return out


# ------------------------------------------------------------------ the shared statistics
def window_mean(trace: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """Mean of each row over [t0, t1) s from the event, minus its 2-s pre-event baseline."""
    a, b = EVENT + int(round(t0 * RATE_HZ)), EVENT + int(round(t1 * RATE_HZ))
    return np.nanmean(trace[:, a:b], 1) - np.nanmean(trace[:, :EVENT], 1)


def baselined(trace: np.ndarray) -> np.ndarray:
    return trace - np.nanmean(trace[:, :EVENT], 1, keepdims=True)


def time_course(traces: np.ndarray, t_max: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """(peak latency, width at half maximum) in seconds of each baseline-subtracted trace (rows
    of ``traces``; NaN where a row never rises above 0), the peak searched in [0, t_max] s after
    the event, the width the run of samples around it at ≥ half the peak. Vectorised over rows."""
    after = np.atleast_2d(traces)[:, EVENT:]
    seg = after[:, : int(round(t_max * RATE_HZ)) + 1]
    filled = np.where(np.isfinite(seg), seg, -np.inf)
    k = filled.argmax(1)
    rows = np.arange(len(after))
    peak = filled[rows, k]
    ok = np.isfinite(peak) & (peak > 0)
    below = ~(after >= (peak / 2)[:, None])  # NaN counts as below
    idx = np.arange(after.shape[1])[None, :]
    lo = np.where(below & (idx < k[:, None]), idx, -1).max(1) + 1
    hi = np.where(below & (idx > k[:, None]), idx, after.shape[1]).min(1) - 1
    return np.where(ok, k / RATE_HZ, np.nan), np.where(ok, (hi - lo + 1) / RATE_HZ, np.nan)


def _centred(x: np.ndarray, group: np.ndarray) -> np.ndarray:
    """x minus the mean of its group (within-session, within-subject)."""
    _, g = np.unique(group, return_inverse=True)
    return x - (np.bincount(g, x) / np.bincount(g))[g]


def _group_means(x: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct groups, the mean of x [rows, ...] in each), vectorised."""
    keys, g = np.unique(group, return_inverse=True)
    sums = np.zeros((len(keys),) + x.shape[1:])
    np.add.at(sums, g, x)
    return keys, sums / np.bincount(g).reshape((-1,) + (1,) * (x.ndim - 1))


def _centred_r(x: np.ndarray, y: np.ndarray, group: np.ndarray) -> float:
    """Pearson r of x and y after removing each group's means (within-session correlation)."""
    xc, yc = _centred(x, group), _centred(y, group)
    den = np.sqrt((xc ** 2).sum() * (yc ** 2).sum())
    return float((xc * yc).sum() / den) if den > 0 else float("nan")


STATS = {
    "cs_plus_response": "CS+: mean ΔF/F 0–1 s after cue onset minus the 2-s pre-cue baseline (trials pooled)",
    "cs_minus_response": "CS−: the same",
    "cs_minus_over_plus": "CS− response ÷ CS+ response (scale-free: 0 = no response to the CS−)",
    "peak_latency_s": "time of the peak of a session's mean CS+ trace after cue onset (0–1.5 s), "
                      "averaged over sessions (animals)",
    "width_s": "a session's mean CS+ trace's width at half its peak, averaged over sessions",
    "within_session_rise": "CS+ response on the last third of a session's CS+ trials minus the first "
                           "third, ÷ the mean CS+ response",
    "across_session_slope": "CS+ response's change per session ÷ its mean, within subjects (the "
                            "long-cue sessions where there are several; recorded data only: an "
                            "episode is one session)",
    "delay_ratio": "CS+ response with the long cue (8 s: reward 9 s after onset) ÷ with the short "
                   "cue (2 s: reward at 3 s) — Test 4's delay change",
    "reward_response": "unpredicted rewards: mean ΔF/F 0–1 s after the event minus baseline",
    "iri_r": "unpredicted rewards: within-session Pearson r of the reward response with the "
             "interval since the previous reward",
}


def stats(table: dict) -> dict:
    """The statistics a table supports (cue trials: CS+/CS−, time course, within-session
    change; two cue durations: the delay ratio; unpredicted rewards: the IRI dependence) —
    the same code for recorded and simulated photometry."""
    tr = np.asarray(table["trace"], float)
    kind, cs = np.asarray(table["kind"]), np.asarray(table["cs"])
    ep = np.asarray(table["episode"])
    out = {}
    cue_rows = kind == 0
    if cue_rows.any():
        resp = window_mean(tr, 0.0, 1.0)
        plus, minus = cue_rows & (cs == 0), cue_rows & (cs == 1)
        cue_s = np.asarray(table["cue_s"], float)
        short = np.isnan(cue_s) | (cue_s == np.nanmin(cue_s)) if np.isfinite(cue_s).any() else np.ones(len(cs), bool)
        p_short = plus & short
        if p_short.any():
            out["cs_plus_response"] = float(resp[p_short].mean())
            # each session's mean trace, then the mean over sessions (animals)
            _, means = _group_means(baselined(tr[p_short]), ep[p_short])
            lat, width = time_course(means)
            ok = np.isfinite(lat)  # a session whose mean CS+ trace never rises has no peak
            if ok.any():
                out["peak_latency_s"], out["width_s"] = float(lat[ok].mean()), float(width[ok].mean())
            # within-session change: thirds of each episode's CS+ trials, in order
            order = np.lexsort((np.arange(len(ep)), ep))
            o = order[p_short[order]]
            _, first_pos, counts = np.unique(ep[o], return_index=True, return_counts=True)
            rank = np.arange(len(o)) - np.repeat(first_pos, counts)
            frac = rank / np.repeat(np.maximum(counts - 1, 1), counts)
            early, late = resp[o][frac < 1 / 3], resp[o][frac > 2 / 3]
            if len(early) and len(late) and out["cs_plus_response"] != 0:
                out["within_session_rise"] = float((late.mean() - early.mean()) / abs(out["cs_plus_response"]))
        # across sessions (several sessions of a subject): the CS+ response's slope per session,
        # ÷ the mean response, within subjects (the sessions after Test 4's delay change)
        subj, sess = np.asarray(table["subject"]).astype(str), np.asarray(table["session"], float)
        long_ = plus & ~short if (plus & ~short).any() else plus
        if len(np.unique(sess[long_])) > 2:
            keys = np.char.add(np.char.add(subj[long_], "/"), sess[long_].astype(int).astype(str))
            _, k_idx = np.unique(keys, return_inverse=True)
            _, m = _group_means(resp[long_], k_idx)
            _, first = np.unique(k_idx, return_index=True)
            xc = _centred(sess[long_][first], subj[long_][first])
            yc = _centred(m, subj[long_][first])
            if (xc ** 2).sum() > 0 and m.mean() != 0:
                out["across_session_slope"] = float((xc * yc).sum() / (xc ** 2).sum() / abs(m.mean()))
        if (minus & short).any():
            out["cs_minus_response"] = float(resp[minus & short].mean())
            if "cs_plus_response" in out and out["cs_plus_response"] != 0:
                out["cs_minus_over_plus"] = out["cs_minus_response"] / out["cs_plus_response"]
        if np.isfinite(cue_s).any() and len(np.unique(cue_s[plus & np.isfinite(cue_s)])) > 1:
            lo, hi = np.nanmin(cue_s[plus]), np.nanmax(cue_s[plus])
            a, b = resp[plus & (cue_s == lo)].mean(), resp[plus & (cue_s == hi)].mean()
            if a != 0:
                out["delay_ratio"] = float(b / a)
    rew = kind == 1
    if rew.any():
        resp = window_mean(tr, 0.0, 1.0)
        out["reward_response"] = float(resp[rew].mean())
        iri = np.asarray(table["iri_s"], float)
        ok = rew & np.isfinite(iri)
        if ok.sum() > 3:
            out["iri_r"] = _centred_r(resp[ok], iri[ok], ep[ok])
    return out
