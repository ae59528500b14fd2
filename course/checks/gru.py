"""Checks for lesson 05 (the gated recurrent unit).

Each check is what one graded cell calls, e.g.
``check.gru_step_backward(gru_step_forward, gru_step_backward)``. Visible checks use fixed
inputs (D != H, N != T, a nonzero h0, two different biases) and oracles a learner could
reproduce: ``torch.nn.GRUCell`` and ``torch.nn.GRU(batch_first=True)`` in float64 for the
outputs, PyTorch autograd (on every available device) for the gradients. As in lesson 04 (what
both check alike lives in course.checks.gated), each check covers its function's whole
contract: the outputs; a forward's cache, in the layout its docstring states, each field
against the values PyTorch computes; float64 results; the inputs left unchanged; saturated
gates (pre-activations near +-1000); and for a backward, the same gradients when called twice
on one cache.

Known mistakes (the update gate's roles swapped, the reset applied before the matmul, bh_n
outside the reset product, the gates in another order, a dropped gradient path) are recognised
and named in the hint. This module holds no NumPy version of a graded function: its PyTorch
formulas take and return torch tensors (or dicts of them).
"""

from __future__ import annotations

import numpy as np

from ..torch_layout import load_into
from . import gated
from .core import Report, call_student, linspace_array, visible_check
from .torch_oracle import devices, forward_backward
from .torch_oracle import torch_module as _torch

BLOCKS = "rzn"
#: The step cache's layout, as gru_step_forward's docstring states it (hn = prev_h Wh_n + bh_n).
STEP_CACHE = ("x", "prev_h", "Wx", "Wh", "r", "z", "n", "hn")
STEP_NAMES = ("dx", "dprev_h", "dWx", "dWh", "dbx", "dbh")
SEQ_NAMES = ("dx", "dh0", "dWx", "dWh", "dbx", "dbh")


# --------------------------------------------------------------------------- the cases


def step_case(rng: np.random.Generator | None = None, shape=None) -> tuple[np.ndarray, ...]:
    """x, prev_h, Wx, Wh, bx, bh of one step: fixed, readable values (the visible check), or
    random ones drawn from ``rng`` in ``shape`` (N, T, D, H), T unused (the hidden check)."""
    if rng is None:
        N, D, H = 3, 4, 5
        return (
            linspace_array((N, D), -0.8, 0.9),
            linspace_array((N, H), 0.6, -0.5),
            linspace_array((D, 3 * H), -0.6, 0.7),
            linspace_array((H, 3 * H), 0.5, -0.55),
            linspace_array((3 * H,), -0.3, 0.4),
            linspace_array((3 * H,), 0.35, -0.25),
        )
    N, _, D, H = shape
    return (rng.normal(size=(N, D)), gated.random_state(rng, N, H), *gated.random_weights(rng, D, H, 3, 2))


def step_upstream(rng: np.random.Generator | None = None, shape=None) -> np.ndarray:
    """dnext_h for step_case's step (the same ``rng`` and ``shape``)."""
    if rng is None:
        return linspace_array((3, 5), 0.7, -0.9)
    N, _, _, H = shape
    return rng.normal(size=(N, H))


def sequence_case(rng: np.random.Generator | None = None, shape=None) -> tuple[np.ndarray, ...]:
    """x, h0, Wx, Wh, bx, bh of a sequence: fixed values, or random ones from ``rng`` in ``shape`` (N, T, D, H)."""
    if rng is None:
        N, T, D, H = 2, 4, 3, 5
        return (
            linspace_array((N, T, D), -1.0, 1.1),
            linspace_array((N, H), 0.5, -0.6),
            linspace_array((D, 3 * H), -0.7, 0.6),
            linspace_array((H, 3 * H), 0.45, -0.5),
            linspace_array((3 * H,), -0.25, 0.3),
            linspace_array((3 * H,), 0.3, -0.35),
        )
    N, T, D, H = shape
    return (rng.normal(size=(N, T, D)), gated.random_state(rng, N, H), *gated.random_weights(rng, D, H, 3, 2))


