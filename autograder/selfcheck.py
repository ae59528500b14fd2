"""A learner's self-check: grade a copy of one notebook with the full tests.

The same grading as an instructor's (autograder.grading), hidden checks included, on a
copy in a temporary folder: the learner's file is only read. Works from any folder.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from . import COURSE_ROOT
from .grading import grade_class

SOURCE = COURSE_ROOT / "solutions"


def assignment_of(notebook: Path) -> str:
    """The lesson a notebook belongs to: its folder's name, or else the lesson that has a
    notebook of the same name."""
    if (SOURCE / notebook.parent.name / notebook.name).exists():
        return notebook.parent.name
    matches = sorted(p.parent.name for p in SOURCE.glob(f"*/{notebook.name}"))
    if len(matches) != 1:
        known = ", ".join(sorted(p.relative_to(SOURCE).as_posix() for p in SOURCE.glob("*/*.ipynb")))
        raise SystemExit(f"{notebook}: not a lesson notebook (lessons: {known})")
    return matches[0]


def self_check(notebook: Path, timeout: int = 120) -> int:
    notebook = notebook.expanduser().resolve()
    if not notebook.is_file():
        raise SystemExit(f"{notebook}: no such notebook")
    assignment = assignment_of(notebook)
    with tempfile.TemporaryDirectory(prefix="rnn-check-") as scratch:
        submitted = Path(scratch) / "submitted" / "you" / assignment
        submitted.mkdir(parents=True)
        shutil.copy2(notebook, submitted / notebook.name)
        print(f"checking {notebook} ({assignment}) with the full tests, hidden ones included ...", flush=True)
        try:
            [outcome] = grade_class(
                Path(scratch) / "submitted",
                assignment=assignment,
                workers=1,
                timeout=timeout,
                out=Path(scratch) / "out",
                progress=False,
                in_process=True,
            )
        except KeyboardInterrupt:
            print("stopped (Ctrl-C): nothing was checked; your notebook is unchanged", file=sys.stderr)
            return 130
    print(report_table(outcome))
    # Non-zero below full marks, so that scripts and `make check` can tell.
    return 0 if outcome.graded and not outcome.not_graded and outcome.score >= outcome.max_score else 1


def report_table(outcome) -> str:
    rows = [("graded cell", "points", "result", "message")]
    for cell in outcome.cells:
        passed = cell.points >= cell.max_points
        rows.append(
            (
                cell.grade_id,
                f"{cell.points:g} / {cell.max_points:g}",
                "pass" if passed else "FAIL",
                "" if passed else cell.message or "failed",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    lines.insert(1, "-" * (sum(widths) + 6 + len("message")))
    if outcome.not_graded:
        lines.append(f"\nnot graded: {outcome.not_graded} (a fault of the grader, not of your work: try again)")
    else:
        lines.append(f"\ntotal: {outcome.score:g} / {outcome.max_score:g}")
    # Hidden-check failures are in the table already (each cell's message); the rest are notes.
    lines += [f"note: {problem}" for problem in outcome.problems]
    return "\n".join(lines)
