"""Checks for lesson 04 (the LSTM).

Each public function is what one graded cell calls, e.g.
``check.lstm_step_backward(lstm_step_forward, lstm_step_backward)``. Visible checks use fixed
inputs (D != H, N != T) and oracles a learner could reproduce: torch.nn.LSTMCell and
torch.nn.LSTM(batch_first=True) for forward passes, PyTorch autograd (float64, on every
available device) and centred differences for backward passes. The LSTM module is graded
through the notebook's locked ``lstm_cell_module_forward`` adapter (NumPy in, NumPy out).
Layout: a = x Wx + h Wh + b (N, 4H), split i, f, g, o; c' = f c + i g; h' = o tanh(c').
"""
from __future__ import annotations

import numpy as np

from ..torch_layout import load_into
from .core import CheckFailed, Report, call_student, compare_gradients, linspace_array
from .torch_oracle import devices, forward_backward, gradient_oracles, torch_module as _torch


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


# --------------------------------------------------------------------------- NumPy and torch formulas (oracles, suspects)


def _np_step(x, prev_h, prev_c, Wx, Wh, b, mistake=None):
    """The LSTM step, or one of its common mistakes (for the suspects)."""
    a = x @ Wx + prev_h @ Wh + b
    H = a.shape[1] // 4
    blocks = [a[:, k * H:(k + 1) * H] for k in range(4)]
    ai, af, ag, ao = blocks
    if mistake == "ifog":  # gates taken in the order i, f, o, g
        ai, af, ao, ag = blocks
    i, f, g, o = _sig(ai), _sig(af), np.tanh(ag), _sig(ao)
    if mistake == "no_input_gate":
        c = f * prev_c + g
    elif mistake == "forget_on_h":
        c = f * prev_h + i * g
    else:
        c = f * prev_c + i * g
    h = o * c if mistake == "no_tanh" else o * np.tanh(c)
    return h, c


def _np_unroll(x, h0, Wx, Wh, b, mistake=None):
    N, T, _ = x.shape
    h, c, hs = h0, np.zeros_like(h0), []
    for t in range(T):
        h, c = _np_step(x[:, t], h, c if mistake != "no_carry_c" else np.zeros_like(h0), Wx, Wh, b, mistake)
        hs.append(h)
    return np.stack(hs, axis=1)


