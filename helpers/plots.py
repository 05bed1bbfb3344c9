"""One chart style for the whole course: fixed size, labelled axes with units, readable in greyscale.

Series are told apart by line style, marker and hatch as well as by shade, so a chart printed in
black and white (or read with a colour-vision deficiency) still works. Notebooks call
``use_course_style()`` once, then one function per chart: ``line_chart`` and ``bar_chart`` for plain
series, or the chart of one experiment (``success_chart``, ``check_cost_chart``, ``latency_chart``,
``throughput_chart``, ``token_size_chart``, ``state_chart``, ``denylist_chart``, ``rotation_chart``);
each returns its figure closed, so a cell that ends with the call shows it once. ``new_chart(...)``
starts a chart of another kind in the same style. Bars start at zero, which a
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
        axes.annotate(
            fmt.format(value),
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )


def projected_style(style: dict[str, Any]) -> dict[str, Any]:
    """``style`` (from ``series_styles``) for a projection: same shade, dashed, no markers (no data points)."""
    return {"color": style["color"], "linestyle": (0, (4, 3)), "marker": None, "linewidth": 1.2}


def dot_plot(
    axes: Any,
    labels: Sequence[str],
    medians: Sequence[float],
    q1s: Sequence[float],
    q3s: Sequence[float],
    groups: Sequence[str],
) -> None:
    """One row per label, top to bottom: a dot at the median, a whisker over the IQR; one legend entry per group."""
    if not len(labels) == len(medians) == len(q1s) == len(q3s) == len(groups):
        raise ValueError("labels, medians, q1s, q3s and groups must have one entry per row")
    kinds = list(dict.fromkeys(groups))
    styles = dict(zip(kinds, series_styles(len(kinds))))
    shown: set[str] = set()
    for row, (median, q1, q3, group) in enumerate(zip(medians, q1s, q3s, groups)):
        style = styles[group]
        axes.errorbar(
            [median],
            [row],
            xerr=[[median - q1], [q3 - median]],
            fmt=style["marker"],
            color=style["color"],
            markersize=6,
            capsize=3,
            label=None if group in shown else group,
        )
        shown.add(group)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_ylim(len(labels) - 0.5, -0.5)  # the first row at the top


# One function per chart of the course's experiments: each draws the chart whole from an experiment's rows,
# closes it (so a notebook shows it once, as the cell's value) and returns the figure.


def _finish(figure: Any) -> Any:
    import matplotlib.pyplot as plt

    plt.close(figure)
    return figure


def success_chart(rows: Sequence[dict[str, Any]], server_counts: Sequence[int]) -> Any:
    """Grouped bars: the share of requests answered 200, per setup and cluster size (``success_by_servers`` rows)."""
    figure, axes = new_chart(
        "Requests that still know the user", "servers behind the balancer (count)", "requests answered 200 (%)"
    )
    names = list(dict.fromkeys(row["setup"] for row in rows))
    width = 0.8 / len(names)
    for index, (name, style) in enumerate(zip(names, bar_styles(len(names)))):
        rate = {row["servers"]: row["success_rate"] * 100 for row in rows if row["setup"] == name}
        # One evenly spaced group per cluster size, labelled with its count (sizes need not be consecutive).
        axes.bar(
            [group + (index - len(names) / 2 + 0.5) * width for group in range(len(server_counts))],
            [rate[n] for n in server_counts],
            width,
            label=name,
            **style,
        )
    axes.set_xticks(range(len(server_counts)), [str(n) for n in server_counts])
    axes.set_ylim(0, 140)  # headroom for the legend above the 100% bars
    axes.legend(loc="upper center", ncol=2, fontsize=8)
    return _finish(figure)


def check_cost_chart(rows: Sequence[dict[str, Any]], floor_us: float) -> Any:
    """A dot plot of auth checks (rows with ``what``, ``median_us``, ``q1_us``, ``q3_us``), cheapest on top, log axis."""
    figure, axes = new_chart(
        "One auth check per request (dot: median; whisker: IQR)", "time per check (µs, log scale)", "check", tall=True
    )
    ordered = sorted(rows, key=lambda row: row["median_us"])
    kinds = [
        "session touch (a slide, once per update_age)"
        if row["what"].endswith(" touch")
        else "session get (the read every request pays)"
        if row["what"].endswith(" get")
        else "token check or bare HMAC"
        for row in ordered
    ]
    dot_plot(
        axes,
        [row["what"] for row in ordered],
        [row["median_us"] for row in ordered],
        [row["q1_us"] for row in ordered],
        [row["q3_us"] for row in ordered],
        kinds,
    )
    axes.axvline(floor_us, color=GREYS[0], linestyle=":", label="raw HMAC-SHA256 floor")
    axes.set_xscale("log")
    axes.tick_params(axis="y", labelsize=8)
    axes.legend(loc="upper right", fontsize=8)
    return _finish(figure)


def latency_chart(rows: Sequence[dict[str, Any]]) -> Any:
    """Median latency and IQR per setup against concurrent clients (``end_to_end`` rows), side by side."""
    figure, axes = new_chart(
        "Latency per request (dot: median; whisker: IQR)", "concurrent clients (count)", "latency (ms)"
    )
    names = list(dict.fromkeys(row["setup"] for row in rows))
    for offset, (name, style) in enumerate(zip(names, series_styles(len(names)))):
        mine = [row for row in rows if row["setup"] == name]
        shift = 1 + 0.04 * (offset - (len(names) - 1) / 2)  # side by side, so whiskers do not overlap
        medians = [row["latency_median_ms"] for row in mine]
        axes.errorbar(
            [row["clients"] * shift for row in mine],
            medians,
            yerr=[
                [m - row["latency_q1_ms"] for m, row in zip(medians, mine)],
                [row["latency_q3_ms"] - m for m, row in zip(medians, mine)],
            ],
            capsize=3,
            label=name,
            **style,
        )
    _clients_axis(axes, rows)
    axes.legend(loc="upper left", fontsize=8)
    return _finish(figure)


def throughput_chart(rows: Sequence[dict[str, Any]]) -> Any:
    """Requests per second per setup against concurrent clients (``end_to_end`` rows)."""
    figure, axes = new_chart("Requests per second", "concurrent clients (count)", "throughput (requests/s)")
    names = list(dict.fromkeys(row["setup"] for row in rows))
    for name, style in zip(names, series_styles(len(names))):
        mine = [row for row in rows if row["setup"] == name]
        axes.plot([row["clients"] for row in mine], [row["throughput_rps"] for row in mine], label=name, **style)
    _clients_axis(axes, rows)
    axes.legend(loc="lower right", fontsize=8)
    return _finish(figure)


def _clients_axis(axes: Any, rows: Sequence[dict[str, Any]]) -> None:
    counts = sorted({row["clients"] for row in rows})
    axes.set_xscale("log", base=2)
    axes.set_xticks(counts, [str(n) for n in counts])
    axes.set_ylim(bottom=0)


def token_size_chart(rows: Sequence[dict[str, Any]], limit_bytes: int, session_cookie_bytes: int) -> Any:
    """Token bytes against permission claims per algorithm (``token_sizes`` rows), with the cookie limit."""
    figure, axes = new_chart(
        "Token size as claims are added", "permission strings in the token (count)", "size (bytes)"
    )
    algorithms = list(dict.fromkeys(row["algorithm"] for row in rows))
    for algorithm, style in zip(algorithms, series_styles(len(algorithms))):
        mine = [row for row in rows if row["algorithm"] == algorithm]
        axes.plot([row["claims"] for row in mine], [row["bytes"] for row in mine], label=f"JWT {algorithm}", **style)
    axes.axhline(limit_bytes, color=GREYS[0], linestyle=":", label=f"cookie limit ({limit_bytes} bytes for the value)")
    axes.axhline(
        session_cookie_bytes, color=GREYS[1], linestyle="--", label=f"session cookie ({session_cookie_bytes} bytes)"
    )
    axes.legend(loc="upper left", fontsize=8)
    return _finish(figure)


def state_chart(rows: Sequence[dict[str, Any]], measured_sessions: int, user_counts: Sequence[int]) -> Any:
    """Server-side state against logged-in users: each store's measurement, and its projection dashed."""
    figure, axes = new_chart(
        "Server-side state for logged-in users", "logged-in users (log scale)", "state (MB, log scale)"
    )
    for row, style in zip(rows, series_styles(len(rows))):
        if row["bytes"] > 0:
            axes.plot(
                user_counts,
                [n * row["bytes"] / 1e6 for n in user_counts],
                label=f"{row['store']}, projected",
                **projected_style(style),
            )
            axes.plot(
                [measured_sessions],
                [measured_sessions * row["bytes"] / 1e6],
                linestyle="none",
                label=f"{row['store']}, measured",
                **{k: v for k, v in style.items() if k != "linestyle"},
            )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.legend(loc="lower right", fontsize=8, ncol=2, title="JWT: 0 bytes (not drawn on a log scale)")
    return _finish(figure)


