"""The file formats as code: every field of a recording and of a spikes file, with its dtype,
shape, unit and meaning. The writers check what they write against it, the recording's per-step
fields are derived from the trajectory (:class:`pfcda.protocols.base.Batch`) through it, and
the tables of ``docs/recording-format.md`` are generated from it (``python -m
pfcda.circuit.io.schema --write docs/recording-format.md``; a test fails when they differ).
"""
from __future__ import annotations

import argparse
import re
from typing import NamedTuple


class Field(NamedTuple):
    dtype: str  #: numpy dtype name
    shape: str  #: shape, in words
    unit: str  #: physical unit ("" for codes and indices)
    meaning: str  #: what it is
    source: str = ""  #: where it comes from (the Batch field, or how it is derived)
    when: str = ""  #: present only in some recordings (empty: always)


RECORDING_FORMAT, RECORDING_VERSION = "pfcda-recording", 1
SPIKES_FORMAT, SPIKES_VERSION = "pfcda-spikes", 1

#: Per-step arrays (``steps/<name>``), one row per agent step, episode-major.
STEP_FIELDS = {
    "episode": Field("int64", "[n]", "", "episode index within the run (0-based)", "derived"),
    "step": Field("int32", "[n]", "step", "agent step within the episode (0-based)", "derived"),
    "trial": Field("int32", "[n]", "", "trial within the episode (0-based): the task's clock at the step",
                   "trial"),
    "phase": Field("int8", "[n]", "", "trial phase code; names in `phase_names`", "phase"),
    "obs": Field("float32", "[n, n_obs]", "", "observation; channels in `obs_names`", "obs"),
    "action": Field("int16", "[n]", "", "action taken; names in `action_names`", "action"),
    "reward": Field("float32", "[n]", "reward", "reward received for the action", "reward"),
    "value": Field("float32", "[n]", "reward", "the network's value estimate V(s_t)", "value"),
    "delta": Field("float32", "[n]", "reward", "one-step TD error δ_t = r_t + γV(s_{t+1}) − V(s_t), with "
                   "V = 0 after the episode's last step: the model's dopamine signal", "derived"),
    "policy": Field("float32", "[n, n_actions]", "probability", "π(·\\|s_t), the action probabilities",
                    "policy"),
    "manipulation_active": Field("bool", "[n, n_manipulations]", "", "whether each manipulation acted "
                                 "on this step (column j ↔ the j-th entry of the `manipulations` "
                                 "attribute)", "manipulation_active"),
    "rpe_input": Field("float32", "[n]", "reward", "the RPE the actor received as input at this step "
                       "(the critic's δ of the previous step, after any `da_input` manipulation)",
                       "rpe_input", "actor-critic circuits"),
    "da_rate_hz": Field("float32", "[n]", "spikes/s", "the spiking DA population's rate (per neuron) in "
                        "this step's pulse window — the response to `rpe_input`'s δ, with any light on "
                        "the DA neurons", "da_rate_hz", "closed-loop runs"),
}

#: Unit activity (``units/<name>``), [n_steps, n_units], chunked and gzip-compressed.
UNIT_FIELDS = {
    "hidden": Field("float32", "[n_steps, n_units]", "", "hidden-unit activity h_t (the readouts' input; "
                    "after lesions)", "hidden"),
    "cell": Field("float32", "[n_steps, n_units]", "", "LSTM cell state c_t", "cell", "LSTM cores"),
}

#: Batch fields the recording does not keep as such, and why.
NOT_RECORDED = {
    "logits": "kept as `policy` (their softmax)",
    "done": "implied by `episode` (an episode's last step)",
    "info": "the task's per-step info: summarised in the trials table",
    "valid": "only valid steps are written",
    "params": "the episodes' task parameters: in the trials table where they matter",
}

#: Root attributes of a recording.
ROOT_ATTRS = {
    "format": ("str", "`pfcda-recording`"),
    "version": ("int", "1"),
    "complete": ("bool", "true once the run finished (written last)"),
    "protocol": ("str", "protocol name (`pfcda protocols`)"),
    "task": ("JSON", "the task's options for this run (e.g. variant, arms, trials, fixed probs)"),
    "n_episodes": ("int", "episodes"), "n_trials": ("int", "rows of `trials/`"),
    "n_steps": ("int", "rows of `steps/` and `units/`"),
    "n_units": ("int", "PFC network size"), "core": ("str", "lstm, gru or rnn"),
    "gamma": ("float", "the discount used for δ"),
    "obs_names": ("JSON list", "observation channel names (columns of `steps/obs`)"),
    "action_names": ("JSON list", "action names (values of `steps/action`)"),
    "phase_names": ("JSON list", "trial-phase names (values of `steps/phase`)"),
    "input_channels": ("JSON list", "the PFC network's input channels, in order"),
    "weight_hash_after": ("str", "SHA-256 of the weights after the run (equals `provenance.weight_hash`)"),
    "provenance": ("JSON", "`config` (circuit and run), `seed`, `packages` (versions), `code_version`, "
                           "`platform`, `command`, `created` (UTC), `checkpoint`, `checkpoint_sha256`, "
                           "`weight_hash` (before the run)"),
    "manipulations": ("JSON list", "the manipulations applied, each as its fields (see "
                                   "`pfcda.circuit.manipulations.Manipulation`)"),
}

