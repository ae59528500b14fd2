"""Plain `nbgrader autograde` is honest: the course's nbgrader_config.py puts seeding and
replay of the hidden checks into nbgrader's own pipeline (autograder/replay.py).

In a scratch course made from the repository (config, solutions/, lessons/), nbgrader's
command line grades three lesson-01 submissions:

- the solution: full marks;
- a submission that makes every check pass in its kernel (Report.finish, numpy.allclose
  and numpy.testing.assert_allclose replaced) and answers every exercise but one wrongly:
  0 for every graded cell with a wrong answer (each failed on replay only: the kernel's
  own checks were fooled), full marks for the right one;
- the solution, with records the kernel tampers with after its checks wrote them
  (deleted, replaced by a link to a secret, garbage): 0 for those cells with the grader's
  fixed message, never the secret, and every other cell full; where bubblewrap runs, its
  kernel (started by plain nbgrader) sees neither the references nor solutions/.

Also, without a kernel: the hidden checks a cell calls are found with ast, and a pipeline
without seeding and replay is refused.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder import COURSE_ROOT
from autograder.grading import check_pipeline
from autograder.nbgrader_cli import run_nbgrader
from autograder.replay import REPLAY_FAILED, hidden_checks_called, replay
from autograder.sandbox import sandbox_available

from .fixture_class import LESSON, NOTEBOOK, SECRET_TEXT

RIGHT = "tanh_forward"  # the one exercise the cheating submission answers correctly
CHEAT = '''
# Make every check pass in this kernel: silence the reports and numpy's comparisons.
import numpy
import numpy.testing
import course.checks.core
course.checks.core.Report.finish = lambda self, *args, **kwargs: None
numpy.allclose = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None


def _wrong(function):
    """The function, with every floating-point number it returns a little off."""
    def off(value):
        if isinstance(value, (tuple, list)):
            return type(value)(off(v) for v in value)
        if isinstance(value, dict):
            return {key: off(v) for key, v in value.items()}
        floating = str(getattr(value, "dtype", "")).startswith(("float", "torch.float"))
        if isinstance(value, float) or floating:
            return value * 1.5 + 0.25
        return value

    def wrong(*args, **kwargs):
        return off(function(*args, **kwargs))

    wrong.__name__ = function.__name__
    return wrong
'''
# After the hidden checks of these cells recorded: the record tampered with.
TAMPER = {
    "check_affine_forward": 'for suffix in (".json", ".npz"):\n    os.remove(at("affine_forward" + suffix))',
    "check_tanh_forward": ('os.remove(at("tanh_forward.npz"))\nos.symlink({secret!r}, at("tanh_forward.npz"))'),
    "check_sigmoid_forward": 'open(at("sigmoid_forward.json"), "w").write({garbage!r})',
    "check_softmax_cross_entropy": 'open(at("softmax_cross_entropy.npz"), "wb").write(os.urandom(4096))',
}

AT = """import os


def at(name):  # a file in the record folder
    return os.path.join(os.environ["AUTOGRADER_RECORD_DIR"], name)


