"""The command line's options: value types with one-line errors, shared options declared once
(argparse parents), one sub-parser per command."""
from __future__ import annotations

import argparse
import json

from . import commands as c


def positive_int(text: str) -> int:
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def seed_list(text: str) -> list:
    """``0-3`` or ``0,5,9`` → a list of distinct integer seeds."""
    seeds = []
    try:
        for part in text.split(","):
            lo, dash, hi = part.strip().partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds such as 0-3 or 0,5,9, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds such as 0-3 or 0,5,9, got {text!r}")
    return seeds


def probabilities(text: str) -> list:
    try:
        ps = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated probabilities such as 0.25,0.75, got {text!r}") from None
    if len(ps) < 2 or not all(0.0 <= p <= 1.0 for p in ps):
        raise argparse.ArgumentTypeError(f"expected ≥ 2 probabilities in [0, 1], got {text!r}")
    return ps


def fractions(text: str) -> list[float]:
    try:
        vals = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated fractions, got {text!r}") from None
    if not vals or any(not 0.0 <= v <= 1.0 for v in vals):
        raise argparse.ArgumentTypeError(f"expected fractions in [0, 1], got {text!r}")
    return vals


def setting(text: str):
    """FIELD=VALUE, the value read as JSON where it is JSON (numbers, true/false, null, lists),
    else as a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        value = json.loads(value)
    except json.JSONDecodeError:
        pass  # a bare string
    return key.strip(), value


def _parent(*options) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    for args, kwargs in options:
        p.add_argument(*args, **kwargs)
    return p


PLUGINS = (("--protocols",), dict(action="append", metavar="FILE|MODULE", default=argparse.SUPPRESS,
                                  help="load protocol plug-ins (a .py file or a module; repeatable, "
                                       "comma-separated; also $PFCDA_PROTOCOLS)"))
SEED = (("--seed",), dict(type=integer, default=0, help="random seed (0)"))
JSON = (("--json",), dict(action="store_true", help="print one JSON object"))
QUIET = (("--quiet",), dict(action="store_true", help="no progress report"))
CHECKPOINT = (("--checkpoint",), dict(help="checkpoint path or shipped name (default: the protocol's "
                                           "default checkpoint)"))
TASK = (("--task",), dict(type=setting, action="append", metavar="OPTION=VALUE",
                          help="a task option (see the protocol's task card), e.g. pool=test "
                               "(Harlow held-out objects), schedule=behrens (volatility)"))
MANIPULATION = (("--manipulation",), dict(action="append", metavar="FILE.toml",
                                          help="manipulations ([[manipulation]] tables); repeatable"))
FORCE = (("--force", "--overwrite"), dict(action="store_true", dest="force",
                                         help="replace outputs that exist (never an input of the command)"))
PRESET = (("--preset",), dict(action="append", metavar="NAME",
                              help="a named manipulation preset of the protocol; repeatable"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pfcda",
        description="Simulator of the prefrontal–dopamine circuit as a meta-reinforcement "
                    "learning system (Wang, Kurth-Nelson et al. 2018).")
    p.add_argument("--protocols", action="append", metavar="FILE|MODULE", default=[],
                   help="load protocol plug-ins before the command (a .py file or an importable "
                        "module; repeatable, comma-separated; also $PFCDA_PROTOCOLS)")
    p.add_argument("--debug", action="store_true", help="show tracebacks for every error")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    plugins = _parent(PLUGINS)
    seed, js, quiet, force = _parent(SEED), _parent(JSON), _parent(QUIET), _parent(FORCE)
    manips = _parent(MANIPULATION, PRESET)

    def command(name, func, help, parents=()):
        s = sub.add_parser(name, help=help, description=help, parents=[plugins, *parents])
        s.set_defaults(func=func)
        return s

    command("protocols", c.protocols, "list the protocols (name, citation, description)")
    command("checkpoints", c.checkpoints, "list the shipped checkpoints by name")

    s = command("train", c.train, "meta-train a circuit on a protocol", [quiet, force])
    s.add_argument("protocol", help="protocol name (see `pfcda protocols`)")
    s.add_argument("--variant", help="task variant, e.g. independent | correlated for the bandit")
    s.add_argument("--arms", type=positive_int, help="number of arms (bandit)")
    s.add_argument(*TASK[0], **{**TASK[1], "help": "a task option of the trained circuit"})
    s.add_argument("--steps", type=positive_int, help="environment steps to train for")
    s.add_argument("--seed", type=integer, help="random seed (default 0)")
    s.add_argument("--out", help="checkpoint path to write")
    s.add_argument("--resume", help="continue from a checkpoint written by an earlier run")
    s.add_argument("--set", type=setting, action="append", metavar="FIELD=VALUE",
                   help="override a training-config field (e.g. lr=1e-3, circuit.n_units=64)")
    s.add_argument("--manipulation", action="append", metavar="FILE.toml",
                   help="manipulations during training (stage 'train' or 'both'), e.g. a DA "
                        "teaching-signal blockade; repeatable")

    s = command("evaluate", c.evaluate, "score a frozen bandit circuit against reference agents", [js])
    s.add_argument("checkpoint", help="checkpoint path or shipped name (see `pfcda checkpoints`)")
    s.add_argument("--episodes", type=positive_int, default=2000, help="fresh episodes per seed (2000)")
    sd = s.add_mutually_exclusive_group()
    sd.add_argument("--seeds", type=seed_list, default=None,
                    help="episode seeds, e.g. 0-3 or 0,5,9: the table is the mean over them with "
                         "its spread (default 0-3)")
    sd.add_argument("--seed", type=integer, default=None, help="one episode seed (a single run)")
    s.add_argument("--probs", type=probabilities, help="fixed arm probabilities, e.g. 0.25,0.75")
    s.add_argument("--greedy", action="store_true", help="argmax actions instead of sampling")

    s = command("run", c.run, "run a protocol against a frozen circuit and record it (HDF5)",
                [seed, quiet, manips, force])
    s.add_argument("protocol", help="protocol name (see `pfcda protocols`)")
    s.add_argument(*CHECKPOINT[0], **CHECKPOINT[1])
    s.add_argument("--episodes", type=positive_int, default=100, help="episodes to run (100)")
    s.add_argument("--batch-size", type=positive_int, default=500,
                   help="episodes simulated (and written) at once (500)")
    s.add_argument("--probs", type=probabilities, help="fixed arm probabilities (bandit), e.g. 0.25,0.75")
    s.add_argument(*TASK[0], **TASK[1])
    s.add_argument("--closed-loop", action="store_true",
                   help="pass every step's RPE through the spiking DA population (brian2) before "
                        "it reaches the actor (actor-critic circuits, e.g. stopper), so that "
                        "da_neurons (ChR2/ArchT/NpHR light, lesions) and d1 manipulations act; "
                        "≈ 0.25 s per agent step for a batch")
    s.add_argument("--out", required=True, help="the HDF5 recording to write")

    s = command("replay", c.replay, "run a frozen circuit on a lab's own sessions: their lengths, "
                "trial-by-trial reward probabilities and (two-step) transitions", [seed, quiet, manips, force])
    s.add_argument("protocol", help="twostep (e.g. the rats) or matching (e.g. the mice)")
    s.add_argument("--lab", required=True, help="bundled lab data (rats, mice) or a file")
    s.add_argument("--mapping", metavar="TOML", help="column mapping for a lab file in another layout")
    s.add_argument(*CHECKPOINT[0], **{**CHECKPOINT[1], "help": "checkpoint path or shipped name (default: "
                   "the protocol's choice for the data, e.g. twostep_daw for four option probabilities)"})
    s.add_argument("--out", required=True, help="the HDF5 recording to write (the schedule is "
                                                "written beside it, OUT.schedule.csv)")

    s = command("compare", c.compare, "the protocol's analyses on a recording and on lab data, "
                "side by side with bootstrap CIs", [js, force])
    s.add_argument("protocol", help="twostep (rats), matching (mice) or conditioning (photometry)")
    s.add_argument("--model", required=True, help="a recording of the circuit (pfcda run)")
    s.add_argument("--lab", required=True, help="bundled lab data (rats, mice; conditioning: "
                                                "jeong2022, jeong2022_delay, jeong2022_iri) or a file "
                                                "(CSV/TSV in their layout, or a foraging NWB)")
    s.add_argument("--mapping", metavar="TOML",
                   help="column mapping for a lab file in another layout (CSV/TSV or MATLAB v7.3 "
                        ".mat; see pfcda.protocols.labdata)")
    s.add_argument("--bootstrap", type=positive_int, default=100, help="bootstrap resamples (100)")
    s.add_argument("--score", metavar="CHECKPOINT",
                   help="also score this circuit trial by trial on the lab's own choices and "
                        "compare it with the protocol's classic models fitted on other sessions "
                        "(two-step: hybrid MB/MF and model-free; matching: Q-learning with "
                        "perseveration, with and without forgetting); the same models are fitted "
                        "to the circuit's own choices (minutes)")
    s.add_argument("--seed", type=integer, default=0, help="bootstrap seed (0)")
    s.add_argument("--figures", help="write the overlay figure (PNG and SVG) into this folder")

    s = command("benchmark", c.benchmark, "cognitive models on held-out animal choices under a frozen "
                "split: the circuit (readout fitted) beside classic models, NL per choice with "
                "paired bootstrap CIs", [js, force])
    s.add_argument("dataset", choices=("rats", "mice"), help="bundled data: rats (two-step), mice (foraging)")
    s.add_argument("--models", type=lambda v: [m for m in v.split(",") if m],
                   help="comma-separated subset (rats: model_free, model_based, hybrid; mice: rw, "
                        "rw_forget, common_q; both: gru, tiny_gru, gru_shuffled, sticky, circuit, "
                        "circuit_labtask; default all)")
    s.add_argument("--bootstrap", type=positive_int, default=2000, help="bootstrap resamples (2000)")
    s.add_argument("--seed", type=integer, default=0, help="fit and bootstrap seed (0)")
    s.add_argument("--recovery", type=positive_int, metavar="N",
                   help="instead of the table: model recovery on the lab's schedules, N simulated "
                        "subjects per classic model, the confusion matrix (two-choice data: mice)")
    s.add_argument("--figures", help="write the figure (PNG and SVG) into this folder")

    s = command("spikes", c.spikes, "render a recording as spikes: DA population (brian2) and PFC "
                "spike trains", [seed, quiet, force])
    s.add_argument("recording", help="an HDF5 recording written by `pfcda run`")
    s.add_argument("--out", required=True, help="the spikes file (HDF5) to write")
    s.add_argument("--population", choices=("da", "pfc", "both"), default="both")
    s.add_argument("--target", choices=("numpy", "cython", "cpp_standalone"), default="numpy",
                   help="brian2 code generation (numpy: no compiler; cython: faster after a "
                        "first, slow build; cpp_standalone: a C++ binary, fastest for long runs, "
                        "its build cached per model structure in ~/.cache/pfcda or $PFCDA_CACHE_DIR)")
    s.add_argument("--nwb", metavar="FILE", help="also write the spikes as NWB (needs pfcda[nwb])")
    s.add_argument("--workers", type=positive_int, default=1,
                   help="processes for the DA population (episodes split between them; 2 on a "
                        "2-core machine halves the wall time)")

    s = command("lesion-sweep", c.lesion_sweep, "a protocol's behaviour against virtual-lesion size",
                [seed, js, force])
    s.add_argument("protocol", help="protocol name (see `pfcda protocols`)")
    s.add_argument(*CHECKPOINT[0], **CHECKPOINT[1])
    s.add_argument("--sizes", type=fractions, default=[0.0, 0.1, 0.25, 0.5, 0.75, 1.0],
                   help="lesion sizes as fractions (0,0.1,0.25,0.5,0.75,1)")
    s.add_argument("--channel", help="lesion this input channel's gain instead of units "
                                     "(e.g. prev_reward)")
    s.add_argument("--draws", type=positive_int, default=3, help="random unit subsets per size (3)")
    s.add_argument("--episodes", type=positive_int, default=200, help="episodes per run (200)")
    s.add_argument(*TASK[0], **{**TASK[1], "help": "a task option for the runs"})
    s.add_argument("--figure", help="write the curve (PNG and SVG) at this path")

    s = command("export", c.export, "export a recording to NWB, or its trials to hBayesDM", [force])
    s.add_argument("recording", help="an HDF5 recording written by `pfcda run`")
    s.add_argument("--nwb", help="the NWB file to write")
    s.add_argument("--hbayesdm", help="write the trials in hBayesDM's tab-separated convention "
                                      "(two-step → ts, bandit/matching → bandit2arm, reversal → prl)")
    s.add_argument("--step-duration", type=float, default=None,
                   help="seconds per agent step in the NWB time base (the task's dt where it has "
                        "one, e.g. conditioning; else 0.5)")
    s.add_argument("--no-validate", dest="validate", action="store_false",
                   help="skip validation of the written file")

    s = command("analyze", c.analyze, "run a protocol's analyses on a recording", [js, force])
    s.add_argument("recording", nargs="?", help="an HDF5 recording written by `pfcda run`")
    s.add_argument("--list", metavar="PROTOCOL", help="name and explain every statistic of PROTOCOL")
    s.add_argument("--figures", metavar="DIR", help="write figures (PNG and SVG) to DIR")
    s.add_argument("--seed", type=integer, default=0, help="seed of the reference agents (0)")
    s.add_argument("--spikes", metavar="FILE", help="also analyse the recording's rendered spikes "
                                                    "(pfcda spikes): DA PSTHs by condition")

    s = command("sweep", c.sweep, "a grid of chained commands (seeds × protocols × settings × "
                "manipulations) on a local process pool or a SLURM job array; resumable. "
                "`pfcda sweep SPEC.toml`, `pfcda sweep status DIR`, `pfcda sweep collect DIR`",
                [js, quiet])
    s.add_argument("spec", metavar="SPEC.toml|status|collect",
                   help="the sweep's specification (format: pfcda.circuit.sweep.spec), or `status` / "
                        "`collect` followed by the sweep's folder")
    s.add_argument("dir", nargs="?", metavar="DIR", help="the sweep's folder (status, collect)")
    s.add_argument("--executor", choices=("local", "slurm"), default="local",
                   help="local: a process pool on this machine (default); slurm: a submitit job array")
    s.add_argument("--workers", type=positive_int,
                   help="local processes (default: [local] workers of the spec, else the CPU count)")
    s.add_argument("--out", metavar="DIR", help="the sweep's folder (default: NAME.sweep here)")
    s.add_argument("--retry-failed", action="store_true", help="also rerun the cells that failed")
    s.add_argument("--no-wait", dest="wait", action="store_false",
                   help="slurm: submit the array and return (then `pfcda sweep status DIR`)")
    s.add_argument("--metric", help="collect: the metric the summary figure shows")

    help_ = ("the paper's panels and statements on the shipped circuits: paper, animals and model side "
             "by side with a verdict each (report.html, report.md, results.json, figures)")
    s = sub.add_parser("reproduce", help=help_, description=help_ + ". Plug-in protocols are loaded "
                       "with the top-level option: pfcda --protocols FILE reproduce", parents=[quiet, force])
    s.set_defaults(func=c.reproduce)
    mode = s.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help="the shipped circuits, intervals over episodes (the default; minutes)")
    mode.add_argument("--seeds", type=positive_int, metavar="N",
                      help="train every circuit N times (seeds 0…N−1) with its shipped command through "
                           "the sweep engine, cached in DIR/training (a rerun reuses finished trainings), "
                           "and judge each statement on the mean over seeds with its 95 %% interval")
    s.add_argument("--executor", choices=("local", "slurm"), default="local",
                   help="--seeds: where the trainings run (local process pool, or a SLURM job array)")
    s.add_argument("--workers", type=positive_int, help="--seeds, local: processes (default: the CPU count)")
    s.add_argument("--steps", type=positive_int,
                   help="--seeds: training steps per circuit instead of the shipped budget (a quick check)")
    s.add_argument("--protocols", dest="subset", metavar="A,B",
                   help="reproduce these protocols only (default: every protocol that declares a reproduction)")
    s.add_argument("--out", default="reproduce", metavar="DIR", help="the report's folder (reproduce)")
    s.add_argument("--seed", type=integer, default=0, help="episode seed (0)")
    s.add_argument("--scale", type=float, default=1.0,
                   help="fraction of each run's episodes, for a quick look (1: the protocols' own numbers)")

    s = command("info", c.info, "summarise a recording: protocol, counts, provenance", [js])
    s.add_argument("recording", help="an HDF5 recording written by `pfcda run`")
    return p
