"""The comparison machinery behind every graded cell.

A check compares what a learner's function returned with what an oracle (PyTorch,
a centred difference, or, in hidden checks, the NumPy reference) says it should be,
prints one aligned line per compared quantity, and raises an AssertionError when any
quantity is wrong. Failure messages name the quantity, the worst index and a hint;
they never print the expected values (that would hand over the answer).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Width of the function-name column, so that lines from one lesson line up.
NAME_WIDTH = 25
QUANTITY_WIDTH = 9
ORACLE_WIDTH = 12

DEFAULT_TOL = 1e-7


def rel_error(actual, expected, floor: float = 1e-8) -> float:
    """Largest elementwise relative error, ``max(|a - b| / max(floor, |a| + |b|))``.

    The floor of 1e-8 keeps entries that are both (nearly) zero from dividing by zero.
    Returns inf when the shapes differ and nan when either side holds a nan.
    """
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    return float(np.max(_elementwise_rel_error(a, b, floor)))


def _elementwise_rel_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))


def approximate_floor(expected) -> float:
    """The floor for comparing with an approximate oracle (a centred difference).

    Such an oracle is off by ~1e-10 in absolute terms, so an entry far smaller than
    the array's largest has a meaningless relative error; entries below 1e-3 of the
    largest are measured against that scale instead.
    """
    return max(1e-8, 1e-3 * float(np.max(np.abs(expected))))


@dataclass
class Line:
    """One compared quantity: what a learner sees, one per printed line."""

    function: str
    quantity: str
    oracle: str
    error: float
    tol: float
    problem: str = ""  # empty when the quantity is right
    hint: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem

    def format(self) -> str:
        if self.tol:  # a measured quantity
            error = f"{self.error:.1e}" if np.isfinite(self.error) else "  -    "
            measured = f"max rel error {error}  (< {self.tol:.0e})"
        else:  # a property that holds or not
            measured = ""
        text = (
            f"{self.function:<{NAME_WIDTH}} {self.quantity:<{QUANTITY_WIDTH}} "
            f"{self.oracle:<{ORACLE_WIDTH}} {measured:<32}  "
        )
        if self.ok:
            return text + "OK"
        text += f"FAIL  {self.problem}"
        return text + (f" -> {self.hint}" if self.hint else "")


class CheckFailed(AssertionError):
    """Raised by a check when at least one quantity is wrong.

    It is an AssertionError, which is what nbgrader (and a learner) expect from a test.
    IPython renders an exception through its ``_render_traceback_`` when it has one, in
    every traceback mode (``__tracebackhide__`` is honoured by some modes only), so the
    learner sees the message and no frames of the checks' own code.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class Report:
    """Collects the compared quantities of one check, printing each as it is compared.

    ``finish()`` raises CheckFailed, listing every wrong quantity with its hint.
    """

    def __init__(self, function: str, *, aggregate: bool = False, quiet: bool = False):
        """``aggregate`` (hidden checks): the same quantities are compared on several random
        cases; lines are held back and ``finish()`` prints the worst case of each quantity,
        so the output stays one line per compared quantity.
        ``quiet``: print nothing and never raise (a hidden check recording for the grader)."""
        self.function = function
        self.aggregate = aggregate
        self.quiet = quiet
        self.lines: list[Line] = []

    def compare(
        self,
        quantity: str,
        actual,
        expected,
        *,
        oracle: str,
        tol: float = DEFAULT_TOL,
        hint: str = "",
        suspects: Mapping[str, object] | None = None,
        floor: float = 1e-8,
        nonfinite_hint: str = "",
        dtype=None,
    ) -> Line:
        """Compare one quantity and print its line.

        ``suspects`` maps a hint to the value a known mistake would produce: when the
        learner's answer matches one of them, that specific hint replaces ``hint``.
        ``floor`` is rel_error's; see ``approximate_floor`` for approximate oracles.
        ``nonfinite_hint`` replaces ``hint`` only when the learner's value holds a nan or
        an inf (an overflow hint must not fire for values that are merely wrong).
        ``dtype`` (e.g. np.float64), when the docstring promises one: another dtype fails
        whatever the values (float32 is off by ~1e-7, which a tolerance would judge by luck).
        """
        problem, error = describe_mismatch(actual, expected, tol, floor)
        if problem and suspects:
            for suspect_hint, wrong_value in suspects.items():
                if _matches(actual, wrong_value, tol, floor):
                    hint = suspect_hint
                    break
        if problem and nonfinite_hint and has_nonfinite(actual):
            hint = nonfinite_hint
        # A dtype slip decides the verdict unless the values are wrong by far more than
        # float32's rounding (then the bigger mistake is the one to name).
        if dtype is not None and (not problem or (np.isfinite(error) and error < 1e-4)):
            got = _dtype_of(actual)
            if got is not None and got != np.dtype(dtype):
                problem = f"dtype {got}, expected {np.dtype(dtype)}"
                hint = DTYPE_HINT
        line = Line(self.function, quantity, oracle, error, tol, problem, hint if problem else "")
        return self._add(line)

    def require(self, quantity: str, condition: bool, problem: str, *, hint: str = "", oracle: str = "rule") -> Line:
        """Record a property that is either true or not (no error to measure)."""
        line = Line(self.function, quantity, oracle, float("nan"), 0.0, "" if condition else problem, hint)
        return self._add(line)

    def _add(self, line: Line) -> Line:
        # One mistake, one line: a quantity that already failed against one oracle is not
        # printed again for the next oracle (device, reference); it is still recorded.
        repeated = not line.ok and any(not seen.ok and seen.quantity == line.quantity for seen in self.lines)
        self.lines.append(line)
        if not (self.aggregate or self.quiet or repeated):
            print(line.format(), flush=True)
        return line

    def worst_lines(self) -> list[Line]:
        """One line per (quantity, oracle): a failing one if any, else the largest error.
        A quantity that fails keeps only its first failing oracle's line."""
        worst: dict[tuple[str, str], Line] = {}
        for line in self.lines:
            key = (line.quantity, line.oracle)
            current = worst.get(key)
            if current is None or _severity(line) > _severity(current):
                worst[key] = line
        kept, failed = [], set()
        for line in worst.values():
            if not line.ok:
                if line.quantity in failed:
                    continue
                failed.add(line.quantity)
            kept.append(line)
        return kept

    @property
    def failures(self) -> list[Line]:
        return [line for line in self.lines if not line.ok]

    def summary(self) -> list[str]:
        """The printed lines: every line, or with ``aggregate`` the worst case of each quantity."""
        if not self.aggregate:
            return [line.format() for line in self.lines]
        counts: dict[tuple[str, str], int] = {}
        for line in self.lines:
            counts[(line.quantity, line.oracle)] = counts.get((line.quantity, line.oracle), 0) + 1
        return [
            line.format() + f"  [worst of {counts[(line.quantity, line.oracle)]} cases]" for line in self.worst_lines()
        ]

    def finish(self) -> None:
        __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
        if self.quiet:
            return
        if self.aggregate:
            for text in self.summary():
                print(text, flush=True)
        failures = _first_per_quantity(
            [line for line in (self.worst_lines() if self.aggregate else self.lines) if not line.ok]
        )
        if failures:
            details = "; ".join(
                f"{line.quantity}: {line.problem}" + (f" -> {line.hint}" if line.hint else "") for line in failures
            )
            raise CheckFailed(f"{self.function}: {details}") from None


