"""Run a whole class through the grader, and survive the run's own faults.

autograder.grading grades one submission (ScratchCourse); this module runs a class of
them and keeps the output course (gradebook, autograded/, feedback/, grades.csv) valid
whatever happens to the run itself:

- Worker processes, one submission at a time each, behind concurrent.futures
  executors. Each worker has an executor of its own: a worker that dies (OOM kill, a
  signal) breaks only its own executor, which is replaced, and only its in-flight
  submission, which is retried once and otherwise reported "not graded". (One shared
  ProcessPoolExecutor would fail every pending submission on the first death.)
- The parent is the only writer of the gradebook, and writes each submission in one
  transaction: a run stopped at any moment leaves every submission either merged in
  full or not at all.
- SIGINT and SIGTERM stop the run: workers and their kernels are terminated, grades.csv
  is written for what is graded, scratch folders are removed, exit status 128 + signal.
- A full disk stops the run with one line, the gradebook as it was before the
  submission that could not be written.
- Re-running the same command grades only what is missing: a submission already graded
  from the same notebook bytes, with the same tests and settings, is kept as it is.
- Every scratch folder of a run (the template course, each worker's course, the sandbox's
  kernelspecs, the kernels' connection files) lives under one folder, removed at the end
  even if a worker was killed before it could clean up.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import dataclasses
import errno
import functools
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sqlite3
import stat
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from . import COURSE_ROOT, grading
from .grading import (
    DEFAULT_OUT,
    SOURCE,
    Outcome,
    Settings,
    Submission,
    _gradebook,
    _quiet_nbgrader,
    find_submissions,
    sandbox_status,
)
from .nbgrader_cli import nbgrader_env

#: How many times one submission is started when its worker dies under it.
ATTEMPTS = 2
WORKER_DIED = "the grading worker died"
#: Summary note of a submission kept from an earlier run.
UNCHANGED = "unchanged since it was graded: kept (--force grades it again)"
#: Table beside nbgrader's in the output gradebook: what each submission was graded from.
STATE_TABLE = "autograder_graded"
#: Seconds a terminated worker has to stop its kernel and clean up before it is killed.
STOP_GRACE = 10.0


class DiskFull(Exception):
    """No space left where grading writes: the run cannot go on."""


class Stopped(Exception):
    """The class run stopped before the end (a signal, a full disk).

    outcomes: what was graded before it stopped (merged into the gradebook, and in
    grades.csv when ``csv_written``); exit_code: the command's exit status.
    """

    def __init__(self, message: str, exit_code: int, outcomes: list[Outcome], csv_written: bool, hint: str):
        super().__init__(message)
        self.message, self.exit_code, self.outcomes, self.csv_written = message, exit_code, outcomes, csv_written
        self.hint = hint  # what to do next


# ------------------------------------------------------------------ the worker processes

_WORKER: grading.ScratchCourse | None = None
_WORKER_SCRATCH: Path | None = None  # a worker process's scratch course


def _init_worker(template: str, settings: Settings, scratch: str | None = None) -> None:
    """Start a worker: a scratch course of its own.

    With ``scratch`` (a worker process of a class run), everything the worker and its
    kernels put in a temporary folder goes under it, the worker dies with the parent,
    leaves Ctrl-C to the parent, and on SIGTERM stops its kernel and removes its files.
    """
    global _WORKER, _WORKER_SCRATCH
    _quiet_nbgrader()
    if scratch is not None:
        _die_with_parent()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
        # The scratch course, the sandbox's kernelspec and ipc sockets, connection files
        # and an unsandboxed kernel's temporary files: all in the run's folder, which the
        # parent removes. (Not one level deeper: an ipc socket's path must stay short.)
        tempfile.tempdir = scratch
        os.environ["TMPDIR"] = scratch
    _WORKER = grading.ScratchCourse(Path(template), settings)
    if scratch is not None:
        _WORKER_SCRATCH = _WORKER.root
        signal.signal(signal.SIGTERM, _stop_worker)
    import atexit

    atexit.register(_WORKER.close)


def _grade_in_worker(
    submission: Submission, out: str, course: grading.ScratchCourse | None = None, more: bool = False
) -> Outcome:
    """Grade one submission in this process's scratch course (``course``, else the one
    _init_worker made), as an Outcome whatever happens but a full disk. ``more``: more
    submissions are queued (a kernel started ahead will not be wasted)."""
    try:
        return (course or _WORKER).grade(submission, Path(out), more=more)
    except Exception as error:  # never let one submission stop the class ...
        if _is_disk_full(error):  # ... except a full disk, which would stop every other one too
            raise DiskFull(_disk_full_message(error)) from None
        # A fault of the grader, not the learner's: reported, never recorded as a zero. The
        # message goes to the instructor's terminal only (repr: no control characters).
        print(
            f"grading {submission.student}/{submission.assignment} failed: {error!r}"[:300], file=sys.stderr, flush=True
        )
        outcome = Outcome(submission.student, submission.assignment)
        outcome.not_graded = f"the grader failed ({type(error).__name__})"
        return outcome


def _stop_worker(signum, frame) -> None:
    """SIGTERM in a worker: kill the kernel it runs (and anything that kernel started),
    remove its scratch folder, exit at once."""
    _kill_descendants(os.getpid())
    if _WORKER_SCRATCH is not None:
        shutil.rmtree(_WORKER_SCRATCH, ignore_errors=True)
    os._exit(128 + signum)


def _die_with_parent() -> None:
    """Ask Linux to send this worker SIGTERM when the parent dies, even by SIGKILL, so that
    no worker outlives its class run (elsewhere: the parent's clean-up has to do)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the request
        os._exit(1)


def _process_tree() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc (empty where there is none)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(status.rsplit(")", 1)[1].split()[1])  # after the command name, which may hold ")"
        children.setdefault(parent, []).append(int(entry.name))
    return children


def _below(tree: dict[int, list[int]], pid: int) -> list[int]:
    stack, found = list(tree.get(pid, ())), []
    while stack:
        child = stack.pop()
        found.append(child)
        stack += tree.get(child, ())
    return found


def _kill_descendants(pid: int) -> None:
    """SIGKILL every process below ``pid`` (kernels run in sessions of their own, and a
    sandboxed kernel runs as another user: only the process tree finds them all)."""
    for child in _below(_process_tree(), pid):
        with contextlib.suppress(OSError):
            os.kill(child, signal.SIGKILL)


def _kill_strays(scratch: Path) -> None:
    """SIGKILL the processes a dead worker left: its kernel, and what that started.

    A worker killed at the wrong moment (while its kernel's sandbox is starting) can leave
    the kernel running, adopted by init: no longer below this process, but still working
    in this run's scratch folder (its working folder, its connection file). Processes
    below this one (the live workers and their kernels) are spared.
    """
    tree = _process_tree()
    ours = {os.getpid(), *_below(tree, os.getpid())}
    marker = str(scratch)
    for pid in {p for children in tree.values() for p in children} - ours:
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(marker) or marker in command:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------ executors


class InlineExecutor(concurrent.futures.Executor):
    """Runs each task in this process when it is submitted (``grade_class(in_process=True)``:
    a learner's self-check, where starting a worker process would only add seconds)."""

    def __init__(self, initializer: Callable, initargs: tuple):
        initializer(*initargs)

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:
            future.set_exception(error)
            if not isinstance(error, Exception):
                raise
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        if _WORKER is not None:
            _WORKER.close()


def _process_executor(template: Path, settings: Settings, scratch: Path) -> concurrent.futures.Executor:
    # spawn: no inherited sockets, threads or locks from the parent.
    return concurrent.futures.ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(str(template), settings, str(scratch)),
    )


