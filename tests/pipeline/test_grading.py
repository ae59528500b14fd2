"""`python -m autograder grade` on a class of lesson-01 submissions: every fixture gets the
score it must get, grading always finishes, the result does not depend on the number of
workers, re-grading one student touches no one else, and nothing outside the output
folder changes."""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import pytest

from autograder.grading import grade_class
from autograder.sandbox import sandbox_available

from .fixture_class import FULL, LESSON, course_digest, course_files_written_by_kernels, fixtures, write_class

pytestmark = pytest.mark.slow

TIMEOUT = 10  # seconds per cell: the looping fixture waits this long once
SANDBOXED = sandbox_available()[0]


def _csv_rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The fixture class graded once with two workers, each starting its next kernel ahead
    (autograder.warm_kernels): every attack runs beside the kernel started for the next one."""
    root = tmp_path_factory.mktemp("class")
    expected = write_class(root / "submitted", TIMEOUT, SANDBOXED)
    started, digest = time.time(), course_digest()
    outcomes = grade_class(
        root / "submitted", workers=2, timeout=TIMEOUT, out=root / "out", progress=False, prestart=True
    )
    written = course_files_written_by_kernels(started, SANDBOXED, digest)
    return root, expected, {o.student: o for o in outcomes}, written, _csv_rows(root / "out")


FIXTURE_IDS = [f.student for f in fixtures(TIMEOUT)]


@pytest.mark.parametrize("student", FIXTURE_IDS)
def test_each_submission_gets_its_expected_score(graded, student):
    _, expected, outcomes, *_ = graded
    if student not in expected:
        pytest.skip("this attack is stopped only by the sandbox, which is not available here")
    outcome = outcomes[student]
    assert outcome.score == expected[student].expected, (
        f"{student} ({expected[student].description}): got {outcome.score}, problems {outcome.problems}, "
        f"cells {[(c.grade_id, c.points, c.message[:80]) for c in outcome.cells if c.points < c.max_points]}"
    )
    assert outcome.max_score == FULL


def test_grading_finishes_and_exports_everyone(graded):
    root, expected, outcomes, *_ = graded
    assert set(outcomes) == set(expected)
    rows = _csv_rows(root / "out")
    assert set(rows) == set(expected)
    for student, row in rows.items():
        assert row["assignment"] == LESSON
        assert float(row["score"]) == expected[student].expected
        assert float(row["max_score"]) == FULL


def test_problems_are_named_in_the_summary(graded):
    _, _, outcomes, *_ = graded
    assert any("corrupt notebook" in p for p in outcomes["corrupt"].problems)
    assert any("missing notebook fc_layers.ipynb" in p for p in outcomes["renamed"].problems)
    assert any("time limit" in p for p in outcomes["loop"].problems)
    assert outcomes["cheat"].hidden_failures  # structured: which cell, which check, the fixed message
    assert any("hidden checks failed" in p for p in outcomes["cheat"].notes())


def test_nothing_outside_the_output_folder_changes(graded):
    assert not graded[3], f"grading changed files of the course itself: {graded[3]}"


def test_feedback_for_every_graded_student_and_no_hidden_test_in_it(graded):
    root, expected, outcomes, *_ = graded
    for student, outcome in outcomes.items():
        if not outcome.graded:
            continue
        html = (root / "out" / "feedback" / student / LESSON / "fc_layers.html").read_text()
        for leak in (
            "BEGIN HIDDEN TESTS",
            "from autograder.hidden import fc_layers as hidden",
            "hidden.affine_forward(",
        ):
            assert leak not in html, f"{student}'s feedback shows {leak!r}"
    cheat = (root / "out" / "feedback" / "cheat" / LESSON / "fc_layers.html").read_text()
    assert "scored by the grader outside the notebook" in cheat


def test_serial_and_parallel_grading_agree(graded, tmp_path):
    """One worker starting each kernel when its notebook needs it grades as two workers
    starting them ahead."""
    root, _, outcomes, _, parallel_rows = graded
    subset = tmp_path / "submitted"
    for student in ("correct", "partial", "cheat"):
        shutil.copytree(root / "submitted" / student, subset / student)
    serial = grade_class(subset, workers=1, timeout=TIMEOUT, out=tmp_path / "out", progress=False, prestart=False)
    for outcome in serial:
        parallel = outcomes[outcome.student]
        assert [(c.grade_id, c.points) for c in outcome.cells] == [(c.grade_id, c.points) for c in parallel.cells]
    for student, row in _csv_rows(tmp_path / "out").items():
        assert row == parallel_rows[student]


def test_regrading_one_student_leaves_the_others_untouched(graded, tmp_path):
    root, expected, *_ = graded
    before = _csv_rows(root / "out")
    # "partial" hands in the complete solution and is graded again, alone.
    resubmitted = tmp_path / "submitted"
    shutil.copytree(root / "submitted" / "correct", resubmitted / "partial")
    [outcome] = grade_class(resubmitted, workers=1, timeout=TIMEOUT, out=root / "out", progress=False)
    assert outcome.score == FULL
    after = _csv_rows(root / "out")
    assert float(after["partial"]["score"]) == FULL
    for student in expected:
        if student != "partial":
            assert after[student] == before[student], f"re-grading partial changed {student}'s grade"
