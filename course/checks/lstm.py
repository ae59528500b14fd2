"""Checks for lesson 04 (the LSTM).

Each public function is what one graded cell calls, e.g.
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

Hints name the wrong quantity and, where the pattern of wrong quantities shows it, the
mistake. This module holds no NumPy version of a graded function: its PyTorch formulas take
and return torch tensors (or dicts of them), private helpers that stand in for no graded function.
Layout: a = x Wx + h Wh + b (N, 4H), split i, f, g, o; c' = f c + i g; h' = o tanh(c').
"""
from __future__ import annotations

import numpy as np

from ..torch_layout import load_into
from .core import CheckFailed, Report, call_student, compare_gradients, describe_mismatch, linspace_array
from .torch_oracle import devices, forward_backward, torch_module as _torch

GATES = "ifgo"
#: The step cache's layout, as lstm_step_forward's docstring states it.
STEP_CACHE = ("x", "prev_h", "prev_c", "Wx", "Wh", "i", "f", "g", "o", "next_c")
STEP_GRADIENTS = ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
SEQUENCE_GRADIENTS = ("dx", "dh0", "dWx", "dWh", "db")
TOL = 1e-7
#: Size of the saturating pre-activations: exp(1000) overflows float64 (its limit is ~709).
LARGE = 1000.0


# --------------------------------------------------------------------------- contract helpers (lessons 04 and 05)

FLOAT64_HINT = "the inputs are float64: keep every array float64 (no dtype=np.float32, no .astype(np.float32))"
OVERFLOW_HINT = ("pre-activations near +-1000 make exp overflow (nan or inf): use np.tanh, and a sigmoid that never "
                 "takes exp of a large positive number (the given sigmoid)")
SATURATION_HINT = "wrong only for pre-activations near +-1000: the gates must saturate to 0, 1 or -1 there"


def differs(actual, expected, tol: float = TOL) -> bool:
    """Whether the learner's value is wrong (anything that cannot be compared is)."""
    try:
        return bool(describe_mismatch(actual, expected, tol)[0])
    except Exception:  # an object that is no array at all
        return True


def wrong_blocks(actual, expected, names: str) -> list[str]:
    """The gate blocks (equal slices of the last axis, named in order) where actual is wrong."""
    expected = np.asarray(expected)
    try:
        actual = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return list(names)
    if actual.shape != expected.shape:
        return list(names)
    width = expected.shape[-1] // len(names)
    return [name for k, name in enumerate(names)
            if differs(actual[..., k * width:(k + 1) * width], expected[..., k * width:(k + 1) * width])]


def fresh_copies(arrays: dict) -> dict:
    """Arrays for the learner's function to receive as they are (not copied again by call_student):
    afterwards they show whether the function wrote into its arguments."""
    return {name: np.array(value, copy=True) for name, value in arrays.items()}


def require_unchanged(report: Report, given: dict, originals: dict, hint: str) -> None:
    """One line: the arrays the learner's function received are as they were."""
    changed = [name for name, value in given.items() if not np.array_equal(value, originals[name], equal_nan=True)]
    report.require("inputs", not changed, f"{', '.join(changed)} left changed", hint=hint, oracle="unchanged")


def dtype_slips(arrays: dict) -> list[str]:
    """'name is float32' for every returned array that is not float64."""
    return [f"{name} is {value.dtype}" for name, value in arrays.items()
            if isinstance(value, np.ndarray) and value.dtype != np.float64]


def require_float64(report: Report, arrays: dict) -> None:
    """One line: every returned array is float64, as the docstrings promise for float64 inputs."""
    slips = dtype_slips(arrays)
    report.require("dtype", not slips, ", ".join(slips[:3]) + " (float64 expected)", hint=FLOAT64_HINT, oracle="float64")


