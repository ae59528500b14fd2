"""Kernels started ahead: the next notebook's kernel boots while this one is graded.

Before a notebook's first learner cell, a grading kernel costs about 2.5 s: bubblewrap and
ipykernel start, then the set-up cell imports torch, NumPy and matplotlib. Every notebook
pays it (benchmarks/grading.py measures it). ``WarmKernels`` starts the kernel of a
worker's next notebook, those imports included, as soon as the current notebook has taken
its own, so that the next notebook finds its kernel ready. With a core free beside the
worker (one worker on a laptop) the start is hidden almost whole; with one worker per core
the benchmark finds no consistent difference either way. It costs one more kernel in
memory per worker.
``grade`` does it for local workers whose kernels are sandboxed (``--prestart``): without
the sandbox, a submission could reach the next kernel's record folder
(tests/pipeline/test_warm_kernels.py shows it). Not on Dask unless asked: bubblewrap's
``--die-with-parent`` follows the thread that started a kernel, and a Dask worker stopped
between tasks (its task threads gone) would leave the kernel it started ahead running.

What a kernel started ahead is, and is not:

- it is started by GuardedExecute.launch, as every grading kernel is: the same sandbox,
  limits and environment;
- its record folder and seed are drawn when it starts (autograder.replay.new_record_run);
  the notebook that takes it is replayed with them, and the ones SeedHiddenChecks drew for
  that notebook are discarded unused;
- its working folder is an empty folder of its own, made for it (the submission is not
  known when it starts). A submission is its notebooks only (autograder.intake), which a
  kernel never reads: its cells come from the grader;
- the imports ``WARM_IMPORTS`` run at its start-up (IPython's ``exec_lines``), before any
  cell, and leave no name behind; the set-up cell then finds the modules loaded;
- it serves one notebook and is shut down after it, as every kernel is: nothing passes from
  one submission's kernel to the next.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
from pathlib import Path

from .execution import GuardedExecute, LaunchedKernel
from .replay import new_record_run

#: What the course's set-up cells import that takes time (about 1.9 s together on a quiet
#: core); a kernel started ahead has them loaded before its notebook begins.
WARM_IMPORTS = ("numpy", "torch", "matplotlib.pyplot")


def warm_up_arguments() -> list[str]:
    """ipykernel arguments that import ``WARM_IMPORTS`` at start-up, binding no name."""
    statement = "import " + ", ".join(f"{module} as _warm_up" for module in WARM_IMPORTS) + "; del _warm_up"
    return [f"--IPKernelApp.exec_lines={statement}"]


class WarmKernels:
    """One kernel kept started ahead for the next notebook of one worker's scratch course.

    ``take`` hands the notebook the kernel started ahead (or starts one now, the first time
    or when the one ahead died), then starts the next one while ``keep_warm`` is true (the
    class run sets it false for a worker's last known task, so no kernel is started for
    nothing). ``close`` stops the one still waiting.
    """

    def __init__(self, folder: Path, record_parent: Path):
        self.folder = Path(folder)  # the kernels' working folders are made in it
        self.record_parent = Path(record_parent)
        self.keep_warm = True
        self._ahead: tuple[str, LaunchedKernel] | None = None  # (kernel name, kernel)
        self._numbers = itertools.count(1)

    def take(self, executor: GuardedExecute, kernel_name: str, record_run) -> LaunchedKernel:
        """The kernel for the notebook ``executor`` is about to run. ``record_run`` is the
        one SeedHiddenChecks made for it: used for a kernel started now, discarded when the
        kernel started ahead (with a record run of its own) is taken."""
        kernel = self._take_ahead(kernel_name)
        if kernel is None:
            kernel = self._start(executor, kernel_name, record_run)
        else:
            kernel.record_run.previous_env = record_run.previous_env  # given back after the replay
            record_run.discard()
        if self.keep_warm:
            try:
                self._ahead = (kernel_name, self._start(executor, kernel_name, new_record_run(str(self.record_parent))))
            except Exception as error:  # the notebook is not the one to fail: it is started cold next time
                executor.log.warning("could not start the next kernel ahead: %s", error)
        return kernel

    def close(self) -> None:
        taken, self._ahead = self._ahead, None
        if taken is not None:
            _discard(taken[1])

    def _take_ahead(self, kernel_name: str) -> LaunchedKernel | None:
        taken, self._ahead = self._ahead, None
        if taken is None:
            return None
        name, kernel = taken
        if name == kernel_name and kernel.alive():
            return kernel
        _discard(kernel)  # started for another kernel, or died while it waited
        return None

    def _start(self, executor: GuardedExecute, kernel_name: str, record_run) -> LaunchedKernel:
        self.folder.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"k{next(self._numbers)}-", dir=self.folder))
        try:
            kernel = executor.launch(kernel_name, record_run, workdir, warm_up_arguments())
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        kernel.own_workdir = True
        return kernel


def _discard(kernel: LaunchedKernel) -> None:
    """A kernel no notebook ran in: stopped, its record folder removed unread."""
    kernel.close()
    if kernel.record_run is not None:
        with contextlib.suppress(Exception):
            kernel.record_run.discard()
