"""The ``pfcda`` command line. Heavy imports (torch, numpy) happen inside the commands, so
``pfcda --help`` and ``pfcda protocols`` are instant."""
from __future__ import annotations

import argparse
import json
import sys


class UsageError(ValueError):
    """A bad option value: reported as one line, exit status 2."""


def _positive_int(text: str) -> int:
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _probs(text: str) -> list:
    try:
        ps = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated probabilities such as 0.25,0.75, got {text!r}") from None
    if len(ps) < 2 or not all(0.0 <= p <= 1.0 for p in ps):
        raise argparse.ArgumentTypeError(f"expected ≥ 2 probabilities in [0, 1], got {text!r}")
    return ps


def _fractions(text: str) -> list[float]:
    try:
        vals = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated fractions, got {text!r}") from None
    if not vals or any(not 0.0 <= v <= 1.0 for v in vals):
        raise argparse.ArgumentTypeError(f"expected fractions in [0, 1], got {text!r}")
    return vals


def _setting(text: str):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        value = json.loads(value)
    except json.JSONDecodeError:
        pass  # a bare string
    return key.strip(), value


def _finite(obj):
    """JSON-safe copy: NaN and infinities become null (JSON has no NaN)."""
    import math

    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item"):  # numpy scalars
        return _finite(obj.item())
    return obj


# ----------------------------------------------------------------------------- commands
def cmd_protocols(args) -> int:
    from protocols import REGISTRY

    width = max(len(n) for n in REGISTRY)
    for name, (_, _, citation, description) in REGISTRY.items():
        print(f"{name:<{width}}  {citation} — {description}")
    return 0


def cmd_checkpoints(args) -> int:
    from .agent import load_checkpoint, shipped_checkpoints

    shipped = shipped_checkpoints()
    if not shipped:
        print("no shipped checkpoints")
        return 0
    width = max(len(n) for n in shipped)
    for name, path in shipped.items():
        _, payload = load_checkpoint(path)
        c = payload["circuit"]
        task = ", ".join(f"{k}={v}" for k, v in c["task"].items() if v is not None)
        last = (payload.get("history") or [{}])[-1]
        score = f", regret {last['regret']:.3f}" if "regret" in last else ""
        print(f"{name:<{width}}  {c['protocol']} ({task}); {c['core']} {c['n_units']} units, "
              f"γ {c['gamma']}; {payload['steps']:,} steps{score}")
    return 0


def cmd_train(args) -> int:
    from protocols import get_task_class

    from .config import TrainConfig
    from .train import train

    import importlib

    cls = get_task_class(args.protocol)
    module = importlib.import_module(cls.__module__)
    task_kw = {}
    if args.variant is not None:
        task_kw["variant"] = args.variant
    if args.arms is not None:
        task_kw["arms"] = args.arms
    defaults_fn = getattr(module, "train_defaults", None)
    base = defaults_fn(**task_kw) if defaults_fn else {"circuit": {"protocol": args.protocol,
                                                                    "task": task_kw}}
    base["circuit"]["task"] = {**base["circuit"].get("task", {}), **task_kw}
    base["circuit"]["protocol"] = args.protocol
    for key, value in args.set or []:
        target, field = (base["circuit"], key.split(".", 1)[1]) if key.startswith("circuit.") \
            else (base, key)
        target[field] = value
    if args.steps is not None:
        base["steps"] = args.steps
    if args.manipulation:
        from .manipulations import load_toml

        manips = [m for path in args.manipulation for m in load_toml(path)]
        for m in manips:
            if m.stage == "test":
                raise UsageError(f"--manipulation: {m.name or m.target} has stage 'test'; "
                                 f"training uses stage 'train' or 'both'")
        base["manipulations"] = base.get("manipulations", []) + [m.to_dict() for m in manips]
    if args.seed is not None:
        base["seed"] = args.seed
    cfg = TrainConfig.from_dict(base)
    cls(**cfg.circuit.task)  # validate the task options before any work
    out = args.out or f"{args.protocol}_{cfg.circuit.task.get('variant', 'default')}_seed{cfg.seed}.pt"
    print(f"training {args.protocol} → {out}", file=sys.stderr)
    train(cfg, out=out, resume=args.resume, progress=not args.quiet)
    print(out)
    return 0


