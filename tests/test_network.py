"""The PFC network: inputs, state, readouts, lesions that leave the weights alone."""
import pytest
import torch

from pfcda.pfc.lesions import apply, apply_columns
from pfcda.pfc.network import PFCNetwork


@pytest.mark.parametrize("core", ["lstm", "gru", "rnn"])
def test_step_shapes_and_activity(core):
    net = PFCNetwork(n_obs=1, n_actions=3, n_units=8, core=core)
    state = net.initial_state(5)
    x = net.make_input(torch.zeros(5, 1), torch.tensor([-1, 0, 1, 2, 0]), torch.ones(5))
    assert x.shape == (5, 1 + 3 + 1)
    assert x[0, 1:4].sum() == 0 and x[1, 1] == 1 and x[4, -1] == 1  # no previous action at start
    out = net.step(x, state)
    assert out.logits.shape == (5, 3) and out.value.shape == (5,)
    assert torch.equal(out.activity, out.state[0])
    assert len(out.state) == (2 if core == "lstm" else 1)


def test_reset_where_restores_learned_initial_state():
    net = PFCNetwork(1, 2, 4)
    with torch.no_grad():
        net.init_state.fill_(0.3)
    state = tuple(torch.randn(3, 4) for _ in range(2))
    done = torch.tensor([True, False, True])
    new = PFCNetwork.reset_where(state, done, net.initial_state(3))
    assert torch.allclose(new[0][0], torch.full((4,), 0.3))
    assert torch.equal(new[0][1], state[0][1])


def test_lesions_silence_units_and_inputs_without_touching_weights():
    net = PFCNetwork(1, 2, 6)
    before = net.weight_hash()
    x = net.make_input(torch.ones(2, 1), torch.tensor([0, 1]), torch.tensor([1.0, 0.0]))
    everywhere = torch.ones(2, dtype=torch.bool)
    lesioned = apply_columns(x, net.n_inputs - 1, "silence", 0.0, everywhere)  # prev_reward removed
    assert torch.all(lesioned[:, -1] == 0) and torch.equal(lesioned[:, :-1], x[:, :-1])
    x = lesioned
    out = net.step(x, net.initial_state(2),
                   unit_fn=lambda h: apply_columns(h, torch.tensor([0, 3]), "silence", 0.0, everywhere))
    assert torch.all(out.activity[:, [0, 3]] == 0) and torch.all(out.state[0][:, [0, 3]] == 0)
    assert torch.any(out.activity[:, [1, 2, 4, 5]] != 0)
    assert net.weight_hash() == before  # a lesion acts on activity, never on the weights


def test_lesion_acts_only_where_active():
    h = torch.ones(3, 4)
    out = apply_columns(h, torch.tensor([1]), "scale", 0.5, torch.tensor([True, False, True]))
    assert out[0, 1] == 0.5 and out[1, 1] == 1.0 and out[2, 1] == 0.5 and torch.all(out[:, 0] == 1)
    with pytest.raises(ValueError, match="action"):
        apply(h, "boost", 1.0, torch.ones(3, 4, dtype=torch.bool))


def test_bad_core():
    with pytest.raises(ValueError, match="core"):
        PFCNetwork(1, 2, core="transformer")
