"""Checks for lesson 01 (fully connected layers).

Each public function is what one graded cell calls, e.g. ``check.affine_forward(affine_forward)``.
Visible checks use fixed inputs and two oracles that a learner could reproduce: PyTorch
(float64, on every available device) and centred differences. The ``compare_*`` functions
hold the comparisons; the hidden checks (``autograder.hidden.fc_layers``) run the same
comparisons on random shapes, adding the NumPy reference as a further oracle.
"""
from __future__ import annotations

import numpy as np

from .core import CheckFailed, Report, approximate_floor, call_student, check_unchanged, linspace_array
from .gradients import centred_difference
from .torch_oracle import devices, forward_backward, torch_module as _torch


# --------------------------------------------------------------------------- affine


def _affine_torch(x, W, b):
    # torch.nn.Linear stores its weight as (M, D): our W is its weight transposed.
    return _torch().nn.functional.linear(x, W.T, b)


def compare_affine_forward(report: Report, affine_forward, x, W, b, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    out, _ = call_student(affine_forward, x, W, b, returns=("out", "cache"))
    oracles = [(f"torch {d}", forward_backward(_affine_torch, dict(x=x, W=W, b=b), device=d)[0]) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, W, b)[0]))
    for oracle, expected in oracles:
        report.compare(
            "out", out, expected, oracle=oracle,
            hint="out = x W + b, with x (N, D) @ W (D, M) giving (N, M), then b added to every row",
            suspects={
                "did you add the bias b?": x @ W,
                "an affine layer has no activation: leave out the tanh": np.tanh(x @ W + b),
            },
        )


def affine_forward(affine_forward):
    """Graded: affine_forward(x, W, b) against torch.nn.functional.linear."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("affine_forward")
    x = linspace_array((3, 4), -0.5, 0.4)
    W = linspace_array((4, 5), -0.3, 0.6)
    b = linspace_array((5,), -0.2, 0.3)
    compare_affine_forward(report, affine_forward, x, W, b)
    report.finish()


def compare_affine_backward(report: Report, affine_forward, affine_backward, x, W, b, dout, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    _, cache = call_student(affine_forward, x, W, b, returns=("out", "cache"))
    dx, dW, db = call_student(affine_backward, dout, cache, returns=("dx", "dW", "db"))
    oracles = [(f"torch {d}", forward_backward(_affine_torch, dict(x=x, W=W, b=b), dout, device=d)[1]) for d in devices()]
    if reference is not None:
        _, ref_cache = reference[0](x, W, b)
        oracles.append(("reference", dict(zip(("x", "W", "b"), reference[1](dout, ref_cache)))))
    n = x.shape[0]
    for oracle, grads in oracles:
        report.compare("dx", dx, grads["x"], oracle=oracle,
                       hint="dx = dout W^T: (N, M) @ (M, D) gives (N, D)")
        report.compare("dW", dW, grads["W"], oracle=oracle,
                       hint="dW = x^T dout: (D, N) @ (N, M) gives (D, M)",
                       suspects={"dW sums over the batch: do not divide by N": x.T @ dout / n})
        report.compare("db", db, grads["b"], oracle=oracle,
                       hint="b is added to every row, so db sums dout over the batch axis (axis 0)",
                       suspects={"db is a sum over the batch, not a mean": dout.mean(axis=0)})


def affine_backward(affine_forward, affine_backward):
    """Graded: affine_backward(dout, cache), with the cache from the learner's forward, against torch autograd."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("affine_backward")
    x = linspace_array((3, 4), -0.5, 0.4)
    W = linspace_array((4, 5), -0.3, 0.6)
    b = linspace_array((5,), -0.2, 0.3)
    dout = linspace_array((3, 5), 0.9, -0.6)
    compare_affine_backward(report, affine_forward, affine_backward, x, W, b, dout)
    report.finish()


# --------------------------------------------------------------------------- activations

ACTIVATIONS = {
    "tanh": dict(torch_name="tanh", derivative="1 - out**2"),
    "sigmoid": dict(torch_name="sigmoid", derivative="out * (1 - out)"),
}


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # exact identity, and stable for any x