def sequence_upstream(rng: np.random.Generator | None = None, shape=None, case: int = 0) -> np.ndarray:
    """dh for sequence_case's sequence; a hidden case's kind is chosen by its index ``case``."""
    if rng is None:
        return linspace_array((2, 4, 5), 0.8, -0.7)
    N, T, _, H = shape
    return gated.random_upstream(rng, case, (N, T, H))


# --------------------------------------------------------------------------- PyTorch formulas (tensors in, tensors out)


def _gru_math(
    x, prev_h, Wx, Wh, bx, bh, *, form: str = "torch", order: str = BLOCKS, swap_z: bool = False, direct: bool = True
) -> dict:
    """One GRU step as PyTorch operations on tensors, or a known mistake's version of it (for the
    hints): a dict of tensors. ``form``: "torch" (bh_n inside the reset product), "before" (reset
    applied to h before the matmul), "outside" (bh_n added outside the reset product); ``direct``
    False cuts the gradient of the direct path z * prev_h (the value stays)."""
    torch = _torch()
    H = prev_h.shape[1]
    block = {k: slice(n * H, (n + 1) * H) for n, k in enumerate(order)}
    ax, ah = x @ Wx + bx, prev_h @ Wh + bh
    r = torch.sigmoid(ax[:, block["r"]] + ah[:, block["r"]])
    z = torch.sigmoid(ax[:, block["z"]] + ah[:, block["z"]])
    hn = ah[:, block["n"]]
    if form == "before":
        an = ax[:, block["n"]] + (r * prev_h) @ Wh[:, block["n"]] + bh[block["n"]]
    elif form == "outside":
        an = ax[:, block["n"]] + r * (prev_h @ Wh[:, block["n"]]) + bh[block["n"]]
    else:
        an = ax[:, block["n"]] + r * hn
    n = torch.tanh(an)
    kept = prev_h if direct else prev_h.detach()
    next_h = z * n + (1 - z) * kept if swap_z else (1 - z) * n + z * kept
    return {"ax": ax, "ah": ah, "r": r, "z": z, "n": n, "an": an, "hn": hn, "next_h": next_h}


def _unroll_math(
    x, h0, Wx, Wh, bx, bh, *, carry: bool = True, detach: bool = False, live_weights_at: int | None = None, **step
) -> list[dict]:
    """The steps of a GRU over x (N, T, D) from h0, as _gru_math dicts. The keywords give known
    mistakes: every step started from h0 (``carry`` False), the carried gradient dropped
    (``detach``), the parameters' gradients of step ``live_weights_at`` only."""
    h, steps = h0, []
    for t in range(x.shape[1]):
        weights = (Wx, Wh, bx, bh) if live_weights_at in (None, t) else tuple(w.detach() for w in (Wx, Wh, bx, bh))
        parts = _gru_math(x[:, t], h if carry else h0, *weights, **step)
        steps.append(parts)
        h = parts["next_h"].detach() if detach else parts["next_h"]
    return steps


def _states(steps):
    return _torch().stack([s["next_h"] for s in steps], dim=1)


def _gru_module(inputs: dict, device: str):
    """torch.nn.GRUCell (x of shape (N, D)) or torch.nn.GRU(batch_first=True) (x (N, T, D)) in
    float64 with the course's weights: the output as a tensor."""
    torch = _torch()
    x = inputs["x"]
    h = inputs["prev_h"] if "prev_h" in inputs else inputs["h0"]
    D, H = inputs["Wx"].shape[0], inputs["Wh"].shape[0]
    module = torch.nn.GRU(D, H, batch_first=True) if x.ndim == 3 else torch.nn.GRUCell(D, H)
    module = load_into(
        module.to(device=device, dtype=torch.float64), inputs["Wx"], inputs["Wh"], bx=inputs["bx"], bh=inputs["bh"]
    )
    with torch.no_grad():
        return (
            module(gated.as_tensor(x, device), gated.as_tensor(h, device)[None])[0]
            if x.ndim == 3
            else module(gated.as_tensor(x, device), gated.as_tensor(h, device))
        )


# --------------------------------------------------------------------------- forward: hints

