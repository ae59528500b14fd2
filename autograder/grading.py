"""Grade one submission with nbgrader, in a scratch course of its own (ScratchCourse).

nbgrader is the engine and its autograde pipeline does the grading: the course's
nbgrader_config.py puts seeding and replay of the hidden checks (autograder.replay) and
the guarded, sandboxed Execute (autograder.execution) into it, so a submission is graded
here exactly as `nbgrader autograde` grades it. Scores are nbgrader's own (SaveAutoGrades);
nothing here edits one afterwards. What this module adds around one autograde run:

- a scratch course root (its own SQLite gradebook, autograded/ and feedback/), so that
  worker processes grade side by side and the parent merges (autograder.class_run);
- the submission taken in as data (autograder.intake: take_in, normalise_cells);
- a course fault (a set-up cell that fails before any learner cell ran, nbgrader unable
  to start) retried once, then reported "not graded", never a zero;
- the run's facts (RunJournal: budgets hit, a dead kernel, timeouts, hidden-check replays
  as ReplayResults) turned into the Outcome the summary, the CSV and `check` report;
- NumPy exercises answered with PyTorch flagged for the instructor; feedback generated;
  only the lesson's notebooks and feedback pages published.

Module map: intake.py (what is graded), execution.py (running it), replay.py (hidden
checks), grading.py (one submission), class_run.py (a class: workers, merge, CSV).
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# nbformat validates with jsonschema, which imports rfc3987_syntax where it is installed
# (jupyter-events pulls it in): that compiles a Lark grammar at import, 1.5 CPU s in every
# grading process and self-check (benchmarks/grading.py), for an "iri" string format that
# no notebook schema uses. Marked absent before nbformat is first imported, jsonschema
# simply leaves that one format unchecked.
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402

from .execution import (  # noqa: E402, F401
    RunJournal,
    journal_for,
    kernel_readable,
    notebook_budget,
    temporary_environ,
)
from .intake import (  # noqa: E402, F401 (re-exported: autograder.grading's names as before)
    SOURCE,
    Submission,
    find_submissions,
    is_course_cell,
    nbgrader_meta,
    normalise_cells,
    numpy_functions,
    printable,
    take_in,
    torch_in_numpy_exercises,
)

DEFAULT_OUT = "grading"
COURSE_ID = "rnn-course"  # as nbgrader_config.py sets it

#: The autograde preprocessors honest grading needs, in this order (nbgrader_config.py).
REQUIRED_ORDER = ("SeedHiddenChecks", "GuardedExecute", "ReplayHiddenChecks", "SaveAutoGrades")


def sandbox_status() -> tuple[bool, str]:
    from .sandbox import sandbox_available

    return sandbox_available()


def _gradebook(root: Path):
    """The nbgrader gradebook of a course root (use it as a context manager)."""
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE_ID)


def _quiet_nbgrader() -> None:
    """nbgrader's add_submission makes SQLAlchemy warn on every call; nothing is wrong."""
    import warnings

    warnings.filterwarnings("ignore", message=".*not in session.*")
    warnings.filterwarnings("ignore", message=".*missing an id field.*")  # old notebooks: nbformat fixes them
    warnings.filterwarnings("ignore", category=DeprecationWarning)


# ------------------------------------------------------------------ results


@dataclass
class CellResult:
    notebook: str
    grade_id: str
    points: float
    max_points: float
    message: str = ""  # why it lost points: the check's message, or the hidden replay's


@dataclass
class Outcome:
    """One submission's result: what the summary, the CSV and `check` report."""

    student: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    cells: list[CellResult] = field(default_factory=list)
    graded: bool = False  # False when nbgrader could not grade it at all
    # Why this submission could not be graded (a fault of the course or the grader, not
    # the learner's): never written into the gradebook or grades.csv as a zero.
    not_graded: str = ""
    # Every hidden check replayed by the grader (autograder.replay.ReplayResult).
    replays: list = field(default_factory=list)

    @property
    def hidden_failures(self) -> list:
        return [r for r in self.replays if not r.passed]

    def notes(self) -> list[str]:
        """What the instructor's summary lists: the problems, then each cell whose hidden
        checks failed on replay."""
        failed = {}
        for result in self.hidden_failures:
            failed.setdefault(result.grade_id, result.message)
        return self.problems + [f"{grade_id}: hidden checks failed ({message})" for grade_id, message in failed.items()]


