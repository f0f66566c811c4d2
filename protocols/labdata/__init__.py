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
    foraging NWB files (:func:`load_nwb_trials`, pynwb).
Files in other layouts: a column mapping
    :func:`load_mapped` (or ``load(path, mapping=...)``) reads a CSV/TSV (optionally gzipped)
    or a MATLAB v7.3 ``.mat`` (:func:`read_matlab`, h5py: a struct of column vectors) through a
    mapping — a dict, a small TOML file (format in :func:`load_mapped`'s docstring) or a name
    in :data:`MAPPINGS` (hBayesDM's layouts, also recognised from their columns) — into the same
    tables.

    Layout ``choice`` gives the foraging table's columns (``error`` and ``p_left, p_right`` if
    mapped); layout ``twostep`` the rat table's (``state`` in the task frame, ``port`` the
    state as the file codes it, ``common``, ``option``, ``forced``, ``violation``, ``error``;
    reward probabilities ``p_left, p_right`` or ``p1a, p1b, p2a, p2b`` if mapped). A missing
    choice (or state) is a no-response trial: kept, flagged, counted in ``_excluded``.
"""
from __future__ import annotations

import gzip
import os
from importlib import resources

import numpy as np
import pandas as pd

from pfcda.errors import LabDataError

BUNDLED = {"rats": "rat_twostep_trials.csv.gz", "mice": "aind_foraging_trials.csv.gz"}


def bundled_path(name: str) -> str:
    if name not in BUNDLED:
        raise LabDataError(f"lab data: unknown bundled set {name!r}; expected one of {sorted(BUNDLED)}")
    return str(resources.files("pfcda.protocols.labdata") / "data" / BUNDLED[name])


def _read_frame(path: str):
    if not os.path.isfile(path):
        raise LabDataError(f"{path}: no such file")
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rt") as f:
                df = pd.read_csv(f, sep=None, engine="python")
        else:
            df = pd.read_csv(path, sep=None, engine="python")
    except Exception as e:  # noqa: BLE001 - any parse failure: say which file
        raise LabDataError(f"{path}: not a readable CSV/TSV table ({type(e).__name__}: {e})") from None
    if len(df) == 0:
        raise LabDataError(f"{path}: no data rows (a header only?)")
    return df


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
    return mouse_foraging_table(_read_frame(path), path)


def mouse_foraging_table(df, path: str) -> dict:
    """A dynamic-foraging trials DataFrame (the AIND columns) as a two-choice trials table;
    ``path`` names the source in errors."""
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
    if "bait_left" in df.columns and "bait_right" in df.columns:
        table["baited"] = _baited_sessions(path, df, table["episode"], choice)
    table["_excluded"] = {"no_response": int((choice < 0).sum()), "total_trials": int(len(df))}
    return table


def _baited_sessions(path, df, episode, choice) -> np.ndarray:
    """Per trial: whether its session baited (a bait stays until collected). Inferred from the
    bait columns: in a baited session every bait left uncollected is still there on the next
    trial; in an unbaited one it is redrawn (measured on the bundled mice: 290/290 kept in
    session 703548, 65 % and 41 % in the other two, their base rates). Baited: ≥ 95 % of at
    least 10 uncollected baits kept; sessions with fewer are taken as unbaited."""
    bait = np.stack([_numeric(path, df, c, 0, 1, "a boolean") > 0 for c in ("bait_left", "bait_right")], 1)
    out = np.zeros(len(choice), bool)
    for e in np.unique(episode):
        rows = np.flatnonzero(episode == e)
        kept, left = 0, 0
        for side in (0, 1):
            m = bait[rows[:-1], side] & (choice[rows[:-1]] != side)
            left += int(m.sum())
            kept += int(bait[rows[1:], side][m].sum())
        out[rows] = left >= 10 and kept >= 0.95 * left  # a glitched row does not flip it
    return out


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
    return mouse_foraging_table(df, f"{path} (trials table)")


def load(name_or_path: str, protocol: str | None = None, mapping=None) -> dict:
    """A bundled set by name (``rats``, ``mice``), or a file: ``.nwb`` (foraging trials), or a
    CSV in the rat two-step or foraging layout (recognised by its columns); with ``mapping``
    (a dict or a TOML file, see :func:`load_mapped`) a CSV/TSV or MATLAB v7.3 ``.mat`` file in
    any layout. ``protocol`` ``twostep`` needs the mapping's layout ``twostep``, any other
    protocol layout ``choice``."""
    name_or_path = os.fspath(name_or_path)
    if mapping is not None:
        src, m = _parse_mapping(mapping)
        if protocol is not None and (protocol == "twostep") != (m["layout"] == "twostep"):
            raise LabDataError(f"{src}: layout {m['layout']!r} does not fit protocol {protocol!r} "
                               f"(twostep takes layout 'twostep', the others layout 'choice')")
        path = bundled_path(name_or_path) if name_or_path in BUNDLED else name_or_path
        return load_mapped(path, mapping)
    if name_or_path.lower().endswith(".mat"):
        raise LabDataError(f"{name_or_path}: a MATLAB file needs a column mapping (a TOML file or "
                           "dict naming the layout and which field is which column): "
                           "labdata.load(path, mapping=...) or labdata.load_mapped(path, mapping)")
    if name_or_path in BUNDLED and protocol is not None and (protocol == "twostep") != (name_or_path == "rats"):
        fits = "twostep" if name_or_path == "rats" else "matching (two-choice foraging)"
        raise LabDataError(f"--lab {name_or_path}: the bundled {name_or_path} data fit protocol {fits}, "
                           f"not {protocol!r}")
    if name_or_path == "rats":
        return load_rat_twostep()
    if name_or_path == "mice":
        return load_mouse_foraging()
    if name_or_path.endswith(".nwb"):
        return load_nwb_trials(name_or_path)
    df = _read_frame(name_or_path)
    if {"subjID", "level1_choice", "level2_choice"} <= set(df.columns):
        return load_mapped(name_or_path, "hbayesdm_ts")
    if {"subjID", "choice", "outcome"} <= set(df.columns):
        return load_mapped(name_or_path, "hbayesdm_bandit2arm")
    if "choice1" in df.columns or protocol == "twostep":
        return load_rat_twostep(name_or_path)
    return load_mouse_foraging(name_or_path)


# ------------------------------------------------------------ files in other layouts: a mapping
LAYOUTS = ("choice", "twostep")
_COMMON_KEYS = ("subject", "session", "trial", "choice", "reward")
MAPPING_COLUMNS = {
    "choice": _COMMON_KEYS + ("error", "p_left", "p_right"),
    "twostep": _COMMON_KEYS + ("state", "common", "option", "forced", "violation",
                               "p_left", "p_right", "p1a", "p1b", "p2a", "p2b"),
}
MAPPING_OPTIONS = {"choice": ("first_trial",), "twostep": ("first_trial", "p_common")}
_MAPPING_KEYS = ("layout", "columns", "codes", "options", "variable")
_RESPONSES = ("choice", "state", "option")  # may be missing: −1 / empty = no response
_FLAGS = ("reward", "common", "forced", "violation", "error")  # 0/1
_PROBS = ("p_left", "p_right", "p1a", "p1b", "p2a", "p2b")


#: Named mappings for the layouts of hBayesDM (Ahn, Haines & Zhang 2017), whose example data
#: are GPL-3 and read from the user's path (not bundled); the same names as hBayesDM's tasks.
#: ``pfcda compare … --lab ts_exampleData.txt`` recognises these layouts by their columns.
MAPPINGS = {
    "hbayesdm_ts": {
        "layout": "twostep",
        "columns": {"subject": "subjID", "trial": "trial", "choice": "level1_choice",
                    "state": "level2_choice", "option": "level2_choice", "reward": "reward",
                    "p1a": "A1prob", "p1b": "A2prob", "p2a": "B1prob", "p2b": "B2prob"},
        "codes": {"choice": {"1": 0, "2": 1}, "state": {"1": 0, "2": 0, "3": 1, "4": 1},
                  "option": {"1": 0, "2": 1, "3": 0, "4": 1}},
    },
    "hbayesdm_bandit2arm": {
        "layout": "choice",
        "columns": {"subject": "subjID", "trial": "trial", "choice": "choice", "reward": "outcome"},
        "codes": {"choice": {"1": 0, "2": 1}, "reward": {"1": 1, "-1": 0}},
    },
}
MAPPINGS["hbayesdm_prl"] = MAPPINGS["hbayesdm_bandit2arm"]


def _parse_mapping(mapping) -> tuple[str, dict]:
    """A mapping (dict, a TOML file's path, or a name in :data:`MAPPINGS`) → (its name for
    messages, the checked dict)."""
    if isinstance(mapping, str) and mapping in MAPPINGS:
        return mapping, _parse_mapping(MAPPINGS[mapping])[1]
    if isinstance(mapping, (str, os.PathLike)):
        src = os.fspath(mapping)
        if not os.path.isfile(src):
            raise LabDataError(f"{src}: no such mapping file")
        import tomllib

        try:
            with open(src, "rb") as f:
                m = tomllib.load(f)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise LabDataError(f"{src}: not a valid TOML mapping ({e})") from None
    elif isinstance(mapping, dict):
        src, m = "mapping", mapping
    else:
        raise LabDataError(f"mapping: expected a dict or the path of a TOML file, got {type(mapping).__name__}")
    unknown = [k for k in m if k not in _MAPPING_KEYS]
    if unknown:
        raise LabDataError(f"{src}: unknown key(s) {unknown}; expected {list(_MAPPING_KEYS)}")
    layout = m.get("layout")
    if layout not in LAYOUTS:
        raise LabDataError(f"{src}: layout = {layout!r}; expected one of {list(LAYOUTS)}")
    allowed = MAPPING_COLUMNS[layout]
    cols = m.get("columns")
    if not isinstance(cols, dict) or not cols:
        raise LabDataError(f"{src}: a [columns] table (table column = file column) is required; "
                           f"layout {layout!r} takes {list(allowed)}")
    unknown = [k for k in cols if k not in allowed]
    if unknown:
        raise LabDataError(f"{src}: [columns] unknown table column(s) {unknown}; layout {layout!r} "
                           f"takes {list(allowed)}")
    for k, v in cols.items():
        if not isinstance(v, str) or not v:
            raise LabDataError(f"{src}: [columns] {k} = {v!r}: expected the file column's name (a string)")
    required = ["choice", "reward"]
    missing = [k for k in required if k not in cols]
    if layout == "twostep" and "state" not in cols and "common" not in cols:
        missing.append("state (or common)")
    if missing:
        raise LabDataError(f"{src}: [columns] must map {missing} (layout {layout!r})")
    codes = m.get("codes", {})
    if not isinstance(codes, dict):
        raise LabDataError(f"{src}: [codes] must be a table of value recodings per table column")
    for k, table in codes.items():
        if k not in allowed:
            raise LabDataError(f"{src}: [codes] unknown table column {k!r}; layout {layout!r} takes "
                               f"{list(allowed)}")
        if k not in cols:
            raise LabDataError(f"{src}: [codes] {k}: the column is not mapped in [columns]")
        if k in _PROBS or k in ("subject", "session", "trial"):
            raise LabDataError(f"{src}: [codes] {k}: codes apply to {list(_RESPONSES + _FLAGS)}")
        if not isinstance(table, dict) or not table:
            raise LabDataError(f"{src}: [codes] {k} must be an inline table, e.g. {{ 1 = 0, 2 = 1 }}")
        targets = (0, 1, -1) if k in _RESPONSES else (0, 1)
        for value, code in table.items():
            if isinstance(code, bool) or not isinstance(code, int) or code not in targets:
                raise LabDataError(f"{src}: [codes] {k}: {value!r} = {code!r}: expected one of {list(targets)}"
                                   + (" (−1: no response)" if k in _RESPONSES else ""))
    opts = m.get("options", {})
    if not isinstance(opts, dict):
        raise LabDataError(f"{src}: [options] must be a table")
    unknown = [k for k in opts if k not in MAPPING_OPTIONS[layout]]
    if unknown:
        raise LabDataError(f"{src}: [options] unknown option(s) {unknown}; layout {layout!r} takes "
                           f"{list(MAPPING_OPTIONS[layout])}")
    ft = opts.get("first_trial", 1)
    if isinstance(ft, bool) or not isinstance(ft, int):
        raise LabDataError(f"{src}: [options] first_trial = {ft!r}: expected an integer (0 or 1)")
    pc = opts.get("p_common")
    if pc is not None and (isinstance(pc, bool) or not isinstance(pc, (int, float)) or not 0.5 < pc <= 1):
        raise LabDataError(f"{src}: [options] p_common = {pc!r}: expected a probability in (0.5, 1]")
    var = m.get("variable")
    if var is not None and not isinstance(var, str):
        raise LabDataError(f"{src}: variable = {var!r}: expected the MATLAB variable's name (a string)")
    return src, m


def _missing(raw) -> np.ndarray:
    """NaN/None or an empty (blank) string: a missing value."""
    miss = np.asarray(pd.isna(raw), bool)
    return miss | np.array([isinstance(v, str) and not v.strip() for v in raw], bool)


def _norm(v) -> str:
    """A value as a code key: integral numbers without a decimal point (1, 1.0, '1' → '1')."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str):
        v = v.strip()
        try:
            f = float(v)
        except ValueError:
            return v
        return str(int(f)) if np.isfinite(f) and f.is_integer() else v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if np.isfinite(f) and f.is_integer() else repr(f)


