"""nbgrader configuration for the course (read by every nbgrader command run here,
by the Validate button and by the formgrader).

Each setting below was established in a trial of nbgrader 0.9.6; see shared/DESIGN.md.
"""

import os

c = get_config()  # noqa: F821 -- provided by traitlets when nbgrader loads this file

# An absolute root: a relative one warns, and breaks when a command runs elsewhere.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "rnn-course"
# solutions/ holds the instructor notebooks (nbgrader's "source");
# lessons/ is what students get (nbgrader's "release"), generated from it.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"

# Student copies raise; they never `pass` silently.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Any stderr output in a test cell scores 0. Warnings are not failures: drop them.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?i)warning"

# Hidden tests must never reach students: their source is stripped from feedback
# (ClearHiddenTests), and a failing hidden assert must not print the lines around
# it, which IPython's default traceback does (Minimal mode prints the message only).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.Execute.extra_arguments = [
    "--HistoryManager.hist_file=:memory:",
    "--InteractiveShell.xmode=Minimal",
]

# A student who deletes a test cell gets it back (and is graded on it).
c.OverwriteCells.add_missing_cells = True

# Per-cell limit while validating and autograding. Training cells shrink under
# NBGRADER_EXECUTION, so no cell needs more than a few seconds.
c.Execute.timeout = 120

# Nothing a student wrote may run where anyone looks at it (autograder/safe_html.py).
# Every HTML page nbgrader makes of a submission (feedback files, the formgrader's
# submission view) is sanitised: outputs by nbconvert's sanitiser with an allow-list
# for notebooks (script-capable outputs removed), Markdown once it is rendered (the
# renderer itself makes `javascript:` links). Feedback files also carry a policy
# that forbids script, for when they are opened from disk; the server adds its own
# (`make lab` loads autograder.safe_html as a server extension).
c.HTMLExporter.preprocessors = ["autograder.safe_html.SanitizeSubmissionHTML"]
c.HTMLExporter.filters = {"markdown2html": "autograder.safe_html.SanitizedMarkdown"}
c.GenerateFeedback.exporter_class = "autograder.safe_html.NoScriptHTMLExporter"

# Honest grading inside nbgrader's own pipeline (autograder/replay.py, autograder/execution.py):
# the same for `nbgrader autograde`, the formgrader's autograde button and
# `python -m autograder grade` (which adds only workers and the merge).
# - SeedHiddenChecks: a seed drawn at grading time and a private record folder for the
#   kernel; the hidden checks only record there.
# - GuardedExecute: nbgrader's Execute in the bubblewrap sandbox where available, with
#   time limits for the course's own cells, a dead kernel's earlier points kept, graded
#   cells after it marked not run, and a cap on the record folder.
# - ReplayHiddenChecks: replays each graded cell's hidden checks in this process with the
#   kept seed; a failed replay is an error in the cell, so SaveAutoGrades scores it 0.
c.Autograde.autograde_preprocessors = [
    "autograder.replay.SeedHiddenChecks",
    "autograder.execution.GuardedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.replay.ReplayHiddenChecks",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# "auto": sandboxed where bubblewrap works here, otherwise a loud warning; "on" refuses to
# grade without it.
c.GuardedExecute.sandbox = "auto"