def _first_per_quantity(lines: list[Line]) -> list[Line]:
    seen, kept = set(), []
    for line in lines:
        if line.quantity not in seen:
            seen.add(line.quantity)
            kept.append(line)
    return kept


DTYPE_HINT = "keep float64 throughout: a float32 array or tensor anywhere rounds every result to ~1e-7"


def _dtype_of(value):
    """The dtype of an array or NumPy scalar; a Python float counts as float64; None otherwise."""
    if isinstance(value, float):
        return np.dtype(np.float64)
    return getattr(value, "dtype", None) if isinstance(value, (np.ndarray, np.generic)) else None


def has_nonfinite(value) -> bool:
    """Whether a learner's value holds a nan or an inf (False when it is not numeric)."""
    try:
        return not bool(np.all(np.isfinite(np.asarray(value, dtype=np.float64))))
    except (TypeError, ValueError):
        return False


def compare_gradients(report: Report, names, actual, oracles, hints: dict, suspects: dict | None = None) -> None:
    """Compare each named gradient with each oracle's: ``oracles`` is a list of (name,
    gradients), the gradients a dict by name or a sequence in the order of ``names``.
    The oracle "numeric" is a centred difference: a looser tolerance and the
    approximate floor (see ``approximate_floor``)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    for oracle, grads in oracles:
        approximate = oracle == "numeric"
        for index, (name, value) in enumerate(zip(names, actual)):
            expected = grads[name] if isinstance(grads, dict) else grads[index]
            report.compare(
                name,
                value,
                expected,
                oracle=oracle,
                tol=1e-6 if approximate else 1e-7,
                floor=approximate_floor(expected) if approximate else 1e-8,
                hint=hints[name],
                suspects=(suspects or {}).get(name),
            )


def _severity(line: Line) -> tuple[bool, float]:
    error = line.error if np.isfinite(line.error) else np.inf
    return (not line.ok, error)


def linspace_array(shape, low: float, high: float) -> np.ndarray:
    """Fixed, readable test input: evenly spaced values from low to high, in shape."""
    return np.linspace(low, high, num=int(np.prod(shape))).reshape(shape)


def case_array(rng, shape, low: float, high: float, scale: float = 1.0) -> np.ndarray:
    """Evenly spaced values from low to high when rng is None; else normal ones of this scale."""
    if rng is None:
        return linspace_array(shape, low, high)
    return np.asarray(rng.normal(scale=scale, size=shape))  # a 0-d array, not a float, for shape ()


def describe_mismatch(actual, expected, tol: float, floor: float = 1e-8) -> tuple[str, float]:
    """Return (problem, error): problem is '' when actual matches expected within tol.

    The problem says what is wrong in terms of the learner's output only (its type,
    its shape against the expected shape, nan or inf, the worst index); it never
    contains expected values.
    """
    expected = np.asarray(expected)
    if actual is None:
        return f"got None, expected an array of shape {expected.shape} (missing return?)", float("nan")
    if _is_torch_tensor(actual):
        return "got a torch tensor, expected a NumPy array (use .detach().cpu().numpy())", float("nan")
    try:
        actual_array = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return f"got {type(actual).__name__}, expected numbers of shape {expected.shape}", float("nan")
    if actual_array.shape != expected.shape:
        return f"shape {actual_array.shape}, expected {expected.shape}", float("inf")
    if not np.all(np.isfinite(actual_array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(actual_array))[0])
        kind = "nan" if np.isnan(actual_array[bad]) else "inf"
        where = f" at index {list(bad)}" if actual_array.ndim else ""
        return f"{kind}{where} (overflow? a 0/0?)", float("nan")
    error = rel_error(actual_array, expected, floor)
    if error < tol:
        return "", error
    worst = np.unravel_index(
        np.argmax(_elementwise_rel_error(actual_array, expected.astype(np.float64), floor)), expected.shape
    )
    where = f" at index {[int(i) for i in worst]}" if expected.ndim else ""
    return f"wrong values{where}", error


def _matches(actual, candidate, tol: float, floor: float = 1e-8) -> bool:
    try:
        return not describe_mismatch(actual, candidate, tol, floor)[0]
    except Exception:  # a suspect that cannot be compared simply does not match
        return False


def _is_torch_tensor(value) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def call_student(
    function: Callable,
    *args,
    name: str | None = None,
    returns: Sequence[str] | None = None,
    copy_inputs: bool = True,
    **kwargs,
):
    """Call a learner's function the way a check should.

    - Array inputs are copied (unless ``copy_inputs`` is False), so a function that
      changes its arguments in place cannot spoil the oracle's inputs.
    - NumPy floating-point warnings are silenced: stderr in a graded cell scores 0,
      and overflow is caught anyway as a nan or inf in the result.
    - A stub that still raises NotImplementedError gets a plain-language message.
    - ``returns`` names the expected tuple, e.g. ("out", "cache"); a function that
      returns something else is told what to return.
    """
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    name = name or getattr(function, "__name__", "your function")
    copies = [np.copy(a) if copy_inputs and isinstance(a, np.ndarray) else a for a in args]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = function(*copies, **kwargs)
    except NotImplementedError:
        raise CheckFailed(
            f"{name} still raises NotImplementedError: write your code in its cell "
            "(in place of the `raise`), run that cell, then run this check again"
        ) from None
    if returns is not None and len(returns) > 1:
        if not isinstance(result, tuple) or len(result) != len(returns):
            got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
            raise CheckFailed(f"{name} should return ({', '.join(returns)}); it returned {got}")
    return result


def check_unchanged(
    report: Report, argument: str, before, after, hint: str = "restore every entry you perturb (or work on a copy)"
) -> Line:
    """Record whether the learner's function left an argument as it found it (an array,
    or a tuple/list/dict of arrays such as a cache)."""
    return report.require(
        argument,
        _same(before, after),
        f"{argument} was left changed",
        hint=hint,
        oracle="unchanged",
    )


#: What a learner is told when a function changed an input its contract leaves alone.
IN_PLACE_HINT = (
    "write results to new arrays: an in-place operation (out=, +=, -=, *=, /=, "
    "or assigning into a slice) on an argument changes the caller's array"
)


def snapshot(value):
    """A deep copy of the arrays in ``value`` (an array, or tuples/lists/dicts of them);
    anything else is kept as it is."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [snapshot(v) for v in value]
    if isinstance(value, tuple):
        return tuple(snapshot(v) for v in value)
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    return value


