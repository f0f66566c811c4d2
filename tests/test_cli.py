"""The command line as a user meets it: instant help, listings, JSON shape, one-line errors."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pfcda(*args, check=True):
    env = dict(os.environ)
    p = subprocess.run([sys.executable, "-m", "pfcda", *args], capture_output=True,
                       text=True, env=env, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_help_does_not_import_torch():
    code = ("import sys, pfcda.circuit.cli as c\n"
            "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported by --help'")
    env = {k: v for k, v in os.environ.items() if k != "PFCDA_PROTOCOLS"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, env=env)


def test_protocols_and_checkpoints_listings():
    out = pfcda("protocols").stdout
    assert out.startswith("bandit") and "Wang et al. 2018" in out
    out = pfcda("checkpoints").stdout
    assert "bandit_independent" in out and "bandit_correlated" in out


def test_evaluate_json_shape():
    res = json.loads(pfcda("evaluate", "bandit_correlated", "--episodes", "200", "--seed", "4",
                           "--json").stdout)
    assert res["episodes"] == 200 and res["seed"] == 4 and res["trials"] == 100 and res["arms"] == 2
    assert set(res["agents"]) == {"circuit", "bayes_optimal", "gittins", "thompson", "ucb1"}
    for entry in res["agents"].values():
        assert set(entry) == {"regret", "regret_sem"} and entry["regret"] >= 0


def test_evaluate_over_seeds_is_the_mean_of_the_single_seed_runs():
    """The default table is the mean over episode seeds with its spread; each seed's entry is
    the single-seed run of that seed."""
    res = json.loads(pfcda("evaluate", "bandit_correlated", "--episodes", "100", "--seeds", "3,5",
                           "--json").stdout)
    assert res["seeds"] == [3, 5] and len(res["per_seed"]) == 2
    single = [json.loads(pfcda("evaluate", "bandit_correlated", "--episodes", "100", "--seed", str(s),
                               "--json").stdout) for s in (3, 5)]
    for name, entry in res["agents"].items():
        per = [r["agents"][name]["regret"] for r in single]
        assert entry["regret"] == pytest.approx(sum(per) / 2)
        assert entry["regret_sd"] == pytest.approx(abs(per[0] - per[1]) / 2 ** 0.5)
        ratios = [r["agents"][name]["regret"] / r["agents"]["bayes_optimal"]["regret"] for r in single]
        assert entry["ratio_min"] == pytest.approx(min(ratios)) and entry["ratio_max"] == pytest.approx(max(ratios))
    text = pfcda("evaluate", "bandit_correlated", "--episodes", "100", "--seeds", "3,5").stdout
    assert "2 episode seeds (3, 5)" in text and "min–max" in text


@pytest.mark.parametrize("args,message", [
    (["evaluate", "bandit_independent", "--seeds", "0,0"], "expected distinct seeds"),
    (["evaluate", "bandit_independent", "--seeds", "1-x"], "expected seeds such as 0-3"),
    (["evaluate", "bandit_independent", "--seeds", "0-3", "--seed", "1"], "not allowed with argument"),
    (["evaluate", "no_such_checkpoint"], "neither a file nor a shipped checkpoint"),
    (["evaluate", "bandit_independent", "--episodes", "0"], "expected a positive integer"),
    (["evaluate", "bandit_independent", "--probs", "0.2,x"], "comma-separated probabilities"),
    (["evaluate", "bandit_independent", "--probs", "0.2,0.3,0.5"], "expected 2 probabilities"),
    (["train", "bandit", "--variant", "weird", "--steps", "10"], "variant: expected one of"),
    (["train", "nope"], "unknown 'nope'"),
])
def test_errors_are_one_clear_line(args, message):
    p = pfcda(*args, check=False)
    assert p.returncode != 0
    assert message in p.stderr
    assert "Traceback" not in p.stderr


def test_train_command_writes_a_checkpoint(tmp_path):
    out = tmp_path / "tiny.pt"
    pfcda("train", "bandit", "--variant", "correlated", "--steps", "5000", "--seed", "2",
          "--out", str(out), "--quiet", "--set", "batch_size=50", "--set", "eval_every=0",
          "--set", "circuit.n_units=8")
    res = json.loads(pfcda("evaluate", str(out), "--episodes", "20", "--json").stdout)
    assert res["agents"]["circuit"]["regret"] > 0
