"""Virtual lesions of the prefrontal network: silence units, ablate input channels.

A lesion is a condition of an experiment, not a change of the trained weights: it sets the
network's (non-persistent) masks for the duration of a ``with`` block, so the weight hash and the
checkpoint are untouched.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Sequence

import torch

from .network import PFCNetwork


def _channel_index(net: PFCNetwork, channel, channel_names: Sequence[str] | None) -> int:
    if isinstance(channel, int):
        if not 0 <= channel < net.n_inputs:
            raise ValueError(f"inputs: channel index {channel} outside 0..{net.n_inputs - 1}")
        return channel
    names = list(channel_names) if channel_names is not None else net.input_channels()
    if channel not in names:
        raise ValueError(f"inputs: unknown channel {channel!r}; expected one of {names}")
    return names.index(channel)


@contextmanager
def lesioned(net: PFCNetwork, units: Iterable[int] = (), inputs: Iterable = (),
             channel_names: Sequence[str] | None = None):
    """Silence ``units`` (hidden-unit indices) and ablate ``inputs`` (channel names or indices,
    e.g. ``"prev_reward"``) inside the block; restores the masks afterwards."""
    old_gain, old_mask = net.input_gain.clone(), net.unit_mask.clone()
    try:
        for u in units:
            if not (isinstance(u, int) or hasattr(u, "__index__")) or not 0 <= int(u) < net.n_units:
                raise ValueError(f"units: expected indices in 0..{net.n_units - 1}, got {u!r}")
            net.unit_mask[int(u)] = 0.0
        for ch in inputs:
            net.input_gain[_channel_index(net, ch, channel_names)] = 0.0
        yield net
    finally:
        with torch.no_grad():
            net.input_gain.copy_(old_gain)
            net.unit_mask.copy_(old_mask)
