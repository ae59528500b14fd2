"""Checks for lesson 03 (backpropagation through time).

Each public function is what one graded cell calls, e.g.
``check.rnn_step_backward(rnn_step_forward, rnn_step_backward)``. Visible checks use fixed
inputs (D != H, N != T) and oracles that answer no exercise: PyTorch's own layers
(``torch.nn.RNNCell``, ``torch.nn.RNN``, ``linear``, ``one_hot``, ``cross_entropy``,
``clip_grads_with_norm_``, ``torch.optim.SGD``) with autograd, in float64 on every
available device; centred differences of the learner's own functions; and, for
sampling, fixed expected values for fixed inputs. Known mistakes are recognised by
running those same layers on what the mistake does (the state detached between steps,
the weights detached after the first step, the mask left out); detection that would
need answer code runs in the hidden checks only, on the grader's side.

Functions that take or return dicts (clip_gradients, char_rnn_loss, tbptt_step, sample)
are graded through the notebook's locked ``*_arrays`` adapters, which pass and return
NumPy arrays and numbers only, so that the hidden checks' record/replay
(``course.recording``) can carry them.
"""
from __future__ import annotations

import functools

import numpy as np

from .core import (CheckFailed, Report, approximate_floor, call_backward_twice, call_student, call_unchanged,
                   compare_gradients, linspace_array)
from .rnn_cell import require_float64
from .torch_oracle import devices, forward_backward, gradient_oracles, torch_module as _torch

PARAM_NAMES = ("Wx", "Wh", "b", "Wy", "by")


# --------------------------------------------------------------------------- PyTorch's layers, holding our weights


@functools.lru_cache(maxsize=None)
def _layer(kind: str, D: int, H: int, device: str):
    """One torch.nn.RNNCell or RNN per shape, made once: its own (random) parameters are never
    used, and making it once leaves the notebook's torch random numbers alone."""
    torch = _torch()
    with torch.random.fork_rng(devices=[]):  # made on the CPU, so only the CPU generator is touched
        layer = torch.nn.RNNCell(D, H, dtype=torch.float64) if kind == "cell" else \
            torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    return layer.to(device)


def _weights(Wx, Wh, b, suffix=""):
    # course.torch_layout's mapping, on tensors: weight_ih = Wx.T, weight_hh = Wh.T, bias_hh = 0.
    return {f"weight_ih{suffix}": Wx.T, f"weight_hh{suffix}": Wh.T, f"bias_ih{suffix}": b,
            f"bias_hh{suffix}": _torch().zeros_like(b)}


def _cell_layer(x, prev_h, Wx, Wh, b):
    """torch.nn.RNNCell with our weights, through torch.func.functional_call so that
    autograd reaches Wx, Wh and b."""
    cell = _layer("cell", Wx.shape[0], Wx.shape[1], str(x.device))
    return _torch().func.functional_call(cell, _weights(Wx, Wh, b), (x, prev_h))


def _rnn_layer(x, h0, Wx, Wh, b):
    """torch.nn.RNN(batch_first=True) with our weights: every state (N, T, H)."""
    rnn = _layer("rnn", Wx.shape[0], Wx.shape[1], str(x.device))
    out, _ = _torch().func.functional_call(rnn, _weights(Wx, Wh, b, "_l0"), (x, h0[None]))
    return out


def _rnn_layer_cut(x, before, Wx, Wh, b):
    """Every step run from its given previous state ``before`` (N, T, H) on its own: the
    states' values are right, but no gradient passes from one step to the one before
    (what a backward that drops the carried gradient computes)."""
    N, T, D = x.shape
    return _rnn_layer(x.reshape(N * T, 1, D), before.reshape(N * T, -1), Wx, Wh, b).reshape(N, T, -1)


def _rnn_weights_at_first_step(x, h0, Wx, Wh, b):
    """The RNN with the weights' gradient taken at step 0 only (later steps use detached
    copies), the state's gradient carried through every step: what `dW = ...` instead of
    `dW += ...` leaves after a loop that ends at t = 0."""
    torch = _torch()
    first = _cell_layer(x[:, 0], h0, Wx, Wh, b)
    if x.shape[1] == 1:
        return first[:, None]
    rest = _rnn_layer(x[:, 1:], first, Wx.detach(), Wh.detach(), b.detach())
    return torch.cat([first[:, None], rest], dim=1)


def _linear_pre(x, prev_h, Wx, Wh, b):
    """The step's pre-activation from torch's linear layers."""
    F = _torch().nn.functional
    return F.linear(x, Wx.T, b) + F.linear(prev_h, Wh.T)


def _states(x, h0, Wx, Wh, b):
    torch = _torch()
    with torch.no_grad():
        return _rnn_layer(torch.tensor(x), torch.tensor(h0), torch.tensor(Wx), torch.tensor(Wh), torch.tensor(b)).numpy()


def _grads_of(function, inputs, dout, names):
    """{gradient name: array} of torch autograd of ``function`` (for a known mistake)."""
    keys = dict(zip(names, inputs))
    _, grads = forward_backward(function, inputs, dout)
    return {name: grads.get(keys[name]) for name in names if grads.get(keys[name]) is not None}


def _by_quantity(names, mistakes, extra=None) -> dict:
    """{quantity: {hint: value}} from [(hint, {quantity: value})], plus grader-side extras."""
    suspects = {name: {} for name in names}
    for hint, grads in mistakes:
        for name, value in grads.items():
            if name in suspects:
                suspects[name][hint] = value
    for name, hints in (extra or {}).items():
        suspects.setdefault(name, {}).update(hints)
    return suspects


def _require_all_float64(report: Report, names, values) -> None:
    if isinstance(values, tuple):
        for name, value in zip(names, values):
            require_float64(report, name, value)


# --------------------------------------------------------------------------- rnn_step_backward

STEP_HINTS = {
    "dx": "dx (N, D): the gradient at tanh's input (dnext_h times tanh's derivative, which next_h in the cache gives), back through Wx",
    "dprev_h": "dprev_h (N, H): the gradient at tanh's input back through Wh, transposed to match (H, H)",
    "dWx": "dWx (D, H): x transposed times the gradient at tanh's input, summed over the batch by the product",
    "dWh": "dWh (H, H): the state that entered the step (prev_h) transposed, times the gradient at tanh's input",
    "db": "db (H,): the gradient at tanh's input, summed over the batch",
}
STEP_NAMES = ("dx", "dprev_h", "dWx", "dWh", "db")
SIGN_HINT = "the sign is flipped: tanh's derivative 1 - next_h**2 is positive, and the step gradients are added, not subtracted"


