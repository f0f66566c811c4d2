"""Meta-training: dopamine-gated slow plasticity across many episodes (synchronous A2C).

Read top to bottom (CleanRL style). B episodes run in parallel as one tensor batch through the
one agent–environment step (:func:`pfcda.circuit.rollout.env_step`); every ``t_max`` steps the
dopamine module turns the unroll's rewards and values into the n-step advantage, gates it
(``da_gain``, and any ``da_teaching`` manipulation), and the plasticity rule updates the PFC
weights by backpropagation through time over the unroll. The recurrent state is carried across
unrolls (truncated BPTT) and reset to the learned initial state when an episode ends.

Outputs: the trained checkpoint is written to ``out`` only when training completes. Periodic
checkpoints, and the one written when the run is interrupted (Ctrl-C, SIGTERM: between two
updates, :mod:`pfcda.circuit.signals`), go to their own file, :func:`resume_path` (``OUT`` with
``.resume.pt``), which holds everything the run needs to go on — weights, optimiser, random
generators and the rollout itself (the episodes in flight, the network state, the task's state)
— so that ``--resume`` continues bit for bit as if never stopped (tested).
"""
from __future__ import annotations

import dataclasses
import math
import os
import time

import torch

from pfcda.dopamine.rpe import advantages, teaching_signal
from pfcda.errors import CheckpointError
from pfcda.pfc.plasticity import a2c_loss, make_optimizer

from . import signals
from .agent import Circuit
from .config import TrainConfig
from .io.atomic import check_outputs, ensure_space
from .io.checkpoint import read_checkpoint, save_checkpoint
from .manipulations import Manipulated
from .provenance import provenance
from .rollout import Carry, env_step, iter_batches, sampling, start

#: Training-config fields that may differ between a run and the one it resumes.
RESUMABLE_CHANGES = ("eval_every", "eval_episodes", "eval_task", "eval_claims", "checkpoint_every", "threads")


def resume_path(out: str) -> str:
    """Where training keeps its resumable checkpoint for the output ``out``."""
    root, ext = os.path.splitext(out)
    return f"{root if ext == '.pt' else out}.resume.pt"


def check_resume(cfg: TrainConfig, path: str):
    """The resumable checkpoint at ``path``, checked to continue ``cfg`` (before any work)."""
    ck = read_checkpoint(path)
    _check_resumable(cfg, ck, path)
    return ck


def _check_resumable(cfg: TrainConfig, ck, path: str) -> None:
    if ck.protocol != cfg.circuit.protocol:
        raise CheckpointError(f"--resume: {path} is a {ck.protocol!r} checkpoint; this training is "
                              f"{cfg.circuit.protocol!r}")
    if ck.resume is None or "carry" not in ck.resume:
        raise CheckpointError(f"--resume: {path} holds no resumable state (a shipped checkpoint keeps "
                              f"none); resume from a checkpoint pfcda train wrote (its output, or the "
                              f".resume.pt an interrupted run left)")
    if ck.circuit_config != dataclasses.asdict(cfg.circuit):
        proto = ck.circuit_config.get("protocol")
        raise CheckpointError(f"--resume: {path} is a {proto!r} circuit of another configuration "
                              f"({ck.circuit_config}); this training is {dataclasses.asdict(cfg.circuit)}")
    mine, theirs = cfg.to_dict(), dict(ck.train_config or {})
    theirs.setdefault("engine", "autograd")  # checkpoints from before the engine field: autograd's
    diff = sorted(k for k in mine if k not in RESUMABLE_CHANGES and k != "circuit" and theirs.get(k) != mine[k])
    if diff == ["steps"]:  # a larger budget continues the same run when no schedule depends on it
        if mine["steps"] < theirs.get("steps", 0):
            raise CheckpointError(f"--resume: {path} was trained for {theirs['steps']:,} steps; steps "
                                  f"({mine['steps']:,}) may only grow")
        annealed = [k for k in ("lr_final", "beta_e_final") if mine.get(k) is not None]
        if not annealed:
            return
        raise CheckpointError(f"--resume: {path} anneals {', '.join(annealed)} over its budget of "
                              f"{theirs['steps']:,} steps; a larger budget would change that schedule, so "
                              f"steps cannot change (train afresh with the larger budget)")
    if diff:
        raise CheckpointError(f"--resume: {path} was trained with other settings ({', '.join(diff)}); "
                              f"resume with the same configuration (only {', '.join(RESUMABLE_CHANGES)} "
                              f"may change)")


def _anneal(start_value: float, end: float | None, frac: float) -> float:
    return start_value if end is None else start_value + (end - start_value) * frac


