"""Hidden checks for lesson 02: random shapes, edge cases (one step, a batch of one,
D != H and D == H, a nonzero initial state) and the NumPy references.

The step's and the temporal affine layer's caches are tuples of arrays, which the grader's
record carries: they are verified here as in the visible checks. rnn_forward's cache is a
list, which the record does not carry, so the visible check alone verifies it (on the
learner's real list, in the graded cell itself)."""
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


def _weights(rng, d, h):
    Wx = rng.normal(scale=1 / np.sqrt(d), size=(d, h))
    Wh = rng.normal(scale=1 / np.sqrt(h), size=(h, h))
    return Wx, Wh, rng.normal(scale=0.5, size=h)


@hidden_check("rnn_step_forward")
def rnn_step_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, _, d, h in _shapes(rng):
        visible.compare_rnn_step_forward(report, *functions, rng.normal(size=(n, d)), np.tanh(rng.normal(size=(n, h))),
                                         *_weights(rng, d, h), reference=ref and ref.rnn_step_forward)


@hidden_check("rnn_forward")
def rnn_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, t, d, h in _shapes(rng):
        visible.compare_rnn_forward(report, *functions, rng.normal(size=(n, t, d)), np.tanh(rng.normal(size=(n, h))),
                                    *_weights(rng, d, h), reference=ref and ref.rnn_forward, check_cache=False)


@hidden_check("one_hot")
def one_hot(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (n, t, _, v) in enumerate(_shapes(rng)):
        v = v + 1  # at least 2 classes
        # Every other case leaves the last class out: V is an argument, not idx.max() + 1.
        idx = rng.integers(0, v - 1 if case % 2 == 0 else v, size=(n, t))
        visible.compare_one_hot(report, *functions, idx, v, reference=ref and ref.one_hot)


@hidden_check("temporal_affine_forward")
def temporal_affine_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, t, h, m in _shapes(rng):
        visible.compare_temporal_affine_forward(report, *functions, rng.normal(size=(n, t, h)), rng.normal(size=(h, m)),
                                                rng.normal(size=m), reference=ref and ref.temporal_affine_forward)


@hidden_check("rnn_cell_module_forward")
def rnn_cell_module(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, t, d, h in _shapes(rng)[:6]:
        visible.compare_rnn_cell_module(report, *functions, rng.normal(size=(n, t, d)), np.tanh(rng.normal(size=(n, h))),
                                        *_weights(rng, d, h), reference=ref and _step_only(ref))


def _step_only(ref):
    return lambda *args: ref.rnn_step_forward(*args)[0]