def _step_mistakes(x, prev_h, Wx, Wh, b, dnext_h, correct):
    """Known mistakes, from torch autograd of what each mistake differentiates."""
    inputs = dict(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, b=b)
    no_b = dict(inputs, b=np.zeros_like(b))  # the cache holds no b: a recomputed pre-activation lacks it
    N = x.shape[0]
    return [
        ("multiply by tanh's derivative (1 - next_h**2) before the matrix products",
         _grads_of(_linear_pre, inputs, dnext_h, STEP_NAMES)),
        # a - a**3 / 3 has the derivative 1 - a**2: tanh's derivative written with its input a
        ("tanh's derivative is 1 - next_h**2, with next_h the step's output (not its pre-activation)",
         _grads_of(lambda **t: (lambda a: a - a**3 / 3)(_linear_pre(**t)), no_b, dnext_h, STEP_NAMES)),
        ("db sums over the batch, not a mean", {"db": correct["db"] / N}),
        (SIGN_HINT, {name: -value for name, value in correct.items()}),
    ]


def compare_rnn_step_backward(report: Report, rnn_step_forward, rnn_step_backward, x, prev_h, Wx, Wh, b, dnext_h,
                              reference=None, numeric=True, mistakes=None, cache_name="cache") -> None:
    """``mistakes`` (hidden checks only): grader-side {quantity: {hint: value}} of known mistakes.
    ``cache_name`` None (hidden checks): the cache is not checked unchanged, since the grader's
    record cannot carry the arrays inside it; the visible check does it on the real cache."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    inputs = dict(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, b=b)
    own_forward = (lambda **a: call_student(rnn_step_forward, *a.values(), returns=("next_h", "cache"))[0]) if numeric else None
    oracles = gradient_oracles(_cell_layer, own_forward, inputs, dnext_h, STEP_NAMES)
    if reference is not None:
        oracles.append(("reference", dict(zip(STEP_NAMES, reference[1](dnext_h, reference[0](x, prev_h, Wx, Wh, b)[1])))))
    suspects = _by_quantity(STEP_NAMES, _step_mistakes(x, prev_h, Wx, Wh, b, dnext_h, oracles[0][1]), mistakes)
    _, cache = call_student(rnn_step_forward, x, prev_h, Wx, Wh, b, returns=("next_h", "cache"))
    grads = call_backward_twice(report, rnn_step_backward, dnext_h, cache, argument_names=("dnext_h", cache_name),
                                returns=STEP_NAMES)
    compare_gradients(report, STEP_NAMES, grads, oracles, STEP_HINTS, suspects)
    _require_all_float64(report, STEP_NAMES, grads)


def _step_inputs():
    N, D, H = 3, 4, 5
    return (linspace_array((N, D), -0.8, 0.9), linspace_array((N, H), 0.6, -0.5), linspace_array((D, H), -0.4, 0.5),
            linspace_array((H, H), -0.3, 0.45), linspace_array((H,), -0.2, 0.3), linspace_array((N, H), 0.7, -0.9))


def rnn_step_backward(rnn_step_forward, rnn_step_backward):
    """Graded: rnn_step_backward(dnext_h, cache) against torch autograd of torch.nn.RNNCell and
    centred differences of the forward; dnext_h and the cache left unchanged, the same result
    twice, float64 gradients."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("rnn_step_backward")
    compare_rnn_step_backward(report, rnn_step_forward, rnn_step_backward, *_step_inputs())
    report.finish()


# --------------------------------------------------------------------------- rnn_backward

SEQ_NAMES = ("dx", "dh0", "dWx", "dWh", "db")
SEQ_HINTS = {
    "dx": "walk t from T-1 down to 0: step t's backward gets dh[:, t] plus the gradient carried from step t+1, and its dx is dx[:, t]",
    "dh0": "dh0 is the gradient the step at t = 0 passes back to its previous state",
    "dWx": "the weights are shared by every step: add up the step gradients of all T steps",
    "dWh": "the weights are shared by every step: add up the step gradients of all T steps",
    "db": "the bias is shared by every step: add up the step gradients of all T steps",
}


def _sequence_mistakes(x, h0, Wx, Wh, b, dh, correct):
    states = _states(x, h0, Wx, Wh, b)
    before = np.concatenate([h0[:, None], states[:, :-1]], axis=1)
    cut = _grads_of(_rnn_layer_cut, dict(x=x, before=before, Wx=Wx, Wh=Wh, b=b), dh, ("dx", "dbefore", "dWx", "dWh", "db"))
    cut["dh0"] = cut.pop("dbefore")[:, 0]
    first_only = _grads_of(_rnn_weights_at_first_step, dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b), dh, SEQ_NAMES)
    return [
        ("carry the gradient across steps: step t gets dh[:, t] + dprev_h from step t+1", cut),
        ("the weights are shared across time: accumulate with +=, do not overwrite with =",
         {name: first_only[name] for name in ("dWx", "dWh", "db")}),
        (SIGN_HINT, {name: -value for name, value in correct.items()}),
    ]


def compare_rnn_backward(report: Report, rnn_forward, rnn_backward, x, h0, Wx, Wh, b, dh, reference=None, numeric=True,
                         mistakes=None, cache_name="cache") -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    inputs = dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    own_forward = (lambda **a: call_student(rnn_forward, *a.values(), returns=("h", "cache"))[0]) if numeric else None
    oracles = gradient_oracles(_rnn_layer, own_forward, inputs, dh, SEQ_NAMES)
    if reference is not None:
        oracles.append(("reference", dict(zip(SEQ_NAMES, reference[1](dh, reference[0](x, h0, Wx, Wh, b)[1])))))
    suspects = _by_quantity(SEQ_NAMES, _sequence_mistakes(x, h0, Wx, Wh, b, dh, oracles[0][1]), mistakes)
    _, cache = call_student(rnn_forward, x, h0, Wx, Wh, b, returns=("h", "cache"))
    grads = call_backward_twice(report, rnn_backward, dh, cache, argument_names=("dh", cache_name), returns=SEQ_NAMES)
    compare_gradients(report, SEQ_NAMES, grads, oracles, SEQ_HINTS, suspects)
    _require_all_float64(report, SEQ_NAMES, grads)


