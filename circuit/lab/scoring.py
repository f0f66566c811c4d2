"""Trial-by-trial scoring of a frozen circuit on an animal's own choices (the practice of Miller
et al. and of disentangled RNNs), and a model comparison with classic models on held-out
sessions.

The animal's history — its choices, the transitions and outcomes it experienced — is forced
through the task's own step (teacher forcing, ``LabSpec.forcing``: the task replays the session
and the animal's actions are the policy), and the circuit's policy at each free choice gives the
likelihood of the animal's choice. The circuit's log-odds are scaled by one fitted inverse
temperature (animals are noisier than a trained network); the protocol's classic models
(``LabSpec.compare_models``) are fitted by maximum likelihood on the training sessions. All are
scored on held-out sessions: the normalised likelihood per trial, exp(mean log-likelihood),
0.5 = chance.
"""
from __future__ import annotations

import numpy as np

from pfcda import protocols
from pfcda.errors import ConfigError

from ..rollout import forcing, iter_batches


def _lab(circuit, what: str):
    spec = protocols.get(circuit.config.protocol)
    if spec.lab is None or getattr(spec.lab, what) is None:
        raise ConfigError(f"circuit: protocol {circuit.config.protocol!r} cannot score lab choices "
                          f"(its spec has no lab.{what})")
    return spec.lab


def log_odds(circuit, trials: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The circuit's log-odds of its protocol's second choice over the first (two-choice data:
    right over left) at every trial of a (ragged) lab trials table, with the animal's own
    history forced through the task; returns (z [sessions, trials], choice [sessions, trials]
    0/1 (−1 none), scored [sessions, trials])."""
    lab = _lab(circuit, "forcing")
    f = lab.forcing(trials, dict(circuit.config.task))
    task = circuit.make_task(**f.options)
    E = f.actions.shape[0]
    batch = next(iter_batches(circuit, task, E, seed=0, batch_size=E, policy=forcing(f.actions)))
    logits = batch.logits.numpy()
    step = np.minimum(np.asarray(f.choice_step), logits.shape[1] - 1)
    rows = np.arange(E)[:, None]
    z = (logits[rows, step, f.pair[1]] - logits[rows, step, f.pair[0]]).astype(np.float64)
    return z, np.asarray(f.choice), np.asarray(f.scored)


def model_comparison(circuit, trials: dict, seed: int = 0) -> dict:
    """The held-out comparison of the circuit with its protocol's classic models on a lab table
    (``pfcda compare --score``)."""
    lab = _lab(circuit, "compare_models")
    return lab.compare_models(lambda tr: log_odds(circuit, tr), trials, seed=seed,
                              task_options=circuit.make_task().config())


def classic_fit(protocol: str, trials: dict, seed: int = 0, task_options: dict | None = None) -> dict:
    """The protocol's classic models fitted by maximum likelihood to a trials table (the
    circuit's own choices, in the lab's coding), so their parameters sit beside the animals'."""
    spec = protocols.get(protocol)
    if spec.lab is None or spec.lab.fit_models is None:
        raise ConfigError(f"protocol {protocol!r} has no classic models to fit (lab.fit_models)")
    return spec.lab.fit_models(trials, seed=seed, task_options=task_options or {})
