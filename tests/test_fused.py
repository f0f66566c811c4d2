"""The fused training engine computes the autograd engine's gradient.

The same unrolls — the same episodes, the same actions (the fused engine's, replayed into the
autograd engine by teacher forcing) — through both engines, from the same weights and the same
carried state: the losses and every parameter's gradient agree to float precision, over several
consecutive unrolls with episodes restarting inside them (the learned initial state's gradient),
on a one-phase task (bandit) and a multi-phase one (two-step), with and without a DA
teaching-signal manipulation and with DA blocked."""
import copy

import pytest
import torch

from pfcda.circuit.agent import Circuit
from pfcda.circuit.config import TrainConfig
from pfcda.circuit.manipulations import Manipulated
from pfcda.circuit.rollout import forcing, start
from pfcda.circuit.train import FusedUpdate, _autograd_update, fused_applies


def _config(protocol, task, T, B, **kw):
    return TrainConfig.from_dict({"circuit": {"protocol": protocol, "task": task, "n_units": 12},
                                  "batch_size": B, "t_max": T, "beta_e": 0.05, "beta_v": 0.3, **kw})


def _snapshot(task, g):
    return copy.deepcopy(task.state_dict()), g.get_state()


def _restore(task, g, snap):
    task.load_state_dict(copy.deepcopy(snap[0]))
    g.set_state(snap[1])


CASES = [
    ("bandit", {"variant": "independent", "trials": 15}, {}),
    ("twostep", {"variant": "miller", "trials": 9}, {}),
    ("bandit", {"variant": "correlated", "trials": 15}, {"da_gain": 0.0}),
    ("bandit", {"variant": "independent", "trials": 15},
     {"manipulations": [{"target": "da_teaching", "action": "scale", "value": 0.3, "event": "unrewarded", "stage": "train"}]}),
]


@pytest.mark.parametrize("protocol,task_opts,extra", CASES)
def test_fused_gradient_equals_autograd(protocol, task_opts, extra):
    torch.manual_seed(0)
    cfg = _config(protocol, task_opts, T=37, B=16, **extra)  # 37 ∤ episode length: restarts mid-unroll
    circuit = Circuit(cfg.circuit)
    circuit.train(True)
    with torch.no_grad():  # a non-zero learned initial state, so that its gradient path matters
        circuit.net.init_state.normal_(0, 0.3)
    task = circuit.make_task()
    g_task = torch.Generator().manual_seed(1)
    carry = start(circuit, task, cfg.batch_size, g_task)
    agent = Manipulated(circuit, cfg.manipulations, task, "train", cfg.batch_size)
    assert fused_applies(cfg, circuit, agent)
    fused = FusedUpdate(cfg, circuit, agent, task, torch.Generator().manual_seed(2))
    params = dict(circuit.named_parameters())
    restarts, init_grad = 0, 0.0
    for k in range(4):  # consecutive unrolls: the carry between them is the same in both engines
        snap, agent_state = _snapshot(task, g_task), copy.deepcopy(agent.state_dict())
        for p in params.values():
            p.grad = None
        carry_f, loss_f = fused.update(carry, 0.05, first=k == 0)
        grads_f = {n: p.grad.clone() for n, p in params.items()}
        restarts += int(fused.restarted.sum())
        init_grad += float(grads_f["net.init_state"].abs().sum()) if k else 0.0

        _restore(task, g_task, snap)
        agent.load_state_dict(agent_state)
        for p in params.values():
            p.grad = None
        carry_a, loss_a = _autograd_update(cfg, agent, task, carry, forcing(fused.actions.t()), 0.05)
        for n, p in params.items():
            assert torch.allclose(p.grad, grads_f[n], rtol=1e-4, atol=1e-6), \
                (k, n, float((p.grad - grads_f[n]).abs().max()))
        assert abs(float(loss_a.total.detach()) - float(loss_f.total.detach())) < 1e-5
        for a, b in zip(carry_a, carry_f):
            if isinstance(a, tuple):
                assert all(torch.allclose(x, y, atol=1e-6) for x, y in zip(a, b))
            else:
                assert torch.equal(a, b)
        carry = carry_a._replace(state=Circuit.detach_state(carry_a.state))
    assert restarts > 0  # the initial state's gradient path was exercised
    assert init_grad > 0  # ... and carries gradient (beyond the first unroll's)


def test_fused_engine_falls_back_where_it_does_not_apply():
    cfg = _config("bandit", {"variant": "independent"}, T=5, B=4,
                  manipulations=[{"target": "units", "action": "silence", "fraction": 0.5, "stage": "train"}])
    circuit = Circuit(cfg.circuit)
    task = circuit.make_task()
    agent = Manipulated(circuit, cfg.manipulations, task, "train", 4)
    assert not fused_applies(cfg, circuit, agent)  # unit manipulations act inside the network's step
    gru = _config("bandit", {"variant": "independent"}, T=5, B=4)
    gru.circuit.core = "gru"
    c2 = Circuit(gru.circuit)
    assert not fused_applies(gru, c2, Manipulated(c2, [], c2.make_task(), "train", 4))
