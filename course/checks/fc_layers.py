"""Checks for lesson 01 (fully connected layers).

Each ``@visible_check`` is what one graded cell calls, e.g. ``check.affine_forward(affine_forward)``.
Visible checks use fixed inputs and oracles that hold no answer: PyTorch (float64, on every
available device), fixed expected values for fixed inputs, and the contracts the docstrings
state (inputs left unchanged, the cache's layout, float64 results). The ``compare_*``
functions hold the comparisons; the hidden checks (``autograder.hidden.fc_layers``) run the
same comparisons on random shapes, adding the NumPy reference as a further oracle. Both build
their inputs with the same ``*_case`` builders: fixed values here, drawn from an rng there.

Each check judges one function only: a backward check builds the cache the forward's
docstring states (from PyTorch's values), so a wrong cache loses points in the forward's
cell, where the forward's own check compares it field by field.
"""

from __future__ import annotations

import numpy as np

from .core import (
    CheckFailed,
    Report,
    approximate_floor,
    call_backward_twice,
    call_student,
    call_unchanged,
    case_array,
    linspace_array,
    visible_check,
)
from .torch_oracle import devices, forward_backward
from .torch_oracle import torch_module as _torch

F64 = np.float64


# --------------------------------------------------------------------------- cases
# One builder per exercise makes the inputs of its visible check (rng None: fixed, readable
# values) and of its hidden check (values drawn from rng, in any shape the hidden check asks).


def affine_case(rng=None, shape=(3, 4, 5)):
    """x (N, D), W (D, M), b (M,) and an upstream gradient dout (N, M), for shape (N, D, M)."""
    n, d, m = shape
    return (
        case_array(rng, (n, d), -0.5, 0.4),
        case_array(rng, (d, m), -0.3, 0.6),
        case_array(rng, (m,), -0.2, 0.3),
        case_array(rng, (n, m), 0.9, -0.6),
    )


def activation_case(rng=None, shape=(3, 4)):
    """x of any shape, moderate but reaching the curved part of both activations, and dout."""
    return case_array(rng, shape, -3.0, 3.0, scale=3.0), case_array(rng, shape, 1.0, -0.5)


def softmax_case(rng=None, shape=(4, 5)):
    """scores (N, V) and integer labels y (N,); the fixed labels include the last class."""
    n, v = shape
    if rng is None:
        return linspace_array(shape, -2.0, 1.5), np.arange(n) * 3 % v
    return rng.normal(scale=5.0, size=shape), rng.integers(0, v, size=n)


def numerical_gradient_case(rng=None, shape=(3, 4), m=2):
    """x of any shape and dout_cube (for f = x**3, both kept away from 0, where a relative
    error means little); A (D, m) and dout_product (N, m) for f = tanh(x A), which needs a
    2-D x (dout_product is None otherwise)."""
    d = shape[-1] if shape else 1
    product_shape = (shape[0], m) if len(shape) == 2 else None
    if rng is None:
        x, dout_cube = linspace_array(shape, -1.6, 1.7), linspace_array(shape, 0.5, -1.0)
        A = linspace_array((d, m), 0.7, -0.4)
        return x, A, dout_cube, product_shape and linspace_array(product_shape, -0.8, 1.1)

    def away_from_zero():
        return np.asarray(rng.uniform(0.3, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape))

    x, dout_cube = away_from_zero(), away_from_zero()
    A = rng.normal(scale=0.5 / np.sqrt(d), size=(d, m))  # keeps tanh(x A) out of saturation
    return x, A, dout_cube, product_shape and rng.normal(size=product_shape)


