"""Hidden checks for lesson 05: random shapes, edge cases (one step, a batch of one,
D != H and D == H), saturated gates, upstream gradients at some steps only, and the NumPy
references. Each kind of case is chosen by its index, never by a coin: a verdict never
depends on the grading seed. The cases come from the visible checks' own builders.

Every cache, a step's tuple or a sequence's list of them, is carried by the grader's
record (``course.recording``) and checked here as in the visible checks."""

from __future__ import annotations

import functools

from course.checks import gru as visible
from course.checks.gated import case_shapes

from . import hidden_check, lesson_reference

#: Shapes (N, T, D, H) always tried besides the random ones: one time step, a batch of one,
#: one input feature, H != D both ways, and a square case (D == H).
EDGE_SHAPES = [(1, 1, 3, 2), (2, 1, 1, 4), (1, 5, 4, 3), (3, 4, 4, 4), (2, 3, 2, 5)]

_reference = functools.partial(lesson_reference, __name__)


@hidden_check("gru_step_forward")
def gru_step_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, shape in enumerate(case_shapes(rng, EDGE_SHAPES)):
        visible.compare_gru_step_forward(
            report,
            *functions,
            *visible.step_case(rng, shape),
            reference=ref and ref.gru_step_forward,
            saturated=case == 0,
        )


@hidden_check("gru_step_forward", "gru_step_backward")
def gru_step_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for shape in case_shapes(rng, EDGE_SHAPES):
        visible.compare_gru_step_backward(
            report,
            *functions,
            *visible.step_case(rng, shape),
            visible.step_upstream(rng, shape),
            reference=ref and (ref.gru_step_forward, ref.gru_step_backward),
        )


@hidden_check("gru_forward")
def gru_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, shape in enumerate(case_shapes(rng, EDGE_SHAPES)):
        visible.compare_gru_forward(
            report,
            *functions,
            *visible.sequence_case(rng, shape),
            reference=ref and ref.gru_forward,
            saturated=case == 2,
        )


@hidden_check("gru_forward", "gru_backward")
def gru_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, shape in enumerate(case_shapes(rng, EDGE_SHAPES)):
        visible.compare_gru_backward(
            report,
            *functions,
            *visible.sequence_case(rng, shape),
            visible.sequence_upstream(rng, shape, case),
            reference=ref and (ref.gru_forward, ref.gru_backward),
        )
