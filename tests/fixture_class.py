"""A class of lesson-01 submissions, built from the lesson and the solution, each with
the score it must get: honest work, broken work, and attacks on the grader."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat

from autograder import COURSE_ROOT

LESSON = "01_fc_layers"
NOTEBOOK = "fc_layers.ipynb"
FULL = 18.0


def _solution_answers() -> dict[str, str]:
    notebook = nbformat.read(COURSE_ROOT / "solutions" / LESSON / NOTEBOOK, as_version=4)
    return {c.metadata.nbgrader.grade_id: c.source for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")}


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
    answers[grade_id] = "\n".join(lines[: start + 1] + ["    " + line for line in body.splitlines()] + lines[start + 1:])
    return answers


CHEAT = '''
# Make every check pass in this kernel: silence the reports and numpy's own asserts.
import numpy as np
import autograder.checks.core as core
core.Report.finish = lambda self: None
core.describe_mismatch = lambda *args, **kwargs: ("", 0.0)
np.testing.assert_allclose = lambda *args, **kwargs: None
'''

SKIP_HIDDEN = '''
# Turn every hidden check into a no-op, and every visible one too.
import autograder.checks.core as core
import autograder.hidden.fc_layers as hidden_checks
for name in dir(hidden_checks):
    if callable(getattr(hidden_checks, name)) and hasattr(getattr(hidden_checks, name), "verify"):
        setattr(hidden_checks, name, lambda *functions: None)
core.Report.finish = lambda self: None
'''

FLOOD = '''
for i in range(200_000):
    print("flooding the output", i)
'''

STEAL_SOLUTIONS = '''
# Read the instructor's notebook and run its solutions.
import json, autograder
source = autograder.COURSE_ROOT / "solutions" / "01_fc_layers" / "fc_layers.ipynb"
for cell in json.loads(source.read_text())["cells"]:
    if "### BEGIN SOLUTION" in "".join(cell["source"]):
        exec("".join(cell["source"]))
'''

WRITE_GRADEBOOK = '''
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
'''

NETWORK = '''
# Try to reach the outside world (TEST-NET-1: no such host exists).
import socket
try:
    socket.create_connection(("192.0.2.1", 80), timeout=3)
    print("network: reachable")
except OSError as error:
    print("network: blocked", type(error).__name__)
'''


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
        notebook.cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "check_affine_forward"]
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
    # sigmoid_forward asks for 64 GiB: its check and sigmoid_backward's fail, nothing else.
    bomb = _replace_body(answers, "sigmoid_forward", "hog = bytearray(64 * 2**30)")
    # Every solution cell runs the instructor's solutions instead.
    stolen = {grade_id: STEAL_SOLUTIONS.strip() for grade_id in answers}
    # affine_forward writes to stderr on every call, as a noisy library would.
    noisy = _replace_body(answers, "affine_forward",
                          "import sys, warnings\nprint('UserWarning: this layer is deprecated', file=sys.stderr)")

    return [
        Fixture("correct", "the solution", FULL, _notebook_writer(lambda: _fill(_student_copy(), answers))),
        Fixture("blank", "the lesson as released", 0.0, _notebook_writer(_student_copy)),
        Fixture("partial", "affine forward/backward and tanh forward only", 6.0,
                _notebook_writer(lambda: _fill(_student_copy(), partial))),
        Fixture("cheat", "a wrong affine_forward, and checks/numpy monkeypatched to pass", 0.0,
                _notebook_writer(lambda: _insert_after(_fill(_student_copy(), {"affine_forward": answers["affine_forward"].replace(" + b", "")}), "setup", CHEAT))),
        Fixture("nohidden", "wrong answers, hidden and visible checks replaced by no-ops", 0.0,
                _notebook_writer(lambda: _insert_after(_fill(_student_copy(), {"affine_forward": answers["affine_forward"].replace(" + b", "")}), "setup", SKIP_HIDDEN))),
        Fixture("flood", "the solution, and a cell printing 200,000 lines", FULL,
                _notebook_writer(lambda: _insert_after(_fill(_student_copy(), answers), "check_affine_forward", FLOOD))),
        Fixture("loop", f"sigmoid_backward never returns (cell limit {timeout} s)", FULL - 1,
                _notebook_writer(lambda: _fill(_student_copy(), looping))),
        Fixture("membomb", "sigmoid_forward allocates 64 GiB", FULL - 2, _notebook_writer(lambda: _fill(_student_copy(), bomb))),
        Fixture("thief", "every answer cell reads and runs the instructor's solutions", 0.0,
                _notebook_writer(lambda: _fill(_student_copy(), stolen)), needs_sandbox=True),
        Fixture("forger", "the solution, and a cell that writes full marks into any gradebook it finds", FULL,
                _notebook_writer(lambda: _insert_after(_fill(_student_copy(), answers), "setup", WRITE_GRADEBOOK))),
        Fixture("network", "the solution, and a cell that tries the network", FULL,
                _notebook_writer(lambda: _insert_after(_fill(_student_copy(), answers), "setup", NETWORK))),
        Fixture("noisy", "the solution, writing a warning to stderr in a graded call", FULL,
                _notebook_writer(lambda: _fill(_student_copy(), noisy))),
        Fixture("deleted", "the solution, with a test cell deleted", FULL, _notebook_writer(deleted_test_cell)),
        Fixture("retyped", "the solution, with a test cell turned into markdown", FULL, _notebook_writer(retyped_test_cell)),
        Fixture("corrupt", "a file that is not JSON", 0.0, corrupt),
        Fixture("renamed", "the solution saved under another name", 0.0, renamed),
    ]


def write_class(submitted: Path, timeout: int, sandboxed: bool) -> dict[str, Fixture]:
    """Write the class under SUBMITTED; returns the fixtures by student."""
    chosen = {f.student: f for f in fixtures(timeout) if sandboxed or not f.needs_sandbox}
    for fixture in chosen.values():
        fixture.write(submitted / fixture.student / LESSON)
    return chosen
