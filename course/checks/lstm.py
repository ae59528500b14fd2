"""Checks for lesson 04 (the LSTM).

Each check is what one graded cell calls, e.g.
``check.lstm_step_backward(lstm_step_forward, lstm_step_backward)``. Visible checks use fixed
inputs (D != H, N != T, nonzero states) and oracles a learner could reproduce:
torch.nn.LSTMCell and torch.nn.LSTM(batch_first=True) for the outputs, PyTorch autograd
(float64, on every available device) for the gradients. A mistake loses points in the cell
where it is made, so each check covers its function's whole contract:

- a forward: its outputs; its cache, in the layout its docstring states, each field against
  the values PyTorch computes; float64 results; its inputs left unchanged; and gates
  saturated by pre-activations near +-1000, where a naive exp overflows;
- a backward: its gradients, computed from the learner's own cache; float64 results; the
  upstream gradient left unchanged; the same result when called twice on one cache.

What lessons 04 and 05 check alike lives in course.checks.gated. Hints name the wrong
quantity and, where the pattern of wrong quantities shows it, the mistake. This module holds
no NumPy version of a graded function: its PyTorch formulas take and return torch tensors (or
dicts of them), private helpers that stand in for no graded function.
Layout: a = x Wx + h Wh + b (N, 4H), split i, f, g, o; c' = f c + i g; h' = o tanh(c').
"""

from __future__ import annotations

import numpy as np

from ..torch_layout import load_into
from . import gated
from .core import CheckFailed, Report, call_student, linspace_array, visible_check
from .torch_oracle import devices, forward_backward
from .torch_oracle import torch_module as _torch

GATES = "ifgo"
#: The step cache's layout, as lstm_step_forward's docstring states it.
STEP_CACHE = ("x", "prev_h", "prev_c", "Wx", "Wh", "i", "f", "g", "o", "next_c")
STEP_GRADIENTS = ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
SEQUENCE_GRADIENTS = ("dx", "dh0", "dWx", "dWh", "db")


# --------------------------------------------------------------------------- the cases


def step_case(rng: np.random.Generator | None = None, shape=None) -> tuple[np.ndarray, ...]:
    """x, prev_h, prev_c, Wx, Wh, b of one step: fixed, readable values (the visible check), or
    random ones drawn from ``rng`` in ``shape`` (N, T, D, H), T unused (the hidden check)."""
    if rng is None:
        N, D, H = 3, 4, 2  # D != H, 4H != D
        return (
            linspace_array((N, D), -0.8, 0.9),
            linspace_array((N, H), 0.6, -0.5),
            linspace_array((N, H), -0.7, 0.8),
            linspace_array((D, 4 * H), -0.6, 0.7),
            linspace_array((H, 4 * H), 0.5, -0.45),
            linspace_array((4 * H,), -0.3, 0.4),
        )
    N, _, D, H = shape
    return (
        rng.normal(size=(N, D)),
        gated.random_state(rng, N, H),
        rng.normal(size=(N, H)),
        *gated.random_weights(rng, D, H, 4, 1),
    )


def step_upstream(rng: np.random.Generator | None = None, shape=None) -> tuple[np.ndarray, np.ndarray]:
    """dnext_h, dnext_c for step_case's step (the same ``rng`` and ``shape``)."""
    if rng is None:
        return linspace_array((3, 2), 0.7, -0.9), linspace_array((3, 2), -0.5, 0.6)
    N, _, _, H = shape
    return rng.normal(size=(N, H)), rng.normal(size=(N, H))


def sequence_case(rng: np.random.Generator | None = None, shape=None) -> tuple[np.ndarray, ...]:
    """x, h0, Wx, Wh, b of a sequence: fixed values, or random ones from ``rng`` in ``shape`` (N, T, D, H)."""
    if rng is None:
        N, T, D, H = 2, 4, 3, 2
        return (
            linspace_array((N, T, D), -1.0, 1.1),
            linspace_array((N, H), 0.5, -0.6),
            linspace_array((D, 4 * H), -0.7, 0.8),
            linspace_array((H, 4 * H), 0.6, -0.55),
            linspace_array((4 * H,), -0.35, 0.5),
        )
    N, T, D, H = shape
    return (rng.normal(size=(N, T, D)), gated.random_state(rng, N, H), *gated.random_weights(rng, D, H, 4, 1))


