"""Q-learning with perseveration (and forgetting) for two-choice lab data: parameter recovery
from simulated sessions, and trial-by-trial scoring of a frozen foraging circuit."""
import numpy as np
import pytest

from pfcda.protocols import choice_models as cm


def _blocks(E=12, T=300, seed=0):
    """Block schedules like the dynamic-foraging mice: uncoupled probabilities in {0.1, 0.5, 0.9},
    blocks of 40–80 trials."""
    rng = np.random.default_rng(seed)
    pairs = [(0.1, 0.5), (0.5, 0.1), (0.1, 0.9), (0.9, 0.1), (0.5, 0.9), (0.9, 0.5)]
    p = np.zeros((E, T, 2))
    for e in range(E):
        t = 0
        while t < T:
            n = int(rng.integers(40, 80))
            p[e, t:t + n] = pairs[rng.integers(len(pairs))]
            t += n
    return p


@pytest.mark.parametrize("model,true", [
    ("rw", {"alpha": 0.4, "beta": 4.0, "kappa": 0.5, "bias": 0.2}),
    ("rw_forget", {"alpha": 0.6, "beta": 6.0, "kappa": -0.3, "bias": -0.1, "forget": 0.2}),
])
def test_parameter_recovery(model, true):
    """Fitted parameters recover those that generated the data (12 sessions × 300 trials):
    α, ζ within 0.1; β within 20 %; κ, bias within 0.25."""
    tr = cm.simulate(true, _blocks(), baited=True, seed=1)
    fit = cm.fit(tr, model, starts=3)["params"]
    assert abs(fit["alpha"] - true["alpha"]) < 0.1
    assert abs(fit["beta"] - true["beta"]) < 0.2 * true["beta"]
    assert abs(fit["kappa"] - true["kappa"]) < 0.25
    assert abs(fit["bias"] - true["bias"]) < 0.25
    assert abs(fit["forget"] - true.get("forget", 0.0)) < 0.1


def test_the_generating_model_wins_on_held_out_sessions():
    """Data made with forgetting: the forgetting model scores held-out sessions better than plain
    Rescorla–Wagner, and both beat chance."""
    p = _blocks(E=16, T=250, seed=3)
    tr = cm.simulate({"alpha": 0.5, "beta": 5.0, "kappa": 0.2, "forget": 0.5}, p, seed=2)
    half = tr["episode"] < 8
    train = {k: v[half] for k, v in tr.items()}
    test = {k: v[~half] for k, v in tr.items()}
    scores = {}
    for m in ("rw", "rw_forget"):
        ll, n = cm.fit(train, m, starts=2)["loglik_fn"](test)
        scores[m] = np.exp(ll / n)
    assert scores["rw_forget"] > scores["rw"] > 0.55


def test_no_response_trials_are_skipped_not_scored():
    """A trial without a response neither teaches (Q, forgetting), nor moves the perseveration
    term, nor enters the likelihood: the table scores exactly as if the trial were absent."""
    params = {"alpha": 0.3, "beta": 3.0, "kappa": 0.8, "forget": 0.2}
    tr = cm.simulate(params, _blocks(E=2, T=60), seed=0)
    gaps = tr["episode"] * 0 == 0
    gaps[[5, 70]] = False
    with_gaps = {k: v.copy() for k, v in tr.items()}
    with_gaps["choice"][[5, 70]] = -1
    with_gaps["reward"][[5, 70]] = 1.0  # a reward on a no-response row must not teach either
    removed = {k: v[gaps] for k, v in tr.items()}
    ll_gap, n_gap = cm.loglik(params, with_gaps)
    ll_rm, n_rm = cm.loglik(params, removed)
    assert n_gap == n_rm == len(tr["choice"]) - 2
    assert ll_gap == pytest.approx(ll_rm, abs=1e-9)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="model"):
        cm.fit(cm.simulate({"alpha": 0.3}, _blocks(E=1, T=20)), "td")
    with pytest.raises(ValueError, match="params: unknown"):
        cm.simulate({"lr": 0.3}, _blocks(E=1, T=20))
    with pytest.raises(ValueError, match=r"p: expected \[sessions, trials, 2\]"):
        cm.simulate({"alpha": 0.3}, np.zeros((3, 2)))


def test_circuit_scored_on_its_own_choices_reproduces_its_policy(tmp_path):
    """Teacher forcing a matching circuit with its own recorded choices and rewards gives back
    the log-odds its policy had when it chose (to float precision)."""
    from pfcda.circuit.io.checkpoint import load_checkpoint
    from pfcda.circuit.io.recording import read_recording
    from pfcda.circuit.lab.scoring import log_odds
    from pfcda.circuit.run import run

    run("matching", episodes=6, seed=3, out=str(tmp_path / "m.h5"), progress=False)
    rec = read_recording(str(tmp_path / "m.h5"))
    tr = {k: np.asarray(v) for k, v in rec.trials.items()}
    tr["choice"] = tr["choice"].astype(int) - 1
    circuit, _ = load_checkpoint("matching")
    z, _, scored = log_odds(circuit, tr)
    pol = rec.steps["policy"][rec.steps["phase"] == 1]
    z_rec = np.log(pol[:, 2]) - np.log(pol[:, 1])
    valid = tr["choice"] >= 0
    assert scored.sum() == valid.sum()
    np.testing.assert_allclose(z[scored], z_rec[valid], atol=1e-4)


def test_common_q_parameter_recovery():
    """"Common Q" (forgetting, choice kernel, bias) recovers its generating parameters from 12
    unbaited sessions × 300 trials: α, ζ, α_c within 0.1; β within 20 %; bias and β_c within 0.3."""
    true = {"alpha": 0.5, "beta": 5.0, "bias": 0.2, "forget": 0.3, "ck_rate": 0.3, "ck_weight": 1.5}
    tr = cm.simulate(true, _blocks(seed=1), baited=False, seed=1)
    fit = cm.fit(tr, "common_q", starts=3)["params"]
    for k in ("alpha", "forget", "ck_rate"):
        assert abs(fit[k] - true[k]) < 0.1, (k, fit)
    assert abs(fit["beta"] - true["beta"]) < 0.2 * true["beta"]
    for k in ("bias", "ck_weight"):
        assert abs(fit[k] - true[k]) < 0.3, (k, fit)
    # a choice kernel of rate 1 is lag-1 perseveration
    a = cm.loglik({"alpha": 0.4, "beta": 3.0, "ck_rate": 1.0, "ck_weight": 0.7}, tr)
    b = cm.loglik({"alpha": 0.4, "beta": 3.0, "kappa": 0.7}, tr)
    assert a[1] == b[1] and abs(a[0] - b[0]) < 1e-9