def fc_feedback_case(rng=None, shape=(2, 100, 10)):
    """x (N, D), prev_h (N, H) in (-1, 1) as a tanh state is, W (D + H, H), b (H,), for shape
    (N, D, H); the fixed W has no pattern that a wrong row order could keep."""
    n, d, h = shape
    if rng is None:
        W = linspace_array((d + h, h), -0.1, 0.1) * np.cos(np.arange((d + h) * h)).reshape(d + h, h)
        return linspace_array((n, d), -1.0, 1.0), linspace_array((n, h), 0.5, -0.5), W, linspace_array((h,), -0.2, 0.2)
    return (
        rng.normal(size=(n, d)),
        np.tanh(rng.normal(size=(n, h))),
        rng.normal(scale=1 / np.sqrt(d + h), size=(d + h, h)),
        rng.normal(scale=0.1, size=h),
    )


def _compare_field(report: Report, quantity: str, value, expected, hint: str, suspects=None) -> None:
    """One field of a cache against the value the docstring says it holds."""
    report.compare(quantity, value, expected, oracle="contract", hint=hint, suspects=suspects, dtype=F64)


# --------------------------------------------------------------------------- affine


def _affine_torch(x, W, b):
    # torch.nn.Linear stores its weight as (M, D): our W is its weight transposed.
    return _torch().nn.functional.linear(x, W.T, b)


def compare_affine_forward(report: Report, affine_forward, x, W, b, reference=None) -> None:
    out, cache = call_unchanged(
        report, affine_forward, x, W, b, argument_names=("x", "W", "b"), returns=("out", "cache")
    )
    oracles = [(f"torch {d}", forward_backward(_affine_torch, dict(x=x, W=W, b=b), device=d)[0]) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, W, b)[0]))
    for oracle, expected in oracles:
        report.compare(
            "out",
            out,
            expected,
            oracle=oracle,
            dtype=F64,
            hint="out = x W + b, with x (N, D) @ W (D, M) giving (N, M), then b added to every row",
            suspects={
                "did you add the bias b?": x @ W,
                "an affine layer has no activation: leave out the tanh": np.tanh(x @ W + b),
            },
        )
    layout = "cache is the tuple (x, W), as the docstring says: affine_backward reads x and W from it"
    if not (isinstance(cache, (tuple, list)) and len(cache) == 2):
        report.require(
            "cache", False, f"cache is {_describe(cache)}, expected the tuple (x, W)", hint=layout, oracle="contract"
        )
        return
    _compare_field(
        report, "cache x", cache[0], x, layout, suspects={"cache the input x, not the output out": oracles[0][1]}
    )
    _compare_field(report, "cache W", cache[1], W, layout, suspects={"cache W itself, not its transpose": W.T})


