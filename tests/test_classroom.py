"""Student versions and autograding (tools/classroom.py), on every chapter, really executed.

The markup rules are tested on small notebooks built here, without a kernel. The chapters are then
checked end to end: each chapter ``notebooks/NN_*.ipynb`` (found by glob, so new chapters join in)
gets a student version written to a temporary folder, and two runs in fresh kernels, both the way
``nbgrader autograde`` runs a submission (locked cells restored, every cell executed, carrying on
past errors): the committed full-solution version, and the untouched student version.

Why full runs of the student version, not a run that stops at the first error: a score of zero
is only proven if every later check fails too, and the same run also shows the first error, so
one run per version answers both questions. The parameters cells are used as committed (they are
sized for CI already). The runs go in parallel, one kernel per core, once per test module (the
two runs of a chapter are separate jobs, so a long chapter does not hold up the rest): on two
cores the eight chapters took about 45 s in all.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import classroom  # noqa: E402  (a tool script, not part of the installed helpers package)

CHAPTERS = classroom.chapters()


def answer(grade_id: str, source: str, cell_type: str = "code") -> nbformat.NotebookNode:
    """An nbgrader answer cell as the chapters write them."""
    make = new_code_cell if cell_type == "code" else new_markdown_cell
    grade = cell_type == "markdown"  # nbgrader wants markdown answers graded by hand
    meta = {"schema_version": 3, "solution": True, "grade": grade, "locked": False, "grade_id": grade_id}
    if grade:
        meta["points"] = 1
    return make(source, metadata={"nbgrader": meta})


def check(grade_id: str, source: str, points: float = 2) -> nbformat.NotebookNode:
    """An nbgrader grade cell as the chapters write them."""
    meta = {
        "schema_version": 3,
        "solution": False,
        "grade": True,
        "locked": True,
        "points": points,
        "grade_id": grade_id,
    }
    return new_code_cell(source, metadata={"nbgrader": meta})


def tiny_chapter() -> nbformat.NotebookNode:
    """A two-exercise notebook with an indented solution, a whole-cell answer, a prose answer and hidden tests."""
    return new_notebook(
        cells=[
            new_markdown_cell("# 99 · Tiny"),
            answer(
                "ex1",
                'def double(x):\n    """Twice x."""\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION',
            ),
            check(
                "ex1_check",
                "assert double(2) == 4, 'double(2)'\n### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n### END HIDDEN TESTS",
            ),
            answer("ex2", "answers = {1: 'B'}"),
            check("ex2_check", "assert answers == {1: 'B'}", points=1),
            answer(
                "ex3", "### BEGIN SOLUTION\nBecause the server keeps nothing.\n### END SOLUTION", cell_type="markdown"
            ),
        ]
    )


def test_student_version_stubs_solutions_like_nbgrader() -> None:
    student = classroom.student_version(tiny_chapter())
    assert student.cells[1].source == (
        'def double(x):\n    """Twice x."""\n    # YOUR CODE HERE\n    raise NotImplementedError()'
    )
    assert student.cells[3].source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert student.cells[5].source == "YOUR ANSWER HERE"
    assert student.cells[2].source == "assert double(2) == 4, 'double(2)'"


def test_student_version_locks_checks_and_keeps_metadata() -> None:
    student = classroom.student_version(tiny_chapter())
    assert student.cells[2].metadata["editable"] is False and student.cells[2].metadata["deletable"] is False
    assert student.cells[1].metadata["deletable"] is False and "editable" not in student.cells[1].metadata
    assert student.cells[1].metadata["nbgrader"]["grade_id"] == "ex1"
    assert student.cells[2].metadata["nbgrader"]["points"] == 2


def test_outputs_are_cleared_and_leftovers_are_found() -> None:
    source = tiny_chapter()
    source.cells[1].outputs = [new_output("stream", name="stdout", text="4\n")]
    source.cells[1].execution_count = 1
    student = classroom.student_version(source)
    assert student.cells[1].outputs == [] and student.cells[1].execution_count is None
    assert classroom.leftovers(student, source) == []
    student.cells[1].source += "\n    return 2 * x"
    student.cells[2].source += "\n# BEGIN HIDDEN TESTS"
    student.cells[4].outputs = [new_output("stream", name="stdout", text="ok\n")]
    found = "\n".join(classroom.leftovers(student, source))
    assert "'return 2 * x'" in found and "BEGIN HIDDEN TESTS" in found and "outputs" in found


def test_markup_problems_are_those_nbgrader_rejects() -> None:
    assert classroom.markup_problems(tiny_chapter()) == []
    broken = tiny_chapter()
    broken.cells[4].metadata["nbgrader"]["grade_id"] = "ex1_check"
    del broken.cells[2].metadata["nbgrader"]["points"]
    broken.cells.append(new_code_cell("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION"))
    broken.cells.append(answer("ex4", "### BEGIN SOLUTION\nx = 3"))
    found = "\n".join(classroom.markup_problems(broken))
    for expected in ("duplicate grade_id", "needs positive points", "outside an answer cell", "without 'END SOLUTION'"):
        assert expected in found, f"{expected!r} not reported in:\n{found}"


def test_cell_score_follows_nbgrader() -> None:
    def ran(*outputs: nbformat.NotebookNode) -> nbformat.NotebookNode:
        cell = check("c", "pass", points=3)
        cell.outputs = list(outputs)
        return cell

    assert classroom.cell_score(ran()) == 3
    assert classroom.cell_score(ran(new_output("stream", name="stdout", text="fine\n"))) == 3
    assert classroom.cell_score(ran(new_output("error", ename="AssertionError", evalue="", traceback=[]))) == 0
    assert classroom.cell_score(ran(new_output("stream", name="stderr", text="warning\n"))) == 0
    assert classroom.cell_score(ran(new_output("execute_result", data={"text/plain": "1.5"}, execution_count=1))) == 1.5
    assert (
        classroom.cell_score(ran(new_output("execute_result", data={"text/plain": "'done'"}, execution_count=1))) == 3
    )


@pytest.mark.parametrize(("value", "earned"), [("0", 0), ("2", 2), ("3", 3), ("-1", 3), ("'two'", 3), (["1", "2"], 3)])
def test_partial_credit_is_nbgraders(value: str | list[str], earned: float) -> None:
    # nbgrader 0.9's utils.get_partial_grade: 0 right is 0 points; a negative number or anything that is not one
    # number is full marks (with a warning there); more than the cell's points is an error.
    output = new_output("execute_result", data={"text/plain": value}, execution_count=1)
    assert classroom.partial_credit(output, 3.0) == earned


def test_partial_credit_above_the_points_cannot_be_graded() -> None:
    with pytest.raises(ValueError, match="more than the cell's 3 points"):
        classroom.partial_credit(new_output("execute_result", data={"text/plain": "4"}, execution_count=1), 3.0)


def test_restore_locked_brings_back_hidden_tests_and_points() -> None:
    source = tiny_chapter()
    submission = classroom.student_version(source)
    submission.cells[2].source = "pass  # a learner emptied the check"
    submission.cells[2].metadata["nbgrader"]["points"] = 100
    restored = classroom.restore_locked(submission, source)
    assert restored.cells[2].source == source.cells[2].source
    assert restored.cells[2].metadata["nbgrader"]["points"] == 2
    assert restored.cells[1].source == submission.cells[1].source, "answers are the learner's own"


def test_first_exercise_is_the_first_answer_and_its_check() -> None:
    assert classroom.first_exercise(tiny_chapter()) == (1, 2)


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """classroom's exit code and what it wrote to stderr, for a command line that must stop early."""
    with pytest.raises(SystemExit) as stopped:
        classroom.main(argv)
    return stopped.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--grade", str(CHAPTERS[0]), "--out", "handout"],
        [str(CHAPTERS[0]), "--grade", str(CHAPTERS[1])],
        ["--workers", "0"],
    ],
)
def test_options_that_do_not_go_together_are_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_main(argv, capsys)
    assert code == 2 and err.startswith("usage: classroom.py") and "error:" in err, err