def _same(before, after) -> bool:
    if isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and before.shape == after.shape
            and np.array_equal(before, after, equal_nan=before.dtype.kind in "fc")
        )
    if isinstance(before, (tuple, list)):
        return isinstance(after, (tuple, list)) and len(before) == len(after) and all(map(_same, before, after))
    if isinstance(before, dict):
        return (
            isinstance(after, dict)
            and before.keys() == after.keys()
            and all(_same(before[k], after[k]) for k in before)
        )
    return True  # not an array: nothing a learner's code could change in place


def _restore(target, saved) -> None:
    """Write ``saved`` back into the arrays of ``target``, so that the oracles computed
    after the learner's call see the inputs the learner was given."""
    if isinstance(target, np.ndarray) and isinstance(saved, np.ndarray) and target.shape == saved.shape:
        if target.flags.writeable:
            np.copyto(target, saved, casting="unsafe")
    elif isinstance(target, (tuple, list)) and isinstance(saved, (tuple, list)):
        for t, v in zip(target, saved):
            _restore(t, v)
    elif isinstance(target, dict) and isinstance(saved, dict):
        for key in target.keys() & saved.keys():
            _restore(target[key], saved[key])


def call_unchanged(
    report: Report,
    function: Callable,
    *args,
    argument_names: Sequence[str],
    name: str | None = None,
    returns: Sequence[str] | None = None,
    hint: str = IN_PLACE_HINT,
    **kwargs,
):
    """Call a learner's function on the REAL arrays (not copies) and record, for each
    argument named in ``argument_names`` (one name per positional argument; None skips
    one), that the function left it unchanged, as the contract says it must.

    An argument that was changed gets a FAIL line and is then restored, so the oracles
    that run afterwards see the inputs the learner was given. Use this where the
    docstring promises the inputs are left alone; ``call_student`` (which copies) where
    the contract is silent. Arrays in the result are returned as copies.
    """
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    saved = [snapshot(a) for a in args]
    try:
        result = call_student(function, *args, name=name, returns=returns, copy_inputs=False, **kwargs)
        # The result as the call left it: restoring an input must not change a result that
        # is (a view of) that input, or one in-place slip would fail every quantity.
        result = snapshot(result)
    finally:
        kept = [snapshot(a) for a in args]  # the arguments as the call left them
        for before, after in zip(saved, args):
            _restore(after, before)
    # One OK line for all the arguments, or one FAIL line per argument that was changed.
    checked = [
        (argument, before, after)
        for argument, before, after in zip(argument_names, saved, kept)
        if argument is not None
    ]
    changed = [(argument, before, after) for argument, before, after in checked if not _same(before, after)]
    for argument, before, after in changed:
        check_unchanged(report, argument, before, after, hint=hint)
    if checked and not changed:
        report.require("inputs", True, "", oracle="unchanged")
    return result