def cmd_evaluate(args) -> int:
    from .agent import load_checkpoint
    from .evaluate import evaluate_bandit

    circuit, _ = load_checkpoint(args.checkpoint)
    if circuit.config.protocol != "bandit":
        raise UsageError(f"evaluate: regret evaluation is for bandit circuits; "
                         f"{args.checkpoint} is a {circuit.config.protocol!r} circuit")
    overrides = {"probs": args.probs} if args.probs else {}
    if args.probs and len(args.probs) != circuit.make_task().arms:
        raise UsageError(f"--probs: expected {circuit.make_task().arms} probabilities, "
                         f"got {len(args.probs)}")
    res = evaluate_bandit(circuit, episodes=args.episodes, seed=args.seed,
                          task_overrides=overrides, greedy=args.greedy)
    if args.json:
        print(json.dumps(_finite(res)))
        return 0
    print(f"{args.checkpoint}: {res['episodes']} episodes × {res['trials']} trials, "
          f"{res['arms']} arms ({res['variant']}{', probs ' + str(args.probs) if args.probs else ''}), "
          f"seed {res['seed']}, weights frozen")
    best = res["agents"].get("bayes_optimal", {}).get("regret")
    print(f"{'agent':<14} {'regret':>8} {'± sem':>7} {'× Bayes-opt':>12}")
    for name, r in res["agents"].items():
        ratio = f"{r['regret'] / best:12.2f}" if best else f"{'':>12}"
        print(f"{name:<14} {r['regret']:8.3f} {r['regret_sem']:7.3f} {ratio}")
    return 0


def _protocol_circuit(args):
    """(checkpoint, Circuit) for ``args.protocol``: ``--checkpoint`` or the protocol's shipped
    one, checked to be a circuit of that protocol."""
    from protocols import DEFAULT_CHECKPOINTS, names

    from .agent import load_checkpoint

    if args.protocol not in names():
        raise UsageError(f"protocol: unknown {args.protocol!r}; expected one of {names()}")
    ckpt = args.checkpoint or DEFAULT_CHECKPOINTS.get(args.protocol)
    if ckpt is None:
        raise UsageError(f"--checkpoint: protocol {args.protocol!r} has no shipped checkpoint; give one")
    circuit, _ = load_checkpoint(ckpt)
    if circuit.config.protocol != args.protocol:
        raise UsageError(f"--checkpoint: {ckpt} is a {circuit.config.protocol!r} circuit, "
                         f"not {args.protocol!r}")
    return ckpt, circuit


def cmd_run(args) -> int:
    from .run import run

    ckpt, circuit = _protocol_circuit(args)
    overrides = dict(args.task or [])
    if args.probs:
        overrides["probs"] = args.probs
    if overrides:
        try:
            circuit.make_task(**overrides)  # validate before any work
        except (TypeError, ValueError) as e:
            raise UsageError(f"--task: {e}") from None
    manips = _manipulations(args, circuit)
    rec = run(ckpt, episodes=args.episodes, seed=args.seed, batch_size=args.batch_size,
              out=args.out, task_overrides=overrides or None, progress=not args.quiet,
              manipulations=manips, closed_loop=args.closed_loop or None)
    print(f"{args.out}: {rec.attrs['n_episodes']} episodes, {rec.attrs['n_trials']} trials, "
          f"{rec.attrs['n_steps']} steps, {rec.attrs['n_units']} units")
    return 0


def cmd_replay(args) -> int:
    from .replay import LAYOUTS, replay

    if args.protocol not in LAYOUTS:
        raise UsageError(f"protocol: replay supports {sorted(LAYOUTS)}, got {args.protocol!r}")
    if args.protocol == "twostep" and not args.checkpoint:
        # four drifting option probabilities (human, Daw 2011) need the daw circuit
        from protocols import labdata

        table = labdata.load(args.lab, "twostep", mapping=args.mapping)
        if "p1a" in table:
            args.checkpoint = "twostep_daw"
    ckpt, circuit = _protocol_circuit(args)
    rec = replay(ckpt, args.lab, args.out, seed=args.seed, mapping=args.mapping,
                 progress=not args.quiet, manipulations=_manipulations(args, circuit))
    print(f"{args.out}: {rec.attrs['n_episodes']} lab sessions replayed ({rec.attrs['n_trials']} trials) "
          f"on their own schedules ({args.out}.schedule.csv); compare with: "
          f"pfcda compare {args.protocol} --model {args.out} --lab {args.lab}"
          + (f" --mapping {args.mapping}" if args.mapping else ""))
    return 0


