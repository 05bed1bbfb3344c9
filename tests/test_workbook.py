"""A learner's workbook (tools/workbook.py, run by ``python3 course.py lab``): copies of the student versions
handed out once, then never overwritten; a chapter that changes upstream updates an untouched copy in place
and arrives beside an edited one. ``python3 course.py grade`` scores the learner's own copies."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell, new_output

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import classroom  # noqa: E402  (tool scripts, not part of the installed helpers package)
import workbook  # noqa: E402

CHAPTERS = classroom.chapters()


def load_course():  # course.py is a script at the top of the repository, not part of helpers
    spec = importlib.util.spec_from_file_location("course", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course = load_course()


def chapter(prefix: str) -> Path:
    """The committed chapter whose file name starts with ``prefix``."""
    (path,) = [path for path in CHAPTERS if path.name.startswith(prefix)]
    return path


def solve_first_exercise(copy: Path, source: Path) -> None:
    """Write the full version's answer into the learner's first answer cell, as a learner who solved it would."""
    nb, full = classroom.read(copy), classroom.read(source)
    index = next(i for i, cell in enumerate(full.cells) if classroom.is_solution(cell))
    nb.cells[index].source = full.cells[index].source
    nbformat.write(nb, copy)


def answer_quiz(copy: Path, answers: dict[int, str]) -> None:
    """Fill the quiz answer cell of the learner's copy."""
    nb = classroom.read(copy)
    (cell,) = [cell for cell in nb.cells if classroom.grader(cell).get("grade_id", "").endswith("_quiz")]
    cell.source = f"answers = {answers!r}"
    nbformat.write(nb, copy)


def quiz_key(path: Path) -> list[str]:
    """The right letters of a chapter's quiz, in question order."""
    document = json.loads((ROOT / "data" / "quizzes" / f"{path.name[:2]}.json").read_text(encoding="utf-8"))
    return [question["answer"] for question in document["questions"]]


def a_change_upstream(path: Path) -> None:
    """The chapter as a new version of the course might bring it: one more paragraph at the end."""
    nb = classroom.read(path)
    nb.cells.append(new_markdown_cell(f"A new closing paragraph ({len(nb.cells)} cells before it)."))
    nbformat.write(nb, path)


def test_a_fresh_workbook_holds_student_versions_without_solutions_answers_or_outputs(tmp_path: Path) -> None:
    folder = tmp_path / "workbook"
    messages = workbook.sync(CHAPTERS, folder)
    assert messages == [f"Made your own copies of {len(CHAPTERS)} chapter(s) in workbook/, from the student versions."]
    for source_path in CHAPTERS:
        copy = folder / source_path.name
        raw = copy.read_text(encoding="utf-8")
        source = classroom.read(source_path)
        assert raw == workbook.file_text(classroom.student_version(source)), f"{copy.name} is not the student version"
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
            assert marker not in raw, f"{copy.name} still contains {marker!r}"
        student = nbformat.reads(raw, as_version=4)
        assert not any(cell.get("outputs") for cell in student.cells), f"{copy.name} has outputs"
        assert classroom.leftovers(student, source) == []
        (quiz,) = [cell for cell in student.cells if classroom.grader(cell).get("grade_id", "").endswith("_quiz")]
        assert "answers = {}" in quiz.source and "raise NotImplementedError()" in quiz.source, quiz.source
        (full,) = [cell for cell in source.cells if classroom.grader(cell).get("grade_id", "").endswith("_quiz")]
        key = classroom.inside_lines(full.source, "BEGIN SOLUTION", "END SOLUTION")
        assert key and not any(line in quiz.source for line in key), f"{copy.name}: the quiz's answers are left"
    assert sorted(path.name for path in folder.iterdir()) == sorted([workbook.MANIFEST, *(p.name for p in CHAPTERS)])


def test_an_edit_survives_lab_run_again_and_student_versions_regenerated(tmp_path: Path) -> None:
    folder = tmp_path / "workbook"
    python = Path(sys.executable)
    assert course.make_workbook(python, folder) == 0  # what `python3 course.py lab` runs before JupyterLab
    copy = folder / CHAPTERS[0].name
    solve_first_exercise(copy, CHAPTERS[0])
    edited = copy.read_bytes()
    assert b"raise NotImplementedError" in edited, "only the first exercise is solved"
    assert course.make_workbook(python, folder) == 0  # `lab` again
    for path in CHAPTERS:  # what `python3 course.py student` writes
        classroom.make_student(path, tmp_path / "build" / "student")
    assert copy.read_bytes() == edited, "the learner's edit was overwritten"