def sequence_upstream(rng: np.random.Generator | None = None, shape=None, case: int = 0) -> np.ndarray:
    """dh for sequence_case's sequence; a hidden case's kind is chosen by its index ``case``."""
    if rng is None:
        return linspace_array((2, 4, 2), 0.8, -0.7)
    N, T, _, H = shape
    return gated.random_upstream(rng, case, (N, T, H))


# --------------------------------------------------------------------------- PyTorch formulas (tensors in, tensors out)


def _cell_math(x, prev_h, prev_c, Wx, Wh, b, *, order: str = GATES, mistake: str | None = None) -> dict:
    """One LSTM step as PyTorch operations on tensors, or a known mistake's version of it (for
    the hints): a dict of tensors, the pre-activation a, the gates i, f, g, o, next_c, next_h."""
    torch = _torch()
    a = x @ Wx + prev_h @ Wh + b
    blocks = dict(zip(order, a.chunk(4, dim=1)))
    squash = {
        "i": torch.sigmoid,
        "f": torch.sigmoid,
        "g": torch.sigmoid if mistake == "g_sigmoid" else torch.tanh,
        "o": torch.sigmoid,
    }
    i, f, g, o = (squash[k](blocks[k]) for k in GATES)
    if mistake == "no_input_gate":
        next_c = f * prev_c + g
    elif mistake == "forget_on_h":
        next_c = f * prev_h + i * g
    elif mistake == "ignores_c":
        next_c = i * g
    else:
        next_c = f * prev_c + i * g
    next_h = o * next_c if mistake == "no_tanh" else o * torch.tanh(next_c)
    return {"a": a, "i": i, "f": f, "g": g, "o": o, "next_c": next_c, "next_h": next_h}


def _unroll_math(
    x,
    h0,
    Wx,
    Wh,
    b,
    *,
    carry_c: bool = True,
    zero_h0: bool = False,
    detach: str = "",
    live_weights_at: int | None = None,
    **step,
) -> list[dict]:
    """The steps of an LSTM over x (N, T, D) from h0 and c0 = 0, as _cell_math dicts. The keywords
    give known mistakes: the cell state not carried, h0 ignored, a carried gradient dropped
    (``detach`` "h" or "c"), the weights' gradients of step ``live_weights_at`` only."""
    torch = _torch()
    h, c, steps = (torch.zeros_like(h0) if zero_h0 else h0), torch.zeros_like(h0), []
    for t in range(x.shape[1]):
        weights = (Wx, Wh, b) if live_weights_at in (None, t) else (Wx.detach(), Wh.detach(), b.detach())
        parts = _cell_math(x[:, t], h, c if carry_c else torch.zeros_like(c), *weights, **step)
        steps.append(parts)
        h = parts["next_h"].detach() if "h" in detach else parts["next_h"]
        c = parts["next_c"].detach() if "c" in detach else parts["next_c"]
    return steps


def _hidden_states(steps):
    return _torch().stack([s["next_h"] for s in steps], dim=1)


def _step_parts(inputs: dict) -> dict:
    """Every quantity of one step for fixed inputs, as NumPy arrays (for comparing a cache):
    the gates, next_c, next_h, and sigmoid and tanh of every block of a (for the hints)."""
    torch = _torch()
    parts = _cell_math(**{k: gated.as_tensor(v) for k, v in inputs.items()})
    extra = {
        "sigmoid_a": torch.sigmoid(parts["a"]),
        "tanh_a": torch.tanh(parts["a"]),
        "tanh_next_c": torch.tanh(parts["next_c"]),
    }
    return {k: gated.as_numpy(v) for k, v in {**parts, **extra}.items()}


def _lstm_cell(inputs: dict, device: str):
    """torch.nn.LSTMCell in float64 with the course's weights: (next_h, next_c) tensors."""
    torch = _torch()
    cell = load_into(
        torch.nn.LSTMCell(inputs["Wx"].shape[0], inputs["Wh"].shape[0]).to(device=device, dtype=torch.float64),
        inputs["Wx"],
        inputs["Wh"],
        inputs["b"],
    )
    with torch.no_grad():
        return cell(
            gated.as_tensor(inputs["x"], device),
            (gated.as_tensor(inputs["prev_h"], device), gated.as_tensor(inputs["prev_c"], device)),
        )


