"""One function per command: parse → one library call → print. Imports are inside the
functions so that ``pfcda --help`` and ``pfcda protocols`` import no torch."""
from __future__ import annotations

import os
import sys

from pfcda.errors import UsageError

from ..io.atomic import check_outputs
from . import report


def _print(lines) -> None:
    for line in lines:
        print(line)


def protocols(args) -> int:
    from pfcda import protocols as registry

    rows = {}
    for name in registry.names():
        spec = registry.describe(name)
        rows[name] = f"{spec.citation} — {spec.description}"
    _print(report.table(rows))
    return 0


def checkpoints(args) -> int:
    from ..io.checkpoint import read_checkpoint, shipped_checkpoints

    shipped = shipped_checkpoints()
    if not shipped:
        print("no shipped checkpoints")
        return 0
    rows = {}
    for name, path in shipped.items():
        ck = read_checkpoint(path)
        c = ck.circuit_config
        task = ", ".join(f"{k}={v}" for k, v in c["task"].items() if v is not None)
        last = (ck.history or [{}])[-1]
        score = f", regret {last['regret']:.3f}" if "regret" in last else ""
        rows[name] = (f"{c['protocol']} ({task}); {c['core']} {c['n_units']} units, "
                      f"γ {c['gamma']}; {ck.steps:,} steps{score}")
    _print(report.table(rows))
    return 0


def train(args) -> int:
    from ..config import train_config_for
    from ..manipulations import load_toml
    from ..train import train as run_training

    task_options = dict(args.task or [])
    if args.variant is not None:
        task_options["variant"] = args.variant
    if args.arms is not None:
        task_options["arms"] = args.arms
    manips = [m for path in args.manipulation or [] for m in load_toml(path)]
    for m in manips:
        if m.stage == "test":
            raise UsageError(f"--manipulation: {m.name or m.target} has stage 'test'; "
                             f"training uses stage 'train' or 'both'")
    cfg = train_config_for(args.protocol, task_options, sets=args.set or [], steps=args.steps,
                           seed=args.seed, manipulations=manips)
    out = args.out or f"{args.protocol}_{cfg.circuit.task.get('variant', 'default')}_seed{cfg.seed}.pt"
    check_outputs([out], [args.resume, *(args.manipulation or [])], args.force)
    if args.resume:
        from ..train import check_resume

        check_resume(cfg, args.resume)
    print(f"training {args.protocol} → {out}", file=sys.stderr)
    run_training(cfg, out=out, resume=args.resume, progress=not args.quiet, overwrite=args.force,
                 log=lambda m: print(m, file=sys.stderr))
    print(out)
    return 0


def evaluate(args) -> int:
    from ..evaluate import evaluate_bandit, evaluate_bandit_seeds
    from ..io.checkpoint import load_checkpoint

    circuit, _ = load_checkpoint(args.checkpoint)
    if circuit.config.protocol != "bandit":
        raise UsageError(f"evaluate: regret evaluation is for bandit circuits; "
                         f"{args.checkpoint} is a {circuit.config.protocol!r} circuit")
    overrides = {"probs": args.probs} if args.probs else {}
    if args.probs and len(args.probs) != circuit.make_task().arms:
        raise UsageError(f"--probs: expected {circuit.make_task().arms} probabilities, "
                         f"got {len(args.probs)}")
    if args.seed is not None:
        res = evaluate_bandit(circuit, episodes=args.episodes, seed=args.seed,
                              task_overrides=overrides, greedy=args.greedy)
    else:
        res = evaluate_bandit_seeds(circuit, args.seeds or [0, 1, 2, 3], episodes=args.episodes,
                                    task_overrides=overrides, greedy=args.greedy)
    if args.json:
        print(report.dumps(res))
        return 0
    _print(report.evaluation(res, args.checkpoint, args.probs))
    return 0


def run(args) -> int:
    from ..run import manipulations_for, protocol_circuit
    from ..run import run as run_protocol

    check_outputs([args.out], [args.checkpoint, *(args.manipulation or [])], args.force)
    ckpt, circuit = protocol_circuit(args.protocol, args.checkpoint)
    overrides = dict(args.task or [])
    if args.probs:
        overrides["probs"] = args.probs
    if overrides:
        circuit.make_task(**overrides)  # validate before any work
    manips = manipulations_for(args.protocol, args.manipulation, args.preset)
    rec = run_protocol(circuit, episodes=args.episodes, seed=args.seed, batch_size=args.batch_size,
                       out=args.out, task_overrides=overrides or None, progress=not args.quiet,
                       manipulations=manips, closed_loop=args.closed_loop or None, checkpoint=ckpt,
                       overwrite=args.force)
    print(f"{args.out}: {rec.attrs['n_episodes']} episodes, {rec.attrs['n_trials']} trials, "
          f"{rec.attrs['n_steps']} steps, {rec.attrs['n_units']} units")
    return 0


