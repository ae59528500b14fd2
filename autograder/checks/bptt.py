"""Checks for lesson 03 (backpropagation through time).

Each public function is what one graded cell calls, e.g.
``check.rnn_step_backward(rnn_step_forward, rnn_step_backward)``. Visible checks use fixed
inputs (D != H, N != T) and two oracles a learner could reproduce: PyTorch autograd
(float64, on every available device) and centred differences. Functions that take or
return dicts (clip_gradients, char_rnn_loss, tbptt_step, sample) are graded through the
notebook's locked ``*_arrays`` adapters, which pass and return NumPy arrays and numbers
only, so that the hidden checks' record/replay (``autograder.probe``) can carry them.
"""
from __future__ import annotations

import numpy as np

from .core import CheckFailed, Report, approximate_floor, call_student, compare_gradients, linspace_array
from .gradients import centred_difference
from .torch_oracle import devices, forward_backward, gradient_oracles, torch_module as _torch

PARAM_NAMES = ("Wx", "Wh", "b", "Wy", "by")


def _np_step(x, prev_h, Wx, Wh, b):
    return np.tanh(x @ Wx + prev_h @ Wh + b)


def _np_unroll(x, h0, Wx, Wh, b):
    states, h = [], h0
    for t in range(x.shape[1]):
        h = _np_step(x[:, t], h, Wx, Wh, b)
        states.append(h)
    return np.stack(states, axis=1)


def _torch_unroll(x, h0, Wx, Wh, b):
    torch = _torch()
    states, h = [], h0
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    return torch.stack(states, dim=1)






# --------------------------------------------------------------------------- rnn_step_backward

STEP_HINTS = {
    "dx": "da = dnext_h * (1 - next_h**2), then dx = da Wx^T: (N, H) @ (H, D)",
    "dprev_h": "dprev_h = da Wh^T with da = dnext_h * (1 - next_h**2)",
    "dWx": "dWx = x^T da: (D, N) @ (N, H)",
    "dWh": "dWh = prev_h^T da: (H, N) @ (N, H)",
    "db": "db sums da over the batch axis",
}


def _step_suspects(x, prev_h, Wx, Wh, b, dnext_h):
    next_h = _np_step(x, prev_h, Wx, Wh, b)
    pre = x @ Wx + prev_h @ Wh + b
    da = dnext_h * (1 - next_h**2)
    wrong_pre = dnext_h * (1 - pre**2)
    tanh_hint = "tanh's derivative is 1 - next_h**2, with next_h the step's output (not its pre-activation)"
    skip_hint = "multiply by tanh's derivative (1 - next_h**2) before the matrix products"
    return {
        "dx": {tanh_hint: wrong_pre @ Wx.T, skip_hint: dnext_h @ Wx.T},
        "dprev_h": {tanh_hint: wrong_pre @ Wh.T, skip_hint: dnext_h @ Wh.T,
                    "dprev_h = da Wh^T (Wh transposed), not da Wh": da @ Wh if Wh.shape[0] == Wh.shape[1] else None},
        "dWx": {tanh_hint: x.T @ wrong_pre, skip_hint: x.T @ dnext_h},
        "dWh": {tanh_hint: prev_h.T @ wrong_pre, skip_hint: prev_h.T @ dnext_h,
                "dWh multiplies prev_h (the state entering the step), not next_h": next_h.T @ da},
        "db": {tanh_hint: wrong_pre.sum(axis=0), "db sums over the batch, not a mean": da.mean(axis=0)},
    }