def evaluate_score(circuit, episodes: int, seed: int, task_options: dict | None = None) -> dict:
    """Frozen-weight score used during training: mean episode return, mean regret where the
    task reports it, and the task's own per-episode scores (``Task.score``); episodes may differ
    in length."""
    task = circuit.make_task(**(task_options or {}))
    was_training = circuit.training
    total = {"return": 0.0}
    for b in iter_batches(circuit, task, episodes, seed=seed):
        valid = b.valid.float()
        total["return"] += float((b.reward * valid).sum())
        if "regret" in b.info:
            total["regret"] = total.get("regret", 0.0) + float((b.info["regret"] * valid).sum())
        for k, v in task.score(b).items():
            total[k] = total.get(k, 0.0) + v
    circuit.train(was_training)
    return {k: v / episodes for k, v in total.items()}


def _autograd_update(cfg, agent, task, carry, policy, beta_e):
    """One unroll and its loss, every step through autograd (the reference engine)."""
    # ---- unroll T steps of B episodes (the fast, activity-based loop) ----
    steps = []
    for t in range(cfg.t_max):
        carry, tr = env_step(agent, task, carry, policy, t)
        steps.append(tr)
    with torch.no_grad():
        bootstrap = agent.step(carry.obs, carry.prev_action, carry.prev_reward, carry.state,
                               agent.active(*task.clock())).value

    # ---- dopamine: the n-step advantage, gated; plasticity: the A2C update ----
    values_t = torch.stack([s.value for s in steps])
    adv, _ = advantages(torch.stack([s.reward for s in steps]), values_t, bootstrap,
                        torch.stack([s.done for s in steps]), cfg.circuit.gamma, cfg.gae_lambda)
    signal = teaching_signal(adv, cfg.da_gain)
    if steps[0].teaching_active is not None:
        signal = agent.teaching(signal, torch.stack([s.teaching_active for s in steps]))
    loss = a2c_loss(torch.stack([s.logits for s in steps]), values_t,
                    torch.stack([s.action for s in steps]), signal, cfg.beta_v, beta_e)
    loss.total.backward()
    return carry, loss


def fused_applies(cfg: TrainConfig, circuit: Circuit, agent: Manipulated) -> bool:
    """Whether the fused engine trains this configuration: a single LSTM network, and training
    manipulations (if any) only on the DA teaching signal; otherwise autograd does."""
    return (cfg.engine == "fused" and circuit.critic is None and circuit.config.core == "lstm"
            and all(r.m.target == "da_teaching" for r in agent.resolved) and agent.closed_loop is None)


