"""A recording's analyses (the protocol's paper panels), with its rendered spikes and figures:
what ``pfcda analyze`` runs."""
from __future__ import annotations

import os

from pfcda import protocols
from pfcda.errors import CheckpointError, ConfigError, RecordingError

from .io.checkpoint import read_checkpoint
from .io.codec import file_hash
from .io.figures import check_figure_dir, save_figures
from .io.recording import read_recording
from .io.spikes import read_spikes


def training_context(rec) -> dict:
    """What the checkpoint a recording names knows about its training (``history`` of periodic
    evaluations, ``eval_episodes``), for figures such as Harlow's learning-set curve; empty when
    the checkpoint is gone."""
    path = (rec.provenance or {}).get("checkpoint")
    if not path:
        return {}
    try:
        ck = read_checkpoint(path)
    except CheckpointError:
        return {}
    return {"history": ck.history or None, "eval_episodes": ck.eval_episodes}


def analyze_recording(path: str, seed: int = 0, spikes: str | None = None,
                      figures: str | None = None, overwrite: bool = False) -> dict:
    """The protocol's analyses of the recording at ``path`` (``{"protocol", "stats",
    "reference", ...}``), plus its spike analyses with a spikes file rendered from it, plus
    figures (PNG and SVG) written to the folder ``figures`` (new or empty unless
    ``overwrite``)."""
    if figures:
        check_figure_dir(figures, overwrite)
    if spikes and not os.path.isfile(spikes):
        raise RecordingError(f"--spikes: {spikes}: no such file")
    rec = read_recording(path)
    spec = protocols.get(rec.attrs["protocol"])
    if spec.analyze is None:
        raise ConfigError(f"analyze: protocol {spec.name!r} declares no analyses")
    result = spec.analyze(rec, seed=seed)
    if spikes:
        if spec.spike_analyses is None:
            with_spikes = [n for n in protocols.names() if protocols.describe(n).raw("spike_analyses")]
            raise ConfigError(f"--spikes: protocol {spec.name!r} has no spike analyses (these have: "
                              f"{', '.join(with_spikes)})")
        sp = read_spikes(spikes)
        if sp.recording_sha256 != file_hash(path):
            raise RecordingError(f"--spikes: {spikes} was rendered from another recording (its "
                                 f"recording_sha256 differs from {path}'s)")
        extra = spec.spike_analyses(rec, sp)
        result["stats"].update(extra["stats"])
        result["reference"].update({k: {"paper": None, "source": "DA firing", **v}
                                    for k, v in extra["reference"].items()})
    if figures:
        if spec.figures is None:
            raise ConfigError(f"--figures: protocol {spec.name!r} declares no figures")
        figs = spec.figures(rec, result, **training_context(rec))
        result["figures"] = save_figures(figs, figures, overwrite=overwrite)
    return result


def statistics(protocol: str) -> dict:
    """Name → explanation of every statistic of ``protocol`` (and of its spike analyses)."""
    spec = protocols.get(protocol)
    return {**dict(spec.stats or {}), **dict(spec.spike_stats or {})}