def diagnose(actual: dict, expected: dict, mistakes: dict[str, dict], generic: dict[str, str]) -> dict[str, str]:
    """name -> hint for the wrong quantities, one mistake named once: a known mistake whose values
    match every wrong quantity is named on the first of them; otherwise the generic hint of the
    first wrong quantity in ``generic``'s order, the one the others follow from (a wrong dx in a
    sequence backward makes the weights' gradients wrong too: "add them up" would mislead).
    ``mistakes``: hint -> {name: the value it gives}."""
    wrong = [name for name in actual if differs(actual[name], expected[name])]
    hints = dict.fromkeys(actual, "")
    if not wrong:
        return hints
    for hint, values in mistakes.items():
        if all(name in values and not differs(actual[name], values[name]) for name in wrong):
            hints[wrong[0]] = hint
            return hints
    root = next(name for name in list(generic) + wrong if name in wrong)
    hints[root] = generic.get(root, "")
    return hints


def unless_slipped(slipped: bool, hints):
    """Hints (or suspects) for value lines, or none when a dtype slip explains the values: a
    float32 result is off by ~1e-7, and the dtype line names that mistake."""
    if not slipped:
        return hints
    return {} if isinstance(hints, dict) else ""


def require_repeatable(report: Report, first, second, hint: str) -> None:
    """One line: a backward called twice on one cache returns the same gradients."""

    def same(a, b):
        try:
            a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
            return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-12, atol=0.0, equal_nan=True))
        except (TypeError, ValueError):
            return True  # not numbers at all: the gradient lines already say so

    report.require("again", all(same(a, b) for a, b in zip(first, second)),
                   "a second call on the same cache returned other values", hint=hint, oracle="same cache")


SHAPE_HINT = "return the documented shape, also when N, T, D or H is 1 (no np.squeeze, no keepdims=True)"


def shaped(actual, expected, hint: str) -> str:
    """``hint``, or the shape hint when the learner returned an array of another shape."""
    if isinstance(actual, np.ndarray) and actual.shape != np.shape(expected):
        return SHAPE_HINT
    return hint


def shaped_hints(names, actual, expected: dict, hints: dict) -> dict:
    """Gradient hints, each replaced by the shape hint where that gradient has another shape."""
    return {name: shaped(value, expected[name], hints.get(name, "")) for name, value in zip(names, actual)}


def saturating_bias(size: int) -> np.ndarray:
    """A bias of +-LARGE, alternating along the units: every pre-activation lands near +-1000."""
    return LARGE * np.where(np.arange(size) % 2, -1.0, 1.0)


def compare_saturated(report: Report, quantity: str, actual, expected, fine_otherwise: bool) -> None:
    """The saturated case's line: an overflow hint only when the learner's values overflowed."""
    try:
        finite = bool(np.all(np.isfinite(np.asarray(actual, dtype=np.float64))))
    except (TypeError, ValueError):
        finite = True
    hint = OVERFLOW_HINT if not finite else (SATURATION_HINT if fine_otherwise else "")
    report.compare(quantity, actual, expected, oracle="large |a|", hint=hint)


def stack_field(cache, position: int):
    """Field ``position`` of every step cache, stacked over time; None when that is impossible."""
    try:
        return np.stack([np.asarray(step[position], dtype=np.float64) for step in cache])
    except Exception:  # a field missing, or of different shapes at different steps
        return None


def shared_across_steps(cache, position: int) -> bool:
    """Whether two steps' caches hold the very same array (or views of one) in this field."""
    fields = [step[position] for step in cache if isinstance(step[position], np.ndarray)]
    return any(np.shares_memory(a, b) for k, a in enumerate(fields) for b in fields[k + 1:])


ALIAS_HINT = ("every step's cache holds the same {field} array, updated in place (+=, *=, [:] =): "
              "give each step its own array")


# --------------------------------------------------------------------------- PyTorch formulas (tensors in, tensors out)


def _tensor(value, device: str = "cpu"):
    torch = _torch()
    return torch.tensor(np.asarray(value, dtype=np.float64), dtype=torch.float64, device=device)


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def _cell_math(x, prev_h, prev_c, Wx, Wh, b, *, order: str = GATES, mistake: str | None = None) -> dict:
    """One LSTM step as PyTorch operations on tensors, or a known mistake's version of it (for
    the hints): a dict of tensors, the pre-activation a, the gates i, f, g, o, next_c, next_h."""
    torch = _torch()
    a = x @ Wx + prev_h @ Wh + b
    blocks = dict(zip(order, a.chunk(4, dim=1)))
    squash = {"i": torch.sigmoid, "f": torch.sigmoid, "g": torch.sigmoid if mistake == "g_sigmoid" else torch.tanh,
              "o": torch.sigmoid}
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