def _lstm_layer(inputs: dict, device: str):
    """torch.nn.LSTM(batch_first=True) in float64 with the course's weights and c0 = 0: h as a tensor."""
    torch = _torch()
    layer = load_into(
        torch.nn.LSTM(inputs["Wx"].shape[0], inputs["Wh"].shape[0], batch_first=True).to(
            device=device, dtype=torch.float64
        ),
        inputs["Wx"],
        inputs["Wh"],
        inputs["b"],
    )
    h0 = gated.as_tensor(inputs["h0"], device)[None]
    with torch.no_grad():
        return layer(gated.as_tensor(inputs["x"], device), (h0, torch.zeros_like(h0)))[0]


# --------------------------------------------------------------------------- known mistakes of the forward

ORDER_HINT = "a's four blocks are i, f, g, o, in this order (PyTorch's): i = block 0, f = 1, g = 2, o = 3"
#: hint -> the keywords of _cell_math that make the mistake
STEP_MISTAKES = {
    ORDER_HINT: dict(order="ifog"),
    "next_c = f * prev_c + i * g: the input gate i scales the candidate g": dict(mistake="no_input_gate"),
    "the forget gate scales the previous cell state prev_c, not prev_h": dict(mistake="forget_on_h"),
    "next_c = f * prev_c + i * g: the previous cell state must enter, scaled by f": dict(mistake="ignores_c"),
    "next_h = o * tanh(next_c): squash the cell state before the output gate": dict(mistake="no_tanh"),
    "g is a tanh of its block (a value in (-1, 1)), not a sigmoid": dict(mistake="g_sigmoid"),
}
GATES_HINT = "check a = x Wx + prev_h Wh + b (N, 4H), its split into i, f, g, o, and each gate's sigmoid or tanh"
OUTPUT_HINTS = {"next_c": "next_c = f * prev_c + i * g", "next_h": "next_h = o * tanh(next_c)"}


def _output_mistakes(inputs: dict) -> dict[str, dict[str, np.ndarray]]:
    """hint -> {"next_h": ..., "next_c": ...}, the outputs a known mistake gives."""
    tensors = {k: gated.as_tensor(v) for k, v in inputs.items()}
    out = {}
    for hint, mistake in STEP_MISTAKES.items():
        parts = _cell_math(**tensors, **mistake)
        out[hint] = {name: gated.as_numpy(parts[name]) for name in ("next_h", "next_c")}
    return out


def _field_suspects(field: str, parts: dict, inputs: dict) -> dict[str, np.ndarray]:
    """hint -> what a known mistake stores in this cache field."""
    H = parts["next_c"].shape[1]
    block = {k: slice(n * H, (n + 1) * H) for n, k in enumerate(GATES)}
    if field in GATES:
        right, wrong = ("tanh_a", "sigmoid_a") if field == "g" else ("sigmoid_a", "tanh_a")
        kind = "tanh" if field == "g" else "sigmoid"
        suspects = {
            f"{ORDER_HINT} (block {GATES.index(other)} is {other})": parts[right][:, block[other]]
            for other in GATES
            if other != field
        }
        suspects[f"{field} is a {kind} of its block, not a {'sigmoid' if kind == 'tanh' else 'tanh'}"] = parts[wrong][
            :, block[field]
        ]
        suspects[f"the cache holds {field} after its {kind}, not the pre-activation"] = parts["a"][:, block[field]]
        return suspects
    if field == "next_c":
        return {
            "the cache holds next_c itself, not tanh(next_c)": parts["tanh_next_c"],
            "the cache's next_c is prev_c, the step's input: store the new cell state": inputs["prev_c"],
            "the cache's next_c holds next_h: store the new cell state": parts["next_h"],
        }
    if field == "prev_c":
        return {
            "the cache's prev_c has become next_c: prev_c was updated in place (c *= f, c += ...); "
            "compute next_c into a new array": parts["next_c"]
        }
    if field == "prev_h":
        return {"the cache's prev_h holds next_h: store the state the step started from": parts["next_h"]}
    return {}


def _field_hint(field: str, actual, parts: dict, inputs: dict) -> str:
    for hint, value in _field_suspects(field, parts, inputs).items():
        if not gated.differs(actual, value):
            return hint
    if field in GATES:
        return f"the cache's {field} is the gate after its {'tanh' if field == 'g' else 'sigmoid'}; " + ORDER_HINT
    return f"the cache's {field} is wrong: the layout is ({', '.join(STEP_CACHE)})"


