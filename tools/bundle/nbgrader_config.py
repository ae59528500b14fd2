"""nbgrader settings for the learner's copy of the course (read by the Validate button and by
`python -m course check`). The instructor grades with settings of their own."""

import os

c = get_config()  # noqa: F821 -- provided by traitlets when nbgrader loads this file

# An absolute root: a relative one warns, and breaks when a command runs elsewhere.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "rnn-course"
c.CourseDirectory.release_directory = "lessons"

# Any stderr output in a test cell scores 0. Warnings are not failures: drop them.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?i)warning"

# Per-cell limit, as when grading. Training cells shrink under NBGRADER_EXECUTION.
c.Execute.timeout = 120
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:"]
