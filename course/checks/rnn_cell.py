"""Checks for lesson 02 (the recurrent cell).

Each ``@visible_check`` is what one graded cell calls, e.g. ``check.rnn_step_forward(rnn_step_forward)``.
Visible checks use fixed inputs (D != H, so that a misplaced weight matrix shows) and
PyTorch as the oracle (float64, on every available device): ``torch.nn.RNNCell`` for a
step, ``torch.nn.RNN(batch_first=True)`` for a sequence. The ``compare_*`` functions hold
the comparisons; the hidden checks (``autograder.hidden.rnn_cell``) run the same
comparisons on random shapes, adding the NumPy reference as a further oracle. Both build their
inputs with the same ``*_case`` builders: fixed values here, drawn from an rng there.

Every forward is checked on its whole contract: its output, its dtype (float64), the
inputs it must leave unchanged, and its cache, field by field, since lesson 03's backward
passes unpack it. Known mistakes are recognised by running PyTorch's own layers on the
inputs the mistake uses (a zero bias, a transposed weight, a zero state, the first input
repeated): nothing here computes a graded function the way the learner writes it.
"""

from __future__ import annotations

import numpy as np

from .core import CheckFailed, Report, call_student, call_unchanged, case_array, describe_mismatch, visible_check
from .torch_oracle import devices, forward_backward
from .torch_oracle import torch_module as _torch

#: The fields of a step's cache, in the order the docstrings state and lesson 03 unpacks.
STEP_CACHE_FIELDS = ("x", "prev_h", "Wx", "Wh", "next_h")
#: Quantity names of the cache lines: "cache[0] x", ... so a learner sees the position.
_CACHE_LABELS = [f"cache[{i}] {name}" for i, name in enumerate(STEP_CACHE_FIELDS)]


# --------------------------------------------------------------------------- helpers shared with lesson 03


def require_float64(report: Report, quantity: str, value) -> None:
    """The dtype a docstring states, enforced: a float32 slip is off by about 1e-8 relative,
    which a tolerance would let through at some inputs and not at others."""
    if value is None or type(value).__module__.startswith("torch"):
        return  # the value comparison says what is wrong with it
    dtype = getattr(value, "dtype", None)
    report.require(
        f"{quantity} dtype",
        isinstance(value, np.ndarray) and dtype == np.float64,
        f"got {type(value).__name__}" + (f" of {dtype}" if dtype is not None else "") + ", expected a float64 array",
        hint="the docstring promises float64: do not create arrays with dtype=np.float32 (or int), nor convert with astype",
        oracle="float64",
    )


def _np(tensor):
    return tensor.detach().cpu().numpy()


# --------------------------------------------------------------------------- oracles


def rnn_cell_oracle(device, x, prev_h, Wx, Wh, b):
    """One step of torch.nn.RNNCell (tanh) holding our weights, as a NumPy array. The device
    comes first and is required, here and below: called in a learner's place (an exercise
    that takes x, h, Wx, Wh, b), an oracle must not stand in for the exercise."""
    torch = _torch()
    from ..torch_layout import load_into

    cell = torch.nn.RNNCell(Wx.shape[0], Wx.shape[1], nonlinearity="tanh", dtype=torch.float64, device=device)
    load_into(cell, Wx, Wh, b)
    with torch.no_grad():
        out = cell(torch.tensor(x, device=device), torch.tensor(prev_h, device=device))
    return _np(out)


def rnn_oracle(device, x, h0, Wx, Wh, b):
    """torch.nn.RNN(batch_first=True) over the whole sequence: every hidden state (N, T, H)."""
    torch = _torch()
    from ..torch_layout import load_into

    rnn = torch.nn.RNN(
        Wx.shape[0], Wx.shape[1], nonlinearity="tanh", batch_first=True, dtype=torch.float64, device=device
    )
    load_into(rnn, Wx, Wh, b)
    with torch.no_grad():
        out, _ = rnn(torch.tensor(x, device=device), torch.tensor(h0, device=device)[None])
    return _np(out)


