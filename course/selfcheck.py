"""A learner's self-check: score a lesson notebook from a fresh kernel, as the grader does.

``python -m course check 01_fc_layers`` (or a notebook's path) runs a copy of the notebook
in a temporary folder from a fresh kernel (the learner's file is only read), scores each
graded cell from its nbgrader metadata the way nbgrader's autograde does (an error in the
cell scores 0, otherwise its points) and prints one line per graded cell and the total.
Only the visible checks run here: the instructor's grading adds hidden checks, which live
on the grader's side and never in this package.

``python -m course reset 01_fc_layers`` puts a lesson back as it was handed out, keeping
the learner's notebook as a backup first.

Student side: nothing here imports the instructor's package.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from . import COURSE_ROOT

LESSONS = COURSE_ROOT / "lessons"
#: The lessons as handed out, kept beside a student bundle for `reset` (release writes it).
ORIGINALS = COURSE_ROOT / ".originals"
#: Where `reset` (and `make lessons` in a clone) keep a learner's notebook before replacing it.
BACKUPS = COURSE_ROOT / "backups"
#: What the graded cells' error lines may show, at most.
MESSAGE_CHARS = 160

HIDDEN_NOTE = (
    "This score uses the visible checks only (the fixed inputs you see in the notebook). The "
    "instructor's grading runs the same notebook with hidden checks as well: random shapes, "
    "edge cases and the reference implementations, on inputs you have not seen. A cell that "
    "passes here can still lose points there if the code only works for the example."
)


class CheckError(Exception):
    """A problem with what the learner asked for, said in one message: how to go on."""


@dataclass
class CellScore:
    grade_id: str
    points: float | None  # None: needs a person (a written answer)
    max_points: float
    message: str = ""


# ------------------------------------------------------------------ which notebook, which lesson


def lesson_ids() -> list[str]:
    if not LESSONS.is_dir():
        return []
    return sorted(p.name for p in LESSONS.iterdir() if p.is_dir() and re.match(r"\d\d_", p.name))


def lesson_notebook(lesson: str) -> Path:
    """The one notebook of a lesson as it lies in lessons/."""
    notebooks = sorted((LESSONS / lesson).glob("*.ipynb"))
    if not notebooks:
        raise CheckError(f"lessons/{lesson}/ holds no notebook")
    return notebooks[0]


def _known() -> str:
    return ", ".join(lesson_ids()) or "none found under " + str(LESSONS)


def resolve_lesson(name: str) -> str:
    """A lesson id from an id, its number or its topic: '01_fc_layers', '01', 'fc_layers'."""
    ids = lesson_ids()
    matches = [i for i in ids if name in (i, i[:2], i[3:])]
    if len(matches) != 1:
        raise CheckError(f"{name}: no such lesson here (lessons: {_known()})")
    return matches[0]


def find_target(target: str, lesson: str | None = None) -> tuple[Path, str]:
    """(the notebook to check, its lesson). ``target`` is a lesson (id, number or topic)
    or a notebook's path, relative to the working folder; ``lesson`` says which lesson a
    renamed copy is."""
    path = Path(target).expanduser()
    looks_like_a_path = path.suffix == ".ipynb" or os.sep in target or path.is_file()
    if not looks_like_a_path:
        name = resolve_lesson(target)
        if lesson is not None and resolve_lesson(lesson) != name:
            raise CheckError(f"{target} is lesson {name}, not {lesson}")
        return lesson_notebook(name), name
    path = path.resolve()
    if not path.is_file():
        raise CheckError(f"{target}: no such notebook (looked for {path})")
    if lesson is not None:
        return path, resolve_lesson(lesson)
    if path.parent.name in lesson_ids():  # a copy in the lesson's own folder
        return path, path.parent.name
    same_name = [i for i in lesson_ids() if (LESSONS / i / path.name).exists()]
    if len(same_name) == 1:
        return path, same_name[0]
    example = lesson_ids()[0] if lesson_ids() else "01_fc_layers"
    raise CheckError(
        f"{path.name}: not the name of a lesson's notebook, and not in a lesson's folder, so which lesson "
        f"it is cannot be told. If it is your copy of a lesson, say which one:\n"
        f"  python -m course check {target} --lesson {example}\n"
        f"(lessons: {_known()})"
    )


# ------------------------------------------------------------------ running and scoring


def _nbgrader_settings():
    """The course's nbgrader settings (nbgrader_config.py at the course root): the per-cell
    timeout, the kernel's arguments and the stderr pattern grading ignores."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config_file = COURSE_ROOT / "nbgrader_config.py"
    if not config_file.is_file():
        return Config()
    return PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()