def test_a_changed_chapter_updates_untouched_copies_and_arrives_beside_edited_ones(tmp_path: Path) -> None:
    upstream = tmp_path / "notebooks"
    upstream.mkdir()
    sources = [upstream / chapter(prefix).name for prefix in ("01", "03")]
    for path in sources:
        path.write_bytes(chapter(path.name[:2]).read_bytes())
    folder = tmp_path / "workbook"
    workbook.sync(sources, folder)
    untouched, edited = folder / sources[0].name, folder / sources[1].name
    ran = classroom.read(untouched)  # run, saved by JupyterLab, but not one cell's source changed
    ran.cells[1].outputs = [new_output("stream", name="stdout", text="ran\n")]
    nbformat.write(ran, untouched)
    answer_quiz(edited, {1: "C"})
    learners = edited.read_bytes()

    for path in sources:
        a_change_upstream(path)
    messages = workbook.sync(sources, folder)
    new_version = {path.name: workbook.file_text(classroom.student_version(classroom.read(path))) for path in sources}
    beside = workbook.beside_name(edited, workbook.text_hash(new_version[edited.name]))
    assert messages == [
        f"{untouched.name}: updated to the chapter's new version (you had not changed it)",
        f"{edited.name}: kept your edited copy; the chapter's new version is beside it as {beside.name}",
    ]
    assert untouched.read_text(encoding="utf-8") == new_version[untouched.name]
    assert edited.read_bytes() == learners, "the learner's edit was overwritten"
    assert beside.read_text(encoding="utf-8") == new_version[edited.name]

    assert workbook.sync(sources, folder) == [], "nothing new: nothing said, nothing written"
    assert edited.read_bytes() == learners and beside.read_text(encoding="utf-8") == new_version[edited.name]

    untouched.unlink()  # a learner starting a chapter over
    assert workbook.sync(sources, folder) == [f"{untouched.name}: handed out again (your copy was deleted)"]
    assert untouched.read_text(encoding="utf-8") == new_version[untouched.name]

    a_change_upstream(sources[1])  # another new version: a second file beside, the first one left as it is
    offered = beside.read_bytes()
    (message,) = workbook.sync(sources, folder)
    assert "kept your edited copy" in message and edited.read_bytes() == learners and beside.read_bytes() == offered
    assert len(list(folder.glob(f"{sources[1].stem}.new-*.ipynb"))) == 2


def test_a_copy_the_manifest_does_not_know_is_kept_as_the_learners_own(tmp_path: Path) -> None:
    source = chapter("03")
    folder = tmp_path / "workbook"
    workbook.sync([source], folder)
    copy = folder / source.name
    answer_quiz(copy, {1: "C", 2: "A"})
    mine = copy.read_bytes()
    (folder / workbook.MANIFEST).write_text("not json", encoding="utf-8")  # lost or damaged
    (message,) = workbook.sync([source], folder)
    assert "kept your edited copy" in message and copy.read_bytes() == mine
    copy.write_text("{ half a notebook", encoding="utf-8")  # a file that no longer reads as a notebook is kept too
    assert workbook.sync([source], folder) == [] and copy.read_text(encoding="utf-8") == "{ half a notebook"
    assert (folder / (workbook.MANIFEST + ".bad")).read_text(encoding="utf-8") == "not json"  # moved aside, not lost


def test_an_unreadable_copy_is_kept_when_its_chapter_changes_even_with_the_manifest_lost(tmp_path: Path) -> None:
    source = tmp_path / chapter("03").name
    source.write_bytes(chapter("03").read_bytes())
    folder = tmp_path / "workbook"
    workbook.sync([source], folder)
    copy = folder / source.name
    copy.write_text("{ half a notebook, saved as JupyterLab crashed", encoding="utf-8")
    (folder / workbook.MANIFEST).unlink()  # lost: the record of what was handed out is gone
    a_change_upstream(source)
    (message,) = workbook.sync([source], folder)
    assert "kept your edited copy" in message
    assert copy.read_text(encoding="utf-8") == "{ half a notebook, saved as JupyterLab crashed"
    a_change_upstream(source)  # and again, now with a manifest that has no cells for this copy
    workbook.sync([source], folder)
    assert copy.read_text(encoding="utf-8") == "{ half a notebook, saved as JupyterLab crashed"


def test_grade_scores_the_learners_own_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    source = chapter("03")
    folder = tmp_path / "workbook"
    workbook.sync([source], folder)
    copy = folder / source.name
    solve_first_exercise(copy, source)
    key = quiz_key(source)
    answer_quiz(copy, {1: key[0], 2: key[1], 3: "Z"})  # two right, one wrong, the rest left out
    monkeypatch.setattr(course, "WORKBOOK", folder)
    monkeypatch.setattr(course, "ensure_environment", lambda kind, retry: Path(sys.executable))
    assert course.main(["grade", "03"]) == 0
    printed = capfd.readouterr().out
    full = classroom.read(source)
    exercise = next(
        c for c in full.cells if classroom.is_grade(c) and classroom.grader(c)["grade_id"].endswith("ex1_check")
    )
    possible = sum(classroom.grader(cell)["points"] for cell in full.cells if classroom.is_grade(cell))
    earned = classroom.grader(exercise)["points"] + 2
    assert f"{source.stem}: {earned:g}/{possible:g}" in printed, printed


def test_grade_without_a_workbook_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(course, "WORKBOOK", tmp_path / "workbook")
    monkeypatch.setattr(course, "ensure_environment", lambda kind, retry: pytest.fail("nothing to grade: no install"))
    with pytest.raises(SystemExit) as stopped:
        course.main(["grade"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "python3 course.py lab" in err and len(err.strip().splitlines()) == 1, err
    workbook.sync([chapter("03")], tmp_path / "workbook")
    with pytest.raises(SystemExit) as stopped:
        course.main(["grade", "99"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "no copy of chapter '99'" in err and "03" in err, err