@dataclass(frozen=True)
class Settings:
    timeout: int = 120  # seconds per learner cell (solution, test and ordinary cells)
    sandbox: bool = True  # use bubblewrap when available
    # Seconds for each of the course's own locked cells (the set-up cell imports torch:
    # about 1 s on a quiet machine, over 10 s on a busy one); not the learner's time.
    course_cell_timeout: int = 600
    # Seconds all learner cells of one notebook may take together; None: sized to the
    # lesson (see notebook_budget).
    notebook_budget: float | None = None
    notebook_bytes: int = 32 * 2**20  # largest notebook file taken from a submission
    workdir_bytes: int = 256 * 2**20  # what a sandboxed kernel may write into its working folder
    record_bytes: int = 64 * 2**20  # what a kernel may write into the record folder
    # nbgrader's feedback pages (a self-check prints its own report: 0.6 CPU s saved)
    feedback: bool = True
    # Start each notebook's kernel ahead, while the one before is graded
    # (autograder.warm_kernels); how grades come out does not depend on it, so it is left
    # out of repr(), which submission_digest hashes.
    prestart: bool = field(default=False, compare=False, repr=False)


def _error_message(cell) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            # A check's own failure speaks for itself; anything else is named.
            name = "" if output.get("ename") in ("CheckFailed",) else f"{output.get('ename')}: "
            return f"{name}{output.get('evalue')}"[:400]
    return ""


def _last_error(result: dict) -> str:
    """nbgrader's real reason: the last exception line of its log (nbgrader itself ends
    with "Please see the above traceback", which the summary has no room for)."""
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    exception = re.compile(r"^(?:[\w.]+\.)?\w*(?:Error|Exception|Exit|Interrupt)\b:?")
    reasons = [line for line in lines if exception.match(line) and "see the above traceback" not in line]
    errors = [line for line in lines if ("ERROR" in line or "Error" in line) and "see the above traceback" not in line]
    return (reasons[-1] if reasons else errors[-1] if errors else lines[-1] if lines else "unknown error")[:300]


def check_pipeline(config) -> None:
    """Refuse to grade with a configuration whose autograde pipeline is not honest: the
    seed before the guarded Execute, the replay after it and before SaveAutoGrades."""
    from nbgrader.converters import Autograde

    chosen = (
        config.Autograde.get("autograde_preprocessors") or Autograde.class_traits()["autograde_preprocessors"].default()
    )
    names = [(p.rsplit(".", 1)[-1] if isinstance(p, str) else getattr(p, "__name__", type(p).__name__)) for p in chosen]
    positions = [names.index(n) if n in names else -1 for n in REQUIRED_ORDER]
    if -1 in positions or positions != sorted(positions):
        raise RuntimeError(
            "nbgrader_config.py's Autograde.autograde_preprocessors must run "
            f"{', then '.join(REQUIRED_ORDER)} (found: {', '.join(names)})"
        )


# ------------------------------------------------------------------ one worker's scratch course


