"""Hostile and faulty submissions on two lessons (01 and 02), graded per submission as a
class run grades them (ScratchCourse, two worker processes): each gets the score it must
get, or "not graded" where the course's own cell is at fault, and each leaves no damage:
nothing written outside the sandbox, no secret in feedback, autograded notebooks or the
summary, nothing but the lesson's notebooks published.

The class is graded once (module-scoped fixture), in three groups of settings: the
defaults with a 10 s cell limit; small budgets (a 30 s notebook budget, 16 MiB folders);
a course whose set-up cell hangs (3 s limit for the course's cells). No expected score
depends on the machine's speed: every limit that is reached is reached by a margin.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from autograder import COURSE_ROOT
from autograder.grading import (
    Outcome,
    ScratchCourse,
    Settings,
    Submission,
    _generate_assignment,
    _last_error,
    _quiet_nbgrader,
    _template,
    normalise_cells,
    numpy_functions,
    prepare_output,
    summary_table,
    take_in,
    torch_in_numpy_exercises,
)
from autograder.sandbox import sandbox_available

from .fixture_class import (
    LESSON,
    LESSON2,
    NEIGHBOURS_MARK,
    NOTEBOOK,
    NOTEBOOK2,
    SECRET_TEXT,
    course_digest,
    course_files_written_by_kernels,
    hostile_fixtures,
    lesson_answers,
    neighbours_found,
)

SANDBOXED = sandbox_available()[0]
TIMEOUT = 10  # seconds per learner cell
MiB = 2**20
# Each worker starts its next kernel ahead (autograder.warm_kernels), as `grade` does in the
# sandbox: every attack runs beside the kernel started for the next submission.
SETTINGS = {
    "class": Settings(timeout=TIMEOUT, prestart=True),
    "budget": Settings(
        timeout=TIMEOUT, notebook_budget=30, workdir_bytes=16 * MiB, record_bytes=16 * MiB, prestart=True
    ),
    "setup": Settings(timeout=TIMEOUT, course_cell_timeout=3, prestart=True),
}
FIXTURES = [h for h in hostile_fixtures() if SANDBOXED or not h.needs_sandbox]
NOTEBOOKS = {LESSON: NOTEBOOK, LESSON2: NOTEBOOK2}


# ------------------------------------------------------------------ grading in worker processes

_COURSES: dict[tuple[str, Settings], ScratchCourse] = {}


def _grade_one(template: str, settings: Settings, submission: Submission, out: str) -> Outcome:
    """In a worker process: one scratch course per (template, settings), reused."""
    if (template, settings) not in _COURSES:
        from multiprocessing.util import Finalize

        _quiet_nbgrader()
        course = _COURSES[template, settings] = ScratchCourse(Path(template), settings)
        # A pool's worker ends without running atexit; multiprocessing's finalizers run.
        Finalize(course, course.close, exitpriority=10)
    return _COURSES[template, settings].grade(submission, Path(out), more=True)


def _hanging_setup_template(root: Path) -> Path:
    """A course root whose lesson-01 set-up cell never finishes (a fault of the course)."""
    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_bytes((COURSE_ROOT / "nbgrader_config.py").read_bytes())
    notebook = nbformat.read(COURSE_ROOT / "solutions" / LESSON / NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "setup":
            cell.source += "\nimport time\ntime.sleep(600)  # a set-up that never ends"
    (root / "solutions" / LESSON).mkdir(parents=True)
    nbformat.write(notebook, root / "solutions" / LESSON / NOTEBOOK)
    _generate_assignment(root, LESSON)
    return root


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    secret = root / "secret" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text(SECRET_TEXT + "\n")
    secret.chmod(0o600)
    forbidden = [
        COURSE_ROOT / "solutions" / f"pwned-{uuid.uuid4().hex}.txt",
        root / "out" / "pwned.txt",
        Path("/tmp") / f"pwned-{uuid.uuid4().hex}.txt",
    ]
    context = {"secret": secret, "elsewhere": root / "elsewhere", "forbidden": forbidden}
    for fixture in FIXTURES:
        fixture.write(root / "submitted" / fixture.student / fixture.lesson, context)

    templates = {"class": _template({LESSON, LESSON2})}
    templates["budget"] = templates["class"]
    templates["setup"] = _hanging_setup_template(root / "setup-template")
    outs = {"class": root / "out", "budget": root / "out", "setup": root / "out-setup"}
    prepare_output(outs["class"], {LESSON, LESSON2}, templates["class"])
    prepare_output(outs["setup"], {LESSON}, templates["setup"])
    started, digest = time.time(), course_digest()

    # The longest first, so that two workers finish together.
    order = sorted(FIXTURES, key=lambda f: f.group == "class")
    context_spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context_spawn) as pool:
        futures = {
            pool.submit(
                _grade_one,
                str(templates[f.group]),
                SETTINGS[f.group],
                Submission(f.student, f.lesson, root / "submitted" / f.student / f.lesson),
                str(outs[f.group]),
            ): f.student
            for f in order
        }
        # A worker blocked for ever (a FIFO) would fail here rather than hang the suite.
        done, pending = concurrent.futures.wait(futures, timeout=1500)
        assert not pending, f"grading never finished for {[futures[f] for f in pending]}"
        outcomes = {futures[f]: f.result() for f in done}
    return {
        "root": root,
        "outcomes": outcomes,
        "outs": outs,
        "context": context,
        "written_in_course": course_files_written_by_kernels(started, SANDBOXED, digest),
    }


def _describe(outcome: Outcome) -> str:
    return (
        f"score {outcome.score}, not_graded {outcome.not_graded!r}, problems {outcome.notes()}, cells "
        f"{[(c.grade_id, c.points, c.message[:80]) for c in outcome.cells if c.points < c.max_points]}"
    )


# ------------------------------------------------------------------ scores and problems


@pytest.mark.slow
@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.student for f in FIXTURES])
def test_each_hostile_submission_gets_its_expected_result(hostile, fixture):
    outcome = hostile["outcomes"][fixture.student]
    if fixture.expected is None:
        assert outcome.not_graded and not outcome.graded, _describe(outcome)
    else:
        assert not outcome.not_graded, _describe(outcome)
        assert outcome.score == fixture.expected, f"{fixture.description}: {_describe(outcome)}"
    if fixture.problem:
        assert any(fixture.problem in p for p in outcome.notes()), f"{fixture.problem!r} not in {outcome.notes()}"


@pytest.mark.slow
def test_no_secret_and_no_stray_file_reaches_the_output(hostile):
    outcomes = hostile["outcomes"]
    summary = summary_table(sorted(outcomes.values(), key=lambda o: o.student))
    assert SECRET_TEXT not in summary
    for outcome in outcomes.values():
        assert all(SECRET_TEXT not in c.message for c in outcome.cells)
    for out in set(hostile["outs"].values()):
        for path in out.rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert SECRET_TEXT.encode() not in path.read_bytes(), f"the secret reached {path}"
        for folder, suffix in (("autograded", ".ipynb"), ("feedback", ".html")):
            for student in (out / folder).glob("*"):
                for assignment in student.iterdir():
                    names = {p.name for p in assignment.iterdir()}
                    assert names <= {NOTEBOOKS[assignment.name].replace(".ipynb", suffix)}, (
                        f"{folder}/{student.name}/{assignment.name} holds {sorted(names)}"
                    )
                    assert not any(p.is_symlink() for p in assignment.iterdir())


@pytest.mark.slow
def test_nothing_is_written_outside_the_sandbox(hostile):
    assert not hostile["written_in_course"], f"kernels wrote into the course: {hostile['written_in_course']}"
    for path in hostile["context"]["forbidden"]:
        assert not path.exists(), f"a submission wrote {path}"


@pytest.mark.slow
@pytest.mark.skipif(not SANDBOXED, reason="only the sandbox keeps kernels apart")
def test_a_kernel_cannot_reach_the_kernel_started_ahead_of_the_next(hostile):
    printed = neighbours_found(hostile["outs"]["class"], "neighbours")
    assert printed == [f"{NEIGHBOURS_MARK} 0"], printed


@pytest.mark.slow
def test_a_dead_kernel_keeps_earlier_points_and_writes_feedback(hostile):
    for student, lesson, cell in (
        ("exits", LESSON, "check_sigmoid_backward"),
        ("segfault", LESSON, "check_softmax_cross_entropy"),
        ("l2_exits", LESSON2, "check_temporal_affine_forward"),
    ):
        outcome = hostile["outcomes"][student]
        assert outcome.graded
        assert (
            hostile["outs"]["class"] / "feedback" / student / lesson / NOTEBOOKS[lesson].replace(".ipynb", ".html")
        ).exists()
        died = next(p for p in outcome.problems if "died" in p)
        assert cell in died
        later = [c for c in outcome.cells if c.message.startswith("NotRun")]
        assert later and all(c.points == 0 for c in later)


@pytest.mark.slow
def test_pytorch_in_numpy_exercises_is_flagged_in_the_feedback(hostile):
    for student, lesson, names in (
        ("torch_numpy", LESSON, ["affine_forward", "tanh_forward"]),
        ("l2_torch_numpy", LESSON2, ["rnn_step_forward"]),
    ):
        html = (
            hostile["outs"]["class"] / "feedback" / student / lesson / NOTEBOOKS[lesson].replace(".ipynb", ".html")
        ).read_text()
        for name in names:
            assert f"{name} is a NumPy exercise answered with PyTorch" in html
    for student in ("strays", "l2_correct", "split"):  # honest NumPy answers are not flagged
        assert not any("PyTorch" in p for p in hostile["outcomes"][student].problems)


@pytest.mark.slow
def test_a_course_fault_is_retried_and_never_a_zero(hostile):
    outcome = hostile["outcomes"]["setup_hangs"]
    assert "retried once" in " ".join(outcome.problems)
    assert outcome.not_graded.startswith("the course's cell setup timed out")
    assert not (hostile["outs"]["setup"] / "feedback" / "setup_hangs").exists()


# ------------------------------------------------------------------ the parts, without a kernel


def test_take_in_copies_only_the_lessons_notebooks(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET_TEXT)
    folder = tmp_path / "submitted" / "s" / LESSON
    folder.mkdir(parents=True)
    (folder / "fc_layers.ipynb").symlink_to(COURSE_ROOT / "solutions" / LESSON / NOTEBOOK)
    (folder / "notes.txt").symlink_to(secret)
    (folder / "other.ipynb").write_text("{}")

    os.mkfifo(folder / "pipe.ipynb")
    target = tmp_path / "target"
    problems = take_in(folder, target, {"fc_layers"}, 1024)
    assert [p.name for p in target.iterdir()] == ["other.ipynb"]  # a renamed notebook: named as such later
    text = " ".join(problems)
    assert (
        "fc_layers.ipynb is a link" in text
        and "notes.txt (a link)" in text
        and "pipe.ipynb (not a regular file)" in text
    )
    assert SECRET_TEXT not in text
    # A regular notebook is copied, under the cap only.
    (folder / "fc_layers.ipynb").unlink()
    (folder / "fc_layers.ipynb").write_bytes(b"x" * 2048)
    assert "larger than" in " ".join(take_in(folder, target, {"fc_layers"}, 1024))
    assert take_in(folder, target, {"fc_layers"}, 4096)[-1].startswith("ignored")  # notes.txt, pipe.ipynb
    assert (target / "fc_layers.ipynb").read_bytes() == b"x" * 2048


def test_normalise_keeps_the_last_cell_of_an_id_and_runs_the_others_as_ordinary_cells():
    notebook = nbformat.v4.new_notebook()
    meta = {"nbgrader": {"grade_id": "f", "solution": True, "grade": False, "locked": False}}
    notebook.cells = [
        nbformat.v4.new_code_cell("a = 1", metadata=dict(meta)),
        nbformat.v4.new_code_cell("def f(): pass", metadata=dict(meta)),
        nbformat.v4.new_code_cell("x", metadata={"nbgrader": {}}),
    ]
    assert normalise_cells(notebook, {"f"}) == ["f", "None"]
    assert ["nbgrader" in c.metadata for c in notebook.cells] == [False, True, False]


def test_torch_is_found_in_numpy_exercises_only():
    assert {"affine_forward", "tanh_forward"} <= numpy_functions(COURSE_ROOT / "solutions" / LESSON / NOTEBOOK)
    assert "affine_gradients_autograd" not in numpy_functions(COURSE_ROOT / "solutions" / LESSON / NOTEBOOK)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(source)
        for source in (
            "import torch.nn.functional as F\nfrom torch import tanh as th",
            "def affine_forward(x, W, b):\n    return F.linear(x, W, b), None",
            "def tanh_forward(x):\n    return th(x), None",
            "def sigmoid_forward(x):\n    return 1 / (1 + np.exp(-x)), None",
            "softmax_cross_entropy = torch.nn.functional.cross_entropy",
            "%matplotlib inline",
        )
    ]
    names = {"affine_forward", "tanh_forward", "sigmoid_forward", "softmax_cross_entropy"}
    assert torch_in_numpy_exercises(notebook, names) == ["affine_forward", "softmax_cross_entropy", "tanh_forward"]


def test_nbgraders_real_reason_is_reported():
    log = (
        "[AutogradeApp | ERROR] There was an error processing assignment: x\n"
        'Traceback (most recent call last):\n  File "overwritecells.py", line 160\n'
        "KeyError: 'grade_id'\n[AutogradeApp | ERROR] Please see the above traceback for details.\n"
    )
    assert _last_error({"log": log}) == "KeyError: 'grade_id'"


def test_the_lessons_solution_answers_are_numpy():
    # The fixtures above assume it: a lesson whose answers change must update them.
    assert "torch" not in lesson_answers(LESSON, NOTEBOOK)["affine_forward"]
    assert "torch" not in lesson_answers(LESSON2, NOTEBOOK2)["rnn_step_forward"]
