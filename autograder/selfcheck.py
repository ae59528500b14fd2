"""The instructor's check of one notebook with the full tests: ``python -m autograder check``.

The same grading as a class run's (autograder.grading), hidden checks included, on a
copy in a temporary folder: the notebook is only read. Works from any folder and with any
interpreter path. Learners have ``python -m course check`` (course/selfcheck.py): the
visible checks only, since the hidden ones never leave the instructor's side.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import COURSE_ROOT
from .grading import grade_class

SOURCE = COURSE_ROOT / "solutions"


def _lessons() -> list[str]:
    return sorted(p.name for p in SOURCE.iterdir() if p.is_dir() and (p / "").exists() and any(p.glob("*.ipynb")))


def assignment_of(notebook: Path, lesson: str | None = None) -> str:
    """The lesson a notebook belongs to: ``lesson`` when given; else its folder's name when
    that is a lesson (a renamed copy beside the lesson); else the lesson with a notebook of
    the same name."""
    known = _lessons()
    if lesson is not None:
        if lesson not in known:
            raise SystemExit(f"--lesson {lesson}: no such lesson (lessons: {', '.join(known)})")
        return lesson
    if notebook.parent.name in known:
        return notebook.parent.name
    matches = sorted(p.parent.name for p in SOURCE.glob(f"*/{notebook.name}"))
    if len(matches) != 1:
        raise SystemExit(
            f"{notebook}: not a lesson notebook's name, nor in a lesson's folder. If it is a copy of a lesson, "
            f"say which: python -m autograder check {notebook} --lesson {known[0] if known else 'NN_topic'} "
            f"(lessons: {', '.join(known)})"
        )
    return matches[0]


def _resolved_interpreter() -> str:
    """sys.executable with its folder resolved: run as ``../../.venv/bin/python`` it reads
    ``/here/../../.venv/bin/python``, a path the sandbox cannot follow (its ``..`` passes
    through folders the sandbox does not show). The file itself stays the venv's link."""
    return os.path.join(os.path.realpath(os.path.dirname(sys.executable)), os.path.basename(sys.executable))


def self_check(notebook: Path, timeout: int = 120, lesson: str | None = None) -> int:
    notebook = notebook.expanduser().resolve()
    if not notebook.is_file():
        raise SystemExit(f"{notebook}: no such notebook")
    assignment = assignment_of(notebook, lesson)
    [source] = sorted((SOURCE / assignment).glob("*.ipynb"))
    sys.executable = _resolved_interpreter()  # the kernels (and their sandbox) start from it
    with tempfile.TemporaryDirectory(prefix="rnn-check-") as scratch:
        submitted = Path(scratch) / "submitted" / "you" / assignment
        submitted.mkdir(parents=True)
        # Under the lesson's own name: nbgrader grades only notebooks named as in the source,
        # so a renamed copy would otherwise be graded as missing.
        shutil.copy2(notebook, submitted / source.name)
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
                feedback=False,  # the table below is the learner's feedback
            )
        except KeyboardInterrupt:
            print("stopped (Ctrl-C): nothing was checked; your notebook is unchanged", file=sys.stderr)
            return 130
    print(report_table(outcome))
    # Non-zero below full marks (and when nothing could be scored), so that scripts can tell.
    full = outcome.graded and not outcome.not_graded and outcome.max_score > 0 and outcome.score >= outcome.max_score
    return 0 if full else 1


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
