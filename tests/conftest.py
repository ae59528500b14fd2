"""Shared fixtures for the repository's own test suite."""
from __future__ import annotations

import shutil
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


def pytest_collection_modifyitems(items):
    """A test that skips for want of a GPU ("no CUDA GPU ...") is a CUDA test: mark it
    `cuda`, so that `make gpu-check` (pytest -m cuda) runs every one of them."""
    for item in items:
        if item.get_closest_marker("cuda"):
            continue
        reasons = [str(mark.kwargs.get("reason", "")) for mark in item.iter_markers("skipif")]
        if any("no CUDA GPU" in reason for reason in reasons):
            item.add_marker(pytest.mark.cuda)