def _terminate(executor: concurrent.futures.Executor) -> None:
    """Stop an executor now: queued work cancelled, running work abandoned.

    A ProcessPoolExecutor cannot stop a running task (before Python 3.14), so its worker
    gets SIGTERM (it stops its kernel and cleans up, see _stop_worker), then SIGKILL if
    it has not exited after STOP_GRACE seconds.
    """
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(5)


class _Signals:
    """SIGINT and SIGTERM, while a class run is on, only ask it to stop: the run checks
    between steps, so that no gradebook write is ever cut in half."""

    def __init__(self, active: bool):
        self.received: int | None = None
        self.active = active and threading.current_thread() is threading.main_thread()
        self.saved = {}

    def __enter__(self) -> _Signals:
        if self.active:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.saved[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame) -> None:
        self.received = self.received or signum

    def check(self) -> None:
        if self.received:
            raise _Interrupted(self.received)


class _Interrupted(Exception):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def run_tasks(
    tasks: list,
    work: Callable,
    make_executor: Callable[[], concurrent.futures.Executor],
    slots: int,
    on_result: Callable,
    on_lost: Callable,
    stop: Callable[[], None] = lambda: None,
    after_loss: Callable[[], None] = lambda: None,
    tell_more: bool = False,
) -> None:
    """Run ``work(task)`` for every task, at most ``slots`` at a time, one executor per slot
    (``work(task, more=...)`` with ``tell_more``: whether tasks are still queued after it).

    on_result(task, result) is called in this process for each result, as they come.
    A task whose future fails (its worker died, the executor broke: ``work`` itself
    returns its own failures) is started again, on a new executor, up to ATTEMPTS times;
    then on_lost(task, error) gives its result. DiskFull from a worker is raised here.
    ``stop()`` is called between steps and may raise to end the run; every executor is
    terminated whatever ends the run. ``after_loss()`` is called when a worker is gone
    (to clean up what it left).
    """
    queue = deque(tasks)
    attempts = {id(task): 0 for task in tasks}
    executors: list[concurrent.futures.Executor | None] = [None] * max(1, slots)
    running: dict[concurrent.futures.Future, tuple[int, object]] = {}
    try:
        while queue or running:
            stop()
            busy = {slot for slot, _ in running.values()}
            for slot in range(len(executors)):
                if slot in busy or not queue:
                    continue
                if executors[slot] is None:
                    executors[slot] = make_executor()
                task = queue.popleft()
                attempts[id(task)] += 1
                more = {"more": bool(queue)} if tell_more else {}
                running[executors[slot].submit(work, task, **more)] = (slot, task)
            done, _ = concurrent.futures.wait(running, timeout=0.5, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                slot, task = running.pop(future)
                try:
                    result = future.result()
                except DiskFull:
                    raise
                except Exception as error:  # the worker is gone: so is its executor
                    _terminate(executors[slot])
                    executors[slot] = None
                    after_loss()
                    if attempts[id(task)] < ATTEMPTS:
                        queue.appendleft(task)
                        continue
                    result = on_lost(task, error)
                on_result(task, result)
    finally:
        for executor in executors:
            if executor is not None:
                _terminate(executor)


# ------------------------------------------------------------------ the output course

#: Output courses whose gradebook is not their own SQLite file: out -> nbgrader db_url
#: (e.g. postgresql://grader@db.example.org/course), while gradebook_at() says so.
_OUTPUT_DB: dict[Path, str] = {}


@contextlib.contextmanager
def gradebook_at(out: Path, db_url: str | None) -> Iterator[None]:
    """Within this block, the output course ``out`` keeps its gradebook at ``db_url`` (as
    nbgrader's ``CourseDirectory.db_url``: PostgreSQL for a course with several graders)
    instead of ``out/gradebook.db``. None: the SQLite file, as always."""
    key = Path(out).resolve()
    if db_url is None:
        yield
        return
    # A new database gets nbgrader's tables through `alembic`, run by name: from this environment.
    os.environ["PATH"] = nbgrader_env()["PATH"]
    _OUTPUT_DB[key] = db_url
    try:
        yield
    finally:
        _OUTPUT_DB.pop(key, None)


def _db_url(out: Path) -> str | None:
    return _OUTPUT_DB.get(Path(out).resolve())


def _output_gradebook(out: Path):
    """The output course's nbgrader gradebook (a context manager), wherever it is kept."""
    from nbgrader.api import Gradebook

    url = _db_url(out)
    return Gradebook(url, grading.COURSE_ID) if url else _gradebook(out)


def _has_gradebook(out: Path) -> bool:
    return _db_url(out) is not None or (out / "gradebook.db").exists()


def prepare_output(out: Path, assignments: set[str], template: Path) -> None:
    """Make ``out`` a course root with a gradebook that knows the assignments.

    A new output starts from the template's gradebook. An existing gradebook is kept as
    it is: assignments it knows are not regenerated, and grading only ever replaces the
    submissions it grades. A file already there with the right content is not written
    again (a re-run on a full disk must not truncate what it has).
    """
    out.mkdir(parents=True, exist_ok=True)
    _install(COURSE_ROOT / "nbgrader_config.py", out / "nbgrader_config.py")
    if _db_url(out) is None and not (out / "gradebook.db").exists():
        _install(template / "gradebook.db", out / "gradebook.db")
    for assignment in sorted(assignments):
        source, target = template / SOURCE / assignment, out / SOURCE / assignment
        if _tree_digest(source) != _tree_digest(target):
            staged = out / SOURCE / f".{assignment}.new"
            shutil.rmtree(staged, ignore_errors=True)
            shutil.copytree(source, staged)
            shutil.rmtree(target, ignore_errors=True)
            staged.rename(target)
        if not _known_assignment(out, assignment):
            _generate_assignment(out, assignment)
    _ensure_state_table(out)


def _install(source: Path, target: Path) -> None:
    """Copy a file unless the target already has its content; never leave half a file."""
    if target.is_file() and target.read_bytes() == source.read_bytes():
        return
    staged = target.with_name(f".{target.name}.new")
    shutil.copy2(source, staged)
    os.replace(staged, target)


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _generate_assignment(root: Path, assignment: str) -> None:
    """nbgrader's generate_assignment, in this process (no command-line start-up): puts the
    assignment's cells, points and hidden tests into the root's gradebook."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    # Into the root's own gradebook (an output course's may be elsewhere: gradebook_at).
    config.CourseDirectory.db_url = _db_url(root) or f"sqlite:///{Path(root).resolve() / 'gradebook.db'}"
    # Creating a gradebook runs `alembic` by name: it lives beside this interpreter.
    os.environ["PATH"] = nbgrader_env()["PATH"]
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise RuntimeError(
            f"nbgrader generate_assignment {assignment} failed in {root}:\n{result.get('error') or result.get('log')}"
        )


def _known_assignment(root: Path, assignment: str) -> bool:
    from nbgrader.api import MissingEntry

    if not _has_gradebook(root):
        return False
    with _output_gradebook(root) as gradebook:
        try:
            gradebook.find_assignment(assignment)
            return True
        except MissingEntry:
            return False


def _template(assignments: set[str], scratch: Path | None = None) -> Path:
    """A clean course root (config, sources, a gradebook with only the assignments) that
    each worker copies: workers never see the class's existing gradebook.

    nbgrader's generate_assignment (seconds of CPU per lesson) runs once per lesson source:
    its gradebook is kept in a cache folder of this user's (TEMPLATE_CACHE), by the digest
    of everything it is made from, and copied from there by the next run or self-check."""
    template = Path(tempfile.mkdtemp(prefix="rnn-template-", dir=scratch))
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", template / "nbgrader_config.py")
    for assignment in sorted(assignments):
        shutil.copytree(
            COURSE_ROOT / SOURCE / assignment,
            template / SOURCE / assignment,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints"),
        )
    cached = _template_cache() / _template_key(template, assignments)
    if (cached / "gradebook.db").is_file():
        shutil.copy2(cached / "gradebook.db", template / "gradebook.db")
        return template
    for assignment in sorted(assignments):
        _generate_assignment(template, assignment)
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
        staged = Path(tempfile.mkdtemp(prefix=".new-", dir=_template_cache()))
        shutil.copy2(template / "gradebook.db", staged / "gradebook.db")
        try:
            staged.rename(cached)
        except OSError:  # another run put it there first
            shutil.rmtree(staged, ignore_errors=True)
    return template


#: Where generated template gradebooks are kept (RNN_COURSE_CACHE overrides; private to
#: this user: a gradebook holds the hidden tests).
TEMPLATE_CACHE_ENV = "RNN_COURSE_CACHE"


def _template_cache() -> Path:
    root = os.environ.get(TEMPLATE_CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rnn-course"
    )
    folder = Path(root) / "templates"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _template_key(template: Path, assignments: set[str]) -> str:
    """What a template gradebook is made from: nbgrader's version, the course's
    configuration and each lesson's source files."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"nbgrader {version('nbgrader')}\0".encode())
    digest.update((template / "nbgrader_config.py").read_bytes())
    for assignment in sorted(assignments):
        digest.update(f"\0{assignment}\0{_tree_digest(template / SOURCE / assignment)}".encode())
    return digest.hexdigest()[:32]


# ------------------------------------------------------------------ the gradebook


def _ensure_state_table(out: Path) -> None:
    from sqlalchemy import text

    with _output_gradebook(out) as gradebook:
        gradebook.db.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (student_id VARCHAR(128) NOT NULL, "
                "assignment VARCHAR(128) NOT NULL, digest VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, "
                "note TEXT NOT NULL, seconds FLOAT NOT NULL, PRIMARY KEY (student_id, assignment))"
            )
        )
        gradebook.db.commit()