def _expected_field(field: str, parts: dict, inputs: dict) -> np.ndarray:
    return inputs[field] if field in inputs else parts[field]


def _step_cache_problem(cache, parts: dict, inputs: dict, next_c=None) -> tuple[str, str, set[str] | None]:
    """(problem, hint, wrong fields) of one step cache; problem is '' when it is right, the
    wrong fields None when the cache is not in the layout at all. A cached next_c equal to
    the learner's own returned ``next_c`` is consistent (a wrong next_c is named on its own line)."""
    if not isinstance(cache, tuple) or len(cache) != len(STEP_CACHE):
        size = f" of {len(cache)}" if isinstance(cache, (tuple, list)) else ""
        return (
            f"got a {type(cache).__name__}{size}, expected the tuple ({', '.join(STEP_CACHE)})",
            "store the cache in the layout lstm_step_forward's docstring states",
            None,
        )
    wrong = [
        field
        for field, value in zip(STEP_CACHE, cache)
        if gated.differs(value, _expected_field(field, parts, inputs))
        and not (field == "next_c" and next_c is not None and not gated.differs(value, next_c))
    ]
    if not wrong:
        return "", "", set()
    first = wrong[0]
    return (f"{', '.join(wrong)} wrong", _field_hint(first, cache[STEP_CACHE.index(first)], parts, inputs), set(wrong))


def _output_hint(name: str, wrong_fields: set[str] | None) -> str:
    """The hint for a wrong next_h or next_c when no known mistake matches."""
    if wrong_fields is None:  # the cache could not be read: no clue from it
        return GATES_HINT + "; then " + OUTPUT_HINTS[name]
    if wrong_fields & set(GATES):
        return ""  # the cache line names the wrong gate
    return OUTPUT_HINTS[name]


# --------------------------------------------------------------------------- lstm_step_forward

STEP_INPUTS_HINT = (
    "lstm_step_forward must leave its arguments unchanged: an in-place operation (+=, *=, out=) "
    "wrote into one; compute into new arrays"
)


def compare_lstm_step_forward(
    report: Report, lstm_step_forward, x, prev_h, prev_c, Wx, Wh, b, reference=None, saturated: bool = False
) -> None:
    """next_h and next_c against torch.nn.LSTMCell (and the reference), the cache field by field,
    float64, the inputs unchanged; with ``saturated``, the same step with pre-activations near +-1000."""
    inputs = dict(x=x, prev_h=prev_h, prev_c=prev_c, Wx=Wx, Wh=Wh, b=b)
    given = gated.fresh_copies(inputs)
    next_h, next_c, cache = call_student(
        lstm_step_forward, *given.values(), returns=("next_h", "next_c", "cache"), copy_inputs=False
    )
    outputs = {"next_h": next_h, "next_c": next_c}
    fields = dict(zip(STEP_CACHE, cache)) if isinstance(cache, tuple) else {}
    returned = {**outputs, **{f"cache {k}": v for k, v in fields.items()}}
    slipped = bool(gated.dtype_slips(returned))
    parts = _step_parts(inputs)
    cache_problem, cache_hint, wrong_fields = _step_cache_problem(cache, parts, inputs, next_c)
    oracles = [(f"LSTMCell {d}", tuple(gated.as_numpy(v) for v in _lstm_cell(inputs, d))) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, prev_h, prev_c, Wx, Wh, b)[:2]))
    hints = (
        {}
        if slipped
        else gated.diagnose(
            outputs,
            dict(zip(outputs, oracles[0][1])),
            _output_mistakes(inputs),
            {name: _output_hint(name, wrong_fields) for name in ("next_c", "next_h")},
        )
    )
    for oracle, expected in oracles:
        for name, value in zip(outputs, expected):
            report.compare(
                name, outputs[name], value, oracle=oracle, hint=gated.shaped(outputs[name], value, hints.get(name, ""))
            )
    report.require(
        "cache", not cache_problem, cache_problem, hint=gated.unless_slipped(slipped, cache_hint), oracle="torch cpu"
    )
    gated.require_float64(report, returned)
    gated.require_unchanged(report, given, inputs, STEP_INPUTS_HINT)
    if saturated:
        large = {**inputs, "b": gated.saturating_bias(b.shape[0])}
        big_h, big_c, _ = call_student(
            lstm_step_forward,
            *gated.fresh_copies(large).values(),
            returns=("next_h", "next_c", "cache"),
            copy_inputs=False,
        )
        expected_h, expected_c = (gated.as_numpy(v) for v in _lstm_cell(large, "cpu"))
        fine = not gated.differs(next_h, oracles[0][1][0]) and not gated.differs(next_c, oracles[0][1][1])
        gated.compare_saturated(report, "next_h", big_h, expected_h, fine)
        gated.compare_saturated(report, "next_c", big_c, expected_c, fine)


