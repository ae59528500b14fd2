"""Shared fixtures for the repository's own test suite, and the markers that sort it.

Every test gets the marker of its level (`pytest -m unit`, `-m "lessons or pipeline"`):
- unit: one function or module in isolation, in-process;
- lessons: the lessons' notebooks, their checks, hidden checks and known mistakes;
- pipeline: grading end to end (nbgrader, the sandbox, record and replay, class runs, release);
- environment: installation, JupyterLab as `make lab` starts it, the GPU check, the browser.
The level is the test's folder (tests/unit/, tests/lessons/, ...). Until the files move
there (/work/notes/regroup.sh), FLAT_LAYOUT says which level each file will go to.

The notebook and pipeline runs (nbgrader, kernels, class runs, servers, browsers) are also
marked `slow`; `make test-fast` leaves them out.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from autograder import COURSE_ROOT
from autograder.build import assignment_ids
from autograder.nbgrader_cli import nbgrader_env

LESSON_IDS = assignment_ids()


def lesson_notebooks(folder: str) -> list[Path]:
    """Every notebook of every lesson under solutions/ or lessons/."""
    return sorted((COURSE_ROOT / folder).glob("*/*.ipynb"))


@pytest.fixture
def scratch_course(tmp_path: Path) -> Path:
    """A copy of the course (config, solutions, lessons) in a temporary folder.

    nbgrader_config.py sets the course root from its own location, so the copy is a
    course of its own: tests can grade in it without touching the repository.
    """
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    for folder in ("solutions", "lessons"):
        shutil.copytree(COURSE_ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return tmp_path


def venv_environment() -> dict[str, str]:
    """The environment for subprocesses that run nbgrader (alembic must be on PATH)."""
    return nbgrader_env()


TESTS = Path(__file__).resolve().parent
LEVELS = ("unit", "lessons", "pipeline", "environment")

#: The level of each test file while the suite is still flat. regroup.sh reads this table to
#: move each file into tests/<level>/; after the move the folder says it and this goes.
FLAT_LAYOUT: dict[str, str] = {}  # every test file is in its level's folder now

#: Every test of these folders starts JupyterLab and drives Chromium.
SLOW_FOLDERS = {"browser"}

#: Notebook and pipeline runs in files whose other tests are quick, by file and test name
#: (the rest of the suite marks its own with @pytest.mark.slow). Each runs nbgrader, a lesson's
#: cells, worker processes, a kernel or pytest itself, for tens of seconds on 2 cores.
SLOW_RUNS = {
    "test_class_faults.py": {  # spawn worker processes and kill them
        "test_a_dead_worker_costs_only_its_own_task_which_is_retried",
        "test_a_task_that_kills_every_worker_is_given_up_after_the_retry",
        "test_stopping_terminates_the_workers",
    },
    "test_cli.py": {  # nbgrader generate over every lesson; the learner's `check` command
        "test_build_check_passes_on_the_repository",
        "test_build_check_names_a_hand_edited_lesson",
        "test_check_refuses_what_is_not_a_lesson",
    },
    "test_gpu_check.py": {  # run pytest and autograder.gpu_check in a subprocess
        "test_every_cuda_test_is_marked_cuda",
        "test_without_cuda_it_says_so_and_claims_nothing",
    },
    "test_leak_scan.py": {"test_no_student_side_callable_passes_a_graded_check"},  # every lesson's cells
    "test_notebooks.py": {"test_lessons_are_generated_from_solutions"},  # nbgrader generate
    "test_sandbox.py": {  # nbgrader autograde in the sandbox; kernels with and without it
        "test_nbgrader_autograde_through_the_sandbox",
        "test_report_overhead",
    },
}


def level_of(path: Path) -> str | None:
    """unit, lessons, pipeline or environment: the folder under tests/, else FLAT_LAYOUT."""
    relative = path.resolve().relative_to(TESTS)
    if relative.parts[0] in LEVELS:
        return relative.parts[0]
    return FLAT_LAYOUT.get(relative.as_posix())


def _is_slow_run(item: pytest.Item) -> bool:
    path = Path(item.path)
    if SLOW_FOLDERS & set(path.resolve().relative_to(TESTS).parts[:-1]):
        return True
    return getattr(item, "originalname", item.name) in SLOW_RUNS.get(path.name, ())


def _warn_of_stale_names(modules: dict) -> None:
    """A test in SLOW_RUNS that was renamed would silently become part of `make test-fast`."""
    for path, module in modules.items():
        missing = sorted(name for name in SLOW_RUNS.get(path.name, ()) if not hasattr(module, name))
        if missing:
            warnings.warn(
                f"tests/conftest.py SLOW_RUNS names tests that {path.name} does not have: {missing}",
                pytest.PytestConfigWarning,
                stacklevel=1,
            )


def pytest_collection_modifyitems(items):
    """Mark each test with its level and, for the notebook and pipeline runs, `slow`.

    A test that skips for want of a GPU ("no CUDA GPU ...") is a CUDA test: mark it `cuda`,
    so that `make gpu-check` (pytest -m cuda) runs every one of them."""
    unplaced, modules = set(), {}
    for item in items:
        path = Path(item.path)
        level = level_of(path)
        if level:
            item.add_marker(level)
        else:
            unplaced.add(path.name)
        if _is_slow_run(item):
            item.add_marker(pytest.mark.slow)
        if getattr(item, "module", None) is not None:
            modules.setdefault(path, item.module)

        if item.get_closest_marker("cuda"):
            continue
        reasons = [str(mark.kwargs.get("reason", "")) for mark in item.iter_markers("skipif")]
        if any("no CUDA GPU" in reason for reason in reasons):
            item.add_marker(pytest.mark.cuda)
    if unplaced:
        warnings.warn(
            f"no level for {sorted(unplaced)}: put each under tests/<{'|'.join(LEVELS)}>/ "
            "(before the regrouping: add it to FLAT_LAYOUT in tests/conftest.py)",
            pytest.PytestConfigWarning,
            stacklevel=1,
        )
    _warn_of_stale_names(modules)
