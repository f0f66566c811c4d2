"""Meta-training: dopamine-gated slow plasticity across many episodes (synchronous A2C).

Read top to bottom (CleanRL style). B episodes run in parallel as one tensor batch through the
one agent–environment step (:func:`pfcda.circuit.rollout.env_step`); every ``t_max`` steps the
dopamine module turns the unroll's rewards and values into the n-step advantage, gates it
(``da_gain``, and any ``da_teaching`` manipulation), and the plasticity rule updates the PFC
weights by backpropagation through time over the unroll. The recurrent state is carried across
unrolls (truncated BPTT) and reset to the learned initial state when an episode ends.
"""
from __future__ import annotations

import math
import time

import torch

from pfcda.dopamine.rpe import advantages, teaching_signal
from pfcda.errors import CheckpointError
from pfcda.pfc.plasticity import a2c_loss, make_optimizer

from .agent import Circuit
from .config import TrainConfig
from .io.checkpoint import load_checkpoint, save_checkpoint
from .manipulations import Manipulated
from .provenance import provenance
from .rollout import env_step, iter_batches, sampling, start


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


def train(cfg: TrainConfig, out: str | None = None, resume: str | None = None,
          progress: bool = True, log=print) -> Circuit:
    """Train a circuit with ``cfg``; write the final checkpoint to ``out`` (and periodic ones).

    resume: a checkpoint written by an earlier run with its ``resume`` block (weights, optimiser,
    RNG states, steps done): training continues from there (episodes in flight are restarted).
    """
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    circuit = Circuit(cfg.circuit)
    circuit.train(True)
    params = list(circuit.parameters())
    opt = make_optimizer(params, cfg.optimizer, cfg.lr)
    g_task = torch.Generator().manual_seed(cfg.seed + 1)
    g_act = torch.Generator().manual_seed(cfg.seed + 2)
    B, T = cfg.batch_size, cfg.t_max
    n_updates = max(1, cfg.steps // (B * T))
    start_update, history = 0, []
    if resume is not None:
        _, payload = load_checkpoint(resume)
        if "resume" not in payload:
            raise CheckpointError(f"resume: {resume} holds no optimiser/RNG state (a shipped checkpoint?)")
        circuit.load_weights(payload["state_dict"])
        opt.load_state_dict(payload["resume"]["optimizer"])
        g_task.set_state(payload["resume"]["g_task"])
        g_act.set_state(payload["resume"]["g_act"])
        start_update, history = payload["resume"]["update"], payload["history"]

    task = circuit.make_task()
    carry = start(circuit, task, B, g_task)
    agent = Manipulated(circuit, cfg.manipulations, task, stage="train", batch_size=B)
    policy = sampling(g_act)

    def checkpoint(path, update):
        extra = {"optimizer": opt.state_dict(), "g_task": g_task.get_state(),
                 "g_act": g_act.get_state(), "update": update}
        save_checkpoint(circuit, path, cfg, steps=update * B * T, provenance=provenance(),
                        history=history, resume=extra)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_updates * B * T, initial=start_update * B * T, unit="step",
                   unit_scale=True, desc=f"train {cfg.circuit.protocol}", mininterval=1.0)
    eval_seconds = 0.0
    t0, every_eval = time.perf_counter(), max(1, cfg.eval_every // (B * T)) if cfg.eval_every else 0
    every_ckpt = max(1, cfg.checkpoint_every // (B * T)) if cfg.checkpoint_every else 0
    for update in range(start_update, n_updates):
        frac = update / n_updates
        for group in opt.param_groups:
            group["lr"] = _anneal(cfg.lr, cfg.lr_final, frac)
        beta_e = _anneal(cfg.beta_e, cfg.beta_e_final, frac)

        # ---- unroll T steps of B episodes (the fast, activity-based loop) ----
        steps = []
        for _ in range(T):
            carry, tr = env_step(agent, task, carry, policy)
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
        opt.zero_grad(set_to_none=True)
        loss.total.backward()
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
            circuit.train(True)
            eval_seconds += time.perf_counter() - t_eval0
            # "seconds": training wall time, evaluations excluded
            entry = {"steps": done_steps,
                     "seconds": round(time.perf_counter() - t0 - eval_seconds, 2),
                     "entropy": round(loss.entropy, 4), **score}
            history.append(entry)
            msg = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in entry.items())
            (bar.write if bar is not None else log)(f"eval {msg}")
        if out and every_ckpt and (update + 1) % every_ckpt == 0 and update + 1 < n_updates:
            checkpoint(out, update + 1)
        if not math.isfinite(float(loss.total.detach())):
            raise FloatingPointError(f"training diverged at step {done_steps} (loss {loss.total})")
    if bar is not None:
        bar.close()
    circuit.train(False)
    circuit.history = history  # the periodic frozen evaluations, also saved in the checkpoint
    if out:
        checkpoint(out, n_updates)
    return circuit
