"""Figures as files: each as PNG and SVG, written atomically (:mod:`.atomic`)."""
from __future__ import annotations

import os

from pfcda.errors import OutputError

from .atomic import atomic_write

FORMATS = ("png", "svg")


def figure_paths(outdir: str, names) -> list[str]:
    return [os.path.join(outdir, f"{n}.{ext}") for n in names for ext in FORMATS]


def check_figure_dir(outdir: str, overwrite: bool = False) -> None:
    """A figures folder must be new or empty unless ``overwrite`` (figures there would be
    replaced); a file of that name is refused."""
    if os.path.isfile(outdir):
        raise OutputError(f"{outdir}: is a file; --figures takes a folder")
    if os.path.isdir(outdir) and os.listdir(outdir) and not overwrite:
        raise OutputError(f"{outdir}: is not empty; give --force to write figures into it (files of the "
                          f"same name are replaced)")


def save_figures(figs: dict, outdir: str, overwrite: bool = False) -> list[str]:
    """Tidy each figure (no top/right spines), write it as ``outdir/NAME.png`` and ``.svg``,
    close it; returns the paths written."""
    import matplotlib.pyplot as plt

    os.makedirs(outdir, exist_ok=True)
    paths = []
    try:
        for name, fig in figs.items():
            for ax in fig.axes:
                if ax.get_label() != "<colorbar>":
                    ax.spines[["top", "right"]].set_visible(False)
            fig.tight_layout()
            for ext in FORMATS:
                path = os.path.join(outdir, f"{name}.{ext}")
                with atomic_write(path, overwrite=overwrite) as tmp:
                    fig.savefig(tmp, dpi=150, format=ext)
                paths.append(path)
    finally:
        for fig in figs.values():
            plt.close(fig)
    return paths
