"""The course's command line: ``python -m autograder COMMAND``."""
from __future__ import annotations

import argparse
import sys

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="regenerate lessons/ from solutions/ with nbgrader")
    build_parser.add_argument("--check", action="store_true", help="change nothing; exit 1 naming each file that differs")
    build_parser.set_defaults(run=_build)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
