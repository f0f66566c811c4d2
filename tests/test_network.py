"""The PFC network: inputs, state, readouts, lesions that leave the weights alone."""
import pytest
import torch

from pfc.lesions import lesioned
from pfc.network import PFCNetwork


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
    with lesioned(net, units=[0, 3], inputs=["prev_reward"]):
        out = net.step(x, net.initial_state(2))
        assert torch.all(out.activity[:, [0, 3]] == 0)
        assert net.input_gain[-1] == 0
    assert torch.all(net.unit_mask == 1) and torch.all(net.input_gain == 1)
    assert net.weight_hash() == before
    assert "unit_mask" not in net.state_dict()


def test_lesion_errors_name_the_field():
    net = PFCNetwork(1, 2, 6)
    with pytest.raises(ValueError, match="units"):
        with lesioned(net, units=[6]):
            pass
    with pytest.raises(ValueError, match="inputs: unknown channel 'reward'"):
        with lesioned(net, inputs=["reward"]):
            pass
    assert torch.all(net.unit_mask == 1)  # restored even after the error


def test_bad_core():
    with pytest.raises(ValueError, match="core"):
        PFCNetwork(1, 2, core="transformer")