def _pre_activation(x, prev_h, Wx, Wh, b):
    """The step's input to tanh, from torch's linear layers (for the sigmoid / no-tanh hints)."""
    torch = _torch()
    linear = torch.nn.functional.linear
    return _np(
        linear(torch.tensor(x), torch.tensor(Wx.T), torch.tensor(b)) + linear(torch.tensor(prev_h), torch.tensor(Wh.T))
    )


# --------------------------------------------------------------------------- cases
# One builder per exercise makes the inputs of its visible check (rng None: fixed, readable
# values) and of its hidden check (values drawn from rng, in any shape the hidden check asks).


def _weights(rng, d, h, wx_range=(-0.4, 0.5), wh_range=(-0.3, 0.45), b_range=(-0.2, 0.3)):
    """Wx (D, H), Wh (H, H), b (H,); the fixed ranges go from low to high (Wh is then not
    symmetric, so Wh.T gives other values)."""
    return (
        case_array(rng, (d, h), *wx_range, scale=1 / np.sqrt(d)),
        case_array(rng, (h, h), *wh_range, scale=1 / np.sqrt(h)),
        case_array(rng, (h,), *b_range, scale=0.5),
    )


def _state(rng, shape, low, high):
    """A hidden state: in (-1, 1), as tanh leaves it, and not zero (a step that ignores it shows)."""
    return case_array(rng, shape, low, high) if rng is None else np.tanh(rng.normal(size=shape))


def step_case(rng=None, shape=(3, 4, 5)):
    """x (N, D), prev_h (N, H), Wx, Wh, b for shape (N, D, H). The fixed D != H: a weight on
    the wrong side cannot even multiply."""
    n, d, h = shape
    return (case_array(rng, (n, d), -0.8, 0.9), _state(rng, (n, h), 0.6, -0.5), *_weights(rng, d, h))


def sequence_case(rng=None, shape=(2, 4, 3, 5)):
    """x (N, T, D), h0 (N, H), Wx, Wh, b for shape (N, T, D, H)."""
    n, t, d, h = shape
    return (
        case_array(rng, (n, t, d), -1.0, 1.1),
        _state(rng, (n, h), 0.5, -0.6),
        *_weights(rng, d, h, (-0.5, 0.6), (-0.35, 0.4), (-0.25, 0.2)),
    )


def one_hot_case(rng=None, shape=(2, 3, 6), leave_last_out=True):
    """idx (N, T) and V for shape (N, T, V); with leave_last_out the last class never occurs
    (V is an argument, not idx.max() + 1). The fixed case is one written-out batch."""
    n, t, v = shape
    if rng is None:
        return np.array([[0, 3, 1], [4, 4, 2]]), 6
    return rng.integers(0, v - 1 if leave_last_out else v, size=(n, t)), v


def temporal_affine_case(rng=None, shape=(2, 3, 4, 5)):
    """x (N, T, H), W (H, M), b (M,) for shape (N, T, H, M). The fixed N != T: a transposed
    reshape cannot hide."""
    n, t, h, m = shape
    return case_array(rng, (n, t, h), -0.7, 0.8), case_array(rng, (h, m), -0.5, 0.4), case_array(rng, (m,), 0.1, -0.3)


# --------------------------------------------------------------------------- rnn_step_forward

STEP_HINT = (
    "next_h is tanh of (x Wx + prev_h Wh + b), section 2's formula; check each term: "
    "(N, D)(D, H), (N, H)(H, H) and the bias (H,)"
)


