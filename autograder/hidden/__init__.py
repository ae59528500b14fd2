"""Hidden checks: the visible checks' comparisons on random shapes and values, with edge
cases (a batch of one, a single feature) and the NumPy reference as a further oracle.

Only the instructor's notebooks call these (nbgrader strips the calls from the student
copies and from feedback). Each is declared with ``@hidden_check``, which gives it three
ways to run:

- by itself (validating the solutions, a learner's self-check): it compares in the
  notebook's kernel and raises on a failure, like a visible check;
- while the course grades a notebook (``AUTOGRADER_RECORD_DIR`` is set): it only records
  what the learner's functions return (see ``course.recording``), judging nothing there;
- ``check.verify(folder, seed)``, in the grader's own process: it replays that record
  through the same comparisons, with the seed the grader kept, against the references,
  and returns the Report.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from course.checks.core import Report, run_check
from course.recording import Recorder, Replayer, case_rng, read_seed, record_dir

#: body(report, functions, rng, with_reference): draws its cases from rng, calls the
#: learner's functions through the visible checks' compare_* helpers, and adds the
#: reference oracle when with_reference is true (it is false inside a learner's kernel,
#: where the references may be absent).
Body = Callable[[Report, tuple, np.random.Generator, bool], None]


def lesson_reference(hidden_module: str, with_reference: bool):
    """The NumPy references of the lesson whose hidden checks live in ``hidden_module``
    (``__name__``), imported only when asked for: never inside a learner's graded kernel,
    where they are absent. Lesson modules bind it once:
    ``_reference = functools.partial(lesson_reference, __name__)``."""
    if not with_reference:
        return None
    return importlib.import_module(f"autograder.reference.{hidden_module.rsplit('.', 1)[-1]}")


def hidden_check(*names: str, harness: Callable | None = None) -> Callable[[Body], Callable]:
    """Declare a hidden check whose graded cell passes the learner's functions ``names``,
    in that order, e.g. ``@hidden_check("affine_forward", "affine_backward")``.

    ``harness``: the visible check's harness (``course.checks``), for a cell that passes
    the learner's objects rather than NumPy functions (a torch.nn.Module class, a function
    of dicts); ``names`` then name the functions the harness returns, which are what is
    recorded and replayed."""

    def declare(body: Body) -> Callable:
        name = body.__name__

        @functools.wraps(body)
        def check(*objects, seed: int | None = None) -> None:
            """``seed`` fixes the random cases of a direct run (the tests use it); grading
            draws them from the seed in the record folder instead."""
            __tracebackhide__ = True  # IPython: this frame is the grader's
            if harness is None and len(objects) != len(names):
                raise TypeError(f"hidden.{name} takes {', '.join(names)}")
            folder = record_dir()
            if folder is None:
                run_check(
                    name,
                    lambda report, *functions: body(report, functions, np.random.default_rng(seed), True),
                    objects,
                    harness=harness,
                    report=Report(name, aggregate=True),
                )
                return
            functions = harness(*objects) if harness is not None else objects
            recorder = Recorder()
            wrapped = tuple(recorder.wrap(f, n) for f, n in zip(functions, names))
            body(Report(name, quiet=True), wrapped, case_rng(read_seed(folder), name), False)
            recorder.save(folder, name)
            print(f"{name:<25} hidden checks: outputs recorded; the grader scores them outside this notebook")

        def verify(folder: Path, seed: int) -> Report:
            """Replay the record in ``folder`` through the comparisons, with the references.

            ``seed`` is the seed the grader drew and wrote into the folder before the
            notebook ran: the grader keeps it, and never reads the folder's copy back (the
            kernel could have replaced it, to choose its cases or to point it elsewhere).
            Raises (ReplayError, CheckFailed) when the record cannot be replayed; the
            returned Report's ``failures`` say whether the outputs were right."""
            replayer = Replayer(folder, name)
            report = Report(name, aggregate=True)
            body(report, replayer.functions(names), case_rng(int(seed), name), True)
            replayer.finish()
            return report

        check.verify = verify
        check.function_names = names
        check.harness = harness
        return check

    return declare
