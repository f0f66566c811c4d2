"""Frozen-weight evaluation against the limit of behaviour: the bandit regret of a circuit beside
the Bayes-optimal agent, Gittins indices, Thompson sampling and UCB1 on the same episodes.

Within-episode learning at test comes only from the network's activity dynamics: the weights are
frozen (``requires_grad`` off, ``torch.inference_mode``), and the SHA-256 of the weights taken
before and after the run is checked.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pfcda.errors import ConfigError
from pfcda.protocols.bandit import agents as bandit_agents

from .rollout import iter_batches


@dataclass
class Rollout:
    """Per-episode, per-step results of a frozen run (numpy, [episodes, steps])."""

    actions: np.ndarray
    rewards: np.ndarray
    values: np.ndarray
    info: dict  # task info arrays, [episodes, steps, ...]
    params: dict  # per-episode task parameters, [episodes, ...]
    hash_before: str
    hash_after: str


def rollout(circuit, task, n_episodes: int, seed: int = 0, batch_size: int = 1000,
            params: dict | None = None, greedy: bool = False, manipulations=None) -> Rollout:
    """All episodes of :func:`~pfcda.circuit.rollout.iter_batches` gathered into numpy arrays
    [episodes, steps], with the weight hash before and after the run (episodes of equal length
    only)."""
    before = circuit.weight_hash()
    if params is None:
        params = task.sample_test_params(n_episodes, torch.Generator().manual_seed(seed))
    batches = list(iter_batches(circuit, task, n_episodes, seed, batch_size, params, greedy,
                                manipulations=manipulations))
    if len({b.shape[1] for b in batches}) > 1 or not all(bool(b.valid.all()) for b in batches):
        raise ValueError("rollout: episodes of different lengths; use iter_batches or circuit.run")
    cat = lambda k: torch.cat([getattr(b, k) for b in batches]).numpy()  # noqa: E731
    info = {k: torch.cat([b.info[k] for b in batches]).numpy() for k in batches[0].info}
    return Rollout(cat("action"), cat("reward"), cat("value"), info,
                   {k: v.numpy() for k, v in params.items()}, before, circuit.weight_hash())


def summarize(x: np.ndarray) -> dict:
    """Mean and standard error of the mean of per-episode values."""
    x = np.asarray(x, dtype=float)
    sem = float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")
    return {"mean": float(x.mean()), "sem": sem}


def evaluate_bandit(circuit, episodes: int = 2000, seed: int = 0, task_overrides: dict | None = None,
                    agents=("bayes_optimal", "gittins", "thompson", "ucb1"), greedy: bool = False,
                    manipulations=None) -> dict:
    """Regret at the last trial of the circuit and of the reference agents, on the same episodes:
    the same arm probabilities and the same reward tape (common random numbers).

    Returns the JSON-ready object of ``pfcda evaluate --json``.
    """
    if circuit.config.protocol != "bandit":
        raise ConfigError(f"evaluate: regret evaluation is for bandit circuits; this is a "
                          f"{circuit.config.protocol!r} circuit")
    task = circuit.make_task(**(task_overrides or {}))
    ro = rollout(circuit, task, episodes, seed=seed, greedy=greedy, manipulations=manipulations)
    params = ro.params  # the episodes pfcda run draws for this seed, with their reward tape
    if ro.hash_before != ro.hash_after:  # cannot happen without an optimiser; proves it
        raise RuntimeError("evaluate: the weights changed during a frozen run")
    regret = ro.info["regret"].sum(1)
    result = {"episodes": episodes, "seed": seed, "trials": task.trials, "arms": task.arms,
              "variant": task.variant, "weight_hash": ro.hash_after,
              "agents": {"circuit": _regret_entry(regret)}}
    probs, outcomes = params["probs"], params["outcomes"]
    for name in agents:
        if not bandit_agents.available(name, task):
            continue
        r = bandit_agents.run_agent(name, probs, task.trials, seed=seed + 7, variant=task.variant,
                                    outcomes=outcomes)
        result["agents"][name] = _regret_entry(r)
    return result


def evaluate_bandit_seeds(circuit, seeds, episodes: int = 2000, **kw) -> dict:
    """:func:`evaluate_bandit` on each episode seed of ``seeds``, and the spread over the seeds:
    per agent the mean over seeds of the mean regret, its standard deviation across seeds, and
    the ratio to the Bayes-optimal agent on the same episodes (mean, min, max over seeds).

    Returns the JSON-ready object of ``pfcda evaluate --seeds … --json`` (``per_seed``: each
    seed's :func:`evaluate_bandit` result)."""
    seeds = list(seeds)
    if not seeds:
        raise ConfigError("seeds: expected at least one episode seed")
    runs = [evaluate_bandit(circuit, episodes=episodes, seed=s, **kw) for s in seeds]
    first = runs[0]
    agents = {}
    for name in first["agents"]:
        regret = np.array([r["agents"][name]["regret"] for r in runs])
        entry = {"regret": float(regret.mean()),
                 "regret_sd": float(regret.std(ddof=1)) if len(regret) > 1 else float("nan")}
        if "bayes_optimal" in first["agents"]:
            ratio = regret / np.array([r["agents"]["bayes_optimal"]["regret"] for r in runs])
            entry.update(ratio=float(ratio.mean()), ratio_min=float(ratio.min()), ratio_max=float(ratio.max()))
        agents[name] = entry
    return {"episodes": episodes, "seeds": seeds, "trials": first["trials"], "arms": first["arms"],
            "variant": first["variant"], "weight_hash": first["weight_hash"], "agents": agents,
            "per_seed": runs}


def _regret_entry(regret: np.ndarray) -> dict:
    s = summarize(regret)
    return {"regret": s["mean"], "regret_sem": s["sem"]}