def _step_suspects(x, prev_h, Wx, Wh, b):
    """What each known mistake returns, from torch.nn.RNNCell fed the inputs the mistake uses."""
    torch = _torch()
    pre = _pre_activation(x, prev_h, Wx, Wh, b)
    suspects = {
        "the RNN step squashes with tanh, not the sigmoid": _np(torch.sigmoid(torch.tensor(pre))),
        "did you add the bias b?": rnn_cell_oracle("cpu", x, prev_h, Wx, Wh, np.zeros_like(b)),
        "the step ends with tanh": pre,
        "prev_h must enter the sum: prev_h @ Wh": rnn_cell_oracle("cpu", x, np.zeros_like(prev_h), Wx, Wh, b),
    }
    if Wh.shape[0] == Wh.shape[1]:
        suspects["prev_h @ Wh, not prev_h @ Wh.T: Wh is (H, H) in the row-vector layout"] = rnn_cell_oracle(
            "cpu", x, prev_h, Wx, Wh.T, b
        )
    return suspects


def compare_step_cache(report: Report, cache, x, prev_h, Wx, Wh, b, next_h, oracle: str = "cache") -> None:
    """The step cache, field by field: the tuple (x, prev_h, Wx, Wh, next_h), each equal to
    the step's input or to torch's next_h (lesson 03's rnn_step_backward unpacks it)."""
    layout = "the cache is the tuple (x, prev_h, Wx, Wh, next_h), in that order: lesson 03's backward unpacks it"
    if not isinstance(cache, (tuple, list)) or len(cache) != 5:
        got = f"a {type(cache).__name__} of {len(cache)}" if isinstance(cache, (tuple, list)) else type(cache).__name__
        report.require("cache", False, f"got {got}", hint=layout, oracle=oracle)
        return
    expected = (x, prev_h, Wx, Wh, next_h)
    for position, (label, value, want) in enumerate(zip(_CACHE_LABELS, cache, expected)):
        suspects = {}
        if position == 4:
            suspects["cache the step's output next_h (after tanh), not its input"] = _pre_activation(
                x, prev_h, Wx, Wh, b
            )
            suspects["the cache's last field is next_h, the new state, not prev_h"] = prev_h
        if position == 1:
            suspects["the cache's second field is prev_h, the state entering the step, not next_h"] = next_h
        report.compare(label, value, want, oracle=oracle, hint=layout, suspects=suspects)


def compare_rnn_step_forward(report: Report, rnn_step_forward, x, prev_h, Wx, Wh, b, reference=None) -> None:
    oracles = [(f"RNNCell {d}", rnn_cell_oracle(d, x, prev_h, Wx, Wh, b)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, prev_h, Wx, Wh, b)[0]))
    suspects = _step_suspects(x, prev_h, Wx, Wh, b)
    next_h, cache = call_unchanged(
        report,
        rnn_step_forward,
        x,
        prev_h,
        Wx,
        Wh,
        b,
        argument_names=("x", "prev_h", "Wx", "Wh", "b"),
        returns=("next_h", "cache"),
    )
    for oracle, expected in oracles:
        report.compare("next_h", next_h, expected, oracle=oracle, hint=STEP_HINT, suspects=suspects)
    require_float64(report, "next_h", next_h)
    compare_step_cache(report, cache, x, prev_h, Wx, Wh, b, oracles[0][1])


@visible_check
def rnn_step_forward(report, rnn_step_forward):
    """Graded: rnn_step_forward(x, prev_h, Wx, Wh, b) against torch.nn.RNNCell: next_h, its
    dtype, the inputs left unchanged and the cache (x, prev_h, Wx, Wh, next_h)."""
    compare_rnn_step_forward(report, rnn_step_forward, *step_case())


# --------------------------------------------------------------------------- rnn_forward

FORWARD_HINT = (
    "loop over t = 0..T-1: call rnn_step_forward on x[:, t] and the previous state, "
    "store the new state in h[:, t] and feed it to the next step"
)


