"""Figures with matplotlib (the ``plot`` extra): the one way every benchmark draws a PNG.

``pyplot()`` imports matplotlib with the file-only Agg backend, or raises MissingExtraError naming
``pip install 'reusevos-edge[plot]'``; ``save(fig, path)`` writes the PNG atomically and closes it.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import require
from ..fileio import atomic_write


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    matplotlib = require("matplotlib", extra="plot", purpose="drawing the benchmark figures")
    matplotlib.use("Agg")
    return require("matplotlib.pyplot", extra="plot", purpose="drawing the benchmark figures")


def save(fig, path: str | Path, *, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG at ``path`` (temp file, then rename) and close it."""
    plt = pyplot()
    try:
        atomic_write(path, lambda temp: fig.savefig(temp, format="png", dpi=dpi))
    finally:
        plt.close(fig)
    return Path(path)