class _OneTransaction:
    """A gradebook session whose commit() only flushes: nbgrader's helpers commit after
    each step, and a submission must reach the gradebook whole or not at all."""

    def __init__(self, session):
        self._session = session

    def commit(self) -> None:
        self._session.flush()

    def __getattr__(self, name):
        return getattr(self._session, name)


@contextlib.contextmanager
def _transaction(out: Path) -> Iterator[object]:
    # nbgrader logs a failed write with its traceback (tornado's application log) before
    # it raises: the error raised is reported instead, in one line.
    nbgrader_log = logging.getLogger("tornado.application")
    was_disabled, nbgrader_log.disabled = nbgrader_log.disabled, True
    try:
        with _output_gradebook(out) as gradebook:
            session = gradebook.db
            gradebook.db = _OneTransaction(session)
            try:
                yield gradebook
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                gradebook.db = session
    finally:
        nbgrader_log.disabled = was_disabled


def merge(out: Path, outcome: Outcome, digest: str = "") -> None:
    """Write one outcome into the output gradebook (the parent is its only writer), in
    one transaction, with what it was graded from.

    Mirrors nbgrader's SaveAutoGrades: the auto score is replaced, a manual score a grader
    gave earlier is kept (and flagged for review), other submissions are untouched. A
    submission that could not be graded (``not_graded``) writes no grade: its earlier
    grades, if any, stay as they were, and grades.csv says why it has none.
    """
    from nbgrader.api import MissingEntry
    from sqlalchemy import text

    with _transaction(out) as gradebook:
        gradebook.update_or_create_student(outcome.student)
        if not outcome.not_graded:
            try:
                gradebook.find_submission(outcome.assignment, outcome.student)
            except MissingEntry:
                gradebook.add_submission(outcome.assignment, outcome.student)
            for cell in outcome.cells:
                grade = gradebook.find_grade(cell.grade_id, cell.notebook, outcome.assignment, outcome.student)
                grade.auto_score = cell.points if outcome.graded else None
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        key = {"student": outcome.student, "assignment": outcome.assignment}
        gradebook.db.execute(
            text(f"DELETE FROM {STATE_TABLE} WHERE student_id = :student AND assignment = :assignment"), key
        )
        note = outcome.not_graded or json.dumps(outcome.notes())
        gradebook.db.execute(
            text(
                f"INSERT INTO {STATE_TABLE} (student_id, assignment, digest, status, note, seconds) "
                "VALUES (:student, :assignment, :digest, :status, :note, :seconds)"
            ),
            {
                **key,
                "digest": digest,
                "status": "not graded" if outcome.not_graded else "graded",
                "note": note,
                "seconds": outcome.seconds,
            },
        )


