"""Every graded function's checks pass the reference, fail a stub, and catch every
known-wrong variant exactly where the variant list says (visible and/or hidden check)."""

from __future__ import annotations

import importlib

import pytest

from autograder.mistakes.registry import LESSONS

#: lesson module name -> its variants module


def _checks(lesson: str):
    return (
        importlib.import_module(f"course.checks.{lesson}"),
        importlib.import_module(f"autograder.hidden.{lesson}"),
    )


def _cases(kind: str) -> list:
    return list(_iter_cases(kind))


def _iter_cases(kind: str):
    for lesson, module in LESSONS.items():
        for function, variants in module.VARIANTS.items():
            if kind == "variants":
                for wrong in variants:
                    yield pytest.param(lesson, function, wrong, id=f"{lesson}.{function}.{wrong.name}")
            else:
                yield pytest.param(lesson, function, id=f"{lesson}.{function}")


#: Hidden checks draw random cases; each variant must be caught at every one of these
#: seeds or at none, so that grading never depends on the draw (a case that is only
#: sometimes there, say a large shift or a step with no upstream gradient, fails here).
HIDDEN_SEEDS = (0, 1, 2, 3)


def _failure(check, functions, **kwargs) -> str | None:
    """The failure message when the check rejects the functions, else None."""
    try:
        check(*functions, **kwargs)
    except Exception as error:  # an AssertionError from the check, or the learner's code crashing
        return f"{type(error).__name__}: {error}"
    return None


def _caught(check, functions, **kwargs) -> bool:
    return _failure(check, functions, **kwargs) is not None


def _hidden_failures(check, functions) -> list[str]:
    messages = [_failure(check, functions, seed=seed) for seed in HIDDEN_SEEDS]
    caught_at = [seed for seed, message in zip(HIDDEN_SEEDS, messages) if message is not None]
    assert caught_at in ([], list(HIDDEN_SEEDS)), (
        f"the hidden check catches it at seeds {caught_at} of {HIDDEN_SEEDS} only"
    )
    return [m for m in messages if m is not None]


def _caught_by_hidden(check, functions) -> bool:
    return bool(_hidden_failures(check, functions))


@pytest.mark.parametrize("lesson, function", _cases("functions"))
def test_reference_passes_visible_and_hidden(lesson, function):
    visible, hidden = _checks(lesson)
    correct = LESSONS[lesson].CORRECT[function]
    getattr(visible, function)(*correct)
    for seed in HIDDEN_SEEDS:
        getattr(hidden, function)(*correct, seed=seed)


@pytest.mark.parametrize("lesson, function", _cases("functions"))
def test_stub_fails_with_a_plain_message(lesson, function):
    visible, _ = _checks(lesson)
    correct = LESSONS[lesson].CORRECT[function]

    def stub(*args, **kwargs):
        raise NotImplementedError()

    # The last function is the one under test (a backward check also takes the forward).
    with pytest.raises(AssertionError, match="NotImplementedError"):
        getattr(visible, function)(*correct[:-1], stub)


@pytest.mark.parametrize("lesson, function", _cases("functions"))
def test_at_least_three_variants(lesson, function):
    assert len(LESSONS[lesson].VARIANTS[function]) >= 3


@pytest.mark.parametrize("lesson, function, wrong", _cases("variants"))
def test_known_wrong_variant_is_caught(lesson, function, wrong, capsys):
    visible, hidden = _checks(lesson)
    visible_failure = _failure(getattr(visible, function), wrong.functions)
    hidden_failures = _hidden_failures(getattr(hidden, function), wrong.functions)
    caught_by = {"visible"} if visible_failure is not None else set()
    if hidden_failures:
        caught_by.add("hidden")
    assert caught_by, f"{function}: {wrong.mistake} passes every check"
    assert caught_by == set(wrong.caught_by), (
        f"{function}: {wrong.mistake} caught by {caught_by}, listed as {set(wrong.caught_by)}"
    )
    # Named rightly: the first check that catches it says what the mistake is, at every seed.
    messages = [visible_failure] if visible_failure is not None else hidden_failures
    for message in messages:
        assert wrong.hint in message, (
            f"{function}: {wrong.mistake}: the failure does not name it ({wrong.hint!r} not in {message!r})"
        )


def _graded_cell_checks(lesson: str) -> set[str]:
    """The visible checks the lesson's graded cells call (``check.<name>(...)``), from the source."""
    import ast

    import nbformat

    from autograder import COURSE_ROOT

    (notebook,) = (COURSE_ROOT / "solutions").glob(f"*/{lesson}.ipynb")
    called = set()
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
            for node in ast.walk(ast.parse(visible)):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    if isinstance(node.func.value, ast.Name) and node.func.value.id == "check":
                        called.add(node.func.attr)
    return called


@pytest.mark.parametrize("lesson", sorted(LESSONS))
def test_every_graded_function_is_declared_once_on_each_side(lesson):
    """Adding a graded function means one visible check, one hidden check and one catalog entry:
    the tests find them by declaration, and they must name the same functions as the graded cells."""
    from course.checks.core import graded_checks

    visible, hidden = _checks(lesson)
    declared = set(graded_checks(visible))
    hidden_checks = {name for name, value in vars(hidden).items() if callable(getattr(value, "verify", None))}
    catalog = LESSONS[lesson]
    assert declared == _graded_cell_checks(lesson)
    assert declared == hidden_checks
    assert declared == set(catalog.VARIANTS) == set(catalog.CORRECT)
