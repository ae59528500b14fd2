"""The notebooks as committed: clean, generated, well-formed, and graded as designed.

- committed without outputs or execution counts;
- lessons/ is exactly what nbgrader generates from solutions/ now;
- every graded cell is one visible call into course.checks plus a hidden call;
- the solution passes `nbgrader validate`; the student copy fails every graded cell.
"""

from __future__ import annotations

import ast
import importlib
import re

import nbformat
import pytest
from traitlets.config.loader import PyFileConfigLoader

from autograder import COURSE_ROOT
from autograder.build import differences

from ..conftest import LESSON_IDS, lesson_notebooks

ALL_NOTEBOOKS = lesson_notebooks("solutions") + lesson_notebooks("lessons")


def _graded_cells(notebook):
    return [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: str(p.relative_to(COURSE_ROOT)))
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: str(p.relative_to(COURSE_ROOT)))
def test_committed_as_nbformat_writes_them(path):
    # What JupyterLab saves and what the nbstripout hook gives back are nbformat's own writing:
    # a notebook written another way (a source list ending in "", say) changes on first save.
    text = path.read_text(encoding="utf-8")
    assert nbformat.writes(nbformat.reads(text, as_version=4)) in (text, text.removesuffix("\n")), (
        f"{path.name}: not as nbformat writes it; read and write it with nbformat before committing"
    )


def test_every_lesson_has_a_student_copy():
    assert LESSON_IDS, "no lessons under solutions/"
    for lesson in LESSON_IDS:
        assert list((COURSE_ROOT / "lessons" / lesson).glob("*.ipynb")), (
            f"lessons/{lesson} is missing: run make lessons"
        )


def test_lessons_are_generated_from_solutions():
    stale = differences()
    assert not stale, f"lessons/ is stale ({', '.join(stale)}): run `make lessons` and commit"


@pytest.mark.parametrize("path", lesson_notebooks("solutions"), ids=lambda p: p.parent.name)
def test_graded_cells_are_one_check_call_plus_hidden(path):
    notebook = nbformat.read(path, as_version=4)
    lesson_checks = None
    graded = _graded_cells(notebook)
    assert graded, f"{path.name} has no graded cells"
    for cell in graded:
        visible, _, rest = cell.source.partition("### BEGIN HIDDEN TESTS")
        hidden, _, after = rest.partition("### END HIDDEN TESTS")
        assert hidden.strip() and not after.strip(), (
            f"{cell.metadata.nbgrader.grade_id}: needs one hidden block, at the end"
        )
        calls = [line for line in visible.strip().splitlines() if line.strip()]
        assert len(calls) == 1 and re.fullmatch(r"check\.\w+\(.*\)", calls[0]), (
            f"{cell.metadata.nbgrader.grade_id}: the visible part must be one `check.NAME(...)` call, got {calls}"
        )
        assert cell.metadata.nbgrader.get("points", 0) > 0
        # The call names a check that exists, and the hidden block calls its hidden twin.
        name = calls[0].split("(")[0].split(".")[1]
        module = re.search(r"from autograder\.hidden import (\w+) as hidden", hidden).group(1)
        lesson_checks = importlib.import_module(f"course.checks.{module}")
        assert callable(getattr(lesson_checks, name)), f"course.checks.{module}.{name} does not exist"
        assert f"hidden.{name}(" in hidden
        ast.parse(cell.source)


@pytest.mark.parametrize("path", lesson_notebooks("lessons"), ids=lambda p: p.parent.name)
def test_student_copy_has_stubs_and_no_hidden_tests(path):
    text = path.read_text()
    for leaked in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "autograder.hidden", "autograder.reference"):
        assert leaked not in text, f"{path} contains {leaked!r}"
    notebook = nbformat.read(path, as_version=4)
    stubs = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]
    assert stubs and all("raise NotImplementedError()" in c.source for c in stubs)


def _validator(invert: bool):
    from nbgrader import utils
    from nbgrader.validator import Validator

    class EveryCellValidator(Validator):
        """nbgrader's Validator, which judges graded cells only, also failing any other code
        cell that raised: an experiment or a figure broken on the solution would otherwise
        pass. (Its own validate_all would also fail on stderr, where tqdm draws its bars.)"""

        def _get_failed_cells(self, nb):
            raised = [
                cell
                for cell in nb.cells
                if cell.cell_type == "code"
                and not utils.is_grade(cell)
                and any(output.output_type == "error" for output in cell.outputs)
            ]
            return super()._get_failed_cells(nb) + raised

    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE_ROOT)).load_config()
    config.Validator.invert = invert
    # An unfilled student copy raises in many cells by design; only graded cells count there.
    return Validator(config=config) if invert else EveryCellValidator(config=config)


@pytest.mark.slow
@pytest.mark.parametrize("path", lesson_notebooks("solutions"), ids=lambda p: p.parent.name)
def test_solution_passes_nbgrader_validate(path):
    results = _validator(invert=False).validate(str(path))
    failed = [cell["source"].splitlines()[0] + "\n" + cell["raw_error"][-600:] for cell in results.get("failed", [])]
    assert not failed, "graded cells fail on the solution:\n" + "\n".join(failed)
    assert not results.get("changed") and not results.get("type_changed"), results


@pytest.mark.slow
@pytest.mark.parametrize("path", lesson_notebooks("lessons"), ids=lambda p: p.parent.name)
def test_student_copy_fails_every_graded_cell(path):
    results = _validator(invert=True).validate(str(path))
    passed = [cell["source"].splitlines()[0] for cell in results.get("passed", [])]
    assert not passed, f"graded cells pass on the unfilled student copy: {passed}"
    assert not results.get("changed") and not results.get("type_changed"), results