def _graded_before(out: Path) -> dict[tuple[str, str], dict]:
    """(student, assignment) -> the state row of every submission graded in an earlier run."""
    from sqlalchemy import inspect, text

    with _output_gradebook(out) as gradebook:
        if not inspect(gradebook.engine).has_table(STATE_TABLE):
            return {}  # a gradebook from before this table (or stopped before prepare_output)
        rows = gradebook.db.execute(
            text(f"SELECT student_id, assignment, digest, status, note, seconds FROM {STATE_TABLE}")
        )
        return {(r.student_id, r.assignment): r._asdict() for r in rows}


def _kept_outcome(out: Path, submission: Submission, state: dict) -> Outcome | None:
    """The outcome of a submission graded in an earlier run, rebuilt from the gradebook."""
    from nbgrader.api import MissingEntry

    outcome = Outcome(submission.student, submission.assignment, graded=True)
    with _output_gradebook(out) as gradebook:
        try:
            gradebook.find_submission(submission.assignment, submission.student)
        except MissingEntry:
            return None  # the gradebook lost it: grade again
        assignment = gradebook.find_assignment(submission.assignment)
        outcome.max_score = float(assignment.max_score)
        for notebook in assignment.notebooks:
            for cell in notebook.grade_cells:
                grade = gradebook.find_grade(cell.name, notebook.name, submission.assignment, submission.student)
                outcome.cells.append(
                    grading.CellResult(notebook.name, cell.name, float(grade.auto_score or 0.0), float(cell.max_score))
                )
    outcome.score = sum(c.points for c in outcome.cells)
    outcome.problems = [UNCHANGED] + json.loads(state["note"] or "[]")
    return outcome


