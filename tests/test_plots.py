import matplotlib

matplotlib.use("Agg")

import pytest

from helpers.plots import (
    FIGSIZE,
    TALL_FIGSIZE,
    bar_styles,
    dot_plot,
    label_bars,
    new_chart,
    projected_style,
    series_styles,
    use_course_style,
)


def test_charts_have_the_course_size_and_labels():
    use_course_style()
    figure, axes = new_chart("t", "minutes since logout (min)", "accepted (0/1)")
    assert tuple(figure.get_size_inches()) == FIGSIZE
    assert axes.get_xlabel() == "minutes since logout (min)" and axes.get_ylabel() == "accepted (0/1)"
    bars = axes.bar(["a", "b"], [1, 2], **bar_styles(1)[0])
    label_bars(axes, bars, [1, 2])
    assert [t.get_text() for t in axes.texts] == ["1", "2"]
    matplotlib.pyplot.close(figure)


def test_unlabelled_axes_are_refused():
    with pytest.raises(ValueError, match="labels both axes"):
        new_chart("t", "", "y")


def test_series_differ_by_more_than_colour():
    styles = series_styles(4)
    assert len({(s["linestyle"], s["marker"]) for s in styles}) == 4
    assert len({s["hatch"] for s in bar_styles(4)}) == 4


def test_a_dot_plot_has_one_row_per_label_top_down_and_one_legend_entry_per_group():
    use_course_style()
    figure, axes = new_chart("t", "time (µs, log scale)", "check", tall=True)
    assert tuple(figure.get_size_inches()) == TALL_FIGSIZE
    dot_plot(axes, ["a", "b", "c"], [1.0, 10.0, 100.0], [0.9, 9.0, 90.0], [1.2, 12.0, 150.0], ["get", "touch", "get"])
    axes.set_xscale("log")  # no bar needs a zero here
    assert [t.get_text() for t in axes.get_yticklabels()] == ["a", "b", "c"]
    assert axes.get_ylim()[0] > axes.get_ylim()[1], "the first label is drawn at the top"
    assert [t.get_text() for t in axes.legend().get_texts()] == ["get", "touch"]
    assert not axes.patches, "dots and whiskers, no bars"
    matplotlib.pyplot.close(figure)


def test_a_dot_plot_refuses_columns_of_different_lengths():
    figure, axes = new_chart("t", "x (s)", "y")
    with pytest.raises(ValueError, match="one entry per row"):
        dot_plot(axes, ["a", "b"], [1.0], [1.0], [1.0], ["g"])
    matplotlib.pyplot.close(figure)


def test_a_projection_keeps_the_shade_but_is_dashed_and_has_no_markers():
    style = series_styles(3)[2]
    projected = projected_style(style)
    assert projected["color"] == style["color"] and projected["marker"] is None
    assert projected["linestyle"] not in ("-", "solid") and projected["linestyle"] != style["linestyle"]


def test_each_experiment_chart_is_drawn_whole_by_one_call_and_closed():
    from types import SimpleNamespace

    from helpers import plots

    use_course_style()
    success = [
        {"setup": name, "servers": n, "success_rate": rate}
        for name, rate in (("own", 0.0), ("JWT", 1.0))
        for n in (1, 2)
    ]
    costs = [
        {"what": what, "median_us": m, "q1_us": m * 0.9, "q3_us": m * 1.1}
        for what, m in (("HS256 decode", 20.0), ("dict get", 2.0), ("dict touch", 3.0))
    ]
    load = [
        {
            "setup": name,
            "clients": k,
            "latency_median_ms": 2.0 * k,
            "latency_q1_ms": 1.5 * k,
            "latency_q3_ms": 2.5 * k,
            "throughput_rps": 400.0,
        }
        for name in ("SQLite", "JWT")
        for k in (1, 2, 8)
    ]
    sizes = [{"claims": n, "algorithm": alg, "bytes": 300 + 35 * n} for alg in ("HS256", "RS256") for n in (0, 50)]
    state = [{"store": "SQLite file", "bytes": 324.0}, {"store": "JWT (nothing stored)", "bytes": 0.0}]
    growth = SimpleNamespace(minutes=(0, 1, 2), stored=(2, 3, 1), denied_total=(2, 3, 3))
    charts = {
        "success": (plots.success_chart(success, [1, 2]), 2),
        "costs": (plots.check_cost_chart(costs, 1.4), None),
        "latency": (plots.latency_chart(load), 2),
        "throughput": (plots.throughput_chart(load), 2),
        "sizes": (plots.token_size_chart(sizes, 4082, 58), 4),
        "state": (plots.state_chart(state, 2000, [10**3, 10**6]), 2),
        "denylist": (plots.denylist_chart(growth), 2),
    }
    for name, (figure, entries) in charts.items():
        axes = figure.axes[0]
        assert axes.get_xlabel() and axes.get_ylabel() and axes.get_title(), name
        assert not matplotlib.pyplot.fignum_exists(figure.number), f"{name}: left open, a notebook would show it twice"
        if entries is not None:
            assert len(axes.get_legend().get_texts()) == entries, name
    assert charts["costs"][0].get_size_inches()[1] == TALL_FIGSIZE[1]


def test_the_rotation_chart_has_a_labelled_panel_per_policy():
    from helpers import plots

    shares = {policy: {0: [0.0, 1.0, 0.5], 1: [0.0, 0.0, 0.0]} for policy in ("fixed TTL", "pre-publication")}
    figure = plots.rotation_chart(shares, rotate_at=1)
    assert [axes.get_title() for axes in figure.axes] == ["fixed TTL", "pre-publication"]
    assert all(axes.get_ylabel() == "refused (%)" for axes in figure.axes)
    assert figure.axes[-1].get_xlabel() == "minute of the drill (key-2 published at minute 1)"
    assert not matplotlib.pyplot.fignum_exists(figure.number)


def test_a_line_chart_and_a_bar_chart_each_take_one_call():
    from helpers import plots

    lines = plots.line_chart(
        "t", "tabs (count)", "share (0-1)", [1, 2], {"strict": [0, 1], "grace": [0, 0]}, ylim=(-0.05, 1.1)
    )
    assert [text.get_text() for text in lines.axes[0].get_legend().get_texts()] == ["strict", "grace"]
    assert lines.axes[0].get_ylim() == (-0.05, 1.1)
    bars = plots.bar_chart("t", "policy", "delay (s)", {"strict": 0, "grace": 9}, fmt="{:g} s")
    assert [text.get_text() for text in bars.axes[0].texts] == ["0 s", "9 s"]
    assert bars.axes[0].get_ylim() == (0, 9 * 1.25)
    assert not matplotlib.pyplot.fignum_exists(lines.number) and not matplotlib.pyplot.fignum_exists(bars.number)
