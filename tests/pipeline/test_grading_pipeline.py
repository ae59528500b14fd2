"""nbgrader's own pipeline on the course, end to end, in a scratch copy of the course:
generate_assignment -> autograde -> generate_feedback.

Proves the nbgrader_config.py settings hold: a complete submission earns every point,
a submission that passes the visible checks but not the hidden ones earns nothing for
that cell, and the feedback never shows the hidden tests, neither their source nor the
lines around a failing hidden assert.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.nbgrader_cli import run_nbgrader

from ..conftest import COURSE_ROOT, LESSON_IDS

pytestmark = pytest.mark.slow

LESSON = "01_fc_layers"
NOTEBOOK = "fc_layers.ipynb"

# Passes the visible check (its fixed 3 x 4 input) and nothing else: a hard-coded answer.
OVERFITTED_AFFINE = """
def affine_forward(x, W, b):
    if x.shape == (3, 4):
        return x @ W + b, (x, W)
    return x @ W, (x, W)
"""


def _submit(course: Path, student: str, answers: dict[str, str]) -> None:
    """The student copy with the given solution cells (by grade_id) filled in."""
    notebook = nbformat.read(course / "lessons" / LESSON / NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    folder = course / "submitted" / student / LESSON
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / NOTEBOOK)


def _solution_answers(course: Path) -> dict[str, str]:
    notebook = nbformat.read(course / "solutions" / LESSON / NOTEBOOK, as_version=4)
    return {
        c.metadata.nbgrader.grade_id: c.source for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")
    }


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(COURSE_ROOT / "solutions", course / "solutions")
    shutil.copytree(COURSE_ROOT / "lessons", course / "lessons")
    run_nbgrader(course, "generate_assignment", LESSON, "--force")
    _submit(course, "complete", _solution_answers(course))
    _submit(course, "overfitted", {"affine_forward": OVERFITTED_AFFINE.strip()})
    run_nbgrader(course, "autograde", LESSON, "--create")
    run_nbgrader(course, "generate_feedback", LESSON)
    return course


def _score(course: Path, student: str) -> tuple[float, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(LESSON, student)
        return submission.score, submission.max_score


def test_lesson_is_the_one_graded_here():
    assert LESSON in LESSON_IDS


def test_complete_submission_earns_every_point(graded_course):
    score, max_score = _score(graded_course, "complete")
    assert max_score > 0 and score == max_score, f"{score} / {max_score}"


def test_hidden_checks_catch_an_answer_tuned_to_the_visible_check(graded_course):
    score, _ = _score(graded_course, "overfitted")
    assert score == 0


def test_feedback_never_shows_hidden_tests(graded_course):
    html = (graded_course / "feedback" / "overfitted" / LESSON / NOTEBOOK.replace(".ipynb", ".html")).read_text()
    # The visible check ran and passed, then the hidden one failed with its message only.
    assert "affine_forward" in html and "OK" in html
    assert "CheckFailed" in html
    for leak in ("BEGIN HIDDEN TESTS", "autograder.hidden", "hidden.affine_forward", "autograder.reference"):
        assert leak not in html, f"feedback shows {leak!r}"
