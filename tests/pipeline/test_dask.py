"""`grade --scheduler`: a real `dask scheduler` and two `dask worker` processes on loopback
grade part of the fixture class with the same scores, grades.csv and feedback as a local
run; a worker killed mid-class (with its kernel) costs nothing: its task is graded again
elsewhere and the class completes.

Few and small (four submissions of lesson 01), and nothing waits on speed: each step
waits for a file or a process with a generous limit."""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from autograder.class_run import grade_class
from autograder.sandbox import sandbox_available

from .fixture_class import LESSON, fixtures

pytest.importorskip("distributed", reason="distributed (Dask) is not installed: pip install -e '.[dev]'")

pytestmark = pytest.mark.slow

TIMEOUT = 30  # seconds per cell
STUDENTS = ("correct", "partial", "cheat", "corrupt")
STARTUP = 180.0  # seconds for the scheduler and the workers to come up on a busy machine


def _dask(*args: str) -> list[str]:
    """The `dask` command of this environment (beside this interpreter)."""
    return [str(Path(sys.executable).with_name("dask")), *args]


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    stack, found = list(children.get(pid, ())), []
    while stack:
        found.append(stack.pop())
        stack += children.get(found[-1], ())
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Cluster:
    """A scheduler and worker processes on 127.0.0.1, logs in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.scheduler_file = folder / "scheduler.json"
        # Short: the kernels' ipc sockets live under the workers' temporary folder.
        self.tmp = Path(tempfile.mkdtemp(prefix="dask-"))
        self.processes: dict[str, subprocess.Popen] = {}
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        self.env = {**env, "TMPDIR": str(self.tmp)}
        self._start(
            "scheduler",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(self.scheduler_file),
        )
        _wait_for(self.scheduler_file.exists, STARTUP, "the scheduler's file")
        import json

        self.address = _wait_for(
            lambda: json.loads(self.scheduler_file.read_text() or "{}").get("address"), STARTUP, "its address"
        )

    def _start(self, name: str, *args: str) -> None:
        log = open(self.folder / f"{name}.log", "w")
        self.processes[name] = subprocess.Popen(
            _dask(*args), stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )

    def add_worker(self, name: str) -> None:
        # One task at a time per worker process, no nanny (a killed worker stays dead).
        self._start(
            name,
            "worker",
            self.address,
            "--host",
            "127.0.0.1",
            "--nthreads",
            "1",
            "--no-nanny",
            "--no-dashboard",
            "--name",
            name,
            "--local-directory",
            str(self.tmp),
        )

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=STARTUP) as client:
            client.wait_for_workers(count, timeout=STARTUP)

    def kill(self, name: str) -> None:
        """SIGKILL a process and everything below it (its kernel): a machine lost."""
        process = self.processes[name]
        for pid in [process.pid, *_descendants(process.pid)]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        process.wait(30)

    def close(self) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.terminate()
        for name, process in self.processes.items():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill(name)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in sorted(self.folder.glob("*.log"))
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask")
    cluster = Cluster(folder)
    try:
        cluster.add_worker("worker-a")
        cluster.add_worker("worker-b")
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def submitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("class") / "submitted"
    for fixture in fixtures(TIMEOUT):
        if fixture.student in STUDENTS:
            fixture.write(root / fixture.student / LESSON)
    return root


@pytest.fixture(scope="module")
def local(submitted, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    outcomes = grade_class(submitted, workers=1, timeout=TIMEOUT, out=out, progress=False)
    return out, {o.student: o for o in outcomes}


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def _feedback(out: Path) -> dict[str, str]:
    """Each feedback page's text, with what differs between any two gradings of the same
    notebook blanked: the errors and worst indices of checks on the inputs drawn from the
    seed drawn at grading time, timestamps, and where the kernel's output stream happened
    to be cut into pieces (markup only)."""
    pages = {}
    for path in sorted((out / "feedback").rglob("*.html")):
        text = re.sub(r"<[^>]*>", " ", path.read_text())
        text = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?", "<time>", text)
        text = re.sub(r"\d+\.\d+(e[-+]?\d+)?", "<number>", text)
        text = re.sub(r"index \[[\d, ]*\]", "index [<i>]", text)
        pages[str(path.relative_to(out))] = " ".join(text.split())
    return pages


def test_a_dask_cluster_grades_as_the_local_run_does(cluster, submitted, local, tmp_path):
    out = tmp_path / "out"
    try:
        outcomes = grade_class(
            submitted, timeout=TIMEOUT, out=out, progress=False, scheduler=cluster.address, sandbox=True
        )
    except BaseException:
        print(cluster.log())
        raise
    local_out, local_outcomes = local
    assert {o.student for o in outcomes} == set(STUDENTS)
    for outcome in outcomes:
        expected = local_outcomes[outcome.student]
        assert outcome.not_graded == expected.not_graded == ""
        assert [(c.grade_id, c.points) for c in outcome.cells] == [(c.grade_id, c.points) for c in expected.cells]
        assert outcome.problems == expected.problems, outcome.student
    assert _rows(out) == _rows(local_out)
    assert (out / "canvas.csv").read_text() == (local_out / "canvas.csv").read_text()
    pages, local_pages = _feedback(out), _feedback(local_out)
    assert set(pages) == set(local_pages) and pages, "feedback pages differ from the local run's"
    for name, page in pages.items():
        assert page == local_pages[name], f"{name} differs from the local run's"
    # Nothing but the lesson's notebooks and their feedback reached the output.
    published = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and "feedback" in p.parts)
    assert published == sorted(local_pages)


def test_the_sandbox_is_the_local_one_on_every_worker(cluster):
    """Each worker reports the sandbox it grades in: the same as this machine's."""
    from distributed import Client

    from autograder.cluster import workers_sandboxed

    with Client(cluster.address, timeout=STARTUP) as client:
        states = workers_sandboxed(client)
    assert states and all(state[0] == sandbox_available()[0] for state in states.values()), states


