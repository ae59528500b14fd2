"""Honest hidden checks inside nbgrader's autograde pipeline: two preprocessors.

A hidden check only *records* in the learner's kernel (course.recording); the grader
replays the record in its own process (``check.verify(folder, seed)``). nbgrader_config.py
puts the two halves around Execute, so plain `nbgrader autograde`, the formgrader's
autograde button and `python -m autograder grade` are equally honest:

    SeedHiddenChecks, GuardedExecute, IgnorePattern, ClearMetadataPreprocessor,
    LimitOutput, ReplayHiddenChecks, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata

- SeedHiddenChecks (before Execute): draws a seed with a CSPRNG, makes a private record
  folder, writes the seed there for the kernel, and names the folder to the kernel in
  ``AUTOGRADER_RECORD_DIR``. It keeps the seed in nbconvert's resources, which never leave
  the grader's process.
- ReplayHiddenChecks (after Execute, just before SaveAutoGrades): for each graded cell
  that passed in the kernel, replays every hidden check the instructor's cell calls, with
  the seed that was kept (the folder's copy is the kernel's and is never read back). A
  check that fails on replay, or whose record is missing, unreadable or hostile, gives
  the cell an error output with the replay's fixed message, so nbgrader's own scoring
  gives the cell 0; a passing replay leaves the cell as it ran. Then the folder is removed.

Which hidden checks a cell calls is read from the instructor's cell as the gradebook holds
it (hidden tests included), with ``ast``: calls of ``autograder.hidden.<lesson>.<check>``
however it was imported. The learner's notebook is never consulted for it.

Failures are data: each replay is a ReplayResult (cell, check, passed, fixed message),
written into the run's journal (autograder.execution) for ``grade`` to report.
"""

from __future__ import annotations

import ast
import atexit
import importlib
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade
from traitlets import Unicode

from course.recording import RECORD_ENV, write_seed

from .execution import RECORD_RUN, active_journal
from .intake import nbgrader_meta

HIDDEN_PACKAGE = "autograder.hidden"
#: ename of the error output a failed replay adds to its cell.
REPLAY_FAILED = "HiddenCheckFailed"


@dataclass(frozen=True)
class ReplayResult:
    """One hidden check of one graded cell, replayed by the grader."""

    notebook: str
    grade_id: str
    check: str  # "<lesson module>.<check>", e.g. "fc_layers.affine_forward"
    passed: bool
    message: str = ""  # the grader's fixed words for a failure; never a record's content
    lines: tuple[str, ...] = ()  # the report's lines (one per compared quantity)