def _mapped_values(path, df, key, col, codes, src) -> np.ndarray:
    """A response or 0/1 column, recoded: float values, NaN where missing (empty, NaN, −1)."""
    raw = df[col].to_numpy()
    miss = _missing(raw)
    vals = np.full(len(raw), np.nan)
    response = key in _RESPONSES
    if codes:
        lookup = {_norm(k): v for k, v in codes.items()}
        got = np.array([lookup.get(_norm(v), -99) if not m else -1 for v, m in zip(raw, miss)], float)
        bad = got == -99
        expected = f"one of {list(codes)} ({src} [codes] {key})"
    else:
        got = np.array([_to_float(v) if not m else -1 for v, m in zip(raw, miss)], float)
        bad = ~np.isin(got, (0, 1, -1) if response else (0, 1))
        expected = "0 or 1 (empty or −1: no response)" if response else "0 or 1"
    _first_bad(path, col, bad & ~miss, raw, expected)
    ok = got >= 0
    vals[ok] = got[ok]
    return vals


def _labels(path, df, col) -> np.ndarray:
    """Subject/session labels as text (1, 1.0 and '1' all → '1'); a missing label is an error."""
    raw = df[col].to_numpy()
    _first_bad(path, col, _missing(raw), raw, "a label (not empty)")
    return np.array([_norm(v) for v in raw], dtype=object)


