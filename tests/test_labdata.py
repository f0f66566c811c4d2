"""Lab data: bundled MIT sets load into trials tables, reproduce the published patterns, and
malformed files get errors naming the file, the column and the first bad row."""
import os

import numpy as np
import pytest

from pfcda.protocols import labdata
from pfcda.protocols.matching import choice_history_kernel
from pfcda.protocols.twostep import miller_glm, stay_probabilities


def _table(t):
    return {k: v for k, v in t.items() if not k.startswith("_")}


def test_rat_two_step_stay_pattern_matches_the_data_readme():
    t = labdata.load("rats")
    assert t["_excluded"] == {"forced": 4582, "violation": 62, "total_trials": 36413}
    assert len(t["choice"]) == 36413 and len(np.unique(t["episode"])) == 52  # nothing dropped
    st = {k: v["value"] for k, v in stay_probabilities(_table(t)).items()}
    # the data's README (free trials, violations excluded): 0.904, 0.465, 0.528, 0.848
    assert st["CR"] == pytest.approx(0.904, abs=0.005)
    assert st["UR"] == pytest.approx(0.465, abs=0.005)
    assert st["CU"] == pytest.approx(0.528, abs=0.005)
    assert st["UU"] == pytest.approx(0.848, abs=0.005)
    g = miller_glm(_table(t))
    assert g["coef"]["CR_lag1"][0] > 0 and g["coef"]["UU_lag1"][0] > 0
    assert g["coef"]["UR_lag1"][0] < 0 and g["mb_index"] > g["mf_index"] > 0


def test_mouse_foraging_reward_kernel_decays_from_lag_1():
    t = labdata.load("mice")
    assert t["_excluded"] == {"no_response": 106, "total_trials": 1212}
    one = {k: v[t["session"] == "703548_2024-03-01_08-51-32"] for k, v in _table(t).items()}
    k = [b for b, _ in choice_history_kernel(one)["rewarded"]]
    assert np.allclose(k[:4], [1.93, 1.44, 0.85, 0.47], atol=0.01)
    assert k[0] > k[1] > k[2] > k[3]


def test_nwb_trials_table_reads_like_the_csv(shared_dir):
    pytest.importorskip("pynwb")
    os.environ.setdefault("PYNWB_NO_CACHE_DIR", "1")
    path = os.path.join(shared_dir, "labdata", "mouse_foraging_aind", "703548_2024-03-01_08-51-32.nwb")
    nwb = labdata.load_nwb_trials(path)
    csv = labdata.load("mice")
    sel = csv["session"] == "703548_2024-03-01_08-51-32"
    assert np.array_equal(nwb["choice"], csv["choice"][sel])
    assert np.array_equal(nwb["reward"], csv["reward"][sel])
    assert nwb["_excluded"]["no_response"] == int((csv["choice"][sel] < 0).sum())


def _rat_rows(tmp_path, edit):
    import gzip

    with gzip.open(labdata.bundled_path("rats"), "rt") as f:
        lines = [next(f) for _ in range(6)]
    header, rows = lines[0].strip().split(","), [r.strip().split(",") for r in lines[1:]]
    edit(header, rows)
    p = tmp_path / "rats.csv"
    p.write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")
    return str(p)


def test_malformed_lab_files_name_file_column_and_row(tmp_path):
    def drop_reward(h, rows):
        i = h.index("reward")
        h.pop(i)
        for r in rows:
            r.pop(i)

    def bad_choice(h, rows):
        rows[2][h.index("choice1")] = "x"

    def bad_prob(h, rows):
        rows[3][h.index("p_reward_left")] = "1.7"

    def bad_type(h, rows):
        rows[1][h.index("reward")] = "yes"

    cases = [(drop_reward, r"rats.csv: missing column\(s\) \['reward'\]"),
             (bad_choice, r"rats.csv: column 'choice1', row 3: expected 'l' or 'r', got 'x'"),
             (bad_prob, r"column 'p_reward_left', row 4: expected a probability in \[0, 1\], got 1.7"),
             (bad_type, r"column 'reward', row 2: expected 0 or 1, got 'yes'")]
    for edit, message in cases:
        with pytest.raises(labdata.LabDataError, match=message):
            labdata.load_rat_twostep(_rat_rows(tmp_path, edit))
    with pytest.raises(labdata.LabDataError, match="no such file"):
        labdata.load("missing.csv")
    with pytest.raises(labdata.LabDataError, match="unknown bundled set"):
        labdata.bundled_path("monkeys")
    odd = tmp_path / "mice.csv"
    odd.write_text("subject,session,trial,animal_response,rewarded_historyL,rewarded_historyR,"
                   "reward_probabilityL,reward_probabilityR\n1,s,0,0,False,False,0.1,0.5\n"
                   "1,s,1,3,False,False,0.1,0.5\n")
    with pytest.raises(labdata.LabDataError, match=r"column 'animal_response', row 2"):
        labdata.load_mouse_foraging(str(odd))


