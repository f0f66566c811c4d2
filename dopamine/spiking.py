"""A spiking dopamine population (brian2): tonic firing, bursts and pauses driven by the RPE.

The meta-RL learning stays in torch; this module renders the circuit's δ as the activity of
~40 leaky integrate-and-fire DA neurons (Schultz 1997; Bayer & Glimcher 2005; Eshel et al.
2016: ≈ 4 Hz tonic firing, bursts for δ > 0, pauses for δ < 0 — bounded by zero, hence
asymmetric).

Model (each neuron)::

    dv/dt = (−v + I_tonic + k_rpe·δ(t)) / τ_m + σ·√(2/τ_m)·ξ(t),   spike when v > v_th, v → 0,
    refractory 2 ms

with τ_m 20 ms, I_tonic 11 mV, σ 4.5 mV, k_rpe 9 mV and v_th 20 mV (the current values are
those measured in ``shared/SPIKING.md``; the threshold was set here so that tonic firing is
3–5 Hz; calibrated once on the f–I curve, :func:`calibrate`). δ(t) is the agent step's δ, held
for ``pulse_ms`` (175 ms) from the step's event time, 0 otherwise.

Time base: one agent step lasts ``step_ms`` (500 ms) of biological time; its δ (the TD error
of that step, the transition it reports) starts at ``pulse_onset_ms`` into the step. DA
concentration at the PFC target: the population rate relative to tonic, low-pass filtered with
τ_DA = 200 ms (1 = tonic level) — a simulated voltammetry trace.

The numpy target needs no compiler (used by the tests); set ``target="cython"`` for speed where
a compiler exists (the first build is slow, then cached).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class DAParams:
    n_neurons: int = 40  #: DA neurons in the population
    tau_m_ms: float = 20.0  #: membrane time constant
    v_threshold_mV: float = 20.0  #: spike threshold above rest (reset to rest)
    refractory_ms: float = 2.0  #: absolute refractory period
    i_tonic_mV: float = 11.0  #: tonic drive (as a voltage: current × membrane resistance)
    sigma_mV: float = 4.5  #: membrane noise SD (irregular tonic firing)
    k_rpe_mV: float = 9.0  #: drive per unit of δ during its pulse
    pulse_ms: float = 175.0  #: duration of the δ current pulse
    step_ms: float = 500.0  #: biological duration of one agent step
    pulse_onset_ms: float = 0.0  #: the pulse's start within its step (the step's event time)
    tau_da_ms: float = 200.0  #: DA concentration time constant at the target
    dt_ms: float = 0.1  #: integration step

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Opto:
    """Light on the DA population: ChR2 (depolarising) or ArchT/NpHR (hyperpolarising) current
    in a random ``expression`` fraction of the neurons, as pulse trains (``frequency_hz``,
    ``width_ms``; frequency 0 = continuous light) lasting ``duration_ms`` from ``onset_ms``
    into each agent step listed in ``steps`` (indices into the rendered δ sequence)."""

    kind: str = "chr2"  #: chr2 | archt | nphr
    steps: tuple = ()  #: the agent steps (indices) that get light
    onset_ms: float = 0.0  #: light onset within each of those steps
    duration_ms: float = 175.0  #: light duration per step
    frequency_hz: float = 20.0  #: pulse frequency (0: continuous)
    width_ms: float = 5.0  #: pulse width
    amplitude_mV: float = 30.0  #: current amplitude (as a voltage), sign set by ``kind``
    expression: float = 1.0  #: fraction of neurons expressing the opsin
    seed: int = 0  #: draws the expressing neurons

    def __post_init__(self):
        if self.kind not in ("chr2", "archt", "nphr"):
            raise ValueError(f"opto kind: expected 'chr2', 'archt' or 'nphr', got {self.kind!r}")
        if not 0.0 <= self.expression <= 1.0:
            raise ValueError(f"opto expression: expected a fraction in [0, 1], got {self.expression}")
        if self.frequency_hz < 0 or self.width_ms <= 0 or self.duration_ms < 0:
            raise ValueError("opto: frequency ≥ 0, width > 0 and duration ≥ 0 expected")

    def light(self, n_ms: int, step_ms: float) -> np.ndarray:
        """[n_ms] light on (1) / off (0) in 1-ms bins."""
        on = np.zeros(n_ms)
        t = np.arange(int(round(self.duration_ms)))
        if self.frequency_hz > 0:
            pulses = (t % (1000.0 / self.frequency_hz)) < self.width_ms
        else:
            pulses = np.ones(len(t), bool)
        for k in self.steps:
            start = int(round(k * step_ms + self.onset_ms))
            idx = start + t[pulses]
            on[idx[idx < n_ms]] = 1.0
        return on

    def mask(self, n_neurons: int) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        m = np.zeros(n_neurons)
        m[rng.permutation(n_neurons)[:int(round(self.expression * n_neurons))]] = 1.0
        return m


@dataclass
class DARender:
    """Spikes and derived signals of one rendered session (numpy)."""

    spike_times_s: np.ndarray  #: [n_spikes] seconds from session start
    spike_neurons: np.ndarray  #: [n_spikes] neuron index
    step_rate_hz: np.ndarray  #: [n_steps] population rate during each step's pulse window
    concentration: np.ndarray  #: [n_ms] DA concentration at the target, 1 ms bins (1 = tonic)
    params: DAParams = field(default_factory=DAParams)


def simulate(deltas, params: DAParams = DAParams(), seed: int = 0, target: str = "numpy",
             tonic_rate_hz: float | None = None, opto=(), lesion_fraction: float = 0.0,
             d1_gain: float = 1.0) -> DARender:
    """Render one session: ``deltas`` [n_steps] (the circuit's δ per agent step, in order)
    drive the population; returns its spikes, the rate in each step's pulse window and the DA
    concentration trace. ``tonic_rate_hz`` normalises the concentration (default: the rate
    outside pulse windows in this very run). ``opto``: :class:`Opto` light on the neurons;
    ``lesion_fraction``: that fraction of the neurons silenced (a DA lesion); ``d1_gain``: a
    D1 antagonist as a gain on the DA effect at the target, c_eff = 1 + gain·(c − 1)."""
    import brian2 as b2

    deltas = np.asarray(deltas, dtype=float).reshape(-1)
    if deltas.size == 0 or not np.all(np.isfinite(deltas)):
        raise ValueError("deltas: expected a non-empty 1-D array of finite RPEs")
    p = params
    if p.pulse_onset_ms < 0 or p.pulse_onset_ms + p.pulse_ms > p.step_ms:
        raise ValueError("pulse_onset_ms + pulse_ms must fit in step_ms")
    n_ms = int(round(len(deltas) * p.step_ms))
    t_ms = np.arange(n_ms)
    step = (t_ms // p.step_ms).astype(int)
    within = t_ms - step * p.step_ms
    in_pulse = (within >= p.pulse_onset_ms) & (within < p.pulse_onset_ms + p.pulse_ms)
    drive = np.where(in_pulse, deltas[step], 0.0)

    b2.start_scope()
    b2.prefs.codegen.target = target
    b2.seed(seed)
    b2.defaultclock.dt = p.dt_ms * b2.ms
    if not 0.0 <= lesion_fraction <= 1.0:
        raise ValueError(f"lesion_fraction: expected a fraction in [0, 1], got {lesion_fraction}")
    opto_drive = np.zeros((n_ms, p.n_neurons))
    for o in opto:
        sign = 1.0 if o.kind == "chr2" else -1.0
        opto_drive += sign * o.amplitude_mV * np.outer(o.light(n_ms, p.step_ms), o.mask(p.n_neurons))
    alive = np.ones(p.n_neurons)
    alive[np.random.default_rng(seed + 17).permutation(p.n_neurons)[:int(round(lesion_fraction * p.n_neurons))]] = 0.0
    ns = {"tau_m": p.tau_m_ms * b2.ms, "i_tonic": p.i_tonic_mV * b2.mV, "sigma": p.sigma_mV * b2.mV,
          "k_rpe": p.k_rpe_mV * b2.mV, "v_th": p.v_threshold_mV * b2.mV,
          "rpe": b2.TimedArray(drive, dt=1 * b2.ms),
          "opto": b2.TimedArray(opto_drive * b2.mV, dt=1 * b2.ms)}
    group = b2.NeuronGroup(
        p.n_neurons, "dv/dt = (-v + i_tonic + k_rpe*rpe(t) + opto(t, i)) / tau_m "
                     "+ sigma*sqrt(2/tau_m)*xi : volt\nalive : 1 (constant)",
        threshold="v > v_th and alive > 0", reset="v = 0*mV", refractory=p.refractory_ms * b2.ms,
        method="euler", namespace=ns)
    group.alive = alive
    group.v = "rand() * v_th"
    mon = b2.SpikeMonitor(group)
    net = b2.Network(group, mon)
    net.run(n_ms * b2.ms, namespace={})
    times = np.asarray(mon.t / b2.second, dtype=float)
    neurons = np.asarray(mon.i[:], dtype=np.int32)

    ms_bins = np.bincount(np.minimum((times * 1000).astype(int), n_ms - 1), minlength=n_ms)
    pop_rate = ms_bins / p.n_neurons * 1000.0  # Hz, 1-ms bins
    counts = np.bincount(step[in_pulse], weights=pop_rate[in_pulse], minlength=len(deltas))
    win = counts / np.maximum(np.bincount(step[in_pulse], minlength=len(deltas)), 1)
    if tonic_rate_hz is None:
        tonic_rate_hz = float(pop_rate[~in_pulse].mean()) if (~in_pulse).any() else float(pop_rate.mean())
    conc = _low_pass(pop_rate / max(tonic_rate_hz, 1e-9), p.tau_da_ms)
    conc = 1.0 + d1_gain * (conc - 1.0)
    return DARender(times, neurons, win, conc, p)


def _low_pass(x: np.ndarray, tau_ms: float) -> np.ndarray:
    """First-order low-pass filter (1-ms bins), starting at the tonic level 1."""
    from scipy.signal import lfilter

    a = np.exp(-1.0 / tau_ms)
    y, _ = lfilter([1 - a], [1, -a], x, zi=[a])
    return y


@dataclass(frozen=True)
class Calibration:
    """The population's transfer function δ → pulse-window rate, measured once (f–I curve)."""

    deltas: tuple  #: the δ grid
    rates_hz: tuple  #: mean pulse-window rate at each δ
    tonic_hz: float  #: rate at δ = 0

    def decode(self, rates_hz) -> np.ndarray:
        """Effective RPE from pulse-window rates: the inverse of the (monotone) measured
        curve, by linear interpolation (saturating at the grid's ends)."""
        r = np.asarray(self.rates_hz, float)
        d = np.asarray(self.deltas, float)
        order = np.argsort(r)
        return np.interp(np.asarray(rates_hz, float), r[order], d[order])


def calibrate(params: DAParams = DAParams(), grid=(-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0),
              repeats: int = 8, seed: int = 0, target: str = "numpy") -> Calibration:
    """Measure the f–I curve: each δ of ``grid`` ``repeats`` times, in one simulation."""
    grid = tuple(float(g) for g in grid)
    seq = np.repeat(np.array(grid), repeats)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(seq))
    res = simulate(seq[order], params, seed=seed, target=target)
    rates = np.zeros(len(seq))
    rates[order] = res.step_rate_hz
    by = rates.reshape(len(grid), repeats).mean(1)
    return Calibration(grid, tuple(float(x) for x in by), float(by[grid.index(0.0)]) if 0.0 in grid else float("nan"))