def _manipulations(args, circuit) -> list:
    """Manipulations from ``--manipulation FILE.toml`` and ``--preset NAME`` (the protocol's
    named presets, ``PRESETS`` in its module)."""
    import importlib

    from protocols import REGISTRY

    from .manipulations import as_manipulations, load_toml

    out = []
    for path in getattr(args, "manipulation", None) or []:
        out += load_toml(path)
    for name in getattr(args, "preset", None) or []:
        presets = getattr(importlib.import_module(REGISTRY[circuit.config.protocol][0]), "PRESETS", {})
        if name not in presets:
            raise UsageError(f"--preset: protocol {circuit.config.protocol!r} has no preset {name!r}; "
                             f"expected one of {sorted(presets) or 'none'}")
        out += as_manipulations(presets[name])
    return out


def cmd_lesion_sweep(args) -> int:
    from .lesion_sweep import figure, lesion_sweep

    _, circuit = _protocol_circuit(args)
    res = lesion_sweep(circuit, sizes=args.sizes, draws=args.draws, episodes=args.episodes,
                       seed=args.seed, target="input" if args.channel else "units",
                       channel=args.channel, task_overrides=dict(args.task or []) or None)
    if args.figure:
        figure(res, args.figure)
    if args.json:
        print(json.dumps(_finite(res)))
    else:
        print(f"{res['protocol']}: {res['measure']} by lesion size "
              f"({'units silenced' if res['target'] == 'units' else res['channel'] + ' removed'})")
        for r in res["rows"]:
            print(f"  {r['size']:>5.0%}  {r['value']:8.3f} ± {r['sem']:.3f}  (n = {r['n']})")
    return 0


def cmd_compare(args) -> int:
    import numpy as np

    from protocols import labdata

    from .compare import PROTOCOLS, compare, figure
    from .recording import read_recording

    if args.protocol not in PROTOCOLS:
        raise UsageError(f"protocol: compare supports {list(PROTOCOLS)}, got {args.protocol!r}")
    rec = read_recording(args.model)
    if rec.attrs.get("protocol") != args.protocol:
        raise UsageError(f"--model: {args.model} records protocol {rec.attrs.get('protocol')!r}, "
                         f"not {args.protocol!r}")
    model = dict(rec.trials)
    if args.protocol == "matching":  # action codes (1 left, 2 right, 0 invalid) → 0/1/−1
        model["choice"] = np.asarray(model["choice"]).astype(np.int16) - 1
    lab = labdata.load(args.lab, args.protocol, mapping=args.mapping)
    res = compare(args.protocol, model, lab, n_boot=args.bootstrap, seed=args.seed)
    res["model_path"], res["lab_source"] = args.model, args.lab
    if args.score:
        from .agent import load_checkpoint
        from .scoring import classic_fit, foraging_model_comparison, twostep_model_comparison

        scorer_circuit = load_checkpoint(args.score)[0]
        if args.protocol == "twostep":
            res["model_comparison"] = twostep_model_comparison(
                scorer_circuit, lab, p_common=scorer_circuit.make_task().p_common, seed=args.seed)
        else:
            res["model_comparison"] = foraging_model_comparison(scorer_circuit, lab, seed=args.seed)
        res["model_comparison"]["circuit_own_choices"] = classic_fit(
            args.protocol, model, seed=args.seed, p_common=float(rec.attrs["task"].get("p_common") or 0.8))
    if args.figures:
        figure(res, args.figures)
    if args.json:
        print(json.dumps(_finite(res)))
        return 0
    print(f"{args.protocol}: circuit ({res['n_episodes']['model']} episodes) vs lab {args.lab} "
          f"({res['n_episodes']['lab']} sessions); 95% bootstrap CI over episodes/sessions "
          f"({args.bootstrap} resamples)")
    ok = min(v["n_boot_ok"] for who in ("model", "lab") for v in res[who].values())
    if ok < args.bootstrap:
        print(f"  note: some resamples could not be fitted; the fewest CIs rest on {ok} resamples")
    if res["lab_excluded"]:
        print("  lab trials kept but excluded from the analyses: " +
              ", ".join(f"{k} {v}" for k, v in res["lab_excluded"].items()))
    width = max(len(k) for k in res["model"])
    print(f"  {'statistic':<{width}}  {'circuit':>22}  {'lab':>22}")
    for k in res["model"]:
        cells = []
        for who in ("model", "lab"):
            v = res[who].get(k)
            cells.append(f"{v['value']:7.3f} [{v['ci'][0]:6.3f}, {v['ci'][1]:6.3f}]"
                         if v and v["ci"][0] is not None else "—")
        print(f"  {k:<{width}}  {cells[0]:>22}  {cells[1]:>22}")
    if "model_comparison" in res:
        mc = res["model_comparison"]
        print(f"model comparison on held-out lab sessions ({mc['split']}): normalised likelihood "
              f"per choice (0.5 = chance)")
        for name, row in mc["held_out"].items():
            if "per_subject" in row:
                parts = {k: v["likelihood_per_trial"] for k, v in row["per_subject"].items()}
            else:
                parts = row["per_session"]
            print(f"  {name:<11} {row['likelihood_per_trial']:.3f}  (n = {row['n']}; "
                  + ", ".join(f"{k} {v:.3f}" for k, v in parts.items()) + ")")
        fmt = lambda d: ", ".join(f"{k} {v:.2f}" for k, v in d.items())  # noqa: E731
        if "hybrid_params" in mc:
            print("  hybrid fitted to the animals: " + fmt(mc["hybrid_params"]))
        for label, fits in mc.get("per_session_fits", {}).items():
            for m, params in fits.items():
                print(f"  {m} fitted to session {label}: " + fmt(params))
        for m, params in mc["circuit_own_choices"].items():
            print(f"  {m} fitted to the circuit's own choices: " + fmt(params))
    return 0


