"""The student bundle is a self-study course of its own, and no course command destroys a
learner's work.

- the bundle's README names only what the bundle has (its links resolve; no solutions/,
  tests/ or instructor's commands), its Makefile has no target that needs what the bundle
  lacks, and installs no system package;
- `python -m course check` (student side) scores a notebook from any folder, with any
  interpreter path, as the lesson or a renamed copy, and exits non-zero below full marks;
- `release` takes the lessons from solutions/, never from a working lessons/, and leaves
  nothing on disk when it fails;
- `make lessons` (build.generate) keeps a learner's edited lesson in backups/;
- `python -m course reset` puts a lesson back and keeps the learner's copy.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import COURSE_ROOT, build, release

from .fixture_class import LESSON, NOTEBOOK, _fill, _solution_answers

UPTO = "02_rnn_cell"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """A bundle as release writes it (unverified: the leak scan has tests of its own)."""
    return release.write_bundle(tmp_path_factory.mktemp("bundle") / "rnn-course", upto=UPTO)


def _course(bundle: Path, *args: str, cwd: Path, python: str = sys.executable) -> subprocess.CompletedProcess:
    """`python -m course ARGS` as a learner in the bundle runs it: the bundle's own package."""
    env = {**os.environ, "PYTHONPATH": str(bundle)}
    return subprocess.run([python, "-m", "course", *args], cwd=cwd, env=env, capture_output=True, text=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ what the bundle holds


def test_bundle_has_the_learners_files_and_no_instructors(bundle):
    assert sorted(p.name for p in (bundle / "lessons").iterdir()) == ["01_fc_layers", UPTO]
    for absent in ("solutions", "tests", "autograder", "benchmarks"):
        assert not (bundle / absent).exists(), absent
    assert (bundle / "Makefile").read_bytes() == (COURSE_ROOT / "tools/bundle/Makefile").read_bytes()
    assert "autograder" not in (bundle / "nbgrader_config.py").read_text()
    assert "autograder.__main__" not in (bundle / "pyproject.toml").read_text()
    assert re.search(r'^course = "course\.__main__:main"$', (bundle / "pyproject.toml").read_text(), re.M)


def test_bundle_lessons_come_from_solutions_as_handed_out(bundle):
    """Fresh from nbgrader (no outputs, every checksummed cell as generated), and the
    copy kept for `reset` is the same."""
    for notebook in (bundle / "lessons").glob("*/*.ipynb"):
        assert not build.holds_work(notebook), notebook
        original = bundle / release.ORIGINALS / notebook.relative_to(bundle / "lessons")
        assert original.read_bytes() == notebook.read_bytes()


def test_bundle_readme_names_only_what_exists(bundle):
    readme = (bundle / "README.md").read_text()
    assert "{{" not in readme
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    local = [link for link in links if not re.match(r"https?://", link)]
    assert local, "no links found"
    for link in local:
        assert (bundle / link).exists(), f"README links to {link}, which the bundle lacks"
    paths = set(re.findall(r"`((?:lessons|course|datasets|tools|backups|\.originals)/[^`\s]*)`", readme))
    for path in paths:
        if "{" not in path and not path.startswith("backups/"):
            assert (bundle / path.rstrip("/")).exists(), path
    for lesson in ("03_bptt", "04_lstm", "07_text_generation"):
        assert lesson not in readme
    for instructor_only in ("solutions/", "tests/", "autograder", "make test", "gpu-check", "formgrader"):
        assert instructor_only not in readme, instructor_only
    cells, points = re.search(r"In all: (\d+) graded cells, (\d+) points\.", readme).groups()
    graded = [
        c.metadata.nbgrader
        for p in (bundle / "lessons").glob("*/*.ipynb")
        for c in nbformat.read(p, as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("grade")
    ]
    assert (int(cells), int(points)) == (len(graded), sum(g["points"] for g in graded))
    assert "python -m course check 01_fc_layers" in readme


def _make_dry_run(bundle: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-n", *args], cwd=bundle, capture_output=True, text=True)


def test_bundle_makefile_needs_nothing_the_bundle_lacks(bundle):
    makefile = (bundle / "Makefile").read_text()
    for script in re.findall(r"tools/[\w.]+", makefile):
        assert (bundle / script).is_file(), f"the Makefile runs {script}, which the bundle lacks"
    for absent in ("system-packages", "apt-get", "pytest", "autograder", "gpu_check"):
        assert absent not in makefile, absent
    assert "No rule to make target 'test'" in _make_dry_run(bundle, "test").stderr
    install = _make_dry_run(bundle, "install", "TORCH_INDEX=cpu", "PYTHON=python3.12")
    assert install.returncode == 0, install.stderr
    assert 'bash tools/install.sh "python3.12" .venv "" "cpu"' in install.stdout
    check = _make_dry_run(bundle, "--always-make", "check", "LESSON=01_fc_layers")
    assert "python -m course check $lesson" in check.stdout and "01_fc_layers" in check.stdout


def test_bundle_installs_only_the_students_package(bundle):
    code = "from setuptools import find_packages; print(sorted(find_packages(include=['autograder*', 'course*'])))"
    found = subprocess.run([sys.executable, "-c", code], cwd=bundle, capture_output=True, text=True, check=True)
    assert "'course'" in found.stdout and "autograder" not in found.stdout


# ------------------------------------------------------------------ release never half-writes


def test_release_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit, match="not empty"):
        release.make_release(tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_a_failed_release_leaves_nothing(tmp_path, monkeypatch):
    def verification_fails(out):
        assert (out / "lessons").is_dir()  # the bundle was written, in a scratch folder
        raise SystemExit("the student bundle is not clean: planted")

    monkeypatch.setattr(release, "verify_release", verification_fails)
    with pytest.raises(SystemExit, match="planted"):
        release.make_release(tmp_path / "out", upto="01_fc_layers")
    assert list(tmp_path.iterdir()) == []


def test_release_solutions_strips_hidden_tests(tmp_path):
    written = release.release_solutions(tmp_path / "answers", [LESSON])
    assert [p.relative_to(tmp_path) for p in written] == [Path("answers") / LESSON / NOTEBOOK]
    cells = nbformat.read(written[0], as_version=4).cells
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    for marker in ("HIDDEN TESTS", "BEGIN SOLUTION", "END SOLUTION", "autograder"):
        assert marker not in "\n".join(c.source for c in cells), marker
    assert not re.search(r"\bhidden\.\w+\(", code)
    answers = _solution_answers()["affine_forward"]
    body = [line for line in answers.splitlines() if "SOLUTION" not in line and line.strip()]
    assert body and all(line in code for line in body), "the solution code is missing"
    assert not any(c.get("outputs") for c in cells if c.cell_type == "code")
    with pytest.raises(SystemExit, match="no such lesson"):
        release.release_solutions(tmp_path / "more", ["99_nothing"])
    assert not (tmp_path / "more").exists()


def test_release_solutions_is_a_command(tmp_path, capsys):
    from autograder.__main__ import main

    assert main(["release-solutions", str(tmp_path / "answers"), LESSON]) == 0
    assert (tmp_path / "answers" / LESSON / NOTEBOOK).is_file()
    assert "hidden tests removed" in capsys.readouterr().out


# ------------------------------------------------------------------ the learner's self-check


@pytest.fixture
def answered(bundle, tmp_path) -> Path:
    """Lesson 01 with every answer filled in, under a name no lesson has, outside the bundle."""
    notebook = nbformat.read(bundle / "lessons" / LESSON / NOTEBOOK, as_version=4)
    path = tmp_path / "elsewhere" / "fc_layers-Copy1.ipynb"
    path.parent.mkdir()
    nbformat.write(_fill(notebook, _solution_answers()), path)
    return path


def test_check_says_how_to_check_a_renamed_copy(bundle, answered, tmp_path):
    result = _course(bundle, "check", str(answered), cwd=tmp_path)
    assert result.returncode == 2
    assert f"--lesson {LESSON}" in result.stderr and "01_fc_layers, 02_rnn_cell" in result.stderr
    result = _course(bundle, "check", "09_nothing", cwd=tmp_path)
    assert result.returncode == 2 and "no such lesson here" in result.stderr


@pytest.mark.slow
def test_check_scores_a_renamed_copy_with_a_relative_interpreter(bundle, answered):
    cwd = answered.parent
    python = os.path.relpath(sys.executable, cwd)  # e.g. ../../../work/main/.venv/bin/python
    before = _sha256(answered)
    result = _course(bundle, "check", answered.name, "--lesson", LESSON, cwd=cwd, python=python)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "total: 18 / 18 with the visible checks" in result.stdout
    assert len(re.findall(r"^check_\w+\s+\d+ / \d+\s+pass$", result.stdout, re.M)) == 10
    assert "hidden checks" in result.stdout and re.search(r"checked in \d+ s", result.stdout)
    assert _sha256(answered) == before and sorted(p.name for p in cwd.iterdir()) == [answered.name]


@pytest.mark.slow
def test_check_of_a_lesson_by_its_id_exits_non_zero_below_full_marks(bundle, tmp_path):
    result = _course(bundle, "check", LESSON, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "total: 0 / 18 with the visible checks" in result.stdout
    assert "check_affine_forward" in result.stdout and "FAIL  affine_forward still raises NotImplementedError" in (
        result.stdout
    )


# ------------------------------------------------------------------ nothing destroys work


def test_reset_keeps_the_learners_notebook(bundle, tmp_path):
    lesson = bundle / "lessons" / LESSON / NOTEBOOK
    handed_out = lesson.read_bytes()
    notebook = nbformat.read(lesson, as_version=4)
    _fill(notebook, {"affine_forward": _solution_answers()["affine_forward"]})
    nbformat.write(notebook, lesson)
    mine = lesson.read_bytes()
    try:
        result = _course(bundle, "reset", "01", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert lesson.read_bytes() == handed_out
        [backup] = (bundle / "backups" / LESSON).glob("fc_layers-*.ipynb")
        assert backup.read_bytes() == mine and str(backup.relative_to(bundle)) in result.stdout
        again = _course(bundle, "reset", LESSON, cwd=tmp_path)
        assert "nothing changed" in again.stdout and len(list((bundle / "backups" / LESSON).iterdir())) == 1
    finally:
        lesson.write_bytes(handed_out)
        shutil.rmtree(bundle / "backups", ignore_errors=True)


@pytest.mark.slow
def test_make_lessons_moves_an_edited_lesson_to_backups(scratch_course):
    lesson = scratch_course / "lessons" / LESSON / NOTEBOOK
    notebook = nbformat.read(lesson, as_version=4)
    _fill(notebook, {"affine_forward": _solution_answers()["affine_forward"]})
    nbformat.write(notebook, lesson)
    mine = lesson.read_bytes()
    untouched = scratch_course / "lessons" / UPTO
    assert not build.holds_work(untouched / "rnn_cell.ipynb")

    backups = build.generate(scratch_course, [LESSON, UPTO], now="20260101-120000")
    assert backups == [scratch_course / "backups" / "20260101-120000" / "lessons" / LESSON / NOTEBOOK]
    assert backups[0].read_bytes() == mine
    assert not build.holds_work(lesson)  # regenerated as handed out


def test_reset_in_a_clone_takes_the_committed_lesson(tmp_path, monkeypatch):
    """Without .originals/ (a git clone of the course), the original is the committed file."""
    from course import selfcheck

    clone = tmp_path / "clone"
    lesson = clone / "lessons" / LESSON / NOTEBOOK
    lesson.parent.mkdir(parents=True)
    shutil.copy2(COURSE_ROOT / "lessons" / LESSON / NOTEBOOK, lesson)
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "lessons"], check=True)
    committed = lesson.read_bytes()
    lesson.write_bytes(committed.replace(b"raise NotImplementedError()", b"return 42", 1))
    for name, value in [("COURSE_ROOT", clone), ("LESSONS", clone / "lessons"), ("BACKUPS", clone / "backups")]:
        monkeypatch.setattr(selfcheck, name, value)
    monkeypatch.setattr(selfcheck, "ORIGINALS", clone / ".originals")
    backup = selfcheck.reset("01", now="20260101-120000")
    assert lesson.read_bytes() == committed
    assert (
        backup == clone / "backups" / LESSON / "fc_layers-20260101-120000.ipynb" and b"return 42" in backup.read_bytes()
    )