STEP_HINT = (
    "r and z are sigmoids of their blocks of x Wx + bx + h Wh + bh (both biases, blocks in the order r, z, n); "
    "then n and next_h as the docstring states"
)
SEQUENCE_HINT = "h[:, t] is the GRU step from x[:, t] and the state after step t-1, starting from h0"
ORDER_HINT = "the gate blocks are stacked r, z, n (reset, update, new), PyTorch's order"
#: hint -> the keywords of _gru_math that make the mistake
STEP_MISTAKES = {
    "next_h = (1 - z) * n + z * prev_h: z keeps the old state, (1 - z) lets the new candidate in": dict(swap_z=True),
    "PyTorch's form applies the reset after the matmul: r * (prev_h Wh_n + bh_n), not (r * prev_h) Wh_n": dict(
        form="before"
    ),
    "bh_n sits inside the reset product: r * (prev_h Wh_n + bh_n)": dict(form="outside"),
    ORDER_HINT: dict(order="zrn"),
}
SEQUENCE_MISTAKES = {"carry the state: step t starts from the state after step t-1, not from h0": dict(carry=False)}
INPUTS_HINT = (
    "{function} must leave its arguments unchanged: an in-place operation (+=, *=, [:] =) wrote into one "
    "(a state that starts as prev_h or h0 is that array itself); compute into new arrays"
)


def _step_parts(inputs: dict) -> dict:
    """Every quantity of one step for fixed inputs, as NumPy arrays (for comparing a cache)."""
    torch = _torch()
    parts = _gru_math(**{k: gated.as_tensor(v) for k, v in inputs.items()})
    H = inputs["prev_h"].shape[1]
    gates = parts["ax"][:, : 2 * H] + parts["ah"][:, : 2 * H]
    extra = {
        "sigmoid_rz": torch.sigmoid(gates),
        "tanh_rz": torch.tanh(gates),
        "a_rz": gates,
        "h_Wh_n": gated.as_tensor(inputs["prev_h"]) @ gated.as_tensor(inputs["Wh"])[:, 2 * H :],
    }
    return {k: gated.as_numpy(v) for k, v in {**parts, **extra}.items()}


def _field_suspects(field: str, parts: dict) -> dict[str, np.ndarray]:
    """hint -> what a known mistake stores in this cache field."""
    H = parts["next_h"].shape[1]
    if field in ("r", "z"):
        k, other = BLOCKS.index(field), "rz".replace(field, "")
        own, swapped = slice(k * H, (k + 1) * H), slice((1 - k) * H, (2 - k) * H)
        return {
            f"{ORDER_HINT} (the cache's {field} is the {other} gate)": parts["sigmoid_rz"][:, swapped],
            f"{field} is a sigmoid of its block, not a tanh": parts["tanh_rz"][:, own],
            f"the cache holds {field} after its sigmoid, not the pre-activation": parts["a_rz"][:, own],
        }
    if field == "n":
        return {"the cache holds n after its tanh, not the pre-activation": parts["an"]}
    if field == "hn":
        return {
            "the cache's hn is prev_h Wh_n + bh_n: it includes bh_n": parts["h_Wh_n"],
            "the cache's hn is prev_h Wh_n + bh_n, before the reset gate multiplies it": parts["r"] * parts["hn"],
        }
    if field == "prev_h":
        return {"the cache's prev_h holds next_h: store the state the step started from": parts["next_h"]}
    return {}


def _field_hint(field: str, actual, parts: dict, output_right: bool = True) -> str:
    """A known mistake's hint, else (when the step's output is right, so that the field itself
    is the mistake) the layout; when the output is wrong its own line names the mistake."""
    for hint, value in _field_suspects(field, parts).items():
        if not gated.differs(actual, value):
            return hint
    if not output_right:
        return ""
    return f"the cache's {field} is wrong: the layout is ({', '.join(STEP_CACHE)}), with hn = prev_h Wh_n + bh_n"


def _expected_field(field: str, parts: dict, inputs: dict) -> np.ndarray:
    return inputs[field] if field in inputs else parts[field]