def compare_rnn_step_backward(report: Report, rnn_step_forward, rnn_step_backward, x, prev_h, Wx, Wh, b, dnext_h,
                              reference=None, numeric=True) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    names = ("dx", "dprev_h", "dWx", "dWh", "db")
    _, cache = call_student(rnn_step_forward, x, prev_h, Wx, Wh, b, returns=("next_h", "cache"))
    grads = call_student(rnn_step_backward, dnext_h, cache, returns=names)
    inputs = dict(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, b=b)
    torch = _torch()
    oracles = gradient_oracles(lambda x, prev_h, Wx, Wh, b: torch.tanh(x @ Wx + prev_h @ Wh + b), _np_step if numeric else None, inputs, dnext_h, names)
    if reference is not None:
        oracles.append(("reference", dict(zip(names, reference[1](dnext_h, reference[0](x, prev_h, Wx, Wh, b)[1])))))
    suspects = {k: {h: v for h, v in s.items() if v is not None} for k, s in _step_suspects(x, prev_h, Wx, Wh, b, dnext_h).items()}
    compare_gradients(report, names, grads, oracles, STEP_HINTS, suspects)


def _step_inputs():
    N, D, H = 3, 4, 5
    return (linspace_array((N, D), -0.8, 0.9), linspace_array((N, H), 0.6, -0.5), linspace_array((D, H), -0.4, 0.5),
            linspace_array((H, H), -0.3, 0.45), linspace_array((H,), -0.2, 0.3), linspace_array((N, H), 0.7, -0.9))


def rnn_step_backward(rnn_step_forward, rnn_step_backward):
    """Graded: rnn_step_backward(dnext_h, cache) against torch autograd and centred differences."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("rnn_step_backward")
    compare_rnn_step_backward(report, rnn_step_forward, rnn_step_backward, *_step_inputs())
    report.finish()


# --------------------------------------------------------------------------- rnn_backward

SEQ_HINTS = {
    "dx": "at each step t (from T-1 down to 0): dx[:, t] from rnn_step_backward(dh[:, t] + the gradient carried from step t+1, cache[t])",
    "dh0": "dh0 is the dprev_h returned by the step at t = 0",
    "dWx": "the weights are shared by every step: add up (+=) the step gradients",
    "dWh": "the weights are shared by every step: add up (+=) the step gradients",
    "db": "the bias is shared by every step: add up (+=) the step gradients",
}


def _seq_suspects(x, h0, Wx, Wh, b, dh):
    """What the common mistakes give: the carried gradient dropped, the last step's
    parameter gradients only (= instead of +=)."""
    N, T, _ = x.shape
    h = _np_unroll(x, h0, Wx, Wh, b)
    prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    da = dh * (1 - h**2)  # no carry: each step sees only its own dh
    no_carry = {"dx": da @ Wx.T, "dh0": da[:, 0] @ Wh.T, "dWx": np.einsum("ntd,nth->dh", x, da),
                "dWh": np.einsum("ntk,nth->kh", prev, da), "db": da.sum(axis=(0, 1))}
    # With the carry, but parameter gradients overwritten: only step 0's remain.
    dprev, da0 = np.zeros_like(h0), None
    for t in reversed(range(T)):
        da_t = (dh[:, t] + dprev) * (1 - h[:, t] ** 2)
        dprev = da_t @ Wh.T
        da0 = da_t
    overwritten = {"dWx": x[:, 0].T @ da0, "dWh": prev[:, 0].T @ da0, "db": da0.sum(axis=0)}
    carry_hint = "carry the gradient across steps: step t gets dh[:, t] + dprev_h from step t+1"
    plus_hint = "the weights are shared across time: accumulate with +=, do not overwrite with ="
    return {name: {carry_hint: no_carry[name], **({plus_hint: overwritten[name]} if name in overwritten else {})}
            for name in no_carry}


def compare_rnn_backward(report: Report, rnn_forward, rnn_backward, x, h0, Wx, Wh, b, dh, reference=None, numeric=True) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    names = ("dx", "dh0", "dWx", "dWh", "db")
    _, cache = call_student(rnn_forward, x, h0, Wx, Wh, b, returns=("h", "cache"))
    grads = call_student(rnn_backward, dh, cache, returns=names)
    inputs = dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    oracles = gradient_oracles(_torch_unroll, _np_unroll if numeric else None, inputs, dh, names)
    if reference is not None:
        oracles.append(("reference", dict(zip(names, reference[1](dh, reference[0](x, h0, Wx, Wh, b)[1])))))
    compare_gradients(report, names, grads, oracles, SEQ_HINTS, _seq_suspects(x, h0, Wx, Wh, b, dh))


def _sequence_inputs():
    N, T, D, H = 2, 4, 3, 5
    return (linspace_array((N, T, D), -1.0, 1.1), linspace_array((N, H), 0.5, -0.6), linspace_array((D, H), -0.5, 0.6),
            linspace_array((H, H), -0.35, 0.4), linspace_array((H,), -0.25, 0.2), linspace_array((N, T, H), 0.8, -0.7))


def rnn_backward(rnn_forward, rnn_backward):
    """Graded: rnn_backward(dh, cache) against torch autograd through the unrolled loop, and centred differences."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("rnn_backward")
    compare_rnn_backward(report, rnn_forward, rnn_backward, *_sequence_inputs())
    report.finish()