@visible_check
def lstm_step_forward(report, lstm_step_forward):
    """Graded: lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) against torch.nn.LSTMCell, and its cache."""
    compare_lstm_step_forward(report, lstm_step_forward, *step_case(), saturated=True)


# --------------------------------------------------------------------------- lstm_step_backward

DC_HINT = (
    "dc, the gradient of next_c, is wrong (the i, f, g blocks of da and dprev_c all use it): it collects "
    "two paths, dnext_c and the path through next_h = o * tanh(next_c)"
)
SIGMOID_DERIVATIVE_HINT = (
    "the blocks of the three sigmoid gates (i, f, o) are wrong and g's is right: "
    "a sigmoid's local derivative is s * (1 - s), from its output s"
)
BLOCK_HINTS = {
    "i": "the i block of da is wrong: di = dc * g, times i * (1 - i)",
    "f": "the f block of da is wrong: df = dc * prev_c, times f * (1 - f)",
    "g": "the g block of da is wrong: dg = dc * i, times tanh's derivative 1 - g**2",
    "o": "the o block of da is wrong: do = dnext_h * tanh(next_c), times o * (1 - o)",
}
#: When da is right (dWx matches), what each other gradient is made of.
FROM_DA_HINTS = {
    "dx": "dx = da Wx^T (da itself is right: dWx matches)",
    "dprev_h": "dprev_h = da Wh^T (da itself is right: dWx matches)",
    "dWh": "dWh = prev_h^T da (da itself is right: dWx matches)",
    "db": "db sums da over the batch axis 0 (da itself is right: dWx matches)",
    "dprev_c": "dprev_c = dc * f: the forget gate scales the cell state's gradient on its way back",
}
STEP_UPSTREAM_HINT = (
    "lstm_step_backward must leave dnext_h and dnext_c unchanged: an in-place operation "
    "(dc = dnext_c; dc += ...) wrote into one; compute into new arrays"
)


def _step_backward_hints(grads: tuple, expected: dict) -> dict[str, str]:
    """name -> hint for the wrong gradients, from which of them are wrong (against PyTorch)."""
    actual = dict(zip(STEP_GRADIENTS, grads))
    wrong = {name for name in STEP_GRADIENTS if gated.differs(actual[name], expected[name])}
    blocks = gated.wrong_blocks(actual["dWx"], expected["dWx"], GATES) if "dWx" in wrong else []
    hints = dict.fromkeys(STEP_GRADIENTS, "")
    if not blocks:  # da is right: each wrong gradient's own formula is
        for name in wrong:
            hints[name] = FROM_DA_HINTS.get(name, "")
    elif set(blocks) == {"i", "f", "g"} and "dprev_c" in wrong:
        hints["dWx"] = DC_HINT
    elif set(blocks) == {"i", "f", "o"}:
        hints["dWx"] = SIGMOID_DERIVATIVE_HINT
    elif len(blocks) == 1:
        hints["dWx"] = BLOCK_HINTS[blocks[0]]
    else:
        hints["dWx"] = (
            f"the {', '.join(blocks)} blocks of da are wrong: da stacks the four gates' gradients, each times "
            "its local derivative, in the order i, f, g, o"
        )
    return hints


def _step_gradients(inputs: dict, upstream: dict, device: str) -> dict:
    """PyTorch autograd of one step, both outputs side by side: name -> gradient."""
    torch = _torch()

    def both_outputs(**tensors):
        parts = _cell_math(**tensors)
        return torch.cat([parts["next_h"], parts["next_c"]], dim=1)

    dout = np.concatenate([upstream["dnext_h"], upstream["dnext_c"]], axis=1)
    _, grads = forward_backward(both_outputs, inputs, dout, device=device)
    return {"d" + name: grads[name] for name in inputs}