def _unroll_math(x, h0, Wx, Wh, b, *, carry_c: bool = True, zero_h0: bool = False, detach: str = "",
                 live_weights_at: int | None = None, **step) -> list[dict]:
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
    parts = _cell_math(**{k: _tensor(v) for k, v in inputs.items()})
    extra = {"sigmoid_a": torch.sigmoid(parts["a"]), "tanh_a": torch.tanh(parts["a"]), "tanh_next_c": torch.tanh(parts["next_c"])}
    return {k: _numpy(v) for k, v in {**parts, **extra}.items()}


def _lstm_cell(inputs: dict, device: str):
    """torch.nn.LSTMCell in float64 with the course's weights: (next_h, next_c) tensors."""
    torch = _torch()
    cell = load_into(torch.nn.LSTMCell(inputs["Wx"].shape[0], inputs["Wh"].shape[0]).to(device=device, dtype=torch.float64),
                     inputs["Wx"], inputs["Wh"], inputs["b"])
    with torch.no_grad():
        return cell(_tensor(inputs["x"], device), (_tensor(inputs["prev_h"], device), _tensor(inputs["prev_c"], device)))


def _lstm_layer(inputs: dict, device: str):
    """torch.nn.LSTM(batch_first=True) in float64 with the course's weights and c0 = 0: h as a tensor."""
    torch = _torch()
    layer = load_into(torch.nn.LSTM(inputs["Wx"].shape[0], inputs["Wh"].shape[0], batch_first=True)
                      .to(device=device, dtype=torch.float64), inputs["Wx"], inputs["Wh"], inputs["b"])
    h0 = _tensor(inputs["h0"], device)[None]
    with torch.no_grad():
        return layer(_tensor(inputs["x"], device), (h0, torch.zeros_like(h0)))[0]


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
    tensors = {k: _tensor(v) for k, v in inputs.items()}
    out = {}
    for hint, mistake in STEP_MISTAKES.items():
        parts = _cell_math(**tensors, **mistake)
        out[hint] = {name: _numpy(parts[name]) for name in ("next_h", "next_c")}
    return out


def _field_suspects(field: str, parts: dict, inputs: dict) -> dict[str, np.ndarray]:
    """hint -> what a known mistake stores in this cache field."""
    H = parts["next_c"].shape[1]
    block = {k: slice(n * H, (n + 1) * H) for n, k in enumerate(GATES)}
    if field in GATES:
        right, wrong = ("tanh_a", "sigmoid_a") if field == "g" else ("sigmoid_a", "tanh_a")
        kind = "tanh" if field == "g" else "sigmoid"
        suspects = {f"{ORDER_HINT} (block {GATES.index(other)} is {other})": parts[right][:, block[other]]
                    for other in GATES if other != field}
        suspects[f"{field} is a {kind} of its block, not a {'sigmoid' if kind == 'tanh' else 'tanh'}"] = parts[wrong][:, block[field]]
        suspects[f"the cache holds {field} after its {kind}, not the pre-activation"] = parts["a"][:, block[field]]
        return suspects
    if field == "next_c":
        return {"the cache holds next_c itself, not tanh(next_c)": parts["tanh_next_c"],
                "the cache's next_c is prev_c, the step's input: store the new cell state": inputs["prev_c"],
                "the cache's next_c holds next_h: store the new cell state": parts["next_h"]}
    if field == "prev_c":
        return {"the cache's prev_c has become next_c: prev_c was updated in place (c *= f, c += ...); "
                "compute next_c into a new array": parts["next_c"]}
    if field == "prev_h":
        return {"the cache's prev_h holds next_h: store the state the step started from": parts["next_h"]}
    return {}