def _sequence_inputs():
    N, T, D, H = 2, 4, 3, 5
    return (linspace_array((N, T, D), -1.0, 1.1), linspace_array((N, H), 0.5, -0.6), linspace_array((D, H), -0.5, 0.6),
            linspace_array((H, H), -0.35, 0.4), linspace_array((H,), -0.25, 0.2), linspace_array((N, T, H), 0.8, -0.7))


def rnn_backward(rnn_forward, rnn_backward):
    """Graded: rnn_backward(dh, cache) against torch autograd of torch.nn.RNN and centred
    differences of the forward; dh and the cache left unchanged, the same result twice."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("rnn_backward")
    compare_rnn_backward(report, rnn_forward, rnn_backward, *_sequence_inputs())
    report.finish()


# --------------------------------------------------------------------------- temporal_affine_backward

AFFINE_NAMES = ("dx", "dW", "db")
AFFINE_HINTS = {
    "dx": "dx (N, T, H): dout at every step back through W, transposed to match; the same reshape to N * T rows as the forward",
    "dW": "dW (H, M): x transposed times dout, summed over every example and every step",
    "db": "db (M,): dout summed over the batch and the time axes",
}


def _linear(x, W, b):
    return _torch().nn.functional.linear(x, W.T, b)  # works on (N, T, H) as on (N, H)


def _affine_mistakes(x, W, b, dout, correct):
    F = _torch().nn.functional
    N, T, H = x.shape
    M = W.shape[1]
    per_step_bias = _grads_of(lambda x, W, bt: F.linear(x, W.T) + bt, dict(x=x, W=W, bt=np.zeros((T, M))), dout,
                              ("dx", "dW", "db"))
    last_step = _grads_of(_linear, dict(x=x[:, -1], W=W, b=b), dout[:, -1], ("dx", "dW", "db"))
    mistakes = [
        ("db sums over both the batch and the time axes: sum(axis=(0, 1))", {"db": per_step_bias["db"]}),
        ("dW sums over every step: include all T steps", {"dW": last_step["dW"]}),
        ("dW and db are sums over examples and steps, not means", {"dW": correct["dW"] / (N * T), "db": correct["db"] / (N * T)}),
        # rows taken time-major and read back batch-major land on the wrong (n, t)
        ("reshape dout to (N * T, M) directly: swapping axes first scrambles the rows",
         {"dx": correct["dx"].transpose(1, 0, 2).reshape(N, T, H)}),
    ]
    if H == M:
        mistakes.append(("dx = dout W^T (W transposed), not dout W",
                         _grads_of(lambda x, W, b: F.linear(x, W, b), dict(x=x, W=W, b=b), dout, ("dx",))))
    return mistakes


def compare_temporal_affine_backward(report: Report, temporal_affine_forward, temporal_affine_backward, x, W, b, dout,
                                     reference=None, numeric=True, mistakes=None, cache_name="cache") -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    inputs = dict(x=x, W=W, b=b)
    own_forward = (lambda **a: call_student(temporal_affine_forward, *a.values(), returns=("out", "cache"))[0]) if numeric else None
    oracles = gradient_oracles(_linear, own_forward, inputs, dout, AFFINE_NAMES)
    if reference is not None:
        oracles.append(("reference", dict(zip(AFFINE_NAMES, reference[1](dout, reference[0](x, W, b)[1])))))
    suspects = _by_quantity(AFFINE_NAMES, _affine_mistakes(x, W, b, dout, oracles[0][1]), mistakes)
    _, cache = call_student(temporal_affine_forward, x, W, b, returns=("out", "cache"))
    grads = call_backward_twice(report, temporal_affine_backward, dout, cache, argument_names=("dout", cache_name),
                                returns=AFFINE_NAMES)
    compare_gradients(report, AFFINE_NAMES, grads, oracles, AFFINE_HINTS, suspects)
    _require_all_float64(report, AFFINE_NAMES, grads)


def temporal_affine_backward(temporal_affine_forward, temporal_affine_backward):
    """Graded: temporal_affine_backward(dout, cache) against torch autograd and centred differences."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("temporal_affine_backward")
    x = linspace_array((2, 3, 4), -0.7, 0.8)
    W = linspace_array((4, 5), -0.5, 0.4)
    b = linspace_array((5,), 0.1, -0.3)
    dout = linspace_array((2, 3, 5), 0.6, -0.9)
    compare_temporal_affine_backward(report, temporal_affine_forward, temporal_affine_backward, x, W, b, dout)
    report.finish()


# --------------------------------------------------------------------------- temporal_softmax_loss


def _masked_cross_entropy(x, y, mask):
    """torch's cross_entropy at every step, times the mask, summed, divided by N."""
    F = _torch().nn.functional
    N, T, V = x.shape
    per_step = F.cross_entropy(x.reshape(N * T, V), y.reshape(N * T), reduction="none")
    return (per_step * mask.reshape(N * T)).sum() / N


def softmax_loss_oracle(device, x, y, mask):
    """(loss, dx) from torch on ``device``. The device comes first and is required: called in a
    learner's place, temporal_softmax_loss(x, y, mask), this oracle must not stand in for it."""
    loss, grads = forward_backward(_masked_cross_entropy, dict(x=x, y=y, mask=mask.astype(np.float64)), 1.0, device=device)
    return float(loss), grads["x"]


LOSS_HINT = "loss = the sum over every (n, t) where mask is True of -log softmax(x[n, t])[y[n, t]], divided by N"
DX_HINT = "dx = the softmax of x minus the one-hot of y, at unmasked steps only (0 where mask is False), divided by N"
ZERO_OVER_ZERO = ("a nan with ordinary scores is a 0 / 0: a sequence or a step whose mask is all False "
                  "contributes 0, do not divide by its number of unmasked steps")