def _describe(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


#: Prefixed to a hint when an input of a function documented for "any shape" is not 2-D.
ANY_SHAPE = "x may have any shape, as the docstring says (a vector, a 3-D array, a single number), not only (N, D)"


def _shape_hint(x, hint: str) -> str:
    return hint if np.ndim(x) == 2 else f"{ANY_SHAPE}; {hint}"


def _call_any_shape(call, x, name: str):
    """Run ``call()`` (a learner's function on ``x``); when x is not 2-D and the learner's
    code raises, say that the shape is the likely cause instead of showing a bare error."""
    try:
        return call()
    except CheckFailed:
        raise
    except Exception as error:
        if np.ndim(x) == 2:
            raise
        raise CheckFailed(
            f"{name} raised {type(error).__name__} ({error}) for x of shape {np.shape(x)} -> {ANY_SHAPE}"
        ) from None


@visible_check
def affine_forward(report, affine_forward):
    """Graded: affine_forward(x, W, b) against torch.nn.functional.linear; its cache and its inputs."""
    compare_affine_forward(report, affine_forward, *affine_case()[:3])


def compare_affine_backward(report: Report, affine_forward, affine_backward, x, W, b, dout, reference=None) -> None:
    """``affine_forward`` is not called: the cache is the one its docstring states, (x, W)."""
    dx, dW, db = call_backward_twice(
        report, affine_backward, dout, (x, W), argument_names=("dout", "cache"), returns=("dx", "dW", "db")
    )
    oracles = [
        (f"torch {d}", forward_backward(_affine_torch, dict(x=x, W=W, b=b), dout, device=d)[1]) for d in devices()
    ]
    if reference is not None:
        _, ref_cache = reference[0](x, W, b)
        oracles.append(("reference", dict(zip(("x", "W", "b"), reference[1](dout, ref_cache)))))
    n = x.shape[0]
    for oracle, grads in oracles:
        report.compare(
            "dx", dx, grads["x"], oracle=oracle, dtype=F64, hint="dx = dout W^T: (N, M) @ (M, D) gives (N, D)"
        )
        report.compare(
            "dW",
            dW,
            grads["W"],
            oracle=oracle,
            dtype=F64,
            hint="dW = x^T dout: (D, N) @ (N, M) gives (D, M)",
            suspects={"dW sums over the batch: do not divide by N": grads["W"] / n},
        )
        report.compare(
            "db",
            db,
            grads["b"],
            oracle=oracle,
            dtype=F64,
            hint="b is added to every row, so db sums dout over the batch axis (axis 0)",
            suspects={"db is a sum over the batch, not a mean": grads["b"] / n},
        )


@visible_check
def affine_backward(report, affine_forward, affine_backward):
    """Graded: affine_backward(dout, cache) on the cache (x, W), against torch autograd."""
    compare_affine_backward(report, affine_forward, affine_backward, *affine_case())


# --------------------------------------------------------------------------- activations

ACTIVATIONS = {
    "tanh": dict(
        torch_name="tanh",
        derivative="(1 - out**2)",
        formula="tanh(x) = (e^x - e^-x) / (e^x + e^-x)",
        overflow="e^x or e^-x overflows for |x| > 709 (inf / inf = nan): np.tanh computes tanh without overflow",
    ),
    "sigmoid": dict(
        torch_name="sigmoid",
        derivative="out * (1 - out)",
        formula="sigmoid(x) = 1 / (1 + e^-x)",
        overflow="exp overflows for |x| > 709 (inf / inf = nan): write the sigmoid so that exp only "
        "ever sees -|x| (for x < 0, multiply its top and bottom by e^x)",
    ),
}


def _torch_activation(kind: str, x, dout=None):
    """out (and dx when dout is given) of torch.tanh / torch.sigmoid on the CPU."""
    torch_fn = getattr(_torch(), ACTIVATIONS[kind]["torch_name"])
    out, grads = forward_backward(lambda x: torch_fn(x), dict(x=x), dout)
    return out if dout is None else (out, grads["x"])


def compare_activation_forward(report: Report, kind: str, forward, x, reference=None) -> None:
    name = f"{kind}_forward"
    out, cache = _call_any_shape(
        lambda: call_unchanged(report, forward, x, argument_names=("x",), name=name, returns=("out", "cache")), x, name
    )
    torch_fn = getattr(_torch(), ACTIVATIONS[kind]["torch_name"])
    oracles = [(f"torch {d}", forward_backward(lambda x: torch_fn(x), dict(x=x), device=d)[0]) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x)[0]))
    spec = ACTIVATIONS[kind]
    other = "sigmoid" if kind == "tanh" else "tanh"
    with np.errstate(all="ignore"):
        suspects = {f"that is the {other}, not {kind}": _torch_activation(other, x)}
        if kind == "tanh":
            suspects["mind the brackets: (e^x - e^-x) / (e^x + e^-x)"] = np.exp(x) - np.exp(-x) / (
                np.exp(x) + np.exp(-x)
            )
        else:
            suspects["the exponent is -x: 1 / (1 + e^-x)"] = _torch_activation("sigmoid", -x)
    for oracle, expected in oracles:
        # No overflow hint here: these x are moderate, so a nan is not an overflow.
        report.compare(
            "out", out, expected, oracle=oracle, dtype=F64, hint=_shape_hint(x, spec["formula"]), suspects=suspects
        )
    # The cache is the learner's own out (the docstring's contract); whether out is right is
    # the line above's business, so a wrong out fails once, not twice.
    report.compare(
        "cache",
        cache,
        out,
        oracle="your out",
        tol=1e-12,
        hint=f"cache is out = {kind}(x) itself, as the docstring says: {kind}_backward writes the derivative with it",
        suspects={f"cache the output out = {kind}(x), not the input x": x},
    )