# --------------------------------------------------------------------------- temporal_affine_backward

AFFINE_HINTS = {
    "dx": "dx = dout W^T at every step: reshape dout to (N * T, M), multiply by W^T, reshape to (N, T, H)",
    "dW": "dW = x^T dout summed over every example and step: (H, N * T) @ (N * T, M)",
    "db": "db sums dout over the batch and time axes",
}


def compare_temporal_affine_backward(report: Report, temporal_affine_forward, temporal_affine_backward, x, W, b, dout,
                                     reference=None, numeric=True) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    names = ("dx", "dW", "db")
    _, cache = call_student(temporal_affine_forward, x, W, b, returns=("out", "cache"))
    grads = call_student(temporal_affine_backward, dout, cache, returns=names)
    inputs = dict(x=x, W=W, b=b)
    torch = _torch()
    oracles = gradient_oracles(lambda x, W, b: torch.nn.functional.linear(x, W.T, b), (lambda x, W, b: x @ W + b) if numeric else None, inputs, dout, names)
    if reference is not None:
        oracles.append(("reference", dict(zip(names, reference[1](dout, reference[0](x, W, b)[1])))))
    N, T, H = x.shape
    suspects = {
        "dW": {"dW sums over every step: include all T steps": x[:, -1].T @ dout[:, -1],
               "dW is a sum over examples and steps, not a mean": x.reshape(N * T, H).T @ dout.reshape(N * T, -1) / (N * T)},
        "db": {"db sums over both the batch and the time axes: sum(axis=(0, 1))": dout.sum(axis=0),
               "db is a sum, not a mean": dout.mean(axis=(0, 1))},
        "dx": {"reshape dout to (N * T, M) directly: swapping axes first scrambles the rows":
               (dout.transpose(1, 0, 2).reshape(N * T, -1) @ W.T).reshape(N, T, H)},
    }
    compare_gradients(report, names, grads, oracles, AFFINE_HINTS, suspects)


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


def _softmax_loss_torch(x, y, mask):
    torch = _torch()
    N, T, V = x.shape
    per_step = torch.nn.functional.cross_entropy(x.reshape(N * T, V), y.reshape(N * T), reduction="none")
    return (per_step * mask.reshape(N * T)).sum() / N


