"""A class of lesson-01 submissions, built from the lesson and the solution, each with
the score it must get: honest work, broken work, and attacks on the grader."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import COURSE_ROOT

LESSON = "01_fc_layers"
NOTEBOOK = "fc_layers.ipynb"
FULL = 18.0


def _solution_answers() -> dict[str, str]:
    notebook = nbformat.read(COURSE_ROOT / "solutions" / LESSON / NOTEBOOK, as_version=4)
    return {
        c.metadata.nbgrader.grade_id: c.source for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")
    }


def _student_copy():
    return nbformat.read(COURSE_ROOT / "lessons" / LESSON / NOTEBOOK, as_version=4)


def _fill(notebook, answers: dict[str, str]):
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return notebook


def _insert_after(notebook, grade_id: str, source: str):
    """A code cell of the student's own, after the cell with this grade_id."""
    index = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return notebook


def _replace_body(answers: dict[str, str], grade_id: str, body: str) -> dict[str, str]:
    """The solution cell with `body` as the first statement of its function."""
    answers = dict(answers)
    lines = answers[grade_id].splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION")
    answers[grade_id] = "\n".join(
        lines[: start + 1] + ["    " + line for line in body.splitlines()] + lines[start + 1 :]
    )
    return answers


CHEAT = """
# Make every check pass in this kernel: silence the reports and numpy's own asserts.
import numpy as np
import course.checks.core as core
core.Report.finish = lambda self: None
core.describe_mismatch = lambda *args, **kwargs: ("", 0.0)
np.testing.assert_allclose = lambda *args, **kwargs: None
"""

SKIP_HIDDEN = """
# Turn every hidden check into a no-op, and every visible one too.
import course.checks.core as core
import autograder.hidden.fc_layers as hidden_checks
for name in dir(hidden_checks):
    if callable(getattr(hidden_checks, name)) and hasattr(getattr(hidden_checks, name), "verify"):
        setattr(hidden_checks, name, lambda *functions: None)
core.Report.finish = lambda self: None
"""

FLOOD = """
for i in range(200_000):
    print("flooding the output", i)
"""

STEAL_SOLUTIONS = """
# Read the instructor's notebook and run its solutions.
import json, autograder
source = autograder.COURSE_ROOT / "solutions" / "01_fc_layers" / "fc_layers.ipynb"
for cell in json.loads(source.read_text())["cells"]:
    if "### BEGIN SOLUTION" in "".join(cell["source"]):
        exec("".join(cell["source"]))
"""

WRITE_GRADEBOOK = """
# Find a gradebook above the working directory and give every grade full marks.
import pathlib, sqlite3
here = pathlib.Path.cwd()
for folder in [here, *here.parents]:
    for db in folder.glob("*.db"):
        try:
            con = sqlite3.connect(db)
            con.execute("UPDATE grade SET auto_score = 100, manual_score = 100")
            con.commit()
            print("wrote", db)
        except Exception as error:
            print("could not write", db, error)
"""

NETWORK = """
# Try to reach the outside world (TEST-NET-1: no such host exists).
import socket
try:
    socket.create_connection(("192.0.2.1", 80), timeout=3)
    print("network: reachable")
except OSError as error:
    print("network: blocked", type(error).__name__)
"""


@dataclass(frozen=True)
class Fixture:
    student: str
    description: str
    expected: float
    write: Callable[[Path], None]  # writes SUBMITTED/<student>/01_fc_layers/
    needs_sandbox: bool = False  # the attack is only stopped by the sandbox


def _notebook_writer(make) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(make(), folder / NOTEBOOK)

    return write


