"""Benchmark: grading a class of lesson 01, in one run (`make bench`), printed as tables.

1. Where one notebook's time goes: a class graded in this process, each phase timed
   (the scratch course, nbgrader's autograde and its steps, the kernel's start, the set-up
   cell that imports torch, the learner's cells, the hidden checks' replay, feedback),
   per notebook, with this process's CPU time beside the wall time.
2. Throughput and overhead per notebook: plain `nbgrader autograde` of the same class (the
   baseline: serial, no feedback), `grade` with 1 and 2 local worker processes, and `grade
   --scheduler` on a Dask cluster of 1 and 2 worker processes on this machine; the speed-up
   of 2 workers over 1. Overhead per notebook = seconds per notebook with one worker minus
   the notebook's own cell time (measured in 1).

Ratios are what to read on a shared machine (the load average is printed with them);
absolute seconds vary from run to run, while runs made back to back share conditions.
Usage: python benchmarks/grading.py [--submissions N] [--only breakdown|throughput]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder import COURSE_ROOT  # noqa: E402
from autograder.class_run import grade_class  # noqa: E402
from autograder.sandbox import sandbox_available  # noqa: E402
from tests.pipeline.fixture_class import LESSON, NOTEBOOK, _fill, _solution_answers, _student_copy  # noqa: E402

SUBMISSIONS = 12


def write_class(submitted: Path, count: int) -> None:
    """Plausible submissions: complete, half done and untouched ones."""
    import nbformat

    answers = _solution_answers()
    half = {k: v for i, (k, v) in enumerate(sorted(answers.items())) if i % 2 == 0}
    for i in range(count):
        chosen = answers if i % 2 == 0 else half if i % 4 == 1 else {}
        folder = submitted / f"student{i:02d}" / LESSON
        folder.mkdir(parents=True)
        nbformat.write(_fill(_student_copy(), chosen), folder / NOTEBOOK)


def _cpu() -> float:
    """CPU seconds of this process and of its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# ------------------------------------------------------------------ 1. the breakdown


class Phases:
    """Wall and CPU seconds spent in named phases (nested phases count in their parent too).
    CPU: this process's, and that of the children reaped meanwhile (a kernel's CPU shows in
    the phase that stops it)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self._undo = []

    def wrap(self, owner, name: str, phase, is_async: bool = False) -> None:
        original = getattr(owner, name)

        if is_async:

            @functools.wraps(original)
            async def timed(*args, **kwargs):
                started = time.perf_counter(), _cpu()
                try:
                    return await original(*args, **kwargs)
                finally:
                    self._add(phase, args, started)
        else:

            @functools.wraps(original)
            def timed(*args, **kwargs):
                started = time.perf_counter(), _cpu()
                try:
                    return original(*args, **kwargs)
                finally:
                    self._add(phase, args, started)

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def _add(self, phase, args, started: tuple[float, float]) -> None:
        name = phase(*args) if callable(phase) else phase
        self.seconds[name] += time.perf_counter() - started[0]
        self.cpu[name] += _cpu() - started[1]

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)


def breakdown(scratch: Path, count: int) -> tuple[dict[str, float], float]:
    """Grade ``count`` submissions in this process (one scratch course, as a worker does) and
    time each phase. Returns seconds per notebook by phase, and the cells' own seconds."""
    import nbclient
    from nbgrader.apps.api import NbGraderAPI

    from autograder import class_run, grading, intake, replay
    from autograder.execution import GuardedExecute

    submitted = scratch / "breakdown"
    write_class(submitted, count)
    phases = Phases()
    phases.wrap(class_run, "_template", "template course (once per run)")
    phases.wrap(grading.ScratchCourse, "_set_up", "scratch course (once per worker)")
    phases.wrap(grading, "take_in", "take in + inspect")
    phases.wrap(grading.ScratchCourse, "_inspect", "take in + inspect")
    phases.wrap(NbGraderAPI, "autograde", "nbgrader autograde (all of it)")
    phases.wrap(replay.SeedHiddenChecks, "preprocess", "  seed hidden checks")
    phases.wrap(GuardedExecute, "preprocess", "  execute (all of it)")
    # (the synchronous names: nbclient binds them to the async methods when it is defined)
    phases.wrap(nbclient.NotebookClient, "start_new_kernel", "    kernel start (sandbox, ipykernel)")
    phases.wrap(nbclient.NotebookClient, "start_new_kernel_client", "    kernel start (sandbox, ipykernel)")
    phases.wrap(nbclient.NotebookClient, "_cleanup_kernel", "    kernel stop")
    phases.wrap(
        GuardedExecute,
        "preprocess_cell",
        lambda self, cell, *rest: (
            "    course cells (set-up: import torch, ...)"
            if intake.is_course_cell(cell)
            else "    learner and test cells"
        ),
    )
    phases.wrap(replay.ReplayHiddenChecks, "preprocess", "  replay hidden checks")
    phases.wrap(NbGraderAPI, "generate_feedback", "feedback (nbgrader generate_feedback)")
    phases.wrap(grading.ScratchCourse, "_collect_scores", "scores, publish")
    phases.wrap(grading.ScratchCourse, "_publish", "scores, publish")
    phases.wrap(class_run, "merge", "merge into the gradebook")
    cpu, started = _cpu(), time.perf_counter()
    try:
        grade_class(submitted, out=scratch / "breakdown-out", progress=False, in_process=True)
    finally:
        phases.restore()
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    once = {k for k in phases.seconds if "once per" in k}
    per_notebook = {k: v / (1 if k in once else count) for k, v in phases.seconds.items()}
    cpu_per_notebook = {k: v / (1 if k in once else count) for k, v in phases.cpu.items()}
    cells = per_notebook.get("    learner and test cells", 0.0)
    accounted = sum(v for k, v in per_notebook.items() if not k.startswith(" ") and k not in once)
    print(f"1. where the time goes: {count} notebooks graded in this process (load average {_load()})\n")
    print(f"{'phase':<48}{'s/notebook':>11}{'CPU s':>8}")
    for name in sorted(per_notebook, key=lambda k: list(phases.seconds).index(k)):
        print(f"{name:<48}{per_notebook[name]:>11.2f}{cpu_per_notebook[name]:>8.2f}")
    print(f"{'other (outside the phases above)':<48}{(wall / count) - accounted:>11.2f}")
    print(f"{'all, per notebook (once-per-run steps shared)':<48}{wall / count:>11.2f}")
    print(f"\nwall {wall:.1f} s, CPU {cpu:.1f} s for {count} notebooks ({cpu / count:.2f} CPU s per notebook)")
    torch_cpu = _child_cpu([sys.executable, "-c", "import torch"])
    nbgrader_cpu = _child_cpu([sys.executable, "-c", "import nbgrader.apps.api"])
    print(
        f"for scale: `import torch` in a fresh interpreter {torch_cpu:.2f} CPU s; `import nbgrader.apps.api` {nbgrader_cpu:.2f}"
    )
    return per_notebook, cells


