"""The README's graded cells and points, per lesson and in all, are what the solution
notebooks say: nbgrader's own reading of each cell's metadata (grade and task cells, and their
`points`), so that adding or re-weighting a graded cell cannot leave the README behind."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbgrader.utils import is_grade, is_task

from autograder import COURSE_ROOT

from ..conftest import LESSON_IDS

README = (COURSE_ROOT / "README.md").read_text(encoding="utf-8")

#: a row of the lessons table:
#: | 01 | [title](lessons/01_fc_layers/fc_layers.ipynb): ... | ready (10 graded cells, 18 points) |
LESSON_ROW = re.compile(
    r"^\| \d\d \| \[[^\]]*\]\(lessons/(?P<lesson>[^/]+)/[^)]+\.ipynb\).*"
    r"\((?P<cells>\d+) graded cells?, (?P<points>\d+) points?\) \|$",
    re.M,
)
#: the line under the table
TOTAL_LINE = re.compile(r"^In all: (?P<cells>\d+) graded cells, (?P<points>\d+) points\.$", re.M)


def _points(value: float) -> int:
    assert float(value).is_integer(), f"{value} points: the README states whole points"
    return int(value)


def notebook_totals(lesson: str) -> tuple[int, int]:
    """(graded cells, points) of a lesson's solution notebook(s), as nbgrader counts them."""
    cells, points = 0, 0
    notebooks = sorted((COURSE_ROOT / "solutions" / lesson).glob("*.ipynb"))
    assert notebooks, f"solutions/{lesson} has no notebook"
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            if is_grade(cell) or is_task(cell):
                cells += 1
                points += _points(cell.metadata["nbgrader"].get("points", 0))
    return cells, points


def readme_totals() -> dict[str, tuple[int, int]]:
    found = {}
    for row in LESSON_ROW.finditer(README):
        assert row["lesson"] not in found, f"the README lists {row['lesson']} twice"
        found[row["lesson"]] = (int(row["cells"]), int(row["points"]))
    return found


def test_the_readme_lists_every_lesson_and_nothing_else():
    assert sorted(readme_totals()) == sorted(LESSON_IDS)


@pytest.mark.parametrize("lesson", LESSON_IDS)
def test_lesson_totals_match_the_notebook(lesson):
    stated = readme_totals().get(lesson)
    counted = notebook_totals(lesson)
    assert stated == counted, (
        f"README says {lesson} has {stated} (graded cells, points); its solution notebook has {counted}"
    )


def test_total_matches_the_notebooks():
    lines = TOTAL_LINE.findall(README)
    assert len(lines) == 1, "the README needs one line 'In all: N graded cells, P points.' under the lessons table"
    stated = tuple(int(number) for number in lines[0])
    counted = tuple(map(sum, zip(*(notebook_totals(lesson) for lesson in LESSON_IDS), strict=True)))
    assert stated == counted, f"README says {stated} (graded cells, points) in all; the notebooks have {counted}"