def compare_activation_backward(report: Report, kind: str, forward, backward, x, dout, reference=None) -> None:
    """``forward`` is not called: the cache is the one its docstring states, out = kind(x)."""
    out = _torch_activation(kind, x)
    name = f"{kind}_backward"
    dx = _call_any_shape(
        lambda: call_backward_twice(report, backward, dout, out.copy(), argument_names=("dout", "cache"), name=name),
        x,
        name,
    )
    torch_fn = getattr(_torch(), ACTIVATIONS[kind]["torch_name"])
    oracles = [
        (f"torch {d}", forward_backward(lambda x: torch_fn(x), dict(x=x), dout, device=d)[1]["x"]) for d in devices()
    ]
    if reference is not None:
        oracles.append(("reference", reference[1](dout, reference[0](x)[1])))
    derivative = ACTIVATIONS[kind]["derivative"]
    local = _torch_activation(kind, x, np.ones_like(dout))[1]  # the local derivative alone
    with np.errstate(all="ignore"):
        suspects = {
            "chain rule: multiply the local derivative by the upstream gradient dout": local,
            f"mind the brackets: dout multiplies the whole derivative {derivative}": dout * 1 - out**2
            if kind == "tanh"
            else dout * out * 1 - out,
            f"the cache holds out = {kind}(x) already: do not apply {kind} to it again": dout
            * (1 - _torch_activation(kind, out) ** 2)
            if kind == "tanh"
            else dout * _torch_activation(kind, out) * (1 - _torch_activation(kind, out)),
        }
        if kind == "sigmoid":
            suspects["the derivative of the sigmoid is out * (1 - out), not tanh's 1 - out**2"] = dout * (1 - out**2)
        else:
            suspects["the derivative of tanh is 1 - out**2 (squared)"] = dout * (1 - out)
    for oracle, expected in oracles:
        report.compare(
            "dx",
            dx,
            expected,
            oracle=oracle,
            dtype=F64,
            hint=_shape_hint(x, f"dx = dout * {derivative}, with out the forward's output (the cache)"),
            suspects=suspects,
        )


# Far into saturation, and one-dimensional (the docstring says "any shape"):
# exp(1000) overflows a float64, the activation must not.
SATURATED_X = np.array([-1000.0, -40.0, -1e-3, 0.0, 1e-3, 40.0, 1000.0])


def _activation_forward(report: Report, kind: str, forward) -> None:
    x, _ = activation_case()
    compare_activation_forward(report, kind, forward, x)
    saturated, _ = _call_any_shape(
        lambda: call_student(forward, SATURATED_X, returns=("out", "cache")), SATURATED_X, f"{kind}_forward"
    )
    spec = ACTIVATIONS[kind]
    # Same quantity as above: a formula that is wrong everywhere fails once, not twice.
    report.compare(
        "out",
        saturated,
        _torch_activation(kind, SATURATED_X),
        oracle="large |x|",
        dtype=F64,
        hint=_shape_hint(SATURATED_X, spec["formula"]),
        nonfinite_hint=spec["overflow"],
    )


@visible_check
def tanh_forward(report, tanh_forward):
    """Graded: tanh_forward(x) against torch.tanh, including saturated inputs; its cache and its input."""
    _activation_forward(report, "tanh", tanh_forward)


@visible_check
def tanh_backward(report, tanh_forward, tanh_backward):
    """Graded: tanh_backward(dout, cache) on the cache out = tanh(x), against torch autograd."""
    compare_activation_backward(report, "tanh", tanh_forward, tanh_backward, *activation_case())


@visible_check
def sigmoid_forward(report, sigmoid_forward):
    """Graded: sigmoid_forward(x) against torch.sigmoid, including saturated inputs; its cache and its input."""
    _activation_forward(report, "sigmoid", sigmoid_forward)