@pytest.mark.parametrize(
    "argv",
    [["--grade", "submissions/ada/03_no_such_chapter.ipynb"], ["no/such/chapter.ipynb"], ["--grade", "README.md"]],
)
def test_a_wrong_file_name_is_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    code, err = run_main(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("classroom.py: error: "), err
    assert "Traceback" not in err


def test_grading_exit_code_is_1_when_a_submission_cannot_be_graded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = next(path for path in CHAPTERS if path.name.startswith("03"))
    good, _ = classroom.make_student(source, tmp_path / "ada")
    broken = tmp_path / "bob" / source.name
    broken.parent.mkdir()
    broken.write_text('{"cells": "not a notebook"', encoding="utf-8")
    assert classroom.run_grading([broken, good], workers=2) == 1
    captured = capsys.readouterr()
    assert f"{source.name}: could not be graded (" in captured.out
    assert f"{source.stem}: 0/" in captured.out, "the other submission is still graded"
    assert "1 of 2 submission(s) could not be graded" in captured.err


def test_every_quiz_is_worth_a_point_per_question() -> None:
    for path in CHAPTERS:
        questions = json.loads((path.parent.parent / "data" / "quizzes" / f"{path.name[:2]}.json").read_text())[
            "questions"
        ]
        (points,) = [
            classroom.grader(cell)["points"]
            for cell in classroom.read(path).cells
            if classroom.grader(cell).get("grade_id", "").endswith("_quiz_check")
        ]
        assert points == len(questions), f"{path.name}: the quiz check is worth {points}, the quiz has {len(questions)}"


def test_half_the_quiz_right_earns_half_the_quiz_points(tmp_path: Path) -> None:
    # The first chapter whose quiz has an even number of questions: half is a whole number of answers.
    keys = {
        path: [
            q["answer"]
            for q in json.loads((path.parent.parent / "data" / "quizzes" / f"{path.name[:2]}.json").read_text())[
                "questions"
            ]
        ]
        for path in CHAPTERS
    }
    path, key = next((path, key) for path, key in keys.items() if len(key) % 2 == 0)
    half = len(key) // 2
    wrong = {letter: "A" if letter != "A" else "B" for letter in "ABCD"}
    answers = {number: (letter if number <= half else wrong[letter]) for number, letter in enumerate(key, 1)}
    copy, _ = classroom.make_student(path, tmp_path)
    nb = classroom.read(copy)
    (cell,) = [cell for cell in nb.cells if classroom.grader(cell).get("grade_id", "").endswith("_quiz")]
    cell.source = f"answers = {answers!r}"
    nbformat.write(nb, copy)
    grade = classroom.grade_submission(copy)
    quiz = {grade_id: points for grade_id, points in grade.points.items() if grade_id.endswith("_quiz_check")}
    assert list(quiz.values()) == [(half, len(key))], f"{path.name}: {quiz}"
    assert grade.score == half, f"{path.name}: only the quiz is answered, yet {grade.points}"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, classroom.ChapterReport]:
    """Every chapter made, checked and autograded once, in parallel."""
    out_dir = tmp_path_factory.mktemp("student")
    return {report.name: report for report in classroom.check_chapters(CHAPTERS, out_dir, classroom.default_workers())}