def compare_lstm_step_backward(
    report: Report,
    lstm_step_forward,
    lstm_step_backward,
    x,
    prev_h,
    prev_c,
    Wx,
    Wh,
    b,
    dnext_h,
    dnext_c,
    reference=None,
) -> None:
    """The gradients, from the learner's own cache, against PyTorch autograd (and the reference);
    float64; dnext_h and dnext_c unchanged; the same gradients from a second call on the cache."""
    inputs = dict(x=x, prev_h=prev_h, prev_c=prev_c, Wx=Wx, Wh=Wh, b=b)
    upstream = dict(dnext_h=dnext_h, dnext_c=dnext_c)
    gated.compare_backward(
        report,
        "lstm_step_backward",
        lstm_step_forward,
        lstm_step_backward,
        inputs,
        upstream,
        forward_returns=("next_h", "next_c", "cache"),
        names=STEP_GRADIENTS,
        gradients=lambda device: _step_gradients(inputs, upstream, device),
        hints=_step_backward_hints,
        upstream_hint=STEP_UPSTREAM_HINT,
        reference=reference,
    )


@visible_check
def lstm_step_backward(report, lstm_step_forward, lstm_step_backward):
    """Graded: lstm_step_backward(dnext_h, dnext_c, cache) against PyTorch autograd."""
    compare_lstm_step_backward(report, lstm_step_forward, lstm_step_backward, *step_case(), *step_upstream())


# --------------------------------------------------------------------------- lstm_forward

FORWARD_HINT = "start from h0 and a zero cell state; carry both h and c from step to step; h[:, t] is step t's next_h"
#: hint -> the keywords of _unroll_math that make the mistake (besides STEP_MISTAKES at every step)
SEQUENCE_MISTAKES = {
    "carry the cell state c from step to step (it starts at zero only at t = 0)": dict(carry_c=False),
    "the first step starts from h0, not from zeros": dict(zero_h0=True),
}
SEQUENCE_INPUTS_HINT = (
    "lstm_forward must leave its arguments unchanged: an in-place operation (+=, *=, [:] =) "
    "wrote into one (a state that starts as h0 is h0 itself); compute into new arrays"
)


def _sequence_parts(inputs: dict) -> list[dict]:
    """Every step's quantities for fixed inputs, as NumPy arrays (for comparing a cache)."""
    torch = _torch()
    steps = _unroll_math(**{k: gated.as_tensor(v) for k, v in inputs.items()})
    out = []
    for parts in steps:
        extra = {
            "sigmoid_a": torch.sigmoid(parts["a"]),
            "tanh_a": torch.tanh(parts["a"]),
            "tanh_next_c": torch.tanh(parts["next_c"]),
        }
        out.append({k: gated.as_numpy(v) for k, v in {**parts, **extra}.items()})
    return out


def _sequence_cache_problem(cache, inputs: dict) -> tuple[str, str]:
    """(problem, hint) of a sequence cache: a list of T step caches, step t's in the step layout."""
    steps = _sequence_parts(inputs)
    prev_h = [inputs["h0"]] + [s["next_h"] for s in steps[:-1]]
    prev_c = [np.zeros_like(inputs["h0"])] + [s["next_c"] for s in steps[:-1]]
    step_inputs = [
        {
            "x": inputs["x"][:, t],
            "prev_h": prev_h[t],
            "prev_c": prev_c[t],
            "Wx": inputs["Wx"],
            "Wh": inputs["Wh"],
            "b": inputs["b"],
        }
        for t in range(len(steps))
    ]
    return gated.sequence_cache_problem(
        cache,
        "lstm_forward",
        STEP_CACHE,
        list(zip(step_inputs, steps)),
        lambda field, actual, step, parts: _field_hint(field, actual, parts, step),
    )


