"""Build the student lessons from the instructor solutions, with nbgrader.

``lessons/`` is generated: nbgrader's generate_assignment turns each notebook in
``solutions/<id>/`` into ``lessons/<id>/`` (solutions replaced by stubs, hidden tests
removed, cells locked and checksummed). ``--check`` generates into a scratch copy of the
course and compares, so a maintainer (and CI) learns when lessons/ is stale.
"""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from pathlib import Path

from . import COURSE_ROOT
from .nbgrader_cli import run_nbgrader

SOURCE = "solutions"
RELEASE = "lessons"


def assignment_ids(root: Path = COURSE_ROOT) -> list[str]:
    """The lessons, by folder name under solutions/ (e.g. '01_fc_layers')."""
    return sorted(p.name for p in (root / SOURCE).iterdir() if p.is_dir() and not p.name.startswith("."))


def generate(root: Path = COURSE_ROOT, ids: list[str] | None = None) -> None:
    """Regenerate lessons/<id>/ for each id with `nbgrader generate_assignment --force`.

    --no-db: releasing lessons records nothing in a gradebook; grading creates its own.
    """
    for assignment in ids or assignment_ids(root):
        run_nbgrader(root, "generate_assignment", assignment, "--force", "--no-db")


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts}


def differences(root: Path = COURSE_ROOT) -> list[str]:
    """Paths (relative to the course root) where lessons/ differs from a fresh generation."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        # nbgrader_config.py sets the course root from its own location, so a copy
        # of it makes the scratch folder a course of its own.
        shutil.copy2(root / "nbgrader_config.py", scratch / "nbgrader_config.py")
        shutil.copytree(root / SOURCE, scratch / SOURCE, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        generate(scratch)
        fresh, committed = scratch / RELEASE, root / RELEASE
        differ = []
        names = _files(fresh) | (_files(committed) if committed.exists() else set())
        for name in sorted(names):
            a, b = fresh / name, committed / name
            if not (a.exists() and b.exists() and filecmp.cmp(a, b, shallow=False)):
                differ.append(f"{RELEASE}/{name}")
        return differ