def compare_temporal_softmax_loss(report: Report, temporal_softmax_loss, x, y, mask, reference=None, label="") -> bool:
    """One case: loss and dx against torch, x, y and mask left unchanged, dx float64.
    Returns whether the learner's loss and dx were finite."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    oracles = [(f"torch {d}", *softmax_loss_oracle(d, x, y, mask)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", *reference(x, y, mask)))
    N, T, _ = x.shape
    count = max(1, int(mask.sum()))
    loss0, dx0 = oracles[0][1], oracles[0][2]
    unmasked_loss, unmasked_dx = softmax_loss_oracle("cpu", x, y, np.ones_like(mask))
    loss, dx = call_unchanged(report, temporal_softmax_loss, x, y, mask, argument_names=("x", "y", "mask"),
                              returns=("loss", "dx"))
    finite = _finite(loss) and _finite(dx)
    for oracle, expected_loss, expected_dx in oracles:
        report.compare(f"loss{label}", loss, expected_loss, oracle=oracle, hint=LOSS_HINT if finite else ZERO_OVER_ZERO,
                       suspects={"steps where mask is False do not count: multiply each step's loss by the mask": unmasked_loss,
                                 "sum over time, then average over N only (not over N * T)": loss0 / T,
                                 "average over the N sequences: divide by N": loss0 * N,
                                 "divide by N, not by the number of unmasked steps": loss0 * N / count})
        report.compare(f"dx{label}", dx, expected_dx, oracle=oracle, hint=DX_HINT if finite else ZERO_OVER_ZERO,
                       suspects={"masked steps get zero gradient: multiply by mask[..., None]": unmasked_dx,
                                 "the loss is divided by N only: dx too (not by N * T)": dx0 / T,
                                 "the loss is averaged over N: divide dx by N": dx0 * N,
                                 "divide by N, not by the number of unmasked steps": dx0 * N / count})
    require_float64(report, f"dx{label}", dx)
    return finite


def _finite(value) -> bool:
    try:
        return bool(np.all(np.isfinite(np.asarray(value, dtype=np.float64))))
    except (TypeError, ValueError):
        return True  # not numbers: the comparison says so


def compare_large_scores(report: Report, temporal_softmax_loss, x, y, mask, cases, reference=None) -> None:
    """The cases that need a numerically stable softmax, in order: (label, scores, hint).
    A case's hint is given when the learner's values stop being finite there first; a
    later case that breaks the same way points back to it, and finite wrong values get
    the hint of the ordinary case."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    broke_before = False
    for label, scores, hint in cases:
        oracles = [(f"torch {d}", *softmax_loss_oracle(d, scores, y, mask)) for d in devices()]
        if reference is not None:
            oracles.append(("reference", *reference(scores, y, mask)))
        loss, dx = call_unchanged(report, temporal_softmax_loss, scores, y, mask, argument_names=(None, None, None),
                                  returns=("loss", "dx"))
        finite = _finite(loss) and _finite(dx)
        if finite:
            case_hint = "right with ordinary scores, wrong with large ones: compute with the max of each step subtracted"
        else:
            case_hint = "the same overflow as in the case above" if broke_before else hint
        broke_before = broke_before or not finite
        for oracle, expected_loss, expected_dx in oracles:
            report.compare(f"loss{label}", loss, expected_loss, oracle=oracle, hint=case_hint)
            report.compare(f"dx{label}", dx, expected_dx, oracle=oracle, hint=case_hint)


SHIFT_HINT = "np.exp overflows at large scores: subtract the max over V from each step's scores first (the softmax does not change)"
SCALES_HINT = ("subtract each step's own max over V (axis=2, keepdims=True), not one max for the whole batch: "
               "a step far below the batch's max underflows to 0 / 0")
MARGIN_HINT = ("-log of a softmax that underflowed to 0 is inf: compute the log-probabilities directly, as the shifted "
               "scores minus the log of the sum of their exponentials")


def stability_cases(x, y, offsets):
    """(label, scores, hint) for the three ways large scores break a naive softmax: every
    score shifted by 1000; steps on very different scales (``offsets`` (N, T)); a wrong
    class 800 above the target at every step."""
    margin = x.copy()
    wrong = (y + 1) % x.shape[2]
    np.put_along_axis(margin, wrong[..., None], np.take_along_axis(margin, wrong[..., None], axis=2) + 800.0, axis=2)
    return [("+1000", x + 1000.0, SHIFT_HINT), (" scales", x + offsets[..., None], SCALES_HINT),
            (" margin", margin, MARGIN_HINT)]


def _loss_inputs():
    N, T, V = 3, 3, 4
    x = linspace_array((N, T, V), -2.0, 1.5) * np.cos(np.arange(N * T * V)).reshape(N, T, V)
    y = np.array([[0, 3, 1], [2, 2, 3], [1, 0, 0]])
    # Sequence 1 and step 2 are fully masked: they must contribute nothing (and no 0 / 0).
    mask = np.array([[True, True, False], [False, False, False], [True, True, False]])  # 4 steps count, N = 3
    offsets = np.array([[900.0, -900.0, 0.0], [-600.0, 300.0, 0.0], [0.0, 700.0, -800.0]])
    return x, y, mask, offsets