def cmd_spikes(args) -> int:
    from .spikes import render

    if args.nwb:
        from .nwb import _require_pynwb

        _require_pynwb()  # before a long render
    res = render(args.recording, args.out, population=args.population, seed=args.seed,
                 target=args.target, progress=not args.quiet, workers=args.workers)
    n_da = len(res.get("da/spike_times_s", []))
    n_pfc = len(res.get("pfc/spike_times_s", []))
    print(f"{args.out}: {len(res['steps/start_s'])} steps rendered; DA spikes {n_da}, "
          f"PFC spikes {n_pfc}")
    if args.nwb:
        from .nwb_spikes import export_spikes_nwb

        print(export_spikes_nwb(args.out, args.nwb))
    return 0


def cmd_export(args) -> int:
    if not args.nwb and not args.hbayesdm:
        raise UsageError("export: give --nwb FILE and/or --hbayesdm FILE")
    if args.hbayesdm:
        from protocols.labdata import to_hbayesdm

        from .recording import read_recording

        rec = read_recording(args.recording)
        res = to_hbayesdm(rec.trials, rec.attrs["protocol"], args.hbayesdm)
        print(f"{args.hbayesdm}: hBayesDM '{res['task']}' table, {res['rows']} trials "
              f"({res['left_out']} with invalid responses left out)")
    if not args.nwb:
        return 0
    from .nwb import export_nwb, validate_nwb

    export_nwb(args.recording, args.nwb, step_duration=args.step_duration)
    errors = validate_nwb(args.nwb) if args.validate else []
    for e in errors:
        print(f"validation: {e}", file=sys.stderr)
    print(args.nwb + (" (validates)" if args.validate and not errors else ""))
    return 1 if errors else 0


def cmd_info(args) -> int:
    from .recording import read_recording

    rec = read_recording(args.recording)
    a, p = rec.attrs, rec.provenance
    info = {
        "file": args.recording, "protocol": a["protocol"], "task": a.get("task"),
        "episodes": a["n_episodes"], "trials": a["n_trials"], "steps": a["n_steps"],
        "units": f"{a['n_units']} ({a['core']})", "gamma": a["gamma"],
        "actions": a["action_names"], "observation channels": a["obs_names"],
        "trials columns": list(rec.trials), "step fields": list(rec.steps),
        "manipulations": rec.manipulations or "none", "seed": p.get("seed"),
        "checkpoint": p.get("checkpoint"), "checkpoint sha256": p.get("checkpoint_sha256"),
        "weight hash": p.get("weight_hash"), "code version": p.get("code_version"),
        "packages": ", ".join(f"{k} {v}" for k, v in p.get("packages", {}).items()),
        "created": p.get("created"),
    }
    if args.json:
        print(json.dumps(info, default=str))
        return 0
    width = max(len(k) for k in info)
    for k, v in info.items():
        if isinstance(v, (list, dict)):
            v = ", ".join(map(str, v)) if isinstance(v, list) else \
                ", ".join(f"{kk}={vv}" for kk, vv in v.items() if vv is not None)
        print(f"{k:<{width}}  {v}")
    return 0