def fixtures(timeout: int) -> list[Fixture]:
    answers = _solution_answers()
    partial = {k: answers[k] for k in ("affine_forward", "affine_backward", "tanh_forward")}

    def deleted_test_cell():
        notebook = _fill(_student_copy(), answers)
        notebook.cells = [
            c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "check_affine_forward"
        ]
        return notebook

    def retyped_test_cell():
        notebook = _fill(_student_copy(), answers)
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "check_tanh_forward":
                cell.cell_type = "markdown"
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
        return notebook

    def corrupt(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / NOTEBOOK).write_text('{"cells": [ this is not json')

    def renamed(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(_fill(_student_copy(), answers), folder / "my_fc_layers.ipynb")

    # sigmoid_backward loops forever: its check times out (nothing else calls it).
    looping = _replace_body(answers, "sigmoid_backward", "while True:\n    pass")
    # sigmoid_forward asks for 64 GiB: its check fails, nothing else.
    bomb = _replace_body(answers, "sigmoid_forward", "hog = bytearray(64 * 2**30)")
    # Every solution cell runs the instructor's solutions instead.
    stolen = {grade_id: STEAL_SOLUTIONS.strip() for grade_id in answers}
    # affine_forward writes to stderr on every call, as a noisy library would.
    noisy = _replace_body(
        answers,
        "affine_forward",
        "import sys, warnings\nprint('UserWarning: this layer is deprecated', file=sys.stderr)",
    )

    return [
        Fixture("correct", "the solution", FULL, _notebook_writer(lambda: _fill(_student_copy(), answers))),
        Fixture("blank", "the lesson as released", 0.0, _notebook_writer(_student_copy)),
        Fixture(
            "partial",
            "affine forward/backward and tanh forward only",
            6.0,
            _notebook_writer(lambda: _fill(_student_copy(), partial)),
        ),
        Fixture(
            "cheat",
            "a wrong affine_forward, and checks/numpy monkeypatched to pass",
            0.0,
            _notebook_writer(
                lambda: _insert_after(
                    _fill(_student_copy(), {"affine_forward": answers["affine_forward"].replace(" + b", "")}),
                    "setup",
                    CHEAT,
                )
            ),
        ),
        Fixture(
            "nohidden",
            "wrong answers, hidden and visible checks replaced by no-ops",
            0.0,
            _notebook_writer(
                lambda: _insert_after(
                    _fill(_student_copy(), {"affine_forward": answers["affine_forward"].replace(" + b", "")}),
                    "setup",
                    SKIP_HIDDEN,
                )
            ),
        ),
        Fixture(
            "flood",
            "the solution, and a cell printing 200,000 lines",
            FULL,
            _notebook_writer(lambda: _insert_after(_fill(_student_copy(), answers), "check_affine_forward", FLOOD)),
        ),
        Fixture(
            "loop",
            f"sigmoid_backward never returns (cell limit {timeout} s)",
            FULL - 1,
            _notebook_writer(lambda: _fill(_student_copy(), looping)),
        ),
        # Its check fails; sigmoid_backward's check takes the cache its docstring states
        # without calling sigmoid_forward, so it passes.
        Fixture(
            "membomb",
            "sigmoid_forward allocates 64 GiB",
            FULL - 1,
            _notebook_writer(lambda: _fill(_student_copy(), bomb)),
        ),
        Fixture(
            "thief",
            "every answer cell reads and runs the instructor's solutions",
            0.0,
            _notebook_writer(lambda: _fill(_student_copy(), stolen)),
            needs_sandbox=True,
        ),
        Fixture(
            "forger",
            "the solution, and a cell that writes full marks into any gradebook it finds",
            FULL,
            _notebook_writer(lambda: _insert_after(_fill(_student_copy(), answers), "setup", WRITE_GRADEBOOK)),
        ),
        Fixture(
            "network",
            "the solution, and a cell that tries the network",
            FULL,
            _notebook_writer(lambda: _insert_after(_fill(_student_copy(), answers), "setup", NETWORK)),
        ),
        Fixture(
            "noisy",
            "the solution, writing a warning to stderr in a graded call",
            FULL,
            _notebook_writer(lambda: _fill(_student_copy(), noisy)),
        ),
        Fixture("deleted", "the solution, with a test cell deleted", FULL, _notebook_writer(deleted_test_cell)),
        Fixture(
            "retyped", "the solution, with a test cell turned into markdown", FULL, _notebook_writer(retyped_test_cell)
        ),
        Fixture("corrupt", "a file that is not JSON", 0.0, corrupt),
        Fixture("renamed", "the solution saved under another name", 0.0, renamed),
    ]


def course_files_written_by_kernels(since: float, sandboxed: bool, before: dict[str, str] | None = None) -> list[str]:
    """Files of the course that grading kernels wrote.

    Other people may edit the course while the tests run, so a digest of the tree proves
    nothing there. Sandboxed kernels of a root grader run as the sandbox user, who can
    write no file of the course: anything of theirs is owned by that user, or carries the
    escape fixture's mark. Without that (no sandbox, or not root), the tree's digest
    (``before``, from ``course_digest``) is compared.
    """
    from autograder.sandbox import SANDBOX_UID

    if not (sandboxed and os.geteuid() == 0):
        after = course_digest()
        return [] if before is None or before == after else ["the course's digest changed"]
    found = []
    for folder in ("solutions", "lessons", "autograder", "datasets"):
        for path in (COURSE_ROOT / folder).rglob("*"):
            info = path.lstat()
            if info.st_uid == SANDBOX_UID:
                found.append(str(path))
            elif path.is_file() and info.st_mtime >= since and ESCAPE_MARK.encode() in path.read_bytes():
                found.append(str(path))
    return found


def course_digest() -> str:
    import hashlib

    digest = hashlib.sha256()
    for folder in ("solutions", "lessons", "autograder"):
        for path in sorted(
            p for p in (COURSE_ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        ):
            digest.update(str(path.relative_to(COURSE_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def write_class(submitted: Path, timeout: int, sandboxed: bool) -> dict[str, Fixture]:
    """Write the class under SUBMITTED; returns the fixtures by student."""
    chosen = {f.student: f for f in fixtures(timeout) if sandboxed or not f.needs_sandbox}
    for fixture in chosen.values():
        fixture.write(submitted / fixture.student / LESSON)
    return chosen


# ------------------------------------------------------------------ hostile and faulty submissions, two lessons
# Each lesson's class: links, stray files and FIFOs in the submission, a forged record
# folder, honest editor actions (split and duplicated cells), dying kernels, PyTorch in
# NumPy exercises; beside them, groups graded with small budgets or a failing set-up cell.

LESSON2 = "02_rnn_cell"
NOTEBOOK2 = "rnn_cell.ipynb"
FULL2 = 11.0
SECRET_TEXT = "SECRET-7f3a9c-not-for-students"


def lesson_answers(lesson: str, notebook: str) -> dict[str, str]:
    nb = nbformat.read(COURSE_ROOT / "solutions" / lesson / notebook, as_version=4)
    return {c.metadata.nbgrader.grade_id: c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}


def lesson_copy(lesson: str, notebook: str):
    return nbformat.read(COURSE_ROOT / "lessons" / lesson / notebook, as_version=4)


def _index(notebook, grade_id: str) -> int:
    return next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _with_body(source: str, body: str) -> str:
    """A solution cell's source with ``body`` as the first statement of its function."""
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION")
    return "\n".join(lines[: start + 1] + ["    " + line for line in body.splitlines()] + lines[start + 1 :])


RECORD_ATTACK = """
# Replace records after the checks wrote them: a FIFO, a link to /dev/zero, an archive
# that inflates 100 MB, links to a secret file, a record carrying text to be echoed.
import json, os, zipfile
probe = os.environ.get("AUTOGRADER_RECORD_DIR", "")
def at(name):
    path = os.path.join(probe, name)
    if os.path.lexists(path):
        os.remove(path)
    return path
os.mkfifo(at("{fifo}.json"))
os.symlink("/dev/zero", at("{zero}.npz"))
with zipfile.ZipFile(at("{bomb}.npz"), "w", zipfile.ZIP_DEFLATED) as archive:
    import io, numpy
    header = io.BytesIO()
    numpy.lib.format.write_array_header_1_0(header, {{"descr": "<f8", "fortran_order": False, "shape": (12_500_000,)}})
    archive.writestr("c0_r.npy", header.getvalue() + bytes(100_000_000))
os.symlink({secret!r}, at("{linked}.json"))
os.symlink({secret!r}, at("seed"))
{echo}
print("records replaced")
"""

ECHO_ATTACK = """path = os.path.join(probe, "{name}.json")
meta = json.load(open(path))
meta["calls"][0]["function"] = "".join(reversed({text!r}))  # the secret, spelt so that this cell does not hold it
os.remove(path)
open(path, "w").write(json.dumps(meta))"""

FORGE_SEED = """
# Choose the "random" hidden cases: the seed file says 1 from now on.
import os
seed = os.path.join(os.environ.get("AUTOGRADER_RECORD_DIR", "."), "seed")
os.remove(seed)
open(seed, "w").write("1")
"""

NEIGHBOURS_MARK = "other record folders found:"
NEIGHBOURS = """
# Look for the record folders of other kernels (the next notebook's kernel, started ahead
# while this one runs, has one beside this one's) and spoil every file in them.
import os
mine = os.path.realpath(os.environ["AUTOGRADER_RECORD_DIR"])
found = []
for parent in {os.path.dirname(mine), os.path.dirname(os.path.dirname(mine)), "/tmp"}:
    try:
        names = os.listdir(parent)
    except OSError:
        continue
    for name in names:
        path = os.path.join(parent, name)
        if name.startswith("record-") and os.path.realpath(path) != mine:
            found.append(path)
            try:
                for entry in os.listdir(path):
                    with open(os.path.join(path, entry), "w") as spoiled:
                        spoiled.write("spoiled")
            except OSError:
                pass
print("other record folders found:", len(found))
"""


def neighbours_found(out: Path, student: str) -> list[str]:
    """The lines NEIGHBOURS printed in ``student``'s autograded lesson-01 notebook in ``out``."""
    notebook = nbformat.read(out / "autograded" / student / LESSON / NOTEBOOK, as_version=4)
    return [
        line
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        for line in output.get("text", "").splitlines()
        if NEIGHBOURS_MARK in line
    ]


ESCAPE_MARK = "written by a submission"
ESCAPE = """
# Write outside the sandbox: the course, the grader's output, the host's /tmp.
import pathlib
for target in {targets!r}:
    try:
        pathlib.Path(target).write_text("written by a " + "submission")
        print("wrote", target)
    except OSError as error:
        print("blocked", type(error).__name__)
"""

SLEEPER = "import time\ntime.sleep(9)  # under the cell limit, every time"

FILL_WORKDIR = """
# Fill the working folder, one file at a time, each under the file-size limit.
for i in range(600):
    with open(f"fill{i}.bin", "wb") as f:
        f.write(bytes(2**20))
"""

FILL_RECORDS = """
# Fill the record folder with files each under the file-size limit, until stopped.
import os, time
probe = os.environ.get("AUTOGRADER_RECORD_DIR", ".")
for i in range(100_000):
    with open(os.path.join(probe, f"fill{i}.bin"), "wb") as f:
        f.write(bytes(2**20))
    time.sleep(0.02)
"""

BREAK_TORCH = "import sys\nsys.modules['torch'] = None  # the learner's own cell breaks the set-up: their fault"

SEGFAULT = "import ctypes\nctypes.string_at(0)  # reads address 0: the kernel segfaults"


@dataclass(frozen=True)
class Hostile:
    student: str
    lesson: str
    description: str
    expected: float | None  # None: not graded (a fault of the course, never a 0)
    write: Callable[[Path, dict], None]  # (SUBMITTED/<student>/<lesson>/, context)
    problem: str = ""  # a phrase the outcome's problems must contain
    group: str = "class"  # which settings it is graded with (see tests/pipeline/test_grading_hostile.py)
    needs_sandbox: bool = False


def _write_nb(make) -> Callable[[Path, dict], None]:
    def write(folder: Path, context: dict) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        notebook, name = make(context)
        nbformat.write(notebook, folder / name)

    return write


def hostile_fixtures() -> list[Hostile]:
    a1, a2 = lesson_answers(LESSON, NOTEBOOK), lesson_answers(LESSON2, NOTEBOOK2)

    def solved(lesson=LESSON, answers=None, after: dict[str, str] | None = None):
        notebook_name = NOTEBOOK if lesson == LESSON else NOTEBOOK2
        notebook = lesson_copy(lesson, notebook_name)
        answers = answers or (a1 if lesson == LESSON else a2)
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell.source = answers[grade_id]
        for grade_id, source in (after or {}).items():
            if grade_id == "<end>":
                notebook.cells.append(nbformat.v4.new_code_cell(source))
            else:
                notebook.cells.insert(_index(notebook, grade_id) + 1, nbformat.v4.new_code_cell(source))
        return notebook, notebook_name

    def link_to_solution(lesson, name):
        def write(folder: Path, context: dict) -> None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).symlink_to(COURSE_ROOT / "solutions" / lesson / name)

        return write

    def linked_folder(folder: Path, context: dict) -> None:
        real = context["elsewhere"] / "linked_folder"
        notebook, name = solved()
        real.mkdir(parents=True)
        nbformat.write(notebook, real / name)
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.symlink_to(real, target_is_directory=True)

    def strays(folder: Path, context: dict) -> None:
        _write_nb(lambda c: solved())(folder, context)
        (folder / "notes.txt").symlink_to(context["secret"])
        (folder / "id_rsa").symlink_to(context["secret"])
        (folder / "all_solutions").symlink_to(COURSE_ROOT / "solutions", target_is_directory=True)
        (folder / "page.html").write_text(f"<script>alert(1)</script>{SECRET_TEXT}")
        (folder / "data").mkdir()
        (folder / "data" / "x.csv").write_text("1,2,3\n")
        os.mkfifo(folder / "pipe")

    def huge(folder: Path, context: dict) -> None:
        notebook, name = solved()
        notebook.cells.append(nbformat.v4.new_markdown_cell("x" * (33 * 2**20)))
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, folder / name)

    def split(lesson, grade_id):
        def make(context):
            notebook, name = solved(lesson)
            index = _index(notebook, grade_id)
            first = nbformat.v4.new_code_cell("import numpy as np  # my own set-up, split off by the editor")
            first.metadata = copy.deepcopy(notebook.cells[index].metadata)
            notebook.cells.insert(index, first)
            return notebook, name

        return make

    def duplicated(lesson, test_id, solution_id):
        return lambda context: _split_and_duplicate(solved(lesson), test_id, solution_id)

    def dies(lesson, grade_id, body):
        def make(context):
            answers = dict(a1 if lesson == LESSON else a2)
            answers[grade_id] = _with_body(answers[grade_id], body)
            return solved(lesson, answers)

        return make

    def records(lesson, fifo, zero, bomb, linked, echo):
        def make(context):
            attack = RECORD_ATTACK.format(
                fifo=fifo,
                zero=zero,
                bomb=bomb,
                linked=linked,
                secret=str(context["secret"]),
                echo=ECHO_ATTACK.format(name=echo, text=SECRET_TEXT[::-1]) if echo else "",
            )
            return solved(lesson, after={"<end>": attack})

        return make

    torch_answers1 = dict(a1)
    torch_answers1["affine_forward"] = _with_body(
        a1["affine_forward"],
        (
            "import torch.nn.functional as F\n"
            "out = F.linear(torch.as_tensor(x), torch.as_tensor(W).T, torch.as_tensor(b)).numpy()\n"
            "return out, (x, W)"
        ),
    )
    torch_answers1["tanh_forward"] = _with_body(
        a1["tanh_forward"], "out = torch.tanh(torch.as_tensor(x)).numpy()\nreturn out, out"
    )
    torch_answers2 = dict(a2)
    torch_answers2["rnn_step_forward"] = _with_body(
        a2["rnn_step_forward"],
        (
            "from torch import tanh\n"
            "next_h = tanh(torch.as_tensor(x @ Wx + prev_h @ Wh + b)).numpy()\n"
            "return next_h, (x, prev_h, Wx, Wh, next_h)"
        ),
    )

    def escape(lesson):
        def make(context):
            return solved(lesson, after={"setup": ESCAPE.format(targets=[str(t) for t in context["forbidden"]])})

        return make

    return [
        # Lesson 01: the submission is data.
        Hostile(
            "linked_notebook",
            LESSON,
            "the notebook is a link to the solution notebook",
            0.0,
            link_to_solution(LESSON, NOTEBOOK),
            "is a link",
        ),
        Hostile(
            "linked_folder",
            LESSON,
            "the submission folder is a link to a solved notebook elsewhere",
            0.0,
            linked_folder,
            "is a link",
        ),
        Hostile(
            "strays",
            LESSON,
            "the solution, links to a secret and to solutions/, an HTML page, a folder, a FIFO",
            18.0,
            strays,
            "ignored",
        ),
        Hostile("huge", LESSON, "the solution padded past the notebook size cap", 0.0, huge, "larger than"),
        Hostile(
            "escape",
            LESSON,
            "the solution, and a cell writing into the course, the output and /tmp",
            18.0,
            _write_nb(escape(LESSON)),
            needs_sandbox=True,
        ),
        # The record folder is hostile.
        Hostile(
            "records",
            LESSON,
            "the solution, then records replaced by a FIFO, /dev/zero, a zip bomb, links to a secret",
            18.0 - (2 + 3 + 1 + 1 + 1),
            _write_nb(
                records(LESSON, "affine_forward", "affine_backward", "tanh_forward", "tanh_backward", "sigmoid_forward")
            ),
            "hidden checks failed",
        ),
        Hostile(
            "seed",
            LESSON,
            "the solution, with the seed file rewritten before the hidden checks",
            0.0,
            _write_nb(lambda c: solved(after={"setup": FORGE_SEED})),
            "hidden checks failed",
        ),
        Hostile(
            "neighbours",
            LESSON,
            "the solution, then a cell spoiling the record folders of other kernels (one started ahead)",
            18.0,
            _write_nb(lambda c: solved(after={"<end>": NEIGHBOURS})),
            needs_sandbox=True,
        ),
        # Honest editor actions and faults.
        Hostile(
            "split",
            LESSON,
            "the solution, with a solution cell split in two (metadata kept)",
            18.0,
            _write_nb(split(LESSON, "affine_backward")),
            "ordinary cells",
        ),
        Hostile(
            "duplicated",
            LESSON,
            "the solution, a test cell pasted twice and a draft solution cell above its answer",
            18.0,
            _write_nb(duplicated(LESSON, "check_tanh_forward", "sigmoid_forward")),
            "ordinary cells",
        ),
        Hostile(
            "exits",
            LESSON,
            "sigmoid_backward ends the kernel's process (os._exit)",
            10.0,
            _write_nb(dies(LESSON, "sigmoid_backward", "import os\nos._exit(1)")),
            "check_sigmoid_backward",
        ),
        Hostile(
            "segfault",
            LESSON,
            "softmax_cross_entropy segfaults the kernel",
            11.0,
            _write_nb(dies(LESSON, "softmax_cross_entropy", SEGFAULT)),
            "check_softmax_cross_entropy",
        ),
        Hostile(
            "torch_numpy",
            LESSON,
            "affine_forward and tanh_forward answered with torch",
            18.0,
            _write_nb(lambda c: solved(LESSON, torch_answers1)),
            "affine_forward, tanh_forward",
        ),
        Hostile(
            "breaks_setup",
            LESSON,
            "the solution, and a cell above the set-up that makes `import torch` fail",
            0.0,
            _write_nb(lambda c: _above_setup(solved(), BREAK_TORCH)),
        ),
        # Lesson 02.
        Hostile("l2_correct", LESSON2, "the solution", FULL2, _write_nb(lambda c: solved(LESSON2))),
        Hostile(
            "l2_linked_notebook",
            LESSON2,
            "the notebook is a link to the solution notebook",
            0.0,
            link_to_solution(LESSON2, NOTEBOOK2),
            "is a link",
        ),
        Hostile(
            "l2_split_duplicated",
            LESSON2,
            "rnn_forward split, check_one_hot pasted twice, a draft one_hot",
            FULL2,
            _write_nb(lambda c: _split_and_duplicate(split(LESSON2, "rnn_forward")(c), "check_one_hot", "one_hot")),
            "ordinary cells",
        ),
        Hostile(
            "l2_exits",
            LESSON2,
            "temporal_affine_forward ends the kernel's process",
            5.0,
            _write_nb(dies(LESSON2, "temporal_affine_forward", "import os\nos._exit(3)")),
            "check_temporal_affine_forward",
        ),
        Hostile(
            "l2_torch_numpy",
            LESSON2,
            "rnn_step_forward answered with torch's tanh",
            FULL2,
            _write_nb(lambda c: solved(LESSON2, torch_answers2)),
            "rnn_step_forward",
        ),
        Hostile(
            "l2_records",
            LESSON2,
            "the solution, then records replaced",
            FULL2 - (2 + 3 + 2 + 1),
            _write_nb(records(LESSON2, "rnn_step_forward", "rnn_forward", "temporal_affine_forward", "one_hot", "")),
            "hidden checks failed",
        ),
        # Budgets (graded with a 30 s notebook budget and 16 MiB folders).
        Hostile(
            "slow",
            LESSON,
            "the solution, then four cells each sleeping 9 s (cell limit 10 s)",
            11.0,
            _write_nb(lambda c: _sleepers(solved(), "check_sigmoid_backward", 4)),
            "time budget",
            group="budget",
        ),
        Hostile(
            "fill_workdir",
            LESSON,
            "the solution, and a cell writing 600 MiB into the working folder",
            18.0,
            _write_nb(lambda c: solved(after={"check_tanh_backward": FILL_WORKDIR})),
            "disk budget",
            group="budget",
            needs_sandbox=True,
        ),
        Hostile(
            "fill_records",
            LESSON,
            "the solution, and a cell filling the record folder until stopped",
            9.0,
            _write_nb(lambda c: solved(after={"check_tanh_backward": FILL_RECORDS})),
            "record-folder budget",
            group="budget",
        ),
        # The course's own set-up cell hangs (graded with a template whose set-up sleeps).
        Hostile(
            "setup_hangs",
            LESSON,
            "the solution; the course's set-up cell never finishes",
            None,
            _write_nb(lambda c: solved()),
            "cell setup timed out",
            group="setup",
        ),
    ]


def _split_and_duplicate(made, test_id: str, solution_id: str):
    """The test cell pasted twice, and an earlier draft of the solution cell above it."""
    notebook, name = made
    index = _index(notebook, test_id)
    notebook.cells.insert(index, copy.deepcopy(notebook.cells[index]))
    index = _index(notebook, solution_id)
    draft = copy.deepcopy(notebook.cells[index])
    draft.source = _with_body(draft.source, "raise NotImplementedError('my first draft')")
    notebook.cells.insert(index, draft)
    return notebook, name


def _sleepers(made, grade_id: str, count: int):
    notebook, name = made
    index = _index(notebook, grade_id)
    for _ in range(count):
        notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(SLEEPER))
    return notebook, name


def _above_setup(made, source: str):
    notebook, name = made
    notebook.cells.insert(_index(notebook, "setup"), nbformat.v4.new_code_cell(source))
    return notebook, name
