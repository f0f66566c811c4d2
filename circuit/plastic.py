"""Sessions with plasticity on: a frozen circuit's experiment replayed with its slow, DA-gated
plasticity switched back on — the monkeys' repeated sessions, where a stimulation can teach.

With weights frozen, a stimulation acts only through what the PFC receives (the ``da_input``
route: within a session, by the activity dynamics). Through the DA *teaching* signal it acts
only where weights learn. :func:`plastic_sessions` replays sessions of a protocol's task with
the trainer's own A2C step — the n-step advantage as the DA teaching signal gating the
plasticity of both the actor's policy and the critic's value — and a stimulation added to the
TD error at a named event of the task. A TD error at step t+k reaches the teaching signal of
every step t before it in the unroll as γ^k times itself (the identity A_t = Σ_k γ^k δ_{t+k} of
the n-step advantage), so the stimulation teaches the choice and the cue that led to it, as a
reward's RPE does. (A ``da_teaching`` manipulation gated by an event instead adds to that one
step's teaching signal, the trainer's per-step gate: measured on the Stauffer circuit, four
sessions at lr 1e-4 and 3e-5, it taught neither choice — P(paired) 0.45–0.50 — nor cue,
paired − other cue response ≤ 0.03, since the outcome step's own action and value carry no
choice.)

Counterbalanced, as an experimenter would: one learner per group of task options (e.g. which
cue is paired), all on the same sessions (the same task draws and action noise), so that a
preference the circuit brings or drifts into cancels when the groups are pooled. Before the
first session and after each one, the frozen learner is tested on the same fresh sessions (no
stimulation at test; common random numbers, so a difference between tests is the weights'):
what the weights carry, apart from any within-session learning. The protocol's analyses read
the tests' trials tables (e.g. :func:`pfcda.protocols.stauffer.analysis.sessions_summary`).

A session's plasticity runs on ``episodes`` parallel sessions (one batch; the monkeys ran one a
day): one update per ``t_max``-step unroll, Adam at ``lr``, no entropy bonus.
"""
from __future__ import annotations

import copy
import math

import torch

from pfcda.errors import ConfigError
from pfcda.pfc.plasticity import make_optimizer


def plastic_sessions(circuit, groups: list, event: str, stimulation: float, sessions: int = 6,
                     blocked: bool = False, lr: float = 3e-5, episodes: int = 32, test_episodes: int = 200,
                     seed: int = 0, t_max: int = 20, progress: bool = False) -> dict:
    """Replay ``sessions`` plastic sessions on one copy of ``circuit`` per group (a Circuit, a
    checkpoint path or a shipped name; the original is not changed).

    groups: a list of task-option dicts, one learner each (counterbalancing); event: the task's
    event whose TD error is stimulated; stimulation: the TD error added there (0: the sessions'
    rewards alone); blocked: the DA teaching signal blocked (nothing is learned).
    Returns ``{"tests": [[trials table of test k for k = 0 … sessions] per group], "config"}``;
    test k follows k plastic sessions (test 0: the circuit as given)."""
    from .io.checkpoint import load_checkpoint
    from .manipulations import Manipulated
    from .rollout import sampling, start
    from .run import run

    if not isinstance(sessions, int) or isinstance(sessions, bool) or sessions < 1:
        raise ConfigError(f"sessions: expected a positive integer, got {sessions!r}")
    if not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0):
        raise ConfigError(f"lr: expected a positive learning rate, got {lr!r}")
    if isinstance(stimulation, bool) or not isinstance(stimulation, (int, float)) or not math.isfinite(stimulation):
        raise ConfigError(f"stimulation: expected a number (the TD error added), got {stimulation!r}")
    if not groups or not all(isinstance(g, dict) for g in groups):
        raise ConfigError(f"groups: expected a non-empty list of task-option dicts, got {groups!r}")
    if isinstance(circuit, str):
        circuit, _ = load_checkpoint(circuit)
    probe = circuit.make_task(**groups[0])
    if event not in probe.events:
        raise ConfigError(f"event: expected one of the task's events {sorted(probe.events)}, got {event!r}")
    tests = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(groups) * sessions, desc="plastic sessions", unit="session")
    for options in groups:
        learner = copy.deepcopy(circuit)
        for p in learner.parameters():  # a loaded circuit is frozen; its copy learns again
            p.requires_grad_(True)
        task = learner.make_task(**options)
        torch.manual_seed(seed)
        g_task = torch.Generator().manual_seed(seed + 1)
        policy = sampling(torch.Generator().manual_seed(seed + 2))
        agent = Manipulated(learner, [], task, stage="train", batch_size=episodes)
        params = list(learner.parameters())
        opt = make_optimizer(params, "adam", lr)
        updates = -(-task.trials * task.steps_per_trial // t_max)
        tables = []

        def test():
            learner.train(False)
            tables.append(run(learner, episodes=test_episodes, seed=10_000 + seed, task_overrides=options).trials)

        test()
        for _ in range(sessions):
            learner.train(True)
            carry = start(agent, task, episodes, g_task)  # a new session: every episode starts afresh
            for _ in range(updates):
                opt.zero_grad(set_to_none=True)
                carry = _update(agent, task, carry, policy, t_max, learner.config.gamma, event,
                                float(stimulation), blocked)
                torch.nn.utils.clip_grad_norm_(params, 40.0)
                opt.step()
                carry = carry._replace(state=type(learner).detach_state(carry.state))
            test()
            if bar is not None:
                bar.update(1)
        tests.append(tables)
    if bar is not None:
        bar.close()
    return {"tests": tests,
            "config": {"groups": groups, "event": event, "stimulation": float(stimulation), "blocked": bool(blocked),
                       "sessions": sessions, "lr": lr, "episodes": episodes, "test_episodes": test_episodes,
                       "seed": seed, "t_max": t_max}}


def _update(agent, task, carry, policy, t_max: int, gamma: float, event: str, stimulation: float, blocked: bool):
    """One unroll and its A2C gradient (the trainer's reference step: the n-step advantage as the
    teaching signal, β_v 0.5, no entropy bonus), with ``stimulation`` added to the TD error of
    each step that is ``event`` and carried back to the earlier steps of its episode as
    γ^k × itself; ``blocked``: the whole teaching signal silenced."""
    from pfcda.dopamine.rpe import advantages, teaching_signal
    from pfcda.pfc.plasticity import a2c_loss

    from .rollout import env_step

    steps = []
    for t in range(t_max):
        carry, tr = env_step(agent, task, carry, policy, t)
        steps.append(tr)
    with torch.no_grad():
        bootstrap = agent.step(carry.obs, carry.prev_action, carry.prev_reward, carry.state,
                               agent.active(*task.clock())).value
    values = torch.stack([s.value for s in steps])
    dones = torch.stack([s.done for s in steps])
    adv, _ = advantages(torch.stack([s.reward for s in steps]), values, bootstrap, dones, gamma, 1.0)
    signal = teaching_signal(adv, 1.0)
    if stimulation:
        hit = torch.stack([task.events[event](s.action, s) for s in steps]).float() * stimulation
        carried = torch.zeros_like(hit[0])
        extra = torch.empty_like(hit)
        for t in range(t_max - 1, -1, -1):  # Σ_k γ^k s_{t+k} within the episode
            carried = hit[t] + gamma * carried * (~dones[t]).float()
            extra[t] = carried
        signal = signal + extra
    if blocked:
        signal = torch.zeros_like(signal)
    loss = a2c_loss(torch.stack([s.logits for s in steps]), values, torch.stack([s.action for s in steps]),
                    signal, 0.5, 0.0)
    loss.total.backward()
    return carry