def _field_hint(field: str, actual, parts: dict, inputs: dict) -> str:
    for hint, value in _field_suspects(field, parts, inputs).items():
        if not differs(actual, value):
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
        return (f"got a {type(cache).__name__}{size}, expected the tuple ({', '.join(STEP_CACHE)})",
                "store the cache in the layout lstm_step_forward's docstring states", None)
    wrong = [field for field, value in zip(STEP_CACHE, cache) if differs(value, _expected_field(field, parts, inputs))
             and not (field == "next_c" and next_c is not None and not differs(value, next_c))]
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

STEP_INPUTS_HINT = ("lstm_step_forward must leave its arguments unchanged: an in-place operation (+=, *=, out=) "
                    "wrote into one; compute into new arrays")


def compare_lstm_step_forward(report: Report, lstm_step_forward, x, prev_h, prev_c, Wx, Wh, b, reference=None,
                              saturated: bool = False) -> None:
    """next_h and next_c against torch.nn.LSTMCell (and the reference), the cache field by field,
    float64, the inputs unchanged; with ``saturated``, the same step with pre-activations near +-1000."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    inputs = dict(x=x, prev_h=prev_h, prev_c=prev_c, Wx=Wx, Wh=Wh, b=b)
    given = fresh_copies(inputs)
    next_h, next_c, cache = call_student(lstm_step_forward, *given.values(), returns=("next_h", "next_c", "cache"),
                                         copy_inputs=False)
    outputs = {"next_h": next_h, "next_c": next_c}
    fields = dict(zip(STEP_CACHE, cache)) if isinstance(cache, tuple) else {}
    returned = {**outputs, **{f"cache {k}": v for k, v in fields.items()}}
    slipped = bool(dtype_slips(returned))
    parts = _step_parts(inputs)
    cache_problem, cache_hint, wrong_fields = _step_cache_problem(cache, parts, inputs, next_c)
    oracles = [(f"LSTMCell {d}", tuple(_numpy(v) for v in _lstm_cell(inputs, d))) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, prev_h, prev_c, Wx, Wh, b)[:2]))
    hints = {} if slipped else diagnose(outputs, dict(zip(outputs, oracles[0][1])), _output_mistakes(inputs),
                                        {name: _output_hint(name, wrong_fields) for name in ("next_c", "next_h")})
    for oracle, expected in oracles:
        for name, value in zip(outputs, expected):
            report.compare(name, outputs[name], value, oracle=oracle, hint=shaped(outputs[name], value, hints.get(name, "")))
    report.require("cache", not cache_problem, cache_problem, hint=unless_slipped(slipped, cache_hint), oracle="torch cpu")
    require_float64(report, returned)
    require_unchanged(report, given, inputs, STEP_INPUTS_HINT)
    if saturated:
        large = {**inputs, "b": saturating_bias(b.shape[0])}
        big_h, big_c, _ = call_student(lstm_step_forward, *fresh_copies(large).values(), returns=("next_h", "next_c", "cache"),
                                       copy_inputs=False)
        expected_h, expected_c = (_numpy(v) for v in _lstm_cell(large, "cpu"))
        fine = not differs(next_h, oracles[0][1][0]) and not differs(next_c, oracles[0][1][1])
        compare_saturated(report, "next_h", big_h, expected_h, fine)
        compare_saturated(report, "next_c", big_c, expected_c, fine)


def _step_inputs():
    N, D, H = 3, 4, 2  # D != H, 4H != D
    return (linspace_array((N, D), -0.8, 0.9), linspace_array((N, H), 0.6, -0.5), linspace_array((N, H), -0.7, 0.8),
            linspace_array((D, 4 * H), -0.6, 0.7), linspace_array((H, 4 * H), 0.5, -0.45), linspace_array((4 * H,), -0.3, 0.4))


def lstm_step_forward(lstm_step_forward):
    """Graded: lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) against torch.nn.LSTMCell, and its cache."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("lstm_step_forward")
    compare_lstm_step_forward(report, lstm_step_forward, *_step_inputs(), saturated=True)
    report.finish()