def replay(args) -> int:
    from pfcda import protocols as registry
    from pfcda.protocols import labdata

    from ..lab.replay import replay as run_replay
    from ..lab.replay import replayable
    from ..run import manipulations_for, protocol_circuit

    if args.protocol not in replayable():
        raise UsageError(f"protocol: replay supports {replayable()}, got {args.protocol!r}")
    check_outputs([args.out, f"{args.out}.schedule.csv"], [args.lab, args.mapping, args.checkpoint,
                                                          *(args.manipulation or [])], args.force)
    table = labdata.load(args.lab, args.protocol, mapping=args.mapping)
    checkpoint = args.checkpoint
    lab = registry.get(args.protocol).lab
    if checkpoint is None and lab.checkpoint_for is not None:
        checkpoint = lab.checkpoint_for(table)
    ckpt, circuit = protocol_circuit(args.protocol, checkpoint)
    rec = run_replay(circuit, args.lab, args.out, seed=args.seed, progress=not args.quiet, checkpoint=ckpt,
                     manipulations=manipulations_for(args.protocol, args.manipulation, args.preset),
                     table=table, overwrite=args.force)
    print(f"{args.out}: {rec.attrs['n_episodes']} lab sessions replayed ({rec.attrs['n_trials']} trials) "
          f"on their own schedules ({args.out}.schedule.csv); compare with: "
          f"pfcda compare {args.protocol} --model {args.out} --lab {args.lab}"
          + (f" --mapping {args.mapping}" if args.mapping else ""))
    return 0


def compare(args) -> int:
    from ..lab.compare import compare_recording

    res = compare_recording(args.protocol, args.model, args.lab, mapping=args.mapping,
                            n_boot=args.bootstrap, seed=args.seed, score=args.score,
                            figures=args.figures, overwrite=args.force)
    if args.json:
        print(report.dumps(res))
        return 0
    _print(report.comparison(res, args.bootstrap, args.lab))
    return 0


def benchmark(args) -> int:
    from ..lab.benchmark import benchmark as run_benchmark
    from ..lab.benchmark import figure

    if args.recovery:
        from ..lab.benchmark import recovery

        res = recovery(args.dataset, subjects_per_model=args.recovery, seed=args.seed)
        if args.json:
            print(report.dumps(res))
        else:
            _print(report.recovery(res))
        return 0
    if args.figures:
        from ..io.figures import check_figure_dir

        check_figure_dir(args.figures, args.force)
    res = run_benchmark(args.dataset, models=args.models, seed=args.seed, n_boot=args.bootstrap)
    if args.figures:
        from ..io.figures import save_figures

        res["figures"] = save_figures(figure(res), args.figures, overwrite=args.force)
    if args.json:
        print(report.dumps(res))
        return 0
    _print(report.benchmark(res))
    return 0


def spikes(args) -> int:
    from ..render import render

    check_outputs([args.out, args.nwb], [args.recording], args.force)
    if args.nwb:
        from ..io.nwb import require_pynwb

        require_pynwb()  # before a long render
    res = render(args.recording, args.out, population=args.population, seed=args.seed,
                 target=args.target, progress=not args.quiet, workers=args.workers, overwrite=args.force)
    sp = res["spikes"]
    n_da = len(sp.da_spike_times_s) if sp.has_da else 0
    n_pfc = len(sp.pfc_spike_times_s) if sp.has_pfc else 0
    print(f"{args.out}: {len(sp.step_start_s)} steps rendered; DA spikes {n_da}, PFC spikes {n_pfc}")
    if args.nwb:
        from ..io.nwb_spikes import export_spikes_nwb

        print(export_spikes_nwb(args.out, args.nwb, overwrite=args.force))
    return 0


