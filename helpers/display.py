"""Small printing aids for notebooks: expected errors shown without a traceback, plain-text tables, and
a learner's prediction set beside what the experiment measured.

A notebook that raises stops papermill and zeroes an nbgrader cell, so a lesson about a rejected
token catches the exception and prints it: ``with shows_error(): decode(...)`` prints
``ExpiredSignatureError: Signature has expired``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class CaughtError:
    """What ``shows_error`` caught: the exception (None if the block succeeded)."""

    error: BaseException | None = None

    @property
    def name(self) -> str:
        """The exception's class name, or ``""`` when nothing was raised."""
        return type(self.error).__name__ if self.error else ""


@contextmanager
def shows_error(*expected: type[BaseException], quiet: bool = False, width: int | None = None) -> Iterator[CaughtError]:
    """Run a block that should fail; print ``Name: message`` (wrapped at ``width``) instead of a traceback."""
    caught = CaughtError()
    catch = expected or (Exception,)
    try:
        yield caught
    except catch as exc:
        caught.error = exc
        if not quiet:
            line = f"{type(exc).__name__}: {exc}"
            # Long library messages would make the reader scroll sideways; continuation lines are indented.
            print(line if width is None else "\n".join(textwrap.wrap(line, width, subsequent_indent="    ")))
    else:
        if not quiet:
            print("no error raised")


@dataclass
class Table:
    """Rows of values under named columns, printed as aligned plain text (nbval compares it exactly)."""

    columns: Sequence[str]
    rows: list[Sequence[object]] = field(default_factory=list)

    def add(self, *values: object) -> None:
        """Append one row; it must have one value per column."""
        if len(values) != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} values ({', '.join(self.columns)}), got {len(values)}")
        self.rows.append(values)

    def __str__(self) -> str:
        cells = [[str(c) for c in self.columns]] + [[str(v) for v in row] for row in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        printer.text(str(self))  # type: ignore[attr-defined]


def table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    """Build a ``Table`` from columns and rows in one call."""
    result = Table(columns)
    for row in rows:
        result.add(*row)
    return result


def shorten(secret: str, keep: int = 0) -> str:
    """Describe a token or session ID by its length (and optionally its first characters), never in full."""
    prefix = f"{secret[:keep]}…" if keep else ""
    return f"{prefix}<{len(secret)} chars>"


def check_prediction(
    question: str, predicted: object, measured: object, *, tolerance: float = 0.0, unit: str = ""
) -> bool | None:
    """Print a prediction beside the measured outcome and whether it held; None when nothing was predicted."""
    shown = f"{measured}{unit}"
    if predicted is None:
        print(f"{question}: measured {shown}. (No prediction written: set it above before running, then compare.)")
        return None
    if isinstance(measured, bool) or not isinstance(measured, (int, float)):
        held = str(predicted).strip().lower() == str(measured).strip().lower()
    elif isinstance(predicted, (int, float)) and not isinstance(predicted, bool):
        # A relative margin: "about 3×" is right for 2.9×, and a count predicted exactly needs tolerance 0.
        held = abs(predicted - measured) <= tolerance * max(abs(measured), 1e-12)
    else:
        held = False
    verdict = "your prediction held" if held else "not what you predicted"
    print(f"{question}: you predicted {predicted}{unit}, measured {shown}: {verdict}.")
    return held
