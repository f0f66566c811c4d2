"""Closed loop (Sim 6's route through spiking DA neurons): optogenetics on the DA population and
D1 blockade at the target change the frozen Stopper circuit's choices as in Stopper et al. 2014."""
import numpy as np
import pytest
import torch

from pfcda.circuit.run import run
from pfcda.protocols.stopper import risky_fraction

pytest.importorskip("brian2")

CHR2 = {"name": "ChR2 at risky loss", "target": "da_neurons", "action": "chr2",
        "event": "risky_unrewarded"}  # 20 Hz × 5 ms pulses, 30 mV, all neurons
ARCHT = {"name": "ArchT at risky reward", "target": "da_neurons", "action": "archt",
         "frequency_hz": 0.0, "event": "risky_rewarded"}  # continuous light
D1 = {"name": "D1 antagonist", "target": "d1", "action": "silence"}
EPISODES = 100


@pytest.fixture(scope="module")
def runs():
    """The same 100 episodes (p = 0.125 or 0.5 each), weights frozen, in each condition."""
    out = {"no_loop": run("stopper", episodes=EPISODES, seed=0, batch_size=EPISODES)}
    for name, manips in (("control", []), ("chr2", [CHR2]), ("archt", [ARCHT]), ("d1", [D1]),
                         ("chr2_d1", [CHR2, D1])):
        out[name] = run("stopper", episodes=EPISODES, seed=0, batch_size=EPISODES,
                        manipulations=manips, closed_loop=True)
    return out


def _risky(rec, p):
    return risky_fraction(rec.trials)[p][0]


def test_the_loop_carries_the_rpe(runs):
    """Through the spiking population (decoded), control behaviour stays that of the circuit
    without the loop (measured 0.30 vs 0.27 at p = 0.125; 0.96 vs 0.94 at p = 0.5), and the DA
    rate follows δ: bursts after positive, pauses after negative RPEs."""
    for p in (0.125, 0.5):
        assert abs(_risky(runs["control"], p) - _risky(runs["no_loop"], p)) < 0.1
    st = runs["control"].steps
    delta, rate = st["rpe_input"], st["da_rate_hz"]
    assert rate[delta > 1.0].mean() > 15.0 and rate[delta < -0.5].mean() < 2.5
    assert np.corrcoef(delta, rate)[0, 1] > 0.8


def test_chr2_at_risky_loss_raises_risky_choice_at_low_p(runs):
    """Stopper 2014 (VTA stimulation at risky losses, p = 0.125): 25 % → 50 % in rats."""
    assert _risky(runs["chr2"], 0.125) > _risky(runs["control"], 0.125) + 0.15
    lit = runs["chr2"].steps["manipulation_active"][:, 0]
    assert runs["chr2"].steps["da_rate_hz"][lit].mean() > runs["control"].steps["da_rate_hz"][lit].mean() + 2


def test_archt_at_reward_lowers_risky_choice_at_high_p(runs):
    """Suppressing DA firing at the risky reward (p = 0.5): fewer risky choices (rats 75 % → 54 %
    with LHb stimulation, the same DA pause)."""
    assert _risky(runs["archt"], 0.5) < _risky(runs["control"], 0.5) - 0.15
    lit = runs["archt"].steps["manipulation_active"][:, 0]
    assert runs["archt"].steps["da_rate_hz"][lit].mean() < 1.0


def test_d1_block_removes_the_effect_of_da_activity(runs):
    """With the D1 receptors blocked the actor receives no DA input: the ChR2 burst still happens
    in the DA neurons but changes no choice (identical runs), and within-episode adaptation to p
    is gone."""
    a, b = runs["d1"].trials, runs["chr2_d1"].trials
    assert np.array_equal(a["choice"], b["choice"])
    lit = runs["chr2_d1"].steps["manipulation_active"][:, 0]
    assert runs["chr2_d1"].steps["da_rate_hz"][lit].mean() > runs["d1"].steps["da_rate_hz"][lit].mean() + 2
    assert np.all(runs["d1"].steps["rpe_input"] == 0)
    assert abs(_risky(runs["d1"], 0.5) - _risky(runs["d1"], 0.125)) < 0.15
    assert _risky(runs["control"], 0.5) - _risky(runs["control"], 0.125) > 0.5


def test_spiking_manipulations_need_the_loop_and_are_validated():
    with pytest.raises(ValueError, match="closed_loop=True"):
        run("stopper", episodes=2, manipulations=[CHR2])
    with pytest.raises(ValueError, match="target 'da_neurons' only"):
        run("stopper", episodes=2, manipulations=[{**CHR2, "target": "da_input"}], closed_loop=True)
    with pytest.raises(ValueError, match="fraction: expected a number in"):
        run("stopper", episodes=2, manipulations=[{**CHR2, "fraction": 1.5}], closed_loop=True)
    with pytest.raises(ValueError, match="actor-critic"):
        run("matching", episodes=2, closed_loop=True)


def test_lesion_and_partial_expression():
    """A 50 % DA lesion halves the population rate; light reaches only the expressing fraction."""
    from pfcda.dopamine.closed_loop import ClosedLoop
    from pfcda.dopamine.spiking import Light

    loop = ClosedLoop(60, seed=1)
    d = torch.zeros(60)
    base = loop.step(d) * 0 + torch.as_tensor(loop.last_rate_hz)
    alive = np.ones(60 * 40)
    alive.reshape(60, 40)[:, :20] = 0
    loop.step(d, lesion=alive)
    assert abs(loop.last_rate_hz.mean() / base.mean().item() - 0.5) < 0.15
    expressing = np.zeros(40, bool)
    expressing[:10] = True
    loop.step(d, light=[(Light("chr2", 30.0, 20.0, 5.0, expressing), np.ones(60, bool))])
    quarter = loop.last_rate_hz.mean()
    loop.step(d, light=[(Light("chr2", 30.0, 20.0, 5.0, np.ones(40, bool)), np.ones(60, bool))])
    assert loop.last_rate_hz.mean() > quarter > base.mean().item()
