"""The comparison machinery behind every graded cell.

A check compares what a learner's function returned with what an oracle (PyTorch,
a centred difference, or, in hidden checks, the NumPy reference) says it should be,
prints one aligned line per compared quantity, and raises an AssertionError when any
quantity is wrong. Failure messages name the quantity, the worst index and a hint;
they never print the expected values (that would hand over the answer).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

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
    """


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
    ) -> Line:
        """Compare one quantity and print its line.

        ``suspects`` maps a hint to the value a known mistake would produce: when the
        learner's answer matches one of them, that specific hint replaces ``hint``.
        ``floor`` is rel_error's; see ``approximate_floor`` for approximate oracles.
        """
        problem, error = describe_mismatch(actual, expected, tol, floor)
        if problem and suspects:
            for suspect_hint, wrong_value in suspects.items():
                if _matches(actual, wrong_value, tol, floor):
                    hint = suspect_hint
                    break
        line = Line(self.function, quantity, oracle, error, tol, problem, hint if problem else "")
        return self._add(line)

    def require(self, quantity: str, condition: bool, problem: str, *, hint: str = "", oracle: str = "rule") -> Line:
        """Record a property that is either true or not (no error to measure)."""
        line = Line(self.function, quantity, oracle, float("nan"), 0.0, "" if condition else problem, hint)
        return self._add(line)

    def _add(self, line: Line) -> Line:
        self.lines.append(line)
        if not (self.aggregate or self.quiet):
            print(line.format(), flush=True)
        return line

    def worst_lines(self) -> list[Line]:
        """One line per (quantity, oracle): a failing one if any, else the largest error."""
        worst: dict[tuple[str, str], Line] = {}
        for line in self.lines:
            key = (line.quantity, line.oracle)
            current = worst.get(key)
            if current is None or _severity(line) > _severity(current):
                worst[key] = line
        return list(worst.values())

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
            line.format() + f"  [worst of {counts[(line.quantity, line.oracle)]} cases]"
            for line in self.worst_lines()
        ]

    def finish(self) -> None:
        __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
        if self.quiet:
            return
        if self.aggregate:
            for text in self.summary():
                print(text, flush=True)
        failures = [line for line in (self.worst_lines() if self.aggregate else self.lines) if not line.ok]
        if failures:
            details = "; ".join(
                f"{line.quantity}: {line.problem}" + (f" -> {line.hint}" if line.hint else "")
                for line in failures
            )
            raise CheckFailed(f"{self.function}: {details}")


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
                name, value, expected, oracle=oracle, tol=1e-6 if approximate else 1e-7,
                floor=approximate_floor(expected) if approximate else 1e-8,
                hint=hints[name], suspects=(suspects or {}).get(name),
            )


def _severity(line: Line) -> tuple[bool, float]:
    error = line.error if np.isfinite(line.error) else np.inf
    return (not line.ok, error)


def linspace_array(shape, low: float, high: float) -> np.ndarray:
    """Fixed, readable test input: evenly spaced values from low to high, in shape."""
    return np.linspace(low, high, num=int(np.prod(shape))).reshape(shape)


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
        return f"{kind} at index {list(bad)} (overflow? a 0/0?)", float("nan")
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


def check_unchanged(report: Report, argument: str, before: np.ndarray, after: np.ndarray) -> Line:
    """Record whether the learner's function left an array argument as it found it."""
    return report.require(
        argument,
        np.array_equal(before, after, equal_nan=True),
        f"{argument} was left changed",
        hint="restore every entry you perturb (or work on a copy)",
        oracle="unchanged",
    )
