"""Student versions of the chapters, checked and autograded the way nbgrader does it.

Run through ``python3 course.py student [--out DIR]``. For every chapter ``notebooks/NN_*.ipynb``
(the committed full-solution version) this

1. writes a student version into ``DIR`` (default ``build/student/``) with the semantics of
   ``nbgrader generate_assignment``: each ``### BEGIN SOLUTION`` … ``### END SOLUTION`` region in a
   code cell becomes nbgrader's stub ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` at the
   region's indentation, a solution cell without a region becomes the stub (``YOUR ANSWER HERE`` in
   markdown), ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS`` is removed, outputs and
   execution counts are cleared, and the nbgrader metadata stays, with grade cells made
   non-editable and answer cells non-deletable as nbgrader's LockCells does and each nbgrader
   cell's checksum added as ComputeChecksums does (for chapters 01-08 the result was checked to be
   the same file, byte for byte, as the one nbgrader 0.9.6 released);
2. checks the student version: no solution text or output left, and run top to bottom its first
   error is at the first exercise (the answer cell's NotImplementedError or the check right after);
3. autogrades like ``nbgrader autograde``: locked cells are restored from the committed version
   (hidden tests included), every cell runs even after errors, and each grade cell scores its points
   unless it raised or wrote to stderr (a number it returns is partial credit, as in nbgrader).

``--grade FILE ...`` scores learners' submitted copies instead, matched to chapters by file name.
nbgrader's gradebook database, late penalties and manual grading are not reproduced here.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"
DEFAULT_OUT = ROOT / "build" / "student"

# nbgrader's own defaults (ClearSolutions, ClearHiddenTests, Execute), so a copy made here matches
# what `nbgrader generate_assignment` releases and a score matches what `nbgrader autograde` gives.
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
CELL_TIMEOUT = 30  # seconds per cell, nbgrader's Execute.timeout
CLEARED_CELL_METADATA = ("collapsed", "scrolled", "execution")  # what ClearOutput drops, plus run timing


def grader(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata, or an empty dict."""
    return cell.get("metadata", {}).get("nbgrader", {})


def is_solution(cell: NotebookNode) -> bool:
    """True for an answer cell (nbgrader ``solution: true``)."""
    return bool(grader(cell).get("solution", False))


def is_grade(cell: NotebookNode) -> bool:
    """True for a cell that scores points (nbgrader ``grade: true``)."""
    return bool(grader(cell).get("grade", False))


def is_locked(cell: NotebookNode) -> bool:
    """True for a cell a learner may not change, by nbgrader's rule: grade cells and locked cells, never answers."""
    if not grader(cell) or is_solution(cell):
        return False
    return is_grade(cell) or bool(grader(cell).get("locked", False))


def chapters(folder: Path = NOTEBOOKS) -> list[Path]:
    """The chapter notebooks NN_*.ipynb in ``folder``, in course order."""
    return sorted(folder.glob(CHAPTER_GLOB))


def read(path: Path) -> NotebookNode:
    """A notebook from disk, as nbformat v4."""
    return nbformat.read(path, as_version=4)


def replace_region(source: str, begin: str, end: str, stub: str | None) -> tuple[str, bool]:
    """``source`` with each begin…end line region replaced by ``stub`` (indented like the begin line) or removed."""
    kept: list[str] = []
    inside = found = False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise ValueError(f"nested {begin!r} in:\n{source}")
            inside = found = True
            if stub is not None:
                indent = line[: len(line) - len(line.lstrip())]
                kept.extend(indent + stub_line for stub_line in stub.split("\n"))
        elif end in line:
            inside = False
        elif not inside:
            kept.append(line)
    if inside:
        raise ValueError(f"{begin!r} without {end!r} in:\n{source}")
    return "\n".join(kept), found


