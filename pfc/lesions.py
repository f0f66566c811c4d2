"""Virtual lesions and other manipulations of PFC signals: the one mechanism by which units,
input channels and the DA signals a circuit carries are silenced, scaled, shifted, clamped or
perturbed.

A lesion is a condition of an experiment, not a change of the trained weights: it acts on the
activity (or input) as it flows through a step, where a mask says it is active, and leaves the
weights, the checkpoint and the weight hash untouched. Declare lesions as manipulations
(:class:`pfcda.circuit.manipulations.Manipulation`, targets ``units`` and ``input``), which
decide *when* they act and call :func:`apply` for *how*.
"""
from __future__ import annotations

import torch

ACTIONS = ("silence", "scale", "add", "clamp", "noise")


def apply(x: torch.Tensor, action: str, value: float, where: torch.Tensor,
          generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` with ``action`` applied where ``where`` (broadcastable to x) is true: ``silence``
    (0), ``scale`` (× value), ``add`` (+ value), ``clamp`` (= value), ``noise`` (+ Gaussian noise
    of SD value, drawn from ``generator``); x unchanged elsewhere."""
    if action == "silence":
        y = torch.zeros_like(x)
    elif action == "scale":
        y = x * value
    elif action == "add":
        y = x + value
    elif action == "clamp":
        y = torch.full_like(x, value)
    elif action == "noise":
        y = x + value * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    else:
        raise ValueError(f"action: expected one of {ACTIONS}, got {action!r}")
    return torch.where(where, y, x)


def apply_columns(x: torch.Tensor, columns: torch.Tensor | int, action: str, value: float,
                  active: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """:func:`apply` to the given columns of ``x`` [B, n] (units, or one input channel) in the
    episodes where ``active`` [B]."""
    if isinstance(columns, int):  # one input channel
        col = apply(x[:, columns], action, value, active, generator)
        return torch.cat([x[:, :columns], col.unsqueeze(1), x[:, columns + 1:]], 1)
    mask = torch.zeros_like(x, dtype=torch.bool)
    mask[:, columns] = active.unsqueeze(1)
    return apply(x, action, value, mask, generator)
