"""Benchmark: run every lesson's solution notebook, as a learner runs it, and print a table of
its run time (`python benchmarks/lesson_times.py [LESSON_ID ...]`).

Each notebook runs from a fresh kernel on a copy of its folder in a temporary folder, as
`jupyter nbconvert --execute` would: wall time, the kernel's CPU time (user + system, its
threads and children included) and the load average before and after, beside the time the
lesson's header states. The lessons set their own BLAS/torch threads (at most the cores), so
the header's time is the wall time on a quiet 2-core machine: read the table only when the load
column says the machine was quiet (below 0.5 before the run), and rerun otherwise.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
TIME_LINE = re.compile(r"takes about (\d+ minutes?) on a 2-core laptop CPU")


def stated_time(notebook: nbformat.NotebookNode) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and (match := TIME_LINE.search(cell.source)):
            return match.group(1)
    return "not stated"


def run(path: Path) -> tuple[float, float, str]:
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="lesson-time-") as scratch:
        # The lesson's whole folder: a notebook may read files beside it.
        folder = shutil.copytree(path.parent, Path(scratch) / path.parent.name)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        # The kernel is this process's child: its CPU time is counted once it has exited.
        NotebookClient(
            notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        ).execute()
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, stated_time(notebook)


def main(lesson_ids: list[str]) -> None:
    paths = sorted((ROOT / "solutions").glob("*/*.ipynb"))
    if lesson_ids:
        paths = [p for p in paths if p.parent.name in lesson_ids]
    print(f"{os.cpu_count()} cores; one fresh kernel per lesson, run in order")
    print("| lesson | wall | kernel CPU | load before -> after | header says |")
    print("|---|---|---|---|---|")
    for path in paths:
        load_before = os.getloadavg()[0]
        wall, cpu, stated = run(path)
        print(
            f"| {path.parent.name} | {wall:.0f} s | {cpu:.0f} s | {load_before:.1f} -> {os.getloadavg()[0]:.1f} "
            f"| {stated} |",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
