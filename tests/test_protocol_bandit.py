"""Fig. 1 of Wang et al. 2018 on the shipped bandit circuits (weights frozen, fixed seeds).

* On the (0.25, 0.75) bandit, the circuit's regret at trial 100 is below Thompson sampling and
  UCB1 (paper Fig. 1d: meta-RL ≈ 2.1 independent / 1.2 correlated; Thompson ≈ 2.9; UCB ≈ 3.1).
* At trial 100 the first principal component of unit activity is ordered by p_L (Fig. 1e,f):
  |Spearman ρ| ≥ 0.8 across correlated-bandit episodes.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pfcda.circuit.run import run
from pfcda.protocols import bandit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("name", ["bandit_independent", "bandit_correlated"])
def test_fig1d_regret_below_thompson_and_ucb(name):
    rec = run(name, episodes=1000, seed=0, task_overrides={"probs": [0.25, 0.75]})
    stats = bandit.analyze(rec, seed=0)["stats"]
    circuit = stats["regret_at_last_trial"]["value"]
    assert circuit < stats["regret_thompson"]["value"]
    assert circuit < stats["regret_ucb1"]["value"]


def test_fig1ef_pc1_ordered_by_p_left():
    rec = run("bandit_correlated", episodes=300, seed=0)
    stats = bandit.analyze(rec)["stats"]
    assert abs(stats["pc1_spearman_p_left"]["value"]) >= 0.8
    # the mechanism: with the units' state scrambled across episodes the order disappears
    rng = np.random.default_rng(0)
    p_left = bandit._probs_per_episode(rec.trials, rec.attrs["action_names"])[:, 0]
    _, _, rho = bandit.last_trial_pca(rec.units["hidden"], rec.steps, rng.permutation(p_left))
    assert abs(rho) < 0.3


def test_regret_curve_matches_trials():
    rec = run("bandit_independent", episodes=20, seed=1)
    mean, sem = bandit.regret_curve(rec.trials)
    per_episode = rec.trials["regret"].reshape(20, 100).sum(1)
    assert mean[-1] == pytest.approx(per_episode.mean(), rel=1e-5)
    assert np.all(np.diff(mean) >= 0) and sem.shape == (100,)


def test_analyze_cli_json_and_figures(tmp_path):
    h5 = tmp_path / "run.h5"
    env = {**os.environ, "PYTHONPATH": ROOT}
    cli = [sys.executable, "-m", "pfcda"]
    subprocess.run(cli + ["run", "bandit", "--episodes", "50", "--out", str(h5), "--quiet"],
                   check=True, env=env, capture_output=True)
    p = subprocess.run(cli + ["analyze", str(h5), "--json", "--figures", str(tmp_path / "figs")],
                       check=True, env=env, capture_output=True, text=True)
    out = json.loads(p.stdout)
    assert out["protocol"] == "bandit" and set(out["stats"]) == set(bandit.STATS)
    assert all(set(v) == {"value", "sem"} for v in out["stats"].values())
    assert (tmp_path / "figs" / "bandit_regret.png").stat().st_size > 1000
    listing = subprocess.run(cli + ["analyze", "--list", "bandit"], check=True, env=env,
                             capture_output=True, text=True).stdout
    assert all(name in listing for name in bandit.STATS)
