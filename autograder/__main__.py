"""The course's command line: ``python -m autograder COMMAND`` (or the ``autograder`` script).

build [--check]      regenerate lessons/ from solutions/ (--check: only compare)
check NOTEBOOK       a learner's self-check with the full (hidden) tests
grade SUBMITTED      grade a class in parallel (or on a Dask cluster): gradebook, feedback, grades.csv, canvas.csv
release OUT          the student bundle: no solutions, references or hidden tests
release-solutions OUT ID...  worked solutions of lessons past their deadline, hidden tests removed
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import build


def _build(args: argparse.Namespace) -> int:
    if args.check:
        stale = build.differences()
        for path in stale:
            print(f"differs from what solutions/ generates: {path}")
        if stale:
            print("run `make lessons` (python -m autograder build) and commit lessons/")
            return 1
        print("lessons/ is what solutions/ generates")
        return 0
    build.generate()
    print(f"regenerated lessons/ for: {', '.join(build.assignment_ids())}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from .selfcheck import self_check

    return self_check(Path(args.notebook), timeout=args.timeout, lesson=args.lesson)


def _mib(value: int | None) -> int | None:
    return None if value is None else value * 2**20


def _grade(args: argparse.Namespace) -> int:
    from .class_run import Stopped, grade_class, summary_table

    out = Path(args.out).resolve()
    try:
        outcomes = grade_class(
            Path(args.submitted),
            assignment=args.assignment,
            workers=args.workers,
            timeout=args.timeout,
            out=out,
            force=args.force,
            notebook_budget=args.notebook_budget,
            course_cell_timeout=args.course_cell_timeout,
            workdir_bytes=_mib(args.workdir_mib),
            record_bytes=_mib(args.record_mib),
            scheduler=args.scheduler,
            students=args.student,
            db_url=args.db_url,
            prestart={"auto": None, "on": True, "off": False}[args.prestart],
        )
    except Stopped as stop:
        if stop.outcomes:
            print()
            print(summary_table(stop.outcomes))
        kept = (
            f"grades.csv written for the {len(stop.outcomes)} graded"
            if stop.csv_written
            else "grades.csv not written (the previous one, if any, is kept)"
        )
        print(f"\n{stop.message}: {kept}; the gradebook holds every submission graded; {stop.hint}", file=sys.stderr)
        return stop.exit_code
    print()
    print(summary_table(outcomes))
    print(f"\ngrades: {out / 'grades.csv'} (Canvas's import: {out / 'canvas.csv'})")
    print(f"feedback: {out / 'feedback'}/<student>/<assignment>/")
    return 0


def _release(args: argparse.Namespace) -> int:
    from .release import make_release

    path = make_release(Path(args.out), upto=args.upto)
    print(f"student bundle written to {path} and verified: no solutions, references or hidden tests")
    return 0


def _release_solutions(args: argparse.Namespace) -> int:
    from .release import release_solutions

    written = release_solutions(Path(args.out), args.lessons)
    print(f"{len(written)} solution notebooks written to {Path(args.out).resolve()} (hidden tests removed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("build", help="regenerate lessons/ from solutions/ with nbgrader")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 naming each file that differs")
    p.set_defaults(run=_build)

    p = commands.add_parser("check", help="score your notebook with the full tests (never changes it)")
    p.add_argument("notebook", help="your notebook, e.g. lessons/01_fc_layers/fc_layers.ipynb")
    p.add_argument("--lesson", metavar="ID", help="which lesson a renamed copy is (e.g. 01_fc_layers)")
    p.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell (default 120)")
    p.set_defaults(run=_check)

    p = commands.add_parser("grade", help="grade SUBMITTED/<student>/<assignment>/*.ipynb in parallel")
    p.add_argument("submitted", help="folder of submissions, as nbgrader's submitted/")
    p.add_argument("--assignment", help="grade only this assignment (default: all found)")
    p.add_argument(
        "--workers", type=int, default=os.cpu_count(), help="worker processes (default: the number of cores)"
    )
    p.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell (default 120)")
    p.add_argument(
        "--out", default="grading", help="output folder: gradebook, autograded, feedback, grades.csv (default grading/)"
    )
    p.add_argument(
        "--notebook-budget",
        type=float,
        metavar="SECONDS",
        help="seconds all the learner's cells of one notebook may take together (default: sized to the "
        "lesson, 2 x the cell limit + 10 s per code cell); past it the notebook keeps the points earned",
    )
    p.add_argument(
        "--course-cell-timeout",
        type=int,
        metavar="SECONDS",
        help="seconds for each of the course's own locked cells, e.g. the set-up (default 600): not the learner's time",
    )
    p.add_argument(
        "--workdir-mib", type=int, metavar="MIB", help="MiB a kernel may write into its working folder (default 256)"
    )
    p.add_argument(
        "--record-mib", type=int, metavar="MIB", help="MiB a kernel may write into the record folder (default 64)"
    )
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="grade on the Dask cluster of this scheduler instead of local worker processes "
        "(docs/grading-at-scale.md); --workers is then the cluster's",
    )
    p.add_argument(
        "--db-url",
        metavar="URL",
        help="keep the gradebook in this database (nbgrader's CourseDirectory.db_url, e.g. "
        "postgresql://USER@HOST/DB for a course with several graders) instead of OUT/gradebook.db",
    )
    p.add_argument(
        "--student",
        action="append",
        metavar="ID",
        help="grade this student again, and only them (repeat for several); everyone else's grades are left as they are",
    )
    p.add_argument(
        "--prestart",
        choices=["auto", "on", "off"],
        default="auto",
        help="each worker starts the next notebook's kernel (torch imported) while it grades one; "
        "auto (default): local workers with the sandbox (not on a Dask cluster)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="grade again the submissions already graded from the same "
        "files, tests and settings (by default a re-run keeps them and grades only the rest)",
    )
    p.set_defaults(run=_grade)

    p = commands.add_parser("release", help="write the student bundle to OUT and verify it")
    p.add_argument("out", help="folder to create")
    p.add_argument(
        "--upto",
        metavar="ID",
        help="only the lessons up to this one (e.g. 02_rnn_cell): a later "
        "lesson gives an earlier lesson's answers as working code",
    )
    p.set_defaults(run=_release)

    p = commands.add_parser(
        "release-solutions", help="worked solutions of lessons past their deadline, hidden tests removed"
    )
    p.add_argument("out", help="folder to create")
    p.add_argument("lessons", nargs="+", metavar="ID")
    p.set_defaults(run=_release_solutions)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
