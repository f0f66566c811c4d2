"""Figure helpers shared by the protocols' analyses (matplotlib, headless)."""
from __future__ import annotations

import os


def subplots(*args, **kwargs):
    """``plt.subplots`` on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def save(fig, outdir: str, name: str) -> list[str]:
    """Tidy the axes (no top/right spines), save ``name`` as PNG and SVG in ``outdir``, close
    the figure; returns the paths written."""
    import matplotlib.pyplot as plt

    os.makedirs(outdir, exist_ok=True)
    for ax in fig.axes:
        if ax.get_label() != "<colorbar>":
            ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    paths = []
    for ext in ("png", "svg"):
        path = os.path.join(outdir, f"{name}.{ext}")
        fig.savefig(path, dpi=150)
        paths.append(path)
    plt.close(fig)
    return paths
