"""Grade a class with nbgrader, in parallel, honestly, and without losing anything.

nbgrader stays the engine: its autograde runs each notebook, its gradebook holds the
scores, its feedback and export write the HTML and the CSV. This module adds what a class
needs around it:

- Parallel: each worker process grades in a scratch course root of its own (its own
  SQLite gradebook, its own autograded/ and feedback/), one submission at a time; the
  parent process, the only writer of the output gradebook, merges each result as it
  arrives. A submission is graded exactly as `nbgrader autograde` would grade it alone,
  so the result does not depend on the number of workers.
- Honest: the hidden checks only record inside the student's kernel (autograder.probe);
  after autograde, the worker replays the records against the references in its own
  process. A graded cell earns its points only if it passed in the kernel *and* its
  hidden checks pass on replay.
- Safe: each kernel runs in a bubblewrap sandbox when one is available
  (autograder.sandbox); without one, grading goes on and says so loudly.
- Robust: whatever one submission does (a corrupt file, a missing notebook, an endless
  loop, a dead kernel), it gets a score and a line in the summary, and the others go on.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import multiprocessing
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import nbformat

from . import COURSE_ROOT
from .nbgrader_cli import nbgrader_env
from .probe import PROBE_ENV, write_seed


def sandbox_status() -> tuple[bool, str]:
    from .sandbox import sandbox_available

    return sandbox_available()

SOURCE = "solutions"
DEFAULT_OUT = "grading"
HIDDEN_IMPORT = re.compile(r"from autograder\.hidden import (\w+) as (\w+)")


COURSE_ID = "rnn-course"  # as nbgrader_config.py sets it


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


# ------------------------------------------------------------------ what is graded


@dataclass(frozen=True)
class Submission:
    student: str
    assignment: str
    folder: Path  # SUBMITTED/<student>/<assignment>


def find_submissions(submitted: Path, assignment: str | None = None) -> list[Submission]:
    """Every SUBMITTED/<student>/<assignment>/ folder, for the known assignments."""
    known = {p.name for p in (COURSE_ROOT / SOURCE).iterdir() if p.is_dir()}
    found = []
    for student_dir in sorted(p for p in Path(submitted).iterdir() if p.is_dir() and not p.name.startswith(".")):
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if assignment_dir.name in known and assignment in (None, assignment_dir.name):
                found.append(Submission(student_dir.name, assignment_dir.name, assignment_dir.resolve()))
    return found


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


@dataclass(frozen=True)
class Settings:
    timeout: int = 120  # seconds per cell
    sandbox: bool = True  # use bubblewrap when available


# ------------------------------------------------------------------ one worker's scratch course


def _hidden_calls(source_notebook: Path) -> dict[str, list[tuple[str, str]]]:
    """grade_id -> the (lesson module, check) pairs its hidden block calls."""
    calls = {}
    notebook = nbformat.read(source_notebook, as_version=4)
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade") or "### BEGIN HIDDEN TESTS" not in cell.source:
            continue
        hidden = cell.source.split("### BEGIN HIDDEN TESTS", 1)[1]
        pairs = []
        for module, alias in HIDDEN_IMPORT.findall(hidden):
            pairs += [(module, name) for name in re.findall(rf"\b{alias}\.(\w+)\(", hidden)]
        calls[meta["grade_id"]] = pairs
    return calls


def _error_message(cell) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            # A check's own failure speaks for itself; anything else is named.
            name = "" if output.get("ename") == "CheckFailed" else f"{output.get('ename')}: "
            return f"{name}{output.get('evalue')}"[:400]
    return ""


class ScratchCourse:
    """A private course root in which one process grades one submission at a time."""

    def __init__(self, template: Path, settings: Settings):
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        self.root = Path(tempfile.mkdtemp(prefix="rnn-grade-"))
        shutil.copy2(template / "nbgrader_config.py", self.root / "nbgrader_config.py")
        shutil.copy2(template / "gradebook.db", self.root / "gradebook.db")
        shutil.copytree(template / SOURCE, self.root / SOURCE)
        self.settings = settings
        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        config.Execute.timeout = settings.timeout
        config.CourseDirectory.root = str(self.root)
        self.config = config
        self.api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        self.sandboxed = settings.sandbox and sandbox_status()[0]
        self.hidden = {
            a.name: {nb.stem: _hidden_calls(nb) for nb in sorted(a.glob("*.ipynb"))}
            for a in (self.root / SOURCE).iterdir() if a.is_dir()
        }

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def grade(self, submission: Submission, out: Path) -> Outcome:
        started = time.monotonic()
        outcome = Outcome(submission.student, submission.assignment)
        student, assignment = submission.student, submission.assignment
        target = self.root / "submitted" / student / assignment
        shutil.rmtree(self.root / "submitted" / student, ignore_errors=True)
        shutil.copytree(submission.folder, target, symlinks=False, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        outcome.problems += self._inspect(submission, target)
        if not any(target.glob("*.ipynb")):
            self._collect_scores(outcome)  # every cell scores 0
            outcome.seconds = time.monotonic() - started
            return outcome
        probe = self.root / "probes" / student / assignment
        shutil.rmtree(probe, ignore_errors=True)
        write_seed(probe, secrets.randbits(62))  # drawn now, at grading time
        with self._kernel(probe) as api:
            result = api.autograde(assignment, student, force=True, create=True)
        if not result.get("success"):
            outcome.problems.append("nbgrader could not grade it: " + _last_error(result))
        else:
            outcome.graded = True
            self._verify_hidden(submission, probe, outcome)
            feedback = self.api.generate_feedback(assignment, student, force=True)
            if not feedback.get("success"):
                outcome.problems.append("no feedback: " + _last_error(feedback))
        self._collect_scores(outcome)
        self._publish(submission, out)
        outcome.seconds = time.monotonic() - started
        return outcome

    # -- steps

    def _inspect(self, submission: Submission, target: Path) -> list[str]:
        """Problems visible before running anything: missing, renamed or corrupt notebooks."""
        problems = []
        expected = set(self.hidden.get(submission.assignment, {}))
        present = {p.stem for p in target.glob("*.ipynb")}
        for name in sorted(expected - present):
            problems.append(f"missing notebook {name}.ipynb" + (f" (found: {', '.join(sorted(present))})" if present else ""))
        for path in sorted(target.glob("*.ipynb")):
            if path.stem not in expected:
                path.unlink()  # not part of the lesson: nbgrader would refuse the whole submission
                continue
            try:
                nbformat.read(path, as_version=4)
            except Exception as error:  # not JSON, not a notebook: nbgrader cannot run it
                problems.append(f"corrupt notebook {path.name}: {type(error).__name__}")
                path.unlink()  # graded as missing: zero for its cells, the rest goes on
        return problems

    @contextlib.contextmanager
    def _kernel(self, probe: Path) -> Iterator[object]:
        """The nbgrader API through which this submission's kernel starts.

        The kernel inherits this process's environment: the probe folder goes there. In the
        sandbox, the kernel sees the Python environment, the student-facing package (the
        references masked) and the datasets, and may write only its working directory
        and the probe folder.
        """
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config import Config

        from .sandbox import THREAD_ENV

        config = Config(self.config)
        # One thread per kernel: workers run side by side, one kernel per core.
        environment = {PROBE_ENV: str(probe), **{name: "1" for name in THREAD_ENV}}
        # ipc sockets in the scratch folder rather than TCP on localhost.
        (self.root / "ipc").mkdir(exist_ok=True)
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(self.root / "ipc" / "kernel")
        with contextlib.ExitStack() as stack:
            if self.sandboxed:
                from .sandbox import Limits, sandboxed_kernel

                package = Path(__file__).resolve().parent
                kernel = stack.enter_context(sandboxed_kernel(
                    readable=[package, COURSE_ROOT / "datasets"],
                    writable=[probe],
                    hidden=[package / "reference"],
                    limits=Limits(cpu_seconds=max(600, 10 * self.settings.timeout)),
                ))
                config.Execute.kernel_name = kernel.name
                config.KernelManager.transport = "ipc"
                config.KernelManager.ip = kernel.nbclient_kwargs["config"].KernelManager.ip
                environment.update(kernel.env)
            saved = {name: os.environ.get(name) for name in environment}
            os.environ.update(environment)
            try:
                yield NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value

    def _verify_hidden(self, submission: Submission, probe: Path, outcome: Outcome) -> None:
        """Replay the hidden records; a cell whose replay fails loses its points."""
        from nbgrader.api import MissingEntry

        autograded = self.root / "autograded" / submission.student / submission.assignment
        with _gradebook(self.root) as gradebook:
            for notebook_name, cells in self.hidden.get(submission.assignment, {}).items():
                path = autograded / f"{notebook_name}.ipynb"
                if not path.exists():
                    continue
                notebook = nbformat.read(path, as_version=4)
                changed = False
                for cell in notebook.cells:
                    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                    if grade_id not in cells or not cells[grade_id]:
                        continue
                    try:
                        grade = gradebook.find_grade(grade_id, notebook_name, submission.assignment, submission.student)
                    except MissingEntry:
                        continue
                    if not grade.auto_score:
                        continue  # already failed in the kernel: nothing to verify
                    lines, failure = _replay(cells[grade_id], probe)
                    cell.outputs.append(nbformat.v4.new_output(
                        "stream", name="stdout",
                        text="hidden checks, scored by the grader outside the notebook:\n" + "\n".join(lines) + "\n",
                    ))
                    changed = True
                    if failure:
                        grade.auto_score = 0.0
                        gradebook.db.commit()
                        outcome.problems.append(f"{grade_id}: hidden checks failed ({failure})")
                if changed:
                    nbformat.write(notebook, path)

    def _collect_scores(self, outcome: Outcome) -> None:
        from nbgrader.api import MissingEntry

        autograded = self.root / "autograded" / outcome.student / outcome.assignment
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
                    messages = {c.metadata.get("nbgrader", {}).get("grade_id"): _error_message(c) for c in nb.cells}
                for cell in notebook.grade_cells:
                    points = 0.0
                    if submission is not None:
                        grade = gradebook.find_grade(cell.name, notebook.name, outcome.assignment, outcome.student)
                        # The auto score only: nbgrader recomputes it from the executed
                        # notebook after the kernel has stopped, whereas a manual score in
                        # this scratch gradebook could only have been written by the kernel.
                        points = float(grade.auto_score or 0.0)
                    message = messages.get(cell.name, "") if points < cell.max_score else ""
                    outcome.cells.append(CellResult(notebook.name, cell.name, points, float(cell.max_score), message))
            outcome.score = sum(c.points for c in outcome.cells)
        for problem in list(outcome.problems):
            if "hidden checks failed" in problem:
                grade_id = problem.split(":", 1)[0]
                for cell in outcome.cells:
                    if cell.grade_id == grade_id and not cell.message:
                        cell.message = problem.split(": ", 1)[1]
        # nbgrader interrupts a cell at the time limit: the cell ends in KeyboardInterrupt.
        timeouts = [c.grade_id for c in outcome.cells if c.message.startswith(("KeyboardInterrupt", "CellTimeoutError"))]
        for cell in outcome.cells:
            if cell.grade_id in timeouts:
                cell.message = f"stopped at the cell time limit ({self.settings.timeout} s): an endless loop?"
        if timeouts:
            outcome.problems.append(f"cell time limit ({self.settings.timeout} s) reached in {', '.join(timeouts)}")
        dead = [c.grade_id for c in outcome.cells if "DeadKernel" in c.message]
        if dead:
            outcome.problems.append("the kernel died (memory or CPU limit?)")

    def _publish(self, submission: Submission, out: Path) -> None:
        """Copy this submission's autograded notebooks and feedback into the output root."""
        for folder in ("autograded", "feedback"):
            source = self.root / folder / submission.student / submission.assignment
            target = out / folder / submission.student / submission.assignment
            shutil.rmtree(target, ignore_errors=True)
            if source.exists():
                shutil.copytree(source, target)