def load_mapped(path, mapping) -> dict:
    """A CSV/TSV (optionally gzipped) or MATLAB v7.3 ``.mat`` file in any layout, read through a
    column mapping into the trials table of the bundled loaders, so every analysis runs on it.

    ``mapping`` is a dict or the path of a TOML file::

        layout = "twostep"          # or "choice": a two-choice bandit/foraging/reversal table
        variable = "data"           # .mat only: the struct of column vectors (default: the only one)
        [columns]                   # table column = file column
        subject = "subjID"          # optional; default: the file's name
        session = "block"           # optional; default: one session per subject
        trial = "trial"             # optional; default: order within the session
        choice = "level1_choice"
        reward = "reward"
        state = "level2_choice"     # twostep: state (or common) is required
        option = "level2_choice"    # twostep, optional: the second-stage option (0/1)
        [codes]                     # optional: file value = table value, per table column
        choice = { 1 = 0, 2 = 1 }
        state = { 1 = 0, 2 = 0, 3 = 1, 4 = 1 }
        option = { 1 = 0, 2 = 1, 3 = 0, 4 = 1 }
        [options]
        p_common = 0.7              # twostep: find each subject's common transitions (below)
        first_trial = 1             # the number the file gives a session's first trial (default 1)

    Table columns: ``subject, session, trial, choice, reward`` and for layout ``choice`` also
    ``error`` (0/1: an invalid trial), ``p_left, p_right``; for layout ``twostep`` also
    ``state`` (the second-stage state 0/1), ``common`` (0/1), ``option``, ``forced`` (0/1: an
    instructed trial), ``violation`` (0/1), ``p_left, p_right, p1a, p1b, p2a, p2b`` (reward
    probabilities in [0, 1]). Without ``[codes]`` a column must hold 0/1 (choice/state/option:
    0/1, −1 or empty = no response; 0/1 columns also take true/false). With codes every
    non-empty value must be listed; a response may be coded −1 (no response).

    Two-step frame: the table's ``state`` is in the task's frame (state c is the one choice c
    reaches commonly) and ``common`` = state == choice. Map ``state`` alone if the file's
    states are already in that frame (hBayesDM: level-2 choices 1–2 are in the state reached
    commonly from level-1 choice 1); with ``p_common`` the frame is found per subject (the
    state reached from choice c on ~p_common of the trials is c's common one; subjects whose
    transitions are reversed get their states flipped), or map ``common`` alone (state derived
    as the rat loader does). ``port`` keeps the state as the file codes it.

    Nothing is dropped: a missing choice (state, option) is a no-response trial, kept with
    ``error`` set (two-step: ``violation``), choice/state −1, and counted in ``_excluded``;
    its reward may be missing (read as 0). Any other bad or missing value is a
    :class:`LabDataError` naming the file, the column and the first bad row (1-based data row
    or element of the .mat vectors); rows are kept in file order (sessions made contiguous)."""
    src, m = _parse_mapping(mapping)
    path = os.fspath(path)
    layout, cols, codes, opts = m["layout"], m["columns"], m.get("codes", {}), m.get("options", {})
    if path.lower().endswith(".mat"):
        df = read_matlab(path, m.get("variable"))
    else:
        df = _read_frame(path)
    for key, col in cols.items():
        if col not in df.columns:
            raise LabDataError(f"{path}: {src} [columns] {key} = {col!r}, but the file has no column "
                               f"{col!r}; it has {list(map(str, df.columns))}")
    n = len(df)
    if n == 0:
        raise LabDataError(f"{path}: no data rows")
    vals = {k: _mapped_values(path, df, k, cols[k], codes.get(k), src)
            for k in cols if k in _RESPONSES + _FLAGS and k != "reward"}
    # the trial's identity: subject, session, trial
    if "subject" in cols:
        subject = _labels(path, df, cols["subject"])
    else:
        subject = np.full(n, os.path.basename(path).split(".")[0], dtype=object)
    if "session" in cols:
        sess_lab = _labels(path, df, cols["session"])
    else:
        sess_lab = np.full(n, "0", dtype=object)
    episode = _episodes(subject, sess_lab)
    order = np.argsort(episode, kind="stable")  # sessions contiguous, file order within each
    first = int(opts.get("first_trial", 1))
    if "trial" in cols:
        tcol = cols["trial"]
        tr = _numeric(path, df, tcol, lo=first, expected=f"an integer ≥ {first} (options.first_trial)")
        _first_bad(path, tcol, tr != np.round(tr), df[tcol].to_numpy(), f"an integer ≥ {first}")
        ts, es = tr[order], episode[order]
        back = np.zeros(n, bool)
        back[order[1:]] = (es[1:] == es[:-1]) & (ts[1:] <= ts[:-1])
        _first_bad(path, tcol, back, df[tcol].to_numpy(),
                   "a trial number above the session's previous row (rows in trial order)")
        trial = (tr - first).astype(np.int32)
    else:
        trial = np.zeros(n, np.int32)
        es = episode[order]
        starts = np.r_[0, np.flatnonzero(es[1:] != es[:-1]) + 1]
        trial[order] = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    if layout == "twostep":
        table = _mapped_twostep(path, df, cols, codes, opts, vals, subject, src)
        session = sess_lab
        if all(s.lstrip("-").isdigit() for s in sess_lab):
            session = sess_lab.astype(np.int64)
    else:
        choice = vals["choice"]
        noresp = np.isnan(choice)
        err = noresp.copy()
        if "error" in cols:
            err |= _flag(path, df, cols["error"], vals["error"])
        table = {"choice": np.where(noresp, -1, choice).astype(np.int16),
                 "reward": _reward(path, df, cols["reward"], codes.get("reward"), err, src)}
        for k in ("p_left", "p_right"):
            if k in cols:
                table[k] = _numeric(path, df, cols[k], 0, 1, "a probability in [0, 1]").astype(np.float32)
        table["error"] = err
        excluded = {"no_response": int(noresp.sum())}
        if "error" in cols:
            excluded["error"] = int(err.sum())
        table["_excluded"] = {**excluded, "total_trials": n}
        session = sess_lab
    out = {"episode": episode, "subject": subject, "session": session, "trial": trial,
           **table}
    if not np.array_equal(order, np.arange(n)):
        out = {k: (v if k == "_excluded" else np.asarray(v)[order]) for k, v in out.items()}
        out["episode"] = _episodes(out["episode"])
    return out


