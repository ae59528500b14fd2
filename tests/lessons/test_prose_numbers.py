"""What a lesson says about itself is what its cells measure, and its header tells a learner
what to expect.

- A measured number (a loss, a time, a ratio, a percentage) is printed by the cell that
  measures it, never typed into the prose, where the next run could contradict it. So a
  markdown number followed by a unit of measurement is refused unless its line says it is
  fixed by design (`<!-- fixed -->`: a split fraction, chance level, a hyperparameter).
  Conclusions drawn from a measurement are asserted by that cell (tests/lessons/
  test_notebooks.py fails any solution cell that raises); timings are only printed.
- Every lesson's header says how long it takes, that a GPU is optional, and how to score the
  notebook with the command that exists in the student bundle too (`python -m course check`).
  The run times it states are measured by benchmarks/lesson_times.py.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from ..conftest import lesson_notebooks

SOLUTIONS = lesson_notebooks("solutions")

#: a number followed by a unit of measurement (not inside a word, a decimal or a name)
MEASURED = re.compile(
    r"(?<![\w$.\-])\d+(?:\.\d+)?\s*"
    r"(?:%|×|x\b|s\b|ms\b|µs\b|us\b|microseconds?\b|milliseconds?\b|seconds?\b|minutes?\b|min\b"
    r"|bits?\b|bpc\b|times (?:faster|slower)\b)"
)
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$", re.S)
FIXED = "<!-- fixed -->"
TIME_LINE = "**Time and hardware:**"
CHECK_LINE = "**Check your work:**"


def _markdown(path):
    notebook = nbformat.read(path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]


def typed_measurements(markdown: str) -> list[str]:
    """The numbers-with-units of a markdown cell that are neither maths, nor on a line
    marked fixed, nor the header's time line (which the lesson-time benchmark measures)."""
    found = []
    for line in MATH.sub("", markdown).splitlines():
        if FIXED in line or line.startswith(TIME_LINE):
            continue
        found += [match.group(0) for match in MEASURED.finditer(line)]
    return found


def test_the_scan_finds_typed_measurements():
    assert typed_measurements("the GRU step took 74 µs, 1.5x the LSTM's") == ["74 µs", "1.5x"]
    assert typed_measurements("held out: 2.1 bits per character; 41% saturate") == ["2.1 bits", "41%"]
    assert typed_measurements("the first 90% trains <!-- fixed -->\n$e^{-10 x}$ and layer 2") == []


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.parent.name)
def test_prose_types_no_measured_number(path):
    typed = {n: found for n, cell in enumerate(_markdown(path)) if (found := typed_measurements(cell))}
    assert not typed, (
        f"{path.name}: numbers typed into the prose {typed} (markdown cell index: numbers). Let the cell "
        f"that measures them print them, or end the line with {FIXED} if they are fixed by design"
    )


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.parent.name)
def test_header_says_time_gpu_and_how_to_check(path):
    header = "\n".join(_markdown(path)[:2])
    lines = header.splitlines()
    time_lines = [line for line in lines if line.startswith(TIME_LINE)]
    assert len(time_lines) == 1, f"{path.name}: the header needs one line starting {TIME_LINE}"
    assert re.search(r"about \d+ minutes? to read", time_lines[0]), time_lines[0]
    assert re.search(r"takes about \d+ minutes? on a 2-core laptop CPU", time_lines[0]), time_lines[0]
    assert "A GPU is optional" in time_lines[0], time_lines[0]
    check_lines = [line for line in lines if line.startswith(CHECK_LINE)]
    assert len(check_lines) == 1, f"{path.name}: the header needs one line starting {CHECK_LINE}"
    assert f"python -m course check {path.parent.name}" in check_lines[0], check_lines[0]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.parent.name)
def test_lessons_name_only_commands_the_bundle_has(path):
    # The student bundle has no autograder package: its instructor commands would fail there.
    text = "\n".join(_markdown(path))
    assert "python -m autograder" not in text, f"{path.name} tells learners to run the instructor's command"
