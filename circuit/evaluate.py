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


def iter_batches(circuit, task, n_episodes: int, seed: int = 0, batch_size: int = 1000,
                 params: dict | None = None, greedy: bool = False, lesion: dict | None = None,
                 record_units: bool = False, manipulations=None, closed_loop=None):
    """Run ``n_episodes`` fresh episodes of ``task`` with the circuit's weights frozen, yielding
    one dict per batch of episodes, each array [b, steps, ...] (torch tensors):
    ``obs``, ``actions``, ``rewards``, ``values``, ``policy`` (action probabilities), ``info``
    (the task's per-step info), ``params`` (the batch's episode parameters) and, with
    ``record_units``, the unit activity ``hidden`` (and ``cell`` for an LSTM).

    params: optional per-episode task parameters ({name: [n_episodes, …] tensor}); by default they
    are drawn from the task's distribution with ``seed``, so every agent given the same seed and
    task sees the same episodes. Episodes may differ in length: a batch runs until each of its
    episodes has ended once, and ``valid`` [b, steps] marks each episode's own steps (a prefix;
    steps after an episode's end belong to no recorded episode).
    lesion: optional ``{"units": [...], "inputs": [...]}`` (see :func:`pfc.lesions.lesioned`).
    manipulations: optional list of :class:`circuit.manipulations.Manipulation` (or dicts)
    acting at test; ``manip_active`` [b, steps, M] marks where each one acted. Actor-critic
    circuits also yield ``rpe_input`` [b, steps], the RPE their actor received.
    closed_loop: None, True or a dict of :class:`dopamine.closed_loop.ClosedLoop` options
    (``params``, ``rpe_scale`` — default the task's ``reward_scale`` —, ``seed``, ``target``):
    each step's RPE passes through the spiking DA population before reaching the actor
    (actor-critic circuits); ``da_rate_hz`` [b, steps] is then yielded too.
    """
    from .manipulations import Engine

    def make_loop(b, start):
        if not closed_loop:
            return None
        from dopamine.closed_loop import ClosedLoop

        opts = dict(closed_loop) if isinstance(closed_loop, dict) else {}
        opts.setdefault("rpe_scale", float(getattr(task, "reward_scale", 1.0)))
        opts["seed"] = opts.get("seed", seed) + start  # each batch its own DA noise
        return ClosedLoop(b, **opts)

    if closed_loop and circuit.critic is None:
        raise ValueError("closed_loop: the DA population's output reaches the PFC as the actor's DA "
                         "input, which needs an actor-critic circuit (architecture='actor_critic')")
    Engine(manipulations, circuit, task, stage="test", batch_size=1,
           closed_loop=_Stub() if closed_loop else None)  # validate before running
    if n_episodes < 1:
        raise ValueError(f"episodes: expected a positive integer, got {n_episodes}")
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size}")
    net = circuit.net
    ac = circuit.critic is not None
    g_task = torch.Generator().manual_seed(seed)
    g_act = torch.Generator().manual_seed(seed + 1_000_003)
    if params is None:
        params = task.sample_params(n_episodes, g_task)
    lesion = lesion or {}
    with torch.inference_mode(), lesioned(net, units=lesion.get("units", ()),
                                          inputs=lesion.get("inputs", ()),
                                          channel_names=circuit.input_channels()):
        for start in range(0, n_episodes, batch_size):
            b = min(batch_size, n_episodes - start)
            batch_params = {k: v[start:start + b] for k, v in params.items()}
            obs = task.reset(b, g_task, batch_params)
            loop = make_loop(b, start)
            engine = Engine(manipulations, circuit, task, stage="test", batch_size=b, closed_loop=loop)
            state = circuit.initial_state(b)
            prev_a = torch.full((b,), -1, dtype=torch.long)
            prev_r = torch.zeros(b)
            steps = {k: [] for k in ("obs", "actions", "rewards", "values", "policy", "info", "valid",
                                     "manip_active") + (("rpe_input",) if ac else ())
                     + (("da_rate_hz",) if loop is not None else ())}
            alive = torch.ones(b, dtype=torch.bool)
            if record_units:
                steps.update({k: [] for k in ("hidden", "cell")[:circuit._n_state]})
            while True:
                active = engine.active()
                o = circuit.step(obs, prev_a, prev_r, state, engine if engine.any else None, active)
                a = sample_actions(o.logits, g_act, greedy)
                res = task.step(a)
                engine.observe(a, res, res.done)
                steps["manip_active"].append(active)
                if ac:
                    steps["rpe_input"].append(o.rpe_input)
                if loop is not None:
                    steps["da_rate_hz"].append(torch.as_tensor(loop.last_rate_hz, dtype=torch.float32))
                for k, v in (("obs", obs), ("actions", a), ("rewards", res.reward),
                             ("values", o.value), ("policy", torch.softmax(o.logits, -1)),
                             ("info", res.info)):
                    steps[k].append(v)
                if record_units:
                    steps["hidden"].append(o.state[0])
                    if circuit._n_state > 1:
                        steps["cell"].append(o.state[1])
                steps["valid"].append(alive.clone())
                alive &= ~res.done
                if not bool(alive.any()):
                    break
                state = circuit.reset_where(o.state, res.done)
                prev_a = torch.where(res.done, -1, a)
                prev_r = torch.where(res.done, 0.0, res.reward)
                obs = res.obs
            infos = steps.pop("info")
            batch = {k: torch.stack(v, 1) for k, v in steps.items()}
            batch["info"] = {k: torch.stack([i[k] for i in infos], 1) for k in infos[0]}
            batch["params"] = batch_params
            yield batch


class _Stub:
    """Stands in for a closed loop while manipulations are validated (nothing is simulated)."""

    def __init__(self):
        from dopamine.spiking import DAParams

        self.p = DAParams()


def rollout(circuit, task, n_episodes: int, seed: int = 0, batch_size: int = 1000,
            params: dict | None = None, greedy: bool = False, lesion: dict | None = None) -> Rollout:
    """All episodes of :func:`iter_batches` gathered into numpy arrays [episodes, steps], with
    the weight hash before and after the run (episodes of equal length only)."""
    before = circuit.weight_hash()
    g = torch.Generator().manual_seed(seed)
    if params is None:
        params = task.sample_params(n_episodes, g)
    batches = list(iter_batches(circuit, task, n_episodes, seed, batch_size, params, greedy, lesion))
    if len({b["actions"].shape[1] for b in batches}) > 1 or not all(bool(b["valid"].all()) for b in batches):
        raise ValueError("rollout: episodes of different lengths; use iter_batches or circuit.run")
    cat = lambda k: torch.cat([b[k] for b in batches]).numpy()  # noqa: E731
    info = {k: torch.cat([b["info"][k] for b in batches]).numpy() for k in batches[0]["info"]}
    return Rollout(cat("actions"), cat("rewards"), cat("values"), info,
                   {k: v.numpy() for k, v in params.items()}, before, circuit.weight_hash())


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
