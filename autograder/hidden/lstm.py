"""Hidden checks for lesson 04: random shapes, edge cases (one step, a batch of one,
H != D and H == D), saturated gates, upstream gradients at some steps only, and the NumPy
references. Each kind of case is chosen by its index, never by a coin: a verdict never
depends on the grading seed. The cases come from the visible checks' own builders.

Every cache, a step's tuple or a sequence's list of them, is carried by the grader's
record (``course.recording``) and checked here as in the visible checks."""

from __future__ import annotations

import functools

from course.checks import lstm as visible
from course.checks.gated import case_shapes

from . import hidden_check, lesson_reference

#: Shapes (N, T, D, H) always tried besides the random ones: one time step, a batch of one,
#: one input feature, H != D both ways, and a square case (D == H).
EDGE_SHAPES = [(1, 1, 3, 2), (2, 1, 1, 4), (1, 5, 4, 3), (3, 4, 2, 5), (2, 3, 4, 4)]

_reference = functools.partial(lesson_reference, __name__)


@hidden_check("lstm_step_forward")
def lstm_step_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, shape in enumerate(case_shapes(rng, EDGE_SHAPES)):
        visible.compare_lstm_step_forward(
            report,
            *functions,
            *visible.step_case(rng, shape),
            reference=ref and ref.lstm_step_forward,
            saturated=case == 0,
        )


@hidden_check("lstm_step_forward", "lstm_step_backward")
def lstm_step_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for shape in case_shapes(rng, EDGE_SHAPES):
        visible.compare_lstm_step_backward(
            report,
            *functions,
            *visible.step_case(rng, shape),
            *visible.step_upstream(rng, shape),
            reference=ref and (ref.lstm_step_forward, ref.lstm_step_backward),
        )


@hidden_check("lstm_forward")
def lstm_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, shape in enumerate(case_shapes(rng, EDGE_SHAPES)):
        visible.compare_lstm_forward(
            report,
            *functions,
            *visible.sequence_case(rng, shape),
            reference=ref and ref.lstm_forward,
            saturated=case == 2,
        )


@hidden_check("lstm_forward", "lstm_backward")
def lstm_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, shape in enumerate(case_shapes(rng, EDGE_SHAPES)):
        visible.compare_lstm_backward(
            report,
            *functions,
            *visible.sequence_case(rng, shape),
            visible.sequence_upstream(rng, shape, case),
            reference=ref and (ref.lstm_forward, ref.lstm_backward),
        )


@hidden_check("lstm_cell_module_forward", harness=visible.module_harness)
def lstm_cell_module(report, functions, rng, with_reference):
    """The graded cell passes the learner's LSTMCellModule class; the visible check's harness
    makes it the array function that is recorded and replayed."""
    ref = _reference(with_reference)
    for shape in case_shapes(rng, EDGE_SHAPES)[:6]:
        visible.compare_lstm_cell_module(
            report, *functions, *visible.sequence_case(rng, shape), reference=ref and ref.lstm_step_forward
        )