def compare_activation_forward(report: Report, kind: str, forward, x, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    out, _ = call_student(forward, x, returns=("out", "cache"))
    torch_fn = getattr(_torch(), ACTIVATIONS[kind]["torch_name"])
    oracles = [(f"torch {d}", forward_backward(lambda x: torch_fn(x), dict(x=x), device=d)[0]) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x)[0]))
    if kind == "tanh":
        hint = "tanh(x) = (e^x - e^-x) / (e^x + e^-x); np.tanh computes it without overflow"
        suspects = {"that is the sigmoid, not tanh": _sigmoid(x), "mind the brackets: (e^x - e^-x) / (e^x + e^-x)": np.exp(x) - np.exp(-x) / (np.exp(x) + np.exp(-x))}
    else:
        hint = "sigmoid(x) = 1 / (1 + e^-x)"
        suspects = {"that is tanh, not the sigmoid": np.tanh(x), "the exponent is -x: 1 / (1 + e^-x)": _sigmoid(-x)}
    for oracle, expected in oracles:
        report.compare("out", out, expected, oracle=oracle, hint=hint, suspects=suspects)


def compare_activation_backward(report: Report, kind: str, forward, backward, x, dout, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    _, cache = call_student(forward, x, returns=("out", "cache"))
    dx = call_student(backward, dout, cache)
    torch_fn = getattr(_torch(), ACTIVATIONS[kind]["torch_name"])
    oracles = [(f"torch {d}", forward_backward(lambda x: torch_fn(x), dict(x=x), dout, device=d)[1]["x"]) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference[1](dout, reference[0](x)[1])))
    out = np.tanh(x) if kind == "tanh" else _sigmoid(x)
    derivative = ACTIVATIONS[kind]["derivative"]
    suspects = {
        "chain rule: multiply the local derivative by the upstream gradient dout": (1 - out**2) if kind == "tanh" else out * (1 - out),
        f"write the derivative with the forward's output, {derivative}; this looks like it used the input x": dout * (1 - x**2) if kind == "tanh" else dout * x * (1 - x),
    }
    if kind == "sigmoid":
        suspects["the derivative of the sigmoid is out * (1 - out), not tanh's 1 - out**2"] = dout * (1 - out**2)
        suspects["the cache already holds sigmoid(x): do not apply the sigmoid to it again"] = dout * _sigmoid(out) * (1 - _sigmoid(out))
    else:
        suspects["the derivative of tanh is 1 - out**2 (squared)"] = dout * (1 - out)
    for oracle, expected in oracles:
        report.compare("dx", dx, expected, oracle=oracle,
                       hint=f"dx = dout * {derivative}, with out cached by the forward pass",
                       suspects=suspects)


ACTIVATION_X = linspace_array((3, 4), -3.0, 3.0)
# Far into saturation: exp(1000) overflows a float64, the activation must not.
SATURATED_X = np.array([[-1000.0, -40.0, -1e-3, 0.0, 1e-3, 40.0, 1000.0]])


def _activation_forward(kind: str, forward) -> None:
    report = Report(f"{kind}_forward")
    compare_activation_forward(report, kind, forward, ACTIVATION_X)
    saturated, _ = call_student(forward, SATURATED_X, returns=("out", "cache"))
    expected = np.tanh(SATURATED_X) if kind == "tanh" else _sigmoid(SATURATED_X)
    report.compare("large x", saturated, expected, oracle="limits",
                   hint="exp overflows for |x| > 709: use np.tanh, or rewrite so that exp only sees -|x|")
    report.finish()


def _activation_backward(kind: str, forward, backward) -> None:
    report = Report(f"{kind}_backward")
    compare_activation_backward(report, kind, forward, backward, ACTIVATION_X, linspace_array((3, 4), 1.0, -0.5))
    report.finish()


def tanh_forward(tanh_forward):
    """Graded: tanh_forward(x) against torch.tanh, including saturated inputs."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    _activation_forward("tanh", tanh_forward)


def tanh_backward(tanh_forward, tanh_backward):
    """Graded: tanh_backward(dout, cache) against torch autograd."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    _activation_backward("tanh", tanh_forward, tanh_backward)


def sigmoid_forward(sigmoid_forward):
    """Graded: sigmoid_forward(x) against torch.sigmoid, including saturated inputs."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    _activation_forward("sigmoid", sigmoid_forward)


def sigmoid_backward(sigmoid_forward, sigmoid_backward):
    """Graded: sigmoid_backward(dout, cache) against torch autograd."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    _activation_backward("sigmoid", sigmoid_forward, sigmoid_backward)


# --------------------------------------------------------------------------- loss


def _cross_entropy_torch(scores, y):
    return _torch().nn.functional.cross_entropy(scores, y)  # mean over the batch


