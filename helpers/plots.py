"""One chart style for the whole course: fixed size, labelled axes with units, readable in greyscale.

Series are told apart by line style, marker and hatch as well as by shade, so a chart printed in
black and white (or read with a colour-vision deficiency) still works. Notebooks call
``use_course_style()`` once, then ``new_chart(...)`` for each figure. Bars start at zero, which a
log axis does not have: values spread over decades go in a ``dot_plot`` (median and interquartile
range), and a line computed from a measurement rather than measured is drawn dashed, without
markers (``projected_style``), and labelled "projected".
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import cycle
from typing import Any

import matplotlib

FIGSIZE = (8.0, 4.4)  # inches; the same for every chart in the course (800 × 440 px)
TALL_FIGSIZE = (8.0, 6.4)  # for a chart with one row per item, such as a dot plot of many measurements
DPI = 100  # sharp on screen, small enough for committed notebooks
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


def new_chart(title: str, xlabel: str, ylabel: str, tall: bool = False) -> tuple[Any, Any]:
    """A fresh figure and axes with a title and both axis labels (include units, e.g. ``"time (µs)"``)."""
    import matplotlib.pyplot as plt

    if not xlabel or not ylabel:
        raise ValueError("every course chart labels both axes, with units")
    figure, axes = plt.subplots(figsize=TALL_FIGSIZE if tall else FIGSIZE)
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


def projected_style(style: dict[str, Any]) -> dict[str, Any]:
    """``style`` (from ``series_styles``) for a projection: same shade, dashed, no markers (no data points)."""
    return {"color": style["color"], "linestyle": (0, (4, 3)), "marker": None, "linewidth": 1.2}


def dot_plot(axes: Any, labels: Sequence[str], medians: Sequence[float], q1s: Sequence[float],
             q3s: Sequence[float], groups: Sequence[str]) -> None:
    """One row per label, top to bottom: a dot at the median, a whisker over the IQR; one legend entry per group."""
    if not len(labels) == len(medians) == len(q1s) == len(q3s) == len(groups):
        raise ValueError("labels, medians, q1s, q3s and groups must have one entry per row")
    kinds = list(dict.fromkeys(groups))
    styles = dict(zip(kinds, series_styles(len(kinds))))
    shown: set[str] = set()
    for row, (median, q1, q3, group) in enumerate(zip(medians, q1s, q3s, groups)):
        style = styles[group]
        axes.errorbar([median], [row], xerr=[[median - q1], [q3 - median]], fmt=style["marker"], color=style["color"],
                      markersize=6, capsize=3, label=None if group in shown else group)
        shown.add(group)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_ylim(len(labels) - 0.5, -0.5)  # the first row at the top
