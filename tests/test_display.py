import pytest

from helpers.display import Table, check_prediction, shorten, shows_error, table


def test_shows_error_prints_name_and_message(capsys):
    with shows_error(KeyError) as caught:
        raise KeyError("missing")
    assert capsys.readouterr().out == "KeyError: 'missing'\n"
    assert caught.name == "KeyError"


def test_shows_error_wraps_a_long_message_at_width(capsys):
    message = "a message long enough to need wrapping, " * 4
    with shows_error(ValueError, width=60):
        raise ValueError(message)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 1 and all(len(line) <= 60 for line in lines), lines
    assert lines[0].startswith("ValueError: a message") and all(line.startswith("    ") for line in lines[1:])
    assert " ".join(line.strip() for line in lines) == f"ValueError: {message}".strip(), "wrapping loses no words"


def test_shows_error_does_not_wrap_by_default(capsys):
    with shows_error(ValueError):
        raise ValueError("x" * 200)
    assert capsys.readouterr().out == "ValueError: " + "x" * 200 + "\n"


def test_shows_error_says_so_when_nothing_fails(capsys):
    with shows_error() as caught:
        pass
    assert capsys.readouterr().out == "no error raised\n"
    assert caught.error is None and caught.name == ""


def test_shows_error_lets_unexpected_errors_through():
    with pytest.raises(TypeError):
        with shows_error(KeyError):
            raise TypeError("not the one we expected")


def test_table_aligns_columns():
    text = str(table(["name", "n"], [["alice", 1], ["bob", 22]]))
    assert text.splitlines() == ["name   n", "-----  --", "alice  1", "bob    22"]


def test_table_rejects_rows_of_the_wrong_width():
    with pytest.raises(ValueError, match="expected 2 values"):
        Table(["a", "b"]).add(1)


def test_shorten_hides_the_secret():
    assert shorten("abcdef") == "<6 chars>"
    assert shorten("abcdef", keep=2) == "ab…<6 chars>"


def test_check_prediction_without_a_prediction_reports_the_measurement(capsys):
    assert check_prediction("Sessions alive", None, 3) is None
    assert "measured 3" in capsys.readouterr().out


def test_check_prediction_compares_numbers_within_a_relative_tolerance(capsys):
    assert check_prediction("Ratio", 3.0, 2.9, tolerance=0.1, unit="×") is True
    assert check_prediction("Ratio", 3.0, 2.0, tolerance=0.1) is False
    assert check_prediction("Count", 4, 4) is True
    assert check_prediction("Count", 4, 5) is False
    out = capsys.readouterr().out
    assert "you predicted 3.0×, measured 2.9×: your prediction held" in out
    assert "not what you predicted" in out


def test_check_prediction_compares_words_and_booleans_as_text(capsys):
    assert check_prediction("Accepted", "yes", "Yes") is True
    assert check_prediction("Accepted", True, False) is False
    assert check_prediction("Accepted", "401", 401) is False  # a number measured, a word predicted
