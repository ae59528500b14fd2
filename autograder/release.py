"""The student bundle: what a graded class hands out, with nothing that gives answers away.

It holds the generated lessons, the datasets, the student's package ``course`` (the
visible checks, the recording of hidden checks, the loaders) and the set-up files. It
never copies the instructor's package ``autograder`` (the NumPy references, the hidden
checks, the grading code), solutions/ or the tests: the layout draws the line, not a list
of exclusions;
``verify_release`` then proves that no solution code and no hidden test made it in, and
runs the leak scan on the bundle: no callable it offers passes a graded function's check.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from . import COURSE_ROOT

#: Folders copied into the bundle whole.
INCLUDE = ["datasets", "course"]
#: The learner's own set-up files (tools/bundle/): they replace the clone's, which are the
#: instructor's (a README about grading a class, a Makefile that runs the test suite).
LEARNER_FILES = COURSE_ROOT / "tools" / "bundle"
#: From the clone's tools/: what the bundle's Makefile and its learners run.
LEARNER_TOOLS = ["install.sh", "lab.sh", "lab_settings.py", "terminal.bashrc"]
#: The lessons as handed out, for `python -m course reset` (course/selfcheck.py).
ORIGINALS = ".originals"
#: What must never be in a bundle: the instructor's package and folders.
INSTRUCTOR_SIDE = ["autograder", "solutions", "tests"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")

#: Markers of nbgrader's solution and hidden-test regions, and imports of the instructor's package.
FORBIDDEN = re.compile(r"### BEGIN SOLUTION|### BEGIN HIDDEN TESTS|(from|import) autograder\b")
#: Consecutive lines of a solution region that count as a copy of it.
WINDOW = 3


def make_release(out: Path, upto: str | None = None) -> Path:
    """Write the bundle into a scratch folder beside ``out``, verify it, and only then move
    it into place: a bundle that fails verification is removed, and ``out`` never holds an
    unverified one."""
    out = _free_target(out)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        write_bundle(scratch / "bundle", upto)
        verify_release(scratch / "bundle")
        if out.exists():
            out.rmdir()  # empty (checked above)
        (scratch / "bundle").rename(out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def _free_target(out: Path) -> Path:
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SystemExit(f"{out} exists and is not empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def write_bundle(out: Path, upto: str | None = None) -> Path:
    """Write the bundle without verifying it (the leak scan's tests scan such a bundle).

    The lessons are generated afresh from solutions/ (never copied from the working
    lessons/, which a learner may have edited)."""
    from .build import assignment_ids, generate_into

    out = _free_target(out)
    lessons = assignment_ids()
    if upto is not None:
        if upto not in lessons:
            raise SystemExit(f"--upto {upto}: no such lesson (lessons: {', '.join(lessons)})")
        lessons = [lesson for lesson in lessons if lesson <= upto]
    out.mkdir(exist_ok=True)
    generate_into(out / "lessons", lessons)
    shutil.copytree(out / "lessons", out / ORIGINALS)
    for name in INCLUDE:
        shutil.copytree(COURSE_ROOT / name, out / name, ignore=IGNORE)
    (out / "tools").mkdir()
    for name in LEARNER_TOOLS:
        shutil.copy2(COURSE_ROOT / "tools" / name, out / "tools" / name)
    for name in ("Makefile", "nbgrader_config.py"):
        shutil.copy2(LEARNER_FILES / name, out / name)
    shutil.copy2(COURSE_ROOT / "environment.yml", out / "environment.yml")
    (out / "pyproject.toml").write_text(learner_pyproject((COURSE_ROOT / "pyproject.toml").read_text()))
    (out / "README.md").write_text(learner_readme(lessons))
    return out


def learner_pyproject(text: str) -> str:
    """The clone's pyproject.toml without the instructor's command (its package is not in
    the bundle)."""
    return re.sub(r'^autograder = "autograder\.__main__:main"\n', 'course = "course.__main__:main"\n', text, flags=re.M)


def learner_readme(lessons: list[str]) -> str:
    """tools/bundle/README.md with the lesson table of the lessons in the bundle (the rows of
    the clone's README, whose links point into lessons/), and their totals."""
    rows = [
        line
        for line in (COURSE_ROOT / "README.md").read_text().splitlines()
        if re.match(r"\| \d\d \| ", line) and any(f"(lessons/{lesson}/" in line for lesson in lessons)
    ]
    cells = points = 0
    for lesson in lessons:
        for path in (COURSE_ROOT / "solutions" / lesson).glob("*.ipynb"):
            for cell in nbformat.read(path, as_version=4).cells:
                grading = cell.metadata.get("nbgrader", {})
                if grading.get("grade"):
                    cells, points = cells + 1, points + grading.get("points", 0)
    table = "\n".join(["| # | lesson | you implement | graded |", "|---|---|---|---|", *rows])
    total = f"In all: {cells} graded cells, {points:g} points."
    template = (LEARNER_FILES / "README.md").read_text()
    first, last = lessons[0], lessons[-1]
    return (
        template.replace("{{LESSONS}}", table)
        .replace("{{TOTAL}}", total)
        .replace("{{FIRST}}", first)
        .replace("{{FIRST_NOTEBOOK}}", next((COURSE_ROOT / "solutions" / first).glob("*.ipynb")).name)
        .replace("{{LAST}}", last)
    )


def _code_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def solution_windows(root: Path = COURSE_ROOT) -> dict[str, set[tuple[str, ...]]]:
    """For each lesson, every run of WINDOW consecutive code lines (or a whole shorter
    region of two or more lines) inside its solution regions. Single lines are too
    generic to count as a copy (``grad = np.zeros_like(x)`` is fair anywhere)."""
    windows: dict[str, set[tuple[str, ...]]] = {}
    for path in sorted((root / "solutions").glob("*/*.ipynb")):
        lesson = windows.setdefault(path.parent.name, set())
        for cell in nbformat.read(path, as_version=4).cells:
            for region in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S):
                lines = _code_lines(region)
                size = min(WINDOW, len(lines))
                if size >= 2:
                    lesson |= {tuple(lines[i : i + size]) for i in range(len(lines) - size + 1)}
    return windows


def _forbidden_windows(path: Path, out: Path, windows: dict[str, set]) -> set[tuple[str, ...]]:
    """What must not appear in ``path``: any lesson's answers in shared files; in a lesson,
    the answers of that lesson and of every later one. A later lesson may give an earlier
    lesson's answers as working code (lesson 03 gives lesson 02's forward pass): release
    lessons in step with the class (``--upto``)."""
    parts = path.relative_to(out).parts
    if len(parts) >= 2 and parts[0] in ("lessons", ORIGINALS):
        return set().union(*(w for lesson, w in windows.items() if lesson >= parts[1]))
    return set().union(*windows.values())


def verify_release(out: Path) -> None:
    """Raise if the bundle holds solution code, a hidden test, a reference or grading code."""
    problems = []
    for name in INSTRUCTOR_SIDE:
        if (out / name).exists():
            problems.append(f"{name}/ is in the bundle")
    windows = solution_windows()
    for path in sorted(
        p for p in out.rglob("*") if p.is_file() and p.suffix in {".py", ".ipynb", ".md", ".toml", ".yml", ".sh"}
    ):
        text = path.read_text(errors="replace")
        if FORBIDDEN.search(text):
            problems.append(f"{path.relative_to(out)} contains {FORBIDDEN.search(text).group(0)!r}")
        if path.suffix == ".ipynb":
            text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        lines = _code_lines(text)
        forbidden = _forbidden_windows(path, out, windows)
        sizes = {len(w) for w in forbidden}
        copied = [
            tuple(lines[i : i + n])
            for n in sizes
            for i in range(len(lines) - n + 1)
            if tuple(lines[i : i + n]) in forbidden
        ]
        if copied:
            problems.append(f"{path.relative_to(out)} contains solution code: {' / '.join(copied[0])!r}")
    if not problems:
        output, leaks = leak_scan(out)
        print(output, end="", flush=True)
        problems += leaks
    if problems:
        raise SystemExit("the student bundle is not clean:\n" + "\n".join(f"  - {p}" for p in problems))


def leak_scan(out: Path, lessons: list[str] | None = None) -> tuple[str, list[str]]:
    """Run the leak scan (``autograder/leak_scan.py``) on the bundle at ``out``: in a
    separate interpreter whose ``autograder`` is the bundle's, every callable the bundle
    offers is tried in each graded function's visible check (of ``lessons``, default all).
    Returns what it printed (what it tried) and the problems: each leak, or why it failed."""
    scanner = Path(__file__).with_name("leak_scan.py")
    result = subprocess.run(
        [
            sys.executable,
            str(scanner),
            "--root",
            str(out),
            "--solutions",
            str(COURSE_ROOT / "solutions"),
            *(lessons or []),
        ],
        cwd=out,
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 1):
        last = (result.stderr.strip().splitlines() or [""])[-1][:300]
        return result.stdout, [f"the leak scan did not finish (exit {result.returncode}): {last}"]
    lines = result.stdout.splitlines()
    problems = [f"leak: {line.strip()}" for line in lines if "LEAK:" in line]
    problems += [line.strip().removeprefix("set-up: ") for line in lines if "does not pass the visible check" in line]
    if result.returncode == 1 and not problems:
        problems.append("the leak scan failed: " + (result.stdout.strip().splitlines() or [""])[-1])
    return result.stdout, problems


# ------------------------------------------------------------------ solutions, after the deadline

SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


def release_solutions(out: Path, lessons: list[str]) -> list[Path]:
    """Write the worked solutions of ``lessons`` (those past their deadline) for learners:
    each solution notebook with its hidden tests removed (nbgrader's ClearHiddenTests: they
    call the grader's side, and must stay unseen for later classes), nbgrader's solution
    markers dropped and outputs cleared. Written to a scratch folder, checked, then moved
    into ``out/<lesson>/``; returns the notebooks written."""
    from nbgrader.preprocessors import ClearHiddenTests

    from .build import assignment_ids

    known = assignment_ids()
    unknown = [lesson for lesson in lessons if lesson not in known]
    if unknown or not lessons:
        raise SystemExit(f"no such lesson: {', '.join(unknown) or '(none given)'} (lessons: {', '.join(known)})")
    out = _free_target(out)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        written = []
        for lesson in lessons:
            for path in sorted((COURSE_ROOT / "solutions" / lesson).glob("*.ipynb")):
                notebook = nbformat.read(path, as_version=4)
                notebook, _ = ClearHiddenTests().preprocess(notebook, {})
                for cell in notebook.cells:
                    cell.source = SOLUTION_MARKER.sub("", cell.source)
                    if cell.cell_type == "code":
                        cell.outputs, cell.execution_count = [], None
                target = scratch / "solutions" / lesson / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(notebook, target)
                text = target.read_text()
                if re.search(r"HIDDEN TESTS|(from|import) autograder\b", text):
                    raise SystemExit(f"{lesson}/{path.name}: a hidden test is left after clearing: nothing written")
                written.append(out / lesson / path.name)
        if out.exists():
            out.rmdir()
        (scratch / "solutions").rename(out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return written