def markup_problems(nb: NotebookNode) -> list[str]:
    """What nbgrader would reject in the notebook's markup (its metadata validator and region rules)."""
    problems, seen = [], set()
    for index, cell in enumerate(nb.cells):
        meta = grader(cell)
        has_solution = BEGIN_SOLUTION in cell.source or END_SOLUTION in cell.source
        has_hidden = BEGIN_HIDDEN in cell.source or END_HIDDEN in cell.source
        where = f"cell {index}"
        if has_solution and not is_solution(cell):
            problems.append(f"{where}: a solution region outside an answer cell")
        if has_hidden and not is_grade(cell):
            problems.append(f"{where}: hidden tests outside a grade cell")
        for begin, end in ((BEGIN_SOLUTION, END_SOLUTION), (BEGIN_HIDDEN, END_HIDDEN)):
            try:
                replace_region(cell.source, begin, end, None)
            except ValueError as exc:
                problems.append(f"{where}: {str(exc).splitlines()[0]}")
        if not meta:
            continue
        grade_id = meta.get("grade_id", "")
        where = f"cell {index} ({grade_id or 'no grade_id'})"
        if meta.get("schema_version") != 3:
            problems.append(f"{where}: nbgrader schema_version is not 3")
        if (is_solution(cell) or is_grade(cell) or meta.get("locked")) and not grade_id:
            problems.append(f"{where}: an nbgrader cell needs a grade_id")
        if grade_id in seen:
            problems.append(f"{where}: duplicate grade_id")
        seen.add(grade_id)
        if is_grade(cell):
            points = meta.get("points")
            if not isinstance(points, (int, float)) or points <= 0:
                problems.append(f"{where}: a grade cell needs positive points, has {points!r}")
        if cell.cell_type == "markdown" and is_grade(cell) != is_solution(cell):
            problems.append(f"{where}: a markdown nbgrader cell must be both grade and solution")
    return problems


def clear_outputs(cell: NotebookNode) -> None:
    """Drop a cell's outputs, execution count and run-specific metadata, as nbgrader's ClearOutput does."""
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    for key in CLEARED_CELL_METADATA:
        cell.metadata.pop(key, None)


def checksum(cell: NotebookNode) -> str:
    """nbgrader's checksum of an nbgrader cell: MD5 over its source, type, flags, grade_id and points."""
    digest = hashlib.md5()
    parts = [
        cell.source,
        cell.cell_type,
        str(is_grade(cell)),
        str(is_solution(cell)),
        str(is_locked(cell)),
        grader(cell)["grade_id"],
    ]
    if is_grade(cell):
        parts.append(str(float(grader(cell)["points"])))
    for part in parts:
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()


def student_version(nb: NotebookNode) -> NotebookNode:
    """The notebook a learner gets: solutions stubbed, hidden tests removed, outputs cleared, cells locked and checksummed."""
    student = nbformat.from_dict(nb)  # a deep copy
    student.metadata.pop("celltoolbar", None)
    for cell in student.cells:
        if is_solution(cell):
            cell.metadata["deletable"] = False
        elif is_locked(cell):
            cell.metadata["deletable"] = False
            cell.metadata["editable"] = False
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        cell.source, replaced = replace_region(cell.source, BEGIN_SOLUTION, END_SOLUTION, stub)
        if is_solution(cell) and not replaced:
            cell.source = stub
        cell.source = replace_region(cell.source, BEGIN_HIDDEN, END_HIDDEN, None)[0]
        clear_outputs(cell)
        if is_grade(cell) or is_solution(cell) or is_locked(cell):
            # What nbgrader records, so a released copy made here is the very file nbgrader would release.
            cell.metadata["nbgrader"]["checksum"] = checksum(cell)
            cell.metadata["nbgrader"]["cell_type"] = cell.cell_type
    return student


def inside_lines(source: str, begin: str, end: str) -> set[str]:
    """The stripped, non-blank lines of ``source`` inside begin…end regions that do not also occur outside them."""
    inside: set[str] = set()
    outside: set[str] = set()
    within = False
    for line in source.split("\n"):
        if begin in line:
            within = True
        elif end in line:
            within = False
        elif line.strip():
            (inside if within else outside).add(line.strip())
    return inside - outside