def _replay(calls: list[tuple[str, str]], probe: Path) -> tuple[list[str], str]:
    """Run each hidden check's replay; return its printed lines and the first failure."""
    lines, failure = [], ""
    for module, name in calls:
        try:
            check = getattr(importlib.import_module(f"autograder.hidden.{module}"), name)
            report = check.verify(probe)
        except Exception as error:  # a missing, forged or unreplayable record
            message = str(error) if str(error).startswith(name) else f"{name}: {error}"
            lines.append(message)
            failure = failure or message
            continue
        lines += report.summary()
        if report.failures and not failure:
            first = report.failures[0]
            failure = f"{name}: {first.quantity}: {first.problem}" + (f" -> {first.hint}" if first.hint else "")
    return lines, failure


def _last_error(result: dict) -> str:
    text = (result.get("error") or result.get("log") or "").strip().splitlines()
    errors = [line for line in text if "ERROR" in line or "Error" in line]
    return (errors[-1] if errors else text[-1] if text else "unknown error")[:300]


# ------------------------------------------------------------------ the worker processes

_WORKER: ScratchCourse | None = None


def _init_worker(template: str, settings: Settings) -> None:
    global _WORKER
    _quiet_nbgrader()
    _WORKER = ScratchCourse(Path(template), settings)
    import atexit

    atexit.register(_WORKER.close)


