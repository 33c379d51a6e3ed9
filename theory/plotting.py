"""One matplotlib style and fixed figure sizes for every notebook.

``use_style()`` once in the first cell; ``figure(kind)`` for a new figure of a standard size;
``savefig(fig, notebook, name)`` to keep a PNG and an SVG of a figure under
``<build dir>/figures/<notebook>/<name>`` for slides.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from . import config

__all__ = ["FIGSIZE", "use_style", "figure", "savefig"]

#: Figure sizes in inches: one panel, a row of two or three panels, a tall pair.
FIGSIZE = {"single": (5.0, 3.5), "wide": (10.0, 3.5), "triple": (13.5, 3.6),
           "tall": (5.0, 6.5), "square": (4.5, 4.5)}

_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "figure.autolayout": False,
    "figure.constrained_layout.use": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "font.size": 10,
    "svg.hashsalt": "theory",       # deterministic SVG ids
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the collection's style to matplotlib's global rcParams."""
    mpl.rcParams.update(_STYLE)  # type: ignore[arg-type]  # keys are checked by matplotlib


def figure(kind: str = "single", ncols: int = 1, nrows: int = 1, **kwargs: Any) -> Any:
    """``plt.subplots`` with one of the fixed sizes of :data:`FIGSIZE`."""
    if kind not in FIGSIZE:
        raise ValueError(f"kind must be one of {sorted(FIGSIZE)}, got {kind!r}")
    return plt.subplots(nrows, ncols, figsize=FIGSIZE[kind], **kwargs)


def savefig(fig: Figure, notebook: str, name: str) -> Path:
    """Save ``fig`` as ``<figures dir>/<notebook>/<name>.png`` and ``.svg``.

    Returns the PNG path."""
    for label, value in (("notebook", notebook), ("name", name)):
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            raise ValueError(f"{label} must be a plain file name, got {value!r}")
    folder = config.figures_dir() / notebook
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / f"{name}.png")
    fig.savefig(folder / f"{name}.svg", metadata={"Date": None})
    return folder / f"{name}.png"