def temporal_softmax_loss(temporal_softmax_loss):
    """Graded: loss and dx against torch's cross_entropy with a mask (a fully masked sequence
    and step), and for large scores: shifted, on very different scales, a large wrong margin."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("temporal_softmax_loss")
    x, y, mask, offsets = _loss_inputs()
    failures = len(report.failures)
    compare_temporal_softmax_loss(report, temporal_softmax_loss, x, y, mask)
    if len(report.failures) == failures:  # large scores once ordinary ones are right: one mistake, its own lines
        compare_large_scores(report, temporal_softmax_loss, x, y, mask, stability_cases(x, y, offsets))
    report.finish()


# --------------------------------------------------------------------------- clip_gradients


def clip_oracle(grads, max_norm, device="cpu"):
    """(clipped arrays, norm) from torch.nn.utils: get_total_norm, then clip_grads_with_norm_."""
    torch = _torch()
    holders = []
    for g in grads:
        holder = torch.zeros(g.shape, dtype=torch.float64, device=device, requires_grad=True)
        holder.grad = torch.tensor(g, dtype=torch.float64, device=device)
        holders.append(holder)
    norm = torch.nn.utils.get_total_norm([h.grad for h in holders])
    # torch scales by max_norm / (norm + 1e-6); asking for max_norm * (norm + 1e-6) / norm gives exactly max_norm / norm.
    torch.nn.utils.clip_grads_with_norm_(holders, max_norm * (float(norm) + 1e-6) / float(norm), norm)
    return [h.grad.cpu().numpy() for h in holders], float(norm)


def _clip_by_value(grads, max_norm):
    torch = _torch()
    holders = []
    for g in grads:
        holder = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        holder.grad = torch.tensor(g, dtype=torch.float64)
        holders.append(holder)
    torch.nn.utils.clip_grad_value_(holders, max_norm)
    return [h.grad.numpy() for h in holders]


CLIP_HINT = ("one norm over all the gradients together (every entry of every array); when it exceeds max_norm, "
             "every gradient is scaled by max_norm / norm")
BELOW_HINT = "the global norm is below max_norm here: return the gradients unchanged (only the norm is measured)"


def compare_clip_gradients(report: Report, clip_gradients_arrays, grads, max_norm, reference=None) -> None:
    """``clip_gradients_arrays(max_norm, *grads)`` is the notebook's adapter: it calls the
    learner's clip_gradients on a dict of these arrays and returns (*clipped, norm, fresh),
    fresh telling whether clip_gradients returned a new dict and left the given one alone."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    oracles = [(f"torch {d}", *clip_oracle(grads, max_norm, d)) for d in devices()]
    if reference is not None:
        r = reference(max_norm, *grads)
        oracles.append(("reference", list(r[:len(grads)]), r[len(grads)]))
    total = oracles[0][2]
    per_array = [clip_oracle([g], max_norm)[0][0] for g in grads]
    by_value = _clip_by_value(grads, max_norm)
    result = call_unchanged(report, clip_gradients_arrays, max_norm, *grads, name="clip_gradients",
                            argument_names=(None, *(f"grads[{i}]" for i in range(len(grads)))))
    if not isinstance(result, tuple) or len(result) != len(grads) + 2:
        raise CheckFailed("clip_gradients should return (the clipped dict, the norm before clipping)")
    clipped, norm, fresh = result[:len(grads)], result[len(grads)], result[len(grads) + 1]
    report.require("new dict", bool(fresh), "returned the grads dict itself (or changed its entries)",
                   hint="return a new dict and leave grads as it was: the caller still holds it", oracle="rule")
    hint = CLIP_HINT if total > max_norm else BELOW_HINT
    for oracle, expected, expected_norm in oracles:
        report.compare("norm", norm, expected_norm, oracle=oracle,
                       hint="the norm before clipping: the square root of the sum of squares of every entry of every gradient",
                       suspects={"return the norm measured before clipping, not after": min(total, max_norm),
                                 "the norm is the square root of the sum of squares": total**2})
        for i, (value, exp) in enumerate(zip(clipped, expected)):
            report.compare(f"grads[{i}]", value, exp, oracle=oracle, hint=hint,
                           suspects={"clip by one global norm, not each array by its own norm": per_array[i],
                                     "scale the whole gradient, do not clip entries one by one (np.clip)": by_value[i]})
    for i, value in enumerate(clipped):
        require_float64(report, f"grads[{i}]", value)


def _clip_inputs():
    return [linspace_array((3, 4), -1.5, 2.0), linspace_array((4, 4), 0.9, -1.2), linspace_array((4,), -0.5, 0.8)]


def clip_gradients(clip_gradients_arrays):
    """Graded: clip_gradients (through the notebook's clip_gradients_arrays) against
    torch.nn.utils' clipping, above and below the threshold; a new dict returned, the
    given arrays left unchanged."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("clip_gradients")
    grads = _clip_inputs()
    total = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    compare_clip_gradients(report, clip_gradients_arrays, grads, 1.0)          # clipped
    compare_clip_gradients(report, clip_gradients_arrays, grads, 2.0 * total)  # left alone
    report.finish()


# --------------------------------------------------------------------------- the character model's loss


def _char_model(Wx, Wh, b, Wy, by, x_idx, y_idx, h_prev, before=None, targets=None):
    """The character model from torch's layers: one_hot, RNN, linear, cross_entropy (sum over
    time, mean over N). Returns (loss, every state). With ``before`` (N, T, H) given, each
    step starts from it instead (no gradient through time); ``targets`` replaces y_idx."""
    torch = _torch()
    F = torch.nn.functional
    V = Wy.shape[1]
    x = F.one_hot(x_idx, V).to(torch.float64)
    h = _rnn_layer(x, h_prev, Wx, Wh, b) if before is None else _rnn_layer_cut(x, before, Wx, Wh, b)
    scores = F.linear(h, Wy.T, by)
    N, T = y_idx.shape
    y = y_idx if targets is None else targets
    return F.cross_entropy(scores.reshape(N * T, V), y.reshape(N * T), reduction="sum") / N, h


def char_model_oracle(params, x_idx, y_idx, h_prev, device="cpu", *, cut=False, targets=None):
    """{"loss", "h_last", "dWx", ..., "dby"} of the character model, from torch autograd."""
    torch = _torch()
    tensors = {n: torch.tensor(params[n], dtype=torch.float64, device=device, requires_grad=True) for n in PARAM_NAMES}
    x_t, y_t = torch.tensor(x_idx, device=device), torch.tensor(y_idx, device=device)
    h_t = torch.tensor(h_prev, dtype=torch.float64, device=device)
    before = None
    if cut:
        with torch.no_grad():
            _, states = _char_model(**tensors, x_idx=x_t, y_idx=y_t, h_prev=h_t)
        before = torch.cat([h_t[:, None], states[:, :-1]], dim=1)
    loss, h = _char_model(**tensors, x_idx=x_t, y_idx=y_t, h_prev=h_t, before=before,
                          targets=None if targets is None else torch.tensor(targets, device=device))
    loss.backward()
    out = {f"d{n}": t.grad.cpu().numpy() for n, t in tensors.items()}
    return {"loss": float(loss.detach()), "h_last": h[:, -1].detach().cpu().numpy(), "h_first": h[:, 0].detach().cpu().numpy(), **out}


CHAR_HINT = ("one-hot x_idx, rnn_forward from h_prev, temporal_affine_forward with Wy, by, temporal_softmax_loss "
             "with an all-True mask; then the backward functions in the reverse order")


def compare_char_rnn_loss(report: Report, char_rnn_loss_arrays, params, x_idx, y_idx, h_prev, reference=None, numeric=True) -> None:
    """``char_rnn_loss_arrays(Wx, Wh, b, Wy, by, x_idx, y_idx, h_prev)`` is the notebook's
    adapter: it returns (loss, dWx, dWh, db, dWy, dby, h_last)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    args = (*(params[n] for n in PARAM_NAMES), x_idx, y_idx, h_prev)
    oracles = [(f"torch {d}", char_model_oracle(params, x_idx, y_idx, h_prev, d)) for d in devices()]
    if reference is not None:
        r = reference(*args)
        oracles.append(("reference", {"loss": r[0], **{f"d{n}": g for n, g in zip(PARAM_NAMES, r[1:6])}, "h_last": r[6]}))
    from_zeros = char_model_oracle(params, x_idx, y_idx, np.zeros_like(h_prev))
    cut = char_model_oracle(params, x_idx, y_idx, h_prev, cut=True)
    own_targets = char_model_oracle(params, x_idx, y_idx, h_prev, targets=x_idx)
    result = call_unchanged(report, char_rnn_loss_arrays, *args, name="char_rnn_loss",
                            argument_names=(*PARAM_NAMES, "x_idx", "y_idx", "h_prev"))
    if not isinstance(result, tuple) or len(result) != 7:
        raise CheckFailed("char_rnn_loss should return (loss, grads, h_last)")
    loss, grads, h_last = result[0], dict(zip(PARAM_NAMES, result[1:6])), result[6]
    if numeric:
        def own_loss(name):
            def f(value):
                changed = [value if n == name else params[n] for n in PARAM_NAMES]
                return call_student(char_rnn_loss_arrays, *changed, x_idx, y_idx, h_prev, name="char_rnn_loss")[0]
            return f
        numbers = {f"d{n}": centred_difference_of(own_loss(n), params[n]) for n in PARAM_NAMES}
        oracles.append(("numeric", numbers))
    zero_hint = "start the RNN from h_prev, not from zeros"
    target_hint = "the loss compares each step's scores with y_idx (the next characters), not with x_idx"
    cut_hint = "rnn_backward must carry the gradient across steps (see its check)"
    for oracle, expected in oracles:
        approximate = oracle == "numeric"
        if "loss" in expected:
            report.compare("loss", loss, expected["loss"], oracle=oracle, hint=CHAR_HINT,
                           suspects={zero_hint: from_zeros["loss"], target_hint: own_targets["loss"]})
        for n in PARAM_NAMES:
            report.compare(f"d{n}", grads[n], expected[f"d{n}"], oracle=oracle, hint=CHAR_HINT,
                           tol=1e-6 if approximate else 1e-7,
                           floor=approximate_floor(expected[f"d{n}"]) if approximate else 1e-8,
                           suspects={zero_hint: from_zeros[f"d{n}"], target_hint: own_targets[f"d{n}"], cut_hint: cut[f"d{n}"]})
        if "h_last" in expected:
            report.compare("h_last", h_last, expected["h_last"], oracle=oracle,
                           hint="return the state after the last step, h[:, -1], to carry into the next chunk",
                           suspects={zero_hint: from_zeros["h_last"],
                                     "h_last is the state after the last step, h[:, -1], not the first": expected.get("h_first")})
    for n in PARAM_NAMES:
        require_float64(report, f"d{n}", grads[n])
    require_float64(report, "h_last", h_last)


