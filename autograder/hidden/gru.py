"""Hidden checks for lesson 05: random shapes, edge cases (one step, a batch of one,
D != H and D == H), saturated gates, upstream gradients at some steps only, and the NumPy
references. Each kind of case is chosen by its index, never by a coin: a verdict never
depends on the grading seed.

Sequence caches are checked by the visible checks only: a hidden check's record carries
a cache only when it is a tuple of arrays (a step cache), not a list of them."""
from __future__ import annotations

import functools

import numpy as np

from course.checks import gru as visible
from . import hidden_check, lesson_reference
from .lstm import upstream

#: Shapes (N, T, D, H) always tried besides the random ones: one time step, a batch of one,
#: one input feature, H != D both ways, and a square case (D == H).
EDGE_SHAPES = [(1, 1, 3, 2), (2, 1, 1, 4), (1, 5, 4, 3), (3, 4, 4, 4), (2, 3, 2, 5)]
RANDOM_CASES = 3


_reference = functools.partial(lesson_reference, __name__)


def _shapes(rng: np.random.Generator):
    return EDGE_SHAPES + [tuple(int(v) for v in rng.integers(1, 7, size=4)) for _ in range(RANDOM_CASES)]


def _weights(rng, d, h):
    Wx = rng.normal(scale=1 / np.sqrt(d), size=(d, 3 * h))
    Wh = rng.normal(scale=1 / np.sqrt(h), size=(h, 3 * h))
    return Wx, Wh, rng.normal(scale=0.5, size=3 * h), rng.normal(scale=0.5, size=3 * h)


@hidden_check("gru_step_forward")
def gru_step_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (n, _, d, h) in enumerate(_shapes(rng)):
        visible.compare_gru_step_forward(report, *functions, rng.normal(size=(n, d)), np.tanh(rng.normal(size=(n, h))),
                                         *_weights(rng, d, h), reference=ref and ref.gru_step_forward, saturated=case == 0)


@hidden_check("gru_step_forward", "gru_step_backward")
def gru_step_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, _, d, h in _shapes(rng):
        visible.compare_gru_step_backward(report, *functions, rng.normal(size=(n, d)), np.tanh(rng.normal(size=(n, h))),
                                          *_weights(rng, d, h), rng.normal(size=(n, h)),
                                          reference=ref and (ref.gru_step_forward, ref.gru_step_backward))


@hidden_check("gru_forward")
def gru_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (n, t, d, h) in enumerate(_shapes(rng)):
        visible.compare_gru_forward(report, *functions, rng.normal(size=(n, t, d)), np.tanh(rng.normal(size=(n, h))),
                                    *_weights(rng, d, h), reference=ref and ref.gru_forward, check_cache=False,
                                    saturated=case == 2)


@hidden_check("gru_forward", "gru_backward")
def gru_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (n, t, d, h) in enumerate(_shapes(rng)):
        visible.compare_gru_backward(report, *functions, rng.normal(size=(n, t, d)), np.tanh(rng.normal(size=(n, h))),
                                     *_weights(rng, d, h), upstream(rng, case, (n, t, h)),
                                     reference=ref and (ref.gru_forward, ref.gru_backward))