def compare_lstm_forward(
    report: Report, lstm_forward, x, h0, Wx, Wh, b, reference=None, saturated: bool = False
) -> None:
    """h against torch.nn.LSTM (and the reference); every step cache field by field; float64; the inputs unchanged; with ``saturated``, pre-activations near +-1000 too."""
    inputs = dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)

    def suspects():
        # The sequence's own mistakes first: a cell state not carried looks like a step that ignores it.
        tensors = {k: gated.as_tensor(v) for k, v in inputs.items()}
        return {
            hint: gated.as_numpy(_hidden_states(_unroll_math(**tensors, **kw)))
            for hint, kw in {**SEQUENCE_MISTAKES, **STEP_MISTAKES}.items()
        }

    gated.compare_sequence_forward(
        report,
        lstm_forward,
        inputs,
        oracle="LSTM",
        layer=lambda given, d: gated.as_numpy(_lstm_layer(given, d)),
        suspects=suspects,
        hint=FORWARD_HINT,
        inputs_hint=SEQUENCE_INPUTS_HINT,
        reference=reference,
        cache_problem=lambda cache: _sequence_cache_problem(cache, inputs),
        saturated_bias="b" if saturated else None,
        layout=STEP_CACHE,
    )


@visible_check
def lstm_forward(report, lstm_forward):
    """Graded: lstm_forward(x, h0, Wx, Wh, b) against torch.nn.LSTM(batch_first=True) with c0 = 0, and its cache."""
    compare_lstm_forward(report, lstm_forward, *sequence_case(), saturated=True)


# --------------------------------------------------------------------------- lstm_backward

SEQUENCE_HINTS = {
    "dx": "walk t = T-1 down to 0; step t gets dh[:, t] + the dprev_h carried from step t+1, and the carried dprev_c",
    "dh0": "dh0 is the dprev_h left after the step at t = 0",
    "dWx": "the weights are shared by every step: add up (+=) the step gradients",
    "dWh": "the weights are shared by every step: add up (+=) the step gradients",
    "db": "the bias is shared by every step: add up (+=) the step gradients",
}
#: hint -> the keywords of _unroll_math whose autograd gradients a known mistake gives
BACKWARD_MISTAKES = {
    "carry dprev_c back across steps too: the cell state is the highway the gradient travels on": dict(detach="c"),
    "carry dprev_h across steps: step t gets dh[:, t] + dprev_h from step t+1": dict(detach="h"),
    "the weights are shared by every step: add up (+=) the step gradients, do not overwrite (=)": dict(
        live_weights_at=0
    ),
}
DH_HINT = (
    "lstm_backward must leave dh unchanged: dh[:, t] += ... writes into the caller's array; "
    "add into a new one (dh[:, t] + dprev_h)"
)


def _sequence_gradients(inputs: dict, dh, device: str, **mistake) -> dict:
    _, grads = forward_backward(lambda **t: _hidden_states(_unroll_math(**t, **mistake)), inputs, dh, device=device)
    return {"d" + name: grads[name] for name in inputs if name in grads}


def compare_lstm_backward(report: Report, lstm_forward, lstm_backward, x, h0, Wx, Wh, b, dh, reference=None) -> None:
    """The gradients, from the learner's own cache, against PyTorch autograd through the unrolled
    loop (and the reference); float64; dh unchanged; the same gradients from a second call."""
    inputs = dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)

    def hints(grads, expected):
        mistakes = {
            hint: _sequence_gradients(inputs, dh, "cpu", **mistake) for hint, mistake in BACKWARD_MISTAKES.items()
        }
        return gated.diagnose(dict(zip(SEQUENCE_GRADIENTS, grads)), expected, mistakes, SEQUENCE_HINTS)

    gated.compare_backward(
        report,
        "lstm_backward",
        lstm_forward,
        lstm_backward,
        inputs,
        {"dh": dh},
        forward_returns=("h", "cache"),
        names=SEQUENCE_GRADIENTS,
        gradients=lambda device: _sequence_gradients(inputs, dh, device),
        hints=hints,
        upstream_hint=DH_HINT,
        reference=reference,
    )


@visible_check
def lstm_backward(report, lstm_forward, lstm_backward):
    """Graded: lstm_backward(dh, cache) against PyTorch autograd through the unrolled loop."""
    compare_lstm_backward(report, lstm_forward, lstm_backward, *sequence_case(), sequence_upstream())


# --------------------------------------------------------------------------- the cell as a torch module

MODULE_HINT = (
    "forward(x, h, c) is one LSTM step from the parameters Wx, Wh, b: the gates in the order i, f, g, o, "
    "the new cell state, then the new hidden state, returned as (next_h, next_c)"
)
LAYOUT_PROBLEM = "the course's layout is Wx (D, 4H), Wh (H, 4H), b (4H,)"


