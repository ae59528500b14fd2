"""Running a submission's notebook: nbgrader's Execute, guarded (GuardedExecute).

GuardedExecute takes Execute's place in nbgrader's autograde pipeline (nbgrader_config.py
names it), so `nbgrader autograde`, the formgrader and `python -m autograder grade` run
notebooks the same way. It adds what an honest learner must not pay for, and what a
hostile one must not get:

- the kernel runs in the bubblewrap sandbox (autograder.sandbox) when ``sandbox`` says so
  and the machine allows it: it may write only its working folder and the record folder.
  ``launch`` starts every grading kernel; in a class run the kernel may have been started
  ahead, while the notebook before was graded (autograder.warm_kernels);
- the course's own cells get a time limit of their own; a course cell that fails before
  any learner cell ran stops the run (``RunJournal.course_fault``: not the learner's);
- a dead kernel keeps the points of the cells before it; the graded cells after it are
  marked not run (nbgrader scores a test cell without an error as passed);
- the learner's cells share a time budget per notebook;
- a watchdog caps what the kernel writes to the record folder (and to its working folder
  when unsandboxed: in the sandbox that is a size-capped tmpfs).

What happened is written into a RunJournal: the one ``grade`` hands in (``journal_for``),
or a fresh one per notebook under plain nbgrader.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import shutil
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade
from traitlets import Enum, Integer

from course.recording import RECORD_ENV

from . import COURSE_ROOT
from .intake import is_course_cell, nbgrader_meta

#: resources key under which SeedHiddenChecks leaves the record folder and the seed it drew
#: (autograder.replay); read here for the watchdog and the sandbox.
RECORD_RUN = "autograder_record_run"


def kernel_readable() -> list[Path]:
    """What a grading kernel may read of the course: the student's package whole, the
    instructor's package only as far as the hidden checks need (its ``__init__`` and
    ``hidden/``; no references, no grading code), and the datasets. The Python
    environment comes on top (the sandbox adds it)."""
    package = Path(__file__).resolve().parent
    return [COURSE_ROOT / "course", package / "__init__.py", package / "hidden", COURSE_ROOT / "datasets"]


def cell_name(cell, index: int) -> str:
    grade_id = nbgrader_meta(cell).get("grade_id")
    return f"cell {grade_id}" if grade_id else f"code cell {index + 1}"


def error_output(ename: str, evalue: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def notebook_budget(source_notebook: Path, timeout: int) -> float:
    """The default time budget of a notebook's learner cells: two cell limits (one cell
    may legitimately be slow) plus 10 s for each code cell. At 120 s per cell: lesson 01
    (31 code cells) 550 s, lesson 02 440 s; a notebook sleeping just under the cell limit
    in each of its cells is stopped there instead of running for hours."""
    notebook = nbformat.read(source_notebook, as_version=4)
    code_cells = sum(1 for c in notebook.cells if c.cell_type == "code")
    return float(2 * timeout + 10 * code_cells)


# ------------------------------------------------------------------ the journal of one run


@dataclass
class RunJournal:
    """What happened while one submission's notebooks ran (one autograde run), as the
    autograde preprocessors saw it: facts, never parsed back out of messages."""

    budgets: dict[str, float] = field(default_factory=dict)  # notebook -> seconds of learner cells
    watch_workdir: bool = False  # the working folder too (unsandboxed: it is on the host's disk)
    course_fault: str = ""  # a course cell failed or timed out before any learner cell ran
    stopped: str = ""  # why the cells after some cell were not run
    budget_hit: str = ""  # which budget was reached, and where
    disk_full: list[str] = field(default_factory=list)  # cells that hit a disk limit
    timed_out: list[str] = field(default_factory=list)  # grade_ids stopped at the cell time limit
    killed_for: str = ""  # set by the watchdog before it kills the kernel
    cells_run: int = 0  # code cells started: 0 when nbgrader failed before running any
    replays: list = field(default_factory=list)  # autograder.replay.ReplayResult, one per hidden check replayed
    kernels: Any = None  # autograder.warm_kernels.WarmKernels: kernels started ahead (grade, in the sandbox)


_ACTIVE: RunJournal | None = None


@contextlib.contextmanager
def journal_for(journal: RunJournal) -> Iterator[RunJournal]:
    """Make ``journal`` the one the autograde preprocessors of this process write into,
    for one autograde run (``grade``); plain nbgrader gets a fresh one per notebook."""
    global _ACTIVE
    _ACTIVE = journal
    try:
        yield journal
    finally:
        _ACTIVE = None


def active_journal() -> RunJournal | None:
    return _ACTIVE


# ------------------------------------------------------------------ the folder watchdog


class FolderWatchdog:
    """Kills the kernel when the folders it writes on the host's disk grow past a cap.

    A kernel can fill a folder with many files each under the file-size limit; this
    checks the total every quarter second (entries are counted too, so the walk stays
    short) and kills the kernel's process group: the run goes on as for a dead kernel.
    """

    INTERVAL = 0.25
    MAX_ENTRIES = 20_000

    def __init__(self, executor, journal: RunJournal, folders: list[Path], cap: int):
        self.executor, self.journal, self.folders, self.cap = executor, journal, folders, cap
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()

    def _watch(self) -> None:
        while not self.done.wait(self.INTERVAL):
            size, entries = folder_usage(self.folders, self.MAX_ENTRIES)
            if size > self.cap or entries > self.MAX_ENTRIES:
                self.journal.killed_for = (
                    f"the kernel wrote more than the record-folder budget "
                    f"({self.cap // 2**20} MiB or {self.MAX_ENTRIES} files)"
                )
                process = getattr(getattr(getattr(self.executor, "km", None), "provisioner", None), "process", None)
                if process is not None:
                    with contextlib.suppress(OSError):
                        process.kill()
                return


def folder_usage(folders: list[Path], max_entries: int) -> tuple[int, int]:
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


@contextlib.contextmanager
def temporary_environ(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ------------------------------------------------------------------ a launched kernel

_LAUNCHES = itertools.count(1)


@dataclass
class LaunchedKernel:
    """A grading kernel GuardedExecute.launch started: its manager, its record run
    (autograder.replay.RecordRun, or None), its working folder, and what undoes the rest
    (the sandbox's temporary kernelspec)."""

    km: Any
    record_run: Any
    workdir: Path
    cleanup: contextlib.ExitStack
    own_workdir: bool = False  # a folder made for this kernel alone: removed with it

    def alive(self) -> bool:
        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:
            return False

    def close(self) -> None:
        """Stop the kernel now if it still runs, and remove what it was given."""
        with contextlib.suppress(Exception):
            if self.alive():
                run_sync(self.km.shutdown_kernel)(now=True)
        with contextlib.suppress(Exception):
            run_sync(self.km.cleanup_resources)()
        self.cleanup.close()
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


# ------------------------------------------------------------------ GuardedExecute


class GuardedExecute(Execute):
    """nbgrader's Execute, in the sandbox, with the faults an honest learner must not pay
    for handled (see the module's docstring)."""

    course_cell_timeout = Integer(600, help="seconds for each of the course's own cells").tag(config=True)
    sandbox = Enum(
        ["auto", "on", "off"],
        "auto",
        help=(
            "run each kernel in the bubblewrap sandbox: 'auto' when the machine allows it (else a "
            "warning), 'on' always (grading fails where it cannot), 'off' never"
        ),
    ).tag(config=True)
    workdir_bytes = Integer(256 * 2**20, help="what a sandboxed kernel may write into its working folder").tag(
        config=True
    )
    record_bytes = Integer(64 * 2**20, help="what a kernel may write into the record folder").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        journal = active_journal() or RunJournal()
        self._journal = journal
        self._cell_timeout = self.timeout
        self._spent = 0.0
        self._stop = ""
        self._learner_ran = False
        resources = resources if resources is not None else {}
        self._budget = journal.budgets.get(resources.get("unique_key", ""), 0.0)
        record_run = resources.get(RECORD_RUN)
        kernel_name = self.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
        with contextlib.ExitStack() as stack:
            watched = []
            if km is None:
                if journal.kernels is not None and record_run is not None:
                    # The kernel started ahead for this notebook (it comes with a record
                    # folder and a seed of its own, which replace SeedHiddenChecks' ones).
                    kernel = journal.kernels.take(self, kernel_name, record_run)
                    resources[RECORD_RUN] = kernel.record_run
                else:
                    workdir = Path((resources.get("metadata") or {}).get("path") or os.getcwd())
                    kernel = self.launch(kernel_name, record_run, workdir)
                stack.callback(kernel.close)
                stack.callback(self._stop_client)  # first: nbclient's own clean-up of the kernel
                km = kernel.km
                if kernel.record_run is not None:
                    watched.append(Path(kernel.record_run.folder))
                if journal.watch_workdir:
                    watched.append(kernel.workdir)
            if self.record_bytes and watched:
                watchdog = FolderWatchdog(self, journal, watched, self.record_bytes)
                stack.callback(watchdog.stop)
            try:
                nb, resources = super().preprocess(nb, resources, km)
            finally:
                self.timeout = self._cell_timeout
        if journal.course_fault and active_journal() is None:
            # Plain nbgrader: no one retries or reports "not graded"; scores written now
            # would be zeros the learner did not earn. nbgrader reports the error instead.
            raise RuntimeError(
                f"not graded: {journal.course_fault} (a fault of the course or of this machine, "
                "not the learner's; grade again)"
            )
        return nb, resources

    def launch(
        self, kernel_name: str, record_run, workdir: Path, extra_arguments: Sequence[str] = ()
    ) -> LaunchedKernel:
        """Start one grading kernel in ``workdir``, in the sandbox when ``sandbox`` says so,
        given ``record_run``'s folder (autograder.replay.RecordRun, or None), and return it
        without waiting for it to be ready (nbclient's client waits).

        Every grading kernel is started here, the one a notebook waits for and the one
        started ahead of it (autograder.warm_kernels), so that both are the same kernel.
        """
        cleanup = contextlib.ExitStack()
        try:
            env = dict(os.environ)
            record_folder = Path(record_run.folder) if record_run is not None else None
            if record_folder is not None:
                env[RECORD_ENV] = str(record_folder)
            lookup: dict[str, str] = {}  # where jupyter_client finds the sandbox's kernelspec
            ipc_ip = None
            if self._use_sandbox():
                from .sandbox import Limits, sandboxed_kernel

                sandbox = cleanup.enter_context(
                    sandboxed_kernel(
                        readable=kernel_readable(),
                        writable=[record_folder] if record_folder is not None else [],
                        limits=Limits(
                            cpu_seconds=max(600, 10 * (self._cell_timeout or 60)), workdir_bytes=self.workdir_bytes
                        ),
                    )
                )
                kernel_name, lookup = sandbox.name, sandbox.env
                # The sandboxed kernel's loopback is not ours: its sockets are ipc files in a
                # folder bound into the sandbox at the same absolute path.
                ipc_ip = sandbox.nbclient_kwargs["config"].KernelManager.ip
            with temporary_environ(lookup):
                km = self.kernel_manager_class(kernel_name=kernel_name, config=self.config)
                if ipc_ip:
                    km.transport, km.ip = "ipc", ipc_ip
                elif km.transport == "ipc":
                    # Two kernels of this process may be starting at once (one started
                    # ahead): jupyter_client picks free ipc names only among sockets that
                    # exist already, so each kernel gets names of its own.
                    km.ip = f"{km.ip}-{next(_LAUNCHES)}"
                arguments = list(self.extra_arguments)
                if (
                    km.ipykernel
                    and self.ipython_hist_file
                    and not any(a.startswith("--HistoryManager.hist_file") for a in arguments)
                ):
                    arguments.append(f"--HistoryManager.hist_file={self.ipython_hist_file}")  # as nbclient does
                run_sync(km.start_kernel)(extra_arguments=[*arguments, *extra_arguments], cwd=str(workdir), env=env)
            return LaunchedKernel(km, record_run, Path(workdir), cleanup)
        except BaseException:
            cleanup.close()
            raise

    def _stop_client(self) -> None:
        """nbclient's clean-up (the kernel is ours, so it leaves it running): the kernel is
        shut down as ``shutdown_kernel`` says and the client's channels are closed."""
        if self.km is not None:
            with contextlib.suppress(Exception):
                self._cleanup_kernel()
        self.km = self.kc = None

    def _use_sandbox(self) -> bool:
        if self.sandbox == "off":
            return False
        from .sandbox import sandbox_available

        available, reason = sandbox_available()
        if not available:
            if self.sandbox == "on":
                raise RuntimeError(
                    f"the grading sandbox is required (GuardedExecute.sandbox = 'on') but cannot run here: {reason}"
                )
            self.log.warning(
                "grading WITHOUT the sandbox (%s): a submission can read and write whatever this user can", reason
            )
        return available

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        journal, name = self._journal, cell_name(cell, index)
        if self._stop:
            if is_grade(cell):
                cell.outputs = [error_output("NotRun", self._stop)]
            return cell, resources
        journal.cells_run += 1
        course = is_course_cell(cell)
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
            cell.outputs.append(error_output("DeadKernelError", f"{reason} while this cell ran"))
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
        # nbgrader interrupts a cell at the time limit: it ends in KeyboardInterrupt (or,
        # with no reply at all, in the CellTimeoutError nbgrader's Execute writes).
        timed_out = elapsed >= limit or any(o.get("ename") == "CellTimeoutError" for o in errors)
        if is_grade(cell) and errors and errors[0].get("ename") in ("KeyboardInterrupt", "CellTimeoutError"):
            journal.timed_out.append(nbgrader_meta(cell).get("grade_id", name))
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
        if self._budget and not self._stop and ((by_budget and timed_out) or self._spent >= self._budget):
            journal.budget_hit = f"the notebook time budget ({self._budget:g} s) was reached in {name}"
            self._stop = journal.stopped = journal.budget_hit
        return cell, resources
