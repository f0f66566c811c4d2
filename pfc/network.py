"""The prefrontal network: a recurrent core with policy and value readouts.

Wang et al. 2018 (Nat Neurosci 21:860), Methods: one fully connected LSTM (48 units for the
bandit and Sims 1–4), whose input at each step is the observation, the previous action (one-hot)
and the previous reward; a softmax policy and a linear value read out of its hidden state, and a
learned initial state. GRU and a vanilla tanh RNN are offered as alternatives.

Unit activity comes from :meth:`PFCNetwork.step` itself (never from hooks), so that recordings and
analyses see exactly what the readouts saw.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

CORES = ("lstm", "gru", "rnn")


@dataclass
class StepOutput:
    """What one step of the network returns (all tensors, batch first)."""

    logits: torch.Tensor  #: [B, n_actions] action logits (the policy is their softmax)
    value: torch.Tensor  #: [B] state-value estimate V(s_t)
    state: tuple  #: the new recurrent state: (h, c) for an LSTM, (h,) otherwise
    activity: torch.Tensor  #: [B, n_units] hidden-unit activity h_t (after any lesion)
    cell: torch.Tensor | None = None  #: [B, n_units] LSTM cell state c_t (LSTM cores)
    rpe_input: torch.Tensor | None = None  #: [B] the RPE fed to the actor (actor-critic circuits)


class PFCNetwork(nn.Module):
    """Recurrent core + readouts.

    Parameters
    ----------
    n_obs : number of observation channels of the task.
    n_actions : number of actions (length of the previous-action one-hot and of the policy).
    n_units : number of recurrent units (48 in the paper's Sims 1–4).
    core : "lstm" (default, as the paper), "gru" or "rnn" (tanh).
    """

    def __init__(self, n_obs: int, n_actions: int, n_units: int = 48, core: str = "lstm"):
        super().__init__()
        if core not in CORES:
            raise ValueError(f"core: expected one of {CORES}, got {core!r}")
        if n_units < 1:
            raise ValueError(f"n_units: expected a positive integer, got {n_units!r}")
        self.n_obs, self.n_actions, self.n_units, self.core_type = n_obs, n_actions, n_units, core
        self.n_inputs = n_obs + n_actions + 1
        cell = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}[core]
        self.cell = cell(self.n_inputs, n_units)
        self.policy = nn.Linear(n_units, n_actions)
        self.value = nn.Linear(n_units, 1)
        n_state = 2 if core == "lstm" else 1
        self.init_state = nn.Parameter(torch.zeros(n_state, n_units))

    # ----------------------------------------------------------------- input channel names
    def input_channels(self, obs_names=None, action_names=None) -> list[str]:
        """Names of the input channels, in order: observation, previous action, previous reward."""
        obs_names = list(obs_names) if obs_names else [f"obs{i}" for i in range(self.n_obs)]
        action_names = list(action_names) if action_names else [str(i) for i in range(self.n_actions)]
        return obs_names + [f"prev_action:{a}" for a in action_names] + ["prev_reward"]

    # ----------------------------------------------------------------------------- dynamics
    def initial_state(self, batch_size: int) -> tuple:
        """The learned initial state, expanded to a batch."""
        s = self.init_state.unsqueeze(1).expand(-1, batch_size, -1)
        if self.core_type == "lstm":
            return (s[0], s[1])
        return (s[0],)

    def make_input(self, obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor) -> torch.Tensor:
        """Concatenate observation ⊕ one-hot previous action ⊕ previous reward.

        ``prev_action`` is a long tensor [B] with -1 for "no previous action" (episode start).
        """
        onehot = torch.zeros(obs.shape[0], self.n_actions, dtype=obs.dtype, device=obs.device)
        valid = prev_action >= 0
        onehot[valid, prev_action[valid]] = 1.0
        return torch.cat([obs, onehot, prev_reward.to(obs.dtype).unsqueeze(-1)], dim=-1)

    def step(self, x: torch.Tensor, state: tuple, unit_fn=None) -> StepOutput:
        """One step: input x [B, n_inputs] and recurrent state → readouts, new state, activity.

        unit_fn: optional function applied to the new hidden activity h [B, n_units] before the
        readouts and before it is carried to the next step (unit manipulations and lesions,
        :mod:`pfcda.pfc.lesions`)."""
        if self.core_type == "lstm":
            h, c = self.cell(x, state)
            if unit_fn is not None:
                h = unit_fn(h)
            new_state = (h, c)
        else:
            h = self.cell(x, state[0])
            c = None
            if unit_fn is not None:
                h = unit_fn(h)
            new_state = (h,)
        return StepOutput(self.policy(h), self.value(h).squeeze(-1), new_state, h, c)

    @staticmethod
    def reset_where(state: tuple, done: torch.Tensor, init: tuple) -> tuple:
        """Replace the state of the episodes flagged in ``done`` [B] by the initial state."""
        m = done.unsqueeze(-1)
        return tuple(torch.where(m, i, s) for s, i in zip(state, init))

    def weight_hash(self) -> str:
        """SHA-256 of every parameter and buffer: proves frozen weights did not change."""
        import hashlib

        h = hashlib.sha256()
        for name, t in sorted(self.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()
