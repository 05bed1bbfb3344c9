import matplotlib

matplotlib.use("Agg")

import pytest

from helpers.plots import (FIGSIZE, TALL_FIGSIZE, bar_styles, dot_plot, label_bars, new_chart, projected_style,
                           series_styles, use_course_style)


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