def _forward_suspects(x, h0, Wx, Wh, b, states):
    """What each known mistake returns, from torch.nn.RNN fed the inputs the mistake uses.
    ``states`` is torch's correct answer."""
    N, T, D = x.shape
    H = h0.shape[1]
    # Every step started from h0: N * T sequences of one step each, each from its row's h0.
    from_h0 = rnn_oracle("cpu", x.reshape(N * T, 1, D), np.repeat(h0, T, axis=0), Wx, Wh, b).reshape(N, T, H)
    suspects = {
        "feed back the previous step's state, not h0 at every step": from_h0,
        "store the new state at step t (h[:, t] = next_h), not the previous one": np.concatenate(
            [h0[:, None], states[:, :-1]], axis=1
        ),
        "the step at time t reads x[:, t]": rnn_oracle("cpu", np.repeat(x[:, :1], T, axis=1), h0, Wx, Wh, b),
        "did you add the bias b?": rnn_oracle("cpu", x, h0, Wx, Wh, np.zeros_like(b)),
        "run every step: range(T), not range(T - 1)": np.concatenate(
            [states[:, :-1], np.zeros_like(states[:, :1])], axis=1
        ),
        "start from h0, the given initial state, not from zeros": rnn_oracle("cpu", x, np.zeros_like(h0), Wx, Wh, b),
    }
    if Wh.shape[0] == Wh.shape[1]:
        suspects["prev_h @ Wh, not prev_h @ Wh.T"] = rnn_oracle("cpu", x, h0, Wx, Wh.T, b)
    return suspects


def compare_sequence_cache(report: Report, cache, x, h0, Wx, Wh, states) -> None:
    """The sequence cache: a list of T step caches, step t's being (x[:, t], the state before
    step t, Wx, Wh, the state after it). Each field is compared over all steps at once, so
    a wrong index names the step. States that all alias one array (a buffer changed in
    place after it was cached) show up as every step holding the last state."""
    T = x.shape[1]
    if not isinstance(cache, (list, tuple)) or len(cache) != T:
        got = f"a {type(cache).__name__} of {len(cache)}" if isinstance(cache, (tuple, list)) else type(cache).__name__
        report.require(
            "cache",
            False,
            f"got {got} for T = {T}",
            hint="the cache is a list of the T step caches, one per step, in time order",
            oracle="cache",
        )
        return
    if not all(isinstance(step, (tuple, list)) and len(step) == 5 for step in cache):
        report.require(
            "cache",
            False,
            "its entries are not all 5-field step caches",
            hint="append each step's cache, the tuple (x, prev_h, Wx, Wh, next_h) that rnn_step_forward returns",
            oracle="cache",
        )
        return
    before = np.concatenate([h0[:, None], states[:, :-1]], axis=1)
    expected = (
        x.transpose(1, 0, 2),
        before.transpose(1, 0, 2),
        np.repeat(Wx[None], T, axis=0),
        np.repeat(Wh[None], T, axis=0),
        states.transpose(1, 0, 2),
    )
    aliased = "every step's cache holds the same array: a state changed in place after it was cached; give each step a new array"
    for position, (label, want) in enumerate(zip(_CACHE_LABELS, expected)):
        actual = [step[position] for step in cache]
        suspects = {}
        last = np.repeat(states[:, -1][None], T, axis=0)
        if position == 4 and T > 1:
            suspects[aliased] = last
        if position == 1 and T > 1:
            # One buffer holds every state: steps 1.. cached it as their previous state (step 0
            # may still hold h0, unless h0 itself is the buffer).
            suspects[aliased] = last
            suspects[aliased.replace("every step's cache", "every step's cache from t = 1 on")] = np.concatenate(
                [h0[None], last[1:]], axis=0
            )
        if position == 1:
            suspects["step t's cache holds the state entering step t (h0 at t = 0)"] = states.transpose(1, 0, 2)
        report.compare(
            f"steps' {label}",
            actual,
            want,
            oracle="cache",
            hint="step t's cache is what rnn_step_forward returned at step t: (x[:, t], the state before it, Wx, Wh, the state after it)",
            suspects=suspects,
        )


