"""Lab data → the protocols' trials-table form, so every analysis runs on animals and circuit.

Loaders validate as they read; an error names the file, the column and the first bad row
(1-based data row, header excluded). Nothing is dropped silently: trials a protocol's analyses
exclude (violations, forced trials, no-response trials) are *kept* and flagged (``error``,
``forced``), and their counts are reported in ``table["_excluded"]`` — a dict of counts, not a
column.

Sources
-------
``rats`` (bundled)
    Rat two-step task (Miller, Botvinick & Brody), 6 rats, 36,413 trials → the ``twostep``
    trials table: episode (one per session), subject, session, trial, choice (0 left, 1
    right), state (in the task's frame: the state choice c reaches commonly is state c — for
    the incongruent rats that is the opposite port), port (the outcome port visited: 0 left,
    1 right, −1 violation), common, reward, forced (instructed trial:
    not a choice, but its outcome counts as history), error (violation), p_left, p_right.
``mice`` (bundled)
    Mouse dynamic foraging (Allen Institute), 3 sessions → a two-choice table: episode (one per
    session), subject, session, trial, choice (0 left, 1 right, −1 no response), reward,
    p_left, p_right, error (no response).
Files in those layouts
    A CSV/TSV (optionally gzipped) with the rat two-step columns or the foraging columns, and
    foraging NWB files (:func:`load_nwb_trials`, pynwb). (A general column mapping for other
    layouts is not written yet.)
"""
from __future__ import annotations

import gzip
import os
from importlib import resources

import numpy as np

BUNDLED = {"rats": "rat_twostep_trials.csv.gz", "mice": "aind_foraging_trials.csv.gz"}


class LabDataError(ValueError):
    """A lab data file that cannot be read into a trials table."""


def bundled_path(name: str) -> str:
    if name not in BUNDLED:
        raise LabDataError(f"lab data: unknown bundled set {name!r}; expected one of {sorted(BUNDLED)}")
    return str(resources.files("protocols") / "labdata" / BUNDLED[name])


def _read_frame(path: str):
    import pandas as pd

    if not os.path.isfile(path):
        raise LabDataError(f"{path}: no such file")
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rt") as f:
                return pd.read_csv(f, sep=None, engine="python")
        return pd.read_csv(path, sep=None, engine="python")
    except Exception as e:  # noqa: BLE001 - any parse failure: say which file
        raise LabDataError(f"{path}: not a readable CSV/TSV table ({type(e).__name__}: {e})") from None


def _require(df, path: str, columns) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise LabDataError(f"{path}: missing column(s) {missing}; the file has {list(df.columns)}")


def _first_bad(path: str, column: str, bad: np.ndarray, values, expected: str) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        v = values[i].item() if hasattr(values[i], "item") else values[i]
        raise LabDataError(f"{path}: column {column!r}, row {i + 1}: expected {expected}, got {v!r}")


def _codes(path, df, column, mapping: dict, expected: str) -> np.ndarray:
    """Recode a column with ``mapping`` (value → code); unknown values are an error."""
    raw = df[column].to_numpy()
    out = np.full(len(raw), -99, dtype=np.int64)
    for value, code in mapping.items():
        out[np.array([str(v) == str(value) for v in raw])] = code
    _first_bad(path, column, out == -99, raw, expected)
    return out


def _numeric(path, df, column, lo=None, hi=None, expected="a number") -> np.ndarray:
    raw = df[column].to_numpy()
    vals = np.array([_to_float(v) for v in raw])
    bad = ~np.isfinite(vals)
    if lo is not None:
        bad |= vals < lo
    if hi is not None:
        bad |= vals > hi
    _first_bad(path, column, bad, raw, expected)
    return vals


def _to_float(v) -> float:
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return {"true": 1.0, "false": 0.0}.get(str(v).strip().lower(), float("nan"))


def _episodes(*keys) -> np.ndarray:
    """0-based episode index for each distinct key combination, in order of appearance."""
    combo = np.array(["\x1f".join(map(str, k)) for k in zip(*keys)])
    _, first, inv = np.unique(combo, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inv].astype(np.int64)


