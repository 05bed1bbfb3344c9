import json

import pytest

from helpers.quiz import Question, Quiz

QUIZ = Quiz(
    [
        Question("Where does a session live?", ["in the cookie", "on the server"], "B", "The cookie holds only an ID."),
        Question("What does a JWT signature prove?", ["secrecy", "integrity"], "B", "Anyone can read the payload."),
    ]
)


def test_check_marks_right_wrong_and_unanswered(capsys):
    result = QUIZ.check({1: "b"})
    out = capsys.readouterr().out
    assert (result.right, result.total, result.unanswered) == (1, 2, (2,))
    assert "Q1: right." in out and "Q2: not answered yet" in out and "Score: 1/2" in out


def test_wrong_answer_shows_the_right_one(capsys):
    QUIZ.check({1: "A", 2: "B"})
    assert "you said A, the answer is B" in capsys.readouterr().out


def test_questions_print_with_letters():
    assert "Q2. What does a JWT signature prove?\n   A. secrecy\n   B. integrity" in str(QUIZ)


def test_a_question_must_name_a_real_choice():
    with pytest.raises(ValueError):
        Question("?", ["x", "y"], "C", "")


def test_score_gives_a_point_per_right_answer():
    assert QUIZ.score({}) == 0
    assert QUIZ.score({1: "B", 2: "A"}) == 1
    assert QUIZ.score({1: "b", 2: " b "}) == 2


def test_a_quiz_loads_from_its_chapters_json_file(tmp_path):
    questions = [{"text": q.text, "choices": list(q.choices), "answer": q.answer, "why": q.why} for q in QUIZ.questions]
    (tmp_path / "99.json").write_text(json.dumps({"questions": questions}), encoding="utf-8")
    loaded = Quiz.load("99", folder=tmp_path)
    assert str(loaded) == str(QUIZ)
    assert [q.answer for q in loaded.questions] == ["B", "B"]
    assert [q.why for q in loaded.questions] == [q.why for q in QUIZ.questions]  # explanations come through too