def _kernelspec(folder: Path) -> str:
    """A kernel spec that runs this very interpreter (the course's environment), whatever
    kernels the user has installed elsewhere under the name python3."""
    import json

    name = "rnn-course-check"
    spec = folder / "kernels" / name
    spec.mkdir(parents=True)
    python = os.path.join(os.path.realpath(os.path.dirname(sys.executable)), os.path.basename(sys.executable))
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "course check", "language": "python"}))
    return name


def run_copy(notebook: Path, lesson: str, timeout: int | None = None, progress: bool = True):
    """Execute a copy of ``notebook`` in a scratch folder (beside copies of the lesson's
    other files) from a fresh kernel, as nbgrader's autograde does; return the executed copy."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbgrader.preprocessors import Execute, IgnorePattern

    source = nbformat.read(notebook, as_version=4)
    config = _nbgrader_settings()
    if timeout is not None:
        config.Execute.timeout = timeout
    # The kernel's start-up notes (e.g. "running over TCP") are not the learner's business.
    config.Execute.extra_arguments = [*config.Execute.get("extra_arguments", []), "--IPKernelApp.log_level=ERROR"]
    with tempfile.TemporaryDirectory(prefix="course-check-") as scratch:
        scratch = Path(scratch)
        work = scratch / lesson
        shutil.copytree(
            LESSONS / lesson if (LESSONS / lesson).is_dir() else notebook.parent,
            work,
            ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__"),
            symlinks=True,
        )
        copy = work / notebook.name
        nbformat.write(source, copy)
        kernel = _kernelspec(scratch)
        manager = AsyncKernelManager(
            kernel_name=kernel, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(scratch / "kernels")])
        )
        code_cells = sum(cell.cell_type == "code" for cell in source.cells)
        bar = _progress(code_cells, progress)
        executor = Execute(config=config, kernel_name=kernel, on_cell_executed=lambda **_: bar.update(1))
        env = {"NBGRADER_EXECUTION": "autograde", "MPLBACKEND": "Agg"}
        previous = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            executed, _ = executor.preprocess(
                nbformat.read(copy, as_version=4), {"metadata": {"path": str(work)}}, km=manager
            )
        finally:
            bar.close()
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        executed, _ = IgnorePattern(config=config).preprocess(executed, {})
    return executed


def _progress(total: int, show: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="cell", desc="running", disable=not show, leave=False, file=sys.stderr)


def _message(cell) -> str:
    """The first line of the error a graded cell raised, shortened: the checks' own messages
    say what is wrong without showing expected values."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            # The checks' own failures need no class name; anything else (a NameError, ...) does.
            named = output.ename not in ("CheckFailed", "AssertionError") or not output.evalue
            text = (f"{output.ename}: {output.evalue}" if named else output.evalue).strip().splitlines()[0]
            return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 3] + "..."
        if output.output_type == "stream" and output.name == "stderr":
            return "wrote to stderr (the grader scores such a cell 0)"
    return ""


def score(executed) -> list[CellScore]:
    """One score per graded cell, nbgrader's way (nbgrader.utils.determine_grade)."""
    from nbgrader.utils import determine_grade, is_grade

    scores = []
    for cell in executed.cells:
        if is_grade(cell):
            points, max_points = determine_grade(cell)
            message = "" if points == max_points else _message(cell)
            scores.append(CellScore(cell.metadata.nbgrader["grade_id"], points, max_points, message))
    return scores


def changed_check_cells(notebook) -> list[str]:
    """Graded cells whose locked source the learner changed (the grader restores them)."""
    from nbgrader.utils import compute_checksum, is_grade, is_solution

    changed = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if is_grade(cell) and not is_solution(cell) and "checksum" in meta:
            if compute_checksum(cell) != meta["checksum"]:
                changed.append(meta["grade_id"])
    return changed


def missing_graded_cells(notebook, lesson: str) -> list[tuple[str, float]]:
    """Graded cells of the lesson as handed out that this notebook lacks."""
    import nbformat
    from nbgrader.utils import is_grade

    original = ORIGINALS / lesson / lesson_notebook(lesson).name
    reference = original if original.is_file() else lesson_notebook(lesson)
    present = {c.metadata.nbgrader["grade_id"] for c in notebook.cells if is_grade(c)}
    return [
        (c.metadata.nbgrader["grade_id"], float(c.metadata.nbgrader["points"]))
        for c in nbformat.read(reference, as_version=4).cells
        if is_grade(c) and c.metadata.nbgrader["grade_id"] not in present
    ]


