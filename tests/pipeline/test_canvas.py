"""Grades into the LMS: canvas.csv, the wide form Canvas's gradebook imports, beside
nbgrader's long grades.csv; and `grade --student ID`, which grades named students again
and nobody else."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from autograder.class_run import (
    CANVAS_COLUMNS,
    CANVAS_POINTS_ROW,
    _template,
    export_csv,
    grade_class,
    merge,
    prepare_output,
)
from autograder.grading import CellResult, Outcome

from .fixture_class import FULL, LESSON, fixtures

pytestmark = pytest.mark.slow

TIMEOUT = 30


def _graded(student: str, cells: dict[str, float]) -> Outcome:
    outcome = Outcome(student, LESSON, graded=True)
    outcome.cells = [CellResult("fc_layers", grade_id, points, points) for grade_id, points in cells.items()]
    return outcome


def _canvas(out: Path) -> list[list[str]]:
    with open(out / "canvas.csv", newline="") as handle:
        return list(csv.reader(handle))


def test_canvas_csv_has_the_columns_canvas_requires_one_row_per_student(tmp_path):
    from autograder.grading import _gradebook

    out = tmp_path / "out"
    prepare_output(out, {LESSON}, _template({LESSON}, tmp_path))
    with _gradebook(out) as gradebook:
        cells = [c.name for nb in gradebook.find_assignment(LESSON).notebooks for c in nb.grade_cells]
    merge(out, _graded("ada", dict.fromkeys(cells[:2], 2.0)), "x")  # 2 points in each of two cells
    merge(out, Outcome("bob", LESSON, not_graded="the grading worker died"))
    with _gradebook(out) as gradebook:
        gradebook.update_or_create_student("cy", first_name="Cy", last_name="Young")  # enrolled, nothing handed in
    export_csv(out)
    rows = _canvas(out)
    assert rows[0] == CANVAS_COLUMNS + [LESSON]
    assert rows[1] == [CANVAS_POINTS_ROW, "", "", "", "", f"{FULL:g}"]
    by_id = {row[2]: row for row in rows[2:]}
    assert sorted(by_id) == ["ada", "bob", "cy"]
    assert float(by_id["ada"][5]) == 4.0  # ada's two cells
    assert by_id["bob"][5] == "", "a submission that could not be graded must be blank, never 0"
    assert by_id["cy"][5] == "0" and by_id["cy"][0] == "Young, Cy"
    # The long CSV agrees on every score.
    with open(out / "grades.csv", newline="") as handle:
        long = {row["student_id"]: row["score"] for row in csv.DictReader(handle)}
    assert float(long["ada"]) == float(by_id["ada"][5]) and long["bob"] == "" and float(long["cy"]) == 0.0


def test_grade_student_grades_the_named_students_only(tmp_path):
    submitted = tmp_path / "submitted"
    written = {f.student: f for f in fixtures(TIMEOUT) if f.student in ("correct", "blank")}
    for fixture in written.values():
        fixture.write(submitted / fixture.student / LESSON)
    out = tmp_path / "out"
    # Earlier grades that a full re-run would change: "correct" at 1 point, "blank" at 1.
    from autograder.grading import _gradebook

    prepare_output(out, {LESSON}, _template({LESSON}, tmp_path))
    with _gradebook(out) as gradebook:
        first = next(c.name for nb in gradebook.find_assignment(LESSON).notebooks for c in nb.grade_cells)
    for student in written:
        outcome = _graded(student, {first: 1.0})
        merge(out, outcome, "earlier")
    export_csv(out)
    before = _canvas(out)

    outcomes = grade_class(submitted, timeout=TIMEOUT, out=out, progress=False, workers=1, students=["blank"])
    assert [o.student for o in outcomes] == ["blank"]
    assert outcomes[0].graded and outcomes[0].score == written["blank"].expected
    after = {row[2]: row for row in _canvas(out)[2:]}
    assert after["blank"][5] == f"{written['blank'].expected:g}"
    assert after["correct"] == next(row for row in before if row[2] == "correct"), "another student's grade changed"
    # A student with no submission is named, not silently skipped.
    with pytest.raises(SystemExit, match="nobody"):
        grade_class(submitted, timeout=TIMEOUT, out=out, progress=False, students=["nobody"])