def _torch_step(x, prev_h, prev_c, Wx, Wh, b):
    torch = _torch()
    i, f, g, o = (x @ Wx + prev_h @ Wh + b).chunk(4, dim=1)
    c = torch.sigmoid(f) * prev_c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _torch_unroll(x, h0, Wx, Wh, b):
    torch = _torch()
    h, c, hs = h0, torch.zeros_like(h0), []
    for t in range(x.shape[1]):
        h, c = _torch_step(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
    return torch.stack(hs, dim=1)


def lstm_cell_oracle(x, prev_h, prev_c, Wx, Wh, b, device="cpu"):
    """torch.nn.LSTMCell in float64 with our weights: (next_h, next_c) as NumPy arrays."""
    torch = _torch()
    cell = load_into(torch.nn.LSTMCell(Wx.shape[0], Wh.shape[0]).to(device=device, dtype=torch.float64), Wx, Wh, b)
    t = lambda v: torch.tensor(v, dtype=torch.float64, device=device)  # noqa: E731
    with torch.no_grad():
        h, c = cell(t(x), (t(prev_h), t(prev_c)))
    return h.cpu().numpy(), c.cpu().numpy()


def lstm_oracle(x, h0, Wx, Wh, b, device="cpu"):
    """torch.nn.LSTM(batch_first=True) in float64 with our weights and c0 = 0: h (N, T, H)."""
    torch = _torch()
    layer = load_into(torch.nn.LSTM(Wx.shape[0], Wh.shape[0], batch_first=True).to(device=device, dtype=torch.float64), Wx, Wh, b)
    t = lambda v: torch.tensor(v, dtype=torch.float64, device=device)  # noqa: E731
    with torch.no_grad():
        out, _ = layer(t(x), (t(h0)[None], torch.zeros_like(t(h0))[None]))
    return out.cpu().numpy()






MISTAKES = {
    "ifog": "split a into the gates in the order i, f, g, o (PyTorch's), not i, f, o, g",
    "no_input_gate": "the cell update is c' = f * prev_c + i * g: the input gate scales the candidate",
    "forget_on_h": "the forget gate scales the previous cell state prev_c, not prev_h",
    "no_tanh": "next_h = o * tanh(next_c): squash the cell state before the output gate",
}


def _forward_suspects(fn, *args):
    return {hint: fn(*args, mistake=m) for m, hint in MISTAKES.items()}


# --------------------------------------------------------------------------- lstm_step_forward

STEP_FORWARD_HINT = ("a = x Wx + prev_h Wh + b (N, 4H); i, f, o = sigmoid of blocks 0, 1, 3, g = tanh of block 2; "
                     "next_c = f * prev_c + i * g; next_h = o * tanh(next_c)")


def compare_lstm_step_forward(report: Report, lstm_step_forward, x, prev_h, prev_c, Wx, Wh, b, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    next_h, next_c, _ = call_student(lstm_step_forward, x, prev_h, prev_c, Wx, Wh, b, returns=("next_h", "next_c", "cache"))
    oracles = [(f"LSTMCell {d}", lstm_cell_oracle(x, prev_h, prev_c, Wx, Wh, b, d)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, prev_h, prev_c, Wx, Wh, b)[:2]))
    wrong = {m: _np_step(x, prev_h, prev_c, Wx, Wh, b, mistake=m) for m in MISTAKES}
    for oracle, (h_expected, c_expected) in oracles:
        report.compare("next_h", next_h, h_expected, oracle=oracle, hint=STEP_FORWARD_HINT,
                       suspects={MISTAKES[m]: v[0] for m, v in wrong.items()})
        report.compare("next_c", next_c, c_expected, oracle=oracle, hint=STEP_FORWARD_HINT,
                       suspects={MISTAKES[m]: v[1] for m, v in wrong.items()})


def _step_inputs():
    N, D, H = 3, 4, 2  # D != H, 4H != D
    return (linspace_array((N, D), -0.8, 0.9), linspace_array((N, H), 0.6, -0.5), linspace_array((N, H), -0.7, 0.8),
            linspace_array((D, 4 * H), -0.6, 0.7), linspace_array((H, 4 * H), 0.5, -0.45), linspace_array((4 * H,), -0.3, 0.4))


def lstm_step_forward(lstm_step_forward):
    """Graded: lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) against torch.nn.LSTMCell."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("lstm_step_forward")
    compare_lstm_step_forward(report, lstm_step_forward, *_step_inputs())
    report.finish()


# --------------------------------------------------------------------------- lstm_step_backward

STEP_HINTS = {
    "dx": "da (N, 4H) stacks di, df, dg, do times each gate's local derivative; dx = da Wx^T",
    "dprev_h": "dprev_h = da Wh^T, with da stacked in the order i, f, g, o",
    "dprev_c": "dprev_c = dc * f, where dc = dnext_c + dnext_h * o * (1 - tanh(next_c)**2)",
    "dWx": "dWx = x^T da: (D, N) @ (N, 4H)",
    "dWh": "dWh = prev_h^T da: (H, N) @ (N, 4H)",
    "db": "db sums da over the batch axis",
}


def _step_backward_suspects(x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c):
    a = x @ Wx + prev_h @ Wh + b
    H = prev_h.shape[1]
    i, f, g, o = _sig(a[:, :H]), _sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), _sig(a[:, 3 * H:])
    c = f * prev_c + i * g
    tc = np.tanh(c)
    full = dnext_c + dnext_h * o * (1 - tc**2)
    no_tanh_path = dnext_c  # the path through next_h = o * tanh(next_c) forgotten
    out = {}

    def grads(dc):
        da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dc * i * (1 - g**2), dnext_h * tc * o * (1 - o)], axis=1)
        return {"dx": da @ Wx.T, "dprev_h": da @ Wh.T, "dprev_c": dc * f, "dWx": x.T @ da, "dWh": prev_h.T @ da, "db": da.sum(axis=0)}

    path_hint = "dc collects two paths: dnext_c plus dnext_h * o * (1 - tanh(next_c)**2) through next_h"
    wrong = grads(no_tanh_path)
    for name in wrong:
        out[name] = {path_hint: wrong[name]}
    out["dprev_c"]["dprev_c = dc * f: the forget gate scales the cell state on its way back"] = full
    return out


def _step_function(x, prev_h, prev_c, Wx, Wh, b):
    """Both outputs of a step side by side (N, 2H), for one upstream gradient [dnext_h, dnext_c]."""
    h, c = _np_step(x, prev_h, prev_c, Wx, Wh, b)
    return np.concatenate([h, c], axis=1)


def _torch_step_function(x, prev_h, prev_c, Wx, Wh, b):
    return _torch().cat(_torch_step(x, prev_h, prev_c, Wx, Wh, b), dim=1)


def compare_lstm_step_backward(report: Report, lstm_step_forward, lstm_step_backward, x, prev_h, prev_c, Wx, Wh, b,
                               dnext_h, dnext_c, reference=None, numeric=True) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    names = ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
    _, _, cache = call_student(lstm_step_forward, x, prev_h, prev_c, Wx, Wh, b, returns=("next_h", "next_c", "cache"))
    grads = call_student(lstm_step_backward, dnext_h, dnext_c, cache, returns=names)
    inputs = dict(x=x, prev_h=prev_h, prev_c=prev_c, Wx=Wx, Wh=Wh, b=b)
    dout = np.concatenate([dnext_h, dnext_c], axis=1)
    oracles = gradient_oracles(_torch_step_function, _step_function if numeric else None, inputs, dout, names)
    if reference is not None:
        oracles.append(("reference", dict(zip(names, reference[1](dnext_h, dnext_c, reference[0](x, prev_h, prev_c, Wx, Wh, b)[2])))))
    compare_gradients(report, names, grads, oracles, STEP_HINTS, _step_backward_suspects(x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c))


def lstm_step_backward(lstm_step_forward, lstm_step_backward):
    """Graded: lstm_step_backward(dnext_h, dnext_c, cache) against torch autograd and centred differences."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("lstm_step_backward")
    dnext_h, dnext_c = linspace_array((3, 2), 0.7, -0.9), linspace_array((3, 2), -0.5, 0.6)
    compare_lstm_step_backward(report, lstm_step_forward, lstm_step_backward, *_step_inputs(), dnext_h, dnext_c)
    report.finish()


# --------------------------------------------------------------------------- lstm_forward

FORWARD_HINT = ("start from h0 and a zero cell state; at each step run the LSTM step and carry both h and c "
                "to the next step; h[:, t] is the step's next_h")


def compare_lstm_forward(report: Report, lstm_forward, x, h0, Wx, Wh, b, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    h, _ = call_student(lstm_forward, x, h0, Wx, Wh, b, returns=("h", "cache"))
    oracles = [(f"LSTM {d}", lstm_oracle(x, h0, Wx, Wh, b, d)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, h0, Wx, Wh, b)[0]))
    suspects = {**_forward_suspects(_np_unroll, x, h0, Wx, Wh, b),
                "carry the cell state c from step to step (it starts at zero only at t = 0)":
                    _np_unroll(x, h0, Wx, Wh, b, mistake="no_carry_c"),
                "the first step starts from h0, not from zeros": _np_unroll(x, np.zeros_like(h0), Wx, Wh, b)}
    for oracle, expected in oracles:
        report.compare("h", h, expected, oracle=oracle, hint=FORWARD_HINT, suspects=suspects)


def _sequence_inputs():
    N, T, D, H = 2, 4, 3, 2
    return (linspace_array((N, T, D), -1.0, 1.1), linspace_array((N, H), 0.5, -0.6), linspace_array((D, 4 * H), -0.7, 0.8),
            linspace_array((H, 4 * H), 0.6, -0.55), linspace_array((4 * H,), -0.35, 0.5))


def lstm_forward(lstm_forward):
    """Graded: lstm_forward(x, h0, Wx, Wh, b) against torch.nn.LSTM(batch_first=True) with c0 = 0."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("lstm_forward")
    compare_lstm_forward(report, lstm_forward, *_sequence_inputs())
    report.finish()


# --------------------------------------------------------------------------- lstm_backward

SEQ_HINTS = {
    "dx": "walk t = T-1 ... 0: lstm_step_backward(dh[:, t] + dprev_h, dprev_c, cache[t]), carrying dprev_h and dprev_c",
    "dh0": "dh0 is the dprev_h returned by the step at t = 0",
    "dWx": "the weights are shared by every step: add up (+=) the step gradients",
    "dWh": "the weights are shared by every step: add up (+=) the step gradients",
    "db": "the bias is shared by every step: add up (+=) the step gradients",
}


def _seq_suspects(x, h0, Wx, Wh, b, dh):
    """The sequence gradients a common mistake gives, via torch autograd on a modified loop."""
    torch = _torch()
    names = ("dx", "dh0", "dWx", "dWh", "db")
    keys = dict(zip(names, ("x", "h0", "Wx", "Wh", "b")))

    def no_c_carry(x, h0, Wx, Wh, b):  # the cell state's gradient is not carried back between steps
        h, c, hs = h0, torch.zeros_like(h0), []
        for t in range(x.shape[1]):
            h, c = _torch_step(x[:, t], h, c.detach(), Wx, Wh, b)
            hs.append(h)
        return torch.stack(hs, dim=1)

    def no_h_carry(x, h0, Wx, Wh, b):  # the hidden state's gradient is not carried back
        h, c, hs = h0, torch.zeros_like(h0), []
        for t in range(x.shape[1]):
            h, c = _torch_step(x[:, t], h.detach() if t else h, c, Wx, Wh, b)
            hs.append(h)
        return torch.stack(hs, dim=1)

    inputs = dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    out = {n: {} for n in names}
    for hint, fn in (("carry dprev_c back across steps too: the cell state is the highway the gradient travels on", no_c_carry),
                     ("carry dprev_h across steps: step t gets dh[:, t] + dprev_h from step t+1", no_h_carry)):
        _, g = forward_backward(fn, inputs, dh)
        for n in names:
            if keys[n] in g:
                out[n][hint] = g[keys[n]]
    return out


def compare_lstm_backward(report: Report, lstm_forward, lstm_backward, x, h0, Wx, Wh, b, dh, reference=None, numeric=True) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    names = ("dx", "dh0", "dWx", "dWh", "db")
    _, cache = call_student(lstm_forward, x, h0, Wx, Wh, b, returns=("h", "cache"))
    grads = call_student(lstm_backward, dh, cache, returns=names)
    inputs = dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    oracles = gradient_oracles(_torch_unroll, _np_unroll if numeric else None, inputs, dh, names)
    if reference is not None:
        oracles.append(("reference", dict(zip(names, reference[1](dh, reference[0](x, h0, Wx, Wh, b)[1])))))
    compare_gradients(report, names, grads, oracles, SEQ_HINTS, _seq_suspects(x, h0, Wx, Wh, b, dh))


def lstm_backward(lstm_forward, lstm_backward):
    """Graded: lstm_backward(dh, cache) against torch autograd through the unrolled loop, and centred differences."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("lstm_backward")
    x, h0, Wx, Wh, b = _sequence_inputs()
    compare_lstm_backward(report, lstm_forward, lstm_backward, x, h0, Wx, Wh, b, linspace_array((2, 4, 2), 0.8, -0.7))
    report.finish()


# --------------------------------------------------------------------------- the cell as a torch module

MODULE_HINT = ("forward(x, h, c): a = x @ self.Wx + h @ self.Wh + self.b; i, f, g, o = a.chunk(4, dim=1); "
               "c' = sigmoid(f) * c + sigmoid(i) * tanh(g); return sigmoid(o) * tanh(c'), c'")


def compare_lstm_cell_module(report: Report, lstm_cell_module_forward, x, h0, Wx, Wh, b, reference=None) -> None:
    """One step against torch.nn.LSTMCell, then the module fed its own (h, c) over the whole
    sequence against torch.nn.LSTM(batch_first=True) with c0 = 0."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    c0 = np.zeros_like(h0)
    first = call_student(lstm_cell_module_forward, x[:, 0], h0, c0 + 0.5 * np.tanh(h0), Wx, Wh, b, returns=("next_h", "next_c"))
    oracles = [(f"LSTMCell {d}", lstm_cell_oracle(x[:, 0], h0, c0 + 0.5 * np.tanh(h0), Wx, Wh, b, d)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x[:, 0], h0, c0 + 0.5 * np.tanh(h0), Wx, Wh, b)[:2]))
    wrong = {m: _np_step(x[:, 0], h0, c0 + 0.5 * np.tanh(h0), Wx, Wh, b, mistake=m) for m in MISTAKES}
    for oracle, (h_expected, c_expected) in oracles:
        report.compare("next_h", first[0], h_expected, oracle=oracle, hint=MODULE_HINT, suspects={MISTAKES[m]: v[0] for m, v in wrong.items()})
        report.compare("next_c", first[1], c_expected, oracle=oracle, hint=MODULE_HINT, suspects={MISTAKES[m]: v[1] for m, v in wrong.items()})
    states, h, c = [], h0, c0
    for t in range(x.shape[1]):
        h, c = call_student(lstm_cell_module_forward, x[:, t], h, c, Wx, Wh, b, returns=("next_h", "next_c"))
        if not isinstance(h, np.ndarray) or h.shape != h0.shape or not isinstance(c, np.ndarray) or c.shape != h0.shape:
            states = None
            break
        states.append(h)
    unrolled = None if states is None else np.stack(states, axis=1)
    for d in devices():
        report.compare("h (T)", unrolled, lstm_oracle(x, h0, Wx, Wh, b, d), oracle=f"LSTM {d}",
                       hint=MODULE_HINT + "; the same cell at every step, fed its own h and c",
                       suspects=_forward_suspects(_np_unroll, x, h0, Wx, Wh, b))


def lstm_cell_module(lstm_cell_module_forward):
    """Graded: the LSTMCellModule, run through the notebook's lstm_cell_module_forward adapter,
    against torch.nn.LSTMCell (one step) and torch.nn.LSTM(batch_first=True) (unrolled)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("lstm_cell_module")
    compare_lstm_cell_module(report, lstm_cell_module_forward, *_sequence_inputs())
    report.finish()


__all__ = ["CheckFailed", "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward", "lstm_cell_module"]
