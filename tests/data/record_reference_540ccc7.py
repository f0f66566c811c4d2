"""Recorder of tests/data/reference_540ccc7.json, run once on main at 540ccc7 (the old import names: circuit, protocols), kept for the record."""
import hashlib, json, os, sys, tempfile, time
import numpy as np
import torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])  # a checkout of 540ccc7
from circuit.agent import shipped_checkpoints, load_checkpoint
from circuit.run import run
from circuit.evaluate import evaluate_bandit

def h_arrays(d):
    h = hashlib.sha256()
    for k in sorted(d):
        a = np.ascontiguousarray(np.asarray(d[k]))
        if a.dtype == object:
            a = np.asarray([str(x) for x in a.reshape(-1)])
        h.update(k.encode()); h.update(str(a.dtype).encode()); h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()

def rec_hashes(rec):
    return {"steps": h_arrays(rec.steps), "trials": h_arrays(rec.trials),
            "units": h_arrays(rec.units), "weight_hash": rec.provenance["weight_hash"],
            "n_steps": int(rec.attrs["n_steps"]), "n_trials": int(rec.attrs["n_trials"])}

out = {"commit": "540ccc7", "run": {}, "evaluate": {}}
tmp = tempfile.mkdtemp()
for name in shipped_checkpoints():
    t = time.time()
    rec = run(name, episodes=100, seed=0, out=os.path.join(tmp, name + ".h5"))
    out["run"][name] = rec_hashes(rec)
    print(name, "run", round(time.time() - t, 1), flush=True)
for name in ("bandit_independent", "bandit_correlated"):
    t = time.time()
    res = evaluate_bandit(load_checkpoint(name)[0], episodes=2000, seed=0)
    out["evaluate"][name] = hashlib.sha256(json.dumps(res, sort_keys=True).encode()).hexdigest()
    out["evaluate"][name + "_json"] = res
    print(name, "eval", round(time.time() - t, 1), flush=True)
# a manipulated run and a closed-loop run
from circuit.manipulations import Manipulation
rec = run("bandit_independent", episodes=50, seed=3, out=os.path.join(tmp, "m.h5"),
          manipulations=[Manipulation(target="units", action="silence", fraction=0.25),
                         Manipulation(target="input", action="scale", value=0.5, channel="prev_reward")])
out["run"]["bandit_independent_manip"] = rec_hashes(rec)
import protocols.stopper as st
rec = run("stopper", episodes=40, seed=1, out=os.path.join(tmp, "s.h5"), manipulations=st.PRESETS["block_risky_reward"])
out["run"]["stopper_block_risky_reward"] = rec_hashes(rec)
t = time.time()
rec = run("stopper", episodes=4, seed=1, out=os.path.join(tmp, "cl.h5"), closed_loop=True,
          manipulations=[{"target": "da_neurons", "action": "chr2", "event": "risky_unrewarded", "name": "chr2"}])
out["run"]["stopper_closed_loop_chr2"] = rec_hashes(rec)
print("closed loop", round(time.time() - t, 1), flush=True)
# render spikes of a small reversal run
from circuit.spikes import render
rec = run("reversal", episodes=3, seed=0, out=os.path.join(tmp, "rev.h5"))
res = render(os.path.join(tmp, "rev.h5"), os.path.join(tmp, "sp.h5"), seed=0)
out["spikes_reversal3"] = h_arrays({k: v for k, v in res.items() if k.startswith(("da/", "pfc/", "steps/"))})
# replays
from circuit.replay import replay
for lab, ck in (("rats", "twostep_miller"), ("mice", "matching")):
    rec = replay(ck, lab, os.path.join(tmp, lab + ".h5"))
    out["run"]["replay_" + lab] = rec_hashes(rec)
# teacher-forced scoring log-odds
from circuit.scoring import twostep_log_odds, choice_log_odds
from protocols import labdata
z, d = twostep_log_odds(load_checkpoint("twostep_miller")[0], labdata.load("rats", "twostep"))
out["scoring_twostep_z"] = h_arrays({"z": z.astype(np.float64)})
out["scoring_twostep_z_sum"] = float(z[d["scored"]].sum())
z2, d2 = choice_log_odds(load_checkpoint("matching")[0], labdata.load("mice", "matching"))
out["scoring_matching_z"] = h_arrays({"z": z2.astype(np.float64)})
out["scoring_matching_z_sum"] = float(z2[d2["scored"]].sum())
json.dump(out, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_540ccc7.json"), "w"), indent=1, default=str)
print("done")
