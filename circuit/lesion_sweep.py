"""Virtual-lesion sweeps: a protocol's behaviour as a function of lesion size.

For each lesion size (fraction of PFC units silenced, or of an input channel's gain removed)
the frozen circuit runs the protocol; random unit subsets are drawn ``draws`` times per size
(each draw its own seed, subsets of one draw nested across sizes), and the behavioural measure
is averaged over draws and episodes. The measure is the protocol's regret per episode where the
trials table has one (bandits; lower is better), else the mean reward per trial.

Python::

    from pfcda.circuit.lesion_sweep import lesion_sweep
    table = lesion_sweep("bandit_independent", sizes=[0, 0.25, 0.5, 0.75, 1], draws=3)

CLI: ``pfcda lesion-sweep PROTOCOL [--checkpoint C] [--sizes …] [--draws N] [--json]
[--figure PATH]``.
"""
from __future__ import annotations

import os

import numpy as np

from pfcda.errors import ConfigError
from pfcda.protocols.plotting import subplots

from .agent import Circuit
from .io.atomic import check_outputs
from .io.checkpoint import load_checkpoint
from .io.figures import figure_paths, save_figures
from .manipulations import Manipulation
from .run import run


def behaviour(trials: dict) -> tuple[str, np.ndarray]:
    """(measure name, per-episode values) of a trials table."""
    ep = np.asarray(trials["episode"])
    _, idx = np.unique(ep, return_inverse=True)
    if "regret" in trials:
        return "regret_per_episode", np.bincount(idx, weights=np.asarray(trials["regret"], float))
    r = np.bincount(idx, weights=np.asarray(trials["reward"], float)) / np.bincount(idx)
    return "reward_per_trial", r


def lesion_sweep(circuit, sizes=(0.0, 0.1, 0.25, 0.5, 0.75, 1.0), draws: int = 3,
                 episodes: int = 200, seed: int = 0, target: str = "units",
                 channel: str | None = None, task_overrides: dict | None = None) -> dict:
    """Run the sweep; returns ``{"measure", "target", "rows": [{"size", "value", "sem" (over
    episodes), "sem_draws" (over the random subsets, where there are several), "n", "draws"}]}``.

    target ``"units"``: size = fraction of units silenced (random subsets); ``"input"``: size =
    fraction of ``channel``'s gain removed (scale by 1 − size), one draw per size.
    """
    if not isinstance(circuit, Circuit):
        circuit, _ = load_checkpoint(circuit)
    sizes = [float(s) for s in sizes]
    if not sizes or any(not 0.0 <= s <= 1.0 for s in sizes):
        raise ConfigError(f"sizes: expected fractions in [0, 1], got {sizes}")
    if draws < 1:
        raise ConfigError(f"draws: expected a positive integer, got {draws}")
    if target not in ("units", "input"):
        raise ConfigError(f"target: expected 'units' or 'input', got {target!r}")
    if (target == "input") != (channel is not None):
        raise ConfigError("channel: give an input channel name for target 'input' (and only then)")
    rows, name = [], None
    for size in sizes:
        per_draw = []
        n_draws = draws if target == "units" and 0.0 < size < 1.0 else 1
        for d in range(n_draws):
            if size == 0.0:
                manips = []
            elif target == "units":
                manips = [Manipulation(target="units", action="silence", fraction=size,
                                       seed=seed * 1000 + d, name=f"lesion {size:.0%} of units")]
            else:
                manips = [Manipulation(target="input", channel=channel, action="scale",
                                       value=1.0 - size, name=f"lesion {size:.0%} of {channel}")]
            rec = run(circuit, episodes=episodes, seed=seed, manipulations=manips,
                      task_overrides=task_overrides)
            name, values = behaviour(rec.trials)
            per_draw.append(values)
        allv = np.concatenate(per_draw)
        means = np.array([v.mean() for v in per_draw])
        # one kind of sem at every size: over episodes (all draws pooled); the variability of the
        # lesioned subset itself is reported apart, across draws, where there are several
        rows.append({"size": size, "value": float(allv.mean()),
                     "sem": float(allv.std(ddof=1) / np.sqrt(len(allv))),
                     "sem_draws": float(means.std(ddof=1) / np.sqrt(len(means))) if len(means) > 1 else None,
                     "n": int(len(allv)), "draws": [float(m) for m in means]})
    return {"protocol": circuit.config.protocol, "measure": name, "target": target,
            "channel": channel, "episodes": episodes, "seed": seed, "rows": rows}


def figure(result: dict, path: str, overwrite: bool = False) -> list[str]:
    """The sweep as a line with sem bars (PNG and SVG beside ``path``)."""
    directory, base = os.path.split(os.path.abspath(path))
    check_outputs(figure_paths(directory, [os.path.splitext(base)[0]]), overwrite=overwrite)
    fig, ax = subplots(figsize=(4, 3.2))
    x = [r["size"] * 100 for r in result["rows"]]
    ax.errorbar(x, [r["value"] for r in result["rows"]], yerr=[r["sem"] for r in result["rows"]],
                fmt="o-", color="k", capsize=2, label="± sem over episodes")
    ax.legend(frameon=False, fontsize=7)
    what = "units silenced" if result["target"] == "units" else f"{result['channel']} removed"
    ax.set_xlabel(f"% {what}")
    ax.set_ylabel(result["measure"].replace("_", " "))
    ax.set_title(result["protocol"], fontsize=8)
    return save_figures({os.path.splitext(base)[0]: fig}, directory, overwrite=overwrite)