def compare_softmax_cross_entropy(report: Report, softmax_cross_entropy, scores, y, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    loss, dscores = call_student(softmax_cross_entropy, scores, y, returns=("loss", "dscores"))
    oracles = []
    for d in devices():
        value, grads = forward_backward(_cross_entropy_torch, dict(scores=scores, y=y), 1.0, device=d)
        oracles.append((f"torch {d}", value, grads["scores"]))
    if reference is not None:
        oracles.append(("reference", *reference(scores, y)))
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    one_hot = np.eye(scores.shape[1])[y]
    for oracle, expected_loss, expected_dscores in oracles:
        report.compare("loss", loss, expected_loss, oracle=oracle,
                       hint="loss = mean over the N rows of -log softmax(scores)[n, y[n]]; subtract each row's max before np.exp",
                       suspects={"average over the N examples, do not sum": expected_loss * n})
        report.compare("dscores", dscores, expected_dscores, oracle=oracle,
                       hint="dscores = (softmax(scores) - one_hot(y)) / N",
                       suspects={"the loss is a mean, so divide dscores by N": probs - one_hot,
                                 "subtract 1 at each row's true class y[n]": probs / n})


def softmax_cross_entropy(softmax_cross_entropy):
    """Graded: loss and dscores against torch.nn.functional.cross_entropy, also for huge scores."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("softmax_cross_entropy")
    scores = linspace_array((4, 5), -2.0, 1.5)
    y = np.array([0, 3, 1, 4])
    compare_softmax_cross_entropy(report, softmax_cross_entropy, scores, y)
    # Softmax does not change when a constant is added to a row, but a naive exp overflows.
    huge_loss, huge_dscores = call_student(softmax_cross_entropy, scores + 1000.0, y, returns=("loss", "dscores"))
    expected_loss, grads = forward_backward(_cross_entropy_torch, dict(scores=scores, y=y), 1.0)
    hint = "np.exp(1000) overflows: subtract each row's max from the scores first (softmax does not change)"
    report.compare("loss+1000", huge_loss, expected_loss, oracle="shift", hint=hint)
    report.compare("dsc+1000", huge_dscores, grads["scores"], oracle="shift", hint=hint)
    report.finish()


# --------------------------------------------------------------------------- gradient check


def _cube(x):
    return x**3


def _tanh_of_product(A):
    return lambda x: np.tanh(x @ A)


def compare_numerical_gradient(report: Report, numerical_gradient, x, A, dout_cube, dout_product) -> None:
    """Two functions with known gradients.

    x**3 (elementwise), with x and dout away from 0, tells a centred difference (error
    ~h^2) from a one-sided one (error ~h) at a tight tolerance. tanh(x A) mixes entries,
    so it catches bookkeeping mistakes (wrong entry, dout ignored); its own truncation
    error varies with the inputs, hence the looser tolerance.
    """
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    cases = [
        ("x**3", _cube, dout_cube, 3 * x**2 * dout_cube, 1e-7),
        ("tanh(xA)", _tanh_of_product(A), dout_product, (dout_product * (1 - np.tanh(x @ A) ** 2)) @ A.T, 1e-5),
    ]
    x_passed = x.copy()  # the very array the learner's function gets, to see it restored
    for label, f, dout, exact, tol in cases:
        grad = call_student(numerical_gradient, f, x_passed, dout, copy_inputs=False)
        report.compare(
            label, grad, exact, oracle="calculus", tol=tol, floor=approximate_floor(exact),
            hint="centred difference: (f(x + h) - f(x - h)) / (2h), each weighted by dout and summed, one entry of x at a time",
            suspects={
                "a centred difference takes f(x + h) and f(x - h) (error ~h^2), not f(x + h) and f(x) (error ~h)": forward_difference(f, x, dout),
                "divide by 2h: the two points are 2h apart": 2 * exact,
                "weight f by the upstream gradient: sum(f(x) * dout)": centred_difference(f, x.copy(), np.ones_like(dout)),
            },
        )
    check_unchanged(report, "x after", x, x_passed)


def forward_difference(f, x, dout, h=1e-5):
    """What a one-sided difference gives (a known mistake), for recognising it."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    base = np.sum(f(x) * dout)
    steps = np.eye(x.size).reshape((x.size,) + x.shape) * h
    return np.array([(np.sum(f(x + step) * dout) - base) / h for step in steps]).reshape(x.shape)


def numerical_gradient(numerical_gradient):
    """Graded: numerical_gradient(f, x, dout) on functions with known gradients; x left unchanged."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("numerical_gradient")
    x = linspace_array((3, 4), -1.6, 1.7)
    A = linspace_array((4, 2), 0.7, -0.4)
    compare_numerical_gradient(report, numerical_gradient, x, A, linspace_array((3, 4), 0.5, -1.0), linspace_array((3, 2), -0.8, 1.1))
    report.finish()


# --------------------------------------------------------------------------- the FC fed back: an RNN step


def _rnn_cell_oracle(x, prev_h, W, b, device):
    """torch.nn.RNNCell with Wx = the first D rows of W and Wh = the last H rows."""
    torch = _torch()
    from ..torch_layout import load_into

    D, H = x.shape[1], prev_h.shape[1]
    cell = torch.nn.RNNCell(D, H, nonlinearity="tanh", dtype=torch.float64, device=device)
    load_into(cell, W[:D], W[D:], b)
    with torch.no_grad():
        out = cell(torch.tensor(x, device=device), torch.tensor(prev_h, device=device))
    return out.cpu().numpy()


def compare_fc_feedback_step(report: Report, fc_feedback_step, x, prev_h, W, b, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    next_h = call_student(fc_feedback_step, x, prev_h, W, b)
    D = x.shape[1]
    oracles = [(f"RNNCell {d}", _rnn_cell_oracle(x, prev_h, W, b, d)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, prev_h, W, b)))
    for oracle, expected in oracles:
        report.compare(
            "next_h", next_h, expected, oracle=oracle,
            hint="next_h = tanh([x, prev_h] W + b): join x and prev_h along axis 1 (x first), then the affine layer, then tanh",
            suspects={
                "x comes first in the concatenation: W's first D rows multiply x": np.tanh(np.concatenate([prev_h, x], axis=1) @ W + b),
                "the step ends with tanh": np.concatenate([x, prev_h], axis=1) @ W + b,
                "prev_h must enter the product: feeding it back is the whole point": np.tanh(x @ W[:D] + b),
            },
        )


def fc_feedback_step(fc_feedback_step):
    """Graded: 100 inputs + 10 fed-back units through a 110 x 10 layer, against torch.nn.RNNCell."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("fc_feedback_step")
    x = linspace_array((2, 100), -1.0, 1.0)
    prev_h = linspace_array((2, 10), 0.5, -0.5)
    W = linspace_array((110, 10), -0.1, 0.1) * np.cos(np.arange(1100)).reshape(110, 10)
    b = linspace_array((10,), -0.2, 0.2)
    compare_fc_feedback_step(report, fc_feedback_step, x, prev_h, W, b)
    report.finish()


# --------------------------------------------------------------------------- torch autograd


def compare_affine_gradients_autograd(report: Report, affine_gradients_autograd, x, W, b, dout, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    grads = call_student(affine_gradients_autograd, x, W, b, dout, returns=("dx", "dW", "db"))
    if reference is None:
        # Centred differences of the affine map (exact up to rounding for a linear map).
        oracle = "numeric"
        expected = {
            "dx": centred_difference(lambda v: v @ W + b, x.copy(), dout, batch_axes=1),
            "dW": centred_difference(lambda v: x @ v + b, W.copy(), dout),
            "db": centred_difference(lambda v: x @ W + v, b.copy(), dout),
        }
    else:
        oracle = "reference"
        expected = dict(zip(("dx", "dW", "db"), reference[1](dout, reference[0](x, W, b)[1])))
    for name, grad in zip(("dx", "dW", "db"), grads):
        report.require(
            f"{name} type", isinstance(grad, np.ndarray) and grad.dtype == np.float64,
            f"got {type(grad).__name__}{'' if not hasattr(grad, 'dtype') else ' of ' + str(grad.dtype)}",
            hint="return float64 NumPy arrays: keep torch.float64 throughout, then .detach().numpy()",
            oracle="float64",
        )
        report.compare(
            name, grad, expected[name], oracle=oracle, tol=1e-8,
            floor=approximate_floor(expected[name]) if reference is None else 1e-8,
            hint="make x, W and b leaf tensors with requires_grad=True, compute out = x @ W + b, then out.backward(dout)",
            suspects={"pass the upstream gradient: out.backward(dout_tensor), not out.sum().backward()": _affine_grads(x, W, np.ones_like(dout))[name]},
        )


def _affine_grads(x, W, dout):
    return {"dx": dout @ W.T, "dW": x.T @ dout, "db": dout.sum(axis=0)}


def affine_gradients_autograd(affine_gradients_autograd):
    """Graded: the affine layer's gradients from torch autograd, against centred differences."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("affine_gradients_autograd")
    x = linspace_array((3, 4), -0.5, 0.4)
    W = linspace_array((4, 5), -0.3, 0.6)
    b = linspace_array((5,), -0.2, 0.3)
    dout = linspace_array((3, 5), 0.9, -0.6)
    compare_affine_gradients_autograd(report, affine_gradients_autograd, x, W, b, dout)
    report.finish()


__all__ = [
    "CheckFailed",
    "affine_forward",
    "affine_backward",
    "tanh_forward",
    "tanh_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "softmax_cross_entropy",
    "numerical_gradient",
    "fc_feedback_step",
    "affine_gradients_autograd",
]
