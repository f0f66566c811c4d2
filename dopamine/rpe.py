"""Reward prediction errors: the dopamine signal of the model.

Two quantities, one source (Wang et al. 2018, Methods):

* the one-step TD error δ_t = r_t + γ V(s_{t+1}) − V(s_t), the model's phasic DA signal used by
  analyses (Sims 3, 4) and, one step later, as the activity input of the Sim 6 actor
  (:func:`previous_step_rpe`);
* the n-step bootstrapped advantage A_t = R_t − V(s_t), R_t = Σ_{i<k} γ^i r_{t+i} + γ^k V(s_{t+k}),
  k = steps to the end of the unroll or of the episode, which is the teaching signal of the slow
  (synaptic) learner. Generalised advantage estimation with λ < 1 is offered; λ = 1 is the
  paper's n-step form.

The teaching signal passes through :func:`teaching_signal`, whose ``gain`` is 1 for normal
dopamine and 0 for a complete blockade: blocking it during training stops the plasticity that
δ gates (the policy-gradient and value terms of the A2C update).

Shapes: time first, ``[T, B]``; ``dones[t]`` is True when the episode ended *at* step t (its
reward r_t was the last one), so nothing is bootstrapped across it.
"""
from __future__ import annotations

import torch


def td_error(rewards: torch.Tensor, values: torch.Tensor, next_values: torch.Tensor,
             dones: torch.Tensor, gamma: float) -> torch.Tensor:
    """One-step TD error δ_t = r_t + γ·(1 − done_t)·V_{t+1} − V_t (any matching shapes)."""
    notdone = 1.0 - dones.to(values.dtype)
    return rewards + gamma * notdone * next_values - values


def previous_step_rpe(prev_reward: torch.Tensor, v_prev: torch.Tensor, v: torch.Tensor,
                      start: torch.Tensor, gamma: float) -> torch.Tensor:
    """The RPE of the step just taken, as it reaches a network at the next step (the Sim 6
    actor's DA input): δ = (r_{t−1} + γV(s_t) − V(s_{t−1}))·(1 − start), 0 at an episode's first
    step (``start`` 1: no step before it). Values are the critic's, read without gradient."""
    return (prev_reward + gamma * v - v_prev) * (1.0 - start)


def advantages(rewards: torch.Tensor, values: torch.Tensor, bootstrap: torch.Tensor,
               dones: torch.Tensor, gamma: float, lam: float = 1.0):
    """n-step (λ = 1) or GAE(λ) advantages and returns over an unroll.

    rewards, values, dones: [T, B]; bootstrap: [B], V(s_T) after the unroll (ignored where the
    last step ended an episode). Returns ``(advantage, returns)``, both [T, B], with
    returns = advantage + values (the value target). Values are treated as constants.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma: expected a discount in [0, 1], got {gamma}")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam: expected a GAE lambda in [0, 1], got {lam}")
    values = values.detach()
    T = rewards.shape[0]
    next_values = torch.cat([values[1:], bootstrap.detach().unsqueeze(0)], dim=0)
    delta = td_error(rewards, values, next_values, dones, gamma)
    notdone = 1.0 - dones.to(values.dtype)
    adv = torch.empty_like(delta)
    running = torch.zeros_like(bootstrap, dtype=delta.dtype)
    for t in range(T - 1, -1, -1):  # over time only; vectorised over the batch
        running = delta[t] + gamma * lam * notdone[t] * running
        adv[t] = running
    return adv, adv + values


def teaching_signal(advantage: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """The DA teaching signal that gates plasticity: ``gain`` × advantage (0 = blockade)."""
    return gain * advantage
