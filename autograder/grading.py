"""Grade a class with nbgrader, in parallel, honestly, and without losing anything.

nbgrader stays the engine: its autograde runs each notebook, its gradebook holds the
scores, its feedback and export write the HTML and the CSV. This module adds what a class
needs around it:

- Parallel: each worker process grades in a scratch course root of its own (its own
  SQLite gradebook, its own autograded/ and feedback/), one submission at a time; the
  parent process, the only writer of the output gradebook, merges each result as it
  arrives. A submission is graded exactly as `nbgrader autograde` would grade it alone,
  so the result does not depend on the number of workers.
- Honest: the hidden checks only record inside the student's kernel (course.recording);
  after autograde, the worker replays the records against the references in its own
  process. A graded cell earns its points only if it passed in the kernel *and* its
  hidden checks pass on replay.
- Safe: each kernel runs in a bubblewrap sandbox when one is available
  (autograder.sandbox); without one, grading goes on and says so loudly.
- Robust: whatever one submission does (a corrupt file, a missing notebook, an endless
  loop, a dead kernel), it gets a score and a line in the summary, and the others go on.
- Hostile input: a submission is data (take_in: the lesson's notebooks only, as regular
  files under a cap, no link followed; nothing else is published); the record folder is
  read as course.recording says, with the seed this process drew and kept.
- Fair to honest learners (GuardedExecute): copied or split cells are graded on their
  merits (normalise_cells); a dead kernel keeps the points earned before it; the course's
  own cells have their own time limit, and their failure is retried, then reported as
  "not graded" (Outcome.not_graded), never as a zero; a notebook time budget and caps on
  what a kernel writes bound every submission; NumPy exercises answered with PyTorch are
  flagged for the instructor.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import multiprocessing
import os
import re
import math
import secrets
import shutil
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import nbformat

from . import COURSE_ROOT
from .nbgrader_cli import nbgrader_env
from course.recording import PROBE_ENV, UnreadableFile, read_regular_file, write_seed


def kernel_readable() -> list[Path]:
    """What a grading kernel may read of the course: the student's package whole, the
    instructor's package only as far as the hidden checks need (its ``__init__`` and
    ``hidden/``; no references, no grading code), and the datasets. The Python
    environment comes on top (the sandbox adds it)."""
    package = Path(__file__).resolve().parent
    return [COURSE_ROOT / "course", package / "__init__.py", package / "hidden", COURSE_ROOT / "datasets"]


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
    """Every SUBMITTED/<student>/<assignment>/ folder, for the known assignments.

    Folders are named, not resolved: a student or assignment folder that is a link is
    found here and refused when it is taken in (take_in), so the summary says so."""
    known = {p.name for p in (COURSE_ROOT / SOURCE).iterdir() if p.is_dir()}
    found = []
    for student_dir in sorted(p for p in Path(submitted).iterdir() if p.is_dir() and not p.name.startswith(".")):
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if assignment_dir.name in known and assignment in (None, assignment_dir.name):
                found.append(Submission(student_dir.name, assignment_dir.name, assignment_dir.absolute()))
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
    # Why this submission could not be graded (a fault of the course or the grader, not
    # the learner's): never written into the gradebook or grades.csv as a zero.
    not_graded: str = ""


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


# ------------------------------------------------------------------ running one notebook


def _nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _is_course_cell(cell) -> bool:
    """A cell of the course's own (the locked set-up cell, a given adapter): locked, neither
    graded nor a solution. nbgrader restores its source from the gradebook."""
    meta = _nbgrader_meta(cell)
    return bool(meta.get("locked")) and not meta.get("grade") and not meta.get("solution")


def _cell_name(cell, index: int) -> str:
    grade_id = _nbgrader_meta(cell).get("grade_id")
    return f"cell {grade_id}" if grade_id else f"code cell {index + 1}"


def _error_output(ename: str, evalue: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


@dataclass
class RunJournal:
    """What happened while one notebook ran, as GuardedExecute saw it (one autograde run)."""

    budgets: dict[str, float] = field(default_factory=dict)  # notebook -> seconds of learner cells
    watched: list[Path] = field(default_factory=list)  # host folders the kernel writes
    watched_bytes: int = 0  # cap on their total size
    watch_workdir: bool = False  # the working folder too (unsandboxed: it is on the host's disk)
    course_fault: str = ""  # a course cell failed or timed out before any learner cell ran
    stopped: str = ""  # why the cells after some cell were not run
    budget_hit: str = ""  # which budget was reached, and where
    disk_full: list[str] = field(default_factory=list)  # cells that hit a disk limit
    killed_for: str = ""  # set by the watchdog before it kills the kernel
    cells_run: int = 0  # code cells started: 0 when nbgrader failed before running any


class _FolderWatchdog:
    """Kills the kernel when the folders it writes on the host's disk grow past a cap.

    A kernel can fill a folder with many files each under the file-size limit; this
    checks the total every quarter second (entries are counted too, so the walk stays
    short) and kills the kernel's process group: the run goes on as for a dead kernel.
    """

    INTERVAL = 0.25
    MAX_ENTRIES = 20_000

    def __init__(self, executor, journal: RunJournal):
        import threading

        self.executor, self.journal = executor, journal
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()

    def _watch(self) -> None:
        while not self.done.wait(self.INTERVAL):
            size, entries = _folder_usage(self.journal.watched, self.MAX_ENTRIES)
            if size > self.journal.watched_bytes or entries > self.MAX_ENTRIES:
                self.journal.killed_for = (f"the kernel wrote more than the record-folder budget "
                                           f"({self.journal.watched_bytes // 2**20} MiB or {self.MAX_ENTRIES} files)")
                process = getattr(getattr(getattr(self.executor, "km", None), "provisioner", None), "process", None)
                if process is not None:
                    with contextlib.suppress(OSError):
                        process.kill()
                return


def _folder_usage(folders: list[Path], max_entries: int) -> tuple[int, int]:
    """Total bytes and entries under ``folders``, links not followed, stopping early."""
    size = entries = 0
    stack = [str(f) for f in folders]
    while stack and entries <= max_entries:
        try:
            with os.scandir(stack.pop()) as listing:
                for entry in listing:
                    entries += 1
                    info = entry.stat(follow_symlinks=False)
                    size += info.st_size if stat.S_ISREG(info.st_mode) else 0
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(entry.path)
        except OSError:
            continue
    return size, entries


def _guarded_execute():
    """GuardedExecute, made on first use (it subclasses nbgrader's Execute)."""
    global GuardedExecute
    if GuardedExecute is not None:
        return GuardedExecute
    from nbclient.exceptions import DeadKernelError
    from nbgrader.preprocessors import Execute
    from nbgrader.utils import is_grade
    from traitlets import Integer

    class GuardedExecute(Execute):  # noqa: F811 -- binds the module's name (see global)
        """nbgrader's Execute, with the faults an honest learner must not pay for:

        - the course's own cells get a generous time limit of their own, and when one of
          them fails before any learner cell ran, the run stops: a grading fault
          (``RunJournal.course_fault``), retried and otherwise "not graded", never a 0;
        - a kernel that dies keeps the outputs (and so the points) of the cells before;
          the graded cells after it are marked not run (an unrun test cell would
          otherwise earn its points: nbgrader scores a test cell without an error as passed);
        - the learner's cells share a time budget per notebook; at the budget the cell is
          stopped and the graded cells after it are marked not run;
        - a watchdog caps what the kernel writes to the record folder (and to its working
          folder when unsandboxed: in the sandbox that is a size-capped tmpfs).
        """

        journal: RunJournal | None = None  # set by ScratchCourse before each autograde
        course_cell_timeout = Integer(600, help="seconds for each of the course's own cells").tag(config=True)

        def preprocess(self, nb, resources=None, km=None):
            journal = type(self).journal or RunJournal()
            self._journal = journal
            self._cell_timeout = self.timeout
            self._spent = 0.0
            self._stop = ""
            self._learner_ran = False
            name = (resources or {}).get("unique_key", "")
            self._budget = journal.budgets.get(name, 0.0)
            path = ((resources or {}).get("metadata") or {}).get("path")
            watchdog = None
            if journal.watched_bytes and journal.watched:
                if path and journal.watch_workdir:
                    journal.watched = [*journal.watched, Path(path)]
                watchdog = _FolderWatchdog(self, journal)
            try:
                return super().preprocess(nb, resources, km)
            finally:
                if watchdog is not None:
                    watchdog.stop()
                self.timeout = self._cell_timeout

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type != "code":
                return cell, resources
            journal, name = self._journal, _cell_name(cell, index)
            if self._stop:
                if is_grade(cell):
                    cell.outputs = [_error_output("NotRun", self._stop)]
                return cell, resources
            journal.cells_run += 1
            course = _is_course_cell(cell)
            limit = self.course_cell_timeout if course else self._cell_timeout
            by_budget = False
            if self._budget and not course and self._budget - self._spent < limit:
                limit, by_budget = max(1, math.ceil(self._budget - self._spent)), True
            self.timeout = limit
            started = time.monotonic()
            try:
                cell, resources = super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                reason = journal.killed_for or "the kernel died"
                cell.outputs.append(_error_output("DeadKernelError", f"{reason} while this cell ran"))
                if course and not self._learner_ran:  # no learner code ran yet: not theirs
                    journal.course_fault = f"the course's {name} failed (the kernel died)"
                    self._stop = journal.course_fault
                else:
                    self._stop = journal.stopped = f"{reason} in {name}"
                return cell, resources
            finally:
                elapsed = time.monotonic() - started
                if not course:
                    self._spent += elapsed
            errors = [o for o in cell.outputs if o.get("output_type") == "error"]
            timed_out = elapsed >= limit or any(o.get("ename") == "CellTimeoutError" for o in errors)
            for output in errors:
                text = f"{output.get('ename')}: {output.get('evalue')}"
                if "No space left on device" in text or "Errno 28" in text or "File too large" in text:
                    journal.disk_full.append(name)
            if course and errors and not self._learner_ran:
                what = f"timed out ({limit} s)" if timed_out else f"failed ({errors[-1].get('ename')})"
                journal.course_fault = f"the course's {name} {what}"
                self._stop = journal.course_fault
            elif not course and cell.source.strip():
                self._learner_ran = True
            if self._budget and not self._stop and (
                    (by_budget and timed_out) or self._spent >= self._budget):
                journal.budget_hit = f"the notebook time budget ({self._budget:g} s) was reached in {name}"
                self._stop = journal.stopped = journal.budget_hit
            return cell, resources

    return GuardedExecute


GuardedExecute = None


def notebook_budget(source_notebook: Path, timeout: int) -> float:
    """The default time budget of a notebook's learner cells: two cell limits (one cell
    may legitimately be slow) plus 10 s for each code cell. At 120 s per cell: lesson 01
    (31 code cells) 550 s, lesson 02 440 s; a notebook sleeping just under the cell limit
    in each of its cells is stopped there instead of running for hours."""
    notebook = nbformat.read(source_notebook, as_version=4)
    code_cells = sum(1 for c in notebook.cells if c.cell_type == "code")
    return float(2 * timeout + 10 * code_cells)


# ------------------------------------------------------------------ taking a submission in


def _printable(name: str) -> str:
    """A file name as the summary shows it: ASCII, no control characters, bounded."""
    return ascii(name)[1:-1][:60]


def take_in(folder: Path, target: Path, expected: set[str], max_bytes: int) -> list[str]:
    """Copy the lesson's notebooks (``expected``: their stems) from a submission folder
    into ``target``, as regular files read without following links and under a size cap;
    take nothing else. Returns what was ignored, and why (names only, never contents).

    The submission is the learner's data: a link (to solutions/, to an SSH key), a FIFO,
    a device or a huge file must neither be followed, nor block, nor fill the disk.
    """
    problems: list[str] = []
    target.mkdir(parents=True, exist_ok=True)
    for level in (folder, folder.parent):
        if os.path.islink(level):
            return [f"the submission folder {_printable(level.name)} is a link: not followed, nothing graded"]
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        return [f"the submission folder cannot be read ({type(error).__name__})"]
    ignored: list[str] = []
    try:
        for name in sorted(os.listdir(dir_fd)):
            if name == ".ipynb_checkpoints":
                continue  # the editor's own copies
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            kind = ("a link" if stat.S_ISLNK(info.st_mode) else "a folder" if stat.S_ISDIR(info.st_mode)
                    else "a file" if stat.S_ISREG(info.st_mode) else "not a regular file")
            if not (name.endswith(".ipynb") and name[:-len(".ipynb")] in expected):
                if not name.endswith(".ipynb"):
                    ignored.append(f"{_printable(name)} ({kind})")
                elif not stat.S_ISREG(info.st_mode):
                    ignored.append(f"{_printable(name)} ({kind})")
                else:
                    _copy_notebook(dir_fd, name, target, max_bytes, problems)  # a renamed notebook: named below
                continue
            if not stat.S_ISREG(info.st_mode):
                problems.append(f"{_printable(name)} is {kind}, not a notebook file: not followed, graded as missing")
                continue
            _copy_notebook(dir_fd, name, target, max_bytes, problems)
    finally:
        os.close(dir_fd)
    if ignored:
        shown = ", ".join(ignored[:8]) + (f" and {len(ignored) - 8} more" if len(ignored) > 8 else "")
        problems.append(f"ignored (only the lesson's notebooks are graded or published): {shown}")
    return problems


def _copy_notebook(dir_fd: int, name: str, target: Path, max_bytes: int, problems: list[str]) -> None:
    try:
        data = read_regular_file(name, max_bytes, dir_fd=dir_fd)
    except UnreadableFile as error:
        cap = f"{max_bytes // 2**20} MiB" if max_bytes >= 2**20 else f"{max_bytes} bytes"
        reason = f"larger than {cap}" if str(error).startswith("larger") else str(error)
        problems.append(f"{_printable(name)} is {reason}: graded as missing")
        return
    except OSError as error:
        problems.append(f"{_printable(name)} cannot be read ({type(error).__name__}): graded as missing")
        return
    (target / name).write_bytes(data)


def normalise_cells(notebook, known_ids: set[str]) -> list[str]:
    """Make a notebook that honest editing changed gradable, as nbgrader would read it.

    Copy and paste (or a split) in the editor keeps a cell's nbgrader metadata: two cells
    then claim one grade_id, and nbgrader (DeduplicateIds, then OverwriteCells with
    add_missing_cells) fails on the whole notebook with KeyError 'grade_id'. nbgrader
    keeps the last cell of an id; the others become ordinary cells that still run, as
    they did for the learner. Metadata without a known grade_id is dropped the same way.
    Returns the grade_ids whose copies were made ordinary.
    """
    last: dict[str, int] = {}
    for index, cell in enumerate(notebook.cells):
        grade_id = _nbgrader_meta(cell).get("grade_id")
        if grade_id:
            last[grade_id] = index
    changed = []
    for index, cell in enumerate(notebook.cells):
        if "nbgrader" not in cell.get("metadata", {}):
            continue
        grade_id = _nbgrader_meta(cell).get("grade_id")
        if not grade_id or grade_id not in known_ids or last[grade_id] != index:
            del cell.metadata["nbgrader"]
            changed.append(str(grade_id))
    return changed


# ------------------------------------------------------------------ NumPy exercises done with torch


def _torch_names(tree) -> set[str]:
    """Names bound to torch or to something imported from it, anywhere in the code."""
    import ast

    names = {"torch"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "torch":
                    names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _uses(node, names: set[str]) -> bool:
    import ast

    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def numpy_functions(source_notebook: Path) -> set[str]:
    """The functions a lesson's learners write in NumPy: defined in a solution cell whose
    answer (the instructor's solution) uses no torch."""
    import ast

    functions = set()
    for cell in nbformat.read(source_notebook, as_version=4).cells:
        if cell.cell_type != "code" or not _nbgrader_meta(cell).get("solution"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        if _uses(tree, _torch_names(tree)) or "torch" in cell.source:
            continue
        functions.update(n.name for n in tree.body if isinstance(n, ast.FunctionDef))
    return functions


def torch_in_numpy_exercises(notebook, numpy_names: set[str]) -> list[str]:
    """The NumPy exercises (function names) that the learner's code answers with torch."""
    import ast

    trees = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or _is_course_cell(cell) or _nbgrader_meta(cell).get("grade"):
            continue
        try:
            trees.append(ast.parse(cell.source))
        except SyntaxError:
            continue  # IPython magics or broken code: nothing to judge here
    torch = set().union(*(_torch_names(t) for t in trees)) if trees else {"torch"}
    flagged = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in numpy_names:
                if _uses(node, torch):
                    flagged.add(node.name)
            elif isinstance(node, ast.Assign) and _uses(node.value, torch):
                flagged.update(t.id for t in node.targets if isinstance(t, ast.Name) and t.id in numpy_names)
    return sorted(flagged)


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
        from nbgrader.converters import Autograde
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.preprocessors import Execute
        from traitlets.config.loader import PyFileConfigLoader

        shutil.copy2(template / "nbgrader_config.py", self.root / "nbgrader_config.py")
        shutil.copy2(template / "gradebook.db", self.root / "gradebook.db")
        shutil.copytree(template / SOURCE, self.root / SOURCE)
        self.settings = settings
        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        config.Execute.timeout = settings.timeout
        config.CourseDirectory.root = str(self.root)
        # nbgrader's Execute replaced by the guarded one (same place in the pipeline).
        default = Autograde.class_traits()["autograde_preprocessors"].default()
        config.Autograde.autograde_preprocessors = [_guarded_execute() if p is Execute else p for p in default]
        config.GuardedExecute.course_cell_timeout = settings.course_cell_timeout
        self.config = config
        self.api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        self.sandboxed = settings.sandbox and sandbox_status()[0]
        sources = {a.name: sorted(a.glob("*.ipynb")) for a in (self.root / SOURCE).iterdir() if a.is_dir()}
        self.hidden = {name: {nb.stem: _hidden_calls(nb) for nb in notebooks} for name, notebooks in sources.items()}
        self.known_ids = {
            name: {nb.stem: {_nbgrader_meta(c).get("grade_id") for c in nbformat.read(nb, as_version=4).cells} - {None}
                   for nb in notebooks}
            for name, notebooks in sources.items()
        }
        self.numpy_functions = {name: {nb.stem: numpy_functions(nb) for nb in notebooks} for name, notebooks in sources.items()}
        self.budgets = {
            name: {nb.stem: settings.notebook_budget or notebook_budget(nb, settings.timeout) for nb in notebooks}
            for name, notebooks in sources.items()
        }

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def grade(self, submission: Submission, out: Path) -> Outcome:
        started = time.monotonic()
        outcome = Outcome(submission.student, submission.assignment)
        student, assignment = submission.student, submission.assignment
        target = self.root / "submitted" / student / assignment
        for folder in ("submitted", "autograded", "feedback"):
            shutil.rmtree(self.root / folder / student, ignore_errors=True)
        outcome.problems += take_in(submission.folder, target, set(self.hidden.get(assignment, {})),
                                    self.settings.notebook_bytes)
        outcome.problems += self._inspect(submission, target)
        if not any(target.glob("*.ipynb")):
            self._collect_scores(outcome)  # every cell scores 0
            outcome.seconds = time.monotonic() - started
            return outcome
        probe = self.root / "probes" / student / assignment
        for attempt in (1, 2):
            seed = secrets.randbits(62)  # drawn now, at grading time, and kept here
            shutil.rmtree(probe, ignore_errors=True)
            write_seed(probe, seed)
            journal, result = self._autograde(submission, probe)
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
            self._collect_scores(outcome)
            outcome.seconds = time.monotonic() - started
            return outcome
        if not result.get("success"):
            outcome.not_graded = "nbgrader could not grade it: " + _last_error(result)
            outcome.problems.append(f"not graded: {outcome.not_graded}")
        else:
            outcome.graded = True
            self._verify_hidden(submission, probe, seed, outcome)
            self._flag_torch(submission, outcome)
            feedback = self.api.generate_feedback(assignment, student, force=True)
            if not feedback.get("success"):
                outcome.problems.append("no feedback: " + _last_error(feedback))
        self._report_run(journal, outcome)
        self._collect_scores(outcome)
        self._publish(submission, out)
        outcome.seconds = time.monotonic() - started
        return outcome

    # -- steps

    def _autograde(self, submission: Submission, probe: Path) -> tuple[RunJournal, dict]:
        executor = _guarded_execute()
        journal = RunJournal(
            budgets=dict(self.budgets.get(submission.assignment, {})),
            watched=[probe], watched_bytes=self.settings.record_bytes,
            watch_workdir=not self.sandboxed,  # in the sandbox it is a size-capped tmpfs
        )
        executor.journal = journal
        try:
            with self._kernel(probe) as api:
                result = api.autograde(submission.assignment, submission.student, force=True, create=True)
        finally:
            executor.journal = None
        return journal, result

    def _report_run(self, journal: RunJournal, outcome: Outcome) -> None:
        if journal.stopped:
            outcome.problems.append(f"{journal.stopped}: the cells before it keep their points, "
                                    "the graded cells after it were not run")
        if journal.disk_full:
            outcome.problems.append(f"disk budget reached (working folder {self.settings.workdir_bytes // 2**20} MiB, "
                                    f"file size limit) in {', '.join(dict.fromkeys(journal.disk_full))}")

    def _inspect(self, submission: Submission, target: Path) -> list[str]:
        """Problems visible before running anything: missing, renamed or corrupt notebooks,
        and cells that copy and paste left with the same nbgrader id (normalised here)."""
        problems = []
        expected = set(self.hidden.get(submission.assignment, {}))
        present = {p.stem for p in target.glob("*.ipynb")}
        for name in sorted(expected - present):
            problems.append(f"missing notebook {name}.ipynb" + (f" (found: {', '.join(_printable(p) for p in sorted(present))})" if present else ""))
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
                problems.append(f"{path.name}: cells sharing an nbgrader id ({', '.join(sorted(set(copies)))[:200]}) "
                                "graded as ordinary cells but the last")
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
            outcome.problems.append(f"NumPy exercise(s) answered with PyTorch: {', '.join(flagged)} "
                                    "(scored as they ran; for the instructor to review)")
            for cell in notebook.cells:
                if _nbgrader_meta(cell).get("grade") and cell.cell_type == "code":
                    used = [name for name in flagged if re.search(rf"\b{name}\b", cell.source)]
                    if used:
                        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=(
                            f"note for the instructor: {', '.join(used)} is a NumPy exercise answered with PyTorch\n")))
            nbformat.write(notebook, path)

    @contextlib.contextmanager
    def _kernel(self, probe: Path) -> Iterator[object]:
        """The nbgrader API through which this submission's kernel starts.

        The kernel inherits this process's environment: the probe folder goes there. In the
        sandbox, the kernel sees the Python environment, the student's package ``course``,
        of the instructor's package only the hidden checks (which record; the references,
        the grading code and everything else stay out of the sandbox) and the datasets,
        and may write only its working directory (a size-capped tmpfs that vanishes with
        the kernel) and the probe folder.
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

                kernel = stack.enter_context(sandboxed_kernel(
                    readable=kernel_readable(),
                    writable=[probe],
                    limits=Limits(cpu_seconds=max(600, 10 * self.settings.timeout),
                                  workdir_bytes=self.settings.workdir_bytes),
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

    def _verify_hidden(self, submission: Submission, probe: Path, seed: int, outcome: Outcome) -> None:
        """Replay the hidden records with the seed drawn for this run; a cell whose replay
        fails loses its points."""
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
                    grade_id = _nbgrader_meta(cell).get("grade_id")
                    if grade_id not in cells or not cells[grade_id]:
                        continue
                    try:
                        grade = gradebook.find_grade(grade_id, notebook_name, submission.assignment, submission.student)
                    except MissingEntry:
                        continue
                    if not grade.auto_score:
                        continue  # already failed in the kernel: nothing to verify
                    lines, failure = _replay(cells[grade_id], probe, seed)
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
                    messages = {_nbgrader_meta(c).get("grade_id"): _error_message(c) for c in nb.cells}
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

    def _publish(self, submission: Submission, out: Path) -> None:
        """Copy this submission's autograded notebooks and feedback into the output root:
        the lesson's notebooks and their feedback pages only (nbgrader also copies the
        assignment's own files into autograded/; those are the course's, not results)."""
        for folder, suffix in (("autograded", ".ipynb"), ("feedback", ".html")):
            source = self.root / folder / submission.student / submission.assignment
            target = out / folder / submission.student / submission.assignment
            shutil.rmtree(target, ignore_errors=True)
            for stem in self.hidden.get(submission.assignment, {}):
                path = source / f"{stem}{suffix}"
                if path.is_file() and not path.is_symlink():
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target / path.name)


def _replay(calls: list[tuple[str, str]], probe: Path, seed: int) -> tuple[list[str], str]:
    """Run each hidden check's replay; return its printed lines and the first failure.

    Only the grader's own words reach the feedback: a ReplayError or a check's failure
    carries fixed messages; any other exception (a record built to break the replay)
    is named by its type alone, never by its text."""
    from course.checks.core import CheckFailed
    from course.recording import ReplayError

    lines, failure = [], ""
    for module, name in calls:
        try:
            check = getattr(importlib.import_module(f"autograder.hidden.{module}"), name)
            report = check.verify(probe, seed)
        except (ReplayError, CheckFailed) as error:
            message = str(error) if str(error).startswith(name) else f"{name}: {error}"
            message = message[:300]
            lines.append(message)
            failure = failure or message
            continue
        except Exception as error:  # a record shaped to break the replay
            message = f"{name}: the record could not be replayed ({type(error).__name__})"
            lines.append(message)
            failure = failure or message
            continue
        lines += report.summary()
        if report.failures and not failure:
            first = report.failures[0]
            failure = f"{name}: {first.quantity}: {first.problem}" + (f" -> {first.hint}" if first.hint else "")
    return lines, failure


def _last_error(result: dict) -> str:
    """nbgrader's real reason: the last exception line of its log (nbgrader itself ends
    with "Please see the above traceback", which the summary has no room for)."""
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    exception = re.compile(r"^(?:[\w.]+\.)?\w*(?:Error|Exception|Exit|Interrupt)\b:?")
    reasons = [line for line in lines if exception.match(line) and "see the above traceback" not in line]
    errors = [line for line in lines if ("ERROR" in line or "Error" in line) and "see the above traceback" not in line]
    return (reasons[-1] if reasons else errors[-1] if errors else lines[-1] if lines else "unknown error")[:300]


# ------------------------------------------------------------------ the class run

#: Names that live in autograder.class_run (running a class, the output course, the
#: CSV, the summary), importable from here as before. Resolved on first use: class_run
#: imports this module.
_CLASS_RUN = {"grade_class", "merge", "prepare_output", "export_csv", "summary_table", "Stopped",
              "_template", "_known_assignment", "_generate_assignment", "_init_worker", "_grade_in_worker"}


def __getattr__(name: str):
    if name in _CLASS_RUN:
        from . import class_run

        return getattr(class_run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
