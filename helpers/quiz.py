"""End-of-chapter quizzes whose answers a function checks, with an explanation for every question.

A chapter loads its quiz with ``Quiz.load("05")`` from ``data/quizzes/05.json``, so the questions'
answers and explanations are not in the notebook a learner works in. It prints the questions, lets
the learner fill a dict of answers, and calls ``quiz.check(answers)``: each answer is marked right or
wrong with the reason, and unanswered questions are listed, never silently counted as wrong.
``quiz.score(answers)`` is the number right, a point per question for the autograder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import DATA_DIR

QUIZ_DIR = DATA_DIR / "quizzes"


@dataclass(frozen=True)
class Question:
    """A multiple-choice question: its text, lettered choices, the right letter, and why."""

    text: str
    choices: Sequence[str]
    answer: str
    why: str

    def __post_init__(self) -> None:
        if self.answer not in self.letters:
            raise ValueError(f"answer {self.answer!r} is not one of {self.letters}")

    @property
    def letters(self) -> list[str]:
        """The letters A, B, C, … of the choices."""
        return [chr(ord("A") + i) for i in range(len(self.choices))]


@dataclass(frozen=True)
class QuizResult:
    """How many answers were right out of how many questions, and which were left blank."""

    right: int
    total: int
    unanswered: tuple[int, ...]


class Quiz:
    """Numbered questions that print themselves and check a learner's answers."""

    def __init__(self, questions: Sequence[Question]) -> None:
        if not questions:
            raise ValueError("a quiz needs at least one question")
        self.questions = list(questions)

    @classmethod
    def load(cls, chapter: str, folder: Path = QUIZ_DIR) -> Quiz:
        """The quiz of a chapter (``"05"``), read from ``folder/05.json``."""
        document = json.loads((Path(folder) / f"{chapter}.json").read_text(encoding="utf-8"))
        return cls([Question(q["text"], q["choices"], q["answer"], q["why"]) for q in document["questions"]])

    def __str__(self) -> str:
        blocks = []
        for number, question in enumerate(self.questions, 1):
            options = "\n".join(f"   {letter}. {choice}" for letter, choice in zip(question.letters, question.choices))
            blocks.append(f"Q{number}. {question.text}\n{options}")
        return "\n\n".join(blocks)

    def show(self) -> None:
        """Print every question with its choices."""
        print(self)

    def check(self, answers: Mapping[int, str], verbose: bool = True) -> QuizResult:
        """Mark ``{question number: letter}``; print right/wrong with the reason; return the score."""
        right, unanswered = 0, []
        for number, question in enumerate(self.questions, 1):
            given = str(answers.get(number, "") or "").strip().upper()
            if not given:
                unanswered.append(number)
                if verbose:
                    print(f"Q{number}: not answered yet")
                continue
            correct = given == question.answer
            right += correct
            if verbose:
                verdict = "right" if correct else f"not quite (you said {given}, the answer is {question.answer})"
                print(f"Q{number}: {verdict}. {question.why}")
        if verbose:
            print(f"Score: {right}/{len(self.questions)}")
        return QuizResult(right, len(self.questions), tuple(unanswered))

    def score(self, answers: Mapping[int, str]) -> int:
        """The number of right answers: a point per question, so half the quiz right is half its points."""
        return self.check(answers, verbose=False).right