def _child_cpu(command: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


# ------------------------------------------------------------------ 2. throughput


def _nbgrader_baseline(submitted: Path, root: Path) -> float:
    """Plain `nbgrader autograde` of the class from a course root of its own (serial)."""
    from autograder.class_run import _generate_assignment
    from autograder.nbgrader_cli import nbgrader_env

    root.mkdir()
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(COURSE_ROOT / "solutions" / LESSON, root / "solutions" / LESSON)
    _generate_assignment(root, LESSON)
    shutil.copytree(submitted, root / "submitted")
    nbgrader = Path(sys.executable).with_name("nbgrader")
    started = time.perf_counter()
    subprocess.run(
        [str(nbgrader), "autograde", LESSON, "--force"], cwd=root, env=nbgrader_env(), check=True, capture_output=True
    )
    return time.perf_counter() - started


@contextlib.contextmanager
def _dask_cluster(workers: int, scratch: Path):
    """A Dask cluster on this machine: a scheduler and ``workers`` worker processes of one
    thread each (nanny processes, as `dask worker` starts them)."""
    import dask
    from distributed import LocalCluster

    with (
        dask.config.set({"temporary-directory": str(scratch)}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
            local_directory=str(scratch),
        ) as cluster,
    ):
        yield cluster.scheduler_address


def throughput(scratch: Path, count: int, cells: float) -> None:
    submitted = scratch / "class"
    write_class(submitted, count)
    runs: dict[str, tuple[float, float]] = {}

    def timed(name: str, run) -> None:
        cpu, started = _cpu(), time.perf_counter()
        run()
        runs[name] = (time.perf_counter() - started, _cpu() - cpu)

    timed("nbgrader autograde (serial, no feedback)", lambda: _nbgrader_baseline(submitted, scratch / "baseline"))
    for workers in (1, 2):
        timed(
            f"grade, {workers} local worker(s)",
            lambda w=workers: grade_class(submitted, workers=w, out=scratch / f"local-{w}", progress=False),
        )
    for workers in (1, 2):
        with _dask_cluster(workers, scratch) as address:
            timed(
                f"grade --scheduler, {workers} Dask worker(s)",
                lambda w=workers, a=address: grade_class(
                    submitted, out=scratch / f"dask-{w}", progress=False, scheduler=a
                ),
            )
    print(f"\n2. throughput: {count} submissions of {LESSON}; load average now {_load()}")
    print("   (CPU: this process and its finished children; a Dask worker's CPU is not counted)\n")
    print(f"{'run':<42}{'seconds':>8}{'notebooks/min':>14}{'s/notebook':>11}{'overhead':>9}{'CPU s':>8}")
    for name, (seconds, cpu) in runs.items():
        per = seconds / count
        print(f"{name:<42}{seconds:>8.1f}{60 * count / seconds:>14.1f}{per:>11.2f}{per - cells:>9.2f}{cpu:>8.1f}")
    for kind in ("local worker(s)", "Dask worker(s)"):
        one = next(v[0] for k, v in runs.items() if k.endswith(f"1 {kind}"))
        two = next(v[0] for k, v in runs.items() if k.endswith(f"2 {kind}"))
        print(f"speed-up with 2 {kind}: {one / two:.2f}x")
    print(f"(overhead = s/notebook - {cells:.2f} s of the notebook's own learner and test cells)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=SUBMISSIONS)
    parser.add_argument("--only", choices=["breakdown", "throughput"])
    args = parser.parse_args()
    available, reason = sandbox_available()
    print(f"sandbox: {'bubblewrap' if available else 'OFF (' + reason + ')'}; cores: {os.cpu_count()}\n")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as scratch:
        scratch = Path(scratch)
        cells = 0.0
        if args.only != "throughput":
            _, cells = breakdown(scratch, min(args.submissions, 4))
        if args.only != "breakdown":
            throughput(scratch, args.submissions, cells)


if __name__ == "__main__":
    main()