def _flag(path, df, col, vals) -> np.ndarray:
    _first_bad(path, col, np.isnan(vals), df[col].to_numpy(), "0 or 1")
    return vals > 0


def _reward(path, df, col, codes, err, src) -> np.ndarray:
    """Reward 0/1 (float32); missing only where the trial is already an error (read as 0)."""
    r = _mapped_values(path, df, "reward", col, codes, src)
    _first_bad(path, col, np.isnan(r) & ~err, df[col].to_numpy(),
               "0 or 1 (missing only on no-response trials)")
    return np.nan_to_num(r, nan=0.0).astype(np.float32)


def _mapped_twostep(path, df, cols, codes, opts, vals, subject, src) -> dict:
    n = len(df)
    c = vals["choice"]
    s = vals.get("state")
    cm = vals.get("common")
    noresp = np.isnan(c)
    for k in ("state", "common", "option"):
        if k in vals:
            noresp |= np.isnan(vals[k])
    viol = noresp.copy()
    if "violation" in cols:
        viol |= _flag(path, df, cols["violation"], vals["violation"])
    forced = _flag(path, df, cols["forced"], vals["forced"]) if "forced" in cols else np.zeros(n, bool)
    ok = ~noresp
    ci = np.where(ok, c, 0).astype(np.int64)
    flipped = None  # subjects whose states were flipped into the task frame
    if s is None:  # common alone: the state in the task frame, as the rat loader derives it
        state = np.where(cm > 0, ci, 1 - ci)
        port = state
    else:
        port = np.where(np.isnan(s), -1, s).astype(np.int64)
        state = port.copy()
        if cm is not None:
            incons = ok & ((state == ci) != (cm > 0))
            _first_bad(path, cols["state"], incons, df[cols["state"]].to_numpy(),
                       f"the state in the task frame, where {cols['common']!r} (common) means "
                       "state == choice (map only one of state and common when they disagree)")
        elif opts.get("p_common") is not None:
            p = float(opts["p_common"])
            flipped = np.zeros(n, bool)
            for u in np.unique(subject):
                mk = (subject == u) & ok
                if not mk.any():
                    continue
                frac = float(np.mean(state[mk] == ci[mk]))
                if abs(frac - 0.5) < (p - 0.5) / 2:
                    raise LabDataError(
                        f"{path}: subject {u!r}: the state == choice on {frac:.2f} of {int(mk.sum())} "
                        f"trials, so with {src} [options] p_common = {p} its common transitions cannot "
                        "be told apart; map a 'common' column, or drop p_common if the states are "
                        "already in the task frame")
                if abs(frac - (1 - p)) < abs(frac - p):  # reversed: flip into the task frame
                    state[subject == u] = 1 - state[subject == u]
                    flipped |= subject == u
    common = ok & (state == ci) if cm is None else ok & (cm > 0)
    table = {"choice": np.where(np.isnan(c), -1, c).astype(np.int16),
             "state": np.where(ok, state, -1).astype(np.int8),
             "port": np.where(np.isnan(s) if s is not None else ~ok, -1, port).astype(np.int8),
             "common": common,
             "option": (np.where(np.isnan(vals["option"]), -1, vals["option"]) if "option" in vals
                        else np.zeros(n)).astype(np.int8),
             "reward": _reward(path, df, cols["reward"], codes.get("reward"), viol, src),
             "forced": forced, "violation": viol, "error": viol}
    for k in _PROBS:
        if k in cols:
            table[k] = _numeric(path, df, cols[k], 0, 1, "a probability in [0, 1]").astype(np.float32)
    if flipped is not None and flipped.any():  # the states' probabilities follow them into the task frame
        for a, b in (("p1a", "p2a"), ("p1b", "p2b")):
            if a in table and b in table:
                table[a], table[b] = (np.where(flipped, table[b], table[a]),
                                      np.where(flipped, table[a], table[b]))
    table["_excluded"] = {"forced": int(forced.sum()), "violation": int(viol.sum()),
                          "no_response": int(noresp.sum()), "total_trials": n}
    return table


