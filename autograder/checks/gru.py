"""Checks for lesson 05 (the gated recurrent unit).

Each public function is what one graded cell calls, e.g.
``check.gru_step_backward(gru_step_forward, gru_step_backward)``. Visible checks use fixed
inputs (D != H, N != T) and two oracles a learner could reproduce: ``torch.nn.GRUCell`` and
``torch.nn.GRU(batch_first=True)`` in float64 with autograd, on every available device, and
centred differences. Known mistakes (the update gate's roles swapped, the reset applied
before the matmul, bh_n outside the reset product, the gates in another order, a dropped
gradient path) are recognised and named in the hint.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..torch_layout import load_into
from .core import Report, call_student, compare_gradients, linspace_array
from .gradients import numeric_gradients
from .torch_oracle import devices

STEP_NAMES = ("dx", "dprev_h", "dWx", "dWh", "dbx", "dbh")
SEQ_NAMES = ("dx", "dh0", "dWx", "dWh", "dbx", "dbh")


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def np_gru_step(x, prev_h, Wx, Wh, bx, bh, *, form="torch", order="rzn", swap_z=False):
    """One GRU step in NumPy; the keywords give the known mistakes' forms (for the hints).

    form: "torch" (bh_n inside the reset product), "before" (reset applied to h before the
    matmul), "outside" (bh_n added outside the reset product)."""
    H = prev_h.shape[1]
    blocks = {k: slice(i * H, (i + 1) * H) for i, k in enumerate(order)}
    xp, hp = x @ Wx + bx, prev_h @ Wh + bh
    r = _sigmoid(xp[:, blocks["r"]] + hp[:, blocks["r"]])
    z = _sigmoid(xp[:, blocks["z"]] + hp[:, blocks["z"]])
    xn = xp[:, blocks["n"]]
    if form == "torch":
        n = np.tanh(xn + r * hp[:, blocks["n"]])
    elif form == "before":
        n = np.tanh(xn + (r * prev_h) @ Wh[:, blocks["n"]] + bh[blocks["n"]])
    else:
        n = np.tanh(xn + r * (prev_h @ Wh[:, blocks["n"]]) + bh[blocks["n"]])
    return z * n + (1 - z) * prev_h if swap_z else (1 - z) * n + z * prev_h


def np_gru_unroll(x, h0, Wx, Wh, bx, bh, carry=True, **kwargs):
    states, h = [], h0
    for t in range(x.shape[1]):
        h = np_gru_step(x[:, t], h if carry else h0, Wx, Wh, bx, bh, **kwargs)
        states.append(h)
    return np.stack(states, axis=1)


def torch_gru(x, h0, Wx, Wh, bx, bh, dout=None, device="cpu"):
    """torch.nn.GRUCell (x of shape (N, D)) or torch.nn.GRU(batch_first=True) (x of shape
    (N, T, D)) in float64 on ``device``, with our weights: the output, and with ``dout`` the
    autograd gradients (dx, dh0, dWx, dWh, dbx, dbh) as NumPy arrays."""
    import torch

    D, H = Wx.shape[0], Wh.shape[0]
    sequence = np.ndim(x) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = (torch.nn.GRU(D, H, batch_first=True) if sequence else torch.nn.GRUCell(D, H))
        module = load_into(module.to(device=device, dtype=torch.float64), Wx, Wh, bx=bx, bh=bh)
        xt = torch.tensor(x, dtype=torch.float64, device=device, requires_grad=True)
        ht = torch.tensor(h0, dtype=torch.float64, device=device, requires_grad=True)
        out = module(xt, ht[None])[0] if sequence else module(xt, ht)
        if dout is None:
            return out.detach().cpu().numpy(), None
        out.backward(torch.tensor(dout, dtype=torch.float64, device=device))
    suffix = "_l0" if sequence else ""
    p = {name: getattr(module, name + suffix).grad.cpu().numpy() for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    grads = (xt.grad.cpu().numpy(), ht.grad.cpu().numpy(), p["weight_ih"].T, p["weight_hh"].T, p["bias_ih"], p["bias_hh"])
    return out.detach().cpu().numpy(), grads




def _forward_suspects(unit, x, h0, Wx, Wh, bx, bh):
    f = np_gru_unroll if unit == "sequence" else np_gru_step
    out = {
        "h' = (1 - z) * n + z * h: z keeps the old state, (1 - z) lets the new candidate in": dict(swap_z=True),
        "PyTorch's form applies the reset after the matmul: n = tanh(x Wx_n + bx_n + r * (h Wh_n + bh_n)), "
        "not (r * h) Wh_n": dict(form="before"),
        "bh_n sits inside the reset product: r * (h Wh_n + bh_n)": dict(form="outside"),
        "the gate blocks are stacked r, z, n (reset, update, new), PyTorch's order": dict(order="zrn"),
    }
    suspects = {hint: f(x, h0, Wx, Wh, bx, bh, **kw) for hint, kw in out.items()}
    if unit == "sequence":
        suspects["carry the state: step t starts from the state after step t-1, not from h0"] = np_gru_unroll(
            x, h0, Wx, Wh, bx, bh, carry=False)
    return suspects


def _compare_forward(report, unit, actual, x, h0, Wx, Wh, bx, bh, reference=None):
    quantity = "h" if unit == "sequence" else "next_h"
    hint = ("r, z = sigmoid of their blocks of x Wx + bx + h Wh + bh; n = tanh(x Wx_n + bx_n + r * (h Wh_n + bh_n)); "
            "h' = (1 - z) * n + z * h")
    if unit == "sequence":
        hint = "h[:, t] = gru_step_forward(x[:, t], h[:, t-1], ...), starting from h0"
    suspects = _forward_suspects(unit, x, h0, Wx, Wh, bx, bh)
    for d in devices():
        expected, _ = torch_gru(x, h0, Wx, Wh, bx, bh, device=d)
        report.compare(quantity, actual, expected, oracle=f"torch {d}", hint=hint, suspects=suspects)
    if reference is not None:
        report.compare(quantity, actual, reference(x, h0, Wx, Wh, bx, bh)[0], oracle="reference", hint=hint, suspects=suspects)


def compare_gru_step_forward(report: Report, gru_step_forward, x, prev_h, Wx, Wh, bx, bh, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    next_h, _ = call_student(gru_step_forward, x, prev_h, Wx, Wh, bx, bh, returns=("next_h", "cache"))
    _compare_forward(report, "step", next_h, x, prev_h, Wx, Wh, bx, bh, reference)


def compare_gru_forward(report: Report, gru_forward, x, h0, Wx, Wh, bx, bh, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    h, _ = call_student(gru_forward, x, h0, Wx, Wh, bx, bh, returns=("h", "cache"))
    _compare_forward(report, "sequence", h, x, h0, Wx, Wh, bx, bh, reference)


# --------------------------------------------------------------------------- backward

STEP_HINTS = {
    "dx": "dx = [da_r, da_z, da_n] Wx^T, with the three gate pre-activation gradients side by side (N, 3H)",
    "dprev_h": "prev_h reaches next_h twice: directly (z * dnext_h) and through the matmul ([da_r, da_z, r * da_n] Wh^T)",
    "dWx": "dWx = x^T [da_r, da_z, da_n]: (D, N) @ (N, 3H)",
    "dWh": "dWh = prev_h^T [da_r, da_z, r * da_n]: the n block of h Wh is multiplied by r",
    "dbx": "dbx sums [da_r, da_z, da_n] over the batch",
    "dbh": "dbh sums [da_r, da_z, r * da_n] over the batch: bh_n sits inside the reset product",
}
SEQ_HINTS = {
    "dx": "at each step t (from T-1 down to 0): gru_step_backward(dh[:, t] + the gradient carried from step t+1, cache[t])",
    "dh0": "dh0 is the dprev_h returned by the step at t = 0",
    "dWx": "the weights are shared by every step: add up (+=) the step gradients",
    "dWh": "the weights are shared by every step: add up (+=) the step gradients",
    "dbx": "the biases are shared by every step: add up (+=) the step gradients",
    "dbh": "the biases are shared by every step: add up (+=) the step gradients",
}


def _step_parts(x, prev_h, Wx, Wh, bx, bh, dnext_h):
    H = prev_h.shape[1]
    xp, hp = x @ Wx + bx, prev_h @ Wh + bh
    r = _sigmoid(xp[:, :H] + hp[:, :H])
    z = _sigmoid(xp[:, H:2 * H] + hp[:, H:2 * H])
    hn = hp[:, 2 * H:]
    n = np.tanh(xp[:, 2 * H:] + r * hn)
    dan = dnext_h * (1 - z) * (1 - n**2)
    dar = dan * hn * r * (1 - r)
    daz = dnext_h * (prev_h - n) * z * (1 - z)
    return r, z, n, hn, dar, daz, dan


def _step_suspects(x, prev_h, Wx, Wh, bx, bh, dnext_h):
    r, z, n, hn, dar, daz, dan = _step_parts(x, prev_h, Wx, Wh, bx, bh, dnext_h)
    dgx = np.concatenate([dar, daz, dan], axis=1)
    dgh = np.concatenate([dar, daz, dan * r], axis=1)
    no_r = np.concatenate([dar, daz, dan], axis=1)
    flipped = np.concatenate([dar, -daz, dan], axis=1)
    direct = "prev_h also reaches next_h directly: dprev_h gets + z * dnext_h"
    outside = "the n block of h Wh + bh is multiplied by r: its gradient is r * da_n"
    sign = "dL/dz = dnext_h * (prev_h - n), since h' = (1 - z) * n + z * h"
    return {
        "dx": {sign: flipped @ Wx.T},
        "dprev_h": {direct: dgh @ Wh.T, outside: dnext_h * z + no_r @ Wh.T, sign: dnext_h * z + np.concatenate([dar, -daz, dan * r], axis=1) @ Wh.T},
        "dWx": {sign: x.T @ flipped},
        "dWh": {outside: prev_h.T @ no_r, sign: prev_h.T @ np.concatenate([dar, -daz, dan * r], axis=1)},
        "dbx": {sign: flipped.sum(axis=0), "the biases sum over the batch, not a mean": dgx.mean(axis=0)},
        "dbh": {outside: no_r.sum(axis=0), "the biases sum over the batch, not a mean": dgh.mean(axis=0)},
    }




def compare_gru_step_backward(report: Report, gru_step_forward, gru_step_backward, x, prev_h, Wx, Wh, bx, bh, dnext_h,
                              reference=None, numeric=True) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    _, cache = call_student(gru_step_forward, x, prev_h, Wx, Wh, bx, bh, returns=("next_h", "cache"))
    grads = call_student(gru_step_backward, dnext_h, cache, returns=STEP_NAMES)
    oracles = [(f"torch {d}", torch_gru(x, prev_h, Wx, Wh, bx, bh, dnext_h, device=d)[1]) for d in devices()]
    inputs = dict(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, bx=bx, bh=bh)
    if numeric:
        g = numeric_gradients(np_gru_step, inputs, dnext_h)
        oracles.append(("numeric", tuple(g[k] for k in inputs)))
    if reference is not None:
        oracles.append(("reference", reference[1](dnext_h, reference[0](x, prev_h, Wx, Wh, bx, bh)[1])))
    compare_gradients(report, STEP_NAMES, grads, oracles, STEP_HINTS, _step_suspects(x, prev_h, Wx, Wh, bx, bh, dnext_h))


def _seq_suspects(x, h0, Wx, Wh, bx, bh, dh):
    """The carried gradient dropped; parameter gradients overwritten (only step 0's remain)."""
    N, T, _ = x.shape
    h = np_gru_unroll(x, h0, Wx, Wh, bx, bh)
    prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    no_carry = {k: 0.0 for k in SEQ_NAMES}
    dx = np.zeros(x.shape)
    step0 = None
    for t in range(T):
        g = _step_grads(x[:, t], prev[:, t], Wx, Wh, bx, bh, dh[:, t])
        dx[:, t] = g[0]
        for k, v in zip(SEQ_NAMES[2:], g[2:]):
            no_carry[k] = no_carry[k] + v
        if t == 0:
            no_carry["dh0"] = g[1]
    no_carry["dx"] = dx
    dprev = np.zeros_like(h0)
    for t in reversed(range(T)):
        step0 = _step_grads(x[:, t], prev[:, t], Wx, Wh, bx, bh, dh[:, t] + dprev)
        dprev = step0[1]
    overwritten = dict(zip(SEQ_NAMES[2:], step0[2:]))
    carry_hint = "carry the gradient across steps: step t gets dh[:, t] + dprev_h from step t+1"
    plus_hint = "the weights are shared across time: accumulate with +=, do not overwrite with ="
    return {k: {carry_hint: no_carry[k], **({plus_hint: overwritten[k]} if k in overwritten else {})} for k in SEQ_NAMES}


def _step_grads(x, prev_h, Wx, Wh, bx, bh, dnext_h):
    r, z, n, hn, dar, daz, dan = _step_parts(x, prev_h, Wx, Wh, bx, bh, dnext_h)
    dgx = np.concatenate([dar, daz, dan], axis=1)
    dgh = np.concatenate([dar, daz, dan * r], axis=1)
    return dgx @ Wx.T, dnext_h * z + dgh @ Wh.T, x.T @ dgx, prev_h.T @ dgh, dgx.sum(axis=0), dgh.sum(axis=0)


def compare_gru_backward(report: Report, gru_forward, gru_backward, x, h0, Wx, Wh, bx, bh, dh, reference=None, numeric=True) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    _, cache = call_student(gru_forward, x, h0, Wx, Wh, bx, bh, returns=("h", "cache"))
    grads = call_student(gru_backward, dh, cache, returns=SEQ_NAMES)
    oracles = [(f"torch {d}", torch_gru(x, h0, Wx, Wh, bx, bh, dh, device=d)[1]) for d in devices()]
    inputs = dict(x=x, h0=h0, Wx=Wx, Wh=Wh, bx=bx, bh=bh)
    if numeric:
        g = numeric_gradients(np_gru_unroll, inputs, dh)
        oracles.append(("numeric", tuple(g[k] for k in inputs)))
    if reference is not None:
        oracles.append(("reference", reference[1](dh, reference[0](x, h0, Wx, Wh, bx, bh)[1])))
    suspects = _seq_suspects(x, h0, Wx, Wh, bx, bh, dh)
    compare_gradients(report, SEQ_NAMES, grads, oracles, SEQ_HINTS, suspects)


# --------------------------------------------------------------------------- fixed inputs


def _step_inputs():
    N, D, H = 3, 4, 5
    return (linspace_array((N, D), -0.8, 0.9), linspace_array((N, H), 0.6, -0.5), linspace_array((D, 3 * H), -0.6, 0.7),
            linspace_array((H, 3 * H), 0.5, -0.55), linspace_array((3 * H,), -0.3, 0.4), linspace_array((3 * H,), 0.35, -0.25))


def _sequence_inputs():
    N, T, D, H = 2, 4, 3, 5
    return (linspace_array((N, T, D), -1.0, 1.1), linspace_array((N, H), 0.5, -0.6), linspace_array((D, 3 * H), -0.7, 0.6),
            linspace_array((H, 3 * H), 0.45, -0.5), linspace_array((3 * H,), -0.25, 0.3), linspace_array((3 * H,), 0.3, -0.35))


def gru_step_forward(gru_step_forward):
    """Graded: next_h of gru_step_forward against torch.nn.GRUCell (float64, every device)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("gru_step_forward")
    compare_gru_step_forward(report, gru_step_forward, *_step_inputs())
    report.finish()


def gru_step_backward(gru_step_forward, gru_step_backward):
    """Graded: gru_step_backward against torch.nn.GRUCell's autograd and centred differences."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("gru_step_backward")
    compare_gru_step_backward(report, gru_step_forward, gru_step_backward, *_step_inputs(), linspace_array((3, 5), 0.7, -0.9))
    report.finish()


def gru_forward(gru_forward):
    """Graded: h of gru_forward against torch.nn.GRU(batch_first=True) (float64, every device)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("gru_forward")
    compare_gru_forward(report, gru_forward, *_sequence_inputs())
    report.finish()


def gru_backward(gru_forward, gru_backward):
    """Graded: gru_backward against torch.nn.GRU's autograd and centred differences through the unrolled loop."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("gru_backward")
    compare_gru_backward(report, gru_forward, gru_backward, *_sequence_inputs(), linspace_array((2, 4, 5), 0.8, -0.7))
    report.finish()


__all__ = ["gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward"]