def psth(spike_times_s, event_times_s, n_neurons: int, window_s=(-0.2, 0.6), bin_s: float = 0.02) -> dict:
    """Peri-stimulus time histogram: population firing rate (spikes/s per neuron) around each
    event, mean and sem over events. Returns ``{"t_s": bin centres, "rate": [n_bins],
    "sem": [n_bins], "per_event": [n_events, n_bins]}``."""
    spikes = np.sort(np.asarray(spike_times_s, float))
    events = np.asarray(event_times_s, float).reshape(-1)
    if len(events) == 0:
        raise ValueError("event_times_s: expected at least one event")
    edges = np.arange(window_s[0], window_s[1] + bin_s / 2, bin_s)
    counts = np.zeros((len(events), len(edges) - 1))
    for i, e in enumerate(events):
        lo, hi = np.searchsorted(spikes, [e + edges[0], e + edges[-1]])
        counts[i] = np.histogram(spikes[lo:hi] - e, bins=edges)[0]
    rate = counts / (bin_s * n_neurons)
    sem = rate.std(0, ddof=1) / np.sqrt(len(events)) if len(events) > 1 else np.full(rate.shape[1], np.nan)
    return {"t_s": (edges[:-1] + edges[1:]) / 2, "rate": rate.mean(0), "sem": sem, "per_event": rate}