def test_a_worker_killed_mid_class_loses_nothing(cluster, submitted, local, tmp_path):
    """worker-a is killed (with its kernel) while it grades; worker-b grades the rest,
    the killed task included. Waits on the kernel's process, never on time."""
    out = tmp_path / "out"
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["outcomes"] = grade_class(
                submitted, timeout=TIMEOUT, out=out, progress=False, scheduler=cluster.address
            )
        except BaseException as error:  # handed to the test's thread
            result["error"] = error

    worker = cluster.processes["worker-a"].pid
    # (No kernel may wait in a worker after a class: each run stops those started ahead.)
    earlier = {p for p in _descendants(worker) if "ipykernel" in _cmdline(p)}
    assert not earlier, "a kernel of an earlier class still runs in worker-a"
    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    # Mid-task: worker-a has a kernel running a notebook.
    _wait_for(
        lambda: [p for p in _descendants(worker) if "ipykernel" in _cmdline(p)] or not runner.is_alive(),
        STARTUP,
        "worker-a to start a kernel",
    )
    assert runner.is_alive(), "the class was graded before worker-a could be killed"
    cluster.kill("worker-a")
    runner.join(600)
    assert not runner.is_alive(), "the class run did not finish after a worker was killed\n" + cluster.log()
    if "error" in result:
        print(cluster.log())
        raise result["error"]
    # The scheduler saw worker-a go while the class was being graded.
    removed = [line for line in (cluster.folder / "scheduler.log").read_text().splitlines() if "Remove worker" in line]
    print("\n".join(removed))
    assert any("name: worker-a" in line for line in removed), "the scheduler never lost worker-a"
    outcomes = {o.student: o for o in result["outcomes"]}
    assert set(outcomes) == set(STUDENTS)
    for student, outcome in outcomes.items():
        assert not outcome.not_graded, f"{student}: {outcome.not_graded}"
        assert outcome.score == local[1][student].score, student
    assert _rows(out) == _rows(local[0])