def cmd_analyze(args) -> int:
    import importlib

    from protocols import REGISTRY, names

    if args.list:
        if args.list not in names():
            raise UsageError(f"--list: unknown protocol {args.list!r}; expected one of {names()}")
        module = importlib.import_module(REGISTRY[args.list][0])
        width = max(len(k) for k in module.STATS)
        for k, v in module.STATS.items():
            print(f"{k:<{width}}  {v}")
        return 0
    if not args.recording:
        raise UsageError("analyze: give a recording (run.h5) or --list PROTOCOL")
    from .recording import read_recording

    rec = read_recording(args.recording)
    protocol = rec.attrs["protocol"]
    module = importlib.import_module(REGISTRY[protocol][0])
    result = module.analyze(rec, seed=args.seed)
    if args.spikes:
        if not hasattr(module, "spike_analyses"):
            raise UsageError(f"--spikes: protocol {protocol!r} has no spike analyses "
                             f"(reversal and stopper have)")
        from .agent import file_hash
        from .spikes import read_spikes

        spikes = read_spikes(args.spikes)
        if spikes.get("recording_sha256") != file_hash(args.recording):
            raise UsageError(f"--spikes: {args.spikes} was rendered from another recording "
                             f"(its recording_sha256 differs from {args.recording}'s)")
        sp = module.spike_analyses(rec, spikes)
        result["stats"].update(sp["stats"])
        result["reference"].update({k: {"paper": None, "source": "DA firing", **v}
                                    for k, v in sp["reference"].items()})
    if args.figures:
        result["figures"] = module.figures(rec, result, args.figures)
    if args.json:
        out = {k: result[k] for k in ("protocol", "stats", "reference") if k in result}
        print(json.dumps(_finite(out)))
        return 0
    print(f"{args.recording}: protocol {protocol}, {rec.attrs['n_episodes']} episodes")
    width = max(len(k) for k in result["stats"])
    for k, v in result["stats"].items():
        sem = f" ± {v['sem']:.3f}" if v.get("sem") is not None else ""
        ref = result["reference"].get(k)
        if ref:
            parts = [f"{who} {ref[who]}" for who in ("paper", "lab") if ref.get(who) is not None]
            ref = f"   {', '.join(parts)} ({ref['source']})"
        else:
            ref = ""
        print(f"  {k:<{width}}  {v['value']:.4g}{sem}{ref}")
    for path in result.get("figures", []):
        print(f"  figure: {path}")
    return 0


