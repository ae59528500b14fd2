"""The student's side of the course: everything a learner's notebook imports.

- ``course.checks``: what the notebooks' graded cells call (visible checks), with their
  PyTorch oracle and their harnesses;
- ``course.recording``: how a hidden check records a learner's outputs while the course
  grades a notebook (the grader replays them outside the kernel);
- ``course.datasets``, ``course.device``, ``course.torch_layout``: loaders, the device
  choice and the PyTorch layout helper;
- ``course.experiments``: the lessons' longer experiments.

Nothing here answers a graded exercise, and nothing here imports the instructor's package
``autograder``: ``release`` hands this folder to students whole, and a test proves both.
"""

from pathlib import Path

#: The repository root: lessons/, solutions/, datasets/ and nbgrader_config.py live here.
#: Resolved from this file, never from the working directory, because nbgrader runs
#: notebooks one folder deeper (autograded/<student>/<assignment>/) than lessons/.
COURSE_ROOT = Path(__file__).resolve().parent.parent
