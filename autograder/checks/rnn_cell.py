"""Checks for lesson 02 (the recurrent cell).

Each public function is what one graded cell calls, e.g. ``check.rnn_step_forward(rnn_step_forward)``.
Visible checks use fixed inputs (D != H, so that a misplaced weight matrix shows) and
PyTorch as the oracle (float64, on every available device): ``torch.nn.RNNCell`` for a
step, ``torch.nn.RNN(batch_first=True)`` for a sequence. The ``compare_*`` functions hold
the comparisons; the hidden checks (``autograder.hidden.rnn_cell``) run the same
comparisons on random shapes, adding the NumPy reference as a further oracle.
"""
from __future__ import annotations

import numpy as np

from .core import CheckFailed, Report, call_student, linspace_array
from .torch_oracle import devices, forward_backward, torch_module as _torch


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# --------------------------------------------------------------------------- oracles


def rnn_cell_oracle(x, prev_h, Wx, Wh, b, device):
    """One step of torch.nn.RNNCell (tanh) holding our weights, as a NumPy array."""
    torch = _torch()
    from ..torch_layout import load_into

    cell = torch.nn.RNNCell(Wx.shape[0], Wx.shape[1], nonlinearity="tanh", dtype=torch.float64, device=device)
    load_into(cell, Wx, Wh, b)
    with torch.no_grad():
        out = cell(torch.tensor(x, device=device), torch.tensor(prev_h, device=device))
    return out.cpu().numpy()


def rnn_oracle(x, h0, Wx, Wh, b, device):
    """torch.nn.RNN(batch_first=True) over the whole sequence: every hidden state (N, T, H)."""
    torch = _torch()
    from ..torch_layout import load_into

    rnn = torch.nn.RNN(Wx.shape[0], Wx.shape[1], nonlinearity="tanh", batch_first=True, dtype=torch.float64, device=device)
    load_into(rnn, Wx, Wh, b)
    with torch.no_grad():
        out, _ = rnn(torch.tensor(x, device=device), torch.tensor(h0, device=device)[None])
    return out.cpu().numpy()


def _numpy_unroll(x, h0, step):
    """Every state of a loop over time with a given step(x_t, prev_h) (for the suspects)."""
    states, h = [], h0
    for t in range(x.shape[1]):
        h = step(x[:, t], h)
        states.append(h)
    return np.stack(states, axis=1)


# --------------------------------------------------------------------------- rnn_step_forward


def _step_suspects(x, prev_h, Wx, Wh, b):
    pre = x @ Wx + prev_h @ Wh + b
    suspects = {
        "the RNN step squashes with tanh, not the sigmoid": _sigmoid(pre),
        "did you add the bias b?": np.tanh(x @ Wx + prev_h @ Wh),
        "the step ends with tanh": pre,
        "prev_h must enter the sum: prev_h @ Wh": np.tanh(x @ Wx + b),
    }
    if Wh.shape[0] == Wh.shape[1]:
        suspects["prev_h @ Wh, not prev_h @ Wh.T: Wh is (H, H) in the row-vector layout"] = np.tanh(x @ Wx + prev_h @ Wh.T + b)
    return suspects


def compare_rnn_step_forward(report: Report, rnn_step_forward, x, prev_h, Wx, Wh, b, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    next_h, _ = call_student(rnn_step_forward, x, prev_h, Wx, Wh, b, returns=("next_h", "cache"))
    oracles = [(f"RNNCell {d}", rnn_cell_oracle(x, prev_h, Wx, Wh, b, d)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, prev_h, Wx, Wh, b)[0]))
    suspects = _step_suspects(x, prev_h, Wx, Wh, b)
    for oracle, expected in oracles:
        report.compare(
            "next_h", next_h, expected, oracle=oracle,
            hint="next_h = tanh(x Wx + prev_h Wh + b): (N, D) @ (D, H) plus (N, H) @ (H, H) plus (H,)",
            suspects=suspects,
        )


def _step_inputs():
    N, D, H = 3, 4, 5  # D != H: a weight on the wrong side cannot even multiply
    x = linspace_array((N, D), -0.8, 0.9)
    prev_h = linspace_array((N, H), 0.6, -0.5)
    Wx = linspace_array((D, H), -0.4, 0.5)
    Wh = linspace_array((H, H), -0.3, 0.45)  # not symmetric: Wh.T gives other values
    b = linspace_array((H,), -0.2, 0.3)
    return x, prev_h, Wx, Wh, b