# ------------------------------------------------------------------- MATLAB v7.3 (HDF5) files
_MAT_NUMERIC = ("double", "single", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "logical")


def _mat_class(obj) -> str:
    c = obj.attrs.get("MATLAB_class", b"")
    return c.decode() if isinstance(c, (bytes, np.bytes_)) else str(c)


def _mat_chars(ds) -> list[str]:
    """A MATLAB char array (uint16, stored transposed) → one string per MATLAB row."""
    if ds.attrs.get("MATLAB_empty", 0):
        return [""]
    a = np.asarray(ds[()], dtype=np.uint16)
    a = a.reshape(-1, 1) if a.ndim == 1 else a  # HDF5 [cols, rows] = MATLAB [rows, cols]ᵀ
    return [a[:, i].tobytes().decode("utf-16-le", errors="replace").rstrip(" \x00")
            for i in range(a.shape[1])]


def _mat_element(f, ref, path, field, i):
    """One cell (or struct-array) element: a string or a number."""
    ds = f[ref]
    cls = _mat_class(ds)
    if cls == "char":
        chars = _mat_chars(ds)
        return "\n".join(chars) if len(chars) > 1 else chars[0]
    if cls in _MAT_NUMERIC and not ds.attrs.get("MATLAB_empty", 0):
        a = np.asarray(ds[()])
        if a.size == 1:
            return a.reshape(-1)[0].item()
    if ds.attrs.get("MATLAB_empty", 0):
        return np.nan
    raise LabDataError(f"{path}: field {field!r}, element {i + 1}: a cell must hold strings or "
                       f"single numbers, got MATLAB class {cls!r} of size {getattr(ds, 'shape', '?')}")