# --------------------------------------------------------------------------- lstm_step_backward

DC_HINT = ("dc, the gradient of next_c, is wrong (the i, f, g blocks of da and dprev_c all use it): it collects "
           "two paths, dnext_c and the path through next_h = o * tanh(next_c)")
SIGMOID_DERIVATIVE_HINT = ("the blocks of the three sigmoid gates (i, f, o) are wrong and g's is right: "
                           "a sigmoid's local derivative is s * (1 - s), from its output s")
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
STEP_UPSTREAM_HINT = ("lstm_step_backward must leave dnext_h and dnext_c unchanged: an in-place operation "
                      "(dc = dnext_c; dc += ...) wrote into one; compute into new arrays")
AGAIN_HINT = "{function} changed its cache (an in-place operation such as out=, +=, *= on a cached array): work on new arrays"


def _step_backward_hints(grads: tuple, expected: dict) -> dict[str, str]:
    """name -> hint for the wrong gradients, from which of them are wrong (against PyTorch)."""
    actual = dict(zip(STEP_GRADIENTS, grads))
    wrong = {name for name in STEP_GRADIENTS if differs(actual[name], expected[name])}
    blocks = wrong_blocks(actual["dWx"], expected["dWx"], GATES) if "dWx" in wrong else []
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
        hints["dWx"] = (f"the {', '.join(blocks)} blocks of da are wrong: da stacks the four gates' gradients, each times "
                        "its local derivative, in the order i, f, g, o")
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


def compare_lstm_step_backward(report: Report, lstm_step_forward, lstm_step_backward, x, prev_h, prev_c, Wx, Wh, b,
                               dnext_h, dnext_c, reference=None) -> None:
    """The gradients, from the learner's own cache, against PyTorch autograd (and the reference);
    float64; dnext_h and dnext_c unchanged; the same gradients from a second call on the cache."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    inputs = dict(x=x, prev_h=prev_h, prev_c=prev_c, Wx=Wx, Wh=Wh, b=b)
    _, _, cache = call_student(lstm_step_forward, *fresh_copies(inputs).values(), returns=("next_h", "next_c", "cache"),
                               copy_inputs=False)
    upstream = dict(dnext_h=dnext_h, dnext_c=dnext_c)
    given = fresh_copies(upstream)
    grads = call_student(lstm_step_backward, *given.values(), cache, returns=STEP_GRADIENTS, copy_inputs=False)
    again = call_student(lstm_step_backward, *fresh_copies(upstream).values(), cache, returns=STEP_GRADIENTS,
                         copy_inputs=False)
    oracles = [(f"torch {d}", _step_gradients(inputs, upstream, d)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", dict(zip(STEP_GRADIENTS, reference[1](dnext_h, dnext_c, reference[0](x, prev_h, prev_c, Wx, Wh, b)[2])))))
    slipped = bool(dtype_slips(dict(zip(STEP_GRADIENTS, grads))))
    hints = dict.fromkeys(STEP_GRADIENTS, "") if slipped else _step_backward_hints(grads, oracles[0][1])
    compare_gradients(report, STEP_GRADIENTS, grads, oracles, shaped_hints(STEP_GRADIENTS, grads, oracles[0][1], hints))
    require_float64(report, dict(zip(STEP_GRADIENTS, grads)))
    require_unchanged(report, given, upstream, STEP_UPSTREAM_HINT)
    require_repeatable(report, grads, again, AGAIN_HINT.format(function="lstm_step_backward"))


def lstm_step_backward(lstm_step_forward, lstm_step_backward):
    """Graded: lstm_step_backward(dnext_h, dnext_c, cache) against PyTorch autograd."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("lstm_step_backward")
    dnext_h, dnext_c = linspace_array((3, 2), 0.7, -0.9), linspace_array((3, 2), -0.5, 0.6)
    compare_lstm_step_backward(report, lstm_step_forward, lstm_step_backward, *_step_inputs(), dnext_h, dnext_c)
    report.finish()


# --------------------------------------------------------------------------- lstm_forward

