"""Checks for lesson 03 (backpropagation through time).

Each check declared with ``@visible_check`` is what one graded cell calls, e.g.
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
are passed as the learner wrote them; each check's harness (below) turns one into a
function of NumPy arrays and numbers only, which the comparisons call and which the hidden
checks' record/replay (``course.recording``) can carry. A harness builds and calls what the
learner wrote; it holds no answer.

The visible and the hidden checks build their inputs with the same case builders
(``*_case``): fixed, readable values without an rng, random ones with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .core import (
    CheckFailed,
    Report,
    approximate_floor,
    call_backward_twice,
    call_student,
    call_unchanged,
    compare_gradients,
    has_nonfinite,
    linspace_array,
    visible_check,
)
from .rnn_cell import require_float64
from .torch_oracle import devices, forward_backward, gradient_oracles
from .torch_oracle import torch_module as _torch

PARAM_NAMES = ("Wx", "Wh", "b", "Wy", "by")


# --------------------------------------------------------------------------- PyTorch's layers, holding our weights


@functools.cache
def _layer(kind: str, D: int, H: int, device: str):
    """One torch.nn.RNNCell or RNN per shape, made once: its own (random) parameters are never
    used, and making it once leaves the notebook's torch random numbers alone."""
    torch = _torch()
    with torch.random.fork_rng(devices=[]):  # made on the CPU, so only the CPU generator is touched
        layer = (
            torch.nn.RNNCell(D, H, dtype=torch.float64)
            if kind == "cell"
            else torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
        )
    return layer.to(device)


def _weights(Wx, Wh, b, suffix=""):
    # course.torch_layout's mapping, on tensors: weight_ih = Wx.T, weight_hh = Wh.T, bias_hh = 0.
    return {
        f"weight_ih{suffix}": Wx.T,
        f"weight_hh{suffix}": Wh.T,
        f"bias_ih{suffix}": b,
        f"bias_hh{suffix}": _torch().zeros_like(b),
    }


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
        return _rnn_layer(
            torch.tensor(x), torch.tensor(h0), torch.tensor(Wx), torch.tensor(Wh), torch.tensor(b)
        ).numpy()


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


def _random_rnn_weights(rng, D, H):
    return (
        rng.normal(scale=1 / np.sqrt(D), size=(D, H)),
        rng.normal(scale=1 / np.sqrt(H), size=(H, H)),
        rng.normal(scale=0.5, size=H),
    )


# --------------------------------------------------------------------------- the three backward checks


@dataclass(frozen=True)
class Backward:
    """What one backward check needs to know about its pair of functions: the forward's
    argument names (the torch layer takes them by these names), the upstream gradient's
    name, the gradients' names (in the backward's order, one per forward argument) and
    hints, the torch layer that is the oracle, and the known mistakes that torch can
    reproduce (``mistakes(*forward arguments, upstream, correct) -> [(hint, {name: value})]``)."""

    inputs: tuple[str, ...]
    upstream: str
    returns: tuple[str, ...]
    names: tuple[str, ...]
    hints: dict[str, str]
    torch_layer: Callable
    mistakes: Callable


def compare_backward(
    report: Report,
    spec: Backward,
    forward,
    backward,
    case,
    *,
    reference=None,
    numeric=True,
    mistakes=None,
    cache_name="cache",
) -> None:
    """One case (the forward's arguments, then the upstream gradient): the learner's backward,
    on the cache of the learner's forward, against torch autograd of ``spec.torch_layer``,
    centred differences of the learner's forward (``numeric``) and the reference
    (``(forward, backward)``, hidden checks only); called twice on the same cache, which
    must be left unchanged; float64 gradients.
    ``mistakes`` (hidden checks only): grader-side {quantity: {hint: value}} of known mistakes.
    ``cache_name``: what the failure calls the cache that must be left unchanged."""
    *args, upstream = case
    inputs = dict(zip(spec.inputs, args))
    own_forward = (lambda **a: call_student(forward, *a.values(), returns=spec.returns)[0]) if numeric else None
    oracles = gradient_oracles(spec.torch_layer, own_forward, inputs, upstream, spec.names)
    if reference is not None:
        reference_forward, reference_backward = reference
        oracles.append(("reference", dict(zip(spec.names, reference_backward(upstream, reference_forward(*args)[1])))))
    suspects = _by_quantity(spec.names, spec.mistakes(*args, upstream, oracles[0][1]), mistakes)
    _, cache = call_student(forward, *args, returns=spec.returns)
    grads = call_backward_twice(
        report, backward, upstream, cache, argument_names=(spec.upstream, cache_name), returns=spec.names
    )
    compare_gradients(report, spec.names, grads, oracles, spec.hints, suspects)
    _require_all_float64(report, spec.names, grads)


# --------------------------------------------------------------------------- rnn_step_backward

STEP_HINTS = {
    "dx": "dx (N, D): the gradient at tanh's input (dnext_h times tanh's derivative, which next_h in the cache gives), back through Wx",
    "dprev_h": "dprev_h (N, H): the gradient at tanh's input back through Wh transposed (da Wh^T, not da Wh)",
    "dWx": "dWx (D, H): x transposed times the gradient at tanh's input, summed over the batch by the product",
    "dWh": "dWh (H, H): the state that entered the step (prev_h, not next_h) transposed, times the gradient at tanh's input",
    "db": "db (H,): the gradient at tanh's input, summed over the batch",
}
STEP_NAMES = ("dx", "dprev_h", "dWx", "dWh", "db")
SIGN_HINT = (
    "the sign is flipped: tanh's derivative 1 - next_h**2 is positive, and the step gradients are added, not subtracted"
)


