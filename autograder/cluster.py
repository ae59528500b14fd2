"""A class graded on a Dask distributed cluster (``grade --scheduler tcp://HOST:PORT``).

The same work as a local class run (autograder.class_run), through Dask's
``concurrent.futures`` executor (``Client.get_executor``): one task is one submission,
graded by autograder.grading.ScratchCourse on a worker, in the same bubblewrap sandbox as
a local worker uses. Dask is the engine: its scheduler places the tasks, and a task whose
worker is lost mid-task is started again on another worker (the scheduler's
``allowed-failures``); only a task that kills worker after worker is given up, and the
class run reports it "not graded".

A worker may be another machine, sharing no folder with the coordinator: a task carries
its input as data (a Parcel: the lesson's notebooks of the submission, taken in by the
coordinator under the same rules as locally) and returns its output as data (a Delivery:
the Outcome, the autograded notebooks and the feedback pages). The coordinator stays
the only writer of the output course: gradebook, autograded/, feedback/, grades.csv.

What a worker needs (docs/grading-at-scale.md): this course installed (the same
environment), bubblewrap, and one thread per worker process (``--nthreads 1``).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .grading import Outcome, ScratchCourse, Settings, Submission, sandbox_status
from .intake import take_in

#: Tasks in flight per worker thread of the cluster: one graded, one waiting to start,
#: so that no worker idles between tasks and the coordinator holds few parcels at once.
IN_FLIGHT_PER_THREAD = 2


@dataclass(frozen=True)
class Parcel:
    """One submission as data: its notebooks (name -> bytes, taken in by the coordinator:
    regular files only, under the size cap) and what taking them in found."""

    student: str
    assignment: str
    notebooks: tuple[tuple[str, bytes], ...]
    problems: tuple[str, ...] = ()


@dataclass
class Delivery:
    """What a worker hands back: the outcome, and the published files by kind
    ("autograded" or "feedback") -> file name -> bytes."""

    outcome: Outcome
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)


# ------------------------------------------------------------------ the coordinator's side


def pack(submission: Submission, expected: set[str], max_bytes: int, staging: Path) -> Parcel:
    """Take a submission in (autograder.intake.take_in: no link followed, nothing but the
    lesson's notebooks, capped) and hold it as data for a worker elsewhere."""
    target = Path(tempfile.mkdtemp(prefix="parcel-", dir=staging))
    try:
        problems = take_in(submission.folder, target, expected, max_bytes)
        notebooks = tuple((p.name, p.read_bytes()) for p in sorted(target.glob("*.ipynb")))
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return Parcel(submission.student, submission.assignment, notebooks, tuple(problems))


def template_blob(template: Path) -> bytes:
    """The template course (config, sources, a gradebook with the assignments) as a
    gzipped tar in memory: sent with each task; each worker unpacks it once (_course_for)
    and grades in a copy of it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(template, arcname="template")
    return buffer.getvalue()


def deliver(out: Path, delivery: Delivery, stems: list[str]) -> None:
    """Write a worker's autograded notebooks and feedback into the output course. Only the
    lesson's own names are written, at paths the coordinator builds itself."""
    outcome = delivery.outcome
    for kind, suffix in (("autograded", ".ipynb"), ("feedback", ".html")):
        target = out / kind / outcome.student / outcome.assignment
        shutil.rmtree(target, ignore_errors=True)
        files = delivery.files.get(kind, {})
        for stem in stems:
            content = files.get(stem + suffix)
            if content is not None:
                target.mkdir(parents=True, exist_ok=True)
                staged = target / f".{stem}{suffix}.new"
                staged.write_bytes(content)
                os.replace(staged, target / f"{stem}{suffix}")


def connect(scheduler: str, timeout: float = 60.0):
    """A client of the Dask scheduler at ``scheduler`` (tcp://HOST:PORT)."""
    from distributed import Client

    return Client(scheduler, timeout=timeout, set_as_default=False)


def workers_sandboxed(client) -> dict[str, tuple[bool, str]]:
    """Each worker's sandbox: whether bubblewrap grades there, and if not, why. A worker
    lost while it is asked is left out: the class goes on with the others."""
    answers = client.run(sandbox_status, on_error="return")
    return {worker: answer for worker, answer in answers.items() if not isinstance(answer, BaseException)}


def release_kernels() -> None:
    """On a worker, after a class: stop the kernels its scratch courses started ahead
    (autograder.warm_kernels), so that none waits in memory until the next class."""
    with _COURSES_LOCK:
        courses = list(_COURSES.values())
    for course in courses:
        if course.kernels is not None:
            course.kernels.close()


def run_on_cluster(
    tasks: list,
    submit: Callable[[object, bool], concurrent.futures.Future],
    capacity: Callable[[], int],
    on_result: Callable,
    on_lost: Callable,
    stop: Callable[[], None] = lambda: None,
) -> None:
    """Submit every task, ``capacity()`` at a time (it follows the cluster as workers come
    and go), as ``submit(task, more)`` (more: tasks are still queued), and hand each result to ``on_result(task, result)`` in this process. A task
    that Dask gave up on (its workers kept dying: KilledWorker, or the scheduler is gone)
    goes to ``on_lost(task, error)``, whose result is handed on. DiskFull is raised here.
    ``stop()`` may raise between steps to end the run; what is in flight is cancelled."""
    from .class_run import DiskFull

    queue = deque(tasks)
    running: dict[concurrent.futures.Future, object] = {}
    try:
        while queue or running:
            stop()
            while queue and len(running) < max(1, capacity()):
                task = queue.popleft()
                running[submit(task, bool(queue))] = task  # (whether more tasks are queued)
            done, _ = concurrent.futures.wait(running, timeout=0.5, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                try:
                    result = future.result()
                except DiskFull:
                    raise
                except Exception as error:
                    result = on_lost(task, error)
                on_result(task, result)
    finally:
        for future in running:
            future.cancel()


def cluster_capacity(client) -> Callable[[], int]:
    """Tasks to keep in flight: IN_FLIGHT_PER_THREAD per worker thread now in the cluster
    (asked of the scheduler at most once a second)."""
    state = {"at": 0.0, "threads": 1}

    def capacity() -> int:
        if time.monotonic() - state["at"] > 1.0:
            state["threads"] = sum(client.nthreads().values())
            state["at"] = time.monotonic()
        return IN_FLIGHT_PER_THREAD * max(1, state["threads"])

    return capacity


# ------------------------------------------------------------------ the worker's side

#: One scratch course per worker thread and template: prepared once (nbgrader's API,
#: the template's gradebook and sources), then reused for every task.
_COURSES: dict[tuple[int, str], ScratchCourse] = {}
_COURSES_LOCK = threading.Lock()


def _course_for(blob: bytes, settings: Settings) -> ScratchCourse:
    key = (threading.get_ident(), hashlib.sha256(blob + repr(settings).encode()).hexdigest())
    with _COURSES_LOCK:
        course = _COURSES.get(key)
    if course is not None:
        return course
    from .grading import _quiet_nbgrader

    _quiet_nbgrader()
    unpacked = Path(tempfile.mkdtemp(prefix="rnn-template-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            tar.extractall(unpacked, filter="data")  # our own archive; still no links out, no devices
        course = ScratchCourse(unpacked / "template", settings)
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
    with _COURSES_LOCK:
        _COURSES[key] = course
    atexit.register(course.close)
    return course


def grade_parcel(parcel: Parcel, blob: bytes, settings: Settings, more: bool = False) -> Delivery:
    """A Dask task: grade one submission in this worker's scratch course and hand back
    the outcome and the published files. Never writes outside its temporary folders.
    ``more``: the class has more tasks queued (see ScratchCourse.grade)."""
    from .class_run import _grade_in_worker

    course = _course_for(blob, settings)
    work = Path(tempfile.mkdtemp(prefix="rnn-task-"))
    try:
        folder = work / "submitted" / parcel.student / parcel.assignment
        folder.mkdir(parents=True)
        for name, content in parcel.notebooks:
            if "/" not in name and name.endswith(".ipynb") and not name.startswith("."):
                (folder / name).write_bytes(content)
        submission = Submission(parcel.student, parcel.assignment, folder)
        outcome = _grade_in_worker(submission, str(work / "out"), course, more)
        outcome.problems[:0] = list(parcel.problems)
        files = {}
        for kind in ("autograded", "feedback"):
            published = work / "out" / kind / parcel.student / parcel.assignment
            if published.is_dir():
                files[kind] = {p.name: p.read_bytes() for p in published.iterdir() if p.is_file()}
        return Delivery(outcome, files)
    finally:
        shutil.rmtree(work, ignore_errors=True)