def call_backward_twice(
    report: Report,
    backward: Callable,
    *args,
    argument_names: Sequence[str],
    name: str | None = None,
    returns: Sequence[str] | None = None,
    **kwargs,
):
    """Call a backward twice on the same real arguments (upstream gradient, cache): both
    calls must leave their arguments unchanged and give the same result (a backward that
    consumes or rescales its cache gives another answer the second time). Returns the
    first result."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    name = name or getattr(backward, "__name__", "your function")
    first = call_unchanged(report, backward, *args, argument_names=argument_names, name=name, returns=returns, **kwargs)
    kept = snapshot(first)
    saved = [snapshot(a) for a in args]
    try:
        second = snapshot(call_student(backward, *args, name=name, returns=returns, copy_inputs=False, **kwargs))
    finally:
        for before, after in zip(saved, args):
            _restore(after, before)  # the oracles that follow see the arguments as given
    report.require(
        "twice",
        _same(kept, second) if _comparable(kept) else True,
        "a second call on the same cache gave another result",
        hint="a backward must leave its cache as it found it: it may be called again on the same cache",
        oracle="same cache",
    )
    return first


def _comparable(value) -> bool:
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (tuple, list)):
        return all(_comparable(v) for v in value)
    return False


def require_new_object(report: Report, quantity: str, result, *inputs) -> Line:
    """Record that a function promised to return a new object did not hand back (a view
    of) one of its inputs."""
    shared = any(
        result is value
        or (isinstance(result, np.ndarray) and isinstance(value, np.ndarray) and np.shares_memory(result, value))
        for value in inputs
    )
    return report.require(
        quantity,
        not shared,
        "returned (a view of) one of its inputs",
        hint="return a new array: the caller's input must not be changed through the result",
        oracle="new object",
    )


# --------------------------------------------------------------------------- declaring a check

#: Where the course's own check code lives (this package, and the instructor's hidden
#: checks beside it): frames from here are the grader's, never shown to a learner.
_GRADER_CODE = (Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2] / "autograder")


def _learner_frames(tb):
    """The traceback from the learner's own code on: every frame of the checks dropped, so
    a learner whose function raises sees their line, not the grader's machinery."""
    frames = []
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if not any(path.is_relative_to(root) for root in _GRADER_CODE):
            frames.append(tb)
        tb = tb.tb_next
    for outer, inner in zip(frames, frames[1:]):
        outer.tb_next = inner
    if frames:
        frames[-1].tb_next = None
    return frames[0] if frames else None