# ------------------------------------------------------------------------------ rat two-step
def load_rat_twostep(path: str | None = None) -> dict:
    """The rat two-step data (bundled unless ``path`` is given) as a ``twostep`` trials table."""
    path = path or bundled_path("rats")
    df = _read_frame(path)
    _require(df, path, ["rat", "session", "trial_in_session", "choice1", "outcome_port", "reward",
                        "common_transition", "p_reward_left", "p_reward_right", "forced", "violation"])
    choice = _codes(path, df, "choice1", {"l": 0, "r": 1}, "'l' or 'r'")
    port = _codes(path, df, "outcome_port", {"l": 0, "r": 1, "v": -1}, "'l', 'r' or 'v' (violation)")
    reward = _numeric(path, df, "reward", 0, 1, "0 or 1")
    _first_bad(path, "reward", ~np.isin(reward, (0, 1)), df["reward"].to_numpy(), "0 or 1")
    common = _numeric(path, df, "common_transition", 0, 1, "0 or 1")
    pl = _numeric(path, df, "p_reward_left", 0, 1, "a probability in [0, 1]")
    pr = _numeric(path, df, "p_reward_right", 0, 1, "a probability in [0, 1]")
    forced = _numeric(path, df, "forced", 0, 1, "0 or 1") > 0
    viol = (_numeric(path, df, "violation", 0, 1, "0 or 1") > 0) | (port < 0)
    subject = df["rat"].astype(str).to_numpy()
    session = df["session"].to_numpy()
    table = {
        "episode": _episodes(subject, session), "subject": subject,
        "session": session.astype(np.int64),
        "trial": (df["trial_in_session"].to_numpy() - 1).astype(np.int32),
        "choice": choice.astype(np.int16),
        # the second-stage state in the task's frame (state c is the one choice c reaches
        # commonly), so incongruent rats (left → right port) fit the same agents; the port is kept
        "state": np.where(common > 0, choice, 1 - choice).astype(np.int8),
        "port": port.astype(np.int8),
        "common": common > 0, "option": np.zeros(len(df), np.int8),
        "reward": reward.astype(np.float32), "forced": forced, "violation": viol,
        "error": viol, "p_left": pl.astype(np.float32), "p_right": pr.astype(np.float32),
    }
    table["_excluded"] = {"forced": int(forced.sum()), "violation": int(viol.sum()),
                          "total_trials": int(len(df))}
    return table


# -------------------------------------------------------------------------- mouse foraging
def load_mouse_foraging(path: str | None = None) -> dict:
    """The mouse dynamic-foraging data (bundled unless ``path`` is given) as a two-choice
    trials table (reward = rewarded on either side)."""
    path = path or bundled_path("mice")
    df = _read_frame(path)
    _require(df, path, ["subject", "session", "trial", "animal_response", "rewarded_historyL",
                        "rewarded_historyR", "reward_probabilityL", "reward_probabilityR"])
    resp = _numeric(path, df, "animal_response", 0, 2, "0 (left), 1 (right) or 2 (no response)")
    _first_bad(path, "animal_response", ~np.isin(resp, (0, 1, 2)), df["animal_response"].to_numpy(),
               "0 (left), 1 (right) or 2 (no response)")
    rl = _numeric(path, df, "rewarded_historyL", 0, 1, "a boolean")
    rr = _numeric(path, df, "rewarded_historyR", 0, 1, "a boolean")
    pl = _numeric(path, df, "reward_probabilityL", 0, 1, "a probability in [0, 1]")
    pr = _numeric(path, df, "reward_probabilityR", 0, 1, "a probability in [0, 1]")
    choice = np.where(resp == 2, -1, resp).astype(np.int16)
    table = {
        "episode": _episodes(df["session"].to_numpy()), "subject": df["subject"].astype(str).to_numpy(),
        "session": df["session"].astype(str).to_numpy(), "trial": df["trial"].to_numpy().astype(np.int32),
        "choice": choice, "reward": ((rl > 0) | (rr > 0)).astype(np.float32),
        "p_left": pl.astype(np.float32), "p_right": pr.astype(np.float32), "error": choice < 0,
    }
    table["_excluded"] = {"no_response": int((choice < 0).sum()), "total_trials": int(len(df))}
    return table