def _step_cache_problem(cache, parts: dict, inputs: dict, output_right: bool) -> tuple[str, str]:
    if not isinstance(cache, tuple) or len(cache) != len(STEP_CACHE):
        size = f" of {len(cache)}" if isinstance(cache, (tuple, list)) else ""
        return (
            f"got a {type(cache).__name__}{size}, expected the tuple ({', '.join(STEP_CACHE)})",
            "store the cache in the layout gru_step_forward's docstring states",
        )
    wrong = [
        field for field, value in zip(STEP_CACHE, cache) if gated.differs(value, _expected_field(field, parts, inputs))
    ]
    if not wrong:
        return "", ""
    return f"{', '.join(wrong)} wrong", _field_hint(wrong[0], cache[STEP_CACHE.index(wrong[0])], parts, output_right)


def _sequence_cache_problem(cache, inputs: dict) -> tuple[str, str]:
    """(problem, hint) of a sequence cache: a list of T step caches, step t's in the step layout."""
    h = gated.as_numpy(_states(_unroll_math(**{k: gated.as_tensor(v) for k, v in inputs.items()})))
    prev = np.concatenate([inputs["h0"][:, None], h[:, :-1]], axis=1)
    steps = []
    for t in range(inputs["x"].shape[1]):
        step_inputs = dict(
            x=inputs["x"][:, t], prev_h=prev[:, t], Wx=inputs["Wx"], Wh=inputs["Wh"], bx=inputs["bx"], bh=inputs["bh"]
        )
        steps.append((step_inputs, _step_parts(step_inputs)))
    return gated.sequence_cache_problem(
        cache, "gru_forward", STEP_CACHE, steps, lambda field, actual, step, parts: _field_hint(field, actual, parts)
    )


def compare_gru_step_forward(
    report: Report, gru_step_forward, x, prev_h, Wx, Wh, bx, bh, reference=None, saturated: bool = False
) -> None:
    """next_h against torch.nn.GRUCell (and the reference), the cache field by field, float64, the
    inputs unchanged; with ``saturated``, the same step with pre-activations near +-1000."""
    inputs = dict(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, bx=bx, bh=bh)
    given = gated.fresh_copies(inputs)
    next_h, cache = call_student(gru_step_forward, *given.values(), returns=("next_h", "cache"), copy_inputs=False)
    tensors = {k: gated.as_tensor(v) for k, v in inputs.items()}
    suspects = {hint: gated.as_numpy(_gru_math(**tensors, **kw)["next_h"]) for hint, kw in STEP_MISTAKES.items()}
    returned = {"next_h": next_h}
    if isinstance(cache, tuple):
        returned.update({f"cache {k}": v for k, v in zip(STEP_CACHE, cache)})
    slipped = bool(gated.dtype_slips(returned))
    oracles = [(f"torch {d}", gated.as_numpy(_gru_module(inputs, d))) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(*inputs.values())[0]))
    for oracle, expected in oracles:
        report.compare(
            "next_h",
            next_h,
            expected,
            oracle=oracle,
            hint=gated.shaped(next_h, expected, gated.unless_slipped(slipped, STEP_HINT)),
            suspects=gated.unless_slipped(slipped, suspects),
        )
    right = not gated.differs(next_h, oracles[0][1])
    problem, cache_hint = _step_cache_problem(cache, _step_parts(inputs), inputs, right)
    report.require("cache", not problem, problem, hint=gated.unless_slipped(slipped, cache_hint), oracle="torch cpu")
    gated.require_float64(report, returned)
    gated.require_unchanged(report, given, inputs, INPUTS_HINT.format(function="gru_step_forward"))
    if saturated:
        large = {**inputs, "bx": gated.saturating_bias(bx.shape[0])}
        big, _ = call_student(
            gru_step_forward, *gated.fresh_copies(large).values(), returns=("next_h", "cache"), copy_inputs=False
        )
        gated.compare_saturated(report, "next_h", big, gated.as_numpy(_gru_module(large, "cpu")), right)


@visible_check
def gru_step_forward(report, gru_step_forward):
    """Graded: next_h of gru_step_forward against torch.nn.GRUCell (float64, every device), and its cache."""
    compare_gru_step_forward(report, gru_step_forward, *step_case(), saturated=True)


