"""The slow synaptic learner: the advantage actor-critic update that dopamine gates.

Wang et al. 2018, Methods: the gradient is the weighted sum of

* policy gradient        ∇_θ log π(a_t | s_t) · δ_t
* value term             β_v · δ_t · ∇_θ V(s_t)
* entropy regulariser    β_e · ∇_θ H(π(· | s_t))

where δ_t is the (n-step) advantage R_t − V(s_t) computed by the dopamine module
(:func:`dopamine.rpe.advantages`) and passed through :func:`dopamine.rpe.teaching_signal`. The
loss below is written so that its gradient is exactly that sum with the *gated* signal: the value
term uses δ as a fixed coefficient of ∇V (equal to ½β_v∇(R − V)² when the gain is 1), so a DA
blockade (gain 0) silences both the policy and the value learning; only the entropy term, which
needs no teaching signal, remains.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LossTerms:
    total: torch.Tensor
    policy: float
    value: float
    entropy: float


def a2c_loss(logits: torch.Tensor, values: torch.Tensor, actions: torch.Tensor,
             signal: torch.Tensor, beta_v: float, beta_e: float) -> LossTerms:
    """A2C loss over an unroll.

    logits [T, B, A], values [T, B] (with gradient), actions [T, B] (long), signal [T, B]: the
    gated DA teaching signal (treated as a constant). Terms are averaged over steps and episodes.
    """
    signal = signal.detach()
    logp_all = torch.log_softmax(logits, dim=-1)
    logp = logp_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    policy_loss = -(signal * logp).mean()
    value_loss = -(signal * values).mean()
    entropy_mean = entropy.mean()
    total = policy_loss + beta_v * value_loss - beta_e * entropy_mean
    return LossTerms(total, float(policy_loss.detach()), float(value_loss.detach()),
                     float(entropy_mean.detach()))


def make_optimizer(params, name: str, lr: float, alpha: float = 0.99, eps: float = 1e-5):
    """RMSProp (the paper's optimiser) or Adam."""
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, eps=eps)
    raise ValueError(f"optimizer: expected 'rmsprop' or 'adam', got {name!r}")