def centred_difference_of(f, value):
    """Centred differences of a scalar function of one array (the learner's own loss)."""
    from .gradients import centred_difference

    return centred_difference(f, value.copy(), 1.0)


def _char_inputs(rng=None, N=2, T=4, V=5, H=3):
    if rng is None:
        params = {"Wx": linspace_array((V, H), -0.6, 0.7), "Wh": linspace_array((H, H), 0.5, -0.4),
                  "b": linspace_array((H,), -0.1, 0.2), "Wy": linspace_array((H, V), 0.8, -0.7),
                  "by": linspace_array((V,), 0.05, -0.1)}
        x_idx = np.array([[0, 1, 4, 2], [3, 3, 0, 1]])
        y_idx = np.array([[1, 4, 2, 2], [3, 0, 1, 4]])
        h_prev = linspace_array((N, H), -0.5, 0.6)
        return params, x_idx, y_idx, h_prev
    params = {"Wx": rng.normal(scale=0.5, size=(V, H)), "Wh": rng.normal(scale=1 / np.sqrt(H), size=(H, H)),
              "b": rng.normal(scale=0.3, size=H), "Wy": rng.normal(scale=1 / np.sqrt(H), size=(H, V)),
              "by": rng.normal(scale=0.3, size=V)}
    return params, rng.integers(0, V, size=(N, T)), rng.integers(0, V, size=(N, T)), np.tanh(rng.normal(size=(N, H)))


def char_rnn_loss(char_rnn_loss_arrays):
    """Graded: the character model's loss, gradients and last state (through char_rnn_loss_arrays)
    against torch autograd of torch's layers, and centred differences of the learner's own loss."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("char_rnn_loss")
    compare_char_rnn_loss(report, char_rnn_loss_arrays, *_char_inputs())
    report.finish()


# --------------------------------------------------------------------------- truncated BPTT


def tbptt_oracle(params, x_idx, y_idx, h_prev, learning_rate, max_norm, device="cpu", *, model=None, clip=True,
                 maximize=False):
    """(loss, h_last, updated params) for one truncated-BPTT step: torch autograd (or the
    ``model`` char_model_oracle already gave), torch's global-norm clipping, torch.optim.SGD."""
    torch = _torch()
    model = model or char_model_oracle(params, x_idx, y_idx, h_prev, device)
    grads = [model[f"d{n}"] for n in PARAM_NAMES]
    if clip:
        grads, _ = clip_oracle(grads, max_norm, device)
    weights = [torch.nn.Parameter(torch.tensor(params[n], dtype=torch.float64, device=device)) for n in PARAM_NAMES]
    for weight, grad in zip(weights, grads):
        weight.grad = torch.tensor(grad, dtype=torch.float64, device=device)
    torch.optim.SGD(weights, lr=learning_rate, maximize=maximize).step()
    return model["loss"], model["h_last"], {n: w.detach().cpu().numpy() for n, w in zip(PARAM_NAMES, weights)}