def _step_mistakes(x, prev_h, Wx, Wh, b, dnext_h, correct):
    """Known mistakes, from torch autograd of what each mistake differentiates."""
    inputs = dict(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, b=b)
    no_b = dict(inputs, b=np.zeros_like(b))  # the cache holds no b: a recomputed pre-activation lacks it
    N = x.shape[0]
    return [
        (
            "multiply by tanh's derivative (1 - next_h**2) before the matrix products",
            _grads_of(_linear_pre, inputs, dnext_h, STEP_NAMES),
        ),
        # a - a**3 / 3 has the derivative 1 - a**2: tanh's derivative written with its input a
        (
            "tanh's derivative is 1 - next_h**2, with next_h the step's output (not its pre-activation)",
            _grads_of(lambda **t: (lambda a: a - a**3 / 3)(_linear_pre(**t)), no_b, dnext_h, STEP_NAMES),
        ),
        ("db sums over the batch, not a mean", {"db": correct["db"] / N}),
        (SIGN_HINT, {name: -value for name, value in correct.items()}),
    ]


STEP = Backward(
    ("x", "prev_h", "Wx", "Wh", "b"),
    "dnext_h",
    ("next_h", "cache"),
    STEP_NAMES,
    STEP_HINTS,
    _cell_layer,
    _step_mistakes,
)


def step_case(rng=None, N=3, D=4, H=5):
    """(x, prev_h, Wx, Wh, b, dnext_h): fixed values (D != H, so that a weight on the wrong side
    cannot even multiply), or random ones drawn from ``rng``."""
    if rng is None:
        return (
            linspace_array((N, D), -0.8, 0.9),
            linspace_array((N, H), 0.6, -0.5),
            linspace_array((D, H), -0.4, 0.5),
            linspace_array((H, H), -0.3, 0.45),
            linspace_array((H,), -0.2, 0.3),
            linspace_array((N, H), 0.7, -0.9),
        )
    x, prev_h = rng.normal(size=(N, D)), np.tanh(rng.normal(size=(N, H)))
    return (x, prev_h, *_random_rnn_weights(rng, D, H), rng.normal(size=(N, H)))


@visible_check
def rnn_step_backward(report, rnn_step_forward, rnn_step_backward):
    """Graded: rnn_step_backward(dnext_h, cache) against torch autograd of torch.nn.RNNCell and
    centred differences of the forward; dnext_h and the cache left unchanged, the same result
    twice, float64 gradients."""
    compare_backward(report, STEP, rnn_step_forward, rnn_step_backward, step_case())


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
    cut = _grads_of(
        _rnn_layer_cut, dict(x=x, before=before, Wx=Wx, Wh=Wh, b=b), dh, ("dx", "dbefore", "dWx", "dWh", "db")
    )
    cut["dh0"] = cut.pop("dbefore")[:, 0]
    first_only = _grads_of(_rnn_weights_at_first_step, dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b), dh, SEQ_NAMES)
    return [
        ("carry the gradient across steps: step t gets dh[:, t] + dprev_h from step t+1", cut),
        (
            "the weights are shared across time: accumulate with +=, do not overwrite with =",
            {name: first_only[name] for name in ("dWx", "dWh", "db")},
        ),
        (SIGN_HINT, {name: -value for name, value in correct.items()}),
    ]


SEQUENCE = Backward(
    ("x", "h0", "Wx", "Wh", "b"), "dh", ("h", "cache"), SEQ_NAMES, SEQ_HINTS, _rnn_layer, _sequence_mistakes
)


def sequence_case(rng=None, N=2, T=4, D=3, H=5):
    """(x, h0, Wx, Wh, b, dh): fixed values, or random ones drawn from ``rng``."""
    if rng is None:
        return (
            linspace_array((N, T, D), -1.0, 1.1),
            linspace_array((N, H), 0.5, -0.6),
            linspace_array((D, H), -0.5, 0.6),
            linspace_array((H, H), -0.35, 0.4),
            linspace_array((H,), -0.25, 0.2),
            linspace_array((N, T, H), 0.8, -0.7),
        )
    dh = rng.normal(size=(N, T, H))
    x, h0 = rng.normal(size=(N, T, D)), np.tanh(rng.normal(size=(N, H)))
    return (x, h0, *_random_rnn_weights(rng, D, H), dh)


@visible_check
def rnn_backward(report, rnn_forward, rnn_backward):
    """Graded: rnn_backward(dh, cache) against torch autograd of torch.nn.RNN and centred
    differences of the forward; dh and the cache left unchanged, the same result twice."""
    compare_backward(report, SEQUENCE, rnn_forward, rnn_backward, sequence_case())


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
    per_step_bias = _grads_of(
        lambda x, W, bt: F.linear(x, W.T) + bt, dict(x=x, W=W, bt=np.zeros((T, M))), dout, ("dx", "dW", "db")
    )
    last_step = _grads_of(_linear, dict(x=x[:, -1], W=W, b=b), dout[:, -1], ("dx", "dW", "db"))
    mistakes = [
        ("db sums over both the batch and the time axes: sum(axis=(0, 1))", {"db": per_step_bias["db"]}),
        ("dW sums over every step: include all T steps", {"dW": last_step["dW"]}),
        (
            "dW and db are sums over examples and steps, not means",
            {"dW": correct["dW"] / (N * T), "db": correct["db"] / (N * T)},
        ),
        # rows taken time-major and read back batch-major land on the wrong (n, t)
        (
            "reshape dout to (N * T, M) directly: swapping axes first scrambles the rows",
            {"dx": correct["dx"].transpose(1, 0, 2).reshape(N, T, H)},
        ),
    ]
    if H == M:
        mistakes.append(
            (
                "dx = dout W^T (W transposed), not dout W",
                _grads_of(lambda x, W, b: F.linear(x, W, b), dict(x=x, W=W, b=b), dout, ("dx",)),
            )
        )
    return mistakes


AFFINE = Backward(("x", "W", "b"), "dout", ("out", "cache"), AFFINE_NAMES, AFFINE_HINTS, _linear, _affine_mistakes)