@dataclass
class RecordRun:
    """The record folder and the seed of one notebook's run: grader-side only."""

    folder: str
    seed: int
    previous_env: str | None = None
    checks: dict[str, list[str]] = field(default_factory=dict)

    def close(self) -> None:
        """Remove the folder (links inside are removed, never followed) and give the
        environment back."""
        self.discard()
        if self.previous_env is None:
            os.environ.pop(RECORD_ENV, None)
        else:
            os.environ[RECORD_ENV] = self.previous_env

    def discard(self) -> None:
        """Remove the folder only (a run no kernel was started with)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def new_record_run(parent: str | None = None) -> RecordRun:
    """A private record folder (mode 0700) under ``parent`` with a fresh seed written in it,
    drawn now with a CSPRNG and kept in the returned RecordRun, which stays in the grader."""
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="record-", dir=parent or None))
    seed = secrets.randbits(62)
    write_seed(folder, seed)
    # Should Execute raise, ReplayHiddenChecks never runs: the folder still goes.
    atexit.register(shutil.rmtree, folder, True)
    return RecordRun(str(folder), seed, previous_env=os.environ.get(RECORD_ENV))


# ------------------------------------------------------------------ which checks a cell calls


def hidden_checks_called(source: str) -> list[str]:
    """The hidden checks (``"<lesson>.<check>"``) an instructor's cell calls, in order.

    Found with ``ast``, whatever the import's form: ``from autograder.hidden import
    fc_layers as hidden; hidden.affine_forward(...)``, ``import autograder.hidden.fc_layers
    as h``, ``from autograder.hidden.fc_layers import affine_forward``. IPython syntax
    (magics) is translated first. Only callables declared with ``@hidden_check`` count."""
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    aliases[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    calls = sorted(
        (node for node in ast.walk(tree) if isinstance(node, ast.Call)), key=lambda node: (node.lineno, node.col_offset)
    )
    found = []
    for call in calls:
        dotted = _dotted(call.func)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        full = ".".join(filter(None, [aliases.get(head, head), rest]))
        parts = full.split(".")
        if full.startswith(HIDDEN_PACKAGE + ".") and len(parts) == 4 and _is_hidden_check(parts[2], parts[3]):
            found.append(f"{parts[2]}.{parts[3]}")
    return found


def _dotted(node) -> str | None:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(names)])


def _is_hidden_check(module: str, name: str) -> bool:
    check = getattr(importlib.import_module(f"{HIDDEN_PACKAGE}.{module}"), name, None)
    return callable(getattr(check, "verify", None))


def instructor_checks(db_url: str, assignment: str, notebook: str, grade_ids: list[str]) -> dict[str, list[str]]:
    """grade_id -> the hidden checks the instructor's cell calls, from the gradebook's copy
    of the source notebook (nbgrader saves it, hidden tests included, when it generates
    the assignment)."""
    from nbgrader.api import Gradebook, MissingEntry

    found = {}
    with Gradebook(db_url) as gradebook:
        for grade_id in grade_ids:
            try:
                source = gradebook.find_source_cell(grade_id, notebook, assignment).source
            except MissingEntry:
                continue  # not a cell of the lesson: nbgrader refuses it on its own
            found[grade_id] = hidden_checks_called(source or "")
    return found


# ------------------------------------------------------------------ replaying


def replay(check: str, folder: Path, seed: int) -> tuple[bool, str, tuple[str, ...]]:
    """Replay one hidden check's record: (passed, fixed message, report lines).

    Only the grader's own words come out: a ReplayError or a check's failure carries
    fixed messages; any other exception (a record built to break the replay) is named by
    its type alone, never by its text."""
    from course.checks.core import CheckFailed
    from course.recording import ReplayError

    module, name = check.split(".")
    try:
        report = getattr(importlib.import_module(f"{HIDDEN_PACKAGE}.{module}"), name).verify(folder, seed)
    except (ReplayError, CheckFailed) as error:
        message = (str(error) if str(error).startswith(name) else f"{name}: {error}")[:300]
        return False, message, (message,)
    except Exception as error:  # a record shaped to break the replay
        message = f"{name}: the record could not be replayed ({type(error).__name__})"
        return False, message, (message,)
    lines = tuple(report.summary())
    if report.failures:
        first = report.failures[0]
        message = f"{name}: {first.quantity}: {first.problem}" + (f" -> {first.hint}" if first.hint else "")
        return False, message[:300], lines
    return True, "", lines


def _has_error(cell) -> bool:
    return any(output.get("output_type") == "error" for output in cell.get("outputs", []))


# ------------------------------------------------------------------ the preprocessors


class SeedHiddenChecks(NbGraderPreprocessor):
    """Before Execute: a fresh seed and a private record folder for the kernel."""

    record_parent = Unicode(
        "", help="folder under which record folders are made (default: the system's temporary folder)"
    ).tag(config=True)

    def preprocess(self, nb, resources):
        run = new_record_run(self.record_parent)  # the seed is drawn now, at grading time
        resources[RECORD_RUN] = run
        # The kernel GuardedExecute starts is given it; plain nbgrader's Execute inherits it.
        os.environ[RECORD_ENV] = run.folder
        return nb, resources


class ReplayHiddenChecks(NbGraderPreprocessor):
    """After Execute, before SaveAutoGrades: replay the hidden checks of each graded cell."""

    def preprocess(self, nb, resources):
        run: RecordRun | None = resources.pop(RECORD_RUN, None)
        try:
            self._replay_cells(nb, resources, run)
        finally:
            if run is not None:
                run.close()
        return nb, resources

    def _replay_cells(self, nb, resources, run: RecordRun | None) -> None:
        nbgrader = resources.get("nbgrader", {})
        grade_cells = [c for c in nb.cells if c.cell_type == "code" and is_grade(c)]
        checks = instructor_checks(
            nbgrader["db_url"],
            nbgrader["assignment"],
            nbgrader["notebook"],
            [nbgrader_meta(c).get("grade_id") for c in grade_cells],
        )
        if run is None:
            if any(checks.values()):
                # Without a seed the hidden checks judged inside the kernel: not honest.
                raise RuntimeError(
                    "ReplayHiddenChecks needs SeedHiddenChecks before Execute "
                    "in Autograde.autograde_preprocessors (see nbgrader_config.py)"
                )
            return
        journal = active_journal()
        for cell in grade_cells:
            grade_id = nbgrader_meta(cell).get("grade_id")
            called = checks.get(grade_id) or []
            if not called or _has_error(cell):
                continue  # nothing hidden, or it already failed in the kernel: 0 either way
            results = [
                ReplayResult(nbgrader["notebook"], grade_id, check, *replay(check, Path(run.folder), run.seed))
                for check in called
            ]
            lines = [line for result in results for line in result.lines]
            cell.outputs.append(
                nbformat.v4.new_output(
                    "stream",
                    name="stdout",
                    text="hidden checks, scored by the grader outside the notebook:\n" + "\n".join(lines) + "\n",
                )
            )
            failed = [r for r in results if not r.passed]
            if failed:
                # nbgrader's own scoring (SaveAutoGrades) gives a cell with an error 0.
                cell.outputs.append(
                    nbformat.v4.new_output(
                        "error",
                        ename=REPLAY_FAILED,
                        evalue=failed[0].message,
                        traceback=[f"{REPLAY_FAILED}: {failed[0].message}"],
                    )
                )
            if journal is not None:
                journal.replays.extend(results)