def lesion_sweep(args) -> int:
    from ..lesion_sweep import figure
    from ..lesion_sweep import lesion_sweep as sweep
    from ..run import protocol_circuit

    if args.figure:
        from ..io.atomic import check_outputs as check
        from ..io.figures import figure_paths

        directory, base = os.path.split(os.path.abspath(args.figure))
        check(figure_paths(directory, [os.path.splitext(base)[0]]), overwrite=args.force)
    _, circuit = protocol_circuit(args.protocol, args.checkpoint)
    res = sweep(circuit, sizes=args.sizes, draws=args.draws, episodes=args.episodes,
                seed=args.seed, target="input" if args.channel else "units",
                channel=args.channel, task_overrides=dict(args.task or []) or None)
    if args.figure:
        figure(res, args.figure, overwrite=args.force)
    if args.json:
        print(report.dumps(res))
        return 0
    print(f"{res['protocol']}: {res['measure']} by lesion size "
          f"({'units silenced' if res['target'] == 'units' else res['channel'] + ' removed'})")
    print("  size     mean   ± sem over episodes   (± sem across random subsets)")
    for r in res["rows"]:
        draws = f"  (± {r['sem_draws']:.3f} across {len(r['draws'])} subsets)" if r["sem_draws"] is not None else ""
        print(f"  {r['size']:>5.0%}  {r['value']:8.3f} ± {r['sem']:.3f}  (n = {r['n']}){draws}")
    return 0


def export(args) -> int:
    if not args.nwb and not args.hbayesdm:
        raise UsageError("export: give --nwb FILE and/or --hbayesdm FILE")
    check_outputs([args.nwb, args.hbayesdm], [args.recording], args.force)
    if args.hbayesdm:
        from ..io.export import export_hbayesdm

        res = export_hbayesdm(args.recording, args.hbayesdm, overwrite=args.force)
        print(f"{args.hbayesdm}: hBayesDM '{res['task']}' table, {res['rows']} trials "
              f"({res['left_out']} with invalid responses left out)")
    if not args.nwb:
        return 0
    from ..io.nwb import export_nwb, validate_nwb

    export_nwb(args.recording, args.nwb, step_duration=args.step_duration, overwrite=args.force)
    errors = validate_nwb(args.nwb) if args.validate else []
    for e in errors:
        print(f"validation: {e}", file=sys.stderr)
    print(args.nwb + (" (validates)" if args.validate and not errors else ""))
    return 1 if errors else 0


def analyze(args) -> int:
    from ..analyze import analyze_recording, statistics

    if args.list:
        _print(report.table(statistics(args.list)))
        return 0
    if not args.recording:
        raise UsageError("analyze: give a recording (run.h5) or --list PROTOCOL")
    result = analyze_recording(args.recording, seed=args.seed, spikes=args.spikes, figures=args.figures,
                               overwrite=args.force)
    if args.json:
        print(report.dumps({k: result[k] for k in ("protocol", "stats", "reference") if k in result}))
        return 0
    from ..io.recording import read_recording

    _print(report.analysis(result, args.recording, read_recording(args.recording).attrs["n_episodes"]))
    return 0


def info(args) -> int:
    from ..io.recording import read_recording

    summary = report.info(read_recording(args.recording), args.recording)
    if args.json:
        print(report.dumps(summary))
        return 0
    _print(report.info_lines(summary))
    return 0


def sweep(args) -> int:
    from .. import sweep as sweeps

    if args.spec in ("status", "collect"):
        if not args.dir:
            raise UsageError(f"sweep {args.spec}: give the sweep's folder (pfcda sweep {args.spec} DIR)")
        if args.spec == "status":
            res = sweeps.sweep_status(args.dir)
            if args.json:
                print(report.dumps(res))
                return 0
            _print(report.sweep_status(res))
            return 0
        res = sweeps.collect(args.dir, metric=args.metric)
        if args.json:
            print(report.dumps({k: v for k, v in res.items() if k not in ("table", "summary")}))
            return 0
        _print(report.sweep_collect(res))
        return 0
    if args.dir:
        raise UsageError(f"sweep: unexpected {args.dir!r} after the spec (the folder is --out DIR)")
    res = sweeps.run_sweep(args.spec, out=args.out, executor=args.executor, workers=args.workers,
                           retry_failed=args.retry_failed, wait=args.wait, progress=not args.quiet)
    if args.json:
        print(report.dumps(res))
    else:
        _print(report.sweep_status(res))
    c = res["counts"]
    return 0 if c["done"] == res["cells"] or (not args.wait and not c["failed"]) else 1


def reproduce(args) -> int:
    from ..reproduce import reproduce as run_reproduction

    names = [n.strip() for n in args.subset.split(",") if n.strip()] if args.subset else None
    if args.seeds is None and (args.steps or args.executor != "local" or args.workers):
        raise UsageError("reproduce: --executor, --workers and --steps go with --seeds N (trained seeds)")
    res = run_reproduction(args.out, names=names, seed=args.seed, scale=args.scale, overwrite=args.force,
                           progress=not args.quiet, seeds=args.seeds, executor=args.executor,
                           workers=args.workers, steps=args.steps)
    _print(report.reproduction(res))
    return 0