def denylist_chart(growth: Any, title: str = "Denylist size with a purge every minute") -> Any:
    """A denylist over time (``revocation.DenylistGrowth``): entries stored after each purge, and tokens denied so far."""
    figure, axes = new_chart(title, "simulated time (min)", "entries (count)")
    series = [
        (growth.denied_total, "tokens denied so far (never purged)"),
        (growth.stored, "entries stored (purged each minute)"),
    ]
    for (values, label), style in zip(series, series_styles(len(series))):
        axes.step(growth.minutes, values, where="post", markevery=10, label=label, **style)
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left")
    return _finish(figure)


def rotation_chart(shares: dict[str, dict[int, list[float]]], rotate_at: int) -> Any:
    """One panel per cache policy: each verifier's share of good tokens refused, minute by minute (``refused_shares``)."""
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(len(shares), 1, figsize=TALL_FIGSIZE, sharex=True, sharey=True, squeeze=False)
    panels = panels[:, 0]
    for panel, (policy, by_verifier) in zip(panels, shares.items()):
        for (index, series), style in zip(by_verifier.items(), series_styles(len(by_verifier))):
            panel.plot(range(len(series)), [100 * share for share in series], label=f"verifier {index}", **style)
        panel.set_title(policy, fontsize=10)
        panel.set_ylabel("refused (%)")
    panels[len(panels) // 2].legend(loc="center right", ncol=max(len(s) for s in shares.values()))
    panels[-1].set_xlabel(f"minute of the drill (key-2 published at minute {rotate_at})")
    figure.suptitle("Good tokens refused during a key rotation, per verifier and cache policy")
    figure.tight_layout()
    return _finish(figure)


def line_chart(
    title: str,
    xlabel: str,
    ylabel: str,
    x: Sequence[float],
    series: dict[str, Sequence[float]],
    ylim: tuple[float, float] | None = None,
    legend: str = "best",
) -> Any:
    """One line per named series over the same ``x``, in the course's line styles."""
    figure, axes = new_chart(title, xlabel, ylabel)
    for (name, values), style in zip(series.items(), series_styles(len(series))):
        axes.plot(list(x), list(values), label=name, **style)
    if ylim is not None:
        axes.set_ylim(*ylim)
    axes.legend(loc=legend)
    return _finish(figure)


def bar_chart(title: str, xlabel: str, ylabel: str, values: dict[str, float], fmt: str = "{:g}") -> Any:
    """One labelled bar per named value, from zero, with headroom for the labels."""
    figure, axes = new_chart(title, xlabel, ylabel)
    for (name, value), style in zip(values.items(), bar_styles(len(values))):
        label_bars(axes, axes.bar([name], [value], **style), [value], fmt=fmt)
    axes.set_ylim(0, max(list(values.values()) + [1]) * 1.25)
    return _finish(figure)
