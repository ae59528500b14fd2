"""Known-wrong variants of lesson 01's graded functions."""

from __future__ import annotations

import numpy as np
import torch

from autograder.reference import fc_layers as ref

from . import BOTH, HIDDEN, VISIBLE, Wrong


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


def _log_probs(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_ce_summed(scores, y):
    n = len(y)
    loss = -_log_probs(scores)[np.arange(n), y].sum()
    d = _probs(scores)
    d[np.arange(n), y] -= 1
    return loss, d


def softmax_ce_dscores_not_divided(scores, y):
    n = len(y)
    d = _probs(scores)
    d[np.arange(n), y] -= 1
    return -_log_probs(scores)[np.arange(n), y].mean(), d


def softmax_ce_forgets_minus_one(scores, y):
    n = len(y)
    return -_log_probs(scores)[np.arange(n), y].mean(), _probs(scores) / n


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


# ---------------------------------------------------------------- new kinds (issue 12)
# Kind 1, in place: inputs or the cache changed.
def tanh_forward_in_place(x):
    np.tanh(x, out=x)  # overwrites the caller's x
    return x, x


def tanh_backward_consumes_cache(dout, cache):
    out = cache
    out **= 2  # squares the cache itself: a second call gives another answer
    return dout * (1 - out)


def sigmoid_backward_scales_dout_in_place(dout, cache):
    dout *= cache * (1 - cache)
    return dout


def softmax_ce_shifts_in_place(scores, y):
    scores -= scores.max(axis=1, keepdims=True)  # changes the caller's scores
    n = len(y)
    log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    d = np.exp(log_probs)
    d[np.arange(n), y] -= 1
    return -log_probs[np.arange(n), y].mean(), d / n


def fc_feedback_step_overwrites_prev_h(x, prev_h, W, b):
    prev_h[:] = np.tanh(np.concatenate([x, prev_h], axis=1) @ W + b)
    return prev_h


# Kind 2, the cache contract.
def affine_forward_caches_output(x, W, b):
    out = x @ W + b
    return out, (out, W)


def affine_forward_caches_bias_too(x, W, b):
    return x @ W + b, (x, W, b)


def sigmoid_forward_caches_input(x):
    return ref.sigmoid_forward(x)[0], x


def tanh_backward_tanh_of_cache(dout, cache):
    return dout * (1 - np.tanh(cache) ** 2)  # takes the cache for x


# Kind 3, dtype.
def affine_forward_float32(x, W, b):
    out = x.astype(np.float32) @ W.astype(np.float32) + b.astype(np.float32)
    return out, (x, W)


def tanh_forward_float32(x):
    out = np.tanh(x.astype(np.float32))
    return out, out


def tanh_backward_float32(dout, cache):
    return (dout * (1 - cache**2)).astype(np.float32)


def softmax_ce_float32(scores, y):
    loss, dscores = ref.softmax_cross_entropy(scores.astype(np.float32), y)
    return loss, dscores


def numerical_gradient_float32(f, x, dout, h=1e-5):
    grad = np.zeros(x.shape, dtype=np.float32)
    grad[...] = ref.numerical_gradient(f, x, dout, h)
    return grad


def fc_feedback_step_float32(x, prev_h, W, b):
    joined = np.concatenate([x, prev_h], axis=1).astype(np.float32)
    return np.tanh(joined @ W.astype(np.float32) + b.astype(np.float32))


# Kind 4, numerical stability.
def softmax_ce_log_of_softmax(scores, y):
    p = _probs(scores)  # each row shifted by its max: no overflow, but p can underflow to 0
    n = len(y)
    d = p.copy()
    d[np.arange(n), y] -= 1
    return -np.log(p[np.arange(n), y]).mean(), d / n


def softmax_ce_one_max_for_the_batch(scores, y):
    shifted = scores - scores.max()  # one max over the whole batch
    n = len(y)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    d = np.exp(log_probs)
    d[np.arange(n), y] -= 1
    return -log_probs[np.arange(n), y].mean(), d / n


# Kind 5, generality of shapes and arguments.
def numerical_gradient_ignores_h(f, x, dout, h=1e-5):
    return ref.numerical_gradient(f, x, dout, 1e-5)  # a fixed step, whatever h is passed


def numerical_gradient_2d_loops(f, x, dout, h=1e-5):
    grad = np.zeros_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            old = x[i, j].copy()
            x[i, j] = old + h
            plus = np.sum(f(x) * dout)
            x[i, j] = old - h
            minus = np.sum(f(x) * dout)
            x[i, j] = old
            grad[i, j] = (plus - minus) / (2 * h)
    return grad


def tanh_forward_2d_loops(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = np.tanh(x[i, j])
    return out, out


def sigmoid_backward_2d_only(dout, cache):
    n, d = cache.shape  # unpacks a 2-D shape
    return dout * cache * (1 - cache)


# Kind 6, hints: the mistakes whose hints were untrue.
def tanh_backward_precedence(dout, cache):
    return dout * 1 - cache**2


VARIANTS: dict[str, list[Wrong]] = {
    "affine_forward": [
        Wrong("no_bias", "forgot to add b", (affine_forward_no_bias,), BOTH, hint="did you add the bias b?"),
        Wrong(
            "with_activation",
            "applied tanh inside the affine layer",
            (affine_forward_with_activation,),
            BOTH,
            hint="leave out the tanh",
        ),
        Wrong(
            "weights_transposed",
            "x @ W.T (crashes on non-square W; silent when D == M)",
            (affine_forward_weights_transposed,),
            BOTH,
            hint="matmul",
        ),  # the learner's own ValueError from @
        Wrong(
            "caches_output",
            "caches (out, W) instead of (x, W)",
            (affine_forward_caches_output,),
            BOTH,
            hint="not the output out",
        ),
        Wrong(
            "caches_bias_too",
            "caches (x, W, b), not the stated (x, W)",
            (affine_forward_caches_bias_too,),
            BOTH,
            hint="expected the tuple (x, W)",
        ),
        Wrong("float32", "computes in float32", (affine_forward_float32,), BOTH, hint="keep float64"),
    ],
    "affine_backward": [
        Wrong(
            "db_not_summed",
            "db = dout, not summed over the batch",
            (ref.affine_forward, affine_backward_db_not_summed),
            BOTH,
            hint="db sums dout over the batch axis",
        ),
        Wrong(
            "dW_mean", "dW divided by N", (ref.affine_forward, affine_backward_dW_mean), BOTH, hint="do not divide by N"
        ),
        Wrong(
            "dx_missing_transpose",
            "dx = dout @ W instead of dout @ W.T",
            (ref.affine_forward, affine_backward_dx_missing_transpose),
            BOTH,
            hint="matmul",
        ),  # (3, 5) @ (4, 5): the learner's own ValueError
        Wrong(
            "db_mean",
            "db averaged over the batch",
            (ref.affine_forward, affine_backward_db_mean),
            BOTH,
            hint="not a mean",
        ),
    ],
    "tanh_forward": [
        Wrong("is_sigmoid", "sigmoid for tanh", (tanh_forward_is_sigmoid,), BOTH, hint="that is the sigmoid, not tanh"),
        Wrong(
            "precedence",
            "e^x - e^-x / (e^x + e^-x): missing brackets",
            (tanh_forward_precedence,),
            BOTH,
            hint="mind the brackets",
        ),
        Wrong(
            "overflows",
            "the exp formula, which gives nan for |x| > 709",
            (tanh_forward_overflows,),
            VISIBLE,
            hint="np.tanh computes tanh without overflow",
        ),
        Wrong(
            "in_place",
            "np.tanh(x, out=x): overwrites the caller's x",
            (tanh_forward_in_place,),
            BOTH,
            hint="x was left changed",
        ),
        Wrong("caches_input", "caches x instead of out", (tanh_forward_caches_input,), BOTH, hint="not the input x"),
        Wrong("float32", "computes in float32", (tanh_forward_float32,), BOTH, hint="keep float64"),
        Wrong(
            "2d_loops", "loops over two axes: only 2-D x", (tanh_forward_2d_loops,), BOTH, hint="x may have any shape"
        ),
    ],
    "tanh_backward": [
        Wrong(
            "tanh_of_cache",
            "applies tanh to the cached output again",
            (ref.tanh_forward, tanh_backward_tanh_of_cache),
            BOTH,
            hint="do not apply tanh to it again",
        ),
        Wrong(
            "forgets_dout",
            "local derivative not multiplied by dout",
            (ref.tanh_forward, tanh_backward_forgets_dout),
            BOTH,
            hint="multiply the local derivative by the upstream gradient",
        ),
        Wrong(
            "missing_square",
            "1 - out instead of 1 - out**2",
            (ref.tanh_forward, tanh_backward_missing_square),
            BOTH,
            hint="(squared)",
        ),
        Wrong(
            "precedence",
            "dout * 1 - out**2: missing brackets",
            (ref.tanh_forward, tanh_backward_precedence),
            BOTH,
            hint="dout multiplies the whole derivative (1 - out**2)",
        ),
        Wrong(
            "consumes_cache",
            "squares the cache in place",
            (ref.tanh_forward, tanh_backward_consumes_cache),
            BOTH,
            hint="cache was left changed",
        ),
        Wrong("float32", "returns float32", (ref.tanh_forward, tanh_backward_float32), BOTH, hint="keep float64"),
    ],
    "sigmoid_forward": [
        Wrong("wrong_sign", "1 / (1 + e^x)", (sigmoid_forward_wrong_sign,), BOTH, hint="the exponent is -x"),
        Wrong("is_tanh", "tanh for sigmoid", (sigmoid_forward_is_tanh,), BOTH, hint="that is the tanh, not sigmoid"),
        Wrong(
            "overflows",
            "e^x / (1 + e^x), which gives nan for x > 709",
            (sigmoid_forward_overflows,),
            VISIBLE,
            hint="exp only ever sees -|x|",
        ),
        Wrong("caches_input", "caches x instead of out", (sigmoid_forward_caches_input,), BOTH, hint="not the input x"),
    ],
    "sigmoid_backward": [
        Wrong(
            "tanh_derivative",
            "1 - out**2 (tanh's derivative)",
            (ref.sigmoid_forward, sigmoid_backward_tanh_derivative),
            BOTH,
            hint="not tanh's 1 - out**2",
        ),
        Wrong(
            "applied_twice",
            "sigmoid applied again to the cached output",
            (ref.sigmoid_forward, sigmoid_backward_applied_twice),
            BOTH,
            hint="do not apply sigmoid to it again",
        ),
        Wrong(
            "forgets_dout",
            "local derivative not multiplied by dout",
            (ref.sigmoid_forward, sigmoid_backward_forgets_dout),
            BOTH,
            hint="multiply the local derivative by the upstream gradient",
        ),
        Wrong(
            "scales_dout_in_place",
            "dout *= ...: changes the caller's dout",
            (ref.sigmoid_forward, sigmoid_backward_scales_dout_in_place),
            BOTH,
            hint="dout was left changed",
        ),
        Wrong(
            "2d_only",
            "unpacks cache.shape as (N, D)",
            (ref.sigmoid_forward, sigmoid_backward_2d_only),
            HIDDEN,
            hint="x may have any shape",
        ),
    ],
    "softmax_cross_entropy": [
        Wrong(
            "no_max_shift",
            "exp of raw scores: overflows for large scores",
            (softmax_ce_no_max_shift,),
            BOTH,
            hint="subtract each row's max before np.exp",
        ),
        Wrong("summed", "loss summed over N, not averaged", (softmax_ce_summed,), BOTH, hint="do not sum"),
        Wrong(
            "dscores_not_divided",
            "dscores not divided by N",
            (softmax_ce_dscores_not_divided,),
            BOTH,
            hint="divide dscores by N",
        ),
        Wrong(
            "forgets_minus_one",
            "dscores = softmax / N, without -1 at the true class",
            (softmax_ce_forgets_minus_one,),
            BOTH,
            hint="subtract 1 at each row's true class",
        ),
        Wrong(
            "log_of_softmax",
            "-log(softmax): inf when the true class's probability underflows",
            (softmax_ce_log_of_softmax,),
            BOTH,
            hint="log(0) = -inf",
        ),
        Wrong(
            "one_max_for_the_batch",
            "scores - scores.max(): one max over the whole batch",
            (softmax_ce_one_max_for_the_batch,),
            BOTH,
            hint="subtract each row's own max",
        ),
        Wrong(
            "shifts_in_place",
            "scores -= max: changes the caller's scores",
            (softmax_ce_shifts_in_place,),
            BOTH,
            hint="scores was left changed",
        ),
        Wrong("float32", "computes in float32", (softmax_ce_float32,), BOTH, hint="keep float64"),
    ],
    "numerical_gradient": [
        Wrong(
            "forward_difference",
            "one-sided (f(x+h) - f(x)) / h",
            (numerical_gradient_forward_difference,),
            BOTH,
            hint="not f(x + h) and f(x)",
        ),
        Wrong(
            "divides_by_h", "divided by h instead of 2h", (numerical_gradient_divides_by_h,), BOTH, hint="divide by 2h"
        ),
        Wrong(
            "leaves_x_changed",
            "x not restored after perturbing it",
            (numerical_gradient_leaves_x_changed,),
            BOTH,
            hint="restore every entry of x you perturb",
        ),
        Wrong(
            "ignores_dout",
            "gradient of sum(f(x)) instead of sum(f(x) * dout)",
            (numerical_gradient_ignores_dout,),
            BOTH,
            hint="weight f by the upstream gradient",
        ),
        Wrong(
            "ignores_h",
            "a fixed step, whatever h is passed",
            (numerical_gradient_ignores_h,),
            BOTH,
            hint="use the step h that is passed in",
        ),
        Wrong(
            "2d_loops",
            "two nested loops: only 2-D x",
            (numerical_gradient_2d_loops,),
            HIDDEN,
            hint="x may have any shape",
        ),
        Wrong("float32", "returns float32", (numerical_gradient_float32,), BOTH, hint="keep float64"),
    ],
    "fc_feedback_step": [
        Wrong(
            "concat_swapped",
            "[prev_h, x] instead of [x, prev_h]",
            (fc_feedback_step_concat_swapped,),
            BOTH,
            hint="x comes first in the concatenation",
        ),
        Wrong(
            "no_tanh",
            "the affine layer without tanh",
            (fc_feedback_step_no_tanh,),
            BOTH,
            hint="the step ends with tanh",
        ),
        Wrong(
            "ignores_prev_h",
            "prev_h left out of the product",
            (fc_feedback_step_ignores_prev_h,),
            BOTH,
            hint="prev_h must enter the product",
        ),
        Wrong("sigmoid", "sigmoid instead of tanh", (fc_feedback_step_sigmoid,), BOTH, hint="not the sigmoid"),
        Wrong(
            "overwrites_prev_h",
            "writes next_h into prev_h",
            (fc_feedback_step_overwrites_prev_h,),
            BOTH,
            hint="prev_h was left changed",
        ),
        Wrong("float32", "computes in float32", (fc_feedback_step_float32,), BOTH, hint="keep float64"),
    ],
    "affine_gradients_autograd": [
        Wrong("float32", "tensors made in float32", (autograd_float32,), BOTH, hint="keep float64"),
        Wrong(
            "sum_backward",
            "out.sum().backward(): dout ignored",
            (autograd_sum_backward,),
            BOTH,
            hint="pass the upstream gradient",
        ),
        Wrong(
            "returns_tensors",
            "returns torch tensors, not NumPy arrays",
            (autograd_returns_tensors,),
            BOTH,
            hint="got a torch tensor",
        ),
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