class FusedUpdate:
    """One unroll and its A2C gradient with the LSTM's BPTT written out (:mod:`pfcda.pfc.bptt`).

    The same algorithm as :func:`_autograd_update` — the same network step, n-step advantage,
    DA gating, loss and truncation — computed without a per-step autograd graph: the rollout
    runs with no graph into preallocated buffers, the readouts and the loss run with autograd
    over the whole unroll at once, and the LSTM's backward is the hand-written one. Actions are
    drawn by the Gumbel-max trick (the noise of the whole unroll drawn at once), and the bookkeeping
of restarts runs only on the steps where an episode ends."""

    def __init__(self, cfg, circuit, agent, task, g_act):
        from pfcda.pfc.bptt import LSTMUnroll

        self.cfg, self.net, self.agent, self.task, self.g = cfg, circuit.net, agent, task, g_act
        B, T = cfg.batch_size, cfg.t_max
        self.B, self.T = B, T
        self.unroll = LSTMUnroll(self.net.cell, T, B)
        self.n_obs, self.A = self.net.n_obs, self.net.n_actions
        self.arange = torch.arange(self.A)
        self.actions = torch.empty(T, B, dtype=torch.long)
        self.rewards = torch.empty(T, B)
        self.dones = torch.empty(T, B, dtype=torch.bool)
        self.restarted = torch.zeros(T, B, dtype=torch.bool)
        self.gumbel = torch.empty(T, B, self.A)

    def _input(self, x, obs, prev_action, prev_reward):
        no, A = self.n_obs, self.A
        x[:, :no] = obs
        x[:, no:no + A] = prev_action.unsqueeze(1) == self.arange
        x[:, no + A] = prev_reward

    def update(self, carry, beta_e: float, first: bool):
        """Unroll from ``carry``, accumulate the gradient into the parameters: → (carry, loss)."""
        net, task, agent, u, T = self.net, self.task, self.agent, self.unroll, self.T
        teach = [] if agent.resolved else None
        with torch.no_grad():
            u.begin()
            h0, c0 = net.init_state[0], net.init_state[1]
            Wp, bp = net.policy.weight.t(), net.policy.bias
            h, c = carry.state
            obs, prev_a, prev_r = carry.obs, carry.prev_action, carry.prev_reward
            gumbel = self.gumbel
            torch.rand(T, self.B, self.A, generator=self.g, out=gumbel)
            gumbel.clamp_(min=1e-20).log_().neg_().log_().neg_()  # −log(−log u): Gumbel(0, 1)
            self.restarted.zero_()
            for t in range(T):
                if teach is not None:
                    trial, phase = task.clock()
                self._input(u.input_view(t), obs, prev_a, prev_r)
                h, c = u.step(t, h, c)
                a = torch.addmm(bp, h, Wp).add_(gumbel[t]).argmax(-1)  # a ~ softmax(policy(h))
                res = task.step(a, check=False)
                if teach is not None:
                    teach.append(agent.observe(a, res, trial, phase))
                self.actions[t], self.rewards[t], self.dones[t] = a, res.reward, res.done
                obs, prev_a, prev_r = res.obs, a, res.reward
                if bool(res.done.any()):  # restarts: the learned initial state, no last action/reward
                    done = res.done.unsqueeze(1)
                    h, c = torch.where(done, h0, h), torch.where(done, c0, c)
                    if t + 1 < T:
                        self.restarted[t + 1] = res.done
                    prev_a = torch.where(res.done, -1, a)
                    prev_r = torch.where(res.done, 0.0, res.reward)
            x = torch.empty(self.B, net.n_inputs)
            self._input(x, obs, prev_a, prev_r)
            hb, _ = net.cell(x, (h, c))
            bootstrap = net.value(hb).squeeze(-1)

        # ---- the readouts and the loss with autograd over the whole unroll ----
        H = u.H.detach().requires_grad_(True)
        logits, values = net.policy(H), net.value(H).squeeze(-1)
        adv, _ = advantages(self.rewards, values.detach(), bootstrap, self.dones, self.cfg.circuit.gamma,
                            self.cfg.gae_lambda)
        signal = teaching_signal(adv, self.cfg.da_gain)
        if teach:
            signal = agent.teaching(signal, torch.stack(teach))
        loss = a2c_loss(logits, values, self.actions, signal, self.cfg.beta_v, beta_e)
        loss.total.backward()
        # ---- the LSTM's backward, written out ----
        g_init = u.backward(H.grad, self.restarted, init_grad=first)
        net.init_state.grad = g_init if net.init_state.grad is None else net.init_state.grad + g_init
        return Carry(obs, prev_a, prev_r, (h.clone(), c)), loss  # (h is a view of the buffer)