def compare_gru_forward(
    report: Report,
    gru_forward,
    x,
    h0,
    Wx,
    Wh,
    bx,
    bh,
    reference=None,
    saturated: bool = False,
) -> None:
    """h against torch.nn.GRU (and the reference); every step cache field by field; float64; the inputs unchanged; with ``saturated``, pre-activations near +-1000 too."""
    inputs = dict(x=x, h0=h0, Wx=Wx, Wh=Wh, bx=bx, bh=bh)

    def suspects():
        tensors = {k: gated.as_tensor(v) for k, v in inputs.items()}
        return {
            hint: gated.as_numpy(_states(_unroll_math(**tensors, **kw)))
            for hint, kw in {**SEQUENCE_MISTAKES, **STEP_MISTAKES}.items()
        }

    gated.compare_sequence_forward(
        report,
        gru_forward,
        inputs,
        oracle="torch",
        layer=lambda given, d: gated.as_numpy(_gru_module(given, d)),
        suspects=suspects,
        hint=SEQUENCE_HINT,
        inputs_hint=INPUTS_HINT.format(function="gru_forward"),
        reference=reference,
        cache_problem=lambda cache: _sequence_cache_problem(cache, inputs),
        saturated_bias="bx" if saturated else None,
        layout=STEP_CACHE,
    )


@visible_check
def gru_forward(report, gru_forward):
    """Graded: h of gru_forward against torch.nn.GRU(batch_first=True) (float64, every device), and its cache."""
    compare_gru_forward(report, gru_forward, *sequence_case(), saturated=True)


# --------------------------------------------------------------------------- backward

#: When the gate gradients are right (dWx and dWh match), what each other gradient is made of.
FROM_GATES_HINTS = {
    "dx": "dx = [da_r, da_z, da_n] Wx^T (the gate gradients are right: dWx matches)",
    "dprev_h": "prev_h reaches next_h twice: directly (through z * prev_h) and through the matmul prev_h Wh",
    "dbx": "dbx sums [da_r, da_z, da_n] over the batch axis 0 (the gate gradients are right: dWx matches)",
    "dbh": "dbh sums [da_r, da_z, r * da_n] over the batch axis 0 (the gate gradients are right: dWh matches)",
}
RESET_PRODUCT_HINT = (
    "only the n block of the hidden side is wrong: h Wh_n + bh_n sits inside the reset product, "
    "so its gradient is r * da_n"
)
Z_HINT = (
    "the z block is wrong: check dL/dz, its sign included (next_h = (1 - z) * n + z * prev_h), "
    "and z's derivative z * (1 - z)"
)
N_HINT = (
    "da_n is wrong (and da_r, which uses it): check dL/dn (n enters next_h weighted by 1 - z) "
    "and tanh's derivative, from n"
)
R_HINT = (
    "the r block is wrong: r multiplies hn = prev_h Wh_n + bh_n inside n's tanh; check that factor and r's derivative"
)
UPSTREAM_HINT = (
    "{function} must leave {argument} unchanged: an in-place operation ({example}) wrote into the caller's "
    "array; compute into a new one"
)


def _step_backward_hints(grads: tuple, expected: dict) -> dict[str, str]:
    """name -> hint for the wrong gradients, from which of them (and which gate blocks) are wrong."""
    actual = dict(zip(STEP_NAMES, grads))
    wrong = {name for name in STEP_NAMES if gated.differs(actual[name], expected[name])}
    x_side = gated.wrong_blocks(actual["dWx"], expected["dWx"], BLOCKS) if "dWx" in wrong else []
    h_side = gated.wrong_blocks(actual["dWh"], expected["dWh"], BLOCKS) if "dWh" in wrong else []
    hints = dict.fromkeys(STEP_NAMES, "")
    if not x_side and not h_side:
        for name in wrong:
            hints[name] = FROM_GATES_HINTS.get(name, "")
    elif not x_side and h_side == ["n"]:
        hints["dWh"] = RESET_PRODUCT_HINT
    elif x_side == ["z"]:
        hints["dWx"] = Z_HINT
    elif "n" in x_side and set(x_side) <= {"r", "n"}:
        hints["dWx"] = N_HINT
    elif x_side == ["r"]:
        hints["dWx"] = R_HINT
    else:
        blocks = x_side or h_side
        hints["dWx" if x_side else "dWh"] = (
            f"the {', '.join(blocks)} blocks of the gate gradients are wrong: they are "
            "stacked [da_r, da_z, da_n] in the order r, z, n"
        )
    return hints