@visible_check
def sigmoid_backward(report, sigmoid_forward, sigmoid_backward):
    """Graded: sigmoid_backward(dout, cache) on the cache out = sigmoid(x), against torch autograd."""
    compare_activation_backward(report, "sigmoid", sigmoid_forward, sigmoid_backward, *activation_case())


# --------------------------------------------------------------------------- loss


def _cross_entropy_torch(scores, y):
    return _torch().nn.functional.cross_entropy(scores, y)  # mean over the batch


#: Rows far apart, cycled over the batch: one max over the whole batch leaves the lower
#: rows' exps all 0 (0/0), though each row alone is harmless.
FAR_ROW_OFFSETS = np.array([0.0, 900.0, -900.0, 300.0])
#: A wrong class this far above the true one: softmax of the true class underflows to 0,
#: so -log(softmax) gives inf where the loss is simply about this large.
MARGIN = 800.0

STABILITY_HINTS = {
    "+1000 rows": "np.exp overflows for large scores (inf / inf = nan): subtract each row's max before "
    "np.exp (softmax does not change)",
    "far rows": "rows on very different scales: subtract each row's own max (axis=1, keepdims=True); one max "
    "over the whole batch leaves the exps of the lower rows all 0",
    "wide margin": "the true class's softmax underflows to 0 when a wrong class scores far higher, and "
    "log(0) = -inf: compute log-softmax as the shifted scores minus the log of the sum of "
    "their exps, instead of the log of the softmax",
}


def stability_cases(scores, y) -> list[tuple[str, np.ndarray]]:
    """The same batch made hard for a naive softmax: every score + 1000; rows on very
    different scales; a wrong class far above the true one in the first row."""
    n, v = scores.shape
    far = scores + np.resize(FAR_ROW_OFFSETS, n)[:, None]
    margin = scores.copy()
    margin[0, (y[0] + 1) % v] += MARGIN
    return [("+1000 rows", scores + 1000.0), ("far rows", far), ("wide margin", margin)]


def compare_softmax_cross_entropy(report: Report, softmax_cross_entropy, scores, y, reference=None) -> None:
    """The batch itself against every oracle, then its hard versions against torch on the CPU.
    Each case is the same two quantities (loss, dscores) against another oracle, so one
    mistake gives one FAIL line per quantity: the first case that shows it."""
    loss, dscores = call_unchanged(
        report, softmax_cross_entropy, scores, y, argument_names=("scores", "y"), returns=("loss", "dscores")
    )
    oracles = []
    for d in devices():
        value, grads = forward_backward(_cross_entropy_torch, dict(scores=scores, y=y), 1.0, device=d)
        oracles.append((f"torch {d}", loss, dscores, value, grads["scores"], ""))  # moderate scores: no overflow hint
    if reference is not None:
        oracles.append(("reference", loss, dscores, *reference(scores, y), ""))
    n = scores.shape[0]
    for label, hard in stability_cases(scores, y):
        hard_loss, hard_dscores = call_student(softmax_cross_entropy, hard, y, returns=("loss", "dscores"))
        value, grads = forward_backward(_cross_entropy_torch, dict(scores=hard, y=y), 1.0)
        oracles.append((label, hard_loss, hard_dscores, value, grads["scores"], STABILITY_HINTS[label]))
    for oracle, actual_loss, actual_dscores, expected_loss, expected_dscores, nonfinite_hint in oracles:
        one_hot = np.eye(scores.shape[1])[y]
        probs = expected_dscores * n + one_hot
        report.compare(
            "loss",
            actual_loss,
            expected_loss,
            oracle=oracle,
            dtype=F64,
            hint="loss = mean over the N rows of -log softmax(scores)[n, y[n]]",
            suspects={"average over the N examples, do not sum": expected_loss * n},
            nonfinite_hint=nonfinite_hint,
        )
        report.compare(
            "dscores",
            actual_dscores,
            expected_dscores,
            oracle=oracle,
            dtype=F64,
            hint="dscores = (softmax(scores) - one_hot(y)) / N",
            suspects={
                "the loss is a mean, so divide dscores by N": probs - one_hot,
                "subtract 1 at each row's true class y[n]": probs / n,
            },
            nonfinite_hint=nonfinite_hint,
        )