def leftovers(student: NotebookNode, source: NotebookNode) -> list[str]:
    """What a student version still gives away: delimiters, outputs, solution or hidden-test lines."""
    found = []
    by_id = {grader(cell)["grade_id"]: cell for cell in source.cells if grader(cell).get("grade_id")}
    for index, cell in enumerate(student.cells):
        for marker in (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN):
            if marker in cell.source:
                found.append(f"cell {index}: still contains {marker!r}")
        if cell.get("outputs") or cell.get("execution_count") is not None:
            found.append(f"cell {index}: still has outputs (they can show the answers)")
        original = by_id.get(grader(cell).get("grade_id"))
        if original is None:
            continue
        secret = inside_lines(original.source, BEGIN_SOLUTION, END_SOLUTION)
        secret |= inside_lines(original.source, BEGIN_HIDDEN, END_HIDDEN)
        if is_solution(original) and BEGIN_SOLUTION not in original.source:
            secret |= {line.strip() for line in original.source.split("\n") if line.strip()}
        shown = secret & {line.strip() for line in cell.source.split("\n")}
        if shown:
            found.append(f"cell {index} ({grader(cell)['grade_id']}): still shows {sorted(shown)[0]!r}")
    return found


def execute(nb: NotebookNode, cwd: Path, timeout: int = CELL_TIMEOUT) -> NotebookNode:
    """Run every cell of a copy of ``nb`` in a fresh kernel in ``cwd``, carrying on past errors as nbgrader does."""
    # The kernel inherits this process's environment; without it the debugger warns on stderr,
    # and nbgrader scores a grade cell that wrote to stderr as zero.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    run = nbformat.from_dict(nb)
    NotebookClient(
        run,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        record_timing=False,
        extra_arguments=["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(cwd)}},
    ).execute(stderr=subprocess.DEVNULL)
    # The kernel process's own stderr carries only its logs (a cell's stderr reaches the notebook over
    # iopub), such as its complaint when it is stopped after a cell ran out of time.
    return run


def partial_credit(output: NotebookNode, points: float) -> float:
    """The points a grade cell's value earns, by nbgrader 0.9's rule: a number from 0 to ``points`` is the grade
    (0 right is 0), a negative number or anything that is not one number earns full marks."""
    text = output.get("data", {}).get("text/plain")
    if not text:
        raise ValueError("a grade cell's value has no text/plain form")
    if not isinstance(text, str):
        if len(text) > 1:
            return points
        text = text[0]
    try:
        value = float(text)
    except ValueError:
        return points
    if value > points:
        raise ValueError(f"partial credit {value:g} is more than the cell's {points:g} points")
    return value if value >= 0 else points


def cell_score(cell: NotebookNode) -> float:
    """Points an executed grade cell earns, by nbgrader's rule: 0 on an error or stderr, else its value or full marks."""
    points = float(grader(cell)["points"])
    for output in cell.get("outputs", []):
        if output.output_type == "error" or (output.output_type == "stream" and output.name == "stderr"):
            return 0.0
        if output.output_type == "execute_result":
            return partial_credit(output, points)
    return points


def restore_locked(submission: NotebookNode, source: NotebookNode) -> NotebookNode:
    """A copy of ``submission`` whose locked cells and points are the committed ones, hidden tests included."""
    restored = nbformat.from_dict(submission)
    by_id = {grader(cell)["grade_id"]: cell for cell in source.cells if grader(cell).get("grade_id")}
    for cell in restored.cells:
        original = by_id.get(grader(cell).get("grade_id"))
        if original is None:
            continue
        if is_locked(original):
            cell.source = original.source
        if is_grade(original):
            cell.metadata["nbgrader"]["points"] = grader(original)["points"]
        clear_outputs(cell)
    return restored


@dataclass(frozen=True)
class Failure:
    """The first cell of a run that raised: where, which grade_id, and the exception."""

    index: int
    grade_id: str | None
    ename: str
    evalue: str

    def __str__(self) -> str:
        label = f" ({self.grade_id})" if self.grade_id else ""
        message = self.evalue.strip().splitlines()[0] if self.evalue.strip() else ""
        if len(message) > 100:
            message = message[:97] + "..."
        return f"cell {self.index}{label}: {self.ename}" + (f": {message}" if message else "")


@dataclass(frozen=True)
class Grade:
    """Points per grade cell of one graded notebook, and where it first raised."""

    notebook: str
    points: dict[str, tuple[float, float]]  # grade_id -> (earned, possible)
    first_error: Failure | None = None  # None when no cell raised

    @property
    def score(self) -> float:
        """Points earned."""
        return sum(earned for earned, _ in self.points.values())

    @property
    def max_score(self) -> float:
        """Points possible."""
        return sum(possible for _, possible in self.points.values())


def first_failure(nb: NotebookNode) -> Failure | None:
    """The first cell of an executed notebook that raised, or None."""
    for index, cell in enumerate(nb.cells):
        error = next((out for out in cell.get("outputs", []) if out.output_type == "error"), None)
        if error is not None:
            return Failure(index, grader(cell).get("grade_id"), error.ename, error.evalue)
    return None


def grade_executed(name: str, executed: NotebookNode) -> Grade:
    """The Grade of a notebook that has already run."""
    points = {
        grader(cell)["grade_id"]: (cell_score(cell), float(grader(cell)["points"]))
        for cell in executed.cells
        if is_grade(cell) and cell.cell_type == "code"
    }
    return Grade(name, points, first_failure(executed))


def autograde(submission: NotebookNode, source: NotebookNode, cwd: Path, name: str = "") -> tuple[Grade, NotebookNode]:
    """Score ``submission`` against the committed ``source`` as ``nbgrader autograde`` does; also return the run."""
    executed = execute(restore_locked(submission, source), cwd)
    return grade_executed(name, executed), executed


def first_exercise(nb: NotebookNode) -> tuple[int, ...]:
    """Where an untouched student version should first fail: the first answer cell and the grade cell after it."""
    answer = next((index for index, cell in enumerate(nb.cells) if is_solution(cell)), None)
    if answer is None:
        return ()
    check = next((index for index in range(answer + 1, len(nb.cells)) if is_grade(nb.cells[index])), None)
    return (answer,) if check is None else (answer, check)


@dataclass
class ChapterReport:
    """Everything checked for one chapter: markup, the student copy, and both autograded runs."""

    name: str
    student_path: Path
    problems: list[str] = field(default_factory=list)
    solution: Grade | None = None
    student: Grade | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing is wrong with this chapter."""
        return not self.problems


def make_student(source_path: Path, out_dir: Path) -> tuple[Path, list[str]]:
    """Write the student version of ``source_path`` into ``out_dir``; return its path and what is wrong with it."""
    source = read(source_path)
    problems = markup_problems(source)
    if not any(is_solution(cell) for cell in source.cells):
        problems.append("no answer cells: nothing to hand out")
    student = student_version(source)
    problems += leftovers(student, source)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / source_path.name
    nbformat.write(student, path)
    return path, problems


def verdict_problems(source: NotebookNode, solution: Grade, student: Grade) -> list[str]:
    """What is wrong with a chapter's autograded runs: solutions short of full marks, students above zero, a late or early first error."""
    problems = []
    if solution.score != solution.max_score or solution.max_score == 0:
        lost = [grade_id for grade_id, (earned, possible) in solution.points.items() if earned < possible]
        problems.append(
            f"the full-solution version scores {solution.score:g}/{solution.max_score:g} (lost: {', '.join(lost)})"
        )
    if solution.first_error:
        problems.append(f"the full-solution version raised at {solution.first_error}")
    if student.score != 0:
        passed = [grade_id for grade_id, (earned, _) in student.points.items() if earned]
        problems.append(f"the untouched student version scores {student.score:g} (passed: {', '.join(passed)})")
    expected = first_exercise(source)
    if student.first_error is None or student.first_error.index not in expected:
        wanted = " or ".join(f"cell {index}" for index in expected) or "an exercise"
        problems.append(f"the student version first fails at {student.first_error}, not at {wanted}")
    return problems


def timed_autograde(submission_path: Path, source_path: Path) -> tuple[Grade, float]:
    """Autograde the notebook at ``submission_path`` against ``source_path``; also return the seconds it took."""
    started = time.perf_counter()
    grade, _ = autograde(read(submission_path), read(source_path), submission_path.parent, source_path.stem)
    return grade, time.perf_counter() - started


def check_chapters(paths: Sequence[Path], out_dir: Path, workers: int = 1) -> Iterator[ChapterReport]:
    """Make each chapter's student version, check it, and autograde it and the committed version, in order.

    The two runs of every chapter are separate jobs, so a long chapter keeps every core busy.
    """
    made = [make_student(path, out_dir) for path in paths]
    jobs = [job for path, (student_path, _) in zip(paths, made) for job in ((path, path), (student_path, path))]
    runs = in_parallel(timed_autograde, jobs, workers)
    for path, (student_path, problems) in zip(paths, made):
        (solution, solution_seconds), (student, student_seconds) = next(runs), next(runs)
        problems = problems + verdict_problems(read(path), solution, student)
        yield ChapterReport(path.stem, student_path, problems, solution, student, solution_seconds + student_seconds)


def grade_submission(submission_path: Path, source_dir: Path = NOTEBOOKS) -> Grade:
    """Score a learner's copy of a chapter against the committed chapter of the same file name."""
    source_path = source_dir / submission_path.name
    if not source_path.exists():
        raise FileNotFoundError(f"no chapter {submission_path.name} in {source_dir}")
    return autograde(read(submission_path), read(source_path), submission_path.parent, submission_path.stem)[0]


def in_parallel(function, arguments: Sequence[tuple], workers: int) -> Iterator:
    """``function(*args)`` for each args, in up to ``workers`` processes, results in order."""
    if workers <= 1 or len(arguments) <= 1:
        yield from (function(*args) for args in arguments)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(arguments))) as pool:
        yield from pool.map(function, *zip(*arguments))


