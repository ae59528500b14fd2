"""Benchmark: grading a class of lesson 01, in one run (`make bench`), printed as tables.

1. Where one notebook's time goes: a class graded in this process, each phase timed
   (the scratch course, nbgrader's autograde and its steps, the kernel's launch and start,
   the set-up cell that imports torch, the learner's cells, the hidden checks' replay,
   feedback), per notebook, with this process's CPU time beside the wall time; once with
   each kernel started when its notebook needs it, once started ahead
   (autograder.warm_kernels).
2. Throughput and overhead per notebook: plain `nbgrader autograde` of the same class (the
   baseline: serial, no feedback), `grade` with 1 and 2 local worker processes, and `grade
   --scheduler` the same on a Dask cluster on this machine, each with kernels started when
   needed, then ahead; the speed-up of 2 workers over 1. Overhead per notebook = seconds
   per notebook minus the notebook's own cell time (measured in 1).

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

# A small class: each worker's one-time start (imports, scratch course) is spread over
# several notebooks.
SUBMISSIONS = 24
AHEAD = ", kernels started ahead"


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


def _phases() -> Phases:
    """The phases of grading one notebook, timed by wrapping the functions that do them."""
    import nbclient
    from nbgrader.apps.api import NbGraderAPI

    from autograder import class_run, grading, intake, replay
    from autograder.execution import GuardedExecute, LaunchedKernel

    phases = Phases()
    phases.wrap(class_run, "_template", "template course (once per run)")
    phases.wrap(grading.ScratchCourse, "_set_up", "scratch course (once per worker)")
    phases.wrap(grading, "take_in", "take in + inspect")
    phases.wrap(grading.ScratchCourse, "_inspect", "take in + inspect")
    phases.wrap(NbGraderAPI, "autograde", "nbgrader autograde (all of it)")
    phases.wrap(replay.SeedHiddenChecks, "preprocess", "  seed hidden checks")
    phases.wrap(GuardedExecute, "preprocess", "  execute (all of it)")
    # (started ahead: the next notebook's launch is counted here too; it does not wait)
    phases.wrap(GuardedExecute, "launch", "    kernel launch (bubblewrap, ipykernel)")
    # (the synchronous name: nbclient binds it to the async method when it is defined)
    phases.wrap(nbclient.NotebookClient, "start_new_kernel_client", "    kernel: wait until ready")
    phases.wrap(
        GuardedExecute,
        "preprocess_cell",
        lambda self, cell, *rest: (
            "    course cells (set-up: import torch, ...)"
            if intake.is_course_cell(cell)
            else "    learner and test cells"
        ),
    )
    phases.wrap(nbclient.NotebookClient, "_cleanup_kernel", "    kernel stop")
    phases.wrap(LaunchedKernel, "close", "    kernel stop")
    phases.wrap(replay.ReplayHiddenChecks, "preprocess", "  replay hidden checks")
    phases.wrap(NbGraderAPI, "generate_feedback", "feedback (nbgrader generate_feedback)")
    phases.wrap(grading.ScratchCourse, "_collect_scores", "scores, publish")
    phases.wrap(grading.ScratchCourse, "_publish", "scores, publish")
    phases.wrap(class_run, "merge", "merge into the gradebook")
    return phases


#: The two ways a worker starts kernels (autograder.warm_kernels), compared in part 1.
KERNEL_MODES = {"started when needed": False, "started ahead": True}


def breakdown(scratch: Path, count: int) -> float:
    """Grade ``count`` submissions in this process (one scratch course, as a worker does),
    once per way of starting kernels, and time each phase. Returns the learner's and test
    cells' own seconds per notebook."""
    submitted = scratch / "breakdown"
    write_class(submitted, count)
    table: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
    totals, cells = {}, {}
    for mode, prestart in KERNEL_MODES.items():
        phases = _phases()
        cpu, started = _cpu(), time.perf_counter()
        try:
            grade_class(
                submitted, out=scratch / f"breakdown-{prestart}", progress=False, in_process=True, prestart=prestart
            )
        finally:
            phases.restore()
        wall, cpu = time.perf_counter() - started, _cpu() - cpu
        for name, seconds in phases.seconds.items():
            share = 1 if "once per" in name else count
            table[name][mode] = (seconds / share, phases.cpu[name] / share)
        accounted = sum(
            seconds / count
            for name, seconds in phases.seconds.items()
            if not name.startswith(" ") and "once per" not in name
        )
        table["other (outside the phases above)"][mode] = ((wall / count) - accounted, float("nan"))
        totals[mode] = (wall / count, cpu / count)
        cells[mode] = table["    learner and test cells"][mode][0]
    table["all, per notebook (once-per-run steps shared)"] = totals
    table["overhead: all minus the learner and test cells"] = {
        m: (totals[m][0] - cells[m], float("nan")) for m in totals
    }

    print(
        f"1. where the time goes: {count} notebooks graded in this process, kernels started when needed, "
        f"then ahead (load average {_load()})\n"
    )
    print(f"{'':<52}" + "".join(f"{mode:^22}" for mode in KERNEL_MODES))
    print(f"{'phase':<52}" + f"{'s/notebook':>12}{'CPU s':>8}  " * len(KERNEL_MODES))
    for name, by_mode in table.items():
        row = ""
        for mode in KERNEL_MODES:
            seconds, cpu = by_mode.get(mode, (0.0, 0.0))
            row += f"{seconds:>12.2f}" + (f"{cpu:>8.2f}  " if cpu == cpu else " " * 10)
        print(f"{name:<52}{row}")
    print(
        "\n(CPU: this process's and its reaped children's: a kernel's own CPU is not in it. Started ahead, "
        "the first notebook's kernel is started when needed, and each kernel's start and imports run "
        "beside the notebook before it.)"
    )
    torch_cpu = _child_cpu([sys.executable, "-c", "import torch"])
    nbgrader_cpu = _child_cpu([sys.executable, "-c", "import nbgrader.apps.api"])
    print(
        f"for scale: `import torch` in a fresh interpreter {torch_cpu:.2f} CPU s; `import nbgrader.apps.api` {nbgrader_cpu:.2f}"
    )
    return cells["started when needed"]


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
    # Each worker count twice: kernels started when needed, then ahead (what `grade` does in
    # the sandbox by default: autograder.warm_kernels).
    for workers, prestart in ((1, False), (1, True), (2, False), (2, True)):
        timed(
            f"grade, {workers} local worker(s){AHEAD if prestart else ''}",
            lambda w=workers, p=prestart: grade_class(
                submitted, workers=w, out=scratch / f"local-{w}-{p}", progress=False, prestart=p
            ),
        )
    for workers, prestart in ((1, False), (1, True), (2, False), (2, True)):
        with _dask_cluster(workers, scratch) as address:
            timed(
                f"grade --scheduler, {workers} Dask worker(s){AHEAD if prestart else ''}",
                lambda w=workers, p=prestart, a=address: grade_class(
                    submitted, out=scratch / f"dask-{w}-{p}", progress=False, scheduler=a, prestart=p
                ),
            )
    print(f"\n2. throughput: {count} submissions of {LESSON}; load average now {_load()}")
    print("   (CPU: this process and its finished children; a Dask worker's CPU is not counted)\n")
    print(f"{'run':<62}{'seconds':>8}{'notebooks/min':>14}{'s/notebook':>11}{'overhead':>9}{'CPU s':>8}")
    for name, (seconds, cpu) in runs.items():
        per = seconds / count
        print(f"{name:<62}{seconds:>8.1f}{60 * count / seconds:>14.1f}{per:>11.2f}{per - cells:>9.2f}{cpu:>8.1f}")
    for kind in ("local worker(s)", "Dask worker(s)"):
        ratios = []
        for ahead in ("", AHEAD):
            one, two = (runs[next(k for k in runs if k.endswith(f"{n} {kind}{ahead}"))][0] for n in (1, 2))
            ratios.append(f"{one / two:.2f}x with kernels started {'ahead' if ahead else 'when needed'}")
        print(f"speed-up with 2 {kind} over 1: " + ", ".join(ratios))
    print("(one worker starting its kernels ahead already uses the second core for them: two workers then add less)")
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
            cells = breakdown(scratch, min(args.submissions, 6))
        if args.only != "breakdown":
            throughput(scratch, args.submissions, cells)


if __name__ == "__main__":
    main()
