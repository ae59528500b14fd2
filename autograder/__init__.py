"""The course's helper package.

- ``autograder.checks``: what the notebooks' graded cells call (visible checks).
- ``autograder.reference``: the NumPy reference implementations (instructor side).
- ``autograder.hidden``: the hidden checks, which use random shapes and the references.
- ``python -m autograder``: the command line (build the student lessons, ...).
"""
from pathlib import Path

__version__ = "0.1.0"

#: The repository root: lessons/, solutions/, datasets/ and nbgrader_config.py live here.
#: Resolved from this file, never from the working directory, because nbgrader runs
#: notebooks one folder deeper (autograded/<student>/<assignment>/) than lessons/.
COURSE_ROOT = Path(__file__).resolve().parent.parent
