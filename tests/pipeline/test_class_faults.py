"""The class run survives its own faults: a worker killed mid-class, SIGINT, SIGTERM, a full
disk under --out, and a re-run of the same command.

The first tests drive ``run_tasks`` (the scheduler) with tiny tasks; the slow ones run
``python -m autograder grade`` on a few lesson-01 submissions and interfere with it at
observable moments (a kernel running for a given student, a submission in the gradebook),
never after a fixed sleep. Each grading subprocess gets a TMPDIR of its own, so that
"no scratch folder left" is checked without the other processes on this machine.
"""

from __future__ import annotations

import concurrent.futures
import csv
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from autograder.class_run import (
    ATTEMPTS,
    STATE_TABLE,
    WORKER_DIED,
    _template,
    export_csv,
    merge,
    prepare_output,
    run_tasks,
    summary_table,
)
from autograder.grading import CellResult, Outcome

from ..conftest import venv_environment
from .fixture_class import FULL, LESSON, NOTEBOOK, _fill, _solution_answers, _student_copy

LINUX = sys.platform.startswith("linux")
WAIT = 600  # seconds: generous, for a loaded machine; the waits end on events, not on time


def _wait_for(predicate, what: str, process: subprocess.Popen | None = None, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the grading command ended (status {process.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


# ------------------------------------------------------------------ the scheduler, with tiny tasks


def _work(item: tuple[str, str]) -> str:
    """A task in a worker process: 'die-once' kills its worker the first time, 'die' every
    time, 'hold' waits for a file named 'release', 'block' never returns."""
    name, folder = item
    folder = Path(folder)
    (folder / f"{name}.{os.getpid()}.started").touch()
    if name == "die" or (name == "die-once" and not (folder / "died").exists()):
        (folder / "died").touch()
        os.kill(os.getpid(), signal.SIGKILL)
    while name == "hold" and not (folder / "release").exists():
        time.sleep(0.05)
    while name == "block":
        time.sleep(0.05)
    return f"{name} done"


def _spawn_executor() -> concurrent.futures.Executor:
    return concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


def _started(folder: Path, name: str) -> list[int]:
    return [int(p.name.split(".")[1]) for p in folder.glob(f"{name}.*.started")]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not LINUX, reason="kills processes by pid, reads /proc")
def test_a_dead_worker_costs_only_its_own_task_which_is_retried(tmp_path):
    results = {}

    def on_result(task, result):
        results[task[0]] = result
        if task[0] == "die-once":  # only now may the other slot's task finish
            (tmp_path / "release").touch()

    tasks = [("hold", str(tmp_path)), ("die-once", str(tmp_path))]
    run_tasks(tasks, _work, _spawn_executor, 2, on_result, lambda task, error: pytest.fail(f"{task} lost"))
    assert results == {"hold": "hold done", "die-once": "die-once done"}
    assert len(_started(tmp_path, "die-once")) == 2, "the killed task is started again once"
    assert len(_started(tmp_path, "hold")) == 1, "the task beside it ran once, undisturbed"


@pytest.mark.skipif(not LINUX, reason="kills processes by pid, reads /proc")
def test_a_task_that_kills_every_worker_is_given_up_after_the_retry(tmp_path):
    results, lost = {}, []
    tasks = [("die", str(tmp_path)), ("ok", str(tmp_path)), ("ok2", str(tmp_path))]
    run_tasks(
        tasks,
        _work,
        _spawn_executor,
        2,
        lambda t, r: results.setdefault(t[0], r),
        lambda task, error: lost.append(task[0]) or WORKER_DIED,
    )
    assert lost == ["die"]
    assert results == {"die": WORKER_DIED, "ok": "ok done", "ok2": "ok2 done"}
    assert len(_started(tmp_path, "die")) == ATTEMPTS


@pytest.mark.skipif(not LINUX, reason="kills processes by pid, reads /proc")
def test_stopping_terminates_the_workers(tmp_path):
    class Stop(Exception):
        pass

    def stop():
        if len(_started(tmp_path, "block")) == 2:
            raise Stop

    tasks = [("block", str(tmp_path)), ("block", str(tmp_path)), ("never", str(tmp_path))]
    started = time.monotonic()
    with pytest.raises(Stop):
        run_tasks(
            tasks,
            _work,
            _spawn_executor,
            2,
            lambda t, r: pytest.fail("no task ends"),
            lambda t, e: pytest.fail("nothing is lost"),
            stop,
        )
    workers = _started(tmp_path, "block")
    assert len(workers) == 2 and not _started(tmp_path, "never")
    _wait_for(lambda: not any(_alive(pid) for pid in workers), "the workers to be gone", timeout=60)
    assert time.monotonic() - started < WAIT


# ------------------------------------------------------------------ the real command

pytest_slow = pytest.mark.slow


def _write_students(submitted: Path, students: list[str]) -> None:
    answers = _solution_answers()
    for student in students:
        folder = submitted / student / LESSON
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(_fill(_student_copy(), answers), folder / NOTEBOOK)


class Run:
    """`python -m autograder grade` in a subprocess with a TMPDIR of its own."""

    def __init__(self, root: Path, tmp: Path, *args: str, workers: int = 2):
        self.root, self.tmp = root, tmp
        command = [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(root / "submitted"),
            "--out",
            str(root / "out"),
            "--workers",
            str(workers),
            "--timeout",
            "120",
            *args,
        ]
        self.process = subprocess.Popen(
            command,
            cwd=root,
            env={**venv_environment(), "TMPDIR": str(self.tmp)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.seen: set[int] = set()  # every process below the command seen while it ran

    def descendants(self) -> list[int]:
        found = _descendants(self.process.pid)
        self.seen.update(found)
        return found

    def kernel_of(self, student: str) -> int | None:
        """A kernel (or the sandbox that holds it) of the worker grading this student, in
        this run's scratch: working in the student's autograded folder, or, started by
        autograder.warm_kernels, in the kernels/ folder of a scratch course that is grading
        the student (nbgrader made its autograded folder before the kernel was taken)."""
        for pid in self.descendants():
            try:
                cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
            except OSError:
                continue
            if not cwd.is_relative_to(self.tmp):
                continue
            if cwd.parts[-3:] == ("autograded", student, LESSON):
                return pid
            if cwd.parent.name == "kernels" and (cwd.parent.parent / "autograded" / student / LESSON).is_dir():
                return pid
        return None

    def finish(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=WAIT)
        return self.process.returncode, out, err

    def assert_clean(self) -> None:
        """No process of this run is left, and no scratch folder."""
        _wait_for(
            lambda: not [pid for pid in self.seen if _alive(pid)], "every worker and kernel to be gone", timeout=60
        )
        assert not _processes_using(self.tmp), "processes still use the run's scratch folder"
        assert sorted(os.listdir(self.tmp)) == [], "scratch folders left behind"


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], list(children.get(pid, ()))
    while stack:
        child = stack.pop()
        found.append(child)
        stack += children.get(child, ())
    return found


def _processes_using(folder: Path) -> list[int]:
    """Processes whose working folder or command line names ``folder`` (orphans included)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not _alive(int(entry.name)):
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in cwd or str(folder) in cmdline:
            found.append(int(entry.name))
    return found


def _csv(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def _graded_rows(out: Path) -> int:
    try:
        with sqlite3.connect(f"file:{out / 'gradebook.db'}?mode=ro", uri=True, timeout=5) as db:
            return db.execute(f"SELECT count(*) FROM {STATE_TABLE} WHERE status = 'graded'").fetchone()[0]
    except sqlite3.Error:  # not created yet, or being written
        return 0


def _grades(out: Path) -> list[tuple]:
    with sqlite3.connect(f"file:{out / 'gradebook.db'}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return db.execute("SELECT * FROM grade ORDER BY id").fetchall()


@pytest.fixture
def needs_linux():
    if not LINUX:
        pytest.skip("reads /proc to find kernels and orphans")


@pytest.fixture
def short_tmp():
    """The grading command's TMPDIR, short: the kernels' ipc sockets live below it (a socket
    path has at most 107 bytes), and pytest's tmp_path is long."""
    folder = Path(tempfile.mkdtemp(prefix="cf-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest_slow
def test_a_worker_killed_mid_class_costs_nothing(tmp_path, short_tmp, needs_linux):
    _write_students(tmp_path / "submitted", ["ann", "bob"])
    run = Run(tmp_path, short_tmp)
    kernel = _wait_for(lambda: run.kernel_of("ann"), "ann's kernel", run.process)
    worker = int(Path(f"/proc/{kernel}/stat").read_text().rsplit(")", 1)[1].split()[1])
    run.descendants()
    os.kill(worker, signal.SIGKILL)  # as the OOM killer would
    status, out, err = run.finish()
    assert status == 0, out + err
    rows = _csv(tmp_path / "out")
    assert {s: float(r["score"]) for s, r in rows.items()} == {"ann": FULL, "bob": FULL}, out + err
    assert "2 graded, 0 skipped" in out and "Traceback" not in err
    run.assert_clean()


@pytest_slow
def test_sigint_stops_cleanly_and_a_rerun_completes_the_class_changing_nothing_else(tmp_path, short_tmp, needs_linux):
    _write_students(tmp_path / "submitted", ["ann", "bob", "cy"])
    out = tmp_path / "out"
    run = Run(tmp_path, short_tmp, workers=1)
    _wait_for(lambda: _graded_rows(out) >= 1, "a first submission in the gradebook", run.process)
    run.descendants()
    run.process.send_signal(signal.SIGINT)
    status, stdout, err = run.finish()
    assert status == 130, stdout + err
    assert "stopped by SIGINT" in err and "Traceback" not in err
    first = _csv(out)
    assert len(first) >= 1 and all(float(r["score"]) == FULL for r in first.values()), first
    run.assert_clean()
    graded_first = set(first)
    feedback_before = {s: (out / "feedback" / s / LESSON / "fc_layers.html").read_bytes() for s in graded_first}
    grades_before = _grades(out)

    rerun = Run(tmp_path, short_tmp, workers=1)
    status, stdout, err = rerun.finish()
    assert status == 0, stdout + err
    assert f"{3 - len(graded_first)} graded, {len(graded_first)} skipped" in stdout, stdout
    rows = _csv(out)
    assert {s: float(r["score"]) for s, r in rows.items()} == {"ann": FULL, "bob": FULL, "cy": FULL}
    for student in graded_first:
        assert rows[student] == first[student], f"the re-run changed {student}'s row"
        assert (out / "feedback" / student / LESSON / "fc_layers.html").read_bytes() == feedback_before[student]
    assert set(grades_before) <= set(_grades(out)), "the re-run changed a grade it had before"
    rerun.assert_clean()

    # Once more: nothing left to grade, nothing changes.
    csv_bytes, grades = (out / "grades.csv").read_bytes(), _grades(out)
    status, stdout, err = Run(tmp_path, short_tmp, workers=1).finish()
    assert status == 0 and "0 graded, 3 skipped" in stdout, stdout + err
    assert (out / "grades.csv").read_bytes() == csv_bytes and _grades(out) == grades


@pytest_slow
def test_sigterm_stops_cleanly_with_no_orphans(tmp_path, short_tmp, needs_linux):
    _write_students(tmp_path / "submitted", ["ann", "bob"])
    run = Run(tmp_path, short_tmp)
    _wait_for(lambda: run.kernel_of("ann") or run.kernel_of("bob"), "a kernel", run.process)
    assert run.descendants()
    run.process.send_signal(signal.SIGTERM)
    status, out, err = run.finish()
    assert status == 143, out + err
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    assert (tmp_path / "out" / "grades.csv").exists()
    run.assert_clean()


@pytest.fixture
def small_disk(tmp_path):
    """--out on a tmpfs of its own (needs root, or the test is skipped)."""
    folder = tmp_path / "out"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill_disk(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    try:
        while True:
            os.write(fd, b"\0")
    except OSError:
        pass
    os.close(fd)
    return filler


@pytest_slow
def test_a_full_disk_gives_one_line_and_keeps_the_gradebook(tmp_path, short_tmp, small_disk, needs_linux):
    out = small_disk
    _write_students(tmp_path / "submitted", ["ann"])
    status, stdout, err = Run(tmp_path, short_tmp).finish()
    assert status == 0, stdout + err
    csv_before, grades_before = (out / "grades.csv").read_bytes(), _grades(out)

    _write_students(tmp_path / "submitted", ["bob"])
    filler = _fill_disk(out)
    run = Run(tmp_path, short_tmp)
    status, stdout, err = run.finish()
    assert status != 0, stdout + err
    assert "no space left" in err and "Traceback" not in err and "sqlite" not in err.lower(), err
    assert (out / "grades.csv").read_bytes() == csv_before
    assert _grades(out) == grades_before
    run.assert_clean()

    filler.unlink()
    status, stdout, err = Run(tmp_path, short_tmp).finish()
    assert status == 0 and "1 graded, 1 skipped" in stdout, stdout + err
    assert {s: float(r["score"]) for s, r in _csv(out).items()} == {"ann": FULL, "bob": FULL}


@pytest_slow
@pytest.mark.filterwarnings("ignore:.*not in session")  # nbgrader's add_submission, every time
def test_a_submission_not_graded_is_never_a_zero(tmp_path):
    out = tmp_path / "out"
    template = _template({LESSON}, tmp_path)
    prepare_output(out, {LESSON}, template)

    def graded(student: str, points: float) -> Outcome:
        outcome = Outcome(student, LESSON, score=points, max_score=FULL, graded=True)
        outcome.cells = [CellResult("fc_layers", "check_affine_forward", points, 2.0)]
        return outcome

    merge(out, graded("ann", 2.0), "digest-1")
    merge(out, Outcome("ann", LESSON, not_graded="the set-up cell timed out"))  # ann's earlier grade stays
    merge(out, Outcome("bob", LESSON, not_graded=WORKER_DIED))  # bob has no grade at all
    export_csv(out)
    rows = _csv(out)
    assert float(rows["ann"]["score"]) == 2.0 and rows["ann"]["not_graded"] == "the set-up cell timed out"
    assert rows["bob"]["score"] == "" and rows["bob"]["raw_score"] == "" and rows["bob"]["not_graded"] == WORKER_DIED
    summary = summary_table([graded("ann", 2.0), Outcome("bob", LESSON, max_score=FULL, not_graded=WORKER_DIED)])
    bob = next(line for line in summary.splitlines() if line.startswith("bob"))
    assert f"not graded: {WORKER_DIED}" in bob and " 0 " not in bob
    assert "1 graded, 0 skipped (unchanged since graded), 1 not graded" in summary
