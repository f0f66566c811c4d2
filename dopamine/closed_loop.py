"""Closed loop: each agent step's RPE passes through the spiking DA population (brian2) before it
reaches the actor PFC network as its DA activity input (Wang et al. 2018 Sim 6's route), so
optogenetics on the DA *neurons* and D1 blockade at the *target* act on behaviour, as in the
experiments (Stopper et al. 2014).

One brian2 population holds every episode of the batch (episodes × ``n_neurons`` LIF neurons, the
model of :mod:`dopamine.spiking`); one call per agent step runs the step's δ pulse window
(``pulse_ms``, 175 ms) for all episodes at once, after 60 ms (3 τ_m) of the interval before it
at δ = 0 without light, so every window starts from tonic firing whatever came before (without
it the previous window's δ biased the next one's rate by −16 % / +8 %); the rest of the 500-ms
step is not simulated, and only the pulse-window firing is read out. Per step:

1. δ (task units) → the neurons' drive δ / ``rpe_scale`` (``rpe_scale``: the task's reward
   scale, so that the largest RPEs stay within the calibrated range; Stopper: 4);
2. light: ChR2 (depolarising) or ArchT/NpHR (hyperpolarising) current in the expressing
   neurons of the episodes where the manipulation is active this step, as pulse trains
   (``frequency_hz``, ``width_ms``; 0 Hz = continuous) over the window; lesioned neurons never
   fire;
3. the pulse-window population rate (spikes/s per neuron) of each episode → the effective RPE,
   decoded by the inverse of the transfer function measured on the same population at start
   (:attr:`calibration`), × ``rpe_scale``;
4. D1 antagonist: the decoded RPE × the D1 gain (0: full blockade of the DA effect at the target).

Cost (numpy target, 2-core machine): a 100-episode Stopper run (60 agent steps) takes ≈ 15 s
with the loop (≈ 0.25 s per agent step for all episodes at once), 0.1 s without it.
"""
from __future__ import annotations

import numpy as np
import torch

from .spiking import Calibration, DAParams, _group

#: The closed loop uses the module's calibrated population (dt 0.5 ms); its transfer function is
#: measured on the loop's own population when the loop starts, so decoding stays consistent.
CLOSED_LOOP_PARAMS = DAParams()
RELAX_MS = 60.0  #: simulated part of each inter-pulse interval (3 τ_m)


class ClosedLoop:
    """The spiking DA population of one batched run (``batch_size`` episodes)."""

    def __init__(self, batch_size: int, params: DAParams | None = None, rpe_scale: float = 1.0,
                 seed: int = 0, target: str = "numpy", calibration_repeats: int = 40):
        params = CLOSED_LOOP_PARAMS if params is None else params
        if batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, got {batch_size}")
        if not rpe_scale > 0:
            raise ValueError(f"rpe_scale: expected a positive number, got {rpe_scale}")
        self.B, self.p, self.rpe_scale, self.seed, self.target = batch_size, params, float(rpe_scale), seed, target
        grid = np.linspace(-1.0, 1.0, 9)
        cal = _Population(len(grid) * calibration_repeats, params, seed + 101, target)
        rates = cal.window(np.repeat(grid, calibration_repeats)).reshape(len(grid), -1).mean(1)
        self.calibration = Calibration(tuple(grid), tuple(float(r) for r in rates), float(rates[4]))
        self.pop = _Population(batch_size, params, seed, target)
        self.last_rate_hz = np.zeros(batch_size)

    def step(self, delta: torch.Tensor, light=(), lesion=None, d1_gain=None) -> torch.Tensor:
        """δ [B] → the decoded RPE [B] the target receives. ``light``: [(:class:`~.spiking.Light`,
        active [B] bool)]; ``lesion``: [B·n_neurons] alive flags (0/1) or None; ``d1_gain`` [B]
        or None."""
        d = delta.detach().cpu().numpy().astype(float) / self.rpe_scale
        amp = np.zeros((self.B, self.p.n_neurons))
        period = np.full((self.B, self.p.n_neurons), 1.0)
        width = np.zeros((self.B, self.p.n_neurons))
        for lt, mask in light:
            on = np.asarray(mask, bool)[:, None] & lt.expressing[None, :]
            amp = np.where(on, lt.signed_mV, amp)
            per = 1.0 / lt.frequency_hz if lt.frequency_hz > 0 else 1.0
            period = np.where(on, per, period)
            width = np.where(on, (lt.width_ms / 1000.0) if lt.frequency_hz > 0 else 1.0, width)
        rate = self.pop.window(d, amp.reshape(-1), period.reshape(-1), width.reshape(-1), lesion)
        self.last_rate_hz = rate
        out = self.calibration.decode(rate) * self.rpe_scale
        out = torch.as_tensor(out, dtype=delta.dtype)
        if d1_gain is not None:
            out = out * d1_gain
        return out


class _Population:
    """``n_groups`` × n_neurons LIF neurons; :meth:`window` runs one pulse window."""

    def __init__(self, n_groups: int, p: DAParams, seed: int, target: str):
        from .spiking import import_brian2

        b2 = import_brian2()
        self.b2, self.n_groups, self.p = b2, n_groups, p
        b2.prefs.codegen.target = target
        variables = """
        drive : 1
        opto_amp : volt
        period : second
        width : second
        alive : 1
        count : 1
        t0 : second (shared)
        """
        # each call runs RELAX_MS at δ = 0 without light, then the pulse window (from t0): one
        # brian2 run per agent step; only the window's spikes are counted
        self.group = _group(b2, n_groups * p.n_neurons, p,
                            "(k_rpe*drive + opto_amp*int(((t - t0) % period) < width))*int(t >= t0)",
                            variables, threshold="v > v_th and alive > 0",
                            reset="v = 0*mV\ncount += int(t >= t0)")
        self.group.alive = 1.0
        self.group.period = 1 * b2.second
        b2.seed(seed)  # before any random draw: the starting voltages too
        self.group.v = "rand() * v_th"
        self.net = b2.Network(self.group)
        self.net.run(100 * b2.ms, namespace={})  # settle into tonic firing

    def window(self, drive, amp=None, period=None, width=None, alive=None) -> np.ndarray:
        """Run one pulse window with ``drive`` [n_groups] (δ / rpe_scale); returns the rate per
        group (spikes/s per neuron)."""
        b2, g, n = self.b2, self.group, self.p.n_neurons
        # the inter-pulse interval (δ = 0, no light): RELAX_MS of it, so that every window starts
        # from tonic firing whatever the previous window was (3 τ_m; the rest is not simulated)
        g.drive = np.repeat(np.asarray(drive, float), n)
        g.opto_amp = (np.zeros(len(g)) if amp is None else amp) * b2.mV
        g.period = (np.ones(len(g)) if period is None else period) * b2.second
        g.width = (np.zeros(len(g)) if width is None else width) * b2.second
        g.alive = np.ones(len(g)) if alive is None else alive
        g.count = 0.0
        g.t0 = self.net.t + RELAX_MS * b2.ms
        self.net.run((RELAX_MS + self.p.pulse_ms) * b2.ms, namespace={})
        counts = np.asarray(g.count[:]).reshape(self.n_groups, n)
        return counts.sum(1) / n / (self.p.pulse_ms / 1000.0)