FORWARD_HINT = ("start from h0 and a zero cell state; carry both h and c from step to step; "
                "h[:, t] is step t's next_h")
#: hint -> the keywords of _unroll_math that make the mistake (besides STEP_MISTAKES at every step)
SEQUENCE_MISTAKES = {
    "carry the cell state c from step to step (it starts at zero only at t = 0)": dict(carry_c=False),
    "the first step starts from h0, not from zeros": dict(zero_h0=True),
}
SEQUENCE_INPUTS_HINT = ("lstm_forward must leave its arguments unchanged: an in-place operation (+=, *=, [:] =) "
                        "wrote into one (a state that starts as h0 is h0 itself); compute into new arrays")


def _sequence_parts(inputs: dict) -> list[dict]:
    """Every step's quantities for fixed inputs, as NumPy arrays (for comparing a cache)."""
    torch = _torch()
    steps = _unroll_math(**{k: _tensor(v) for k, v in inputs.items()})
    out = []
    for t, parts in enumerate(steps):
        extra = {"sigmoid_a": torch.sigmoid(parts["a"]), "tanh_a": torch.tanh(parts["a"]),
                 "tanh_next_c": torch.tanh(parts["next_c"])}
        out.append({k: _numpy(v) for k, v in {**parts, **extra}.items()})
    return out


def _sequence_cache_problem(cache, inputs: dict, steps: list[dict]) -> tuple[str, str]:
    """(problem, hint) of a sequence cache: a list of T step caches, step t's in the step layout."""
    N, T, _ = inputs["x"].shape
    layout = "a list of T step caches, each the tuple (" + ", ".join(STEP_CACHE) + ")"
    if not isinstance(cache, (list, tuple)) or len(cache) != T or not all(
            isinstance(step, tuple) and len(step) == len(STEP_CACHE) for step in cache):
        return f"not {layout}", f"store the cache as lstm_forward's docstring states: {layout}"
    prev_h = np.concatenate([inputs["h0"][:, None], np.stack([s["next_h"] for s in steps], axis=1)[:, :-1]], axis=1)
    prev_c = np.stack([np.zeros_like(inputs["h0"])] + [s["next_c"] for s in steps[:-1]], axis=1)
    for position, field in enumerate(STEP_CACHE):
        expected = {"x": inputs["x"].transpose(1, 0, 2), "prev_h": prev_h.transpose(1, 0, 2),
                    "prev_c": prev_c.transpose(1, 0, 2), "Wx": np.stack([inputs["Wx"]] * T),
                    "Wh": np.stack([inputs["Wh"]] * T)}.get(field)
        if expected is None:
            expected = np.stack([s[field] for s in steps])
        actual = stack_field(cache, position)
        if actual is None or differs(actual, expected):
            wrong_steps = [t for t in range(T) if differs(cache[t][position], expected[t])]
            t = wrong_steps[0] if wrong_steps else 0
            if field not in ("Wx", "Wh") and T > 1 and shared_across_steps(cache, position):
                hint = ALIAS_HINT.format(field=field)
            else:
                step_inputs = {"x": inputs["x"][:, t], "prev_h": prev_h[:, t], "prev_c": prev_c[:, t],
                               "Wx": inputs["Wx"], "Wh": inputs["Wh"], "b": inputs["b"]}
                hint = _field_hint(field, cache[t][position], steps[t], step_inputs)
            return f"cache[{t}]: {field} wrong (step caches {wrong_steps})", hint
    return "", ""


