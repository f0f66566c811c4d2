"""Exports of a recording for other tools: hBayesDM's tab-separated trials (the protocol says
which of hBayesDM's layouts, ``ProtocolSpec.hbayesdm``)."""
from __future__ import annotations

from pfcda import protocols
from pfcda.errors import ConfigError

from .atomic import check_outputs
from .recording import read_recording
from .tables import write_table


def export_hbayesdm(recording: str, path: str, overwrite: bool = False) -> dict:
    """Write the recording's trials in hBayesDM's convention (Ahn, Haines & Zhang 2017); each
    episode is a subject; trials with an invalid response are left out, as hBayesDM's missed
    trials are, and counted. Returns ``{"task", "rows", "left_out"}``."""
    check_outputs([path], [recording], overwrite)
    rec = read_recording(recording)
    spec = protocols.get(rec.attrs["protocol"])
    if spec.hbayesdm is None:
        have = [n for n in protocols.names() if protocols.describe(n).raw("hbayesdm")]
        raise ConfigError(f"--hbayesdm: protocol {spec.name!r} has no hBayesDM layout (these have: "
                          f"{', '.join(have)})")
    task, df, left_out = spec.hbayesdm(rec.trials)
    write_table(df, path, sep="\t", float_format="%.5f", overwrite=overwrite, inputs=[recording])
    return {"task": task, "rows": int(len(df)), "left_out": int(left_out)}
