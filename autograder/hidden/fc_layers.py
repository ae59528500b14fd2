"""Hidden checks for lesson 01: random shapes, edge cases and the NumPy references.

Each draws its cases with the visible check's case builder (``visible.*_case(rng, shape)``)
and compares through the visible check's ``compare_*`` function."""

from __future__ import annotations

import functools

import numpy as np

from course.checks import fc_layers as visible

from . import hidden_check, lesson_reference

#: Shapes (N, D, M) always tried besides the random ones: a batch of one, one feature, one output.
EDGE_SHAPES = [(1, 3, 2), (4, 1, 3), (3, 2, 1), (5, 4, 4)]  # the last is square: a transpose can hide there
RANDOM_CASES = 3


_reference = functools.partial(lesson_reference, __name__)


def _shapes(rng: np.random.Generator):
    return EDGE_SHAPES + [tuple(int(v) for v in rng.integers(1, 8, size=3)) for _ in range(RANDOM_CASES)]


@hidden_check("affine_forward")
def affine_forward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for shape in _shapes(rng):
        x, W, b, _ = visible.affine_case(rng, shape)
        visible.compare_affine_forward(report, *functions, x, W, b, reference=ref and ref.affine_forward)


@hidden_check("affine_forward", "affine_backward")
def affine_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for shape in _shapes(rng):
        visible.compare_affine_backward(
            report,
            *functions,
            *visible.affine_case(rng, shape),
            reference=ref and (ref.affine_forward, ref.affine_backward),
        )


def _any_shapes(rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Shapes for a function documented for "any shape": 2-D ones, plus a vector, a 3-D
    array and a single number (0-d), every time."""
    return [(n, d) for n, d, _ in _shapes(rng)] + [(5,), (2, 3, 4), ()]


def _activation(kind, report, functions, rng, with_reference):
    ref = _reference(with_reference)
    forward_ref = ref and getattr(ref, f"{kind}_forward")
    for shape in _any_shapes(rng):
        x, dout = visible.activation_case(rng, shape)
        if len(functions) == 1:
            visible.compare_activation_forward(report, kind, functions[0], x, reference=forward_ref)
        else:
            visible.compare_activation_backward(
                report, kind, *functions, x, dout, reference=ref and (forward_ref, getattr(ref, f"{kind}_backward"))
            )


@hidden_check("tanh_forward")
def tanh_forward(report, functions, rng, with_reference):
    _activation("tanh", report, functions, rng, with_reference)


@hidden_check("tanh_forward", "tanh_backward")
def tanh_backward(report, functions, rng, with_reference):
    _activation("tanh", report, functions, rng, with_reference)


@hidden_check("sigmoid_forward")
def sigmoid_forward(report, functions, rng, with_reference):
    _activation("sigmoid", report, functions, rng, with_reference)


@hidden_check("sigmoid_forward", "sigmoid_backward")
def sigmoid_backward(report, functions, rng, with_reference):
    _activation("sigmoid", report, functions, rng, with_reference)


@hidden_check("softmax_cross_entropy")
def softmax_cross_entropy(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    # compare_softmax_cross_entropy adds, for every case, the batch + 1000, its rows on very
    # different scales, and a wrong class far above the true one.
    for n, _, v in _shapes(rng):
        visible.compare_softmax_cross_entropy(
            report, *functions, *visible.softmax_case(rng, (n, max(v, 2))), reference=ref and ref.softmax_cross_entropy
        )


@hidden_check("numerical_gradient")
def numerical_gradient(report, functions, rng, with_reference):
    # 2-D cases (x**3 and tanh(x A)), then x of other shapes (x**3 only): "any shape".
    cases = [((n, d), m) for n, d, m in _shapes(rng)[:5]] + [((4,), 2), ((2, 2, 3), 2), ((), 1)]
    for shape, m in cases:
        visible.compare_numerical_gradient(report, *functions, *visible.numerical_gradient_case(rng, shape, m))


@hidden_check("fc_feedback_step")
def fc_feedback_step(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for shape in _shapes(rng):
        visible.compare_fc_feedback_step(
            report, *functions, *visible.fc_feedback_case(rng, shape), reference=ref and ref.fc_feedback_step
        )


@hidden_check("affine_gradients_autograd")
def affine_gradients_autograd(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for shape in _shapes(rng)[:5]:
        visible.compare_affine_gradients_autograd(
            report,
            *functions,
            *visible.affine_case(rng, shape),
            reference=ref and (ref.affine_forward, ref.affine_backward),
        )