def train(cfg: TrainConfig, out: str | None = None, resume: str | None = None,
          progress: bool = True, log=print, overwrite: bool = False, stop=None) -> Circuit:
    """Train a circuit with ``cfg``; write the final checkpoint to ``out`` (refused if it exists,
    unless ``overwrite``) and the resumable ones to :func:`resume_path` (``out``).

    resume: a resumable checkpoint an earlier run of the same configuration left
    (:func:`resume_path`): training continues from there, bit for bit.
    stop: ``stop(entry) → bool`` on each periodic evaluation's history entry; True ends training
    there (e.g. at a criterion: ``benchmarks/train_speed.py``), and the checkpoint records the
    steps done.
    """
    if out:
        check_outputs([out], [resume], overwrite)
    ck = check_resume(cfg, resume) if resume is not None else None
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    circuit = Circuit(cfg.circuit)
    circuit.train(True)
    params = list(circuit.parameters())
    if out:  # the checkpoint (weights and the optimiser's state) must fit, now rather than at the end
        ensure_space(out, 4 * sum(p.numel() * p.element_size() for p in params))
    opt = make_optimizer(params, cfg.optimizer, cfg.lr)
    g_task = torch.Generator().manual_seed(cfg.seed + 1)
    g_act = torch.Generator().manual_seed(cfg.seed + 2)
    B, T = cfg.batch_size, cfg.t_max
    n_updates = max(1, cfg.steps // (B * T))
    start_update, history = 0, []
    task = circuit.make_task()
    carry = start(circuit, task, B, g_task)
    agent = Manipulated(circuit, cfg.manipulations, task, stage="train", batch_size=B)
    policy = sampling(g_act)
    fused = FusedUpdate(cfg, circuit, agent, task, g_act) if fused_applies(cfg, circuit, agent) else None
    if ck is not None:
        circuit.load_weights(ck.state_dict)
        r = ck.resume
        opt.load_state_dict(r["optimizer"])
        g_task.set_state(r["g_task"])
        g_act.set_state(r["g_act"])
        task.load_state_dict(r["task"])
        agent.load_state_dict(r["agent"])
        c = r["carry"]
        carry = Carry(c["obs"], c["prev_action"], c["prev_reward"], circuit.unflatten_state(c["state"]))
        start_update, history = r["update"], ck.history

    def checkpoint(path, update):
        extra = {"optimizer": opt.state_dict(), "g_task": g_task.get_state(),
                 "g_act": g_act.get_state(), "update": update, "task": task.state_dict(),
                 "agent": agent.state_dict(),
                 "carry": {"obs": carry.obs, "prev_action": carry.prev_action, "prev_reward": carry.prev_reward,
                           "state": Circuit.flatten_state(carry.state)}}
        save_checkpoint(circuit, path, cfg, steps=update * B * T, provenance=provenance(),
                        history=history, resume=extra, overwrite=True)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_updates * B * T, initial=start_update * B * T, unit="step",
                   unit_scale=True, desc=f"train {cfg.circuit.protocol}", mininterval=1.0)
    eval_seconds = 0.0
    t0, every_eval = time.perf_counter(), max(1, cfg.eval_every // (B * T)) if cfg.eval_every else 0
    every_ckpt = max(1, cfg.checkpoint_every // (B * T)) if cfg.checkpoint_every else 0
    completed, at_boundary = start_update, False
    try:
        with signals.polling():
            for update in range(start_update, n_updates):
                at_boundary = True
                signals.check()  # a clean point: every earlier update is complete
                at_boundary = False
                frac = update / n_updates
                for group in opt.param_groups:
                    group["lr"] = _anneal(cfg.lr, cfg.lr_final, frac)
                beta_e = _anneal(cfg.beta_e, cfg.beta_e_final, frac)

                opt.zero_grad(set_to_none=True)
                if fused is not None:
                    carry, loss = fused.update(carry, beta_e, first=update == 0)
                else:
                    carry, loss = _autograd_update(cfg, agent, task, carry, policy, beta_e)
                if cfg.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                opt.step()
                carry = carry._replace(state=Circuit.detach_state(carry.state))

                done_steps = (update + 1) * B * T
                if bar is not None:
                    bar.update(B * T)
                if every_eval and ((update + 1) % every_eval == 0 or update + 1 == n_updates):
                    t_eval0 = time.perf_counter()
                    circuit.train(False)
                    score = evaluate_score(circuit, cfg.eval_episodes, seed=10_000 + cfg.seed,
                                           task_options=cfg.eval_task)
                    if cfg.eval_claims:  # the paper's claims on this circuit, frozen (pfcda reproduce's)
                        from .reproduce import claims_status

                        score.update(claims_status(circuit, scale=cfg.eval_claims, seed=10_000 + cfg.seed))
                    circuit.train(True)
                    eval_seconds += time.perf_counter() - t_eval0
                    # "seconds": training wall time, evaluations excluded
                    entry = {"steps": done_steps,
                             "seconds": round(time.perf_counter() - t0 - eval_seconds, 2),
                             "entropy": round(loss.entropy, 4), **score}
                    history.append(entry)
                    msg = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                   for k, v in entry.items() if k != "claims_failing")
                    (bar.write if bar is not None else log)(f"eval {msg}")
                    if stop is not None and stop(entry):
                        completed = update + 1
                        break
                if out and every_ckpt and (update + 1) % every_ckpt == 0 and update + 1 < n_updates:
                    checkpoint(resume_path(out), update + 1)
                if not math.isfinite(float(loss.total.detach())):
                    raise FloatingPointError(f"training diverged at step {done_steps} (loss {loss.total})")
                completed = update + 1
    except KeyboardInterrupt:
        if out and at_boundary:  # stopped between updates: training goes on from here with --resume
            checkpoint(resume_path(out), completed)
            log(f"pfcda train: interrupted after {completed * B * T:,} steps; to go on, run the same "
                f"command with --resume {resume_path(out)}")
        elif out and os.path.exists(resume_path(out)):
            log(f"pfcda train: interrupted mid-update; the last periodic checkpoint {resume_path(out)} "
                f"resumes from before it")
        raise
    finally:
        if bar is not None:
            bar.close()
    circuit.train(False)
    circuit.history = history  # the periodic frozen evaluations, also saved in the checkpoint
    if out:
        checkpoint(out, completed)
        if os.path.exists(resume_path(out)):
            os.remove(resume_path(out))
    return circuit