def compare_tbptt_step(report: Report, tbptt_step_arrays, params, chunks, h0, learning_rate, max_norm, reference=None) -> None:
    """Consecutive chunks, each from the state and the parameters the previous one left.
    ``tbptt_step_arrays(Wx, Wh, b, Wy, by, x_idx, y_idx, h_prev, learning_rate, max_norm)``
    is the notebook's adapter: it returns (loss, h_last, *updated params)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    p, h = dict(params), h0
    for k, (x_idx, y_idx) in enumerate(chunks):
        if not all(isinstance(p[n], np.ndarray) and p[n].shape == params[n].shape for n in PARAM_NAMES) \
                or not isinstance(h, np.ndarray) or h.shape != h0.shape:
            break  # already reported
        # Each chunk is judged from the parameters and the state the learner's previous step
        # left (so one mistake shows once, where it is made); that state is the carried one.
        model = char_model_oracle(p, x_idx, y_idx, h)
        steps = {f"torch {d}": tbptt_oracle(p, x_idx, y_idx, h, learning_rate, max_norm, d, model=model if d == "cpu" else None)
                 for d in devices()}
        if reference is not None:
            r = reference(*(p[n] for n in PARAM_NAMES), x_idx, y_idx, h, learning_rate, max_norm)
            steps["reference"] = (r[0], r[1], dict(zip(PARAM_NAMES, r[2:])))
        from_zeros = tbptt_oracle(p, x_idx, y_idx, np.zeros_like(h), learning_rate, max_norm)
        unclipped = tbptt_oracle(p, x_idx, y_idx, h, learning_rate, max_norm, model=model, clip=False)[2]
        ascent = tbptt_oracle(p, x_idx, y_idx, h, learning_rate, max_norm, model=model, maximize=True)[2]
        after_update = char_model_oracle(next(iter(steps.values()))[2], x_idx, y_idx, h)["loss"]
        result = call_unchanged(report, tbptt_step_arrays, *(p[n] for n in PARAM_NAMES), x_idx, y_idx, h,
                                learning_rate, max_norm, name="tbptt_step",
                                argument_names=(None,) * 5 + (f"x_chunk_idx {k}", f"y_chunk_idx {k}", f"h_prev {k}", None, None))
        if not isinstance(result, tuple) or len(result) != 7:
            raise CheckFailed("tbptt_step should return (loss, h_last) and update params in place")
        loss, h_last, updated = result[0], result[1], dict(zip(PARAM_NAMES, result[2:]))
        zero_hint = "start each chunk from h_prev (the state carried from the previous chunk), not from zeros"
        for oracle, (e_loss, e_h, e_params) in steps.items():
            report.compare(f"loss {k}", loss, e_loss, oracle=oracle,
                           hint="the loss of the chunk from h_prev, with the parameters as they were before the update",
                           suspects={zero_hint: from_zeros[0], "return the loss computed before the update": after_update})
            report.compare(f"h {k}", h_last, e_h, oracle=oracle,
                           hint="return the state after the chunk's last step, to carry into the next chunk",
                           suspects={zero_hint: from_zeros[1]})
            for n in PARAM_NAMES:
                report.compare(f"{n} {k}", updated[n], e_params[n], oracle=oracle,
                               hint=f"params['{n}'] -= learning_rate * (its clipped gradient), in place",
                               suspects={zero_hint: from_zeros[2][n],
                                         "clip the gradients (clip_gradients, global norm) before the update": unclipped[n],
                                         "descend: subtract learning_rate * gradient": ascent[n],
                                         "update the arrays in params (params[name] -= ...), so the caller sees the change": p[n]})
        p, h = updated, h_last


def _tbptt_inputs(rng=None, N=2, T=4, V=5, H=3, chunks=2):
    params, x_idx, y_idx, h0 = _char_inputs(rng, N, T, V, H)
    if rng is None:
        second = (np.array([[2, 0, 1, 3], [4, 1, 1, 0]]), np.array([[0, 1, 3, 4], [1, 1, 0, 2]]))
        return params, [(x_idx, y_idx), second], h0
    return params, [(x_idx, y_idx)] + [(rng.integers(0, V, size=(N, T)), rng.integers(0, V, size=(N, T))) for _ in range(chunks - 1)], h0


def tbptt_step(tbptt_step_arrays):
    """Graded: two consecutive truncated-BPTT steps (through tbptt_step_arrays) against torch
    autograd with torch's global-norm clipping and torch.optim.SGD; the state carried."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("tbptt_step")
    params, chunks, h0 = _tbptt_inputs()
    compare_tbptt_step(report, tbptt_step_arrays, params, chunks, h0, 0.1, 1.0)
    report.finish()


# --------------------------------------------------------------------------- sampling
# The visible check compares with fixed expected draws for fixed inputs: a sampler written
# here, in any library, would be the exercise's answer. tests/test_bptt_checks.py proves
# these values equal what the grader's reference draws, and each known mistake's draws.

