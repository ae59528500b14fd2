"""Shared fixtures for the repository's own test suite."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from autograder import COURSE_ROOT
from autograder.build import assignment_ids

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
    """os.environ with this interpreter's bin/ first on PATH: nbgrader runs `alembic` by
    name when it creates a gradebook, and finds it only there."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