def compare_rnn_forward(report: Report, rnn_forward, x, h0, Wx, Wh, b, reference=None) -> None:
    """h against torch.nn.RNN (and the reference), float64, and the list of step caches."""
    oracles = [(f"RNN {d}", rnn_oracle(d, x, h0, Wx, Wh, b)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, h0, Wx, Wh, b)[0]))
    suspects = _forward_suspects(x, h0, Wx, Wh, b, oracles[0][1])
    h, cache = call_unchanged(
        report, rnn_forward, x, h0, Wx, Wh, b, argument_names=("x", "h0", "Wx", "Wh", "b"), returns=("h", "cache")
    )
    for oracle, expected in oracles:
        report.compare("h", h, expected, oracle=oracle, hint=FORWARD_HINT, suspects=suspects)
    require_float64(report, "h", h)
    compare_sequence_cache(report, cache, x, h0, Wx, Wh, oracles[0][1])


@visible_check
def rnn_forward(report, rnn_forward):
    """Graded: rnn_forward(x, h0, Wx, Wh, b) against torch.nn.RNN(batch_first=True): h, its
    dtype, the inputs left unchanged, the list of step caches, and the loop over the step."""
    compare_rnn_forward(report, rnn_forward, *sequence_case())
    _require_the_step(report, rnn_forward, *sequence_case())


def _require_the_step(report: Report, rnn_forward, x, h0, Wx, Wh, b) -> None:
    """rnn_forward must be a loop over rnn_step_forward, one call per time step, and that
    step must itself be right (else rnn_forward's values are wrong for the step's reason).

    The learner's rnn_forward finds rnn_step_forward among the notebook's globals: a
    counting stand-in is put there for one call, then the learner's own is restored.
    """
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
    report.require(
        "uses step",
        len(calls) == T,
        f"called rnn_step_forward {len(calls)} times for T = {T}",
        hint="loop over t and call rnn_step_forward once per step, feeding each new h into the next",
        oracle="the loop",
    )
    try:
        first = call_student(step, x[:, 0], h0, Wx, Wh, b)
        step_right = (
            isinstance(first, tuple)
            and len(first) == 2
            and not describe_mismatch(first[0], rnn_cell_oracle("cpu", x[:, 0], h0, Wx, Wh, b), 1e-7)[0]
        )
    except Exception:  # noqa: BLE001 (any crash of the learner's step means it is not right)
        step_right = False
    report.require(
        "step",
        step_right,
        "rnn_step_forward gives wrong values",
        hint="fix rnn_step_forward first (its own check): rnn_forward is only as right as the step it calls",
        oracle="RNNCell",
    )


# --------------------------------------------------------------------------- one_hot


def _one_hot_torch(device, idx, V=None):
    """torch's one_hot as float64 NumPy. The device comes first and is required: called in a
    learner's place, one_hot(idx, V), this oracle must not stand in for the exercise."""
    torch = _torch()
    tensor = torch.tensor(idx, device=device)
    encoded = torch.nn.functional.one_hot(tensor) if V is None else torch.nn.functional.one_hot(tensor, V)
    return _np(encoded.to(torch.float64))