def _mat_column(f, ds, path, field) -> np.ndarray:
    import h5py

    cls = _mat_class(ds)
    if isinstance(ds, h5py.Group):
        raise LabDataError(f"{path}: field {field!r} is a nested struct; expected a column vector")
    if ds.attrs.get("MATLAB_empty", 0):
        return np.array([], dtype=object if cls in ("char", "cell") else float)
    shape = ds.shape
    if cls == "char":
        return np.array(_mat_chars(ds), dtype=object)
    if len(shape) > 2 or (len(shape) == 2 and min(shape) > 1):
        raise LabDataError(f"{path}: field {field!r} is a {'×'.join(map(str, shape[::-1]))} MATLAB "
                           "array; expected a column (or row) vector, one value per trial")
    if ds.dtype == h5py.ref_dtype or cls == "cell":
        refs = np.asarray(ds[()]).reshape(-1)
        return np.array([_mat_element(f, r, path, field, i) for i, r in enumerate(refs)], dtype=object)
    if cls not in _MAT_NUMERIC or ds.dtype.kind not in "biuf":
        hint = {"string": " (convert string arrays with cellstr(...))",
                "table": " (convert a table with table2struct(T, 'ToScalar', true))"}.get(cls, "")
        raise LabDataError(f"{path}: field {field!r} has MATLAB class {cls!r}, which cannot be read; "
                           f"store numbers, logicals, char columns or cellstr{hint}")
    a = np.asarray(ds[()]).reshape(-1)
    return a.astype(bool) if cls == "logical" else a