@visible_check
def softmax_cross_entropy(report, softmax_cross_entropy):
    """Graded: loss and dscores against torch.nn.functional.cross_entropy, also for huge scores,
    rows on very different scales and a wide margin at a wrong class; its inputs left unchanged."""
    compare_softmax_cross_entropy(report, softmax_cross_entropy, *softmax_case())


# --------------------------------------------------------------------------- gradient check


def _cube(x):
    return x**3


def _tanh_of_product(A):
    return lambda x: np.tanh(x @ A)


#: The step of the case that proves ``h`` is used: the centred difference of x**3 with
#: step h is exactly 3 x**2 + h**2, so h = 0.01 is told apart from any other step.
LARGE_STEP = 1e-2

NUMERIC_HINT = (
    "centred difference: (f(x + h) - f(x - h)) / (2h), each weighted by dout and summed, one entry of x at a time"
)


def compare_numerical_gradient(report: Report, numerical_gradient, x, A, dout_cube, dout_product) -> None:
    """Three functions with known gradients.

    x**3 (elementwise), with x and dout away from 0, tells a centred difference (error
    ~h^2) from a one-sided one (error ~h) at a tight tolerance. tanh(x A) mixes entries,
    so it catches bookkeeping mistakes (wrong entry, dout ignored); its own truncation
    error varies with the inputs, hence the looser tolerance. x**3 with h = 0.01, whose
    centred difference is exactly 3 x**2 + h**2, proves the step ``h`` is the one used.
    """
    exact_product = (dout_product * (1 - np.tanh(x @ A) ** 2)) @ A.T if x.ndim == 2 else None
    cases = [("x**3", _cube, dout_cube, (), 3 * x**2 * dout_cube, 1e-7)]
    if exact_product is not None:
        cases.append(("tanh(xA)", _tanh_of_product(A), dout_product, (), exact_product, 1e-5))
    # Any other step is off by at least h**2 / (3 x**2) ~ 1e-5 here: 1e-6 tells them apart.
    cases.append(("h=0.01", _cube, dout_cube, (LARGE_STEP,), (3 * x**2 + LARGE_STEP**2) * dout_cube, 1e-6))
    for label, f, dout, step, exact, tol in cases:
        # The very arrays are passed: x must come back exactly as it was, dout untouched.
        grad = _call_any_shape(
            lambda f=f, dout=dout, step=step: call_unchanged(
                report,
                numerical_gradient,
                f,
                x,
                dout,
                *step,
                argument_names=(None, "x", "dout"),
                name="numerical_gradient",
                hint="restore every entry of x you perturb, and leave dout alone",
            ),
            x,
            "numerical_gradient",
        )
        h = step[0] if step else 1e-5
        with np.errstate(all="ignore"):
            suspects = {
                "a centred difference takes f(x + h) and f(x - h) (error ~h^2), not f(x + h) and f(x) (error ~h)": _forward_difference(
                    f, x, dout, h
                ),
                "divide by 2h: the two points are 2h apart": 2 * exact,
                "weight f by the upstream gradient: sum(f(x) * dout)": _weights_ignored(f, x, dout, h),
            }
            if step:
                suspects["use the step h that is passed in, not a fixed one"] = 3 * x**2 * dout_cube
        # One quantity, "grad", against three exact answers: one mistake gives one FAIL line.
        report.compare(
            "grad",
            grad,
            exact,
            oracle=label,
            tol=tol,
            floor=approximate_floor(exact),
            dtype=F64,
            hint=_shape_hint(x, NUMERIC_HINT),
            suspects=suspects,
        )


