"""The check machinery itself: error measure, printed lines, failure messages, the
centred-difference oracle and the way learners' functions are called."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course.checks import CheckFailed, Report, call_student, centred_difference, rel_error
from course.checks.core import approximate_floor, describe_mismatch


def test_rel_error_is_the_conventions_formula():
    a, b = np.array([1.0, 0.0, 2.0]), np.array([1.1, 0.0, 2.0])
    assert rel_error(a, b) == pytest.approx(0.1 / 2.1)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0  # the 1e-8 floor: no 0/0
    assert rel_error(np.zeros((2, 3)), np.zeros((3, 2))) == float("inf")


def test_passing_line_is_aligned_and_says_ok(capsys):
    report = Report("affine_forward")
    report.compare("out", np.ones(3), np.ones(3), oracle="torch cpu")
    report.finish()
    line = capsys.readouterr().out.strip()
    assert line.startswith("affine_forward") and line.endswith("OK")
    assert "max rel error 0.0e+00  (< 1e-07)" in line


def test_failure_names_index_and_hint_but_never_the_expected_values(capsys):
    expected = np.array([[123.456789, 2.0], [3.0, 4.0]])
    wrong = expected.copy()
    wrong[1, 0] = 9.0
    report = Report("f")
    report.compare("dW", wrong, expected, oracle="torch cpu", hint="look at dW")
    with pytest.raises(CheckFailed) as failure:
        report.finish()
    shown = capsys.readouterr().out + str(failure.value)
    assert "FAIL" in shown and "index [1, 0]" in shown and "look at dW" in shown
    assert "123.45" not in shown and "3.0" not in shown


def test_a_known_mistake_gets_its_own_hint():
    report = Report("f")
    line = report.compare(
        "out", np.zeros(2), np.ones(2), oracle="o", hint="generic", suspects={"specific": np.zeros(2)}
    )
    assert line.hint == "specific"


@pytest.mark.parametrize(
    "actual, problem",
    [
        (None, "got None"),
        (np.ones((2, 3)), "shape (2, 3), expected (3, 2)"),
        (np.full((3, 2), np.nan), "nan at index [0, 0]"),
        (torch.ones(3, 2), "torch tensor"),
        ("text", "got str"),
    ],
)
def test_mismatch_descriptions(actual, problem):
    assert problem in describe_mismatch(actual, np.ones((3, 2)), 1e-7)[0]


def test_hidden_style_report_prints_the_worst_case_once(capsys):
    report = Report("f", aggregate=True)
    for error in (1e-12, 1e-9, 1e-10):
        report.compare("out", np.ones(2) + error, np.ones(2), oracle="reference")
    assert capsys.readouterr().out == ""  # nothing until finish()
    report.finish()
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "5.0e-10" in lines[0] and "worst of 3 cases" in lines[0]


def test_centred_difference_is_accurate_and_vectorised():
    rng = np.random.default_rng(0)
    x, W, dout = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=(4, 2))
    exact = dout @ W.T
    one_at_a_time = centred_difference(lambda v: v @ W, x, dout)
    calls = []
    batched = centred_difference(lambda v: calls.append(1) or v @ W, x, dout, batch_axes=1)
    floor = approximate_floor(exact)  # an entry near 0 has a meaningless relative error
    assert rel_error(one_at_a_time, exact, floor) < 1e-8 and rel_error(batched, exact, floor) < 1e-8
    assert len(calls) == 2 * 3  # one pair of calls per column, not per entry
    elementwise_calls = []
    centred_difference(lambda v: elementwise_calls.append(1) or np.tanh(v), x, np.ones_like(x), batch_axes=2)
    assert len(elementwise_calls) == 2


def test_centred_difference_restores_x_even_when_f_raises():
    x = np.linspace(0, 1, 6).reshape(2, 3)
    before = x.copy()

    def explode(v):
        raise ValueError("boom")

    with pytest.raises(ValueError):
        centred_difference(explode, x, np.ones(1))
    assert np.array_equal(x, before)


def test_call_student_explains_stubs_and_wrong_returns():
    def stub(x):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="stub still raises NotImplementedError"):
        call_student(stub, np.ones(2))
    with pytest.raises(CheckFailed, match=r"should return \(out, cache\); it returned ndarray"):
        call_student(lambda x: x, np.ones(2), name="f", returns=("out", "cache"))


def test_call_student_shields_inputs_and_silences_numpy_warnings(recwarn):
    x = np.ones(3)

    def clobber(v):
        v[:] = 0
        return np.exp(np.full(2, 1000.0))  # overflows: a RuntimeWarning, silenced

    result = call_student(clobber, x)
    assert np.array_equal(x, np.ones(3)) and np.isinf(result).all()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_one_mistake_gives_one_fail_line_not_one_per_oracle(capsys):
    report = Report("f")
    for oracle in ("torch cpu", "torch cuda", "reference"):
        report.compare("dW", np.zeros(3), np.ones(3), oracle=oracle, hint="look at dW")
    report.compare("db", np.ones(2), np.ones(2), oracle="torch cpu")
    with pytest.raises(CheckFailed) as failure:
        report.finish()
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["dW", "db"]
    assert str(failure.value).count("dW:") == 1 and "look at dW" in str(failure.value)


def test_hidden_style_report_keeps_one_failing_line_per_quantity(capsys):
    report = Report("f", aggregate=True)
    for oracle in ("torch cpu", "reference"):
        report.compare("out", np.zeros(2), np.ones(2), oracle=oracle)
        report.compare("cache", np.ones(2), np.ones(2), oracle=oracle)
    with pytest.raises(CheckFailed):
        report.finish()
    lines = capsys.readouterr().out.strip().splitlines()
    assert sum("FAIL" in line for line in lines) == 1 and sum(" OK" in line for line in lines) == 2


def test_the_traceback_a_learner_sees_is_the_message():
    error = CheckFailed("f: dW: wrong values -> look at dW")
    assert error._render_traceback_() == ["CheckFailed: f: dW: wrong values -> look at dW"]


def test_an_overflow_hint_fires_only_for_a_nan_or_an_inf():
    report = Report("f", quiet=True)
    wrong = report.compare("loss", np.array(2.0), np.array(1.0), oracle="o", hint="values", nonfinite_hint="overflow")
    overflowed = report.compare(
        "loss", np.array(np.nan), np.array(1.0), oracle="o", hint="values", nonfinite_hint="overflow"
    )
    assert wrong.hint == "values" and overflowed.hint == "overflow"


def test_a_stated_dtype_decides_whatever_the_rounding():
    expected = np.linspace(0.1, 1.0, 7)
    report = Report("f", quiet=True)
    exact_float32 = report.compare(
        "out", np.float32(1.0) * np.ones(1, dtype=np.float32), np.ones(1), oracle="o", dtype=np.float64
    )
    rounded_float32 = report.compare("out", expected.astype(np.float32), expected, oracle="o", dtype=np.float64)
    assert "dtype float32, expected float64" in exact_float32.problem and "float64" in exact_float32.hint
    assert "dtype float32" in rounded_float32.problem
    assert report.compare("loss", 1.0, np.array(1.0), oracle="o", dtype=np.float64).ok  # a Python float is float64


def test_call_unchanged_passes_the_real_arrays_and_reports_in_place_changes(capsys):
    from course.checks.core import call_unchanged

    x, W = np.ones(3), np.ones(3)
    seen = []

    def scale_in_place(x, W):
        seen.append(x)
        x *= 2
        return x

    report = Report("f")
    result = call_unchanged(report, scale_in_place, x, W, argument_names=("x", "W"))
    assert seen[0] is x  # the very array, not a copy
    assert np.array_equal(x, np.ones(3)) and np.array_equal(result, 2 * np.ones(3))  # x restored, the result kept
    assert [line.quantity for line in report.failures] == ["x"] and "in-place" in report.failures[0].hint


def test_a_backward_must_give_the_same_result_twice_on_one_cache():
    from course.checks.core import call_backward_twice

    def consumes_cache(dout, cache):
        cache **= 2
        return dout * (1 - cache)

    report = Report("f", quiet=True)
    call_backward_twice(report, consumes_cache, np.ones(2), np.array([0.5, -0.5]), argument_names=("dout", "cache"))
    assert {line.quantity for line in report.failures} == {"cache"}
    report = Report("f", quiet=True)
    call_backward_twice(
        report,
        lambda dout, cache: dout * (1 - cache**2),
        np.ones(2),
        np.array([0.5, 0.1]),
        argument_names=("dout", "cache"),
    )
    assert not report.failures


def test_a_function_promised_a_new_object_must_return_one():
    from course.checks.core import require_new_object

    x = np.ones(3)
    report = Report("f", quiet=True)
    assert not require_new_object(report, "out", x[:2], x).ok
    assert require_new_object(report, "out", x.copy(), x).ok


def test_the_centred_difference_oracle_is_no_drop_in_for_numerical_gradient():
    """Lesson 01 asks for numerical_gradient(f, x, dout, h): the oracle takes its step by keyword only."""
    x = np.linspace(0.1, 1.0, 4)
    with pytest.raises(TypeError):
        centred_difference(lambda v: v**3, x, np.ones(4), 1e-2)
    step = centred_difference(lambda v: v**3, x, np.ones(4), h=1e-2)
    assert rel_error(step, 3 * x**2 + 1e-4) < 1e-9


# --------------------------------------------------------------------------- lessons 01 and 02: declarations, cases, harness

from course.checks import fc_layers, rnn_cell  # noqa: E402
from course.checks.core import graded_checks  # noqa: E402

#: Each builder with a shape its hidden check may ask for, and the shapes it must return.
CASE_BUILDERS = [
    (fc_layers.affine_case, (2, 3, 4), [(2, 3), (3, 4), (4,), (2, 4)]),
    (fc_layers.activation_case, (), [(), ()]),
    (fc_layers.softmax_case, (3, 4), [(3, 4), (3,)]),
    (fc_layers.numerical_gradient_case, (2, 2, 3), [(2, 2, 3), (3, 2), (2, 2, 3), None]),
    (fc_layers.fc_feedback_case, (2, 3, 4), [(2, 3), (2, 4), (7, 4), (4,)]),
    (rnn_cell.step_case, (2, 3, 4), [(2, 3), (2, 4), (3, 4), (4, 4), (4,)]),
    (rnn_cell.sequence_case, (2, 5, 3, 4), [(2, 5, 3), (2, 4), (3, 4), (4, 4), (4,)]),
    (rnn_cell.temporal_affine_case, (2, 5, 3, 4), [(2, 5, 3), (3, 4), (4,)]),
]


@pytest.mark.parametrize(
    "builder, shape, shapes", CASE_BUILDERS, ids=[builder.__name__ for builder, _, _ in CASE_BUILDERS]
)
def test_one_builder_makes_the_visible_and_the_hidden_inputs(builder, shape, shapes):
    fixed = builder()
    assert all(a is None or np.array_equal(a, b) for a, b in zip(fixed, builder()))  # the visible case is fixed
    drawn = builder(np.random.default_rng(0), shape)
    assert [None if a is None else np.shape(a) for a in drawn] == shapes
    again = builder(np.random.default_rng(0), shape)
    assert all(a is None or np.array_equal(a, b) for a, b in zip(drawn, again))  # the same seed, the same case
    assert all(a is None or isinstance(a, np.ndarray) for a in drawn)  # a 0-d array, never a Python float


def test_one_hot_cases_leave_the_last_class_out_when_asked():
    idx, V = rnn_cell.one_hot_case()
    assert V == 6 and idx.max() < V - 1
    idx, V = rnn_cell.one_hot_case(np.random.default_rng(0), (40, 5, 3), leave_last_out=True)
    assert idx.shape == (40, 5) and V == 3 and idx.max() == 1
    assert rnn_cell.one_hot_case(np.random.default_rng(0), (40, 5, 3), leave_last_out=False)[0].max() == 2


@pytest.mark.parametrize("lesson", ["fc_layers", "rnn_cell"])
def test_every_declared_check_is_a_graded_function_with_a_catalog(lesson):
    """The declared visible checks are found without a list, and they are exactly the
    graded functions whose known mistakes the catalog proves caught."""
    import importlib

    checks = graded_checks(importlib.import_module(f"course.checks.{lesson}"))
    assert set(checks) == set(importlib.import_module(f"autograder.mistakes.{lesson}").CORRECT)
    if lesson == "rnn_cell":  # the one exercise that is not a NumPy function: a class, through its harness
        assert checks["rnn_cell_module"].harness is rnn_cell.rnn_cell_module_harness


def test_the_module_harness_builds_the_class_only_inside_the_check():
    class RNNCellModule(torch.nn.Module):  # the student copy's stub
        def __init__(self, input_size, hidden_size):
            super().__init__()
            raise NotImplementedError()

    (step,) = rnn_cell.rnn_cell_module_harness(RNNCellModule)  # builds nothing yet
    with pytest.raises(CheckFailed, match="^RNNCellModule still raises NotImplementedError"):
        rnn_cell.rnn_cell_module(RNNCellModule)
    with pytest.raises(NotImplementedError):
        step(*rnn_cell.step_case())


def test_the_module_harness_names_a_module_that_does_not_fit_the_layout(capsys):
    class Unregistered(torch.nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.Wx = torch.zeros(input_size, hidden_size)  # a plain tensor: not a parameter

        def forward(self, x, h):
            return torch.tanh(x @ self.Wx)

    with pytest.raises(CheckFailed) as failure:
        rnn_cell.rnn_cell_module(Unregistered)
    assert str(failure.value).startswith("Unregistered: it should have the parameters Wx, Wh and b")
    assert failure.value._render_traceback_() == [f"CheckFailed: {failure.value}"]