def rnn_step_forward(rnn_step_forward):
    """Graded: rnn_step_forward(x, prev_h, Wx, Wh, b) against torch.nn.RNNCell."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("rnn_step_forward")
    compare_rnn_step_forward(report, rnn_step_forward, *_step_inputs())
    report.finish()


# --------------------------------------------------------------------------- rnn_forward


def _forward_suspects(x, h0, Wx, Wh, b):
    step = lambda x_t, h: np.tanh(x_t @ Wx + h @ Wh + b)  # noqa: E731
    states = _numpy_unroll(x, h0, step)
    shifted = np.concatenate([h0[:, None], states[:, :-1]], axis=1)
    suspects = {
        "feed back the previous step's state, not h0 at every step": np.tanh(x @ Wx + (h0 @ Wh)[:, None] + b),
        "store the new state at step t (h[:, t] = next_h), not the previous one": shifted,
        "the step at time t reads x[:, t]": _numpy_unroll(np.repeat(x[:, :1], x.shape[1], axis=1), h0, step),
        "the RNN squashes with tanh, not the sigmoid": _numpy_unroll(x, h0, lambda x_t, h: _sigmoid(x_t @ Wx + h @ Wh + b)),
        "did you add the bias b?": _numpy_unroll(x, h0, lambda x_t, h: np.tanh(x_t @ Wx + h @ Wh)),
    }
    if Wh.shape[0] == Wh.shape[1]:
        suspects["prev_h @ Wh, not prev_h @ Wh.T"] = _numpy_unroll(x, h0, lambda x_t, h: np.tanh(x_t @ Wx + h @ Wh.T + b))
    return suspects


def compare_rnn_forward(report: Report, rnn_forward, x, h0, Wx, Wh, b, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    h, _ = call_student(rnn_forward, x, h0, Wx, Wh, b, returns=("h", "cache"))
    oracles = [(f"RNN {d}", rnn_oracle(x, h0, Wx, Wh, b, d)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, h0, Wx, Wh, b)[0]))
    suspects = _forward_suspects(x, h0, Wx, Wh, b)
    for oracle, expected in oracles:
        report.compare(
            "h", h, expected, oracle=oracle,
            hint="loop t = 0..T-1: next_h = rnn_step_forward(x[:, t], prev_h, ...), store it in h[:, t], and feed it back as prev_h",
            suspects=suspects,
        )


def _sequence_inputs():
    N, T, D, H = 2, 4, 3, 5
    x = linspace_array((N, T, D), -1.0, 1.1)
    h0 = linspace_array((N, H), 0.5, -0.6)
    Wx = linspace_array((D, H), -0.5, 0.6)
    Wh = linspace_array((H, H), -0.35, 0.4)
    b = linspace_array((H,), -0.25, 0.2)
    return x, h0, Wx, Wh, b


def rnn_forward(rnn_forward):
    """Graded: rnn_forward(x, h0, Wx, Wh, b) against torch.nn.RNN(batch_first=True)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("rnn_forward")
    compare_rnn_forward(report, rnn_forward, *_sequence_inputs())
    _require_the_step(report, rnn_forward, *_sequence_inputs())
    report.finish()


def _require_the_step(report: Report, rnn_forward, x, h0, Wx, Wh, b) -> None:
    """rnn_forward must be a loop over rnn_step_forward, one call per time step.

    The learner's rnn_forward finds rnn_step_forward among the notebook's globals: a
    counting stand-in is put there for one call, then the learner's own is restored.
    """
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    namespace = getattr(rnn_forward, "__globals__", {})
    step = namespace.get("rnn_step_forward")
    if not callable(step):
        return  # defined outside a notebook that has the step: nothing to count
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return step(*args, **kwargs)

    namespace["rnn_step_forward"] = counted
    try:
        call_student(rnn_forward, x, h0, Wx, Wh, b, returns=("h", "cache"))
    finally:
        namespace["rnn_step_forward"] = step
    T = x.shape[1]
    report.require("uses step", len(calls) == T, f"called rnn_step_forward {len(calls)} times for T = {T}",
                   hint="loop over t and call rnn_step_forward once per step, feeding each new h into the next",
                   oracle="the loop")


# --------------------------------------------------------------------------- one_hot