#: Datasets of a spikes file.
SPIKES_FIELDS = {
    "steps/start_s": Field("float64", "[n_steps]", "s", "start of every recorded step on the session time "
                           "base (episodes end to end, `gap_steps` between them)"),
    "da/spike_times_s": Field("float64", "[n_spikes]", "s", "DA spikes, sorted by time then neuron", "",
                              "population da or both"),
    "da/spike_neurons": Field("int32", "[n_spikes]", "index", "the neuron of each DA spike", "",
                              "population da or both"),
    "da/step_rate_hz": Field("float64", "[n_steps]", "spikes/s", "population rate in the pulse window of "
                             "each recorded step's δ (emitted at the start of the next step)", "",
                             "population da or both"),
    "da/concentration_10ms": Field("float64", "[n_bins]", "fold tonic", "DA concentration at the target in "
                                   "10-ms bins (1 = tonic), × the D1 gain where a `d1` manipulation acted",
                                   "", "population da or both"),
    "pfc/spike_times_s": Field("float64", "[n_spikes]", "s", "PFC spikes, sorted by time then unit "
                               "(group attribute `n_units`)", "", "population pfc or both"),
    "pfc/spike_units": Field("int32", "[n_spikes]", "index", "the unit of each PFC spike", "",
                             "population pfc or both"),
    "stim/on_s": Field("float64", "[n_pulses]", "s", "light pulse onsets of a closed-loop run's `da_neurons` "
                       "light (sorted by onset); group attribute `opto` (JSON per light: kind, "
                       "amplitude, expression, frequency, width, duration, onset, name)", "", "light"),
    "stim/off_s": Field("float64", "[n_pulses]", "s", "light pulse offsets", "", "light"),
    "stim/kind": Field("str", "[n_pulses]", "", "opsin of each pulse: chr2, archt or nphr", "", "light"),
}

#: Root attributes of a spikes file.
SPIKES_ATTRS = {
    "format": ("str", "`pfcda-spikes`"), "version": ("int", "1"),
    "recording": ("str", "the recording's absolute path"),
    "recording_sha256": ("str", "SHA-256 of the recording it was rendered from"),
    "seed": ("int", "seed of the render"), "target": ("str", "brian2 code generation target"),
    "population": ("str", "da, pfc or both"),
    "params": ("JSON", "the DA model (`pfcda.dopamine.spiking.DAParams`), the PFC rate mapping, "
                       "`gap_steps`, `rpe_scale`"),
}


# ------------------------------------------------------------------------------- checking
def check_steps(steps: dict, units: dict, where: str = "recording") -> None:
    """Every per-step array and unit array a writer is given is a schema field of its dtype."""
    for group, schema, arrays in (("steps", STEP_FIELDS, steps), ("units", UNIT_FIELDS, units)):
        for name, a in arrays.items():
            if name not in schema:
                raise ValueError(f"{where}: {group}/{name} is not a field of the recording format "
                                 f"(fields: {sorted(schema)})")
            if str(a.dtype) != schema[name].dtype:
                raise ValueError(f"{where}: {group}/{name} has dtype {a.dtype}, the format says "
                                 f"{schema[name].dtype}")


# ------------------------------------------------------------------------------- the docs
def _table(fields: dict, with_unit: bool = True) -> str:
    head = "| field | dtype | shape | unit | meaning |\n|---|---|---|---|---|" if with_unit else \
        "| field | dtype | shape | meaning |\n|---|---|---|---|"
    rows = []
    for name, f in fields.items():
        meaning = f.meaning + (f" ({f.when} only)" if f.when else "")
        cells = [f"`{name}`", f.dtype, f.shape] + ([f.unit] if with_unit else []) + [meaning]
        rows.append("| " + " | ".join(cells) + " |")
    return head + "\n" + "\n".join(rows)


def _attrs(attrs: dict) -> str:
    return "| attribute | type | meaning |\n|---|---|---|\n" + "\n".join(
        f"| `{k}` | {t} | {m} |" for k, (t, m) in attrs.items())


def _trial_columns() -> str:
    from pfcda import protocols

    out = []
    for name in protocols.BUILTIN:
        spec = protocols.describe(name)
        cols = spec.trial_columns
        out.append(f"**{name}**\n\n| column | meaning |\n|---|---|\n" + "\n".join(
            f"| `{c}` | {m} |" for c, m in cols.items()))
    return "\n\n".join(out)


SECTIONS = {
    "root-attributes": lambda: _attrs(ROOT_ATTRS),
    "steps": lambda: _table(STEP_FIELDS),
    "units": lambda: _table(UNIT_FIELDS, with_unit=False),
    "trials": _trial_columns,
    "spikes-attributes": lambda: _attrs(SPIKES_ATTRS),
    "spikes": lambda: _table(SPIKES_FIELDS),
}


def render(doc: str) -> str:
    """``doc`` with every generated section (between ``<!-- schema:NAME -->`` and
    ``<!-- /schema:NAME -->``) rewritten from the schema."""
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- schema:{name} -->\n).*?(<!-- /schema:{name} -->)", re.S)
        if not pattern.search(doc):
            raise ValueError(f"document: no section <!-- schema:{name} --> … <!-- /schema:{name} -->")
        doc = pattern.sub(lambda m: m.group(1) + make() + "\n" + m.group(2), doc)
    return doc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="regenerate the format document's tables from the schema")
    ap.add_argument("--write", metavar="DOC", required=True, help="the document to rewrite in place")
    args = ap.parse_args(argv)
    with open(args.write, encoding="utf-8") as f:
        doc = f.read()
    new = render(doc)
    if new != doc:
        with open(args.write, "w", encoding="utf-8") as f:
            f.write(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
