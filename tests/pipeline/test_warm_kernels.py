"""Kernels started ahead (autograder.warm_kernels): which kernel a notebook gets, what
becomes of the record runs, that none is started for nothing or left running, and that
the kernel started ahead is really there beside the running one (so that the sandbox's
test in test_grading_hostile, where a submission cannot reach it, means something).

That grades do not depend on it: test_grading's class is graded with kernels started
ahead and compared with a run without; test_dask compares a local run with a cluster's.
"""

from __future__ import annotations

import concurrent.futures
import os
from pathlib import Path

import nbformat
import pytest

from autograder.class_run import _below, _process_tree, grade_class, run_tasks
from autograder.execution import GuardedExecute
from autograder.warm_kernels import WARM_IMPORTS, WarmKernels, warm_up_arguments

from .fixture_class import (
    FULL,
    LESSON,
    NEIGHBOURS,
    NEIGHBOURS_MARK,
    NOTEBOOK,
    _fill,
    _solution_answers,
    _student_copy,
    neighbours_found,
)

# ------------------------------------------------------------------ the pool's bookkeeping


class FakeRun:
    def __init__(self, name: str):
        self.folder, self.previous_env, self.discarded = name, None, False

    def discard(self) -> None:
        self.discarded = True


class FakeKernel:
    def __init__(self, record_run, workdir: Path):
        self.record_run, self.workdir, self.own_workdir = record_run, workdir, False
        self.is_alive, self.closed = True, False

    def alive(self) -> bool:
        return self.is_alive

    def close(self) -> None:
        self.closed = True


class FakeExecutor:
    """GuardedExecute's launch, recorded."""

    def __init__(self):
        self.launched: list[FakeKernel] = []
        self.log = __import__("logging").getLogger("test")

    def launch(self, kernel_name, record_run, workdir, extra_arguments=()):
        assert list(extra_arguments) == warm_up_arguments()
        kernel = FakeKernel(record_run, workdir)
        self.launched.append(kernel)
        return kernel


@pytest.fixture
def pool(tmp_path, monkeypatch):
    monkeypatch.setattr("autograder.warm_kernels.new_record_run", lambda parent: FakeRun("ahead"))
    return WarmKernels(tmp_path / "kernels", tmp_path / "records")


def test_the_first_notebook_starts_its_kernel_and_the_next_one_ahead(pool):
    executor, fresh = FakeExecutor(), FakeRun("fresh")
    kernel = pool.take(executor, "python3", fresh)
    assert kernel is executor.launched[0] and kernel.record_run is fresh and not fresh.discarded
    assert len(executor.launched) == 2  # the next one, ahead
    assert all(k.own_workdir and k.workdir.parent == pool.folder for k in executor.launched)
    assert executor.launched[0].workdir != executor.launched[1].workdir


def test_the_kernel_started_ahead_comes_with_its_own_record_run(pool):
    executor = FakeExecutor()
    pool.take(executor, "python3", FakeRun("first"))
    ahead = executor.launched[1]
    fresh = FakeRun("second")
    fresh.previous_env = "what the environment held"
    kernel = pool.take(executor, "python3", fresh)
    assert kernel is ahead and kernel.record_run.folder == "ahead"
    assert fresh.discarded  # SeedHiddenChecks' run: no kernel was given it
    assert kernel.record_run.previous_env == "what the environment held"  # given back after the replay


def test_a_kernel_that_died_while_it_waited_is_replaced(pool):
    executor = FakeExecutor()
    pool.take(executor, "python3", FakeRun("first"))
    ahead = executor.launched[1]
    ahead.is_alive = False
    fresh = FakeRun("second")
    kernel = pool.take(executor, "python3", fresh)
    assert kernel is not ahead and kernel.record_run is fresh
    assert ahead.closed and ahead.record_run.discarded


def test_a_kernel_started_for_another_kernel_name_is_not_used(pool):
    executor = FakeExecutor()
    pool.take(executor, "python3", FakeRun("first"))
    ahead = executor.launched[1]
    kernel = pool.take(executor, "another", FakeRun("second"))
    assert kernel is not ahead and ahead.closed


def test_none_is_started_ahead_for_the_last_task_and_close_stops_the_waiting_one(pool):
    executor = FakeExecutor()
    pool.keep_warm = False
    pool.take(executor, "python3", FakeRun("only"))
    assert len(executor.launched) == 1
    pool.keep_warm = True
    pool.take(executor, "python3", FakeRun("next"))
    ahead = executor.launched[-1]
    pool.close()
    assert ahead.closed and ahead.record_run.discarded


def test_the_warm_up_imports_bind_no_name():
    [argument] = warm_up_arguments()
    statement = argument.split("=", 1)[1]
    namespace: dict = {}
    exec(statement, namespace)  # the modules are installed: this is what the kernel runs
    assert set(namespace) == {"__builtins__"}
    assert all(module in statement for module in WARM_IMPORTS)


def test_each_task_is_told_whether_more_are_queued():
    told = []
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        run_tasks(
            ["a", "b", "c"],
            lambda task, more: (task, more),
            lambda: executor,
            1,
            lambda task, result: told.append(result),
            lambda task, error: pytest.fail(f"{task} lost"),
            tell_more=True,
        )
    assert told == [("a", True), ("b", True), ("c", False)]


# ------------------------------------------------------------------ a real class, no sandbox


def _descendants() -> set[int]:
    return set(_below(_process_tree(), os.getpid()))


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_unsandboxed_the_kernel_started_ahead_is_there_and_none_is_wasted_or_left(tmp_path, monkeypatch):
    """Without the sandbox, a submission finds the next kernel's record folder beside its
    own and spoils it: the next student loses points. (So `grade` starts kernels ahead
    only in the sandbox unless told to; the sandbox's test is
    test_a_kernel_cannot_reach_the_kernel_started_ahead_of_the_next.)"""
    answers = _solution_answers()
    spoiler = _fill(_student_copy(), answers)
    spoiler.cells.append(nbformat.v4.new_code_cell(NEIGHBOURS))
    for student, notebook in (("a_spoiler", spoiler), ("b_victim", _fill(_student_copy(), answers))):
        folder = tmp_path / "submitted" / student / LESSON
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / NOTEBOOK)
    launches = []
    original = GuardedExecute.launch
    monkeypatch.setattr(GuardedExecute, "launch", lambda self, *a, **k: launches.append(a) or original(self, *a, **k))
    before = _descendants()
    outcomes = {
        o.student: o
        for o in grade_class(
            tmp_path / "submitted", out=tmp_path / "out", progress=False, in_process=True, sandbox=False, prestart=True
        )
    }
    assert len(launches) == 2, "a kernel was started for no notebook"
    assert not (_descendants() - before), "a kernel is still running after the class"
    printed = neighbours_found(tmp_path / "out", "a_spoiler")
    assert printed == [f"{NEIGHBOURS_MARK} 1"], printed
    assert outcomes["a_spoiler"].score == FULL
    assert outcomes["b_victim"].score < FULL  # its seed and records were spoiled