def _gradients(function, inputs: dict, dout, device: str, names, **mistake) -> dict:
    _, grads = forward_backward(lambda **t: function(t, **mistake), inputs, dout, device=device)
    return {name: grads[key] for name, key in zip(names, inputs) if key in grads}


def _step_output(tensors, **mistake):
    return _gru_math(**tensors, **mistake)["next_h"]


def _sequence_output(tensors, **mistake):
    return _states(_unroll_math(**tensors, **mistake))


def compare_gru_step_backward(
    report: Report, gru_step_forward, gru_step_backward, x, prev_h, Wx, Wh, bx, bh, dnext_h, reference=None
) -> None:
    """The gradients, from the learner's own cache, against PyTorch autograd (and the reference);
    float64; dnext_h unchanged; the same gradients from a second call on the cache."""
    inputs = dict(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, bx=bx, bh=bh)
    gated.compare_backward(
        report,
        "gru_step_backward",
        gru_step_forward,
        gru_step_backward,
        inputs,
        {"dnext_h": dnext_h},
        forward_returns=("next_h", "cache"),
        names=STEP_NAMES,
        gradients=lambda device: _gradients(_step_output, inputs, dnext_h, device, STEP_NAMES),
        hints=_step_backward_hints,
        reference=reference,
        upstream_hint=UPSTREAM_HINT.format(
            function="gru_step_backward", argument="dnext_h", example="d = dnext_h; d *= ..."
        ),
    )


@visible_check
def gru_step_backward(report, gru_step_forward, gru_step_backward):
    """Graded: gru_step_backward against PyTorch autograd."""
    compare_gru_step_backward(report, gru_step_forward, gru_step_backward, *step_case(), step_upstream())


SEQ_HINTS = {
    "dx": (
        "at each step t, from T-1 down to 0: the step's backward gets dh[:, t] plus the gradient carried from step t+1"
    ),
    "dh0": "dh0 is the dprev_h returned by the step at t = 0",
    "dWx": "the weights are shared by every step: add up (+=) the step gradients",
    "dWh": "the weights are shared by every step: add up (+=) the step gradients",
    "dbx": "the biases are shared by every step: add up (+=) the step gradients",
    "dbh": "the biases are shared by every step: add up (+=) the step gradients",
}
#: hint -> the keywords of _unroll_math whose autograd gradients a known mistake gives
BACKWARD_MISTAKES = {
    "carry the gradient across steps: step t gets dh[:, t] + dprev_h from step t+1": dict(detach=True),
    "the weights are shared across time: accumulate with +=, do not overwrite with =": dict(live_weights_at=0),
    "each step's dprev_h misses the direct path z * dnext_h (prev_h reaches next_h directly too)": dict(direct=False),
}


def compare_gru_backward(report: Report, gru_forward, gru_backward, x, h0, Wx, Wh, bx, bh, dh, reference=None) -> None:
    """The gradients, from the learner's own cache, against PyTorch autograd through the unrolled
    loop (and the reference); float64; dh unchanged; the same gradients from a second call."""
    inputs = dict(x=x, h0=h0, Wx=Wx, Wh=Wh, bx=bx, bh=bh)

    def hints(grads, expected):
        mistakes = {
            hint: _gradients(_sequence_output, inputs, dh, "cpu", SEQ_NAMES, **mistake)
            for hint, mistake in BACKWARD_MISTAKES.items()
        }
        return gated.diagnose(dict(zip(SEQ_NAMES, grads)), expected, mistakes, SEQ_HINTS)

    gated.compare_backward(
        report,
        "gru_backward",
        gru_forward,
        gru_backward,
        inputs,
        {"dh": dh},
        forward_returns=("h", "cache"),
        names=SEQ_NAMES,
        gradients=lambda device: _gradients(_sequence_output, inputs, dh, device, SEQ_NAMES),
        hints=hints,
        reference=reference,
        upstream_hint=UPSTREAM_HINT.format(function="gru_backward", argument="dh", example="dh[:, t] += ..."),
    )


@visible_check
def gru_backward(report, gru_forward, gru_backward):
    """Graded: gru_backward against PyTorch autograd through the unrolled loop."""
    compare_gru_backward(report, gru_forward, gru_backward, *sequence_case(), sequence_upstream())