def read_matlab(path, variable: str | None = None):
    """A MATLAB v7.3 ``.mat`` file (HDF5; h5py) → a pandas DataFrame, one column per field of a
    struct of column vectors (``data.choice``, ``data.reward``… each n×1 or 1×n: numeric,
    logical, an n-row char matrix or an n-element cellstr). ``variable`` names the struct
    (default: the file's only struct); a file of separate vector variables (no struct) reads as
    one column per variable. Errors name the file: not HDF5 / a pre-v7.3 MAT-file, the variable
    not there (the available ones listed), a field of another length than the first."""
    try:
        import h5py
    except ImportError:
        raise LabDataError("reading MATLAB v7.3 files needs h5py: pip install h5py") from None
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise LabDataError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        with open(path, "rb") as fh:
            head = fh.read(128)
        what = ("a MATLAB MAT-file older than v7.3" if head.startswith(b"MATLAB") else
                "not a MATLAB v7.3 (HDF5) file")
        raise LabDataError(f"{path}: {what}; save it with save(..., '-v7.3') or export a CSV")
    try:
        with h5py.File(path, "r") as f:
            names = [k for k in f.keys() if not k.startswith("#")]
            groups = [k for k in names if isinstance(f[k], h5py.Group)]
            if variable is not None:
                if variable not in names:
                    raise LabDataError(f"{path}: no variable {variable!r}; the file has {names}")
                node = f[variable]
                if not isinstance(node, h5py.Group):
                    cls = _mat_class(node)
                    hint = (" (convert it with table2struct(T, 'ToScalar', true))" if cls == "table"
                            else "")
                    raise LabDataError(f"{path}: variable {variable!r} is a MATLAB {cls!r} array, not "
                                       f"a struct of column vectors{hint}")
                fields, where = list(node.keys()), node
            elif len(groups) == 1:
                variable, where = groups[0], f[groups[0]]
                fields = list(where.keys())
            elif not groups and names:
                fields, where = names, f
            else:
                raise LabDataError(f"{path}: {'several structs' if groups else 'no variables'} "
                                   f"{groups}; name one as the mapping's variable")
            order = where.attrs.get("MATLAB_fields")
            if order is not None:  # MATLAB's field order (vlen char arrays)
                named = [b"".join(np.asarray(x).astype("S1")).decode() for x in order]
                fields = [k for k in named if k in fields] + [k for k in fields if k not in named]
            cols = {k: _mat_column(f, where[k], path, k) for k in fields}
    except LabDataError:
        raise
    except Exception as e:  # noqa: BLE001 - any HDF5 failure: say which file
        raise LabDataError(f"{path}: not a readable MATLAB v7.3 file ({type(e).__name__}: {e})") from None
    if not cols:
        raise LabDataError(f"{path}: variable {variable!r} has no fields")
    first = next(iter(cols))
    n = len(cols[first])
    for k, v in cols.items():
        if len(v) != n:
            hint = (" (a char row vector is one string: store per-trial labels as a cellstr or an "
                    "n×1 char column)" if len(v) == 1 else "")
            raise LabDataError(f"{path}: field {k!r} has {len(v)} values but {first!r} has {n}; "
                               f"the fields must be vectors of one length{hint}")
    return pd.DataFrame(cols)
