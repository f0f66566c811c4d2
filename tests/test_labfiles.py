"""Lab files in other layouts: a column mapping (dict or TOML) reads CSV/TSV and MATLAB v7.3
files into the bundled loaders' trials tables, so the analyses run on them; bad files and bad
mappings get errors naming the file, the column and the first bad row."""
import gzip

import numpy as np
import pandas as pd
import pytest

from pfcda.protocols import labdata
from pfcda.protocols.twostep import stay_probabilities

NAN = float("nan")

# hBayesDM-style two-step rows: subjID, trial, level1_choice 1/2, level2_choice 1–4 (1–2 in the
# state reached commonly from level-1 choice 1), reward. A7 is a missed trial.
HUMAN = [("A", 1, 1, 1, 1), ("A", 2, 1, 2, 0), ("A", 3, 2, 3, 1), ("A", 4, 2, 1, 1),
         ("A", 5, 1, 2, 0), ("A", 6, 2, 4, 0), ("A", 7, NAN, NAN, NAN), ("A", 8, 2, 3, 1),
         ("A", 9, 2, 2, 0), ("A", 10, 2, 4, 1),
         ("B", 1, 1, 1, 1), ("B", 2, 1, 3, 1), ("B", 3, 2, 4, 0), ("B", 4, 2, 3, 1)]
HUMAN_TOML = """\
layout = "twostep"
[columns]
subject = "subjID"
trial = "trial"
choice = "level1_choice"
state = "level2_choice"
option = "level2_choice"
reward = "reward"
[codes]
choice = { 1 = 0, 2 = 1 }
state = { 1 = 0, 2 = 0, 3 = 1, 4 = 1 }
option = { 1 = 0, 2 = 1, 3 = 0, 4 = 1 }
[options]
p_common = 0.7
"""


def _human_file(tmp_path, name="human.tsv"):
    df = pd.DataFrame(HUMAN, columns=["subjID", "trial", "level1_choice", "level2_choice", "reward"])
    p = tmp_path / name
    df.to_csv(p, sep="\t", index=False)
    return str(p)


def test_mapped_human_two_step_tsv_runs_the_stay_analysis(tmp_path):
    toml = tmp_path / "ts.toml"
    toml.write_text(HUMAN_TOML)
    t = labdata.load(_human_file(tmp_path), "twostep", mapping=str(toml))
    assert t["_excluded"] == {"forced": 0, "violation": 1, "no_response": 1, "total_trials": 14}
    assert list(t["subject"]) == ["A"] * 10 + ["B"] * 4
    assert list(t["episode"]) == [0] * 10 + [1] * 4 and list(t["session"]) == [0] * 14
    assert list(t["trial"]) == list(range(10)) + list(range(4))
    assert list(t["choice"]) == [0, 0, 1, 1, 0, 1, -1, 1, 1, 1, 0, 0, 1, 1]
    assert list(t["state"]) == [0, 0, 1, 0, 0, 1, -1, 1, 0, 1, 0, 1, 1, 1]
    assert list(t["option"]) == [0, 1, 0, 0, 1, 1, -1, 0, 1, 1, 0, 0, 1, 0]
    assert list(np.flatnonzero(~t["common"])) == [3, 6, 8, 11]
    assert list(np.flatnonzero(t["error"])) == [6] and t["reward"][6] == 0
    assert t["reward"].dtype == np.float32 and t["choice"].dtype == np.int16
    # by hand: pairs within a subject, both trials valid (A6→A7, A7→A8 and A10→B1 are not):
    # CR → stay 4 of 4, CU → 1 of 3, UR → 0 of 2, UU → 1 of 1
    st = stay_probabilities({k: v for k, v in t.items() if not k.startswith("_")})
    assert {k: (v["value"], v["n"]) for k, v in st.items()} == {
        "CR": (1.0, 4), "CU": (pytest.approx(1 / 3), 3), "UR": (0.0, 2), "UU": (1.0, 1)}