def compare_one_hot(report: Report, one_hot, idx, V, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    encoded = call_student(one_hot, idx, V)
    torch = _torch()
    oracles = [
        (f"torch {d}", torch.nn.functional.one_hot(torch.tensor(idx, device=d), V).to(torch.float64).cpu().numpy())
        for d in devices()
    ]
    if reference is not None:
        oracles.append(("reference", reference(idx, V)))
    kind = getattr(getattr(encoded, "dtype", None), "kind", None)
    report.require(
        "dtype", isinstance(encoded, np.ndarray) and kind == "f",
        f"got {type(encoded).__name__}" + (f" of {encoded.dtype}" if hasattr(encoded, "dtype") else ""),
        hint="return floats (np.float64): the encoding is multiplied by weights; np.eye(V) is float already",
        oracle="float",
    )
    eye = np.eye(V + 1)
    suspects = {
        "V is given: do not infer it from idx.max() + 1 (a character may be absent from a batch)": np.eye(int(np.max(idx)) + 1)[idx],
        "keep the (N, T) layout: the result is (N, T, V), not (N * T, V)": np.eye(V)[idx.reshape(-1)],
        "index i sets position i (indices start at 0), not i - 1 or i + 1": eye[idx + 1][..., :V],
    }
    for oracle, expected in oracles:
        report.compare(
            "encoded", encoded, expected, oracle=oracle,
            hint="encoded[n, t, idx[n, t]] = 1.0 and 0.0 elsewhere; the rows of np.eye(V) are the one-hot vectors",
            suspects=suspects,
        )


def one_hot(one_hot):
    """Graded: one_hot(idx, V) against torch.nn.functional.one_hot, as floats."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("one_hot")
    idx = np.array([[0, 3, 1], [4, 4, 2]])  # V = 6: the last class never occurs here
    compare_one_hot(report, one_hot, idx, 6)
    report.finish()


# --------------------------------------------------------------------------- temporal_affine_forward


def _linear_torch(x, W, b):
    return _torch().nn.functional.linear(x, W.T, b)  # works on (N, T, H) as on (N, H)


def compare_temporal_affine_forward(report: Report, temporal_affine_forward, x, W, b, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    out, _ = call_student(temporal_affine_forward, x, W, b, returns=("out", "cache"))
    oracles = [(f"torch {d}", forward_backward(_linear_torch, dict(x=x, W=W, b=b), device=d)[0]) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, W, b)[0]))
    N, T, H = x.shape
    M = W.shape[1]
    suspects = {
        "did you add the bias b?": x @ W,
        "reshape (N, T, H) to (N * T, H) directly: swapping axes first scrambles the order of the rows":
            (x.transpose(1, 0, 2).reshape(N * T, H) @ W + b).reshape(N, T, M),
        "reshape the result back to (N, T, M)": x.reshape(N * T, H) @ W + b,
    }
    if H == M:
        suspects["x @ W, not x @ W.T: W is (H, M)"] = x @ W.T + b
    for oracle, expected in oracles:
        report.compare(
            "out", out, expected, oracle=oracle,
            hint="the same affine layer at every step: out[:, t] = x[:, t] W + b; reshape to (N * T, H), multiply, reshape back",
            suspects=suspects,
        )


def temporal_affine_forward(temporal_affine_forward):
    """Graded: temporal_affine_forward(x, W, b) against torch.nn.functional.linear on (N, T, H)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("temporal_affine_forward")
    x = linspace_array((2, 3, 4), -0.7, 0.8)  # N != T: a transposed reshape cannot hide
    W = linspace_array((4, 5), -0.5, 0.4)
    b = linspace_array((5,), 0.1, -0.3)
    compare_temporal_affine_forward(report, temporal_affine_forward, x, W, b)
    report.finish()


# --------------------------------------------------------------------------- the cell as a torch module


def compare_rnn_cell_module(report: Report, rnn_cell_module_forward, x, h0, Wx, Wh, b, reference=None) -> None:
    """One step against torch.nn.RNNCell, then the step fed its own output over the whole
    sequence x (N, T, D) against torch.nn.RNN. ``rnn_cell_module_forward(x_t, h, Wx, Wh, b)``
    is the notebook's adapter: it builds the learner's module with these weights and runs it."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    step_hint = "forward(x, h) returns tanh(x @ self.Wx + h @ self.Wh + self.b) with torch operations"
    first = call_student(rnn_cell_module_forward, x[:, 0], h0, Wx, Wh, b)
    oracles = [(f"RNNCell {d}", rnn_cell_oracle(x[:, 0], h0, Wx, Wh, b, d)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x[:, 0], h0, Wx, Wh, b)))
    suspects = _step_suspects(x[:, 0], h0, Wx, Wh, b)
    for oracle, expected in oracles:
        report.compare("next_h", first, expected, oracle=oracle, hint=step_hint, suspects=suspects)
    # Unrolled: the module's own output fed back, step by step.
    states, h = [first], first
    for t in range(1, x.shape[1]):
        if not isinstance(h, np.ndarray) or h.shape != h0.shape:
            break  # already reported above
        h = call_student(rnn_cell_module_forward, x[:, t], h, Wx, Wh, b)
        states.append(h)
    try:
        unrolled = np.stack([np.asarray(s, dtype=np.float64) for s in states], axis=1)
    except (TypeError, ValueError):
        unrolled = None
    for d in devices():
        report.compare("h (T)", unrolled, rnn_oracle(x, h0, Wx, Wh, b, d), oracle=f"RNN {d}",
                       hint=step_hint + "; the same cell at every step", suspects=_forward_suspects(x, h0, Wx, Wh, b))


def rnn_cell_module(rnn_cell_module_forward):
    """Graded: the RNNCellModule, run through the notebook's rnn_cell_module_forward adapter,
    against torch.nn.RNNCell (one step) and torch.nn.RNN(batch_first=True) (unrolled)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("rnn_cell_module")
    compare_rnn_cell_module(report, rnn_cell_module_forward, *_sequence_inputs())
    report.finish()


__all__ = [
    "CheckFailed",
    "rnn_step_forward",
    "rnn_forward",
    "one_hot",
    "temporal_affine_forward",
    "rnn_cell_module",
]