def _grade_in_worker(submission: Submission, out: str) -> Outcome:
    try:
        return _WORKER.grade(submission, Path(out))
    except Exception as error:  # never let one submission stop the class
        outcome = Outcome(submission.student, submission.assignment)
        outcome.problems.append(f"grading failed: {type(error).__name__}: {error}"[:300])
        return outcome


# ------------------------------------------------------------------ the output course


def prepare_output(out: Path, assignments: set[str], template: Path) -> None:
    """Make ``out`` a course root with a gradebook that knows the assignments.

    A new output starts from the template's gradebook. An existing gradebook is kept as
    it is: assignments it knows are not regenerated, and grading only ever replaces the
    submissions it grades.
    """
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", out / "nbgrader_config.py")
    if not (out / "gradebook.db").exists():
        shutil.copy2(template / "gradebook.db", out / "gradebook.db")
    for assignment in sorted(assignments):
        shutil.rmtree(out / SOURCE / assignment, ignore_errors=True)
        shutil.copytree(template / SOURCE / assignment, out / SOURCE / assignment)
        if not _known_assignment(out, assignment):
            _generate_assignment(out, assignment)


def _generate_assignment(root: Path, assignment: str) -> None:
    """nbgrader's generate_assignment, in this process (no command-line start-up): puts the
    assignment's cells, points and hidden tests into the root's gradebook."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    # Creating a gradebook runs `alembic` by name: it lives beside this interpreter.
    os.environ["PATH"] = nbgrader_env()["PATH"]
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise RuntimeError(f"nbgrader generate_assignment {assignment} failed in {root}:\n{result.get('error') or result.get('log')}")


def _known_assignment(root: Path, assignment: str) -> bool:
    from nbgrader.api import MissingEntry

    if not (root / "gradebook.db").exists():
        return False
    with _gradebook(root) as gradebook:
        try:
            gradebook.find_assignment(assignment)
            return True
        except MissingEntry:
            return False


def _template(assignments: set[str]) -> Path:
    """A clean course root (config, sources, a gradebook with only the assignments) that
    each worker copies: workers never see the class's existing gradebook."""
    template = Path(tempfile.mkdtemp(prefix="rnn-template-"))
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", template / "nbgrader_config.py")
    for assignment in sorted(assignments):
        shutil.copytree(COURSE_ROOT / SOURCE / assignment, template / SOURCE / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        _generate_assignment(template, assignment)
    return template


def merge(out: Path, outcome: Outcome) -> None:
    """Write one outcome into the output gradebook (the parent is its only writer).

    Mirrors nbgrader's SaveAutoGrades: the auto score is replaced, a manual score a grader
    gave earlier is kept (and flagged for review), other submissions are untouched.
    """
    from nbgrader.api import MissingEntry

    with _gradebook(out) as gradebook:
        gradebook.update_or_create_student(outcome.student)
        try:
            gradebook.find_submission(outcome.assignment, outcome.student)
        except MissingEntry:
            gradebook.add_submission(outcome.assignment, outcome.student)
        for cell in outcome.cells:
            grade = gradebook.find_grade(cell.grade_id, cell.notebook, outcome.assignment, outcome.student)
            grade.auto_score = cell.points if outcome.graded else None
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        gradebook.db.commit()


# ------------------------------------------------------------------ the class


def grade_class(
    submitted: Path,
    *,
    assignment: str | None = None,
    workers: int | None = None,
    timeout: int = 120,
    out: Path = Path(DEFAULT_OUT),
    sandbox: bool = True,
    progress: bool = True,
) -> list[Outcome]:
    """Grade every SUBMITTED/<student>/<assignment>/ and write gradebook, autograded
    notebooks, feedback and grades.csv into ``out``. Returns one Outcome per submission."""
    from tqdm.auto import tqdm

    _quiet_nbgrader()
    submissions = find_submissions(Path(submitted), assignment)
    if not submissions:
        raise SystemExit(f"no submissions found under {submitted}/<student>/<assignment>/")
    out = Path(out).resolve()
    assignments = {s.assignment for s in submissions}
    template = _template(assignments)
    prepare_output(out, assignments, template)
    settings = Settings(timeout=timeout, sandbox=sandbox)
    available, reason = sandbox_status()
    if sandbox and not available:
        print("WARNING: grading WITHOUT a sandbox: the notebooks' code runs with this user's rights, "
              f"network and files ({reason}). Install bubblewrap (tools/system-packages.sh) to sandbox it.",
              file=sys.stderr, flush=True)
    if progress:
        print(f"grading {len(submissions)} submission(s) with {min(workers or os.cpu_count() or 1, len(submissions))} "
              f"worker(s); sandbox: {'bubblewrap' if sandbox and available else 'OFF'}", file=sys.stderr, flush=True)
    workers = max(1, min(workers or os.cpu_count() or 1, len(submissions)))
    outcomes: list[Outcome] = []
    bar = tqdm(total=len(submissions), desc="grading", unit="notebook", disable=not progress, file=sys.stderr)
    try:
        if workers == 1:
            _init_worker(str(template), settings)
            results = (_grade_in_worker(s, str(out)) for s in submissions)
            for outcome in results:
                merge(out, outcome)
                outcomes.append(outcome)
                bar.update()
            _WORKER.close()
        else:
            context = multiprocessing.get_context("spawn")  # no inherited sockets or threads
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                                        initargs=(str(template), settings)) as pool:
                futures = [pool.submit(_grade_in_worker, s, str(out)) for s in submissions]
                for future in concurrent.futures.as_completed(futures):
                    outcome = future.result()
                    merge(out, outcome)
                    outcomes.append(outcome)
                    bar.update()
    finally:
        bar.close()
        shutil.rmtree(template, ignore_errors=True)
    export_csv(out)
    return sorted(outcomes, key=lambda o: (o.assignment, o.student))


def export_csv(out: Path) -> Path:
    """nbgrader's own CSV export (its plugin, run in this process): grades.csv with its
    columns (assignment, duedate, timestamp, student_id, ..., score, max_score)."""
    from nbgrader.plugins.export import CsvExportPlugin

    with _gradebook(out) as gradebook:
        CsvExportPlugin(to=str(out / "grades.csv")).export(gradebook)
    return out / "grades.csv"


def summary_table(outcomes: list[Outcome]) -> str:
    rows = [("student", "assignment", "score", "max", "problems", "seconds")]
    for o in outcomes:
        failed = sum(1 for c in o.cells if c.points < c.max_points)
        problems = "; ".join(o.problems) or (f"{failed} check(s) failed" if failed else "none")
        rows.append((o.student, o.assignment, f"{o.score:g}", f"{o.max_score:g}", problems, f"{o.seconds:.1f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for r in rows:
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(4)) + f"  {r[5]:>7}  {r[4]}")
    return "\n".join(lines)