def test_mapped_rat_file_with_p_common_matches_the_rat_loader(tmp_path):
    """Mapping the rat file's own columns, the frame of the incongruent rats is found from
    p_common alone; the table equals load_rat_twostep's except on violations (state −1)."""
    with gzip.open(labdata.bundled_path("rats"), "rt") as f:
        df = pd.read_csv(f)
    sub = df.groupby("rat", sort=False).head(150)
    p = tmp_path / "rats.csv"
    sub.to_csv(p, index=False)
    m = {"layout": "twostep",
         "columns": {"subject": "rat", "session": "session", "trial": "trial_in_session",
                     "choice": "choice1", "state": "outcome_port", "reward": "reward",
                     "forced": "forced", "violation": "violation", "p_left": "p_reward_left",
                     "p_right": "p_reward_right"},
         "codes": {"choice": {"l": 0, "r": 1}, "state": {"l": 0, "r": 1, "v": -1}},
         "options": {"p_common": 0.8}}
    a, b = labdata.load_mapped(p, m), labdata.load_rat_twostep(str(p))
    assert set(a) == set(b)
    ok = ~b["violation"]
    for k in b:
        if k != "_excluded":
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k][ok], b[k][ok]), k
    assert np.array_equal(a["violation"], b["violation"])
    assert {k: a["_excluded"][k] for k in b["_excluded"]} == b["_excluded"]
    assert set(np.unique(a["subject"][a["common"] & (a["port"] != a["choice"])])) == {
        "M064", "M071", "M088"}
    half = tmp_path / "half.csv"  # a subject with as many common as uncommon transitions
    sub[sub["rat"] == "M055"].head(4).assign(outcome_port=["l", "r", "r", "l"],
                                             choice1=["l", "l", "r", "r"]).to_csv(half, index=False)
    with pytest.raises(labdata.LabDataError, match=r"half.csv: subject 'M055'.*cannot be told apart"):
        labdata.load_mapped(half, m)


# a bandit session table: mouse, session, trial (1-based), response L/R/none, reward, p's
BANDIT = [(689514, "s1", 1, "L", 0, 0.1, 0.5), (689514, "s1", 2, "R", 1, 0.1, 0.5),
          (689514, "s1", 3, "", NAN, 0.1, 0.5), (689514, "s1", 4, "R", 1, 0.1, 0.5),
          (689514, "s2", 1, "L", 1, 0.9, 0.1), (689514, "s2", 2, "L", 0, 0.9, 0.1),
          (703548, "s3", 1, "R", 0, 0.4, 0.4), (703548, "s3", 2, "", NAN, 0.4, 0.4),
          (703548, "s3", 3, "R", 1, 0.4, 0.4)]
BANDIT_MAP = {"layout": "choice",
              "columns": {"subject": "mouse", "session": "sess", "trial": "t", "choice": "resp",
                          "reward": "rew", "p_left": "pL", "p_right": "pR"},
              "codes": {"choice": {"L": 0, "R": 1}}}


def _bandit_file(tmp_path, rows=BANDIT, name="bandit.csv"):
    p = tmp_path / name
    pd.DataFrame(rows, columns=["mouse", "sess", "t", "resp", "rew", "pL", "pR"]).to_csv(p, index=False)
    return str(p)


def test_mapped_bandit_equals_the_foraging_layout(tmp_path):
    a = labdata.load_mapped(_bandit_file(tmp_path), BANDIT_MAP)
    resp = {"L": 0, "R": 1, "": 2}
    fora = pd.DataFrame({
        "subject": [r[0] for r in BANDIT], "session": [r[1] for r in BANDIT],
        "trial": [r[2] - 1 for r in BANDIT], "animal_response": [resp[r[3]] for r in BANDIT],
        "rewarded_historyL": [r[3] == "L" and r[4] == 1 for r in BANDIT],
        "rewarded_historyR": [r[3] == "R" and r[4] == 1 for r in BANDIT],
        "reward_probabilityL": [r[5] for r in BANDIT], "reward_probabilityR": [r[6] for r in BANDIT]})
    fora.to_csv(tmp_path / "fora.csv", index=False)
    b = labdata.load_mouse_foraging(str(tmp_path / "fora.csv"))
    assert list(a) == list(b)
    for k in b:
        if k != "_excluded":
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    assert a["_excluded"] == b["_excluded"] == {"no_response": 2, "total_trials": 9}


