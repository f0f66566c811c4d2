"""Figure helpers shared by the protocols' analyses (matplotlib, headless). A protocol's
``figures`` returns its figures by name; the caller writes them (PNG and SVG, atomically:
:func:`pfcda.circuit.io.figures.save_figures`)."""
from __future__ import annotations


def subplots(*args, **kwargs):
    """``plt.subplots`` on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)
