"""The catalog of known mistakes: realistic wrong implementations of the graded functions,
each with the words its failure must name. Each lesson's module lists its variants in
``VARIANTS``; the tests prove every one is caught by the check its ``caught_by`` says and
named by its ``hint``, and the hidden checks may draw their suspects from it.

Instructor side: a wrong implementation is one edit from a right one, so none of this
reaches a student (``release`` never copies ``autograder/``, the grading sandbox does not
bind this folder)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Wrong:
    """One known mistake.

    ``functions`` are passed to the check in its argument order (for a backward check:
    the forward, then the backward). ``caught_by`` is what the tests prove: the set of
    checks ("visible", "hidden") that reject it. ``hint`` is a piece of text that the
    failure message of the first check that catches it must contain (the visible check's
    when it is caught there, else the hidden check's): the tests prove the mistake is
    *named* rightly, not only caught. Every variant declares one.
    """

    name: str
    mistake: str
    functions: tuple[Callable, ...]
    caught_by: frozenset[str]
    hint: str

    def __post_init__(self):
        if not self.hint.strip():
            raise ValueError(f"known-wrong variant {self.name!r} declares no hint: say what its failure must name")


VISIBLE = frozenset({"visible"})
HIDDEN = frozenset({"hidden"})
BOTH = frozenset({"visible", "hidden"})