def affine_case(rng=None, N=2, T=3, H=4, M=5):
    """(x, W, b, dout): fixed values, or random ones drawn from ``rng``."""
    if rng is None:
        return (
            linspace_array((N, T, H), -0.7, 0.8),
            linspace_array((H, M), -0.5, 0.4),
            linspace_array((M,), 0.1, -0.3),
            linspace_array((N, T, M), 0.6, -0.9),
        )
    return rng.normal(size=(N, T, H)), rng.normal(size=(H, M)), rng.normal(size=M), rng.normal(size=(N, T, M))


@visible_check
def temporal_affine_backward(report, temporal_affine_forward, temporal_affine_backward):
    """Graded: temporal_affine_backward(dout, cache) against torch autograd and centred differences."""
    compare_backward(report, AFFINE, temporal_affine_forward, temporal_affine_backward, affine_case())


# --------------------------------------------------------------------------- temporal_softmax_loss


def _masked_cross_entropy(scores, y, mask):
    """torch's cross_entropy at every step, times the mask, summed, divided by N."""
    F = _torch().nn.functional
    N, T, V = scores.shape
    per_step = F.cross_entropy(scores.reshape(N * T, V), y.reshape(N * T), reduction="none")
    return (per_step * mask.reshape(N * T)).sum() / N


def softmax_loss_oracle(device, scores, y, mask):
    """(loss, dscores) from torch on ``device``. The device comes first and is required: called in a
    learner's place, temporal_softmax_loss(scores, y, mask), this oracle must not stand in for it."""
    loss, grads = forward_backward(
        _masked_cross_entropy, dict(scores=scores, y=y, mask=mask.astype(np.float64)), 1.0, device=device
    )
    return float(loss), grads["scores"]


LOSS_HINT = "loss = the sum over every (n, t) where mask is True of -log softmax(scores[n, t])[y[n, t]], divided by N"
DSCORES_HINT = "dscores = the softmax of scores minus the one-hot of y, at unmasked steps only (0 where mask is False), divided by N"
ZERO_OVER_ZERO = (
    "a nan with ordinary scores is a 0 / 0: a sequence or a step whose mask is all False "
    "contributes 0, do not divide by its number of unmasked steps"
)


