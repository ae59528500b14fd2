"""What the notebooks' graded cells call.

``from course.checks import fc_layers as check`` then ``check.affine_forward(affine_forward)``:
each call compares one function's results with its oracles, prints one aligned line per
compared quantity, and raises an AssertionError (CheckFailed) with a hint when any is wrong.

For the lesson modules: ``call_student`` calls a learner's function on copies of its
inputs; ``call_unchanged`` passes the real arrays and records that the function left them
unchanged (where the docstring promises it); ``call_backward_twice`` also requires the same
result from a second call on the same cache; ``require_new_object`` that a result is not
(a view of) an input.
"""

from .core import (
    CheckFailed,
    Report,
    call_backward_twice,
    call_student,
    call_unchanged,
    check_unchanged,
    linspace_array,
    rel_error,
    require_new_object,
)
from .gradients import centred_difference

__all__ = [
    "CheckFailed",
    "Report",
    "call_backward_twice",
    "call_student",
    "call_unchanged",
    "centred_difference",
    "check_unchanged",
    "linspace_array",
    "rel_error",
    "require_new_object",
]
