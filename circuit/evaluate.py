"""Frozen-weight evaluation: run a circuit on fresh episodes with no optimiser anywhere.

Within-episode learning at test comes only from the network's activity dynamics: the weights are
frozen (``requires_grad`` off, ``torch.inference_mode``), and the SHA-256 of the weights taken
before and after the run is returned so that callers (and tests) can prove it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pfc.lesions import lesioned


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


def sample_actions(logits: torch.Tensor, generator: torch.Generator, greedy: bool = False):
    if greedy:
        return logits.argmax(-1)
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(-1)


@torch.inference_mode()
def rollout(circuit, task, n_episodes: int, seed: int = 0, batch_size: int = 1000,
            params: dict | None = None, greedy: bool = False, lesion: dict | None = None) -> Rollout:
    """Run ``n_episodes`` fresh episodes of ``task`` with the circuit's weights frozen.

    params: optional per-episode task parameters ({name: [n_episodes, …] tensor}); by default they
    are drawn from the task's distribution with ``seed``, so every agent given the same seed and
    task sees the same episodes. Episodes of one batch must share their length.
    lesion: optional ``{"units": [...], "inputs": [...]}`` (see :func:`pfc.lesions.lesioned`).
    """
    if n_episodes < 1:
        raise ValueError(f"episodes: expected a positive integer, got {n_episodes}")
    net = circuit.net
    before = net.weight_hash()
    g_task = torch.Generator().manual_seed(seed)
    g_act = torch.Generator().manual_seed(seed + 1_000_003)
    if params is None:
        params = task.sample_params(n_episodes, g_task)
    lesion = lesion or {}
    out = {"actions": [], "rewards": [], "values": [], "info": []}
    with lesioned(net, units=lesion.get("units", ()), inputs=lesion.get("inputs", ()),
                  channel_names=circuit.input_channels()):
        for start in range(0, n_episodes, batch_size):
            b = min(batch_size, n_episodes - start)
            obs = task.reset(b, g_task, {k: v[start:start + b] for k, v in params.items()})
            state = net.initial_state(b)
            prev_a = torch.full((b,), -1, dtype=torch.long)
            prev_r = torch.zeros(b)
            steps = {"actions": [], "rewards": [], "values": [], "info": []}
            while True:
                o = net.step(net.make_input(obs, prev_a, prev_r), state)
                a = sample_actions(o.logits, g_act, greedy)
                res = task.step(a)
                steps["actions"].append(a)
                steps["rewards"].append(res.reward)
                steps["values"].append(o.value)
                steps["info"].append(res.info)
                if bool(res.done.all()):
                    break
                if bool(res.done.any()):
                    raise ValueError("rollout: episodes of one batch must have the same length")
                state, prev_a, prev_r, obs = o.state, a, res.reward, res.obs
            for k in ("actions", "rewards", "values"):
                out[k].append(torch.stack(steps[k], 1))
            out["info"].append({k: torch.stack([i[k] for i in steps["info"]], 1)
                                for k in steps["info"][0]})
    after = net.weight_hash()
    info = {k: torch.cat([i[k] for i in out["info"]]).numpy() for k in out["info"][0]}
    return Rollout(torch.cat(out["actions"]).numpy(), torch.cat(out["rewards"]).numpy(),
                   torch.cat(out["values"]).numpy(), info,
                   {k: v.numpy() for k, v in params.items()}, before, after)


def summarize(x: np.ndarray) -> dict:
    """Mean and standard error of the mean of per-episode values."""
    x = np.asarray(x, dtype=float)
    sem = float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")
    return {"mean": float(x.mean()), "sem": sem}


def evaluate_bandit(circuit, episodes: int = 2000, seed: int = 0, task_overrides: dict | None = None,
                    agents=("bayes_optimal", "gittins", "thompson", "ucb1"), greedy: bool = False,
                    lesion: dict | None = None) -> dict:
    """Regret at the last trial of the circuit and of the reference agents, on the same episodes:
    the same arm probabilities and the same reward tape (common random numbers).

    Returns the JSON-ready object of ``pfcda evaluate --json``.
    """
    from protocols import bandit_agents

    task = circuit.make_task(**(task_overrides or {}))
    g = torch.Generator().manual_seed(seed)
    params = task.sample_params(episodes, g, outcomes=True)
    ro = rollout(circuit, task, episodes, seed=seed, params=params, greedy=greedy, lesion=lesion)
    if ro.hash_before != ro.hash_after:  # cannot happen without an optimiser; proves it
        raise RuntimeError("evaluate: the weights changed during a frozen run")
    regret = ro.info["regret"].sum(1)
    result = {"episodes": episodes, "seed": seed, "trials": task.trials, "arms": task.arms,
              "variant": task.variant, "weight_hash": ro.hash_after,
              "agents": {"circuit": _regret_entry(regret)}}
    probs, outcomes = params["probs"].numpy(), params["outcomes"].numpy()
    for name in agents:
        if not bandit_agents.available(name, task):
            continue
        r = bandit_agents.run_agent(name, probs, task.trials, seed=seed + 7, variant=task.variant,
                                    outcomes=outcomes)
        result["agents"][name] = _regret_entry(r)
    return result


def _regret_entry(regret: np.ndarray) -> dict:
    s = summarize(regret)
    return {"regret": s["mean"], "regret_sem": s["sem"]}