def _loss_and_oracles(report: Report, temporal_softmax_loss, scores, y, mask, reference, argument_names):
    """The learner's (loss, dscores) on one case, whether both are finite (values that are not
    numbers count as finite: the comparison says what is wrong with them), and the oracles'
    [(oracle, loss, dscores)]: torch on every device, and the reference when given."""
    oracles = [(f"torch {d}", *softmax_loss_oracle(d, scores, y, mask)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", *reference(scores, y, mask)))
    loss, dscores = call_unchanged(
        report, temporal_softmax_loss, scores, y, mask, argument_names=argument_names, returns=("loss", "dscores")
    )
    return loss, dscores, not (has_nonfinite(loss) or has_nonfinite(dscores)), oracles


def compare_temporal_softmax_loss(
    report: Report, temporal_softmax_loss, scores, y, mask, reference=None, label=""
) -> bool:
    """One case: loss and dscores against torch, scores, y and mask left unchanged, dscores float64.
    Returns whether the learner's loss and dscores were finite."""
    loss, dscores, finite, oracles = _loss_and_oracles(
        report, temporal_softmax_loss, scores, y, mask, reference, ("scores", "y", "mask")
    )
    N, T, _ = scores.shape
    count = max(1, int(mask.sum()))
    loss0, dscores0 = oracles[0][1], oracles[0][2]
    unmasked_loss, unmasked_dscores = softmax_loss_oracle("cpu", scores, y, np.ones_like(mask))
    for oracle, expected_loss, expected_dscores in oracles:
        report.compare(
            f"loss{label}",
            loss,
            expected_loss,
            oracle=oracle,
            hint=LOSS_HINT if finite else ZERO_OVER_ZERO,
            suspects={
                "steps where mask is False do not count: multiply each step's loss by the mask": unmasked_loss,
                "sum over time, then average over N only (not over N * T)": loss0 / T,
                "average over the N sequences: divide by N": loss0 * N,
                "divide by N, not by the number of unmasked steps": loss0 * N / count,
            },
        )
        report.compare(
            f"dscores{label}",
            dscores,
            expected_dscores,
            oracle=oracle,
            hint=DSCORES_HINT if finite else ZERO_OVER_ZERO,
            suspects={
                "masked steps get zero gradient: multiply by mask[..., None]": unmasked_dscores,
                "the loss is divided by N only: dscores too (not by N * T)": dscores0 / T,
                "the loss is averaged over N: divide dscores by N": dscores0 * N,
                "divide by N, not by the number of unmasked steps": dscores0 * N / count,
            },
        )
    require_float64(report, f"dscores{label}", dscores)
    return finite


def compare_large_scores(report: Report, temporal_softmax_loss, scores, y, mask, cases, reference=None) -> None:
    """The cases that need a numerically stable softmax, in order: (label, scores, hint).
    A case's hint is given when the learner's values stop being finite there first; a
    later case that breaks the same way points back to it, and finite wrong values get
    the hint of the ordinary case."""
    broke_before = False
    for label, large_scores, hint in cases:
        loss, dscores, finite, oracles = _loss_and_oracles(
            report, temporal_softmax_loss, large_scores, y, mask, reference, (None, None, None)
        )
        if finite:
            case_hint = (
                "right with ordinary scores, wrong with large ones: compute with the max of each step subtracted"
            )
        else:
            case_hint = "the same overflow as in the case above" if broke_before else hint
        broke_before = broke_before or not finite
        for oracle, expected_loss, expected_dscores in oracles:
            report.compare(f"loss{label}", loss, expected_loss, oracle=oracle, hint=case_hint)
            report.compare(f"dscores{label}", dscores, expected_dscores, oracle=oracle, hint=case_hint)


SHIFT_HINT = "np.exp overflows at large scores: subtract the max over V from each step's scores first (the softmax does not change)"
SCALES_HINT = (
    "subtract each step's own max over V (axis=2, keepdims=True), not one max for the whole batch: "
    "a step far below the batch's max underflows to 0 / 0"
)
MARGIN_HINT = (
    "-log of a softmax that underflowed to 0 is inf: compute the log-probabilities directly, as the shifted "
    "scores minus the log of the sum of their exponentials"
)


def stability_cases(scores, y, offsets):
    """(label, scores, hint) for the three ways large scores break a naive softmax: every
    score shifted by 1000; steps on very different scales (``offsets`` (N, T)); a wrong
    class 800 above the target at every step."""
    margin = scores.copy()
    wrong = (y + 1) % scores.shape[2]
    np.put_along_axis(margin, wrong[..., None], np.take_along_axis(margin, wrong[..., None], axis=2) + 800.0, axis=2)
    return [
        ("+1000", scores + 1000.0, SHIFT_HINT),
        (" scales", scores + offsets[..., None], SCALES_HINT),
        (" margin", margin, MARGIN_HINT),
    ]


def loss_case(rng=None, N=3, T=3, V=4):
    """(scores, y, mask): fixed values with a fully masked sequence and a fully masked step, or
    random ones drawn from ``rng`` (about 60% of the steps count, and always step (0, 0))."""
    if rng is None:
        scores = linspace_array((N, T, V), -2.0, 1.5) * np.cos(np.arange(N * T * V)).reshape(N, T, V)
        y = np.array([[0, 3, 1], [2, 2, 3], [1, 0, 0]])
        # Sequence 1 and step 2 are fully masked: they must contribute nothing (and no 0 / 0).
        mask = np.array([[True, True, False], [False, False, False], [True, True, False]])  # 4 steps count, N = 3
        return scores, y, mask
    scores, y, mask = rng.normal(scale=3.0, size=(N, T, V)), rng.integers(0, V, size=(N, T)), rng.random((N, T)) < 0.6
    mask[0, 0] = True
    return scores, y, mask


def score_offsets(rng=None, N=3, T=3):
    """(N, T) offsets that put the steps' scores on very different scales (``stability_cases``):
    fixed ones, or ones drawn from ``rng`` with the two extremes always there (both in one
    step when N = T = 1)."""
    if rng is None:
        return np.array([[900.0, -900.0, 0.0], [-600.0, 300.0, 0.0], [0.0, 700.0, -800.0]])
    offsets = rng.choice([-900.0, -500.0, 0.0, 600.0, 900.0], size=(N, T))
    offsets.flat[0], offsets.flat[-1] = 900.0, -900.0
    return offsets


@visible_check
def temporal_softmax_loss(report, temporal_softmax_loss):
    """Graded: loss and dscores against torch's cross_entropy with a mask (a fully masked sequence
    and step), and for large scores: shifted, on very different scales, a large wrong margin."""
    scores, y, mask = loss_case()
    compare_temporal_softmax_loss(report, temporal_softmax_loss, scores, y, mask)
    if not report.failures:  # large scores once ordinary ones are right: one mistake, its own lines
        compare_large_scores(
            report, temporal_softmax_loss, scores, y, mask, stability_cases(scores, y, score_offsets())
        )


# --------------------------------------------------------------------------- clip_gradients


def _holding(grads, device="cpu"):
    """A float64 tensor per array, holding that array as its .grad (what torch's clipping takes)."""
    torch = _torch()
    holders = []
    for g in grads:
        holder = torch.zeros(g.shape, dtype=torch.float64, device=device, requires_grad=True)
        holder.grad = torch.tensor(g, dtype=torch.float64, device=device)
        holders.append(holder)
    return holders


def clip_oracle(grads, max_norm, device="cpu"):
    """(clipped arrays, norm) from torch.nn.utils: get_total_norm, then clip_grads_with_norm_."""
    torch = _torch()
    holders = _holding(grads, device)
    norm = torch.nn.utils.get_total_norm([h.grad for h in holders])
    # torch scales by max_norm / (norm + 1e-6); asking for max_norm * (norm + 1e-6) / norm gives exactly max_norm / norm.
    torch.nn.utils.clip_grads_with_norm_(holders, max_norm * (float(norm) + 1e-6) / float(norm), norm)
    return [h.grad.cpu().numpy() for h in holders], float(norm)


def _clip_by_value(grads, max_norm):
    holders = _holding(grads)
    _torch().nn.utils.clip_grad_value_(holders, max_norm)
    return [h.grad.numpy() for h in holders]


CLIP_HINT = (
    "one norm over all the gradients together (every entry of every array); when it exceeds max_norm, "
    "every gradient is scaled by max_norm / norm"
)
BELOW_HINT = "the global norm is below max_norm here: return the gradients unchanged (only the norm is measured)"


def compare_clip_gradients(report: Report, clip_gradients_arrays, grads, max_norm, reference=None) -> None:
    """``clip_gradients_arrays(max_norm, *grads)`` is clip_gradients through its harness
    (``clip_gradients_harness``); ``reference`` the reference's, through the same harness."""
    oracles = [(f"torch {d}", *clip_oracle(grads, max_norm, d)) for d in devices()]
    if reference is not None:
        r = reference(max_norm, *grads)
        oracles.append(("reference", list(r[: len(grads)]), r[len(grads)]))
    total = oracles[0][2]
    per_array = [clip_oracle([g], max_norm)[0][0] for g in grads]
    by_value = _clip_by_value(grads, max_norm)
    result = call_unchanged(
        report,
        clip_gradients_arrays,
        max_norm,
        *grads,
        name="clip_gradients",
        argument_names=(None, *(f"grads[{i}]" for i in range(len(grads)))),
    )
    clipped, norm, fresh = result[: len(grads)], result[len(grads)], result[len(grads) + 1]
    report.require(
        "new dict",
        bool(fresh),
        "returned the grads dict itself (or changed its entries)",
        hint="return a new dict and leave grads as it was: the caller still holds it",
        oracle="rule",
    )
    hint = CLIP_HINT if total > max_norm else BELOW_HINT
    for oracle, expected, expected_norm in oracles:
        report.compare(
            "norm",
            norm,
            expected_norm,
            oracle=oracle,
            hint="the norm before clipping: the square root of the sum of squares of every entry of every gradient",
            suspects={
                "return the norm measured before clipping, not after": min(total, max_norm),
                "the norm is the square root of the sum of squares": total**2,
            },
        )
        for i, (value, exp) in enumerate(zip(clipped, expected)):
            report.compare(
                f"grads[{i}]",
                value,
                exp,
                oracle=oracle,
                hint=hint,
                suspects={
                    "clip by one global norm, not each array by its own norm": per_array[i],
                    "scale the whole gradient, do not clip entries one by one (np.clip)": by_value[i],
                },
            )
    for i, value in enumerate(clipped):
        require_float64(report, f"grads[{i}]", value)


def clip_case(rng=None, D=3, H=4):
    """Three gradients, (D, H), (H, H) and (H,): fixed values, or random ones drawn from ``rng``."""
    if rng is None:
        return [linspace_array((D, H), -1.5, 2.0), linspace_array((H, H), 0.9, -1.2), linspace_array((H,), -0.5, 0.8)]
    return [rng.normal(size=(D, H)), rng.normal(size=(H, H)), rng.normal(size=H)]


def global_norm(arrays) -> float:
    """The norm of all the arrays together, as one long vector (how a case sets its max_norm)."""
    return float(np.sqrt(sum(np.sum(a**2) for a in arrays)))


def clip_gradients_harness(clip_gradients):
    """clip_gradients(grads, max_norm), a function of a dict, as clip_gradients_arrays(max_norm,
    *grads) -> (*clipped arrays, norm, fresh): the arrays go in a dict named grad0, grad1, ...;
    fresh tells whether clip_gradients returned a new dict and left the given one as it was."""

    def clip_gradients_arrays(max_norm, *grads):
        names = [f"grad{i}" for i in range(len(grads))]
        given = dict(zip(names, grads))
        clipped, norm = _unpacked(
            clip_gradients(given, max_norm),
            2,
            "clip_gradients should return (the clipped dict, the norm before clipping)",
        )
        if not isinstance(clipped, dict) or set(clipped) != set(names):
            raise CheckFailed("clip_gradients should return a dict with the same keys as grads, and the norm")
        fresh = clipped is not given and all(given[name] is grad for name, grad in zip(names, grads))
        return (*(clipped[name] for name in names), norm, fresh)

    return (clip_gradients_arrays,)


@visible_check(harness=clip_gradients_harness)
def clip_gradients(report, clip_gradients_arrays):
    """Graded: clip_gradients against torch.nn.utils' clipping, above and below the threshold;
    a new dict returned, the given arrays left unchanged."""
    grads = clip_case()
    compare_clip_gradients(report, clip_gradients_arrays, grads, 1.0)  # clipped
    compare_clip_gradients(report, clip_gradients_arrays, grads, 2.0 * global_norm(grads))  # left alone


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
    loss, h = _char_model(
        **tensors,
        x_idx=x_t,
        y_idx=y_t,
        h_prev=h_t,
        before=before,
        targets=None if targets is None else torch.tensor(targets, device=device),
    )
    loss.backward()
    out = {f"d{n}": t.grad.cpu().numpy() for n, t in tensors.items()}
    return {
        "loss": float(loss.detach()),
        "h_last": h[:, -1].detach().cpu().numpy(),
        "h_first": h[:, 0].detach().cpu().numpy(),
        **out,
    }


CHAR_HINT = (
    "one-hot x_idx, rnn_forward from h_prev, temporal_affine_forward with Wy, by, temporal_softmax_loss "
    "with an all-True mask; then the backward functions in the reverse order"
)


def compare_char_rnn_loss(
    report: Report, char_rnn_loss_arrays, params, x_idx, y_idx, h_prev, reference=None, numeric=True
) -> None:
    """``char_rnn_loss_arrays(Wx, Wh, b, Wy, by, x_idx, y_idx, h_prev)`` is char_rnn_loss
    through its harness: it returns (loss, dWx, dWh, db, dWy, dby, h_last)."""
    args = (*(params[n] for n in PARAM_NAMES), x_idx, y_idx, h_prev)
    oracles = [(f"torch {d}", char_model_oracle(params, x_idx, y_idx, h_prev, d)) for d in devices()]
    if reference is not None:
        r = reference(*args)
        oracles.append(
            ("reference", {"loss": r[0], **{f"d{n}": g for n, g in zip(PARAM_NAMES, r[1:6])}, "h_last": r[6]})
        )
    from_zeros = char_model_oracle(params, x_idx, y_idx, np.zeros_like(h_prev))
    cut = char_model_oracle(params, x_idx, y_idx, h_prev, cut=True)
    own_targets = char_model_oracle(params, x_idx, y_idx, h_prev, targets=x_idx)
    result = call_unchanged(
        report,
        char_rnn_loss_arrays,
        *args,
        name="char_rnn_loss",
        argument_names=(*PARAM_NAMES, "x_idx", "y_idx", "h_prev"),
    )
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
            report.compare(
                "loss",
                loss,
                expected["loss"],
                oracle=oracle,
                hint=CHAR_HINT,
                suspects={zero_hint: from_zeros["loss"], target_hint: own_targets["loss"]},
            )
        for n in PARAM_NAMES:
            report.compare(
                f"d{n}",
                grads[n],
                expected[f"d{n}"],
                oracle=oracle,
                hint=CHAR_HINT,
                tol=1e-6 if approximate else 1e-7,
                floor=approximate_floor(expected[f"d{n}"]) if approximate else 1e-8,
                suspects={zero_hint: from_zeros[f"d{n}"], target_hint: own_targets[f"d{n}"], cut_hint: cut[f"d{n}"]},
            )
        if "h_last" in expected:
            report.compare(
                "h_last",
                h_last,
                expected["h_last"],
                oracle=oracle,
                hint="return the state after the last step, h[:, -1], to carry into the next chunk",
                suspects={
                    zero_hint: from_zeros["h_last"],
                    "h_last is the state after the last step, h[:, -1], not the first": expected.get("h_first"),
                },
            )
    for n in PARAM_NAMES:
        require_float64(report, f"d{n}", grads[n])
    require_float64(report, "h_last", h_last)


def centred_difference_of(f, value):
    """Centred differences of a scalar function of one array (the learner's own loss)."""
    from .gradients import centred_difference

    return centred_difference(f, value.copy(), 1.0)


def char_case(rng=None, N=2, T=4, V=5, H=3):
    """(params, x_idx, y_idx, h_prev) of the character model: fixed values, or random ones
    drawn from ``rng``."""
    if rng is None:
        params = {
            "Wx": linspace_array((V, H), -0.6, 0.7),
            "Wh": linspace_array((H, H), 0.5, -0.4),
            "b": linspace_array((H,), -0.1, 0.2),
            "Wy": linspace_array((H, V), 0.8, -0.7),
            "by": linspace_array((V,), 0.05, -0.1),
        }
        x_idx = np.array([[0, 1, 4, 2], [3, 3, 0, 1]])
        y_idx = np.array([[1, 4, 2, 2], [3, 0, 1, 4]])
        h_prev = linspace_array((N, H), -0.5, 0.6)
        return params, x_idx, y_idx, h_prev
    params = {
        "Wx": rng.normal(scale=0.5, size=(V, H)),
        "Wh": rng.normal(scale=1 / np.sqrt(H), size=(H, H)),
        "b": rng.normal(scale=0.3, size=H),
        "Wy": rng.normal(scale=1 / np.sqrt(H), size=(H, V)),
        "by": rng.normal(scale=0.3, size=V),
    }
    return params, rng.integers(0, V, size=(N, T)), rng.integers(0, V, size=(N, T)), np.tanh(rng.normal(size=(N, H)))


def char_rnn_loss_harness(char_rnn_loss):
    """char_rnn_loss(params, x_idx, y_idx, h_prev) -> (loss, grads, h_last), functions of dicts,
    as char_rnn_loss_arrays(Wx, Wh, b, Wy, by, x_idx, y_idx, h_prev) -> (loss, dWx, dWh, db, dWy,
    dby, h_last). The params dict holds the given arrays themselves, so that a change made to
    them in place shows."""

    def char_rnn_loss_arrays(Wx, Wh, b, Wy, by, x_idx, y_idx, h_prev):
        params = dict(zip(PARAM_NAMES, (Wx, Wh, b, Wy, by)))
        loss, grads, h_last = _unpacked(
            char_rnn_loss(params, x_idx, y_idx, h_prev), 3, "char_rnn_loss should return (loss, grads, h_last)"
        )
        if not isinstance(grads, dict) or set(grads) != set(PARAM_NAMES):
            raise CheckFailed(f"char_rnn_loss should return grads as a dict with the keys {', '.join(PARAM_NAMES)}")
        return (loss, *(grads[name] for name in PARAM_NAMES), h_last)

    return (char_rnn_loss_arrays,)


@visible_check(harness=char_rnn_loss_harness)
def char_rnn_loss(report, char_rnn_loss_arrays):
    """Graded: the character model's loss, gradients and last state against torch autograd of
    torch's layers, and centred differences of the learner's own loss."""
    compare_char_rnn_loss(report, char_rnn_loss_arrays, *char_case())


# --------------------------------------------------------------------------- truncated BPTT


def tbptt_oracle(
    params, x_idx, y_idx, h_prev, learning_rate, max_norm, device="cpu", *, model=None, clip=True, maximize=False
):
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


def compare_tbptt_step(
    report: Report, tbptt_step_arrays, params, chunks, h0, learning_rate, max_norm, reference=None
) -> None:
    """Consecutive chunks, each from the state and the parameters the previous one left.
    ``tbptt_step_arrays(Wx, Wh, b, Wy, by, x_idx, y_idx, h_prev, learning_rate, max_norm)``
    is tbptt_step through its harness: it returns (loss, h_last, *updated params)."""
    p, h = dict(params), h0
    for k, (x_idx, y_idx) in enumerate(chunks):
        if (
            not all(isinstance(p[n], np.ndarray) and p[n].shape == params[n].shape for n in PARAM_NAMES)
            or not isinstance(h, np.ndarray)
            or h.shape != h0.shape
        ):
            break  # already reported
        # Each chunk is judged from the parameters and the state the learner's previous step
        # left (so one mistake shows once, where it is made); that state is the carried one.
        model = char_model_oracle(p, x_idx, y_idx, h)
        steps = {
            f"torch {d}": tbptt_oracle(
                p, x_idx, y_idx, h, learning_rate, max_norm, d, model=model if d == "cpu" else None
            )
            for d in devices()
        }
        if reference is not None:
            r = reference(*(p[n] for n in PARAM_NAMES), x_idx, y_idx, h, learning_rate, max_norm)
            steps["reference"] = (r[0], r[1], dict(zip(PARAM_NAMES, r[2:])))
        from_zeros = tbptt_oracle(p, x_idx, y_idx, np.zeros_like(h), learning_rate, max_norm)
        unclipped = tbptt_oracle(p, x_idx, y_idx, h, learning_rate, max_norm, model=model, clip=False)[2]
        ascent = tbptt_oracle(p, x_idx, y_idx, h, learning_rate, max_norm, model=model, maximize=True)[2]
        after_update = char_model_oracle(next(iter(steps.values()))[2], x_idx, y_idx, h)["loss"]
        result = call_unchanged(
            report,
            tbptt_step_arrays,
            *(p[n] for n in PARAM_NAMES),
            x_idx,
            y_idx,
            h,
            learning_rate,
            max_norm,
            name="tbptt_step",
            argument_names=(None,) * 5 + (f"x_chunk_idx {k}", f"y_chunk_idx {k}", f"h_prev {k}", None, None),
        )
        loss, h_last, updated = result[0], result[1], dict(zip(PARAM_NAMES, result[2:]))
        zero_hint = "start each chunk from h_prev (the state carried from the previous chunk), not from zeros"
        for oracle, (e_loss, e_h, e_params) in steps.items():
            report.compare(
                f"loss {k}",
                loss,
                e_loss,
                oracle=oracle,
                hint="the loss of the chunk from h_prev, with the parameters as they were before the update",
                suspects={zero_hint: from_zeros[0], "return the loss computed before the update": after_update},
            )
            report.compare(
                f"h {k}",
                h_last,
                e_h,
                oracle=oracle,
                hint="return the state after the chunk's last step, to carry into the next chunk",
                suspects={zero_hint: from_zeros[1]},
            )
            for n in PARAM_NAMES:
                report.compare(
                    f"{n} {k}",
                    updated[n],
                    e_params[n],
                    oracle=oracle,
                    hint=f"params['{n}'] -= learning_rate * (its clipped gradient), in place",
                    suspects={
                        zero_hint: from_zeros[2][n],
                        "clip the gradients (clip_gradients, global norm) before the update": unclipped[n],
                        "descend: subtract learning_rate * gradient": ascent[n],
                        "update the arrays in params (params[name] -= ...), so the caller sees the change": p[n],
                    },
                )
        p, h = updated, h_last


def tbptt_case(rng=None, N=2, T=4, V=5, H=3, chunks=2):
    """(params, [(x_idx, y_idx) of each chunk], h0): fixed values (two chunks), or random ones
    drawn from ``rng``."""
    params, x_idx, y_idx, h0 = char_case(rng, N, T, V, H)
    if rng is None:
        second = (np.array([[2, 0, 1, 3], [4, 1, 1, 0]]), np.array([[0, 1, 3, 4], [1, 1, 0, 2]]))
        return params, [(x_idx, y_idx), second], h0
    return (
        params,
        [(x_idx, y_idx)]
        + [(rng.integers(0, V, size=(N, T)), rng.integers(0, V, size=(N, T))) for _ in range(chunks - 1)],
        h0,
    )


def tbptt_step_harness(tbptt_step):
    """tbptt_step(params, x_chunk_idx, y_chunk_idx, h_prev, learning_rate, max_norm) -> (loss,
    h_last), which updates the dict params in place, as tbptt_step_arrays(Wx, Wh, b, Wy, by,
    x_chunk_idx, y_chunk_idx, h_prev, learning_rate, max_norm) -> (loss, h_last, Wx, Wh, b, Wy,
    by): the step runs on a params dict of copies of the given weights, and returns them as
    the step left them."""

    def tbptt_step_arrays(Wx, Wh, b, Wy, by, x_chunk_idx, y_chunk_idx, h_prev, learning_rate, max_norm):
        params = {name: np.array(value, dtype=np.float64) for name, value in zip(PARAM_NAMES, (Wx, Wh, b, Wy, by))}
        loss, h_last = _unpacked(
            tbptt_step(params, x_chunk_idx, y_chunk_idx, h_prev, learning_rate, max_norm),
            2,
            "tbptt_step should return (loss, h_last) and update params in place",
        )
        return (loss, h_last, *(params[name] for name in PARAM_NAMES))

    return (tbptt_step_arrays,)


@visible_check(harness=tbptt_step_harness)
def tbptt_step(report, tbptt_step_arrays):
    """Graded: two consecutive truncated-BPTT steps against torch autograd with torch's
    global-norm clipping and torch.optim.SGD; the state carried."""
    params, chunks, h0 = tbptt_case()
    compare_tbptt_step(report, tbptt_step_arrays, params, chunks, h0, 0.1, 1.0)


# --------------------------------------------------------------------------- sampling
# The visible check compares with fixed expected draws for fixed inputs: a sampler written
# here, in any library, would be the exercise's answer. tests/lessons/test_bptt_checks.py proves
# these values equal what the grader's reference draws, and each known mistake's draws.

SAMPLE_SEED_IDX, SAMPLE_LENGTH, SAMPLE_SEED = 5, 12, 7
SAMPLE_TEMPERATURES = (1.0, 0.5, 2.0, 1e-4)


def _draws_at_each_temperature(text: str) -> dict[float, tuple[int, ...]]:
    """'353425053423 ...' (one digit per character, one run per temperature of
    SAMPLE_TEMPERATURES, in order) -> {temperature: draws}."""
    runs = text.split()
    assert len(runs) == len(SAMPLE_TEMPERATURES) and all(len(run) == SAMPLE_LENGTH for run in runs)
    return {t: tuple(int(c) for c in run) for t, run in zip(SAMPLE_TEMPERATURES, runs)}


#: temperature -> the reference's draws on sample_case() with SAMPLE_SEED_IDX, SAMPLE_LENGTH, SAMPLE_SEED
SAMPLE_EXPECTED = _draws_at_each_temperature("353425053423 353434234443 354325054423 243444444344")
#: hint -> temperature -> the draws a known mistake gives on the same inputs (the hints are
#: those the grader's catalog of known mistakes gives them)
SAMPLE_MISTAKES = {
    hint: _draws_at_each_temperature(draws)
    for hint, draws in {
        "divide the scores by the temperature before the softmax": "353425053423 353425053423 353425053423 353425053423",
        "divide the scores by the temperature (not multiply)": "353425053423 354325054423 353434234443 354115044211",
        "feed the sampled character back as the next input, not the most likely one": "354345045334 354344244334 354235045323 243444444344",
        "carry the hidden state from step to step: each step starts from the state the previous one returned": "344224044322 344324044322 354224044322 233333333333",
        "start from the given state h0, not from zeros": "252425053423 252434234443 353215054423 151510444444",
        "return the generated characters only, not the seed character first": "535342505342 535343423444 535432505442 524344444434",
    }.items()
}
SAMPLE_HINT = (
    "each step: the one-hot of the previous character and h through rnn_step_forward; "
    "p = softmax((h Wy + by) / temperature); one rng.choice(V, p=p) per character"
)
GREEDY_HINT = "at a tiny temperature the softmax is (almost) one-hot on the largest score: sampling picks the most likely character"


def sample_case(rng=None, V=6, H=4):
    """(params, h0 (1, H)): fixed values, or random ones drawn from ``rng``. h0 is far from 0:
    a sampler that ignores it draws otherwise."""
    if rng is None:
        params = {
            "Wx": linspace_array((V, H), -1.2, 1.3) * np.cos(np.arange(V * H)).reshape(V, H),
            "Wh": linspace_array((H, H), 1.5, -1.25) * np.cos(1.7 * np.arange(H * H)).reshape(H, H),
            "b": linspace_array((H,), -0.2, 0.3),
            "Wy": linspace_array((H, V), 1.5, -1.4) * np.sin(np.arange(H * V) + 1.0).reshape(H, V),
            "by": linspace_array((V,), 0.1, -0.2),
        }
        return params, linspace_array((1, H), -0.9, 0.8)
    params = {
        "Wx": rng.normal(size=(V, H)),
        "Wh": rng.normal(scale=1 / np.sqrt(H), size=(H, H)),
        "b": rng.normal(scale=0.3, size=H),
        "Wy": rng.normal(scale=2 / np.sqrt(H), size=(H, V)),
        "by": rng.normal(scale=0.3, size=V),
    }
    return params, np.tanh(rng.normal(scale=2.0, size=(1, H)))


def sample_harness(sample):
    """sample(params, seed_idx, h0, length, temperature, rng), a function of a dict and a
    Generator, as sample_arrays(Wx, Wh, b, Wy, by, seed_idx, h0, length, temperature, seed)
    -> the drawn indices, with rng = np.random.default_rng(seed). The params dict holds the
    given arrays themselves, so that a change made to them in place shows."""

    def sample_arrays(Wx, Wh, b, Wy, by, seed_idx, h0, length, temperature, seed):
        params = dict(zip(PARAM_NAMES, (Wx, Wh, b, Wy, by)))
        return np.asarray(
            sample(params, int(seed_idx), h0, int(length), float(temperature), np.random.default_rng(int(seed)))
        )

    return (sample_arrays,)


def call_sample(report: Report, sample_arrays, params, seed_idx, h0, length, temperature, seed, label):
    """The learner's sample through its harness: params and h0 must be left unchanged; a
    crash at a tiny temperature (probabilities with nan after an overflow) becomes a line."""
    try:
        return call_unchanged(
            report,
            sample_arrays,
            *(params[n] for n in PARAM_NAMES),
            seed_idx,
            h0,
            length,
            temperature,
            seed,
            name="sample",
            argument_names=(*PARAM_NAMES, None, "h0", None, None, None),
        )
    except ValueError as error:
        if temperature >= 0.01:
            raise
        report.require(
            label,
            False,
            f"raised ValueError at temperature {temperature:g} ({str(error)[:60]})",
            hint="np.exp overflows at a tiny temperature: subtract the max of scores / temperature before np.exp",
            oracle="argmax",
        )
        return None


def compare_sample_draws(report: Report, idx, expected, label, suspects, oracle) -> None:
    """The learner's draws against the expected ones: an integer array of shape (length,)."""
    is_int = isinstance(idx, np.ndarray) and idx.dtype.kind in "iu"
    if isinstance(idx, np.ndarray):
        report.require(
            f"{label} dtype",
            is_int,
            f"got {idx.dtype}, expected an integer array",
            hint="return integer indices (e.g. np.zeros(length, dtype=np.int64)): np.zeros(length) is float",
            oracle="int",
        )
    hint = GREEDY_HINT if label == "T->0" else SAMPLE_HINT
    clean = {h: np.asarray(v) for h, v in suspects.items() if v is not None and not np.array_equal(v, expected)}
    report.compare(label, idx, np.asarray(expected), oracle=oracle, tol=1e-9, hint=hint, suspects=clean)


@visible_check(harness=sample_harness)
def sample(report, sample_arrays):
    """Graded: sample, with np.random.default_rng(seed), against fixed expected draws at
    temperatures 1, 0.5 and 2 and near 0 (the argmax); params and h0 unchanged."""
    params, h0 = sample_case()
    for temperature in SAMPLE_TEMPERATURES:
        label = "T->0" if temperature < 0.01 else f"T={temperature:g}"
        idx = call_sample(
            report, sample_arrays, params, SAMPLE_SEED_IDX, h0, SAMPLE_LENGTH, temperature, SAMPLE_SEED, label
        )
        if idx is not None:
            suspects = {hint: draws.get(temperature) for hint, draws in SAMPLE_MISTAKES.items()}
            compare_sample_draws(report, idx, SAMPLE_EXPECTED[temperature], label, suspects, "fixed")


# --------------------------------------------------------------------------- shared by the harnesses


def _unpacked(result, count: int, message: str) -> tuple:
    """What a learner's function returned, when it is a tuple of ``count``; else the check
    fails with ``message`` (what the function should return)."""
    if not isinstance(result, tuple) or len(result) != count:
        raise CheckFailed(message)
    return result