def test_compare_cli_side_by_side(tmp_path):
    import json
    import subprocess
    import sys

    from pfcda.circuit.run import run

    run("twostep_miller", episodes=20, seed=0, out=str(tmp_path / "ts.h5"))
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    out = subprocess.run([sys.executable, "-m", "pfcda", "compare", "twostep", "--model",
                          str(tmp_path / "ts.h5"), "--lab", "rats", "--bootstrap", "5", "--json",
                          "--figures", str(tmp_path / "figs")], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["lab"]["stay_common_rewarded"]["value"] == pytest.approx(0.904, abs=0.005)
    lo, hi = res["lab"]["stay_common_rewarded"]["ci"]
    assert lo <= 0.904 <= hi
    assert res["model"]["stay_uncommon_unrewarded"]["value"] > 0.9
    assert (tmp_path / "figs" / "compare_twostep.png").stat().st_size > 1000


def test_hbayesdm_two_step_export_keeps_the_transition_convention(tmp_path):
    import pandas as pd

    from pfcda.circuit.io.export import export_hbayesdm
    from pfcda.circuit.run import run

    rec = run("twostep_miller", episodes=5, seed=1, out=str(tmp_path / "ts.h5"))
    res = export_hbayesdm(str(tmp_path / "ts.h5"), str(tmp_path / "ts.txt"))
    df = pd.read_csv(tmp_path / "ts.txt", sep="\t")
    assert res == {"task": "ts", "rows": 500, "left_out": 0}
    assert list(df.columns) == ["subjID", "trial", "level1_choice", "level2_choice", "reward",
                                "A1prob", "A2prob", "B1prob", "B2prob"]
    # hBayesDM: options 1-2 are in the state reached commonly from level-1 choice 1
    common = df["level1_choice"] == np.where(df["level2_choice"] <= 2, 1, 2)
    assert np.array_equal(common.to_numpy(), rec.trials["common"])
    run("harlow", episodes=2, seed=1, out=str(tmp_path / "h.h5"))
    with pytest.raises(ValueError, match="protocol 'harlow' has no hBayesDM layout"):
        export_hbayesdm(str(tmp_path / "h.h5"), str(tmp_path / "x.txt"))


@pytest.mark.parametrize("name", ["twostep_miller", "twostep_daw"])
def test_teacher_forced_scoring_reproduces_the_circuits_own_policy(name):
    from pfcda.circuit.io.checkpoint import load_checkpoint
    from pfcda.circuit.lab.scoring import log_odds
    from pfcda.circuit.run import run

    circ, _ = load_checkpoint(name)
    rec = run(circ, episodes=4, seed=3)
    z, _, scored = log_odds(circ, rec.trials)
    pol = rec.steps["policy"][rec.steps["phase"] == 1]
    assert np.allclose(z.reshape(-1), np.log(pol[:, 2]) - np.log(pol[:, 1]), atol=1e-4)
    assert scored.all()


def test_incongruent_rats_are_mapped_into_the_task_frame():
    t = labdata.load("rats")
    assert np.array_equal(t["common"], t["state"] == t["choice"])
    incongruent = (t["port"] >= 0) & (t["common"]) & (t["port"] != t["choice"])
    assert set(np.unique(t["subject"][incongruent])) == {"M064", "M071", "M088"}


def test_ragged_hybrid_fit_recovers_parameters_with_forced_and_violation_trials():
    import torch

    from pfcda.protocols.twostep import TwoStepTask
    from pfcda.protocols.twostep import agents as A

    true = [0.5, 0.5, 0.6, 4.0, 4.0, 0.3, 0.7]
    probs = TwoStepTask("miller").sample_params(40, torch.Generator().manual_seed(4))["probs"].numpy()
    sim = A.simulate_hybrid(true, probs, 0.8, seed=4)
    rng = np.random.default_rng(4)
    keep = sim["trial"] < np.repeat(rng.integers(60, 101, 40), 100)  # sessions of 60–100 trials
    data = {k: np.asarray(v)[keep] for k, v in sim.items()}
    data["forced"] = rng.random(keep.sum()) < 0.1
    data["error"] = rng.random(keep.sum()) < 0.01
    fit = A.fit_hybrid_ragged(data, 0.8, starts=2)
    assert abs(fit["params"]["w"] - 0.7) < 0.15, fit["params"]
    assert abs(fit["params"]["beta1"] - 4.0) < 1.2
    assert fit["n_choices"] == int((~data["forced"] & ~data["error"]).sum())
