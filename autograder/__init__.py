"""The instructor's side of the course: what answers, grades and builds.

- ``autograder.reference``: the NumPy reference implementations;
- ``autograder.hidden``: the hidden checks (random shapes, the references as a further
  oracle); the only part a graded kernel may read, references masked;
- ``autograder.grading``, ``autograder.class_run``, ``autograder.sandbox``: grading a
  notebook and a class, in bubblewrap;
- ``autograder.build``, ``autograder.release``: the student lessons and the bundle;
- ``python -m autograder``: the command line.

The student's side is the package ``course``; ``release`` never copies this one.
"""

from course import COURSE_ROOT

__version__ = "0.1.0"

__all__ = ["COURSE_ROOT", "__version__"]