def compare_lstm_forward(report: Report, lstm_forward, x, h0, Wx, Wh, b, reference=None, check_cache: bool = True,
                         saturated: bool = False) -> None:
    """h against torch.nn.LSTM (and the reference); with ``check_cache`` every step cache field by
    field; float64; the inputs unchanged; with ``saturated``, pre-activations near +-1000 too."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    inputs = dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    given = fresh_copies(inputs)
    h, cache = call_student(lstm_forward, *given.values(), returns=("h", "cache"), copy_inputs=False)
    tensors = {k: _tensor(v) for k, v in inputs.items()}
    # The sequence's own mistakes first: a cell state not carried looks like a step that ignores it.
    suspects = {hint: _numpy(_hidden_states(_unroll_math(**tensors, **kw)))
                for hint, kw in {**SEQUENCE_MISTAKES, **STEP_MISTAKES}.items()}
    oracles = [(f"LSTM {d}", _numpy(_lstm_layer(inputs, d))) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(x, h0, Wx, Wh, b)[0]))
    slipped = bool(dtype_slips({"h": h}))
    for oracle, expected in oracles:
        report.compare("h", h, expected, oracle=oracle, hint=shaped(h, expected, unless_slipped(slipped, FORWARD_HINT)),
                       suspects=unless_slipped(slipped, suspects))
    arrays = {"h": h}
    # The cache is checked along the right states; with h wrong its fields would differ anyway.
    if check_cache and not differs(h, oracles[0][1]):
        problem, hint = _sequence_cache_problem(cache, inputs, _sequence_parts(inputs))
        report.require("cache", not problem, problem, hint=hint, oracle="torch cpu")
        if not problem:
            arrays.update({f"cache[{t}] {field}": value for t, step in enumerate(cache) for field, value in zip(STEP_CACHE, step)})
    require_float64(report, arrays)
    require_unchanged(report, given, inputs, SEQUENCE_INPUTS_HINT)
    if saturated:
        large = {**inputs, "b": saturating_bias(b.shape[0])}
        big_h, _ = call_student(lstm_forward, *fresh_copies(large).values(), returns=("h", "cache"), copy_inputs=False)
        compare_saturated(report, "h", big_h, _numpy(_lstm_layer(large, "cpu")), not differs(h, oracles[0][1]))


def _sequence_inputs():
    N, T, D, H = 2, 4, 3, 2
    return (linspace_array((N, T, D), -1.0, 1.1), linspace_array((N, H), 0.5, -0.6), linspace_array((D, 4 * H), -0.7, 0.8),
            linspace_array((H, 4 * H), 0.6, -0.55), linspace_array((4 * H,), -0.35, 0.5))


def lstm_forward(lstm_forward):
    """Graded: lstm_forward(x, h0, Wx, Wh, b) against torch.nn.LSTM(batch_first=True) with c0 = 0, and its cache."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("lstm_forward")
    compare_lstm_forward(report, lstm_forward, *_sequence_inputs(), saturated=True)
    report.finish()


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
    "the weights are shared by every step: add up (+=) the step gradients, do not overwrite (=)": dict(live_weights_at=0),
}
DH_HINT = ("lstm_backward must leave dh unchanged: dh[:, t] += ... writes into the caller's array; "
           "add into a new one (dh[:, t] + dprev_h)")


def _sequence_gradients(inputs: dict, dh, device: str, **mistake) -> dict:
    _, grads = forward_backward(lambda **t: _hidden_states(_unroll_math(**t, **mistake)), inputs, dh, device=device)
    return {"d" + name: grads[name] for name in inputs if name in grads}


