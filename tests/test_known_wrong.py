"""Every graded function's checks pass the reference, fail a stub, and catch every
known-wrong variant exactly where the variant list says (visible and/or hidden check)."""
from __future__ import annotations

import importlib

import pytest

from tests.known_wrong.registry import LESSONS

#: lesson module name -> its variants module


def _checks(lesson: str):
    return (
        importlib.import_module(f"autograder.checks.{lesson}"),
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


def _caught(check, functions) -> bool:
    try:
        check(*functions)
    except Exception:  # an AssertionError from the check, or the learner's code crashing
        return True
    return False


@pytest.mark.parametrize("lesson, function", _cases("functions"))
def test_reference_passes_visible_and_hidden(lesson, function):
    visible, hidden = _checks(lesson)
    correct = LESSONS[lesson].CORRECT[function]
    getattr(visible, function)(*correct)
    getattr(hidden, function)(*correct)


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
    caught_by = {
        name for name, module in (("visible", visible), ("hidden", hidden))
        if _caught(getattr(module, function), wrong.functions)
    }
    assert caught_by, f"{function}: {wrong.mistake} passes every check"
    assert caught_by == set(wrong.caught_by), f"{function}: {wrong.mistake} caught by {caught_by}, listed as {set(wrong.caught_by)}"