def test_excluded_trials_are_counted_and_kept(tmp_path):
    rows = [("m", 1, "left", 1, 0), ("m", 2, "right", 0, 1), ("m", 3, "none", NAN, 0),
            ("m", 4, "left", 0, 1), ("n", 1, "right", 1, 0)]
    p = tmp_path / "rev.tsv"
    pd.DataFrame(rows, columns=["id", "trial", "side", "outcome", "bad"]).to_csv(p, sep="\t", index=False)
    m = {"layout": "choice", "columns": {"subject": "id", "choice": "side", "reward": "outcome",
                                         "error": "bad"},
         "codes": {"choice": {"left": 0, "right": 1, "none": -1}}}
    t = labdata.load_mapped(p, m)
    assert len(t["choice"]) == 5  # nothing dropped
    assert list(t["choice"]) == [0, 1, -1, 0, 1] and list(t["error"]) == [False, True, True, True, False]
    assert t["_excluded"] == {"no_response": 1, "error": 3, "total_trials": 5}
    assert list(t["trial"]) == [0, 1, 2, 3, 0] and list(t["session"]) == ["0"] * 5  # defaults
    # interleaved sessions are made contiguous, in file order within each
    rows = [("a", 1, "left", 1, 0), ("b", 1, "right", 0, 0), ("a", 2, "right", 1, 0)]
    pd.DataFrame(rows, columns=["id", "trial", "side", "outcome", "bad"]).to_csv(p, sep="\t", index=False)
    t = labdata.load_mapped(p, m)
    assert list(t["subject"]) == ["a", "a", "b"] and list(t["choice"]) == [0, 1, 1]
    assert list(t["episode"]) == [0, 0, 1] and list(t["trial"]) == [0, 1, 0]


def test_bad_files_and_mappings_name_file_column_and_row(tmp_path):
    E = labdata.LabDataError
    good = _bandit_file(tmp_path)

    def edit(i, col, value):
        rows = [list(r) for r in BANDIT]
        rows[i][["mouse", "sess", "t", "resp", "rew", "pL", "pR"].index(col)] = value
        (tmp_path / f"{col}{i}").mkdir()
        return _bandit_file(tmp_path / f"{col}{i}", rows, "edited.csv")

    def remap(**cols):
        return {**BANDIT_MAP, "columns": {**BANDIT_MAP["columns"], **cols}}

    cases = [
        (good, remap(choice="response"),
         r"bandit.csv: mapping \[columns\] choice = 'response', but the file has no column 'response'"),
        (edit(2, "resp", "X"), BANDIT_MAP,
         r"edited.csv: column 'resp', row 3: expected one of \['L', 'R'\] \(mapping \[codes\] choice\), got 'X'"),
        (edit(3, "pL", 1.7), BANDIT_MAP, r"edited.csv: column 'pL', row 4: expected a probability in \[0, 1\], got 1.7"),
        (edit(1, "rew", 2), BANDIT_MAP, r"edited.csv: column 'rew', row 2: expected 0 or 1, got 2"),
        (edit(4, "rew", NAN), BANDIT_MAP,
         r"edited.csv: column 'rew', row 5: expected 0 or 1 \(missing only on no-response trials\)"),
        (edit(3, "t", 2), BANDIT_MAP, r"edited.csv: column 't', row 4: expected a trial number above"),
        (edit(0, "t", 0), BANDIT_MAP, r"edited.csv: column 't', row 1: expected an integer ≥ 1"),
        (edit(5, "sess", ""), BANDIT_MAP, r"edited.csv: column 'sess', row 6: expected a label"),
        (good, {**BANDIT_MAP, "layout": "bandit"}, r"mapping: layout = 'bandit'; expected one of \['choice', 'twostep'\]"),
        (good, remap(rt="rt"), r"mapping: \[columns\] unknown table column\(s\) \['rt'\]; layout 'choice' takes \["),
        (good, {**BANDIT_MAP, "codes": {"state": {"1": 0}}}, r"\[codes\] unknown table column 'state'"),
        (good, {**BANDIT_MAP, "codes": {"choice": {"L": 2}}}, r"\[codes\] choice: 'L' = 2: expected one of"),
        (good, {**BANDIT_MAP, "options": {"p_common": 0.7}}, r"\[options\] unknown option\(s\) \['p_common'\]"),
        (good, {**BANDIT_MAP, "column": {}}, r"mapping: unknown key\(s\) \['column'\]"),
        (good, {"layout": "choice", "columns": {"choice": "resp"}}, r"must map \['reward'\]"),
    ]
    for path, mapping, message in cases:
        with pytest.raises(E, match=message):
            labdata.load_mapped(path, mapping)
    bad = tmp_path / "bad.toml"
    bad.write_text('layout = "choice"\n[columns\nchoice = "resp"\n')
    with pytest.raises(E, match=r"bad.toml: not a valid TOML mapping"):
        labdata.load(good, mapping=str(bad))
    with pytest.raises(E, match=r"layout 'choice' does not fit protocol 'twostep'"):
        labdata.load(good, "twostep", mapping=BANDIT_MAP)
    toml = tmp_path / "ts.toml"
    toml.write_text(HUMAN_TOML.replace('state = "level2_choice"', 'state = "stage2"'))
    with pytest.raises(E, match=r"human.tsv: .*ts.toml \[columns\] state = 'stage2', but the file has no column"):
        labdata.load_mapped(_human_file(tmp_path), toml)