SAMPLE_SEED_IDX, SAMPLE_LENGTH, SAMPLE_SEED = 5, 12, 7
SAMPLE_TEMPERATURES = (1.0, 0.5, 2.0, 1e-4)
#: temperature -> the reference's draws on _sample_params(), h0 = _sample_h0(), seed 7
SAMPLE_EXPECTED = {
    1.0: (3, 5, 3, 4, 2, 5, 0, 5, 3, 4, 2, 3),
    0.5: (3, 5, 3, 4, 3, 4, 2, 3, 4, 4, 4, 3),
    2.0: (3, 5, 4, 3, 2, 5, 0, 5, 4, 4, 2, 3),
    0.0001: (2, 4, 3, 4, 4, 4, 4, 4, 4, 3, 4, 4),
}
#: hint -> temperature -> the draws a known mistake gives on the same inputs
SAMPLE_MISTAKES: dict[str, dict[float, tuple[int, ...]]] = {
    'divide the scores by the temperature before the softmax': {
        1.0: (3, 5, 3, 4, 2, 5, 0, 5, 3, 4, 2, 3),
        0.5: (3, 5, 3, 4, 2, 5, 0, 5, 3, 4, 2, 3),
        2.0: (3, 5, 3, 4, 2, 5, 0, 5, 3, 4, 2, 3),
        0.0001: (3, 5, 3, 4, 2, 5, 0, 5, 3, 4, 2, 3),
    },
    'divide the scores by the temperature (not multiply)': {
        1.0: (3, 5, 3, 4, 2, 5, 0, 5, 3, 4, 2, 3),
        0.5: (3, 5, 4, 3, 2, 5, 0, 5, 4, 4, 2, 3),
        2.0: (3, 5, 3, 4, 3, 4, 2, 3, 4, 4, 4, 3),
        0.0001: (3, 5, 4, 1, 1, 5, 0, 4, 4, 2, 1, 1),
    },
    'feed the sampled character back as the next input, not the most likely one': {
        1.0: (3, 5, 4, 3, 4, 5, 0, 4, 5, 3, 3, 4),
        0.5: (3, 5, 4, 3, 4, 4, 2, 4, 4, 3, 3, 4),
        2.0: (3, 5, 4, 2, 3, 5, 0, 4, 5, 3, 2, 3),
        0.0001: (2, 4, 3, 4, 4, 4, 4, 4, 4, 3, 4, 4),
    },
    'carry the hidden state from step to step: each step starts from the state the previous one returned': {
        1.0: (3, 4, 4, 2, 2, 4, 0, 4, 4, 3, 2, 2),
        0.5: (3, 4, 4, 3, 2, 4, 0, 4, 4, 3, 2, 2),
        2.0: (3, 5, 4, 2, 2, 4, 0, 4, 4, 3, 2, 2),
        0.0001: (2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3),
    },
    'start from the given state h0, not from zeros': {
        1.0: (2, 5, 2, 4, 2, 5, 0, 5, 3, 4, 2, 3),
        0.5: (2, 5, 2, 4, 3, 4, 2, 3, 4, 4, 4, 3),
        2.0: (3, 5, 3, 2, 1, 5, 0, 5, 4, 4, 2, 3),
        0.0001: (1, 5, 1, 5, 1, 0, 4, 4, 4, 4, 4, 4),
    },
    'return the generated characters only, not the seed character first': {
        1.0: (5, 3, 5, 3, 4, 2, 5, 0, 5, 3, 4, 2),
        0.5: (5, 3, 5, 3, 4, 3, 4, 2, 3, 4, 4, 4),
        2.0: (5, 3, 5, 4, 3, 2, 5, 0, 5, 4, 4, 2),
        0.0001: (5, 2, 4, 3, 4, 4, 4, 4, 4, 4, 3, 4),
    },
}
SAMPLE_HINT = ("each step: the one-hot of the previous character and h through rnn_step_forward; "
               "p = softmax((h Wy + by) / temperature); one rng.choice(V, p=p) per character")
GREEDY_HINT = "at a tiny temperature the softmax is (almost) one-hot on the largest score: sampling picks the most likely character"


def _sample_params(rng=None, V=6, H=4):
    if rng is None:
        return {"Wx": linspace_array((V, H), -1.2, 1.3) * np.cos(np.arange(V * H)).reshape(V, H),
                "Wh": linspace_array((H, H), 1.5, -1.25) * np.cos(1.7 * np.arange(H * H)).reshape(H, H),
                "b": linspace_array((H,), -0.2, 0.3),
                "Wy": linspace_array((H, V), 1.5, -1.4) * np.sin(np.arange(H * V) + 1.0).reshape(H, V),
                "by": linspace_array((V,), 0.1, -0.2)}
    return {"Wx": rng.normal(size=(V, H)), "Wh": rng.normal(scale=1 / np.sqrt(H), size=(H, H)),
            "b": rng.normal(scale=0.3, size=H), "Wy": rng.normal(scale=2 / np.sqrt(H), size=(H, V)),
            "by": rng.normal(scale=0.3, size=V)}


def _sample_h0(H=4):
    return linspace_array((1, H), -0.9, 0.8)  # far from 0: a sampler that ignores h0 draws otherwise


def call_sample(report: Report, sample_arrays, params, seed_idx, h0, length, temperature, seed, label):
    """The learner's sample through the adapter: params and h0 must be left unchanged; a
    crash at a tiny temperature (probabilities with nan after an overflow) becomes a line."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    try:
        return call_unchanged(report, sample_arrays, *(params[n] for n in PARAM_NAMES), seed_idx, h0, length,
                              temperature, seed, name="sample",
                              argument_names=(*PARAM_NAMES, None, "h0", None, None, None))
    except ValueError as error:
        if temperature >= 0.01:
            raise
        report.require(label, False, f"raised ValueError at temperature {temperature:g} ({str(error)[:60]})",
                       hint="np.exp overflows at a tiny temperature: subtract the max of scores / temperature before np.exp",
                       oracle="argmax")
        return None


def compare_sample_draws(report: Report, idx, expected, length, label, suspects, oracle) -> None:
    """The learner's draws against the expected ones: an integer array of shape (length,)."""
    is_int = isinstance(idx, np.ndarray) and idx.dtype.kind in "iu"
    if isinstance(idx, np.ndarray):
        report.require(f"{label} dtype", is_int, f"got {idx.dtype}, expected an integer array",
                       hint="return integer indices (e.g. np.zeros(length, dtype=np.int64)): np.zeros(length) is float",
                       oracle="int")
    hint = GREEDY_HINT if label == "T->0" else SAMPLE_HINT
    clean = {h: np.asarray(v) for h, v in suspects.items() if v is not None and not np.array_equal(v, expected)}
    report.compare(label, idx, np.asarray(expected), oracle=oracle, tol=1e-9, hint=hint, suspects=clean)


def sample(sample_arrays):
    """Graded: sample (through sample_arrays, with np.random.default_rng(seed)) against fixed
    expected draws at temperatures 1, 0.5 and 2 and near 0 (the argmax); params and h0 unchanged."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("sample")
    params, h0 = _sample_params(), _sample_h0()
    for temperature in SAMPLE_TEMPERATURES:
        label = "T->0" if temperature < 0.01 else f"T={temperature:g}"
        idx = call_sample(report, sample_arrays, params, SAMPLE_SEED_IDX, h0, SAMPLE_LENGTH, temperature, SAMPLE_SEED, label)
        if idx is None:
            continue
        suspects = {hint: draws.get(temperature) for hint, draws in SAMPLE_MISTAKES.items()}
        compare_sample_draws(report, idx, SAMPLE_EXPECTED[temperature], SAMPLE_LENGTH, label, suspects, "fixed")
    report.finish()


__all__ = [
    "CheckFailed",
    "rnn_step_backward",
    "rnn_backward",
    "temporal_affine_backward",
    "temporal_softmax_loss",
    "clip_gradients",
    "char_rnn_loss",
    "tbptt_step",
    "sample",
]