def compare_one_hot(report: Report, one_hot, idx, V, reference=None) -> None:
    oracles = [(f"torch {d}", _one_hot_torch(d, idx, V)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(idx, V)))
    N, T = idx.shape
    suspects = {
        "V is given: do not infer it from idx.max() + 1 (a character may be absent from a batch)": _one_hot_torch(
            "cpu", idx
        ),
        "keep the (N, T) layout: the result is (N, T, V), not (N * T, V)": _one_hot_torch("cpu", idx.reshape(N * T), V),
        "index i sets position i (indices start at 0), not i + 1": _one_hot_torch("cpu", idx + 1, V + 1)[..., :V],
        "index i sets position i (indices start at 0), not i - 1": _one_hot_torch("cpu", (idx - 1) % V, V),
    }
    encoded = call_unchanged(report, one_hot, idx, V, argument_names=("idx", None))
    kind = getattr(getattr(encoded, "dtype", None), "kind", None)
    report.require(
        "dtype",
        isinstance(encoded, np.ndarray) and encoded.dtype == np.float64,
        f"got {type(encoded).__name__}" + (f" of {encoded.dtype}" if hasattr(encoded, "dtype") else ""),
        hint=(
            "return float64, as the docstring says: the encoding is multiplied by weights; np.eye(V) is float64 already"
            if kind in (None, "b", "i", "u")
            else "return float64, as the docstring says, not float32"
        ),
        oracle="float64",
    )
    for oracle, expected in oracles:
        report.compare(
            "encoded",
            encoded,
            expected,
            oracle=oracle,
            hint="encoded[n, t] is the row of the V x V identity at idx[n, t]: 1.0 there and 0.0 elsewhere",
            suspects=suspects,
        )


@visible_check
def one_hot(report, one_hot):
    """Graded: one_hot(idx, V) against torch.nn.functional.one_hot, as float64, idx left unchanged."""
    compare_one_hot(report, one_hot, *one_hot_case())


# --------------------------------------------------------------------------- temporal_affine_forward


def _linear_torch(x, W, b):
    return _torch().nn.functional.linear(x, W.T, b)  # works on (N, T, H) as on (N, H)


def _linear(x, W, b=None):
    torch = _torch()
    return _np(torch.nn.functional.linear(torch.tensor(x), torch.tensor(W.T), None if b is None else torch.tensor(b)))


def compare_temporal_affine_forward(report: Report, temporal_affine_forward, x, W, b, reference=None) -> None:
    oracles = [(f"torch {d}", forward_backward(_linear_torch, dict(x=x, W=W, b=b), device=d)[0]) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, W, b)[0]))
    N, T, H = x.shape
    M = W.shape[1]
    expected_out = oracles[0][1]
    suspects = {
        "did you add the bias b?": _linear(x, W),
        # Rows taken time-major, then the result read back batch-major: the rows land on the wrong (n, t).
        "reshape (N, T, H) to (N * T, H) directly: swapping axes first scrambles the order of the rows": expected_out.transpose(
            1, 0, 2
        ).reshape(N, T, M),
        "reshape the result back to (N, T, M)": expected_out.reshape(N * T, M),
    }
    if H == M:
        suspects["x @ W, not x @ W.T: W is (H, M)"] = _linear(x, W.T, b)
    out, cache = call_unchanged(
        report, temporal_affine_forward, x, W, b, argument_names=("x", "W", "b"), returns=("out", "cache")
    )
    for oracle, expected in oracles:
        report.compare(
            "out",
            out,
            expected,
            oracle=oracle,
            hint="the same affine layer at every step: out[:, t] = x[:, t] W + b, for every t at once",
            suspects=suspects,
        )
    require_float64(report, "out", out)
    layout = "the cache is the tuple (x, W, b), in that order: lesson 03's temporal_affine_backward unpacks it"
    if not isinstance(cache, (tuple, list)) or len(cache) != 3:
        report.require("cache", False, f"got {type(cache).__name__}", hint=layout, oracle="cache")
        return
    for position, (label, value, want) in enumerate(zip(("cache[0] x", "cache[1] W", "cache[2] b"), cache, (x, W, b))):
        report.compare(
            label,
            value,
            want,
            oracle="cache",
            hint=layout,
            suspects={"cache the layer's input x, not its output": expected_out} if position == 0 else None,
        )


@visible_check
def temporal_affine_forward(report, temporal_affine_forward):
    """Graded: temporal_affine_forward(x, W, b) against torch.nn.functional.linear on (N, T, H):
    out, its dtype, the inputs left unchanged and the cache (x, W, b)."""
    compare_temporal_affine_forward(report, temporal_affine_forward, *temporal_affine_case())


# --------------------------------------------------------------------------- the cell as a torch module