def _forward_difference(f, x, dout, h=1e-5):
    """What a one-sided difference gives (a known mistake), for recognising it."""
    base = np.sum(f(x) * dout)
    steps = np.eye(x.size).reshape((x.size,) + x.shape) * h
    return np.array([(np.sum(f(x + step) * dout) - base) / h for step in steps]).reshape(x.shape)


def _weights_ignored(f, x, dout, h):
    """What the gradient of sum(f(x)) gives, dout ignored (a known mistake)."""
    steps = np.eye(x.size).reshape((x.size,) + x.shape) * h
    return np.array([np.sum(f(x + step) - f(x - step)) / (2 * h) for step in steps]).reshape(x.shape)


@visible_check
def numerical_gradient(report, numerical_gradient):
    """Graded: numerical_gradient(f, x, dout, h) on functions with known gradients; x and dout left unchanged."""
    compare_numerical_gradient(report, numerical_gradient, *numerical_gradient_case())


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
    next_h = call_unchanged(report, fc_feedback_step, x, prev_h, W, b, argument_names=("x", "prev_h", "W", "b"))
    D = x.shape[1]
    oracles = [(f"RNNCell {d}", _rnn_cell_oracle(x, prev_h, W, b, d)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, prev_h, W, b)))
    joined = np.concatenate([x, prev_h], axis=1)
    for oracle, expected in oracles:
        report.compare(
            "next_h",
            next_h,
            expected,
            oracle=oracle,
            dtype=F64,
            hint="next_h = tanh([x, prev_h] W + b): join x and prev_h along axis 1 (x first), then the affine layer, then tanh",
            suspects={
                "x comes first in the concatenation: W's first D rows multiply x": np.tanh(
                    np.concatenate([prev_h, x], axis=1) @ W + b
                ),
                "the step ends with tanh": joined @ W + b,
                "prev_h must enter the product: feeding it back is the whole point": np.tanh(x @ W[:D] + b),
                "the step's activation is tanh, not the sigmoid": _torch_activation("sigmoid", joined @ W + b),
            },
        )


@visible_check
def fc_feedback_step(report, fc_feedback_step):
    """Graded: 100 inputs + 10 fed-back units through a 110 x 10 layer, against torch.nn.RNNCell; inputs left unchanged."""
    compare_fc_feedback_step(report, fc_feedback_step, *fc_feedback_case())


# --------------------------------------------------------------------------- torch autograd


def compare_affine_gradients_autograd(report: Report, affine_gradients_autograd, x, W, b, dout, reference=None) -> None:
    grads = call_unchanged(
        report,
        affine_gradients_autograd,
        x,
        W,
        b,
        dout,
        argument_names=("x", "W", "b", "dout"),
        returns=("dx", "dW", "db"),
    )
    # Oracles: torch autograd run here (on every device), the reference when grading.
    keys = {"dx": "x", "dW": "W", "db": "b"}
    oracles = [
        (f"torch {d}", forward_backward(_affine_torch, dict(x=x, W=W, b=b), dout, device=d)[1]) for d in devices()
    ]
    if reference is not None:
        oracles.append(("reference", dict(zip("xWb", reference[1](dout, reference[0](x, W, b)[1])))))
    summed = forward_backward(_affine_torch, dict(x=x, W=W, b=b), np.ones_like(dout))[1]
    for oracle, expected in oracles:
        for name, grad in zip(("dx", "dW", "db"), grads):
            report.compare(
                name,
                grad,
                expected[keys[name]],
                oracle=oracle,
                tol=1e-8,
                dtype=F64,
                hint="make x, W and b leaf tensors with requires_grad=True, compute out = x @ W + b, then out.backward(dout)",
                suspects={
                    "pass the upstream gradient: out.backward(dout_tensor), not out.sum().backward()": summed[
                        keys[name]
                    ]
                },
            )


@visible_check
def affine_gradients_autograd(report, affine_gradients_autograd):
    """Graded: the affine layer's gradients from torch autograd, float64 NumPy arrays; inputs left unchanged."""
    compare_affine_gradients_autograd(report, affine_gradients_autograd, *affine_case())
