"""A sweep's specification (TOML) and its expansion into cells.

A cell is one chain of pfcda commands (e.g. train → evaluate) with one value of every grid
factor. The spec is checked before anything runs: its tables and keys, the grid's factors, and
every cell's command lines parsed by the same parser as ``pfcda`` itself, so a bad key or a
value of the wrong form is one line naming the field. What only a command can check (a value
out of a task's range, say) is left to that command: the cell fails with its message and the
others go on.

The format::

    [sweep]
    name = "lr-by-protocol"             # optional; the default folder is NAME.sweep
    chain = ["train", "evaluate"]        # the commands each cell runs, in order
    protocol = "bandit"                  # or a grid factor
    protocols = ["my_task.py"]           # optional: plug-in files or modules (pfcda --protocols)

    [grid]                               # every combination is a cell
    seed = [0, 1, 2, 3]                  # the seed of the chain's first command
    "set.lr" = [1e-3, 2e-3]              # a training-config field (pfcda train --set)
    # "task.OPTION", "manipulation.FIELD", "STEP.OPTION", or any option of a chained command

    [train]                              # options of one command (their long names)
    steps = 200000
    [evaluate]
    episodes = 500
    [run]
    episodes = 100
    task = {schedule = "behrens"}
    [[run.manipulation]]                 # a manipulation as in a --manipulation file
    target = "units"
    action = "silence"
    fraction = 0.25

    [slurm]                              # resources of each array task (--executor slurm)
    partition = "debug"
    time_min = 60
    cpus_per_task = 1
    mem_gb = 4
    array_parallelism = 32

Paths in the spec (plug-ins, manipulation files, checkpoint files) are relative to the spec's
folder. The outputs of a cell are named by the chain (``train.pt``, ``run.h5``) and live in the
cell's folder.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import io
import itertools
import json
import os
from dataclasses import dataclass, field

from pfcda.errors import ConfigError

#: commands a cell can chain, and the files they write inside the cell
STEPS = ("train", "evaluate", "run", "analyze", "lesion-sweep")
OUTPUT = {"train": "train.pt", "run": "run.h5"}
#: commands whose --json output is a cell's metrics
JSON_STEPS = ("evaluate", "analyze", "lesion-sweep")
#: options the chain sets itself
RESERVED = {"out", "json", "quiet", "force", "protocols", "resume", "help", "figure", "figures",
            "recording", "debug"}
TABLES = {"sweep", "grid", "slurm", "local", *STEPS}
SWEEP_KEYS = {"name", "chain", "protocol", "protocols", "checkpoint"}
SLURM_KEYS = {"partition": str, "time_min": int, "cpus_per_task": int, "mem_gb": (int, float),
              "array_parallelism": int, "account": str, "qos": str, "constraint": str,
              "additional_parameters": dict}
LOCAL_KEYS = {"workers": int}


def _norm(key: str) -> str:
    return key.replace("-", "_")


@dataclass
class Spec:
    """A parsed sweep specification (see the module's documentation)."""

    path: str
    name: str
    chain: list
    grid: dict                       # factor → list of values (in the spec's order)
    steps: dict                      # command → {option: value} (manipulations as dicts)
    plugins: list = field(default_factory=list)
    slurm: dict = field(default_factory=dict)
    local: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    cells: list = field(default_factory=list)   # see :func:`cells`

    def digest(self) -> str:
        """A hash of what the spec asks for (its cells; not its executor resources)."""
        body = {"chain": self.chain, "grid": self.grid, "steps": self.steps, "plugins": self.plugins}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _fail(path, where: str, message: str):
    raise ConfigError(f"{path}: {where}: {message}")


def _flatten_grid(grid: dict, prefix: str = "") -> dict:
    """``[grid.set] lr = [...]`` and ``"set.lr" = [...]`` both give the factor ``set.lr``."""
    out = {}
    for key, value in grid.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten_grid(value, name + "."))
        else:
            out[name] = value
    return out


def _resolve_path(base: str, value):
    """A path relative to the spec's folder → absolute, when a file or folder is there."""
    if isinstance(value, str) and value and not os.path.isabs(value):
        candidate = os.path.join(base, value)
        if os.path.exists(candidate):
            return os.path.abspath(candidate)
    return value


