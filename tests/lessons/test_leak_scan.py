"""The leak scan: for every graded function of every lesson, every callable a learner can
reach (the student-facing modules of ``autograder``, the given cells of that lesson and of
the earlier ones) is tried in the learner's place in that function's visible check; none may
pass. The scan runs on a student bundle as ``release`` writes it (the package layout is the
boundary), in its own interpreter, as ``release`` runs it; one test per lesson, so that each
lesson's result shows. ``-s`` prints what was tried."""

from __future__ import annotations

import pytest

from autograder import COURSE_ROOT, leak_scan, release
from autograder.reference import fc_layers as ref

LESSONS = leak_scan.lesson_ids(COURSE_ROOT)
SOLUTIONS = COURSE_ROOT / "solutions"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return release.write_bundle(tmp_path_factory.mktemp("scan") / "bundle")


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_student_side_callable_passes_a_graded_check(lesson, bundle):
    output, problems = release.leak_scan(bundle, [lesson])
    print(output)
    assert "none passes" in output, f"{lesson}: no graded function was scanned:\n{output}"
    assert not problems, f"{lesson}:\n" + "\n".join(problems)


def test_the_scan_finds_a_planted_answer():
    """The scan can fail: an answer among the candidates is reported, in its own slot only."""
    results, problems = leak_scan.scan_lesson(
        "01_fc_layers",
        COURSE_ROOT,
        SOLUTIONS,
        {"planted affine_forward": ref.affine_forward, "planted tanh_forward": ref.tanh_forward},
    )
    leaks = {result.slot: result.leaks for result in results if result.leaks}
    assert leaks == {"affine_forward": ["planted affine_forward"], "tanh_forward": ["planted tanh_forward"]}, (
        leaks,
        problems,
    )


def test_a_given_adapter_leads_to_the_learners_function():
    """A graded cell that passes a given wrapper of the learner's function: the learner's
    function is the slot, and the wrapper calls the candidate put there."""
    cells = [
        leak_scan.Cell("solution", "def answer(x):\n    return 2 * x\n"),
        leak_scan.Cell("given", "def adapter(x):\n    return answer(x) + 1\n"),
    ]
    names = {"answer"}
    adapters = leak_scan.given_references(cells, names)
    assert leak_scan.graded_slots(leak_scan.Cell("graded", "check.f(adapter)"), names, adapters)[1] == ["answer"]
    namespace: dict = {}
    leak_scan.run_definitions(cells, namespace)
    trial = leak_scan._trial_namespace(namespace, "answer", lambda x: 3 * x)
    assert trial["adapter"](1) == 4 and namespace["adapter"](1) == 3


def test_given_cells_run_only_their_definitions():
    source = "%matplotlib inline\nimport math\nRATE = 0.1\ndef f(x):\n    return x\nsquare = lambda v: v * v\nfor i in range(10**12):\n    pass\nloss = train()\n"
    assert leak_scan.defined_callables(source) == ["f", "square"]
    namespace: dict = {}
    assert leak_scan.run_definitions([leak_scan.Cell("given", source)], namespace) == []
    assert namespace["RATE"] == 0.1 and "loss" not in namespace and "i" not in namespace


def test_a_candidate_cannot_end_the_scan():
    import os

    namespace = {"answer": lambda: os._exit(3)}
    assert leak_scan._passes("answer()", namespace) is False


def test_student_modules_are_the_whole_student_package():
    modules = leak_scan.student_modules(COURSE_ROOT / "course")
    assert "course.checks.fc_layers" in modules and "course.datasets" in modules and "course.recording" in modules
    assert all(m == "course" or m.startswith("course.") for m in modules)
