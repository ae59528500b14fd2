"""The command line: `build --check`, a learner's `check`, and `release`, on good and bad input."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import COURSE_ROOT
from autograder.build import differences
from autograder.release import make_release, verify_release

from ..conftest import venv_environment
from .fixture_class import LESSON, NOTEBOOK, _fill, _solution_answers, _student_copy


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True, env=venv_environment()
    )


def test_build_check_passes_on_the_repository(tmp_path):
    result = _cli("build", "--check", cwd=tmp_path)  # from an unrelated folder
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lessons/ is what solutions/ generates" in result.stdout


def test_build_check_names_a_hand_edited_lesson(scratch_course):
    lesson = scratch_course / "lessons" / LESSON / NOTEBOOK
    notebook = nbformat.read(lesson, as_version=4)
    notebook.cells[0].source += "\nedited by hand"
    nbformat.write(notebook, lesson)
    (scratch_course / "lessons" / LESSON / "stray.txt").write_text("not generated")
    assert differences(scratch_course) == [f"lessons/{LESSON}/{NOTEBOOK}", f"lessons/{LESSON}/stray.txt"]


@pytest.fixture
def learner_notebooks(tmp_path):
    """A learner's folder: the lesson half done, and a notebook that is no lesson."""
    folder = tmp_path / "my work" / LESSON
    folder.mkdir(parents=True)
    answers = _solution_answers()
    nbformat.write(
        _fill(_student_copy(), {k: answers[k] for k in ("affine_forward", "tanh_forward")}), folder / NOTEBOOK
    )
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "scratch.ipynb")
    return folder / NOTEBOOK


@pytest.mark.slow
def test_check_scores_a_learners_notebook_without_touching_it(learner_notebooks, tmp_path):
    before = hashlib.sha256(learner_notebooks.read_bytes()).hexdigest()
    result = _cli("check", str(learner_notebooks), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr  # below full marks: non-zero
    out = result.stdout
    assert "check_affine_forward" in out and "2 / 2" in out and "pass" in out
    assert "check_affine_backward" in out and "0 / 3" in out and "FAIL" in out and "NotImplementedError" in out
    assert "total: 3 / 18" in out
    assert hashlib.sha256(learner_notebooks.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in learner_notebooks.parent.iterdir()) == [NOTEBOOK]  # nothing written beside it


@pytest.mark.slow
def test_check_grades_a_renamed_copy_run_with_a_relative_interpreter(learner_notebooks):
    """A copy renamed in its lesson's folder (JupyterLab's Duplicate), the command run from
    that folder with the interpreter's relative path: the sandbox gets a path it can follow,
    and nbgrader grades the copy under the lesson's name."""
    copy = learner_notebooks.with_name("fc_layers-Copy1.ipynb")
    learner_notebooks.rename(copy)
    python = os.path.relpath(sys.executable, copy.parent)
    result = subprocess.run(
        [python, "-m", "autograder", "check", copy.name],
        cwd=copy.parent,
        capture_output=True,
        text=True,
        env=venv_environment(),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "total: 3 / 18" in result.stdout, result.stdout + result.stderr


def test_check_refuses_what_is_not_a_lesson(learner_notebooks, tmp_path):
    result = _cli("check", str(tmp_path / "scratch.ipynb"), cwd=tmp_path)
    assert result.returncode != 0 and "not a lesson notebook" in result.stderr
    assert "--lesson 01_fc_layers" in result.stderr  # says how to go on with a renamed copy
    result = _cli("check", str(tmp_path / "missing.ipynb"), cwd=tmp_path)
    assert result.returncode != 0 and "no such notebook" in result.stderr


@pytest.fixture(scope="module")
def verified_bundle(tmp_path_factory) -> Path:
    """One verified bundle (the leak scan included) for the release tests: lesson 01 only."""
    return make_release(tmp_path_factory.mktemp("release") / "bundle", upto=LESSON)


def test_release_holds_no_solutions_references_or_hidden_tests(verified_bundle):
    bundle = verified_bundle
    assert (bundle / "lessons" / LESSON / NOTEBOOK).exists() and (bundle / "datasets").is_dir()
    assert (bundle / "course" / "checks" / "fc_layers.py").exists()
    for absent in ("solutions", "tests", "autograder"):
        assert not (bundle / absent).exists(), absent
    # The lessons in the bundle still run their visible checks: the package imports.
    result = subprocess.run(
        [sys.executable, "-c", "import course.checks.fc_layers, course.recording"],
        cwd=bundle,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_release_upto_keeps_the_earlier_lessons_only(verified_bundle):
    assert sorted(p.name for p in (verified_bundle / "lessons").iterdir()) == [LESSON]


def test_release_verification_catches_a_leak(verified_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(verified_bundle, bundle)
    shutil.copy2(COURSE_ROOT / "solutions" / LESSON / NOTEBOOK, bundle / "lessons" / LESSON / "leaked.ipynb")
    with pytest.raises(SystemExit, match="leaked.ipynb"):
        verify_release(bundle)
    (bundle / "lessons" / LESSON / "leaked.ipynb").unlink()
    answers = _solution_answers()["numerical_gradient"]
    (bundle / "notes.py").write_text(answers.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0])
    with pytest.raises(SystemExit, match="notes.py contains solution code"):
        verify_release(bundle)
