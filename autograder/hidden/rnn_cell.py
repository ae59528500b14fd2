"""Hidden checks for lesson 02: random shapes, edge cases (one step, a batch of one,
D != H and D == H, a nonzero initial state) and the NumPy references.

Each draws its cases with the visible check's case builder (``visible.*_case(rng, shape)``)
and compares through the visible check's ``compare_*`` function. Every cache (a
tuple of arrays, or rnn_forward's list of step caches) is carried by the grader's record
(``course.recording``) and verified here as in the visible checks."""

from __future__ import annotations

import functools

import numpy as np

from course.checks import rnn_cell as visible

from . import hidden_check, lesson_reference

#: Shapes (N, T, D, H) always tried besides the random ones: one time step, a batch of one,
#: one input feature, and a square case (D == H) where a transposed weight cannot crash.
EDGE_SHAPES = [(1, 1, 3, 2), (2, 1, 1, 4), (1, 5, 4, 3), (3, 4, 4, 4), (2, 3, 5, 5)]
RANDOM_CASES = 3


_reference = functools.partial(lesson_reference, __name__)


def _shapes(rng: np.random.Generator):
    return EDGE_SHAPES + [tuple(int(v) for v in rng.integers(1, 7, size=4)) for _ in range(RANDOM_CASES)]


@hidden_check("rnn_step_forward")
def rnn_step_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, _, d, h in _shapes(rng):
        visible.compare_rnn_step_forward(
            report, *functions, *visible.step_case(rng, (n, d, h)), reference=ref and ref.rnn_step_forward
        )


@hidden_check("rnn_forward")
def rnn_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for shape in _shapes(rng):
        visible.compare_rnn_forward(
            report, *functions, *visible.sequence_case(rng, shape), reference=ref and ref.rnn_forward
        )


@hidden_check("one_hot")
def one_hot(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (n, t, _, v) in enumerate(_shapes(rng)):
        # At least 2 classes; every other case leaves the last class out.
        idx, v = visible.one_hot_case(rng, (n, t, v + 1), leave_last_out=case % 2 == 0)
        visible.compare_one_hot(report, *functions, idx, v, reference=ref and ref.one_hot)


@hidden_check("temporal_affine_forward")
def temporal_affine_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for shape in _shapes(rng):
        visible.compare_temporal_affine_forward(
            report, *functions, *visible.temporal_affine_case(rng, shape), reference=ref and ref.temporal_affine_forward
        )


@hidden_check("rnn_cell_module_forward", harness=visible.rnn_cell_module_harness)
def rnn_cell_module(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for shape in _shapes(rng)[:6]:
        visible.compare_rnn_cell_module(
            report, *functions, *visible.sequence_case(rng, shape), reference=ref and ref.rnn_step_forward
        )
