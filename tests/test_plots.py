import matplotlib

matplotlib.use("Agg")

import pytest

from helpers.plots import FIGSIZE, bar_styles, label_bars, new_chart, series_styles, use_course_style


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
