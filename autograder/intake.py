"""Taking a submission in: what is graded, and what a notebook's cells are.

A submission is the learner's data. ``take_in`` copies the lesson's notebooks only, as
regular files under a size cap, never following a link; ``normalise_cells`` makes a
notebook that honest editing changed (a copied or split cell) gradable; NumPy exercises
answered with PyTorch are found here for the instructor to review.
"""

from __future__ import annotations

import ast
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course.recording import UnreadableFile, read_regular_file

from . import COURSE_ROOT

SOURCE = "solutions"


@dataclass(frozen=True)
class Submission:
    student: str
    assignment: str
    folder: Path  # SUBMITTED/<student>/<assignment>


def find_submissions(submitted: Path, assignment: str | None = None) -> list[Submission]:
    """Every SUBMITTED/<student>/<assignment>/ folder, for the known assignments.

    Folders are named, not resolved: a student or assignment folder that is a link is
    found here and refused when it is taken in (take_in), so the summary says so."""
    known = {p.name for p in (COURSE_ROOT / SOURCE).iterdir() if p.is_dir()}
    found = []
    for student_dir in sorted(p for p in Path(submitted).iterdir() if p.is_dir() and not p.name.startswith(".")):
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if assignment_dir.name in known and assignment in (None, assignment_dir.name):
                found.append(Submission(student_dir.name, assignment_dir.name, assignment_dir.absolute()))
    return found


# ------------------------------------------------------------------ a notebook's cells


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def is_course_cell(cell) -> bool:
    """A cell of the course's own (the locked set-up cell, a given helper): locked, neither
    graded nor a solution. nbgrader restores its source from the gradebook."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("locked")) and not meta.get("grade") and not meta.get("solution")


def printable(name: str) -> str:
    """A file name as the summary shows it: ASCII, no control characters, bounded."""
    return ascii(name)[1:-1][:60]


# ------------------------------------------------------------------ taking a submission in


def take_in(folder: Path, target: Path, expected: set[str], max_bytes: int) -> list[str]:
    """Copy the lesson's notebooks (``expected``: their stems) from a submission folder
    into ``target``, as regular files read without following links and under a size cap;
    take nothing else. Returns what was ignored, and why (names only, never contents).

    The submission is the learner's data: a link (to solutions/, to an SSH key), a FIFO,
    a device or a huge file must neither be followed, nor block, nor fill the disk.
    """
    problems: list[str] = []
    target.mkdir(parents=True, exist_ok=True)
    for level in (folder, folder.parent):
        if os.path.islink(level):
            return [f"the submission folder {printable(level.name)} is a link: not followed, nothing graded"]
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        return [f"the submission folder cannot be read ({type(error).__name__})"]
    ignored: list[str] = []
    try:
        for name in sorted(os.listdir(dir_fd)):
            if name == ".ipynb_checkpoints":
                continue  # the editor's own copies
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            kind = (
                "a link"
                if stat.S_ISLNK(info.st_mode)
                else "a folder"
                if stat.S_ISDIR(info.st_mode)
                else "a file"
                if stat.S_ISREG(info.st_mode)
                else "not a regular file"
            )
            if not (name.endswith(".ipynb") and name[: -len(".ipynb")] in expected):
                if not name.endswith(".ipynb"):
                    ignored.append(f"{printable(name)} ({kind})")
                elif not stat.S_ISREG(info.st_mode):
                    ignored.append(f"{printable(name)} ({kind})")
                else:
                    _copy_notebook(dir_fd, name, target, max_bytes, problems)  # a renamed notebook: named later
                continue
            if not stat.S_ISREG(info.st_mode):
                problems.append(f"{printable(name)} is {kind}, not a notebook file: not followed, graded as missing")
                continue
            _copy_notebook(dir_fd, name, target, max_bytes, problems)
    finally:
        os.close(dir_fd)
    if ignored:
        shown = ", ".join(ignored[:8]) + (f" and {len(ignored) - 8} more" if len(ignored) > 8 else "")
        problems.append(f"ignored (only the lesson's notebooks are graded or published): {shown}")
    return problems


def _copy_notebook(dir_fd: int, name: str, target: Path, max_bytes: int, problems: list[str]) -> None:
    try:
        data = read_regular_file(name, max_bytes, dir_fd=dir_fd)
    except UnreadableFile as error:
        cap = f"{max_bytes // 2**20} MiB" if max_bytes >= 2**20 else f"{max_bytes} bytes"
        reason = f"larger than {cap}" if str(error).startswith("larger") else str(error)
        problems.append(f"{printable(name)} is {reason}: graded as missing")
        return
    except OSError as error:
        problems.append(f"{printable(name)} cannot be read ({type(error).__name__}): graded as missing")
        return
    (target / name).write_bytes(data)


def normalise_cells(notebook, known_ids: set[str]) -> list[str]:
    """Make a notebook that honest editing changed gradable, as nbgrader would read it.

    Copy and paste (or a split) in the editor keeps a cell's nbgrader metadata: two cells
    then claim one grade_id, and nbgrader (DeduplicateIds, then OverwriteCells with
    add_missing_cells) fails on the whole notebook with KeyError 'grade_id'. nbgrader
    keeps the last cell of an id; the others become ordinary cells that still run, as
    they did for the learner. Metadata without a known grade_id is dropped the same way.
    Returns the grade_ids whose copies were made ordinary.
    """
    last: dict[str, int] = {}
    for index, cell in enumerate(notebook.cells):
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id:
            last[grade_id] = index
    changed = []
    for index, cell in enumerate(notebook.cells):
        if "nbgrader" not in cell.get("metadata", {}):
            continue
        grade_id = nbgrader_meta(cell).get("grade_id")
        if not grade_id or grade_id not in known_ids or last[grade_id] != index:
            del cell.metadata["nbgrader"]
            changed.append(str(grade_id))
    return changed


# ------------------------------------------------------------------ NumPy exercises done with torch


def _torch_names(tree) -> set[str]:
    """Names bound to torch or to something imported from it, anywhere in the code."""
    names = {"torch"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "torch":
                    names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _uses(node, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def numpy_functions(source_notebook: Path) -> set[str]:
    """The functions a lesson's learners write in NumPy: defined in a solution cell whose
    answer (the instructor's solution) uses no torch."""
    functions = set()
    for cell in nbformat.read(source_notebook, as_version=4).cells:
        if cell.cell_type != "code" or not nbgrader_meta(cell).get("solution"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        if _uses(tree, _torch_names(tree)) or "torch" in cell.source:
            continue
        functions.update(n.name for n in tree.body if isinstance(n, ast.FunctionDef))
    return functions


def torch_in_numpy_exercises(notebook, numpy_names: set[str]) -> list[str]:
    """The NumPy exercises (function names) that the learner's code answers with torch."""
    trees = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or is_course_cell(cell) or nbgrader_meta(cell).get("grade"):
            continue
        try:
            trees.append(ast.parse(cell.source))
        except SyntaxError:
            continue  # IPython magics or broken code: nothing to judge here
    torch = set().union(*(_torch_names(t) for t in trees)) if trees else {"torch"}
    flagged = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in numpy_names:
                if _uses(node, torch):
                    flagged.add(node.name)
            elif isinstance(node, ast.Assign) and _uses(node.value, torch):
                flagged.update(t.id for t in node.targets if isinstance(t, ast.Name) and t.id in numpy_names)
    return sorted(flagged)
