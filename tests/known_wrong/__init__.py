"""Known-wrong implementations of the graded functions: realistic mistakes that the
checks must catch. Each lesson's module lists its variants in ``VARIANTS``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Wrong:
    """One known mistake.

    ``functions`` are passed to the check in its argument order (for a backward check:
    the forward, then the backward). ``caught_by`` is what the tests prove: the set of
    checks ("visible", "hidden") that reject it.
    """

    name: str
    mistake: str
    functions: tuple[Callable, ...]
    caught_by: frozenset[str]


VISIBLE = frozenset({"visible"})
HIDDEN = frozenset({"hidden"})
BOTH = frozenset({"visible", "hidden"})
