"""One chart style for the whole course: fixed size, labelled axes with units, readable in greyscale.

Series are told apart by line style, marker and hatch as well as by shade, so a chart printed in
black and white (or read with a colour-vision deficiency) still works. Notebooks call
``use_course_style()`` once, then ``new_chart(...)`` for each figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import cycle
from typing import Any

import matplotlib

FIGSIZE = (7.0, 3.6)  # inches; the same for every chart in the course
DPI = 80  # keeps committed notebooks small; the PNG stays sharp enough on screen
GREYS = ["#111111", "#555555", "#888888", "#bbbbbb"]
LINESTYLES = ["-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D", "v", "x"]
HATCHES = ["", "//", "..", "xx", "\\\\", "++"]


def use_course_style() -> None:
    """Apply the course's chart settings (PNG output, fixed size, greyscale-safe cycle)."""
    from cycler import cycler

    matplotlib.rcParams.update(
        {
            "figure.figsize": FIGSIZE,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
            "legend.frameon": False,
            "axes.prop_cycle": cycler(color=GREYS) + cycler(linestyle=LINESTYLES),
        }
    )


def new_chart(title: str, xlabel: str, ylabel: str) -> tuple[Any, Any]:
    """A fresh figure and axes with a title and both axis labels (include units, e.g. ``"time (µs)"``)."""
    import matplotlib.pyplot as plt

    if not xlabel or not ylabel:
        raise ValueError("every course chart labels both axes, with units")
    figure, axes = plt.subplots(figsize=FIGSIZE)
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    return figure, axes


def series_styles(count: int) -> list[dict[str, Any]]:
    """``count`` distinct line styles (shade, dash, marker) for ``axes.plot(..., **style)``."""
    pairs = zip(cycle(GREYS), cycle(LINESTYLES), cycle(MARKERS))
    return [{"color": c, "linestyle": ls, "marker": m} for (c, ls, m), _ in zip(pairs, range(count))]


def bar_styles(count: int) -> list[dict[str, Any]]:
    """``count`` distinct bar fills (shade plus hatch) for ``axes.bar(..., **style)``."""
    pairs = zip(cycle(GREYS[1:] + GREYS[:1]), cycle(HATCHES))
    return [{"color": c, "hatch": h, "edgecolor": "#111111"} for (c, h), _ in zip(pairs, range(count))]


def label_bars(axes: Any, bars: Any, values: Sequence[float], fmt: str = "{:.0f}") -> None:
    """Write each bar's value above it, so the chart can be read without a ruler."""
    for bar, value in zip(bars, values):
        axes.annotate(fmt.format(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=9)
