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
from pathlib import Path

import nbformat

from . import COURSE_ROOT

#: Top-level entries copied into the bundle.
INCLUDE = [
    "lessons",
    "datasets",
    "course",
    "README.md",
    "environment.yml",
    "pyproject.toml",
    "Makefile",
    "nbgrader_config.py",
    "tools",
]
#: What must never be in a bundle: the instructor's package and folders.
INSTRUCTOR_SIDE = ["autograder", "solutions", "tests"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")

#: Markers of nbgrader's solution and hidden-test regions, and imports of the instructor's package.
FORBIDDEN = re.compile(r"### BEGIN SOLUTION|### BEGIN HIDDEN TESTS|(from|import) autograder\b")
#: Consecutive lines of a solution region that count as a copy of it.
WINDOW = 3


def make_release(out: Path, upto: str | None = None) -> Path:
    """Write and verify the bundle; ``upto`` keeps only the lessons up to that one."""
    out = write_bundle(out, upto)
    verify_release(out)
    return out


def write_bundle(out: Path, upto: str | None = None) -> Path:
    """Write the bundle without verifying it (the leak scan's tests scan such a bundle)."""
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    for name in INCLUDE:
        source = COURSE_ROOT / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=IGNORE)
        elif source.exists():
            shutil.copy2(source, out / name)
    if upto is not None:
        lessons = sorted(p.name for p in (out / "lessons").iterdir() if p.is_dir())
        if upto not in lessons:
            raise SystemExit(f"--upto {upto}: no such lesson (lessons: {', '.join(lessons)})")
        for lesson in lessons:
            if lesson > upto:
                shutil.rmtree(out / "lessons" / lesson)
    return out


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
    if len(parts) >= 2 and parts[0] == "lessons":
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