def load_spec(path: str) -> Spec:
    """Read and check a sweep spec (TOML); errors name the table and key."""
    import tomllib

    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"sweep spec: no file {path!r}") from None
    except IsADirectoryError:
        raise ConfigError(f"sweep spec: {path} is a folder; expected a .toml file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"sweep spec {path}: not valid TOML ({e})") from None
    base = os.path.dirname(os.path.abspath(path))
    for table in raw:
        if table not in TABLES:
            _fail(path, f"[{table}]", f"unknown table; expected one of {sorted(TABLES)}")
    head = raw.get("sweep")
    if not isinstance(head, dict):
        _fail(path, "[sweep]", "missing; it names the chain, e.g. chain = [\"train\", \"evaluate\"]")
    for key in head:
        if key not in SWEEP_KEYS:
            _fail(path, f"[sweep] {key}", f"unknown key; expected one of {sorted(SWEEP_KEYS)}")
    chain = head.get("chain")
    if (not isinstance(chain, list) or not chain or not all(isinstance(s, str) for s in chain)):
        _fail(path, "[sweep] chain", f"expected a list of commands from {list(STEPS)}, got {chain!r}")
    for s in chain:
        if s not in STEPS:
            _fail(path, "[sweep] chain", f"unknown command {s!r}; expected commands from {list(STEPS)}")
    if len(set(chain)) != len(chain):
        _fail(path, "[sweep] chain", f"a command appears twice in {chain}")
    if "train" in chain and chain[0] != "train":
        _fail(path, "[sweep] chain", "train must come first (the later commands use its circuit)")
    if "analyze" in chain and ("run" not in chain or chain.index("analyze") < chain.index("run")):
        _fail(path, "[sweep] chain", "analyze needs a run before it in the chain")
    for table in raw:
        if table in STEPS and table not in chain:
            _fail(path, f"[{table}]", f"options for {table!r}, which is not in the chain {chain}")
    name = head.get("name", os.path.splitext(os.path.basename(path))[0])
    if not isinstance(name, str) or not name or "/" in name:
        _fail(path, "[sweep] name", f"expected a short name without '/', got {name!r}")

    plugins = head.get("protocols", [])
    if isinstance(plugins, str):
        plugins = [plugins]
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        _fail(path, "[sweep] protocols", "expected plug-in files or modules, e.g. [\"my_task.py\"]")
    plugins = [_resolve_path(base, p) for p in plugins]

    grid = raw.get("grid", {})
    if not isinstance(grid, dict):
        _fail(path, "[grid]", "expected a table of factors")
    grid = _flatten_grid(grid)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            _fail(path, f"[grid] {key}", f"expected a non-empty list of values, got {values!r}")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            _fail(path, f"[grid] {key}", f"a value appears twice in {values}")
        grid[key] = [_resolve_path(base, v) if key.endswith("checkpoint") else v for v in values]

    steps = {}
    for s in chain:
        opts = copy.deepcopy(raw.get(s, {}))
        if not isinstance(opts, dict):
            _fail(path, f"[{s}]", "expected a table of options")
        opts = {_norm(k): v for k, v in opts.items()}
        if "checkpoint" in opts:
            opts["checkpoint"] = _resolve_path(base, opts["checkpoint"])
        if "manipulation" in opts:
            ms = opts["manipulation"]
            ms = [ms] if isinstance(ms, (str, dict)) else ms
            if not isinstance(ms, list) or not all(isinstance(m, (str, dict)) for m in ms):
                _fail(path, f"[{s}] manipulation", "expected [[" + s + ".manipulation]] tables or a "
                      "list of manipulation files")
            opts["manipulation"] = [_resolve_path(base, m) if isinstance(m, str) else m for m in ms]
        steps[s] = opts
    for key in ("protocol", "checkpoint"):
        if key in head:
            for s in chain:
                steps[s].setdefault(key, _resolve_path(base, head[key]) if key == "checkpoint" else head[key])

    def resources(table, keys):
        res = raw.get(table, {})
        if not isinstance(res, dict):
            _fail(path, f"[{table}]", "expected a table")
        for k, v in res.items():
            if k not in keys:
                _fail(path, f"[{table}] {k}", f"unknown key; expected one of {sorted(keys)}")
            kind = keys[k]
            if not isinstance(v, kind) or isinstance(v, bool) or (isinstance(v, (int, float)) and v <= 0):
                _fail(path, f"[{table}] {k}", f"expected a positive {getattr(kind, '__name__', 'number')}"
                      if kind is not str and kind is not dict else f"expected a {kind.__name__}, got {v!r}")
        return res

    spec = Spec(path=os.path.abspath(path), name=name, chain=list(chain), grid=grid, steps=steps,
                plugins=plugins, slurm=resources("slurm", SLURM_KEYS), local=resources("local", LOCAL_KEYS),
                raw=raw)
    spec.cells = cells(spec)  # every cell's command lines, checked now
    return spec


# -- command lines ------------------------------------------------------------------------------


def _subparsers():
    from ..cli.parser import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, sub.choices


def _options(subparser) -> dict:
    """A command's options by normalised long name (and dest), positionals by dest."""
    out = {}
    for a in subparser._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        if a.option_strings:
            for o in a.option_strings:
                if o.startswith("--"):
                    out[_norm(o[2:])] = a
            out.setdefault(a.dest, a)
        else:
            out[a.dest] = a
    return out


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(_scalar(x) for x in v)
    return str(v)


def _setting(k, v) -> str:
    return f"{k}={v if isinstance(v, str) else json.dumps(v)}"


class _Where:
    def __init__(self, path, grid):
        self.path, self.grid = path, grid

    def __call__(self, where, message):
        cell = ", ".join(f"{k}={v!r}" for k, v in self.grid.items())
        _fail(self.path, where, message + (f" (in the cell {cell})" if cell else ""))


def apply_grid(spec: Spec, values: dict) -> dict:
    """The options of every command of the chain for one cell (the grid's ``values`` applied)."""
    steps = copy.deepcopy(spec.steps)
    _, subs = _subparsers()
    fail = _Where(spec.path, values)
    for key, value in values.items():
        parts = key.split(".")
        targets = list(spec.chain)
        if parts[0] in STEPS and len(parts) > 1:
            if parts[0] not in spec.chain:
                fail(f"[grid] {key}", f"{parts[0]!r} is not in the chain {spec.chain}")
            targets, parts = [parts[0]], parts[1:]
        head = _norm(parts[0])
        if head in ("set", "task") and len(parts) > 1:
            name = ".".join(parts[1:])
            hit = [s for s in targets if head in _options(subs[s])]
            if not hit:
                fail(f"[grid] {key}", f"no command of {targets} takes --{head}")
            for s in hit:
                steps[s].setdefault(head, {})
                if not isinstance(steps[s][head], dict):
                    fail(f"[{s}] {head}", "expected a table of OPTION = VALUE")
                steps[s][head][name] = value
        elif head == "manipulation" and len(parts) > 1:
            fieldname = ".".join(parts[1:])
            hit = [m for s in targets for m in steps[s].get("manipulation", []) if isinstance(m, dict)]
            if not hit:
                fail(f"[grid] {key}", "there is no inline manipulation to set it on (write it as a "
                     "[[STEP.manipulation]] table in the spec)")
            for m in hit:
                m[fieldname] = value
        elif len(parts) == 1:
            if head == "seed" and len(targets) > 1:
                targets = [s for s in targets if "seed" in _options(subs[s])][:1]
            hit = [s for s in targets if head in _options(subs[s])]
            if head in RESERVED or not hit:
                fail(f"[grid] {key}", f"no command of the chain {targets} takes it as an option")
            for s in hit:
                steps[s][head] = value
        else:
            fail(f"[grid] {key}", "expected OPTION, set.FIELD, task.OPTION, manipulation.FIELD or "
                 "STEP.OPTION")
    return steps


def _set_keys_known(key: str) -> bool:
    import dataclasses

    from ..config import CircuitConfig, TrainConfig

    if key.startswith("circuit."):
        return key[len("circuit."):] in {f.name for f in dataclasses.fields(CircuitConfig)}
    return key in {f.name for f in dataclasses.fields(TrainConfig)} and key != "circuit"


def command_lines(spec: Spec, steps: dict, values: dict) -> dict:
    """``{command: argv}`` for one cell (paths inside the cell relative to it), each checked by
    pfcda's own parser; inline manipulations are written by the cell as ``STEP.manipulation.toml``."""
    from pfcda.protocols import names

    parser, subs = _subparsers()
    fail = _Where(spec.path, values)
    plugin_argv = [a for p in spec.plugins for a in ("--protocols", p)]
    if spec.plugins:
        from pfcda import protocols

        protocols.load_plugins(spec.plugins)
    out = {}
    for s in spec.chain:
        opts = dict(steps[s])
        known = _options(subs[s])
        argv = [s]
        # positionals, set by the chain
        if s in ("train", "run", "lesion-sweep"):
            protocol = opts.pop("protocol", None)
            if protocol is None:
                fail(f"[{s}] protocol", "missing: set [sweep] protocol or a [grid] protocol factor")
            if protocol not in names():
                fail(f"[{s}] protocol", f"unknown {protocol!r}; expected one of {names()}")
            argv.append(str(protocol))
        elif s == "evaluate":
            ck = opts.pop("checkpoint", None)
            if "train" in spec.chain:
                ck = OUTPUT["train"]
            if ck is None:
                fail("[evaluate] checkpoint", "missing: evaluate needs train before it or a checkpoint")
            opts.pop("protocol", None)
            argv.append(str(ck))
        elif s == "analyze":
            opts.pop("protocol", None)
            argv.append(OUTPUT["run"])
        if s in ("run", "lesion-sweep") and "train" in spec.chain:
            if "checkpoint" in opts:
                fail(f"[{s}] checkpoint", "the chain trains its own circuit (train.pt)")
            argv += ["--checkpoint", OUTPUT["train"]]
        if s == "train":
            opts.pop("checkpoint", None)
        for k, v in opts.items():
            if k in RESERVED or k not in known or not known[k].option_strings:
                fail(f"[{s}] {k}", f"not an option of pfcda {s} that a sweep can set")
            action = known[k]
            flag = next(o for o in action.option_strings if o.startswith("--"))
            if k == "manipulation":
                files = [m for m in v if isinstance(m, str)]
                if any(isinstance(m, dict) for m in v):
                    _check_manipulations(fail, s, [m for m in v if isinstance(m, dict)])
                    files.append(f"{s}.manipulation.toml")
                for m in files:
                    argv += [flag, m]
            elif isinstance(action, argparse._StoreTrueAction):
                if not isinstance(v, bool):
                    fail(f"[{s}] {k}", f"expected true or false, got {v!r}")
                if v:
                    argv.append(flag)
            elif action.type is not None and getattr(action.type, "__name__", "") == "setting":
                if not isinstance(v, dict):
                    fail(f"[{s}] {k}", f"expected a table of FIELD = VALUE, got {v!r}")
                for name, value in v.items():
                    if k == "set" and not _set_keys_known(name):
                        fail(f"[{s}] set.{name}", "not a training-config field (see "
                             "pfcda.circuit.config.TrainConfig; circuit.FIELD for the circuit's)")
                    argv += [flag, _setting(name, value)]
            elif isinstance(action, argparse._AppendAction):
                for value in (v if isinstance(v, list) else [v]):
                    argv += [flag, _scalar(value)]
            else:
                argv += [flag, _scalar(v)]
        if s in OUTPUT:
            argv += ["--out", OUTPUT[s]]
        if s in ("train", "run"):
            argv.append("--quiet")
        if s in JSON_STEPS:
            argv.append("--json")
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                parser.parse_args(plugin_argv + argv)
        except SystemExit:
            last = (err.getvalue().strip().splitlines() or ["invalid options"])[-1]
            fail(f"[{s}]", last.split("error: ", 1)[-1])
        out[s] = plugin_argv + argv
    return out


def _check_manipulations(fail, step, tables):
    from ..manipulations import Manipulation

    for i, t in enumerate(tables):
        try:
            Manipulation.from_dict(t)
        except ValueError as e:
            fail(f"[[{step}.manipulation]] {i + 1}", str(e))


def cell_id(config: dict) -> str:
    """A cell's name: the hash of its full configuration (its command lines and manipulations)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def cells(spec: Spec) -> list[dict]:
    """Every cell of the grid, in the spec's order: ``{"id", "grid", "config"}`` where config
    holds the chain, each command's argv and the inline manipulations to write."""
    keys = list(spec.grid)
    out = []
    for combo in itertools.product(*(spec.grid[k] for k in keys)) if keys else [()]:
        values = dict(zip(keys, combo))
        steps = apply_grid(spec, values)
        argv = command_lines(spec, steps, values)
        manips = {s: [m for m in steps[s].get("manipulation", []) if isinstance(m, dict)]
                  for s in spec.chain if any(isinstance(m, dict) for m in steps[s].get("manipulation", []))}
        config = {"chain": spec.chain, "argv": argv, "manipulations": manips}
        out.append({"id": cell_id(config), "grid": values, "config": config})
    ids = [c["id"] for c in out]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{spec.path}: [grid]: two cells have the same configuration (a factor "
                          f"that no command uses?)")
    return out