def default_workers() -> int:
    """One process per core: each notebook runs in its own kernel."""
    return max(1, os.cpu_count() or 1)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Plain-text columns: the first left-aligned, the others right-aligned, the last left as it is."""
    rows = [list(header)] + [list(row) for row in rows]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [text.rjust(width) for text, width in zip(row[1:-1], widths[1:])]
        lines.append("  ".join(cells + [row[-1]]).rstrip())
    return "\n".join(lines)


def _points(grade: Grade | None, which: str) -> str:
    """A score or maximum for the table, or "-" for a run that never happened."""
    return "-" if grade is None else f"{getattr(grade, which):g}"


def run_checks(paths: Sequence[Path], out_dir: Path, workers: int) -> int:
    """Build and check student versions of ``paths``; print a message per notebook and the score table."""
    started = time.perf_counter()
    reports = []
    for report in check_chapters(paths, out_dir, workers):
        reports.append(report)
        if report.ok and report.student is not None:
            print(
                f"{report.name}: ok ({report.seconds:.0f} s of runs); the student version first fails at "
                f"{report.student.first_error}",
                flush=True,
            )
        else:
            print(f"{report.name}: FAILED ({report.seconds:.0f} s of runs)", flush=True)
            for problem in report.problems:
                print(f"  - {problem}", flush=True)
    print()
    print(
        table(
            ["notebook", "points", "solution", "student", "check"],
            (
                [
                    r.name,
                    _points(r.solution, "max_score"),
                    _points(r.solution, "score"),
                    _points(r.student, "score"),
                    "ok" if r.ok else "FAILED",
                ]
                for r in reports
            ),
        )
    )
    failed = sum(not report.ok for report in reports)
    where = out_dir.relative_to(ROOT) if out_dir.is_relative_to(ROOT) else out_dir
    print(
        f"\n{len(reports) - failed}/{len(reports)} student versions ok in {where}/ "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 1 if failed or not reports else 0


@dataclass(frozen=True)
class Ungradable:
    """A submission that could not be graded, and why."""

    notebook: str
    reason: str


def try_grade(submission_path: Path, source_dir: Path = NOTEBOOKS) -> Grade | Ungradable:
    """The Grade of a submission, or why it could not be graded (not a notebook, a run that never finished)."""
    try:
        return grade_submission(submission_path, source_dir)
    except Exception as error:  # noqa: BLE001  (one learner's broken file must not stop the others' grading)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return Ungradable(submission_path.name, f"{type(error).__name__}: {reason}" if reason else type(error).__name__)


def run_grading(paths: Sequence[Path], workers: int, source_dir: Path = NOTEBOOKS) -> int:
    """Autograde learners' submitted copies; print each one's score per grade cell and in total.

    0 when every submission was graded (whatever its score), 1 when one or more could not be.
    """
    results = list(in_parallel(try_grade, [(path, source_dir) for path in paths], workers))
    for result in results:
        if isinstance(result, Ungradable):
            print(f"{result.notebook}: could not be graded ({result.reason})\n", flush=True)
            continue
        print(
            table(
                ["grade cell", "earned", "of", ""],
                (
                    [grade_id, f"{earned:g}", f"{possible:g}", ""]
                    for grade_id, (earned, possible) in result.points.items()
                ),
            )
        )
        print(
            f"{result.notebook}: {result.score:g}/{result.max_score:g}; first error: {result.first_error or 'none'}\n"
        )
    failed = [result.notebook for result in results if isinstance(result, Ungradable)]
    if failed:
        print(
            f"{len(failed)} of {len(results)} submission(s) could not be graded: {', '.join(failed)}", file=sys.stderr
        )
    return 1 if failed else 0


def argument_errors(
    notebooks: Sequence[Path], out: Path | None, grade: Sequence[Path] | None, source_dir: Path = NOTEBOOKS
) -> tuple[str | None, str | None]:
    """(a usage error, a one-line file error) for the command line, each None when there is none."""
    if grade and (notebooks or out is not None):
        extra = "chapter paths" if notebooks else "--out"
        return (
            f"--grade FILE ... scores submitted copies; it does not take {extra} (make student versions without --grade)",
            None,
        )
    for path in (*(grade or ()), *notebooks):
        if not path.is_file():
            return None, f"no such notebook: {path}"
    for path in grade or ():
        if not (source_dir / path.name).is_file():
            return (
                None,
                f"{path}: no chapter of that name in {source_dir.name}/ (a submission keeps its chapter's file name)",
            )
    return None, None


def parser() -> argparse.ArgumentParser:
    """The command line: make and check student versions, or --grade submitted copies."""
    made = argparse.ArgumentParser(
        prog="classroom.py",
        description="Make, check and autograde the student versions of the chapters.",
        usage="%(prog)s [-h] [--workers N] ([NB ...] [--out DIR] | --grade FILE [FILE ...])",
    )
    made.add_argument("notebooks", nargs="*", type=Path, help="chapters to use (default: every notebooks/NN_*.ipynb)")
    made.add_argument("--out", type=Path, metavar="DIR", help="where the student versions go (default: build/student)")
    made.add_argument("--grade", nargs="+", type=Path, metavar="FILE", help="autograde these submitted copies instead")
    made.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=default_workers(),
        help="notebooks run at once (default: one per core)",
    )
    return made


def main(argv: list[str]) -> int:
    command = parser()
    args = command.parse_args(argv)
    if args.workers < 1:
        command.error("--workers must be 1 or more")
    usage_error, file_error = argument_errors(args.notebooks, args.out, args.grade)
    if usage_error:
        command.error(usage_error)
    if file_error:
        command.exit(2, f"{command.prog}: error: {file_error}\n")
    if args.grade:
        return run_grading([path.resolve() for path in args.grade], args.workers)
    paths = [path.resolve() for path in args.notebooks] or chapters()
    return run_checks(paths, (args.out or DEFAULT_OUT).resolve(), args.workers)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
