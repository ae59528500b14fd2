"""What the checks of the gated cells (lesson 04, the LSTM, and lesson 05, the GRU) share.

Both lessons check the same contract for each function (see course.checks.lstm): outputs
against PyTorch, a forward's cache field by field, float64 results, inputs left unchanged,
saturated gates, and a backward's gradients from the learner's own cache, the same when
called twice. The pieces of that contract that do not depend on the cell live here once:
the one-line rules, the walk over a sequence's step caches, the comparison of a sequence
forward and of any backward, and the builders of the hidden checks' random cases.

Student side: nothing here computes a graded function; the oracles are the callables the
lesson modules pass in (PyTorch layers and autograd).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .core import Report, call_student, compare_gradients, describe_mismatch
from .torch_oracle import devices
from .torch_oracle import torch_module as _torch

TOL = 1e-7
#: Size of the saturating pre-activations: exp(1000) overflows float64 (its limit is ~709).
LARGE = 1000.0

FLOAT64_HINT = "the inputs are float64: keep every array float64 (no dtype=np.float32, no .astype(np.float32))"
OVERFLOW_HINT = (
    "pre-activations near +-1000 make exp overflow (nan or inf): use np.tanh, and a sigmoid that never "
    "takes exp of a large positive number (the given sigmoid)"
)
SATURATION_HINT = "wrong only for pre-activations near +-1000: the gates must saturate to 0, 1 or -1 there"
SHAPE_HINT = "return the documented shape, also when N, T, D or H is 1 (no np.squeeze, no keepdims=True)"
ALIAS_HINT = (
    "every step's cache holds the same {field} array, updated in place (+=, *=, [:] =): give each step its own array"
)
AGAIN_HINT = (
    "{function} changed its cache (an in-place operation such as out=, +=, *= on a cached array): work on new arrays"
)


# --------------------------------------------------------------------------- tensors


def as_tensor(value, device: str = "cpu"):
    """A float64 torch tensor of ``value`` on ``device``."""
    torch = _torch()
    return torch.tensor(np.asarray(value, dtype=np.float64), dtype=torch.float64, device=device)


def as_numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


# --------------------------------------------------------------------------- one-line rules


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
    return [
        name
        for k, name in enumerate(names)
        if differs(actual[..., k * width : (k + 1) * width], expected[..., k * width : (k + 1) * width])
    ]


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
    return [
        f"{name} is {value.dtype}"
        for name, value in arrays.items()
        if isinstance(value, np.ndarray) and value.dtype != np.float64
    ]


def require_float64(report: Report, arrays: dict) -> None:
    """One line: every returned array is float64, as the docstrings promise for float64 inputs."""
    slips = dtype_slips(arrays)
    report.require(
        "dtype", not slips, ", ".join(slips[:3]) + " (float64 expected)", hint=FLOAT64_HINT, oracle="float64"
    )


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

    report.require(
        "again",
        all(same(a, b) for a, b in zip(first, second)),
        "a second call on the same cache returned other values",
        hint=hint,
        oracle="same cache",
    )


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


# --------------------------------------------------------------------------- a sequence's caches


def stack_field(cache, position: int):
    """Field ``position`` of every step cache, stacked over time; None when that is impossible."""
    try:
        return np.stack([np.asarray(step[position], dtype=np.float64) for step in cache])
    except Exception:  # a field missing, or of different shapes at different steps
        return None


def shared_across_steps(cache, position: int) -> bool:
    """Whether two steps' caches hold the very same array (or views of one) in this field."""
    fields = [step[position] for step in cache if isinstance(step[position], np.ndarray)]
    return any(np.shares_memory(a, b) for k, a in enumerate(fields) for b in fields[k + 1 :])


def sequence_cache_problem(
    cache,
    function: str,
    layout: Sequence[str],
    steps: list[tuple[dict, dict]],
    field_hint: Callable[[str, object, dict, dict], str],
) -> tuple[str, str]:
    """(problem, hint) of a sequence cache, '' when it is right: a list of T step caches, step t's
    in the step ``layout``. ``steps``: for each step, its inputs and every quantity PyTorch computes
    in it (a field is the step's input of that name, else that quantity). ``field_hint(field,
    actual, step inputs, quantities)`` names what a wrong field holds."""
    T = len(steps)
    text = "a list of T step caches, each the tuple (" + ", ".join(layout) + ")"
    if (
        not isinstance(cache, (list, tuple))
        or len(cache) != T
        or not all(isinstance(step, tuple) and len(step) == len(layout) for step in cache)
    ):
        return f"not {text}", f"store the cache as {function}'s docstring states: {text}"
    for position, field in enumerate(layout):
        expected = np.stack([inputs[field] if field in inputs else parts[field] for inputs, parts in steps])
        actual = stack_field(cache, position)
        if actual is None or differs(actual, expected):
            wrong_steps = [t for t in range(T) if differs(cache[t][position], expected[t])]
            t = wrong_steps[0] if wrong_steps else 0
            if field not in ("Wx", "Wh") and T > 1 and shared_across_steps(cache, position):
                hint = ALIAS_HINT.format(field=field)
            else:
                hint = field_hint(field, cache[t][position], *steps[t])
            return f"cache[{t}]: {field} wrong (step caches {wrong_steps})", hint
    return "", ""


# --------------------------------------------------------------------------- comparisons