MODULE_HINT = (
    "forward(x, h) computes the step of section 2 with torch operations on the parameters "
    "self.Wx, self.Wh and self.b (row-vector layout: x @ weight)"
)
MODULE_PARAMETERS = ("Wx", "Wh", "b")


def rnn_cell_module_harness(module_class):
    """The learner's RNNCellModule class as a NumPy step, ``rnn_cell_module_forward(x, h, Wx,
    Wh, b) -> next_h``: each call builds a float64 module, copies the given weights into its
    parameters and runs one step. The module is built at the call, inside the check, so a
    class that still raises NotImplementedError gets call_student's plain message. It
    computes nothing itself: the step is the learner's forward."""
    name = getattr(module_class, "__name__", "RNNCellModule")

    def rnn_cell_module_forward(x, h, Wx, Wh, b):
        torch = _torch()
        module = module_class(Wx.shape[0], Wx.shape[1]).to(torch.float64)
        parameters = dict(module.named_parameters())
        if set(parameters) != set(MODULE_PARAMETERS):
            raise CheckFailed(
                f"{name}: it should have the parameters Wx, Wh and b (torch.nn.Parameter); it has {sorted(parameters)}"
            )
        with torch.no_grad():
            for parameter, value in zip(MODULE_PARAMETERS, (Wx, Wh, b)):
                if tuple(parameters[parameter].shape) != value.shape:
                    raise CheckFailed(
                        f"{name}: {parameter} has shape {tuple(parameters[parameter].shape)}, expected "
                        f"{value.shape}: the course's layout is Wx (D, H), Wh (H, H), b (H,)"
                    )
                parameters[parameter].copy_(torch.from_numpy(value))
            # from_numpy shares memory: an in-place operation on x or h in forward shows as an
            # input left changed.
            next_h = module(torch.from_numpy(x), torch.from_numpy(h))
        return next_h.detach().cpu().numpy()

    rnn_cell_module_forward.__name__ = name  # what the learner wrote, in call_student's messages
    return (rnn_cell_module_forward,)


def compare_rnn_cell_module(report: Report, rnn_cell_module_forward, x, h0, Wx, Wh, b, reference=None) -> None:
    """One step against torch.nn.RNNCell, then the step fed its own output over the whole
    sequence x (N, T, D) against torch.nn.RNN. ``rnn_cell_module_forward(x_t, h, Wx, Wh, b)``
    is the learner's module through ``rnn_cell_module_harness``; ``reference`` is a step
    function that returns (next_h, cache)."""
    oracles = [(f"RNNCell {d}", rnn_cell_oracle(d, x[:, 0], h0, Wx, Wh, b)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x[:, 0], h0, Wx, Wh, b)[0]))
    first = call_unchanged(
        report, rnn_cell_module_forward, x[:, 0].copy(), h0, Wx, Wh, b, argument_names=("x", "h", "Wx", "Wh", "b")
    )
    suspects = _step_suspects(x[:, 0], h0, Wx, Wh, b)
    for oracle, expected in oracles:
        report.compare("next_h", first, expected, oracle=oracle, hint=MODULE_HINT, suspects=suspects)
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
    expected_states = rnn_oracle("cpu", x, h0, Wx, Wh, b)
    for d in devices():
        report.compare(
            "h (T)",
            unrolled,
            rnn_oracle(d, x, h0, Wx, Wh, b),
            oracle=f"RNN {d}",
            hint=MODULE_HINT + "; the same cell at every step",
            suspects=_forward_suspects(x, h0, Wx, Wh, b, expected_states),
        )


@visible_check(harness=rnn_cell_module_harness)
def rnn_cell_module(report, rnn_cell_module_forward):
    """Graded: the learner's RNNCellModule class, built with given weights, against
    torch.nn.RNNCell (one step) and torch.nn.RNN(batch_first=True) (unrolled)."""
    compare_rnn_cell_module(report, rnn_cell_module_forward, *sequence_case())