class ScratchCourse:
    """A private course root in which one process grades one submission at a time."""

    def __init__(self, template: Path, settings: Settings):
        self.root = Path(tempfile.mkdtemp(prefix="rnn-grade-"))
        try:
            self._set_up(template, settings)
        except BaseException:
            self.close()  # no scratch copy of solutions/ left behind in /tmp
            raise

    def _set_up(self, template: Path, settings: Settings) -> None:
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        from .sandbox import THREAD_ENV

        shutil.copy2(template / "nbgrader_config.py", self.root / "nbgrader_config.py")
        shutil.copy2(template / "gradebook.db", self.root / "gradebook.db")
        shutil.copytree(template / SOURCE, self.root / SOURCE)
        self.settings = settings
        self.sandboxed = settings.sandbox and sandbox_status()[0]
        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        check_pipeline(config)
        config.CourseDirectory.root = str(self.root)
        # Its own SQLite gradebook, even where the course keeps the class's elsewhere.
        config.CourseDirectory.db_url = f"sqlite:///{self.root / 'gradebook.db'}"
        # The course's pipeline, with this run's settings.
        config.Execute.timeout = settings.timeout
        config.GuardedExecute.course_cell_timeout = settings.course_cell_timeout
        config.GuardedExecute.sandbox = "on" if self.sandboxed else "off"
        config.GuardedExecute.workdir_bytes = settings.workdir_bytes
        config.GuardedExecute.record_bytes = settings.record_bytes
        config.SeedHiddenChecks.record_parent = str(self.root / "records")
        # The notebook is done when its last cell is: its records are written by then (each
        # hidden check saves in its cell). A graceful shutdown waits about 1 s per notebook
        # for the kernel to exit (benchmarks/grading.py); the sandbox dies with it.
        config.GuardedExecute.shutdown_kernel = "immediate"
        # ipc sockets in the scratch folder rather than TCP on localhost (the sandbox uses
        # its own folder).
        (self.root / "ipc").mkdir(exist_ok=True)
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(self.root / "ipc" / "kernel")
        self.config = config
        # One thread per kernel: workers run side by side, one kernel per core.
        self.kernel_env = {name: "1" for name in THREAD_ENV}
        self.api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        sources = {a.name: sorted(a.glob("*.ipynb")) for a in (self.root / SOURCE).iterdir() if a.is_dir()}
        self.notebooks = {name: [nb.stem for nb in notebooks] for name, notebooks in sources.items()}
        self.known_ids = {
            name: {
                nb.stem: {nbgrader_meta(c).get("grade_id") for c in nbformat.read(nb, as_version=4).cells} - {None}
                for nb in notebooks
            }
            for name, notebooks in sources.items()
        }
        self.numpy_functions = {
            name: {nb.stem: numpy_functions(nb) for nb in notebooks} for name, notebooks in sources.items()
        }
        self.budgets = {
            name: {nb.stem: settings.notebook_budget or notebook_budget(nb, settings.timeout) for nb in notebooks}
            for name, notebooks in sources.items()
        }
        self.kernels = None
        if settings.prestart:
            from .warm_kernels import WarmKernels

            self.kernels = WarmKernels(self.root / "kernels", self.root / "records")

    def close(self) -> None:
        if getattr(self, "kernels", None) is not None:
            self.kernels.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def grade(self, submission: Submission, out: Path, more: bool = False) -> Outcome:
        """Grade one submission into ``out``. ``more``: another submission is coming to
        this course, so a kernel started ahead (settings.prestart) will be used."""
        started = time.monotonic()
        if self.kernels is not None:
            self.kernels.keep_warm = more
        outcome = Outcome(submission.student, submission.assignment)
        student, assignment = submission.student, submission.assignment
        target = self.root / "submitted" / student / assignment
        for folder in ("submitted", "autograded", "feedback"):
            shutil.rmtree(self.root / folder / student, ignore_errors=True)
        outcome.problems += take_in(
            submission.folder, target, set(self.notebooks.get(assignment, [])), self.settings.notebook_bytes
        )
        outcome.problems += self._inspect(submission, target)
        if not any(target.glob("*.ipynb")):
            self._collect_scores(outcome, RunJournal())  # every cell scores 0
            outcome.seconds = time.monotonic() - started
            return outcome
        for attempt in (1, 2):
            journal, result = self._autograde(submission)
            if not result.get("success") and not journal.cells_run and not journal.course_fault:
                # nbgrader stopped before any cell ran (a kernel that did not start, a
                # notebook it cannot read): not the learner's code; its reason is kept.
                journal.course_fault = "nbgrader could not grade it: " + _last_error(result)
            if not journal.course_fault:
                break
            if attempt == 1:
                outcome.problems.append(f"{journal.course_fault}: retried once")
        if journal.course_fault:
            # Twice a fault of the course, of nbgrader or of this machine: not a score.
            outcome.not_graded = journal.course_fault + ", twice"
            outcome.problems.append(f"not graded: {outcome.not_graded}")
            self._collect_scores(outcome, journal)
            outcome.seconds = time.monotonic() - started
            return outcome
        if not result.get("success"):
            outcome.not_graded = "nbgrader could not grade it: " + _last_error(result)
            outcome.problems.append(f"not graded: {outcome.not_graded}")
        else:
            outcome.graded = True
            outcome.replays = list(journal.replays)
            self._flag_torch(submission, outcome)
            if self.settings.feedback:
                feedback = self.api.generate_feedback(assignment, student, force=True)
                if not feedback.get("success"):
                    outcome.problems.append("no feedback: " + _last_error(feedback))
        self._report_run(journal, outcome)
        self._collect_scores(outcome, journal)
        self._publish(submission, out)
        outcome.seconds = time.monotonic() - started
        return outcome

    # -- steps

    def _autograde(self, submission: Submission) -> tuple[RunJournal, dict]:
        """nbgrader's autograde of one submission, through the course's pipeline; the
        preprocessors write what happened into the journal."""
        journal = RunJournal(
            budgets=dict(self.budgets.get(submission.assignment, {})),
            watch_workdir=not self.sandboxed,  # in the sandbox it is a size-capped tmpfs
            kernels=self.kernels,
        )
        with journal_for(journal), temporary_environ(self.kernel_env):
            result = self.api.autograde(submission.assignment, submission.student, force=True, create=True)
        return journal, result

    def _report_run(self, journal: RunJournal, outcome: Outcome) -> None:
        if journal.stopped:
            outcome.problems.append(
                f"{journal.stopped}: the cells before it keep their points, the graded cells after it were not run"
            )
        if journal.disk_full:
            outcome.problems.append(
                f"disk budget reached (working folder {self.settings.workdir_bytes // 2**20} MiB, "
                f"file size limit) in {', '.join(dict.fromkeys(journal.disk_full))}"
            )

    def _inspect(self, submission: Submission, target: Path) -> list[str]:
        """Problems visible before running anything: missing, renamed or corrupt notebooks,
        and cells that copy and paste left with the same nbgrader id (normalised here)."""
        problems = []
        expected = set(self.notebooks.get(submission.assignment, []))
        present = {p.stem for p in target.glob("*.ipynb")}
        for name in sorted(expected - present):
            problems.append(
                f"missing notebook {name}.ipynb"
                + (f" (found: {', '.join(printable(p) for p in sorted(present))})" if present else "")
            )
        for path in sorted(target.glob("*.ipynb")):
            if path.stem not in expected:
                path.unlink()  # not part of the lesson: nbgrader would refuse the whole submission
                continue
            try:
                notebook = nbformat.read(path, as_version=4)
            except Exception as error:  # not JSON, not a notebook: nbgrader cannot run it
                problems.append(f"corrupt notebook {path.name}: {type(error).__name__}")
                path.unlink()  # graded as missing: zero for its cells, the rest goes on
                continue
            copies = normalise_cells(notebook, self.known_ids[submission.assignment][path.stem])
            if copies:
                nbformat.write(notebook, path)
                problems.append(
                    f"{path.name}: cells sharing an nbgrader id ({', '.join(sorted(set(copies)))[:200]}) "
                    "graded as ordinary cells but the last"
                )
        return problems

    def _flag_torch(self, submission: Submission, outcome: Outcome) -> None:
        """NumPy exercises answered with torch: named for the instructor in the summary and
        in the feedback (a note on the graded cells that call them); the score stands."""
        autograded = self.root / "autograded" / submission.student / submission.assignment
        for stem, names in self.numpy_functions.get(submission.assignment, {}).items():
            path = autograded / f"{stem}.ipynb"
            if not names or not path.exists():
                continue
            notebook = nbformat.read(path, as_version=4)
            flagged = torch_in_numpy_exercises(notebook, names)
            if not flagged:
                continue
            outcome.problems.append(
                f"NumPy exercise(s) answered with PyTorch: {', '.join(flagged)} "
                "(scored as they ran; for the instructor to review)"
            )
            for cell in notebook.cells:
                if nbgrader_meta(cell).get("grade") and cell.cell_type == "code":
                    used = [name for name in flagged if re.search(rf"\b{name}\b", cell.source)]
                    if used:
                        cell.outputs.append(
                            nbformat.v4.new_output(
                                "stream",
                                name="stdout",
                                text=f"note for the instructor: {', '.join(used)} "
                                "is a NumPy exercise answered with PyTorch\n",
                            )
                        )
            nbformat.write(notebook, path)

    def _collect_scores(self, outcome: Outcome, journal: RunJournal) -> None:
        """The scores nbgrader wrote into the scratch gradebook, as they are, and why each
        lost cell lost its points: the hidden replay's result, else the cell's error."""
        from nbgrader.api import MissingEntry

        autograded = self.root / "autograded" / outcome.student / outcome.assignment
        hidden = {}
        for result in outcome.hidden_failures:
            hidden.setdefault((result.notebook, result.grade_id), result.message)
        timeouts = set(journal.timed_out)
        with _gradebook(self.root) as gradebook:
            assignment = gradebook.find_assignment(outcome.assignment)
            outcome.max_score = float(assignment.max_score)
            try:
                submission = gradebook.find_submission(outcome.assignment, outcome.student)
            except MissingEntry:
                submission = None
            for notebook in assignment.notebooks:
                messages = {}
                path = autograded / f"{notebook.name}.ipynb"
                if path.exists():
                    nb = nbformat.read(path, as_version=4)
                    messages = {nbgrader_meta(c).get("grade_id"): _error_message(c) for c in nb.cells}
                for cell in notebook.grade_cells:
                    points = 0.0
                    if submission is not None:
                        grade = gradebook.find_grade(cell.name, notebook.name, outcome.assignment, outcome.student)
                        # The auto score only: nbgrader computes it from the executed
                        # notebook after the kernel has stopped, whereas a manual score in
                        # this scratch gradebook could only have been written by the kernel.
                        points = float(grade.auto_score or 0.0)
                    message = ""
                    if points < cell.max_score:
                        if cell.name in timeouts:
                            message = f"stopped at the cell time limit ({self.settings.timeout} s): an endless loop?"
                        else:
                            message = hidden.get((notebook.name, cell.name)) or messages.get(cell.name, "")
                    outcome.cells.append(CellResult(notebook.name, cell.name, points, float(cell.max_score), message))
            outcome.score = sum(c.points for c in outcome.cells)
        if timeouts:
            outcome.problems.append(
                f"cell time limit ({self.settings.timeout} s) reached in {', '.join(dict.fromkeys(journal.timed_out))}"
            )

    def _publish(self, submission: Submission, out: Path) -> None:
        """Copy this submission's autograded notebooks and feedback into the output root:
        the lesson's notebooks and their feedback pages only (nbgrader also copies the
        assignment's own files into autograded/; those are the course's, not results)."""
        for folder, suffix in (("autograded", ".ipynb"), ("feedback", ".html")):
            source = self.root / folder / submission.student / submission.assignment
            target = out / folder / submission.student / submission.assignment
            shutil.rmtree(target, ignore_errors=True)
            for stem in self.notebooks.get(submission.assignment, []):
                path = source / f"{stem}{suffix}"
                if path.is_file() and not path.is_symlink():
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target / path.name)


# ------------------------------------------------------------------ the class run

#: Names that live in autograder.class_run (running a class, the output course, the
#: CSV, the summary), importable from here as before. Resolved on first use: class_run
#: imports this module.
_CLASS_RUN = {
    "grade_class",
    "merge",
    "prepare_output",
    "export_csv",
    "summary_table",
    "Stopped",
    "_template",
    "_known_assignment",
    "_generate_assignment",
    "_init_worker",
    "_grade_in_worker",
}


def __getattr__(name: str):
    if name in _CLASS_RUN:
        from . import class_run

        return getattr(class_run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