def submission_digest(submission: Submission, settings: Settings, tests: str) -> str:
    """What a grade depends on: the submitted files (every name and kind, and the bytes of
    each regular notebook up to the size grading takes in; links never followed, nothing
    but regular files read), the lesson's tests, the grading settings."""
    digest = hashlib.sha256(f"{tests}\0{settings!r}\0{sandbox_status()[0]}\0".encode())
    cap = getattr(settings, "notebook_bytes", 64 * 2**20) + 1
    for entry in sorted(os.scandir(submission.folder), key=lambda e: e.name):
        kind = "file" if entry.is_file(follow_symlinks=False) else "link" if entry.is_symlink() else "other"
        digest.update(f"{entry.name}\0{kind}\0".encode())
        if kind != "file" or not entry.name.endswith(".ipynb"):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            digest.update(b"unreadable\0")
            continue
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for something else since
                digest.update(b"not a regular file\0")
                continue
            left = cap
            while left > 0 and (block := handle.read(min(left, 1 << 20))):
                digest.update(block)
                left -= len(block)
    return digest.hexdigest()


# ------------------------------------------------------------------ grades.csv

CSV_COLUMNS = [
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
    "not_graded",
]


def export_csv(out: Path) -> Path:
    """grades.csv: nbgrader's columns (as its CSV export writes them), quoted where needed,
    and ``not_graded``: why a submission has no grade. A submission that could not be
    graded has an empty score, never 0 (a missing submission scores 0, as in nbgrader).
    The file is replaced whole, or not at all."""
    from nbgrader.api import MissingEntry

    target = out / "grades.csv"
    staged = out / ".grades.csv.new"
    not_graded = {key: row["note"] for key, row in _graded_before(out).items() if row["status"] == "not graded"}
    try:
        with _output_gradebook(out) as gradebook, open(staged, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            # Sorted: the same class gives the same file, whatever order it was graded in.
            everyone = sorted(gradebook.students, key=lambda student: student.id)
            for assignment in sorted(gradebook.assignments, key=lambda assignment: assignment.name):
                for student in everyone:
                    row = {
                        "assignment": assignment.name,
                        "duedate": assignment.duedate,
                        "student_id": student.id,
                        "last_name": student.last_name,
                        "first_name": student.first_name,
                        "email": student.email,
                        "max_score": assignment.max_score,
                        "not_graded": not_graded.get((student.id, assignment.name), ""),
                    }
                    try:
                        submission = gradebook.find_submission(assignment.name, student.id)
                    except MissingEntry:
                        scored = "" if row["not_graded"] else 0.0
                        row.update(timestamp="", raw_score=scored, late_submission_penalty=scored, score=scored)
                    else:
                        penalty = submission.late_submission_penalty
                        row.update(
                            timestamp=submission.timestamp,
                            raw_score=submission.score,
                            late_submission_penalty=penalty,
                            score=max(0.0, submission.score - penalty),
                        )
                    writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
        os.replace(staged, target)
    finally:
        with contextlib.suppress(OSError):
            staged.unlink()
    export_canvas_csv(out)
    return target


#: The columns Canvas's gradebook import requires before the assignments (as its own
#: gradebook export writes them); the row after the header gives each assignment's points.
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_ROW = "Points Possible"


def export_canvas_csv(out: Path) -> Path:
    """canvas.csv: the wide form Canvas's gradebook imports (Grades > Import), one row per
    student and one column per assignment, after the columns Canvas requires and a
    "Points Possible" row. A student is matched by SIS User ID (nbgrader's student id);
    Canvas's own ID is left empty. A submission that could not be graded is left blank
    (Canvas keeps what it has), a missing one scores 0 (as in grades.csv); the score is
    nbgrader's, after any late penalty. The file is replaced whole, or not at all."""
    from nbgrader.api import MissingEntry

    target = out / "canvas.csv"
    staged = out / ".canvas.csv.new"
    not_graded = {key for key, row in _graded_before(out).items() if row["status"] == "not graded"}
    try:
        with _output_gradebook(out) as gradebook, open(staged, "w", newline="") as handle:
            assignments = sorted(gradebook.assignments, key=lambda assignment: assignment.name)
            writer = csv.writer(handle)
            writer.writerow(CANVAS_COLUMNS + [a.name for a in assignments])
            writer.writerow([CANVAS_POINTS_ROW, "", "", "", ""] + [f"{a.max_score:g}" for a in assignments])
            for student in sorted(gradebook.students, key=lambda student: student.id):
                name = ", ".join(n for n in (student.last_name, student.first_name) if n) or student.id
                scores = []
                for assignment in assignments:
                    if (student.id, assignment.name) in not_graded:
                        scores.append("")
                        continue
                    try:
                        submission = gradebook.find_submission(assignment.name, student.id)
                    except MissingEntry:
                        scores.append("0")
                    else:
                        scores.append(f"{max(0.0, submission.score - submission.late_submission_penalty):g}")
                writer.writerow([name, "", student.id, "", ""] + scores)
        os.replace(staged, target)
    finally:
        with contextlib.suppress(OSError):
            staged.unlink()
    return target


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
    force: bool = False,
    in_process: bool = False,
    notebook_budget: float | None = None,
    course_cell_timeout: int | None = None,
    workdir_bytes: int | None = None,
    record_bytes: int | None = None,
    scheduler: str | None = None,
    students: Collection[str] | None = None,
    db_url: str | None = None,
    feedback: bool = True,
    prestart: bool | None = None,
) -> list[Outcome]:
    """Grade every SUBMITTED/<student>/<assignment>/ and write gradebook, autograded
    notebooks, feedback and grades.csv into ``out``. Returns one Outcome per submission.

    A submission graded before from the same files, tests and settings is kept (its
    outcome says so) unless ``force``. ``in_process``: grade in this process, one at a
    time (no worker to survive; for a single self-check). Raises Stopped when SIGINT,
    SIGTERM or a full disk ends the run early. The budgets (``notebook_budget`` seconds of
    learner cells per notebook, ``course_cell_timeout`` seconds per locked course cell,
    ``workdir_bytes`` and ``record_bytes`` a kernel may write) default to Settings'.
    ``scheduler`` (tcp://HOST:PORT): grade on that Dask cluster instead of local worker
    processes (autograder.cluster). ``students``: grade these students again, and only them
    (everyone else's grades are left as they are; grades.csv lists everyone). ``db_url``:
    the output gradebook is kept there (nbgrader's ``CourseDirectory.db_url``, e.g. a
    PostgreSQL database several graders share) instead of ``out/gradebook.db``; this
    process is its only writer all the same. ``feedback=False``: no feedback pages (a
    self-check, which prints its own report). ``prestart``: each worker starts its next
    kernel while it grades (autograder.warm_kernels); None: local workers, sandboxed.
    """
    from tqdm.auto import tqdm

    _quiet_nbgrader()
    submissions = find_submissions(Path(submitted), assignment)
    if students is not None:
        unknown = sorted(set(students) - {s.student for s in submissions})
        if unknown:
            raise SystemExit(f"no submission under {submitted}/ for: {', '.join(unknown)}")
        submissions = [s for s in submissions if s.student in set(students)]
    if not submissions:
        raise SystemExit(f"no submissions found under {submitted}/<student>/<assignment>/")
    out = Path(out).resolve()
    assignments = {s.assignment for s in submissions}
    budgets = dict(
        notebook_budget=notebook_budget,
        course_cell_timeout=course_cell_timeout,
        workdir_bytes=workdir_bytes,
        record_bytes=record_bytes,
    )
    settings = Settings(
        timeout=timeout, sandbox=sandbox, feedback=feedback, **{k: v for k, v in budgets.items() if v is not None}
    )
    outcomes: list[Outcome] = []
    csv_written = False
    scratch = Path(tempfile.mkdtemp(prefix="rnn-run-"))
    with gradebook_at(out, db_url), _Signals(active=not in_process) as signals:
        try:
            template = _template(assignments, scratch)
            signals.check()
            prepare_output(out, assignments, template)
            # The lesson's tests and the pipeline that runs them (nbgrader_config.py).
            pipeline = hashlib.sha256((template / "nbgrader_config.py").read_bytes()).hexdigest()
            tests = {a: _tree_digest(template / SOURCE / a) + pipeline for a in assignments}
            digests = {s: submission_digest(s, settings, tests[s.assignment]) for s in submissions}
            # Named students are graded again, as --force does for everyone.
            earlier = {} if force or students is not None else _graded_before(out)
            pending = []
            for submission in submissions:
                state = earlier.get((submission.student, submission.assignment))
                kept = None
                if state and state["status"] == "graded" and state["digest"] == digests[submission]:
                    kept = _kept_outcome(out, submission, state)
                if kept is None:
                    pending.append(submission)
                else:
                    outcomes.append(kept)
            client = None
            if scheduler:
                from . import cluster

                try:
                    client = cluster.connect(scheduler)
                except (OSError, TimeoutError) as error:
                    raise SystemExit(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
                workers = len(client.nthreads())
            else:
                workers = max(1, min(workers or os.cpu_count() or 1, len(pending) or 1))
            if in_process:
                workers = 1
            if prestart is None:
                # Local workers, in the sandbox only (without it a submission reaches the next
                # kernel). Not on Dask: a worker stopped between tasks leaves the kernel it
                # started ahead running (bubblewrap's --die-with-parent follows the thread
                # that started it, a Dask task thread); `--prestart on` asks for it there.
                prestart = client is None and sandbox and sandbox_status()[0]
            settings = dataclasses.replace(settings, prestart=prestart)
            if progress:
                _announce(len(submissions), len(pending), workers, sandbox, client, prestart)

            bar = tqdm(total=len(pending), desc="grading", unit="notebook", disable=not progress, file=sys.stderr)

            def merged(submission: Submission, outcome: Outcome) -> None:
                merge(out, outcome, digests[submission] if not outcome.not_graded else "")
                outcomes.append(outcome)
                bar.update()

            # Local: run_tasks tries twice; Dask: as often as its allowed-failures lets it.
            tries = "on every try Dask allowed" if client is not None else "twice"

            def lost(submission: Submission, error: Exception) -> Outcome:
                print(
                    f"{submission.student}/{submission.assignment}: {WORKER_DIED} {tries} ({type(error).__name__})",
                    file=sys.stderr,
                    flush=True,
                )
                return Outcome(submission.student, submission.assignment, not_graded=WORKER_DIED)

            if in_process:
                make_executor = lambda: InlineExecutor(_init_worker, (str(template), settings))  # noqa: E731
            else:
                make_executor = lambda: _process_executor(template, settings, scratch)  # noqa: E731
            try:
                if client is not None:
                    _run_on_dask(client, pending, template, settings, out, scratch, merged, lost, signals.check)
                else:
                    run_tasks(
                        pending,
                        functools.partial(_grade_in_worker, out=str(out)),
                        make_executor,
                        workers,
                        merged,
                        lost,
                        signals.check,
                        after_loss=lambda: _kill_strays(scratch),
                        tell_more=True,
                    )
            finally:
                bar.close()
                if client is not None:
                    client.close()
            export_csv(out)
            csv_written = True
        except _Interrupted as stop:
            name = signal.Signals(stop.signum).name
            csv_written = _export_if_possible(out)
            raise Stopped(
                f"stopped by {name}",
                128 + stop.signum,
                _sorted(outcomes),
                csv_written,
                "run the same command again to grade the rest",
            ) from None
        except Exception as error:
            if not _is_disk_full(error):
                raise
            csv_written = _export_if_possible(out)
            raise Stopped(
                _disk_full_message(error),
                1,
                _sorted(outcomes),
                csv_written,
                "free some space, then run the same command again to grade the rest",
            ) from None
        finally:
            if not in_process:
                _kill_strays(scratch)
            shutil.rmtree(scratch, ignore_errors=True)
    return _sorted(outcomes)


def _run_on_dask(client, pending, template, settings, out, scratch, merged, lost, stop) -> None:
    """The class's tasks on a Dask cluster (autograder.cluster): the same grading as a
    local worker's, input and output carried as data; this process writes every result."""
    from . import cluster

    stems = {
        a: sorted(p.stem for p in (template / SOURCE / a).glob("*.ipynb")) for a in {s.assignment for s in pending}
    }
    executor = client.get_executor(pure=False)
    # Sent with every task (tens to hundreds of kB; a worker unpacks it once): scattered
    # data would make every task depend on the workers that hold it, and a worker lost
    # early would take the whole class with it.
    blob = cluster.template_blob(template)

    def submit(submission: Submission, more: bool) -> concurrent.futures.Future:
        parcel = cluster.pack(submission, set(stems[submission.assignment]), settings.notebook_bytes, scratch)
        return executor.submit(cluster.grade_parcel, parcel, blob, settings, more)

    def delivered(submission: Submission, result) -> None:
        if isinstance(result, cluster.Delivery):
            cluster.deliver(out, result, stems[submission.assignment])
            result = result.outcome
        merged(submission, result)

    try:
        cluster.run_on_cluster(pending, submit, cluster.cluster_capacity(client), delivered, lost, stop)
    finally:
        executor.shutdown(wait=False)  # Dask's: cancels what is still in flight
        with contextlib.suppress(Exception):  # (a worker gone meanwhile has nothing to release)
            client.run(cluster.release_kernels, on_error="ignore")


def _sorted(outcomes: list[Outcome]) -> list[Outcome]:
    return sorted(outcomes, key=lambda o: (o.assignment, o.student))


def _announce(total: int, pending: int, workers: int, sandbox: bool, client=None, prestart: bool = False) -> None:
    available, reason = sandbox_status()
    where = "worker(s)"
    if client is not None:  # the workers' sandboxes count, not this machine's
        from .cluster import workers_sandboxed

        states = workers_sandboxed(client)
        unsandboxed = {w: why for w, (ok, why) in states.items() if not ok}
        available = not unsandboxed
        reason = "; ".join(f"{w}: {why}" for w, why in sorted(unsandboxed.items()))
        where = f"Dask worker(s) of {client.scheduler.address}"
    if sandbox and not available:
        print(
            "WARNING: grading WITHOUT a sandbox: the notebooks' code runs with this user's rights, "
            f"network and files ({reason}). Install bubblewrap (tools/system-packages.sh) to sandbox it.",
            file=sys.stderr,
            flush=True,
        )
    kept = f" ({total - pending} unchanged since graded: kept)" if pending < total else ""
    print(
        f"grading {pending} of {total} submission(s){kept} with {workers} {where}; "
        f"sandbox: {'bubblewrap' if sandbox and available else 'OFF'}"
        + ("; each worker starts its next kernel ahead" if prestart else ""),
        file=sys.stderr,
        flush=True,
    )


def _export_if_possible(out: Path) -> bool:
    """grades.csv for what is graded, when the run stops early (False if it cannot be written:
    the previous one, if any, is left whole)."""
    try:
        if _has_gradebook(out):
            export_csv(out)
            return True
    except Exception as error:
        if not _is_disk_full(error):
            raise
    return False


def _is_disk_full(error: BaseException | None) -> bool:
    """Whether an error, or one it was raised from, is a full disk (or quota): an OSError
    with ENOSPC or EDQUOT, a shutil.Error listing one, SQLite's SQLITE_FULL (which nbgrader
    wraps in its own InvalidEntry)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DiskFull):
            return True
        if isinstance(error, shutil.Error):
            if any(
                "No space left" in str(item) or "Disk quota" in str(item)
                for item in (error.args[0] if error.args else [])
            ):
                return True
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(error, sqlite3.Error) and (
            getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "database or disk is full" in str(error)
        ):
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False


def _disk_full_message(error: BaseException) -> str:
    """One line: no space, and where (the file being written, when known)."""
    where = None
    seen = set()
    while error is not None and id(error) not in seen and where is None:
        seen.add(id(error))
        if isinstance(error, DiskFull):
            return str(error)
        if isinstance(error, shutil.Error) and error.args and isinstance(error.args[0], list) and error.args[0]:
            where = error.args[0][0][1]  # (source, destination, why): the destination
        elif isinstance(error, sqlite3.Error):
            where = "the gradebook"
        elif isinstance(error, OSError):
            where = error.filename2 or error.filename
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return "no space left on the disk" + (f" (writing {where})" if where else "")


def summary_table(outcomes: list[Outcome]) -> str:
    rows = [("student", "assignment", "score", "max", "problems", "seconds")]
    for o in outcomes:
        failed = sum(1 for c in o.cells if c.points < c.max_points)
        if o.not_graded:
            problems, score = f"not graded: {o.not_graded}", "-"
        else:
            problems, score = (
                "; ".join(o.notes()) or (f"{failed} check(s) failed" if failed else "none"),
                f"{o.score:g}",
            )
        rows.append((o.student, o.assignment, score, f"{o.max_score:g}", problems, f"{o.seconds:.1f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for r in rows:
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(4)) + f"  {r[5]:>7}  {r[4]}")
    kept = sum(1 for o in outcomes if UNCHANGED in o.problems)
    not_graded = sum(1 for o in outcomes if o.not_graded)
    lines.append(
        f"\n{len(outcomes) - kept - not_graded} graded, {kept} skipped (unchanged since graded), "
        f"{not_graded} not graded"
    )
    return "\n".join(lines)