# ------------------------------------------------------------------------ MATLAB v7.3 files
def _write_mat(path, fields, extra=True, userblock=True):
    """A MATLAB-like v7.3 file: struct ``data`` of (1, n) datasets; char columns as uint16
    (HDF5 stores MATLAB's n×1 char matrix as (1, n)); cellstr as references into #refs#."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w", userblock_size=512 if userblock else 0) as f:
        refs = f.create_group("#refs#")
        g = f.create_group("data")
        g.attrs["MATLAB_class"] = np.bytes_("struct")
        g.attrs.create("MATLAB_fields", dtype=h5py.vlen_dtype(np.dtype("S1")),
                       data=np.array([np.array(list(k), "S1") for k in fields] + [None], object)[:-1])
        for name, (kind, values) in fields.items():
            if kind == "double":
                ds = g.create_dataset(name, data=np.asarray(values, float).reshape(1, -1))
            elif kind == "char":
                ds = g.create_dataset(name, data=np.array([[ord(c) for c in values]], np.uint16))
                ds.attrs["MATLAB_int_decode"] = np.int32(2)
            else:
                rs = []
                for i, s in enumerate(values):
                    if s:
                        e = refs.create_dataset(f"{name}{i}", data=np.array([[ord(c)] for c in s], np.uint16))
                    else:
                        e = refs.create_dataset(f"{name}{i}", data=np.zeros(2, np.uint64))
                        e.attrs["MATLAB_empty"] = np.uint8(1)
                    e.attrs["MATLAB_class"] = np.bytes_("char")
                    rs.append(e.ref)
                ds = g.create_dataset(name, data=np.array([rs], dtype=h5py.ref_dtype))
            ds.attrs["MATLAB_class"] = np.bytes_({"cellstr": "cell"}.get(kind, kind))
        if extra:
            m = f.create_group("meta")
            m.attrs["MATLAB_class"] = np.bytes_("struct")
            m.create_dataset("rig", data=np.ones((1, 1)))
    if userblock:
        with open(path, "r+b") as fh:
            fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 "
                     b"HDF5 schema 1.00 .".ljust(116) + b"\0" * 8 + b"\x00\x02IM")


def test_matlab_v73_struct_reads_like_the_csv(tmp_path):
    side = {1: "L", 2: "R"}
    fields = {"subjID": ("cellstr", [r[0] for r in HUMAN]),
              "trial": ("double", [r[1] for r in HUMAN]),
              "level1": ("char", [side.get(r[2], " ") for r in HUMAN]),  # a blank: no response
              "level2": ("double", [r[3] for r in HUMAN]),
              "reward": ("double", [r[4] for r in HUMAN])}
    mat = tmp_path / "human.mat"
    _write_mat(mat, fields)
    df = labdata.read_matlab(mat, "data")
    assert list(df.columns) == list(fields)  # MATLAB's field order
    assert list(df["subjID"]) == [r[0] for r in HUMAN] and df["level1"][6] == ""
    toml = HUMAN_TOML.replace('"level1_choice"', '"level1"').replace('"level2_choice"', '"level2"')
    toml = toml.replace("choice = { 1 = 0, 2 = 1 }", 'choice = { L = 0, R = 1 }')
    (tmp_path / "mat.toml").write_text('variable = "data"\n' + toml)
    a = labdata.load(str(mat), "twostep", mapping=str(tmp_path / "mat.toml"))
    (tmp_path / "csv.toml").write_text(HUMAN_TOML)
    b = labdata.load(_human_file(tmp_path), mapping=str(tmp_path / "csv.toml"))
    assert list(a) == list(b)
    for k in b:
        if k != "_excluded":
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    assert a["_excluded"] == b["_excluded"]
    # one struct only: found without naming it; a file of plain vectors reads too
    one = tmp_path / "one.mat"
    _write_mat(one, {"choice": ("double", [0, 1]), "reward": ("double", [1, 0])}, extra=False,
               userblock=False)
    assert labdata.read_matlab(one)["choice"].tolist() == [0.0, 1.0]


def test_matlab_errors_name_the_file(tmp_path):
    E = labdata.LabDataError
    mat = tmp_path / "two.mat"
    _write_mat(mat, {"choice": ("double", [0, 1, 1]), "reward": ("double", [1, 0])})
    with pytest.raises(E, match=r"two.mat: no variable 'nope'; the file has \['data', 'meta'\]"):
        labdata.read_matlab(mat, "nope")
    with pytest.raises(E, match=r"two.mat: several structs \['data', 'meta'\]; name one"):
        labdata.read_matlab(mat)
    with pytest.raises(E, match=r"two.mat: field 'reward' has 2 values but 'choice' has 3"):
        labdata.read_matlab(mat, "data")
    with pytest.raises(E, match=r"two.mat: no variable 'nope'"):
        labdata.load_mapped(mat, {"variable": "nope", **BANDIT_MAP})
    old = tmp_path / "old.mat"
    old.write_bytes(b"MATLAB 5.0 MAT-file, Platform: PCWIN64".ljust(128) + b"\x00" * 64)
    with pytest.raises(E, match=r"old.mat: a MATLAB MAT-file older than v7.3; save it with "
                                r"save\(\.\.\., '-v7.3'\) or export a CSV"):
        labdata.read_matlab(old)
    junk = tmp_path / "junk.mat"
    junk.write_text("choice,reward\n0,1\n")
    with pytest.raises(E, match=r"junk.mat: not a MATLAB v7.3 \(HDF5\) file"):
        labdata.load_mapped(junk, BANDIT_MAP)
    with pytest.raises(E, match=r"two.mat: a MATLAB file needs a column mapping"):
        labdata.load(str(mat))


def test_flipped_subjects_take_their_option_probabilities_along(tmp_path):
    """With p_common, a subject whose file states are reversed gets them flipped into the task
    frame — and the four option probabilities swap states with them."""
    import numpy as np

    from pfcda.protocols.labdata import load_mapped

    rng = np.random.default_rng(0)
    rows = ["subj,choice,state,reward,pa1,pa2,pb1,pb2"]
    for subj, reversed_ in (("A", False), ("B", True)):
        for _ in range(300):
            c = int(rng.integers(2))
            common = rng.random() < 0.8
            s = c if common else 1 - c
            s = 1 - s if reversed_ else s
            rows.append(f"{subj},{c},{s},1,0.1,0.2,0.7,0.8")
    path = tmp_path / "ts.csv"
    path.write_text("\n".join(rows) + "\n")
    mapping = {"layout": "twostep", "options": {"p_common": 0.8},
               "columns": {"subject": "subj", "choice": "choice", "state": "state", "reward": "reward",
                           "p1a": "pa1", "p1b": "pa2", "p2a": "pb1", "p2b": "pb2"}}
    t = load_mapped(str(path), mapping)
    a, b = t["subject"] == "A", t["subject"] == "B"
    assert np.mean(t["common"][a]) > 0.7 and np.mean(t["common"][b]) > 0.7
    assert np.all(t["p1a"][a] == np.float32(0.1)) and np.all(t["p2b"][a] == np.float32(0.8))
    assert np.all(t["p1a"][b] == np.float32(0.7)) and np.all(t["p1b"][b] == np.float32(0.8))
    assert np.all(t["p2a"][b] == np.float32(0.1)) and np.all(t["p2b"][b] == np.float32(0.2))
