"""Hidden checks for lesson 01: random shapes, edge cases and the NumPy references."""
from __future__ import annotations

import numpy as np

from ..checks import fc_layers as visible
from ..checks.core import Report
from ..reference import fc_layers as ref

#: Shapes (N, D, M) always tried besides the random ones: a batch of one, one feature, one output.
EDGE_SHAPES = [(1, 3, 2), (4, 1, 3), (3, 2, 1), (5, 4, 4)]  # the last is square: a transpose can hide there
RANDOM_CASES = 3


def _rng() -> np.random.Generator:
    return np.random.default_rng()  # fresh entropy at grading time


def _shapes(rng: np.random.Generator):
    return EDGE_SHAPES + [tuple(int(v) for v in rng.integers(1, 8, size=3)) for _ in range(RANDOM_CASES)]


def affine_forward(affine_forward):
    rng = _rng()
    shapes = _shapes(rng)
    report = Report("affine_forward", cases=len(shapes))
    for n, d, m in shapes:
        visible.compare_affine_forward(report, affine_forward, rng.normal(size=(n, d)), rng.normal(size=(d, m)),
                                       rng.normal(size=m), reference=ref.affine_forward)
    report.finish()


def affine_backward(affine_forward, affine_backward):
    rng = _rng()
    shapes = _shapes(rng)
    report = Report("affine_backward", cases=len(shapes))
    for n, d, m in shapes:
        visible.compare_affine_backward(report, affine_forward, affine_backward, rng.normal(size=(n, d)),
                                        rng.normal(size=(d, m)), rng.normal(size=m), rng.normal(size=(n, m)),
                                        reference=(ref.affine_forward, ref.affine_backward))
    report.finish()


def _activation(kind: str, forward, backward=None):
    rng = _rng()
    shapes = [(n, d) for n, d, _ in _shapes(rng)]
    report = Report(f"{kind}_{'backward' if backward else 'forward'}", cases=len(shapes))
    reference_forward = getattr(ref, f"{kind}_forward")
    for n, d in shapes:
        x = rng.normal(scale=3.0, size=(n, d))
        if backward is None:
            visible.compare_activation_forward(report, kind, forward, x, reference=reference_forward)
        else:
            visible.compare_activation_backward(report, kind, forward, backward, x, rng.normal(size=(n, d)),
                                                reference=(reference_forward, getattr(ref, f"{kind}_backward")))
    report.finish()


def tanh_forward(tanh_forward):
    _activation("tanh", tanh_forward)


def tanh_backward(tanh_forward, tanh_backward):
    _activation("tanh", tanh_forward, tanh_backward)


def sigmoid_forward(sigmoid_forward):
    _activation("sigmoid", sigmoid_forward)


def sigmoid_backward(sigmoid_forward, sigmoid_backward):
    _activation("sigmoid", sigmoid_forward, sigmoid_backward)


def softmax_cross_entropy(softmax_cross_entropy):
    rng = _rng()
    shapes = [(n, max(v, 2)) for n, _, v in _shapes(rng)]
    report = Report("softmax_cross_entropy", cases=len(shapes))
    for n, v in shapes:
        scores = rng.normal(scale=5.0, size=(n, v)) + rng.choice([0.0, 800.0])  # sometimes far from 0
        y = rng.integers(0, v, size=n)
        visible.compare_softmax_cross_entropy(report, softmax_cross_entropy, scores, y, reference=ref.softmax_cross_entropy)
    report.finish()


def numerical_gradient(numerical_gradient):
    rng = _rng()
    shapes = _shapes(rng)[:5]
    report = Report("numerical_gradient", cases=len(shapes))
    for n, d, m in shapes:
        # x and dout for x**3 kept away from 0, where its relative error means little.
        x = rng.uniform(0.3, 1.5, size=(n, d)) * rng.choice([-1.0, 1.0], size=(n, d))
        dout_cube = rng.uniform(0.5, 1.5, size=(n, d)) * rng.choice([-1.0, 1.0], size=(n, d))
        A = rng.normal(scale=0.5 / np.sqrt(d), size=(d, m))  # keeps tanh(x A) out of saturation
        visible.compare_numerical_gradient(report, numerical_gradient, x, A, dout_cube, rng.normal(size=(n, m)))
    report.finish()


def fc_feedback_step(fc_feedback_step):
    rng = _rng()
    shapes = _shapes(rng)
    report = Report("fc_feedback_step", cases=len(shapes))
    for n, d, h in shapes:
        W = rng.normal(scale=1 / np.sqrt(d + h), size=(d + h, h))
        visible.compare_fc_feedback_step(report, fc_feedback_step, rng.normal(size=(n, d)), np.tanh(rng.normal(size=(n, h))),
                                         W, rng.normal(scale=0.1, size=h), reference=ref.fc_feedback_step)
    report.finish()


def affine_gradients_autograd(affine_gradients_autograd):
    rng = _rng()
    shapes = _shapes(rng)[:5]
    report = Report("affine_gradients_autograd", cases=len(shapes))
    for n, d, m in shapes:
        visible.compare_affine_gradients_autograd(report, affine_gradients_autograd, rng.normal(size=(n, d)),
                                                  rng.normal(size=(d, m)), rng.normal(size=m), rng.normal(size=(n, m)),
                                                  reference=(ref.affine_forward, ref.affine_backward))
    report.finish()