def test_there_are_chapters_with_exercises() -> None:
    assert CHAPTERS, "no notebooks/NN_*.ipynb found"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem[:2])
def test_student_version_contains_no_solution(path: Path, reports: dict[str, classroom.ChapterReport]) -> None:
    source = classroom.read(path)
    raw = reports[path.stem].student_path.read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert marker not in raw, f"{path.name}: the student version still contains {marker!r}"
    student = json.loads(raw)
    assert not any(cell.get("outputs") for cell in student["cells"]), (
        f"{path.name}: outputs left in the student version"
    )
    for source_cell, student_cell in zip(source.cells, student["cells"], strict=True):
        if not classroom.is_solution(source_cell):
            continue
        secret = classroom.inside_lines(source_cell.source, "BEGIN SOLUTION", "END SOLUTION")
        shown = secret & {line.strip() for line in "".join(student_cell["source"]).split("\n")}
        assert secret and not shown, (
            f"{path.name} {source_cell.metadata.nbgrader.grade_id}: solution lines left: {shown}"
        )
        assert "raise NotImplementedError()" in "".join(student_cell["source"])
    assert classroom.leftovers(nbformat.reads(raw, as_version=4), source) == []
    assert classroom.markup_problems(source) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem[:2])
def test_full_solution_scores_full_marks(path: Path, reports: dict[str, classroom.ChapterReport]) -> None:
    grade = reports[path.stem].solution
    assert grade.max_score > 0, f"{path.name} has no grade cells"
    lost = {grade_id: points for grade_id, points in grade.points.items() if points[0] != points[1]}
    assert not lost and grade.first_error is None, f"{path.name}: lost {lost}, first error {grade.first_error}"
    quiz_checks = [grade_id for grade_id in grade.points if grade_id.endswith("_quiz_check")]
    assert len(quiz_checks) == 1, f"{path.name}: the quiz should be graded by exactly one cell, found {quiz_checks}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem[:2])
def test_untouched_student_version_scores_zero(path: Path, reports: dict[str, classroom.ChapterReport]) -> None:
    grade = reports[path.stem].student
    assert grade.max_score == reports[path.stem].solution.max_score
    assert grade.score == 0, f"{path.name}: an untouched copy earned {grade.points}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem[:2])
def test_student_version_first_fails_at_its_first_exercise(
    path: Path, reports: dict[str, classroom.ChapterReport]
) -> None:
    source = classroom.read(path)
    first_answer = next(index for index, cell in enumerate(source.cells) if classroom.is_solution(cell))
    its_check = next(
        index for index in range(first_answer + 1, len(source.cells)) if classroom.is_grade(source.cells[index])
    )
    failure = reports[path.stem].student.first_error
    assert failure is not None and failure.index in (first_answer, its_check), (
        f"{path.name}: expected the first error at cell {first_answer} or {its_check}, got {failure}"
    )
    assert "NotImplementedError" in failure.ename + failure.evalue, f"{path.name}: {failure} is not the unsolved stub"
    assert reports[path.stem].problems == []


def test_readme_points_table_matches_the_notebooks() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    teachers = readme.split("## For teachers", 1)[1].split("\n## ", 1)[0]
    listed = [line for line in teachers.splitlines() if re.match(r"\| \d\d \|", line)]
    expected = []
    for path in CHAPTERS:
        points = {
            classroom.grader(cell)["grade_id"]: classroom.grader(cell)["points"]
            for cell in classroom.read(path).cells
            if classroom.is_grade(cell)
        }
        checks = [f"{value:g}" for grade_id, value in points.items() if not grade_id.endswith("_quiz_check")]
        quiz = sum(value for grade_id, value in points.items() if grade_id.endswith("_quiz_check"))
        expected.append(f"| {path.name[:2]} | {' + '.join(checks)} | {quiz:g} | {sum(points.values()):g} |")
    assert listed == expected, "README's points table is out of date; it should read:\n" + "\n".join(expected)