def compare_lstm_backward(report: Report, lstm_forward, lstm_backward, x, h0, Wx, Wh, b, dh, reference=None) -> None:
    """The gradients, from the learner's own cache, against PyTorch autograd through the unrolled
    loop (and the reference); float64; dh unchanged; the same gradients from a second call."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    inputs = dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    _, cache = call_student(lstm_forward, *fresh_copies(inputs).values(), returns=("h", "cache"), copy_inputs=False)
    given = fresh_copies({"dh": dh})
    grads = call_student(lstm_backward, given["dh"], cache, returns=SEQUENCE_GRADIENTS, copy_inputs=False)
    again = call_student(lstm_backward, np.array(dh, copy=True), cache, returns=SEQUENCE_GRADIENTS, copy_inputs=False)
    oracles = [(f"torch {d}", _sequence_gradients(inputs, dh, d)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", dict(zip(SEQUENCE_GRADIENTS, reference[1](dh, reference[0](x, h0, Wx, Wh, b)[1])))))
    actual = dict(zip(SEQUENCE_GRADIENTS, grads))
    if dtype_slips(actual):
        hints = dict.fromkeys(SEQUENCE_GRADIENTS, "")
    else:
        mistakes = {hint: _sequence_gradients(inputs, dh, "cpu", **mistake) for hint, mistake in BACKWARD_MISTAKES.items()}
        hints = diagnose(actual, oracles[0][1], mistakes, SEQUENCE_HINTS)
    compare_gradients(report, SEQUENCE_GRADIENTS, grads, oracles, shaped_hints(SEQUENCE_GRADIENTS, grads, oracles[0][1], hints))
    require_float64(report, dict(zip(SEQUENCE_GRADIENTS, grads)))
    require_unchanged(report, given, {"dh": dh}, DH_HINT)
    require_repeatable(report, grads, again, AGAIN_HINT.format(function="lstm_backward"))


def lstm_backward(lstm_forward, lstm_backward):
    """Graded: lstm_backward(dh, cache) against PyTorch autograd through the unrolled loop."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("lstm_backward")
    compare_lstm_backward(report, lstm_forward, lstm_backward, *_sequence_inputs(), linspace_array((2, 4, 2), 0.8, -0.7))
    report.finish()


# --------------------------------------------------------------------------- the cell as a torch module

MODULE_HINT = ("forward(x, h, c) is one LSTM step from the parameters Wx, Wh, b: the gates in the order i, f, g, o, "
               "the new cell state, then the new hidden state, returned as (next_h, next_c)")


def compare_lstm_cell_module(report: Report, lstm_cell_module_forward, x, h0, Wx, Wh, b, reference=None) -> None:
    """One step against torch.nn.LSTMCell, then the module fed its own (h, c) over the whole
    sequence against torch.nn.LSTM(batch_first=True) with c0 = 0."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    step = dict(x=x[:, 0], prev_h=h0, prev_c=0.5 * np.tanh(h0), Wx=Wx, Wh=Wh, b=b)
    first = call_student(lstm_cell_module_forward, *step.values(), returns=("next_h", "next_c"))
    oracles = [(f"LSTMCell {d}", tuple(_numpy(v) for v in _lstm_cell(step, d))) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(*step.values())[:2]))
    outputs = dict(zip(("next_h", "next_c"), first))
    hints = diagnose(outputs, dict(zip(outputs, oracles[0][1])), _output_mistakes(step), dict.fromkeys(outputs, MODULE_HINT))
    for oracle, expected in oracles:
        for name, value in zip(outputs, expected):
            report.compare(name, outputs[name], value, oracle=oracle, hint=shaped(outputs[name], value, hints[name]))
    states, h, c = [], h0, np.zeros_like(h0)
    for t in range(x.shape[1]):
        h, c = call_student(lstm_cell_module_forward, x[:, t], h, c, Wx, Wh, b, returns=("next_h", "next_c"))
        if not isinstance(h, np.ndarray) or h.shape != h0.shape or not isinstance(c, np.ndarray) or c.shape != h0.shape:
            states = None
            break
        states.append(h)
    unrolled = None if states is None else np.stack(states, axis=1)
    tensors = {k: _tensor(v) for k, v in dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b).items()}
    sequence_suspects = {hint: _numpy(_hidden_states(_unroll_math(**tensors, **kw))) for hint, kw in STEP_MISTAKES.items()}
    for d in devices():
        report.compare("h (T)", unrolled, _numpy(_lstm_layer(dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b), d)), oracle=f"LSTM {d}",
                       hint="the same cell at every step, fed its own h and c", suspects=sequence_suspects)


def lstm_cell_module(lstm_cell_module_forward):
    """Graded: the LSTMCellModule, run through the notebook's lstm_cell_module_forward adapter,
    against torch.nn.LSTMCell (one step) and torch.nn.LSTM(batch_first=True) (unrolled)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("lstm_cell_module")
    compare_lstm_cell_module(report, lstm_cell_module_forward, *_sequence_inputs())
    report.finish()


__all__ = ["CheckFailed", "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward", "lstm_cell_module"]