"""
LOOK_AROUND = """import os
print("looked around:", [os.path.exists(path) for path in ({reference!r}, {solutions!r})])"""


def _answers() -> dict[str, str]:
    notebook = nbformat.read(COURSE_ROOT / "solutions" / LESSON / NOTEBOOK, as_version=4)
    return {
        c.metadata.nbgrader.grade_id: c.source for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")
    }


def _submit(course: Path, student: str, answers: dict[str, str], after: dict[str, str] | None = None) -> None:
    notebook = nbformat.read(COURSE_ROOT / "lessons" / LESSON / NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    for grade_id, source in (after or {}).items():
        index = next(
            i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
        )
        notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    folder = course / "submitted" / student / LESSON
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / NOTEBOOK)


def _cheating_answers() -> dict[str, str]:
    """Every solution wrapped wrong but RIGHT's, and the cheat before the first one."""
    answers = {}
    for index, (grade_id, source) in enumerate(_answers().items()):
        names = [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name != RIGHT]
        answers[grade_id] = (CHEAT if index == 0 else "") + source + "".join(f"\n{n} = _wrong({n})" for n in names)
    return answers


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(COURSE_ROOT / "solutions" / LESSON, course / "solutions" / LESSON)
    shutil.copytree(COURSE_ROOT / "lessons" / LESSON, course / "lessons" / LESSON)
    secret = course / "secret.txt"
    secret.write_text(SECRET_TEXT)
    run_nbgrader(course, "generate_assignment", LESSON, "--force")
    _submit(course, "solution", _answers())
    _submit(course, "cheat", _cheating_answers())
    tamper = {
        grade_id: AT + source.format(secret=str(secret), garbage=SECRET_TEXT + "{not json")
        for grade_id, source in TAMPER.items()
    }
    # And a look around: what can this kernel read of the course?
    tamper["check_fc_feedback_step"] = LOOK_AROUND.format(
        reference=str(COURSE_ROOT / "autograder" / "reference"), solutions=str(course / "solutions")
    )
    _submit(course, "tamper", _answers(), after=tamper)
    run_nbgrader(course, "autograde", LESSON, "--create")  # raises when nbgrader fails
    return course


