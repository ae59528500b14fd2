"""Build the student lessons from the instructor solutions, with nbgrader.

``lessons/`` is generated: nbgrader's generate_assignment turns each notebook in
``solutions/<id>/`` into ``lessons/<id>/`` (solutions replaced by stubs, hidden tests
removed, cells locked and checksummed). ``--check`` generates into a scratch copy of the
course and compares, so a maintainer (and CI) learns when lessons/ is stale.

A learner studying in a clone works in lessons/ itself, so regenerating never destroys
work: a lesson notebook that holds work (an answered stub, a changed cell, outputs) is
moved to backups/ first, and the command says where.
"""

from __future__ import annotations

import filecmp
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.utils import compute_checksum

from . import COURSE_ROOT
from .nbgrader_cli import run_nbgrader

SOURCE = "solutions"
RELEASE = "lessons"
#: Where a learner's edited lessons go before they are regenerated.
BACKUPS = "backups"


def assignment_ids(root: Path = COURSE_ROOT) -> list[str]:
    """The lessons, by folder name under solutions/ (e.g. '01_fc_layers')."""
    return sorted(p.name for p in (root / SOURCE).iterdir() if p.is_dir() and not p.name.startswith("."))


def generate(root: Path = COURSE_ROOT, ids: list[str] | None = None, now: str | None = None) -> list[Path]:
    """Regenerate lessons/<id>/ for each id with `nbgrader generate_assignment --force`.
    A lesson notebook that holds work is first moved to backups/<stamp>/lessons/<id>/;
    returns the backups made.

    --no-db: releasing lessons records nothing in a gradebook; grading creates its own.
    """
    ids = ids or assignment_ids(root)
    worked = [path for lesson in ids for path in sorted((root / RELEASE / lesson).glob("*.ipynb")) if holds_work(path)]
    backups = []
    stamp = now or time.strftime("%Y%m%d-%H%M%S")
    for path in worked:
        backup = root / BACKUPS / stamp / path.relative_to(root)
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, backup)
        backups.append(backup)
        print(f"{path.relative_to(root)} holds your work: moved to {backup.relative_to(root)} before regenerating")
    for assignment in ids:
        run_nbgrader(root, "generate_assignment", assignment, "--force", "--no-db")
    return backups


def generate_into(dest: Path, ids: list[str], root: Path = COURSE_ROOT) -> None:
    """Generate the lessons ``ids`` from root's solutions/ into ``dest/<id>/``, in a scratch
    course: root's lessons/ (maybe a learner's work) is neither read nor written."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        _scratch_course(root, scratch, ids)
        generate(scratch, ids)
        dest.mkdir(parents=True, exist_ok=True)
        for lesson in ids:
            shutil.copytree(scratch / RELEASE / lesson, dest / lesson)


def _scratch_course(root: Path, scratch: Path, ids: list[str] | None = None) -> None:
    # nbgrader_config.py sets the course root from its own location, so a copy
    # of it makes the scratch folder a course of its own.
    shutil.copy2(root / "nbgrader_config.py", scratch / "nbgrader_config.py")
    for lesson in ids or assignment_ids(root):
        shutil.copytree(
            root / SOURCE / lesson, scratch / SOURCE / lesson, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )


def holds_work(notebook: Path) -> bool:
    """Whether a lesson notebook holds a learner's work: outputs or execution counts, or a
    cell nbgrader checksummed whose source changed (an answered stub, an edited cell)."""
    try:
        cells = nbformat.read(notebook, as_version=4).cells
    except Exception:
        return True  # unreadable: keep it rather than guess
    for cell in cells:
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            return True
        checksum = cell.metadata.get("nbgrader", {}).get("checksum")
        if checksum is not None and compute_checksum(cell) != checksum:
            return True
    return False


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts}


def differences(root: Path = COURSE_ROOT) -> list[str]:
    """Paths (relative to the course root) where lessons/ differs from a fresh generation."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        _scratch_course(root, scratch)
        generate(scratch)
        fresh, committed = scratch / RELEASE, root / RELEASE
        differ = []
        names = _files(fresh) | (_files(committed) if committed.exists() else set())
        for name in sorted(names):
            a, b = fresh / name, committed / name
            if not (a.exists() and b.exists() and filecmp.cmp(a, b, shallow=False)):
                differ.append(f"{RELEASE}/{name}")
        return differ