def compare_sequence_forward(
    report: Report,
    forward,
    inputs: dict,
    *,
    oracle: str,
    layer: Callable[[dict, str], np.ndarray],
    suspects: Callable[[], dict],
    hint: str,
    inputs_hint: str,
    reference=None,
    cache_problem: Callable[[object], tuple[str, str]] | None = None,
    saturated_bias: str | None = None,
    layout: Sequence[str] = (),
) -> None:
    """h of ``forward(*inputs)`` against ``layer(inputs, device)`` on every device (and the
    reference), with the known mistakes' ``suspects()`` (hint -> h); with ``cache_problem``
    (and h right, so that the cache is checked along the right states) the cache; float64;
    the inputs unchanged; with ``saturated_bias`` (the name of a bias input), the same
    sequence with pre-activations near +-1000."""
    given = fresh_copies(inputs)
    h, cache = call_student(forward, *given.values(), returns=("h", "cache"), copy_inputs=False)
    oracles = [(f"{oracle} {d}", layer(inputs, d)) for d in devices()]
    if reference is not None:
        oracles.append(("reference", reference(*inputs.values())[0]))
    slipped = bool(dtype_slips({"h": h}))
    wrong_h_suspects = unless_slipped(slipped, suspects())
    for name, expected in oracles:
        report.compare(
            "h",
            h,
            expected,
            oracle=name,
            hint=shaped(h, expected, unless_slipped(slipped, hint)),
            suspects=wrong_h_suspects,
        )
    arrays = {"h": h}
    h_right = not differs(h, oracles[0][1])
    if cache_problem is not None and h_right:
        problem, cache_hint = cache_problem(cache)
        report.require("cache", not problem, problem, hint=cache_hint, oracle="torch cpu")
        if not problem:
            arrays.update(
                {f"cache[{t}] {field}": value for t, step in enumerate(cache) for field, value in zip(layout, step)}
            )
    require_float64(report, arrays)
    require_unchanged(report, given, inputs, inputs_hint)
    if saturated_bias is not None:
        large = {**inputs, saturated_bias: saturating_bias(inputs[saturated_bias].shape[0])}
        big, _ = call_student(forward, *fresh_copies(large).values(), returns=("h", "cache"), copy_inputs=False)
        compare_saturated(report, "h", big, layer(large, "cpu"), h_right)


def compare_backward(
    report: Report,
    function: str,
    forward,
    backward,
    inputs: dict,
    upstream: dict,
    *,
    forward_returns: Sequence[str],
    names: Sequence[str],
    gradients: Callable[[str], dict],
    hints: Callable[[tuple, dict], dict],
    upstream_hint: str,
    reference=None,
) -> None:
    """The gradients ``names`` of ``backward(*upstream, cache)`` (the graded ``function``), from the learner's own cache
    (the last of ``forward(*inputs)``'s results), against ``gradients(device)`` (PyTorch
    autograd) on every device (and the reference pair (forward, backward)); ``hints(grads,
    expected)`` names the mistake unless a dtype slip explains the values; float64; the
    upstream gradients unchanged; the same gradients from a second call on the cache."""
    cache = call_student(forward, *fresh_copies(inputs).values(), returns=forward_returns, copy_inputs=False)[-1]
    given = fresh_copies(upstream)
    grads = call_student(backward, *given.values(), cache, returns=names, copy_inputs=False)
    again = call_student(backward, *fresh_copies(upstream).values(), cache, returns=names, copy_inputs=False)
    oracles = [(f"torch {d}", gradients(d)) for d in devices()]
    if reference is not None:
        reference_cache = reference[0](*inputs.values())[-1]
        oracles.append(("reference", dict(zip(names, reference[1](*upstream.values(), reference_cache)))))
    slipped = bool(dtype_slips(dict(zip(names, grads))))
    named = dict.fromkeys(names, "") if slipped else hints(grads, oracles[0][1])
    compare_gradients(report, names, grads, oracles, shaped_hints(names, grads, oracles[0][1], named))
    require_float64(report, dict(zip(names, grads)))
    require_unchanged(report, given, upstream, upstream_hint)
    require_repeatable(report, grads, again, AGAIN_HINT.format(function=function))


# --------------------------------------------------------------------------- the hidden checks' random cases

#: How many random shapes the hidden checks draw besides each lesson's edge shapes.
RANDOM_CASES = 3


def case_shapes(
    rng: np.random.Generator, edge_shapes: list[tuple[int, int, int, int]]
) -> list[tuple[int, int, int, int]]:
    """Shapes (N, T, D, H): the lesson's edge cases, then RANDOM_CASES drawn from rng."""
    return edge_shapes + [tuple(int(v) for v in rng.integers(1, 7, size=4)) for _ in range(RANDOM_CASES)]


def random_state(rng: np.random.Generator, N: int, H: int) -> np.ndarray:
    """A hidden state (N, H) as a tanh cell produces it: values in (-1, 1)."""
    return np.tanh(rng.normal(size=(N, H)))


def random_weights(rng: np.random.Generator, D: int, H: int, blocks: int, biases: int) -> tuple[np.ndarray, ...]:
    """Wx (D, blocks*H) and Wh (H, blocks*H) scaled as torch initialises them, then ``biases``
    bias vectors (blocks*H,)."""
    Wx = rng.normal(scale=1 / np.sqrt(D), size=(D, blocks * H))
    Wh = rng.normal(scale=1 / np.sqrt(H), size=(H, blocks * H))
    return (Wx, Wh) + tuple(rng.normal(scale=0.5, size=blocks * H) for _ in range(biases))


def random_upstream(rng: np.random.Generator, case: int, shape) -> np.ndarray:
    """dh for case number ``case``, by index (never by a coin, so that a verdict never depends on
    the seed): at every step, at the last step only (many-to-one, where a dropped carry leaves
    every earlier step at zero), or at the first step only."""
    dh = rng.normal(size=shape)
    if case % 3 == 1:
        dh[:, :-1] = 0.0
    elif case % 3 == 2:
        dh[:, 1:] = 0.0
    return dh