def load_nwb_trials(path: str) -> dict:
    """A foraging NWB file's trials table (pynwb) in the same form as :func:`load_mouse_foraging`."""
    try:
        from pynwb import NWBHDF5IO
    except ImportError:
        raise LabDataError("reading NWB needs pynwb: pip install 'pfcda[nwb]'") from None
    if not os.path.isfile(path):
        raise LabDataError(f"{path}: no such file")
    try:
        with NWBHDF5IO(path, "r") as io:
            nwb = io.read()
            if nwb.trials is None:
                raise LabDataError(f"{path}: the NWB file has no trials table")
            df = nwb.trials.to_dataframe()
            subject = nwb.subject.subject_id if nwb.subject is not None else os.path.basename(path)
    except LabDataError:
        raise
    except Exception as e:  # noqa: BLE001
        raise LabDataError(f"{path}: not a readable NWB file ({type(e).__name__}: {e})") from None
    df = df.reset_index(drop=True)
    df["subject"] = subject
    df["session"] = os.path.splitext(os.path.basename(path))[0]
    df["trial"] = np.arange(len(df))
    tmp = path + ".__pfcda_trials.csv"
    try:
        df.to_csv(tmp, index=False)
        table = load_mouse_foraging(tmp)
    except LabDataError as e:
        raise LabDataError(str(e).replace(tmp, f"{path} (trials table)")) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return table


def load(name_or_path: str, protocol: str | None = None) -> dict:
    """A bundled set by name (``rats``, ``mice``), or a file: ``.nwb`` (foraging trials), or a
    CSV in the rat two-step or foraging layout (recognised by its columns)."""
    if name_or_path == "rats":
        return load_rat_twostep()
    if name_or_path == "mice":
        return load_mouse_foraging()
    if name_or_path.endswith(".nwb"):
        return load_nwb_trials(name_or_path)
    df = _read_frame(name_or_path)
    if "choice1" in df.columns or protocol == "twostep":
        return load_rat_twostep(name_or_path)
    return load_mouse_foraging(name_or_path)


# ------------------------------------------------------------------ export for lab tools
HBAYESDM_TASKS = {"twostep": "ts", "bandit": "bandit2arm", "matching": "bandit2arm", "reversal": "prl"}


def to_hbayesdm(trials: dict, protocol: str, path: str) -> dict:
    """Write a trials table in hBayesDM's tab-separated convention (Ahn, Haines & Zhang 2017):
    ``ts`` (two-step: subjID, trial, level1_choice 1/2, level2_choice 1–4 with 1–2 in the state
    reached commonly from choice 1, reward 0/1, A1prob…B2prob), ``bandit2arm`` / ``prl``
    (subjID, trial, choice 1/2, outcome 1 = reward, −1 = none). Each episode is a subject;
    trials with an invalid response are left out, as hBayesDM's missed trials are, and counted.
    Returns ``{"task", "rows", "left_out"}``."""
    import pandas as pd

    if protocol not in HBAYESDM_TASKS:
        raise ValueError(f"protocol: hBayesDM export supports {sorted(HBAYESDM_TASKS)}, got {protocol!r}")
    task = HBAYESDM_TASKS[protocol]
    tr = {k: np.asarray(v) for k, v in trials.items() if not k.startswith("_")}
    subj = tr["episode"] + 1
    trial = tr["trial"] + 1
    if task == "ts":
        keep = ~tr["error"].astype(bool)
        df = pd.DataFrame({"subjID": subj, "trial": trial, "level1_choice": tr["choice"] + 1,
                           "level2_choice": 2 * tr["state"] + tr["option"] + 1,
                           "reward": (tr["reward"] > 0).astype(int),
                           "A1prob": tr["p1a"], "A2prob": tr["p1b"], "B1prob": tr["p2a"], "B2prob": tr["p2b"]})
    else:
        choice = tr["choice"].astype(int)
        if protocol == "matching":  # action codes 1 left, 2 right, 0 invalid
            choice = choice - 1
        keep = choice >= 0
        if "error" in tr:
            keep &= ~tr["error"].astype(bool)
        df = pd.DataFrame({"subjID": subj, "trial": trial, "choice": choice + 1,
                           "outcome": np.where(tr["reward"] > 0, 1, -1)})
    df = df[keep]
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        df.to_csv(tmp, sep="\t", index=False, float_format="%.5f")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return {"task": task, "rows": int(len(df)), "left_out": int((~keep).sum())}