def run_check(
    name: str, body: Callable, objects: Sequence, *, harness: Callable | None = None, report: Report | None = None
) -> None:
    """Run one check's ``body(report, *functions)`` as a graded cell sees it: one Report,
    every line printed, CheckFailed when a quantity is wrong. ``functions`` are the
    learner's ``objects``, through ``harness`` when given. This is the one place that
    hides the grader's frames: a CheckFailed renders as its message alone, and any other
    exception (the learner's code raising) keeps only the learner's frames."""
    __tracebackhide__ = True  # IPython: this frame is the grader's
    report = report if report is not None else Report(name)
    try:
        body(report, *(harness(*objects) if harness is not None else objects))
    except CheckFailed:
        raise
    except Exception as error:
        # The learner's own exception, its chain kept: only the grader's frames go.
        raise error.with_traceback(_learner_frames(error.__traceback__))  # noqa: B904
    report.finish()


def visible_check(body: Callable | None = None, *, harness: Callable | None = None):
    """Declare the visible check of one graded cell: ``body(report, *functions)`` compares
    and adds lines; the declaration makes the Report, hides the grader's frames and
    finishes (raises CheckFailed on a wrong quantity). The graded cell passes the
    learner's objects: ``check.affine_forward(affine_forward)``.

    ``harness(*objects) -> tuple of functions``: for exercises that are not NumPy-in,
    NumPy-out functions (a torch.nn.Module class, a function of dicts), the student-side
    code that turns the learner's objects into such functions; the body sees those. It
    holds no answer: it builds and calls what the learner wrote, lazily (a class whose
    constructor still raises NotImplementedError fails inside the check, with the plain
    message ``call_student`` gives).

    Every declared check carries ``graded_check = True`` (how lesson modules, the tests
    and the leak scan find the graded checks: no list to keep) and ``harness``.
    """

    def declare(body: Callable) -> Callable:
        @functools.wraps(body)
        def check(*objects) -> None:
            __tracebackhide__ = True  # IPython: this frame is the grader's
            run_check(body.__name__, body, objects, harness=harness)

        check.graded_check = True
        check.harness = harness
        check.body = body
        return check

    return declare(body) if body is not None else declare


def graded_checks(module) -> dict[str, Callable]:
    """The visible checks a lesson's check module declares, by name."""
    return {name: value for name, value in vars(module).items() if getattr(value, "graded_check", False)}