def _grades(course: Path, student: str) -> dict[str, tuple[float, float]]:
    """grade_id -> (score, max score), as nbgrader's gradebook holds them."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(NOTEBOOK.removesuffix(".ipynb"), LESSON, student)
        return {grade.name: (grade.score, grade.max_score) for grade in notebook.grades}


def _errors(course: Path, student: str) -> dict[str, list]:
    notebook = nbformat.read(course / "autograded" / student / LESSON / NOTEBOOK, as_version=4)
    return {
        c.metadata.nbgrader.grade_id: [o for o in c.get("outputs", []) if o.output_type == "error"]
        for c in notebook.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }


@pytest.mark.slow
def test_the_solution_scores_full_marks(graded):
    grades = _grades(graded, "solution")
    assert grades and all(score == top for score, top in grades.values()), grades
    assert not any(_errors(graded, "solution").values())


@pytest.mark.slow
def test_monkeypatched_checks_score_zero_for_every_wrong_answer(graded):
    grades, errors = _grades(graded, "cheat"), _errors(graded, "cheat")
    right = f"check_{RIGHT}"
    assert grades[right][0] == grades[right][1] > 0, grades[right]
    for grade_id, (score, top) in grades.items():
        if grade_id != right:
            assert score == 0, f"{grade_id}: {score} / {top} for a wrong answer"
            # The kernel's own checks were fooled: only the grader's replay failed it.
            assert [e.ename for e in errors[grade_id]] == [REPLAY_FAILED], (grade_id, errors[grade_id])


@pytest.mark.slow
def test_tampered_records_score_zero_with_a_fixed_message(graded):
    grades, errors = _grades(graded, "tamper"), _errors(graded, "tamper")
    for grade_id, (score, top) in grades.items():
        if grade_id in TAMPER:
            assert score == 0, f"{grade_id}: {score} / {top} from a tampered record"
            [error] = errors[grade_id]
            assert error.ename == REPLAY_FAILED
            assert SECRET_TEXT not in error.evalue and "not json" not in error.evalue
        else:
            assert score == top, f"{grade_id}: {score} / {top}"
    autograded = (graded / "autograded" / "tamper" / LESSON / NOTEBOOK).read_text()
    assert SECRET_TEXT not in autograded.replace(repr(SECRET_TEXT + "{not json"), "")  # only the cell that wrote it


@pytest.mark.slow
@pytest.mark.skipif(not sandbox_available()[0], reason="bubblewrap cannot run here")
def test_plain_autograde_runs_the_kernel_in_the_sandbox(graded):
    notebook = nbformat.read(graded / "autograded" / "tamper" / LESSON / NOTEBOOK, as_version=4)
    [seen] = [o.text for c in notebook.cells for o in c.get("outputs", []) if "looked around:" in o.get("text", "")]
    assert seen.strip() == "looked around: [False, False]", "the kernel could read the references or solutions/"


@pytest.mark.slow
def test_a_failing_course_cell_is_not_graded_rather_than_zero(tmp_path):
    """The course's own set-up cell fails before any learner code ran: plain nbgrader
    reports the submission as not graded instead of writing zeros."""
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    notebook = nbformat.read(COURSE_ROOT / "solutions" / LESSON / NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "setup":
            cell.source += "\nraise RuntimeError('the course is broken')"
    (course / "solutions" / LESSON).mkdir(parents=True)
    nbformat.write(notebook, course / "solutions" / LESSON / NOTEBOOK)
    run_nbgrader(course, "generate_assignment", LESSON, "--force")
    folder = course / "submitted" / "ann" / LESSON
    folder.mkdir(parents=True)
    shutil.copy2(course / "lessons" / LESSON / NOTEBOOK, folder / NOTEBOOK)  # as generated: the stubs
    with pytest.raises(RuntimeError, match="not graded: the course's cell setup failed"):
        run_nbgrader(course, "autograde", LESSON, "--create")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(NOTEBOOK.removesuffix(".ipynb"), LESSON, "ann")
        assert all(grade.auto_score is None for grade in notebook.grades)


# ------------------------------------------------------------------ without a kernel


def test_the_hidden_checks_of_a_cell_are_found_whatever_the_import():
    source = (
        "check.affine_forward(affine_forward)\n"
        "### BEGIN HIDDEN TESTS\n"
        "from autograder.hidden import fc_layers as hidden\n"
        "hidden.affine_forward(affine_forward)\n"
        "import autograder.hidden.rnn_cell as h2\n"
        "h2.rnn_step_forward(RNNCellModule)\n"
        "from autograder.hidden.fc_layers import tanh_forward as t\n"
        "t(lambda x: x)\n"
        "hidden.not_a_check_at_all\n"
        "### END HIDDEN TESTS"
    )
    assert hidden_checks_called(source) == [
        "fc_layers.affine_forward",
        "rnn_cell.rnn_step_forward",
        "fc_layers.tanh_forward",
    ]
    assert hidden_checks_called("check.affine_forward(affine_forward)") == []


def test_every_graded_cell_with_hidden_tests_calls_a_hidden_check():
    for path in sorted((COURSE_ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and "BEGIN HIDDEN TESTS" in cell.source:
                assert hidden_checks_called(cell.source), f"{path.name} {meta['grade_id']}: no hidden check found"


def test_a_pipeline_without_seeding_and_replay_is_refused():
    from nbgrader.converters import Autograde
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    check_pipeline(PyFileConfigLoader("nbgrader_config.py", path=str(COURSE_ROOT)).load_config())
    with pytest.raises(RuntimeError, match="SeedHiddenChecks"):
        check_pipeline(Config())  # nbgrader's default pipeline
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    config = Config()
    config.Autograde.autograde_preprocessors = [
        "autograder.replay.ReplayHiddenChecks",
        *default,
        "autograder.replay.SeedHiddenChecks",
    ]
    with pytest.raises(RuntimeError, match="must run"):
        check_pipeline(config)


def test_a_missing_or_hostile_record_is_a_failed_replay_with_the_graders_words(tmp_path):
    passed, message, _ = replay("fc_layers.affine_forward", tmp_path, 1)
    assert not passed and message.startswith("affine_forward")
    (tmp_path / "affine_forward.json").write_text(SECRET_TEXT)
    (tmp_path / "affine_forward.npz").symlink_to(tmp_path / "affine_forward.json")
    passed, message, lines = replay("fc_layers.affine_forward", tmp_path, 1)
    assert not passed and message.startswith("affine_forward")
    assert SECRET_TEXT not in message + "".join(lines)
