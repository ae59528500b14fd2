"""Benchmark: grade 20 submissions of lesson 01 with 1 and 2 workers, with and without
the sandbox, in one run, and print a table (`make bench`).

Ratios are what to read: this machine is shared and noisy, so absolute seconds vary
from run to run, while runs made back to back share the same conditions.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.grading import grade_class  # noqa: E402
from autograder.sandbox import sandbox_available  # noqa: E402
from tests.pipeline.fixture_class import LESSON, NOTEBOOK, _fill, _solution_answers, _student_copy  # noqa: E402

SUBMISSIONS = 20


def write_class(submitted: Path) -> None:
    """20 plausible submissions: complete, half done and untouched ones."""
    import nbformat

    answers = _solution_answers()
    half = {k: v for i, (k, v) in enumerate(sorted(answers.items())) if i % 2 == 0}
    for i in range(SUBMISSIONS):
        chosen = answers if i % 2 == 0 else half if i % 4 == 1 else {}
        folder = submitted / f"student{i:02d}" / LESSON
        folder.mkdir(parents=True)
        nbformat.write(_fill(_student_copy(), chosen), folder / NOTEBOOK)


def timed(submitted: Path, out: Path, workers: int, sandbox: bool) -> float:
    started = time.perf_counter()
    grade_class(submitted, workers=workers, out=out, sandbox=sandbox, progress=False)
    return time.perf_counter() - started


def main() -> None:
    available, reason = sandbox_available()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        write_class(scratch / "submitted")
        runs = [(1, False), (2, False)] + ([(1, True), (2, True)] if available else [])
        results = {}
        for workers, sandbox in runs:
            results[(workers, sandbox)] = timed(
                scratch / "submitted", scratch / f"out-{workers}-{sandbox}", workers, sandbox
            )
    print(f"grading {SUBMISSIONS} submissions of {LESSON} (one run; read the ratios)\n")
    print(f"{'workers':>7}  {'sandbox':>7}  {'seconds':>8}  {'s/submission':>12}  {'speed-up':>8}")
    for (workers, sandbox), seconds in results.items():
        speedup = results[(1, sandbox)] / seconds
        print(
            f"{workers:>7}  {'on' if sandbox else 'off':>7}  {seconds:8.1f}  {seconds / SUBMISSIONS:12.2f}  {speedup:7.2f}x"
        )
    if available:
        for workers in (1, 2):
            overhead = results[(workers, True)] / results[(workers, False)] - 1
            print(f"\nsandbox overhead with {workers} worker(s): {overhead:+.1%}", end="")
        print()
    else:
        print(f"\nsandbox not measured: {reason}")


if __name__ == "__main__":
    main()
