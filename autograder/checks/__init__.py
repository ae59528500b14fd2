"""What the notebooks' graded cells call.

``from autograder.checks import fc_layers as check`` then ``check.affine_forward(affine_forward)``:
each call compares one function's results with its oracles, prints one aligned line per
compared quantity, and raises an AssertionError (CheckFailed) with a hint when any is wrong.
"""
from .core import CheckFailed, Report, call_student, linspace_array, rel_error
from .gradients import centred_difference

__all__ = ["CheckFailed", "Report", "call_student", "centred_difference", "linspace_array", "rel_error"]