def report(scores: list[CellScore], missing: list[tuple[str, float]]) -> tuple[str, bool]:
    """The table, the total, and whether it is full marks."""
    rows = [(s.grade_id, "  ?" if s.points is None else f"{s.points:g}", f"{s.max_points:g}", s) for s in scores]
    rows += [(grade_id, "0", f"{points:g}", None) for grade_id, points in missing]
    width = max([len(r[0]) for r in rows] + [len("graded cell")])
    lines = [f"{'graded cell'.ljust(width)}  points  result"]
    for grade_id, got, out_of, s in rows:
        if s is None:
            result = "MISSING  (deleted from your notebook; the grader puts it back)"
        elif s.points is None:
            result = "to be graded by a person"
        elif s.points >= s.max_points:
            result = "pass"
        else:
            result = f"FAIL  {s.message}".rstrip()
        lines.append(f"{grade_id.ljust(width)}  {got:>2} / {out_of:<2} {result}")
    total = sum(s.points or 0 for s in scores)
    maximum = sum(s.max_points for s in scores) + sum(p for _, p in missing)
    full = total >= maximum and not missing and all(s.points is not None for s in scores)
    lines.append(f"total: {total:g} / {maximum:g} with the visible checks")
    return "\n".join(lines), full


def check(target: str, lesson: str | None = None, timeout: int | None = None, progress: bool = True) -> int:
    """The whole self-check; returns the exit status (0 only at full marks)."""
    import nbformat

    notebook, lesson = find_target(target, lesson)
    try:
        shown = notebook.relative_to(Path.cwd())
    except ValueError:
        shown = notebook
    print(f"checking {shown} as lesson {lesson}: a copy runs from a fresh kernel, as the grader does")
    print("(your notebook is only read; the whole notebook runs, with the experiments shortened as under grading,")
    print(
        " so this takes about as long as running it all: usually under a minute, longer on a busy machine)", flush=True
    )
    started = time.monotonic()
    source = nbformat.read(notebook, as_version=4)
    executed = run_copy(notebook, lesson, timeout=timeout, progress=progress)
    table, full = report(score(executed), missing_graded_cells(source, lesson))
    print(table)
    for grade_id in changed_check_cells(source):
        print(f"note: you changed the check cell {grade_id}; the grader runs it as handed out")
    print()
    print(textwrap.fill(HIDDEN_NOTE, width=100))
    print(f"\nchecked in {time.monotonic() - started:.0f} s")
    return 0 if full else 1


# ------------------------------------------------------------------ reset


def original_lesson(lesson: str, name: str) -> bytes:
    """The notebook as handed out: the bundle's copy in .originals/, or, in a git clone of
    the course, the committed one."""
    kept = ORIGINALS / lesson / name
    if kept.is_file():
        return kept.read_bytes()
    committed = f"lessons/{lesson}/{name}"
    try:
        result = subprocess.run(
            ["git", "-C", str(COURSE_ROOT), "show", f"HEAD:{committed}"], capture_output=True, check=False
        )
    except FileNotFoundError:
        result = None
    if result is None or result.returncode != 0:
        raise CheckError(
            f"no original of {committed} here (neither .originals/ nor a git clone): nothing was changed. "
            "Take a fresh copy of the course and copy the notebook from it."
        )
    return result.stdout


def reset(lesson_name: str, now: str | None = None) -> Path | None:
    """Put a lesson's notebook back as handed out; keep the current one in backups/ first.
    Returns the backup (None when the notebook was already as handed out)."""
    lesson = resolve_lesson(lesson_name)
    notebook = lesson_notebook(lesson)
    original = original_lesson(lesson, notebook.name)
    if notebook.read_bytes() == original:
        return None
    stamp = now or time.strftime("%Y%m%d-%H%M%S")
    backup = BACKUPS / lesson / f"{notebook.stem}-{stamp}{notebook.suffix}"
    backup.parent.mkdir(parents=True, exist_ok=True)
    if backup.exists():
        raise CheckError(f"{backup} exists already: nothing was changed; try again in a second")
    shutil.copy2(notebook, backup)
    partial = notebook.with_name(f".{notebook.name}.reset")
    partial.write_bytes(original)
    os.replace(partial, notebook)
    return backup
