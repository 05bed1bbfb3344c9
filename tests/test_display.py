import pytest

from helpers.display import Table, shorten, shows_error, table


def test_shows_error_prints_name_and_message(capsys):
    with shows_error(KeyError) as caught:
        raise KeyError("missing")
    assert capsys.readouterr().out == "KeyError: 'missing'\n"
    assert caught.name == "KeyError"


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