# ------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pfcda",
        description="Simulator of the prefrontal–dopamine circuit as a meta-reinforcement "
                    "learning system (Wang, Kurth-Nelson et al. 2018).")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("protocols", help="list the protocols (name, citation, description)")
    s.set_defaults(func=cmd_protocols)

    s = sub.add_parser("checkpoints", help="list the shipped checkpoints by name")
    s.set_defaults(func=cmd_checkpoints)

    s = sub.add_parser("train", help="meta-train a circuit on a protocol")
    s.add_argument("protocol", help="protocol name (see `pfcda protocols`)")
    s.add_argument("--variant", help="task variant, e.g. independent | correlated for the bandit")
    s.add_argument("--arms", type=_positive_int, help="number of arms (bandit)")
    s.add_argument("--steps", type=_positive_int, help="environment steps to train for")
    s.add_argument("--seed", type=_int, help="random seed (default 0)")
    s.add_argument("--out", help="checkpoint path to write")
    s.add_argument("--resume", help="continue from a checkpoint written by an earlier run")
    s.add_argument("--set", type=_setting, action="append", metavar="FIELD=VALUE",
                   help="override a training-config field (e.g. lr=1e-3, circuit.n_units=64)")
    s.add_argument("--manipulation", action="append", metavar="FILE.toml",
                   help="manipulations during training (stage 'train' or 'both'), e.g. a DA "
                        "teaching-signal blockade; repeatable")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="score a frozen bandit circuit against reference agents")
    s.add_argument("checkpoint", help="checkpoint path or shipped name (see `pfcda checkpoints`)")
    s.add_argument("--episodes", type=_positive_int, default=2000, help="fresh episodes (2000)")
    s.add_argument("--seed", type=_int, default=0, help="seed of the episodes (0)")
    s.add_argument("--probs", type=_probs, help="fixed arm probabilities, e.g. 0.25,0.75")
    s.add_argument("--greedy", action="store_true", help="argmax actions instead of sampling")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("run", help="run a protocol against a frozen circuit and record it (HDF5)")
    s.add_argument("protocol", help="protocol name (see `pfcda protocols`)")
    s.add_argument("--checkpoint", help="checkpoint path or shipped name (default: the "
                                        "protocol's shipped checkpoint)")
    s.add_argument("--episodes", type=_positive_int, default=100, help="episodes to run (100)")
    s.add_argument("--seed", type=_int, default=0, help="seed (0)")
    s.add_argument("--batch-size", type=_positive_int, default=500,
                   help="episodes simulated (and written) at once (500)")
    s.add_argument("--probs", type=_probs, help="fixed arm probabilities (bandit), e.g. 0.25,0.75")
    s.add_argument("--task", type=_setting, action="append", metavar="OPTION=VALUE",
                   help="a task option for this run (see the protocol's task card), e.g. "
                        "pool=test (Harlow held-out objects), schedule=behrens (volatility)")
    s.add_argument("--manipulation", action="append", metavar="FILE.toml",
                   help="manipulations ([[manipulation]] tables) acting at test; repeatable")
    s.add_argument("--preset", action="append", metavar="NAME",
                   help="a named manipulation preset of the protocol; repeatable")
    s.add_argument("--closed-loop", action="store_true",
                   help="pass every step's RPE through the spiking DA population (brian2) before "
                        "it reaches the actor (actor-critic circuits, e.g. stopper), so that "
                        "da_neurons (ChR2/ArchT/NpHR light, lesions) and d1 manipulations act; "
                        "≈ 0.25 s per agent step for a batch")
    s.add_argument("--out", required=True, help="the HDF5 recording to write")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("replay", help="run a frozen circuit on a lab's own sessions: their lengths, "
                                      "trial-by-trial reward probabilities and (two-step) transitions")
    s.add_argument("protocol", help="twostep (e.g. the rats) or matching (e.g. the mice)")
    s.add_argument("--lab", required=True, help="bundled lab data (rats, mice) or a file")
    s.add_argument("--mapping", metavar="TOML", help="column mapping for a lab file in another layout")
    s.add_argument("--checkpoint", help="checkpoint path or shipped name (default: the protocol's; "
                                        "twostep_daw for two-step data with four option probabilities)")
    s.add_argument("--manipulation", action="append", metavar="FILE.toml",
                   help="manipulations acting during the replay; repeatable")
    s.add_argument("--preset", action="append", metavar="NAME", help="a manipulation preset; repeatable")
    s.add_argument("--seed", type=_int, default=0, help="seed (0)")
    s.add_argument("--out", required=True, help="the HDF5 recording to write (the schedule is "
                                                "written beside it, OUT.schedule.csv)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_replay)

    s = sub.add_parser("compare", help="the protocol's analyses on a recording and on lab data, "
                                       "side by side with bootstrap CIs")
    s.add_argument("protocol", help="twostep (rats) or matching (mice)")
    s.add_argument("--model", required=True, help="a recording of the circuit (pfcda run)")
    s.add_argument("--lab", required=True, help="bundled lab data (rats, mice) or a file "
                                                "(CSV/TSV in their layout, or a foraging NWB)")
    s.add_argument("--mapping", metavar="TOML",
                   help="column mapping for a lab file in another layout (CSV/TSV or MATLAB v7.3 "
                        ".mat; see protocols/labdata.py)")
    s.add_argument("--bootstrap", type=_positive_int, default=100, help="bootstrap resamples (100)")
    s.add_argument("--score", metavar="CHECKPOINT",
                   help="also score this circuit trial by trial on the lab's own choices and "
                        "compare it with classic models fitted on other sessions (two-step: "
                        "hybrid MB/MF and model-free; matching: Q-learning with perseveration, "
                        "with and without forgetting); the same models are fitted to the "
                        "circuit's own choices (minutes)")
    s.add_argument("--seed", type=_int, default=0, help="bootstrap seed (0)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--figures", help="write the overlay figure (PNG and SVG) into this folder")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("spikes", help="render a recording as spikes: DA population (brian2) "
                                      "and PFC spike trains")
    s.add_argument("recording", help="an HDF5 recording written by `pfcda run`")
    s.add_argument("--out", required=True, help="the spikes file (HDF5) to write")
    s.add_argument("--population", choices=("da", "pfc", "both"), default="both")
    s.add_argument("--target", choices=("numpy", "cython", "cpp_standalone"), default="numpy",
                   help="brian2 code generation (numpy: no compiler; cython: faster after a "
                        "first, slow build; cpp_standalone: a C++ binary, fastest for long runs, "
                        "its build cached per model structure in ~/.cache/pfcda or $PFCDA_CACHE_DIR)")
    s.add_argument("--seed", type=_int, default=0, help="seed (0)")
    s.add_argument("--nwb", metavar="FILE", help="also write the spikes as NWB (needs pfcda[nwb])")
    s.add_argument("--workers", type=_positive_int, default=1,
                   help="processes for the DA population (episodes split between them; 2 on a "
                        "2-core machine halves the wall time)")
    s.add_argument("--quiet", action="store_true", help="no progress report")
    s.set_defaults(func=cmd_spikes)

    s = sub.add_parser("lesion-sweep", help="a protocol's behaviour against virtual-lesion size")
    s.add_argument("protocol", help="protocol name (see `pfcda protocols`)")
    s.add_argument("--checkpoint", help="checkpoint path or shipped name (default: the "
                                        "protocol's shipped checkpoint)")
    s.add_argument("--sizes", type=_fractions, default=[0.0, 0.1, 0.25, 0.5, 0.75, 1.0],
                   help="lesion sizes as fractions (0,0.1,0.25,0.5,0.75,1)")
    s.add_argument("--channel", help="lesion this input channel's gain instead of units "
                                     "(e.g. prev_reward)")
    s.add_argument("--draws", type=_positive_int, default=3,
                   help="random unit subsets per size (3)")
    s.add_argument("--episodes", type=_positive_int, default=200, help="episodes per run (200)")
    s.add_argument("--seed", type=_int, default=0, help="seed (0)")
    s.add_argument("--task", type=_setting, action="append", metavar="OPTION=VALUE",
                   help="a task option for the runs")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--figure", help="write the curve (PNG and SVG) at this path")
    s.set_defaults(func=cmd_lesion_sweep)

    s = sub.add_parser("export", help="export a recording to NWB, or its trials to hBayesDM")
    s.add_argument("recording", help="an HDF5 recording written by `pfcda run`")
    s.add_argument("--nwb", help="the NWB file to write")
    s.add_argument("--hbayesdm", help="write the trials in hBayesDM's tab-separated convention "
                                      "(two-step → ts, bandit/matching → bandit2arm, reversal → prl)")
    s.add_argument("--step-duration", type=float, default=0.5,
                   help="seconds per agent step in the NWB time base (0.5)")
    s.add_argument("--no-validate", dest="validate", action="store_false",
                   help="skip validation of the written file")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("analyze", help="run a protocol's analyses on a recording")
    s.add_argument("recording", nargs="?", help="an HDF5 recording written by `pfcda run`")
    s.add_argument("--list", metavar="PROTOCOL", help="name and explain every statistic of PROTOCOL")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--figures", metavar="DIR", help="write figures (PNG and SVG) to DIR")
    s.add_argument("--seed", type=_int, default=0, help="seed of the reference agents (0)")
    s.add_argument("--spikes", metavar="FILE", help="also analyse the recording's rendered spikes "
                                                    "(pfcda spikes): DA PSTHs by condition")
    s.set_defaults(func=cmd_analyze)

    s = sub.add_parser("info", help="summarise a recording: protocol, counts, provenance")
    s.add_argument("recording", help="an HDF5 recording written by `pfcda run`")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_info)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("pfcda: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        sys.stderr.close()
        return 0
    except (ValueError, OSError, RuntimeError) as e:  # includes CheckpointError, UsageError
        print(f"pfcda {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
