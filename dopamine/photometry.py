"""Simulated fiber photometry: from the model's dopamine signal to a ΔF/F trace on a recording's
time base (25 Hz, as Jeong et al. 2022's NAc dLight photometry in the bundled data).

Two routes, one kernel:

* **RPE route** (:func:`from_rpe`): the circuit's TD errors δ_t, each emitted when the next
  state is observed (the start of step t + 1; a step lasts the task's ``dt``), drive DA neurons
  as a burst (positive δ) or a pause (negative δ) of amplitude δ.
* **Spiking route** (:func:`from_concentration`): the rendered DA population (brian2, a
  ``pfcda spikes`` file) gives the dopamine concentration at the target (its rate, low-pass
  filtered by release and clearance, ``DAParams.tau_da_ms``); only the sensor stage follows.

The RPE drive is convolved with the **photometry kernel** (:class:`Kernel`): the DA neurons'
response latency and burst duration, release and clearance of dopamine at the target (an
exponential decay), and the sensor's binding kinetics (rise and decay). Its default values and
their sources:

=========================  =========  ===================================================
burst latency              0.05 s     Schultz 1998 (J Neurophysiol 80:1): DA responses to
                                      reward-predicting stimuli at 50–110 ms latency (the
                                      range's start: the recorded rise begins within 40 ms)
burst duration             0.15 s     Schultz 1998: phasic responses last < 200 ms
clearance time constant    0.3 s      a choice (not fitted): DAT uptake in the striatum
                                      clears a phasic release within a few hundred ms
sensor rise / decay        0.01/0.1 s dLight1.1 in vitro τ_on ≈ 10 ms, τ_off ≈ 90–100 ms
                                      (Patriarchi et al. 2018, Science 360:eaat4422);
                                      Jeong et al. used dLight1.3b, whose kinetics were not
                                      found for this module
=========================  =========  ===================================================

The result is in the drive's units (δ in reward units; concentration relative to tonic) scaled by ``gain``
(ΔF/F per unit drive, 1 by default): a TD model predicts the *shape* and the *relative* sizes of
the responses, not the sensor's % ΔF/F. Comparisons with recorded traces use scale-free
statistics (ratios, latencies, correlations); an overlay states the one gain it fits.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pfcda.errors import ConfigError

RATE_HZ = 25.0  #: the bundled recordings' sampling rate


@dataclass(frozen=True)
class Kernel:
    """The photometry kernel's parameters (seconds; see the module's table)."""

    latency_s: float = 0.05
    burst_s: float = 0.15
    clearance_s: float = 0.3
    sensor_rise_s: float = 0.01
    sensor_decay_s: float = 0.1
    gain: float = 1.0

    def __post_init__(self):
        for k, v in asdict(self).items():
            if not isinstance(v, (int, float)) or not np.isfinite(v) or (v <= 0 and k not in ("latency_s", "gain")) \
                    or (k == "latency_s" and v < 0):
                raise ConfigError(f"photometry kernel: {k}: expected a positive number of seconds, got {v!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def sensor(self, t: np.ndarray) -> np.ndarray:
        """The sensor's binding kinetics on the grid ``t`` (a difference of exponentials,
        normalised to sum 1)."""
        rise, decay = self.sensor_rise_s, self.sensor_decay_s
        h = (np.exp(-t / decay) - np.exp(-t / rise)) if decay != rise else t * np.exp(-t / decay)
        return h / h.sum()

    def impulse_response(self, rate_hz: float = RATE_HZ, length_s: float = 5.0) -> np.ndarray:
        """The trace one unit of drive at t = 0 produces, sampled at ``rate_hz`` from t = 0
        (computed on a 1-ms grid and averaged into the samples, as a photometry system's
        integration window does)."""
        fine = 1e-3
        t = np.arange(0.0, length_s, fine)
        burst = ((t >= self.latency_s) & (t < self.latency_s + self.burst_s)).astype(float) / self.burst_s
        release = np.exp(-t / self.clearance_s)
        sensor = self.sensor(t)
        k = np.convolve(np.convolve(burst, release)[: len(t)] * fine, sensor)[: len(t)]
        per = int(round(1.0 / (rate_hz * fine)))
        n = len(t) // per
        return self.gain * k[: n * per].reshape(n, per).mean(1)


def _convolve(drive: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    from scipy.signal import fftconvolve

    return fftconvolve(drive, kernel[None, :], axes=1)[:, : drive.shape[1]]


def from_rpe(delta: np.ndarray, episode: np.ndarray, step: np.ndarray, dt: float,
             kernel: Kernel | None = None, rate_hz: float = RATE_HZ) -> np.ndarray:
    """Simulated ΔF/F [episodes, samples] (episodes in sorted order of ``episode``; sample k at
    k / rate_hz seconds from each episode's start) from per-step TD errors: ``delta``,
    ``episode`` and ``step`` [n] as in a recording's ``steps/`` (δ of step t is emitted at
    (t + 1)·dt). Vectorised over episodes (one FFT convolution)."""
    kernel = kernel or Kernel()
    delta, episode, step = (np.asarray(a) for a in (delta, episode, step))
    if not (delta.shape == episode.shape == step.shape) or delta.ndim != 1:
        raise ConfigError("photometry: delta, episode and step must be 1-D arrays of one length")
    if not dt > 0:
        raise ConfigError(f"photometry: dt: expected seconds per step > 0, got {dt!r}")
    eps, idx = np.unique(episode, return_inverse=True)
    n_samples = int(np.ceil((step.max() + 2) * dt * rate_hz)) + 1 if len(step) else 1
    drive = np.zeros((len(eps), n_samples))
    at = np.round((step + 1) * dt * rate_hz).astype(np.int64)
    np.add.at(drive, (idx, np.minimum(at, n_samples - 1)), delta.astype(float))
    return _convolve(drive, kernel.impulse_response(rate_hz))


def from_concentration(conc: np.ndarray, bin_s: float = 0.01, kernel: Kernel | None = None,
                       rate_hz: float = RATE_HZ) -> np.ndarray:
    """Simulated ΔF/F [samples] from the spiking DA population's dopamine concentration at the
    target (a ``pfcda spikes`` file's ``da/concentration_10ms``: 1 = tonic, on bins of
    ``bin_s``, release and clearance already in it): its excess over tonic seen through the
    sensor's kinetics, averaged into the ``rate_hz`` samples (sample k at k / rate_hz s of the
    spikes file's time base)."""
    kernel = kernel or Kernel()
    c = np.asarray(conc, float).reshape(-1)
    if not bin_s > 0:
        raise ConfigError(f"photometry: bin_s: expected seconds > 0, got {bin_s!r}")
    t = np.arange(0.0, 10 * kernel.sensor_decay_s + 5 * kernel.sensor_rise_s, bin_s)
    seen = _convolve((c - 1.0)[None, :], kernel.sensor(t))[0] * kernel.gain
    per = max(int(round(1.0 / (rate_hz * bin_s))), 1)
    n = len(seen) // per
    return seen[: n * per].reshape(n, per).mean(1)


def aligned(trace: np.ndarray, row: np.ndarray, onset_s: np.ndarray, pre_s: float = 2.0,
            post_s: float = 3.0, rate_hz: float = RATE_HZ) -> np.ndarray:
    """Event-aligned windows [n, samples] of ``trace`` [episodes, samples]: for each event, the
    episode row ``row`` and the event's time ``onset_s``; sample ``round(pre_s·rate_hz)`` is
    the event (the bundled files' layout: 2 s before, 3 s after the cue, 125 samples). Samples
    outside the episode are NaN."""
    pre, post = int(round(pre_s * rate_hz)), int(round(post_s * rate_hz))
    centre = np.round(np.asarray(onset_s) * rate_hz).astype(np.int64)
    cols = centre[:, None] + np.arange(-pre, post)[None, :]
    ok = (cols >= 0) & (cols < trace.shape[1])
    out = np.full(cols.shape, np.nan)
    rows = np.broadcast_to(np.asarray(row)[:, None], cols.shape)
    out[ok] = trace[rows[ok], cols[ok]]
    return out