def compare_temporal_softmax_loss(report: Report, temporal_softmax_loss, x, y, mask, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    loss, dx = call_student(temporal_softmax_loss, x, y, mask, returns=("loss", "dx"))
    oracles = []
    for d in devices():
        value, g = forward_backward(_softmax_loss_torch, dict(x=x, y=y, mask=mask.astype(np.float64)), 1.0, device=d)
        oracles.append((f"torch {d}", value, g["x"]))
    if reference is not None:
        oracles.append(("reference", *reference(x, y, mask)))
    N, T, V = x.shape
    shifted = x - x.max(axis=2, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=2, keepdims=True)
    onehot = np.eye(V)[y]
    nll = -np.log(np.take_along_axis(p, y[..., None], axis=2)[..., 0])
    for oracle, expected_loss, expected_dx in oracles:
        report.compare("loss", loss, expected_loss, oracle=oracle,
                       hint="loss = sum over (n, t) where mask is True of -log softmax(x[n, t])[y[n, t]], divided by N",
                       suspects={"steps where mask is False do not count: multiply each step's loss by the mask": nll.sum() / N,
                                 "sum over time, then average over N only (not over N * T)": np.sum(nll * mask) / (N * T),
                                 "average over the N sequences: divide by N": np.sum(nll * mask),
                                 "divide by N, not by the number of unmasked steps": np.sum(nll * mask) / max(1, mask.sum())})
        report.compare("dx", dx, expected_dx, oracle=oracle,
                       hint="dx = (softmax(x) - one_hot(y)) * mask / N, with the mask broadcast over V",
                       suspects={"masked steps get zero gradient: multiply by mask[..., None]": (p - onehot) / N,
                                 "the loss is divided by N only: dx too (not by N * T)": (p - onehot) * mask[..., None] / (N * T),
                                 "the loss is averaged over N: divide dx by N": (p - onehot) * mask[..., None]})


def _loss_inputs():
    N, T, V = 2, 3, 4
    x = linspace_array((N, T, V), -2.0, 1.5) * np.cos(np.arange(N * T * V)).reshape(N, T, V)
    y = np.array([[0, 3, 1], [2, 2, 3]])
    mask = np.array([[True, True, False], [True, False, True]])
    return x, y, mask


def temporal_softmax_loss(temporal_softmax_loss):
    """Graded: loss and dx against torch cross_entropy with a mask, also for huge scores."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("temporal_softmax_loss")
    x, y, mask = _loss_inputs()
    compare_temporal_softmax_loss(report, temporal_softmax_loss, x, y, mask)
    huge_loss, huge_dx = call_student(temporal_softmax_loss, x + 1000.0, y, mask, returns=("loss", "dx"))
    expected_loss, g = forward_backward(_softmax_loss_torch, dict(x=x, y=y, mask=mask.astype(np.float64)), 1.0)
    hint = "np.exp(1000) overflows: subtract the max over V from the scores first (softmax does not change)"
    report.compare("loss+1000", huge_loss, expected_loss, oracle="shift", hint=hint)
    report.compare("dx+1000", huge_dx, g["x"], oracle="shift", hint=hint)
    report.finish()


# --------------------------------------------------------------------------- clip_gradients


def _clip_torch(grads, max_norm, device):
    torch = _torch()
    tensors = [torch.tensor(g, dtype=torch.float64, device=device) for g in grads]
    norm = torch.linalg.vector_norm(torch.cat([t.reshape(-1) for t in tensors]))
    scale = torch.clamp(max_norm / norm, max=1.0)
    return [(t * scale).cpu().numpy() for t in tensors], float(norm)


def compare_clip_gradients(report: Report, clip_gradients_arrays, grads, max_norm, reference=None) -> None:
    """``clip_gradients_arrays(max_norm, *grads)`` is the notebook's adapter: it calls the
    learner's clip_gradients on a dict of these arrays and returns (*clipped, norm)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    result = call_student(clip_gradients_arrays, max_norm, *grads, name="clip_gradients")
    if not isinstance(result, tuple) or len(result) != len(grads) + 1:
        raise CheckFailed("clip_gradients should return (the clipped dict, the norm before clipping)")
    clipped, norm = result[:-1], result[-1]
    oracles = [(f"torch {d}", *_clip_torch(grads, max_norm, d)) for d in devices()]
    if reference is not None:
        r = reference(max_norm, *grads)
        oracles.append(("reference", list(r[:-1]), r[-1]))
    total = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    per_array = [g * min(1.0, max_norm / max(np.linalg.norm(g), 1e-300)) for g in grads]
    elementwise = [np.clip(g, -max_norm, max_norm) for g in grads]
    always = [g * max_norm / total for g in grads]
    for oracle, expected, expected_norm in oracles:
        report.compare("norm", norm, expected_norm, oracle=oracle,
                       hint="the norm before clipping: sqrt of the sum of squares of every entry of every gradient",
                       suspects={"return the norm measured before clipping, not after": min(total, max_norm),
                                 "the norm is the square root of the sum of squares": total**2})
        for i, (value, exp) in enumerate(zip(clipped, expected)):
            report.compare(f"grad{i}", value, exp, oracle=oracle,
                           hint="one norm over all the gradients together; when it exceeds max_norm scale every gradient by max_norm / norm",
                           suspects={"clip by one global norm, not each array by its own norm": per_array[i],
                                     "scale the whole gradient, do not clip entries one by one (np.clip)": elementwise[i],
                                     "leave the gradients unchanged when the norm is below max_norm": always[i]})


def _clip_inputs():
    return [linspace_array((3, 4), -1.5, 2.0), linspace_array((4, 4), 0.9, -1.2), linspace_array((4,), -0.5, 0.8)]


def clip_gradients(clip_gradients_arrays):
    """Graded: clip_gradients (through the notebook's clip_gradients_arrays) against torch,
    above and below the threshold."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("clip_gradients")
    grads = _clip_inputs()
    total = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    compare_clip_gradients(report, clip_gradients_arrays, grads, 1.0)          # clipped
    compare_clip_gradients(report, clip_gradients_arrays, grads, 2.0 * total)  # left alone
    report.finish()


# --------------------------------------------------------------------------- the character model's loss


def _char_model_torch(Wx, Wh, b, Wy, by, x_idx, y_idx, h_prev):
    """Torch forward of the character model: loss (sum over time, mean over N), last state."""
    torch = _torch()
    V = Wy.shape[1]
    x = torch.nn.functional.one_hot(x_idx, V).to(torch.float64)
    h = _torch_unroll(x, h_prev, Wx, Wh, b)
    scores = h @ Wy + by
    N, T = y_idx.shape
    loss = torch.nn.functional.cross_entropy(scores.reshape(N * T, V), y_idx.reshape(N * T), reduction="sum") / N
    return loss, h[:, -1]


def char_model_oracle(params, x_idx, y_idx, h_prev, device):
    """(loss, {name: gradient}, h_last) of the character model, from torch autograd."""
    torch = _torch()
    tensors = {n: torch.tensor(params[n], dtype=torch.float64, device=device, requires_grad=True) for n in PARAM_NAMES}
    loss, h_last = _char_model_torch(**tensors, x_idx=torch.tensor(x_idx, device=device),
                                     y_idx=torch.tensor(y_idx, device=device),
                                     h_prev=torch.tensor(h_prev, dtype=torch.float64, device=device))
    loss.backward()
    return float(loss.detach()), {n: t.grad.cpu().numpy() for n, t in tensors.items()}, h_last.detach().cpu().numpy()


def _np_char_loss(params, x_idx, y_idx, h_prev):
    V = params["Wy"].shape[1]
    h = _np_unroll(np.eye(V)[x_idx], h_prev, params["Wx"], params["Wh"], params["b"])
    scores = h @ params["Wy"] + params["by"]
    shifted = scores - scores.max(axis=2, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    return -np.take_along_axis(logp, y_idx[..., None], axis=2).sum() / x_idx.shape[0]


def compare_char_rnn_loss(report: Report, char_rnn_loss_arrays, params, x_idx, y_idx, h_prev, reference=None, numeric=True) -> None:
    """``char_rnn_loss_arrays(Wx, Wh, b, Wy, by, x_idx, y_idx, h_prev)`` is the notebook's
    adapter: it returns (loss, dWx, dWh, db, dWy, dby, h_last)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    result = call_student(char_rnn_loss_arrays, *(params[n] for n in PARAM_NAMES), x_idx, y_idx, h_prev, name="char_rnn_loss")
    if not isinstance(result, tuple) or len(result) != 7:
        raise CheckFailed("char_rnn_loss should return (loss, grads, h_last)")
    loss, grads, h_last = result[0], dict(zip(PARAM_NAMES, result[1:6])), result[6]
    oracles = [(f"torch {d}", *char_model_oracle(params, x_idx, y_idx, h_prev, d)) for d in devices()]
    if numeric:
        num = {n: centred_difference(lambda v, n=n: _np_char_loss({**params, n: v}, x_idx, y_idx, h_prev), params[n].copy(), 1.0)
               for n in PARAM_NAMES}
        oracles.append(("numeric", None, num, None))
    if reference is not None:
        r = reference(*(params[n] for n in PARAM_NAMES), x_idx, y_idx, h_prev)
        oracles.append(("reference", r[0], dict(zip(PARAM_NAMES, r[1:6])), r[6]))
    hint = ("one-hot x_idx, rnn_forward from h_prev, temporal_affine_forward with Wy, by, temporal_softmax_loss "
            "with an all-True mask; then the backward functions in the reverse order")
    N, T = x_idx.shape
    for oracle, expected_loss, expected_grads, expected_h in oracles:
        approximate = oracle == "numeric"
        if expected_loss is not None:
            report.compare("loss", loss, expected_loss, oracle=oracle, hint=hint,
                           suspects={"start the RNN from h_prev, not from zeros": _np_char_loss(params, x_idx, y_idx, np.zeros_like(h_prev))})
        for n in PARAM_NAMES:
            report.compare(f"d{n}", grads[n], expected_grads[n], oracle=oracle, hint=hint,
                           tol=1e-6 if approximate else 1e-7,
                           floor=approximate_floor(expected_grads[n]) if approximate else 1e-8)
        if expected_h is not None:
            report.compare("h_last", h_last, expected_h, oracle=oracle,
                           hint="return the state after the last step, h[:, -1], to carry into the next chunk")


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
    against torch autograd and centred differences of the loss."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("char_rnn_loss")
    compare_char_rnn_loss(report, char_rnn_loss_arrays, *_char_inputs())
    report.finish()


# --------------------------------------------------------------------------- truncated BPTT


def tbptt_oracle(params, x_idx, y_idx, h_prev, learning_rate, max_norm, device):
    """(loss, h_last, updated params) for one truncated-BPTT step, from torch autograd."""
    loss, grads, h_last = char_model_oracle(params, x_idx, y_idx, h_prev, device)
    clipped, _ = _clip_torch([grads[n] for n in PARAM_NAMES], max_norm, device)
    return loss, h_last, {n: params[n] - learning_rate * g for n, g in zip(PARAM_NAMES, clipped)}


def compare_tbptt_step(report: Report, tbptt_step_arrays, params, chunks, h0, learning_rate, max_norm, reference=None) -> None:
    """Consecutive chunks, each from the state and the parameters the previous one left.
    ``tbptt_step_arrays(Wx, Wh, b, Wy, by, x_idx, y_idx, h_prev, learning_rate, max_norm)``
    is the notebook's adapter: it returns (loss, h_last, *updated params)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    mine = (dict(params), h0)
    expected = {f"torch {d}": (dict(params), h0) for d in devices()}
    if reference is not None:
        expected["reference"] = (dict(params), h0)
    for k, (x_idx, y_idx) in enumerate(chunks):
        p, h = mine
        if not all(isinstance(p[n], np.ndarray) for n in PARAM_NAMES) or not isinstance(h, np.ndarray):
            break  # already reported
        result = call_student(tbptt_step_arrays, *(p[n] for n in PARAM_NAMES), x_idx, y_idx, h, learning_rate, max_norm,
                              name="tbptt_step")
        if not isinstance(result, tuple) or len(result) != 7:
            raise CheckFailed("tbptt_step should return (loss, h_last) and update params in place")
        loss, h_last, updated = result[0], result[1], dict(zip(PARAM_NAMES, result[2:]))
        for oracle, (op, oh) in list(expected.items()):
            if oracle == "reference":
                r = reference(*(op[n] for n in PARAM_NAMES), x_idx, y_idx, oh, learning_rate, max_norm)
                e_loss, e_h, e_params = r[0], r[1], dict(zip(PARAM_NAMES, r[2:]))
            else:
                e_loss, e_h, e_params = tbptt_oracle(op, x_idx, y_idx, oh, learning_rate, max_norm, oracle.split()[-1])
            zero_h = char_model_oracle(op, x_idx, y_idx, np.zeros_like(oh), "cpu")[0]
            report.compare(f"loss {k}", loss, e_loss, oracle=oracle,
                           hint="the loss of the chunk before the update, from h_prev",
                           suspects={"start each chunk from h_prev (the state carried from the previous chunk), not from zeros": zero_h})
            report.compare(f"h {k}", h_last, e_h, oracle=oracle,
                           hint="return the state after the chunk's last step, to carry into the next chunk")
            grads = char_model_oracle(op, x_idx, y_idx, oh, "cpu")[1]
            unclipped = {n: op[n] - learning_rate * grads[n] for n in PARAM_NAMES}
            ascent = {n: 2 * op[n] - e_params[n] for n in PARAM_NAMES}
            for n in PARAM_NAMES:
                report.compare(f"{n} {k}", updated[n], e_params[n], oracle=oracle,
                               hint=f"params['{n}'] -= learning_rate * (clipped gradient), in place",
                               suspects={"clip the gradients (clip_gradients, global norm) before the update": unclipped[n],
                                         "descend: subtract learning_rate * gradient": ascent[n],
                                         "update the arrays in params (params[name] -= ...), so the caller sees the change": op[n]})
            expected[oracle] = (e_params, e_h)
        mine = (updated, h_last)


def _tbptt_inputs(rng=None, N=2, T=4, V=5, H=3, chunks=2):
    params, x_idx, y_idx, h0 = _char_inputs(rng, N, T, V, H)
    if rng is None:
        second = (np.array([[2, 0, 1, 3], [4, 1, 1, 0]]), np.array([[0, 1, 3, 4], [1, 1, 0, 2]]))
        return params, [(x_idx, y_idx), second], h0
    return params, [(x_idx, y_idx)] + [(rng.integers(0, V, size=(N, T)), rng.integers(0, V, size=(N, T))) for _ in range(chunks - 1)], h0


def tbptt_step(tbptt_step_arrays):
    """Graded: two consecutive truncated-BPTT steps (through tbptt_step_arrays) against torch
    autograd with global-norm clipping and SGD."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("tbptt_step")
    params, chunks, h0 = _tbptt_inputs()
    compare_tbptt_step(report, tbptt_step_arrays, params, chunks, h0, 0.1, 1.0)
    report.finish()


# --------------------------------------------------------------------------- sampling


def sample_oracle(params, seed_idx, h0, length, temperature, seed, device="cpu", *, feed="sample", carry=True, how="divide"):
    """Sampling with torch computing the probabilities and numpy's Generator(seed) drawing.
    ``feed``, ``carry`` and ``how`` give the known mistakes' samples (for the hints)."""
    torch = _torch()
    t = {n: torch.tensor(params[n], dtype=torch.float64, device=device) for n in PARAM_NAMES}
    V = params["Wy"].shape[1]
    rng = np.random.default_rng(seed)
    h0_t = torch.tensor(h0, dtype=torch.float64, device=device)
    h, current, out = h0_t, int(seed_idx), []
    for _ in range(length):
        x = torch.nn.functional.one_hot(torch.tensor([current], device=device), V).to(torch.float64)
        h = torch.tanh(x @ t["Wx"] + (h if carry else h0_t) @ t["Wh"] + t["b"])
        scores = h @ t["Wy"] + t["by"]
        scaled = {"divide": scores / temperature, "ignore": scores, "multiply": scores * temperature}[how]
        p = torch.softmax(scaled, dim=-1)[0].cpu().numpy()
        drawn = int(rng.choice(V, p=p / p.sum()))
        out.append(drawn)
        current = drawn if feed == "sample" else int(np.argmax(p))
    return np.array(out, dtype=np.int64)


def compare_sample(report: Report, sample_arrays, params, seed_idx, h0, length, temperature, seed, reference=None, label="idx") -> None:
    """``sample_arrays(Wx, Wh, b, Wy, by, seed_idx, h0, length, temperature, seed)`` is the
    notebook's adapter: it calls sample with rng = np.random.default_rng(seed)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    idx = call_student(sample_arrays, *(params[n] for n in PARAM_NAMES), seed_idx, h0, length, temperature, seed, name="sample")
    oracles = [(f"torch {d}", sample_oracle(params, seed_idx, h0, length, temperature, seed, d)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(*(params[n] for n in PARAM_NAMES), seed_idx, h0, length, temperature, seed)))
    suspects = {}
    for hint, kwargs in (("divide the scores by the temperature before the softmax", dict(how="ignore")),
                         ("divide the scores by the temperature (not multiply)", dict(how="multiply")),
                         ("feed the sampled character back as the next input, not the most likely one", dict(feed="argmax")),
                         ("carry the hidden state from step to step", dict(carry=False))):
        try:
            suspects[hint] = sample_oracle(params, seed_idx, h0, length, temperature, seed, **kwargs)
        except ValueError:
            pass
    for oracle, expected in oracles:
        report.compare(label, idx, expected, oracle=oracle, tol=1e-9,
                       hint="each step: h = rnn_step_forward(one-hot of the previous character, h, ...); "
                            "p = softmax((h Wy + by) / temperature); next = rng.choice(V, p=p[0]): one draw per character",
                       suspects=suspects)


def compare_greedy_limit(report: Report, sample_arrays, params, seed_idx, h0, length, seed) -> None:
    """As the temperature goes to 0 the softmax becomes the argmax: sampling is greedy."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    idx = call_student(sample_arrays, *(params[n] for n in PARAM_NAMES), seed_idx, h0, length, 1e-4, seed, name="sample")
    V = params["Wy"].shape[1]
    h, current, expected = h0, int(seed_idx), []
    for _ in range(length):
        h = np.tanh(np.eye(V)[[current]] @ params["Wx"] + h @ params["Wh"] + params["b"])
        current = int(np.argmax(h @ params["Wy"] + params["by"]))
        expected.append(current)
    report.compare("T->0", idx, np.array(expected), oracle="argmax", tol=1e-9,
                   hint="at a tiny temperature the softmax is (almost) one-hot on the largest score: "
                        "subtract the max of scores / temperature before np.exp, or it overflows")


def _sample_params(rng=None, V=6, H=4):
    if rng is None:
        return {"Wx": linspace_array((V, H), -1.2, 1.3) * np.cos(np.arange(V * H)).reshape(V, H),
                "Wh": linspace_array((H, H), 0.6, -0.5), "b": linspace_array((H,), -0.2, 0.3),
                "Wy": linspace_array((H, V), 1.5, -1.4) * np.sin(np.arange(H * V) + 1.0).reshape(H, V),
                "by": linspace_array((V,), 0.1, -0.2)}
    return {"Wx": rng.normal(size=(V, H)), "Wh": rng.normal(scale=1 / np.sqrt(H), size=(H, H)),
            "b": rng.normal(scale=0.3, size=H), "Wy": rng.normal(scale=2 / np.sqrt(H), size=(H, V)),
            "by": rng.normal(scale=0.3, size=V)}


def sample(sample_arrays):
    """Graded: sample (through sample_arrays, with np.random.default_rng(seed)) against torch
    probabilities and the same draws, at several temperatures, and its T -> 0 limit (argmax)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("sample")
    params = _sample_params()
    h0 = linspace_array((1, 4), -0.3, 0.4)
    for temperature in (1.0, 0.5, 2.0):
        compare_sample(report, sample_arrays, params, 2, h0, 12, temperature, 7, label=f"T={temperature}")
    compare_greedy_limit(report, sample_arrays, params, 2, h0, 12, 7)
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