def module_harness(module_class) -> tuple:
    """The graded cell passes the learner's class: ``check.lstm_cell_module(LSTMCellModule)``. This
    turns it into the function the check calls, lstm_cell_module_forward(x, h, c, Wx, Wh, b) ->
    (next_h, next_c): NumPy in, NumPy out, one step of a float64 module built from the class with
    the check's weights Wx, Wh, b copied into its parameters. The module is built at each call,
    inside the check (a class that still raises NotImplementedError gets the plain message)."""

    def lstm_cell_module_forward(x, h, c, Wx, Wh, b):
        torch = _torch()
        module = module_class(Wx.shape[0], Wh.shape[0]).to(torch.float64)
        parameters = dict(module.named_parameters())
        if set(parameters) != {"Wx", "Wh", "b"}:
            raise CheckFailed(
                f"LSTMCellModule should have the parameters Wx, Wh and b (torch.nn.Parameter); "
                f"it has {sorted(parameters)}"
            )
        with torch.no_grad():
            for name, value in (("Wx", Wx), ("Wh", Wh), ("b", b)):
                if tuple(parameters[name].shape) != value.shape:
                    raise CheckFailed(
                        f"LSTMCellModule.{name} has shape {tuple(parameters[name].shape)}, expected "
                        f"{value.shape}: {LAYOUT_PROBLEM}"
                    )
                parameters[name].copy_(torch.from_numpy(value))
            result = module(torch.from_numpy(x), torch.from_numpy(h), torch.from_numpy(c))
        if not isinstance(result, tuple) or len(result) != 2:
            raise CheckFailed("LSTMCellModule.forward(x, h, c) should return (next_h, next_c)")
        return tuple(gated.as_numpy(t) if isinstance(t, torch.Tensor) else t for t in result)

    return (lstm_cell_module_forward,)


def compare_lstm_cell_module(report: Report, lstm_cell_module_forward, x, h0, Wx, Wh, b, reference=None) -> None:
    """One step against torch.nn.LSTMCell, then the module fed its own (h, c) over the whole
    sequence against torch.nn.LSTM(batch_first=True) with c0 = 0."""
    step = dict(x=x[:, 0], prev_h=h0, prev_c=0.5 * np.tanh(h0), Wx=Wx, Wh=Wh, b=b)
    first = call_student(lstm_cell_module_forward, *step.values(), name="LSTMCellModule", returns=("next_h", "next_c"))
    oracles = [(f"LSTMCell {d}", tuple(gated.as_numpy(v) for v in _lstm_cell(step, d))) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(*step.values())[:2]))
    outputs = dict(zip(("next_h", "next_c"), first))
    hints = gated.diagnose(
        outputs, dict(zip(outputs, oracles[0][1])), _output_mistakes(step), dict.fromkeys(outputs, MODULE_HINT)
    )
    for oracle, expected in oracles:
        for name, value in zip(outputs, expected):
            report.compare(
                name, outputs[name], value, oracle=oracle, hint=gated.shaped(outputs[name], value, hints[name])
            )
    states, h, c = [], h0, np.zeros_like(h0)
    for t in range(x.shape[1]):
        h, c = call_student(
            lstm_cell_module_forward, x[:, t], h, c, Wx, Wh, b, name="LSTMCellModule", returns=("next_h", "next_c")
        )
        if not isinstance(h, np.ndarray) or h.shape != h0.shape or not isinstance(c, np.ndarray) or c.shape != h0.shape:
            states = None
            break
        states.append(h)
    unrolled = None if states is None else np.stack(states, axis=1)
    tensors = {k: gated.as_tensor(v) for k, v in dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b).items()}
    sequence_suspects = {
        hint: gated.as_numpy(_hidden_states(_unroll_math(**tensors, **kw))) for hint, kw in STEP_MISTAKES.items()
    }
    for d in devices():
        report.compare(
            "h (T)",
            unrolled,
            gated.as_numpy(_lstm_layer(dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b), d)),
            oracle=f"LSTM {d}",
            hint="the same cell at every step, fed its own h and c",
            suspects=sequence_suspects,
        )


@visible_check(harness=module_harness)
def lstm_cell_module(report, lstm_cell_module_forward):
    """Graded: the learner's LSTMCellModule class, one step against torch.nn.LSTMCell and fed its
    own (h, c) over a sequence against torch.nn.LSTM(batch_first=True)."""
    compare_lstm_cell_module(report, lstm_cell_module_forward, *sequence_case())
