"""Known-wrong variants of lesson 01's graded functions."""
from __future__ import annotations

import numpy as np
import torch

from autograder.reference import fc_layers as ref

from . import BOTH, Wrong


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------- affine_forward
def affine_forward_no_bias(x, W, b):
    return x @ W, (x, W)


def affine_forward_with_activation(x, W, b):
    return np.tanh(x @ W + b), (x, W)


def affine_forward_weights_transposed(x, W, b):
    return x @ W.T + b, (x, W)


# ---------------------------------------------------------------- affine_backward
def affine_backward_db_not_summed(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout


def affine_backward_dW_mean(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout / x.shape[0], dout.sum(axis=0)


def affine_backward_dx_missing_transpose(dout, cache):
    x, W = cache
    return dout @ W, x.T @ dout, dout.sum(axis=0)


def affine_backward_db_mean(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.mean(axis=0)


# ---------------------------------------------------------------- tanh
def tanh_forward_is_sigmoid(x):
    out = _sigmoid(x)
    return out, out


def tanh_forward_precedence(x):
    out = np.exp(x) - np.exp(-x) / (np.exp(x) + np.exp(-x))
    return out, out


def tanh_forward_overflows(x):
    out = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
    return out, out


def tanh_forward_caches_input(x):
    return np.tanh(x), x


def tanh_backward_from_preactivation(dout, cache):
    x = cache
    return dout * (1 - x**2)


def tanh_backward_forgets_dout(dout, cache):
    return 1 - cache**2


def tanh_backward_missing_square(dout, cache):
    return dout * (1 - cache)


# ---------------------------------------------------------------- sigmoid
def sigmoid_forward_wrong_sign(x):
    out = 1.0 / (1.0 + np.exp(x))
    return out, out


def sigmoid_forward_is_tanh(x):
    out = np.tanh(x)
    return out, out


def sigmoid_forward_overflows(x):
    out = np.exp(x) / (1.0 + np.exp(x))
    return out, out


def sigmoid_backward_tanh_derivative(dout, cache):
    return dout * (1 - cache**2)


def sigmoid_backward_applied_twice(dout, cache):
    s = _sigmoid(cache)
    return dout * s * (1 - s)


def sigmoid_backward_forgets_dout(dout, cache):
    return cache * (1 - cache)


# ---------------------------------------------------------------- softmax_cross_entropy
def _probs(scores, shift=True):
    if shift:
        scores = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(axis=1, keepdims=True)


def softmax_ce_no_max_shift(scores, y):
    p = _probs(scores, shift=False)
    n = len(y)
    loss = -np.log(p[np.arange(n), y]).mean()
    d = p.copy()
    d[np.arange(n), y] -= 1
    return loss, d / n


def softmax_ce_summed(scores, y):
    p = _probs(scores)
    n = len(y)
    loss = -np.log(p[np.arange(n), y]).sum()
    d = p.copy()
    d[np.arange(n), y] -= 1
    return loss, d


def softmax_ce_dscores_not_divided(scores, y):
    p = _probs(scores)
    n = len(y)
    d = p.copy()
    d[np.arange(n), y] -= 1
    return -np.log(p[np.arange(n), y]).mean(), d


def softmax_ce_forgets_minus_one(scores, y):
    p = _probs(scores)
    n = len(y)
    return -np.log(p[np.arange(n), y]).mean(), p / n


# ---------------------------------------------------------------- numerical_gradient
def numerical_gradient_forward_difference(f, x, dout, h=1e-5):
    grad = np.zeros_like(x)
    base = np.sum(f(x) * dout)
    for i in np.ndindex(*x.shape):
        old = x[i]
        x[i] = old + h
        grad[i] = (np.sum(f(x) * dout) - base) / h
        x[i] = old
    return grad


def numerical_gradient_divides_by_h(f, x, dout, h=1e-5):
    return 2 * ref.numerical_gradient(f, x, dout, h)


def numerical_gradient_leaves_x_changed(f, x, dout, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        old = x[i]
        x[i] = old + h
        plus = np.sum(f(x) * dout)
        x[i] = old - h
        minus = np.sum(f(x) * dout)
        grad[i] = (plus - minus) / (2 * h)  # forgot: x[i] = old
    return grad


def numerical_gradient_ignores_dout(f, x, dout, h=1e-5):
    return ref.numerical_gradient(f, x, np.ones_like(dout), h)


# ---------------------------------------------------------------- fc_feedback_step
def fc_feedback_step_concat_swapped(x, prev_h, W, b):
    return np.tanh(np.concatenate([prev_h, x], axis=1) @ W + b)


def fc_feedback_step_no_tanh(x, prev_h, W, b):
    return np.concatenate([x, prev_h], axis=1) @ W + b


def fc_feedback_step_ignores_prev_h(x, prev_h, W, b):
    return np.tanh(x @ W[: x.shape[1]] + b)


def fc_feedback_step_sigmoid(x, prev_h, W, b):
    return _sigmoid(np.concatenate([x, prev_h], axis=1) @ W + b)


# ---------------------------------------------------------------- affine_gradients_autograd
def autograd_float32(x, W, b, dout):
    ts = [torch.tensor(a, dtype=torch.float32, requires_grad=True) for a in (x, W, b)]
    (ts[0] @ ts[1] + ts[2]).backward(torch.tensor(dout, dtype=torch.float32))
    return tuple(t.grad.numpy() for t in ts)


def autograd_sum_backward(x, W, b, dout):
    ts = [torch.tensor(a, requires_grad=True) for a in (x, W, b)]
    (ts[0] @ ts[1] + ts[2]).sum().backward()
    return tuple(t.grad.numpy() for t in ts)


def autograd_returns_tensors(x, W, b, dout):
    ts = [torch.tensor(a, requires_grad=True) for a in (x, W, b)]
    (ts[0] @ ts[1] + ts[2]).backward(torch.tensor(dout))
    return tuple(t.grad for t in ts)


VARIANTS: dict[str, list[Wrong]] = {
    "affine_forward": [
        Wrong("no_bias", "forgot to add b", (affine_forward_no_bias,), BOTH),
        Wrong("with_activation", "applied tanh inside the affine layer", (affine_forward_with_activation,), BOTH),
        Wrong("weights_transposed", "x @ W.T (crashes on non-square W; silent when D == M)", (affine_forward_weights_transposed,), BOTH),
    ],
    "affine_backward": [
        Wrong("db_not_summed", "db = dout, not summed over the batch", (ref.affine_forward, affine_backward_db_not_summed), BOTH),
        Wrong("dW_mean", "dW divided by N", (ref.affine_forward, affine_backward_dW_mean), BOTH),
        Wrong("dx_missing_transpose", "dx = dout @ W instead of dout @ W.T", (ref.affine_forward, affine_backward_dx_missing_transpose), BOTH),
        Wrong("db_mean", "db averaged over the batch", (ref.affine_forward, affine_backward_db_mean), BOTH),
    ],
    "tanh_forward": [
        Wrong("is_sigmoid", "sigmoid for tanh", (tanh_forward_is_sigmoid,), BOTH),
        Wrong("precedence", "e^x - e^-x / (e^x + e^-x): missing brackets", (tanh_forward_precedence,), BOTH),
        Wrong("overflows", "the exp formula, which gives nan for |x| > 709", (tanh_forward_overflows,), frozenset({"visible"})),
    ],
    "tanh_backward": [
        Wrong("from_preactivation", "1 - x**2 with the input x instead of the output", (tanh_forward_caches_input, tanh_backward_from_preactivation), BOTH),
        Wrong("forgets_dout", "local derivative not multiplied by dout", (ref.tanh_forward, tanh_backward_forgets_dout), BOTH),
        Wrong("missing_square", "1 - out instead of 1 - out**2", (ref.tanh_forward, tanh_backward_missing_square), BOTH),
    ],
    "sigmoid_forward": [
        Wrong("wrong_sign", "1 / (1 + e^x)", (sigmoid_forward_wrong_sign,), BOTH),
        Wrong("is_tanh", "tanh for sigmoid", (sigmoid_forward_is_tanh,), BOTH),
        Wrong("overflows", "e^x / (1 + e^x), which gives nan for x > 709", (sigmoid_forward_overflows,), frozenset({"visible"})),
    ],
    "sigmoid_backward": [
        Wrong("tanh_derivative", "1 - out**2 (tanh's derivative)", (ref.sigmoid_forward, sigmoid_backward_tanh_derivative), BOTH),
        Wrong("applied_twice", "sigmoid applied again to the cached output", (ref.sigmoid_forward, sigmoid_backward_applied_twice), BOTH),
        Wrong("forgets_dout", "local derivative not multiplied by dout", (ref.sigmoid_forward, sigmoid_backward_forgets_dout), BOTH),
    ],
    "softmax_cross_entropy": [
        Wrong("no_max_shift", "exp of raw scores: overflows for large scores", (softmax_ce_no_max_shift,), BOTH),
        Wrong("summed", "loss summed over N, not averaged", (softmax_ce_summed,), BOTH),
        Wrong("dscores_not_divided", "dscores not divided by N", (softmax_ce_dscores_not_divided,), BOTH),
        Wrong("forgets_minus_one", "dscores = softmax / N, without -1 at the true class", (softmax_ce_forgets_minus_one,), BOTH),
    ],
    "numerical_gradient": [
        Wrong("forward_difference", "one-sided (f(x+h) - f(x)) / h", (numerical_gradient_forward_difference,), BOTH),
        Wrong("divides_by_h", "divided by h instead of 2h", (numerical_gradient_divides_by_h,), BOTH),
        Wrong("leaves_x_changed", "x not restored after perturbing it", (numerical_gradient_leaves_x_changed,), BOTH),
        Wrong("ignores_dout", "gradient of sum(f(x)) instead of sum(f(x) * dout)", (numerical_gradient_ignores_dout,), BOTH),
    ],
    "fc_feedback_step": [
        Wrong("concat_swapped", "[prev_h, x] instead of [x, prev_h]", (fc_feedback_step_concat_swapped,), BOTH),
        Wrong("no_tanh", "the affine layer without tanh", (fc_feedback_step_no_tanh,), BOTH),
        Wrong("ignores_prev_h", "prev_h left out of the product", (fc_feedback_step_ignores_prev_h,), BOTH),
        Wrong("sigmoid", "sigmoid instead of tanh", (fc_feedback_step_sigmoid,), BOTH),
    ],
    "affine_gradients_autograd": [
        Wrong("float32", "tensors made in float32", (autograd_float32,), BOTH),
        Wrong("sum_backward", "out.sum().backward(): dout ignored", (autograd_sum_backward,), BOTH),
        Wrong("returns_tensors", "returns torch tensors, not NumPy arrays", (autograd_returns_tensors,), BOTH),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "affine_forward": (ref.affine_forward,),
    "affine_backward": (ref.affine_forward, ref.affine_backward),
    "tanh_forward": (ref.tanh_forward,),
    "tanh_backward": (ref.tanh_forward, ref.tanh_backward),
    "sigmoid_forward": (ref.sigmoid_forward,),
    "sigmoid_backward": (ref.sigmoid_forward, ref.sigmoid_backward),
    "softmax_cross_entropy": (ref.softmax_cross_entropy,),
    "numerical_gradient": (ref.numerical_gradient,),
    "fc_feedback_step": (ref.fc_feedback_step,),
    "affine_gradients_autograd": (ref.affine_gradients_autograd,),
}
