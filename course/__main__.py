"""The learner's commands: ``python -m course COMMAND``.

check LESSON|NOTEBOOK   score a notebook with the visible checks, from a fresh kernel,
                        as the grader does (your file is only read)
reset LESSON            put a lesson back as handed out (your notebook is kept in backups/)

LESSON is a lesson's id, number or topic (01_fc_layers, 01, fc_layers). Works from any
folder: the course is found from this package's own location.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from . import selfcheck

    parser = argparse.ArgumentParser(
        prog="python -m course", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("check", help="score a lesson notebook with the visible checks (never changes it)")
    p.add_argument("target", help="a lesson (01_fc_layers) or a notebook's path (my-copy.ipynb)")
    p.add_argument("--lesson", metavar="ID", help="which lesson a renamed copy is (e.g. 01_fc_layers)")
    p.add_argument("--timeout", type=int, metavar="SECONDS", help="seconds allowed per cell (default: the grader's)")
    p = commands.add_parser("reset", help="put a lesson back as handed out, keeping yours in backups/")
    p.add_argument("lesson", help="the lesson (01_fc_layers, 01 or fc_layers)")
    args = parser.parse_args(argv)

    try:
        if args.command == "check":
            return selfcheck.check(args.target, lesson=args.lesson, timeout=args.timeout, progress=sys.stderr.isatty())
        backup = selfcheck.reset(args.lesson)
    except selfcheck.CheckError as problem:
        print(f"python -m course {args.command}: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped (Ctrl-C); your notebook is unchanged", file=sys.stderr)
        return 130
    if backup is None:
        print(f"{args.lesson}: already as handed out; nothing changed")
    else:
        print(f"{args.lesson}: reset to the lesson as handed out; your notebook was kept as {backup}")
        print("(if it is open in JupyterLab, close it without saving, or use File > Reload Notebook from Disk)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
