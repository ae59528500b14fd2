"""`make gpu-check`: prove the course's CUDA paths on a machine with an NVIDIA GPU.

On such a machine it runs, and prints one table of:
- the CUDA-marked tests of the suite (every one must pass; a skip is a failure here);
- every lesson's visible and hidden checks on the reference functions, with the CUDA
  oracles that the checks add when a GPU is present, and every known-wrong variant
  still caught with them;
- lessons 06 and 07 executed end to end as a learner runs them (full experiments), on the GPU;
- lesson 07's model timed on the CPU and on the GPU, its learner and full runs projected from timed minibatches (the benchmark).

Without CUDA it says so and exits 0, claiming nothing. Exit status 1 when any row failed.

    .venv/bin/python -m autograder.gpu_check
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from . import COURSE_ROOT

ROOT = COURSE_ROOT

#: The learner runs executed on the GPU, and the longest each may take.
LEARNER_RUNS = {
    "06_torch_sequence_models": ROOT / "solutions/06_torch_sequence_models/sequence_models.ipynb",
    "07_text_generation": ROOT / "solutions/07_text_generation/text_generation.ipynb",
}
CELL_TIMEOUT_S = 420


@dataclass
class Row:
    step: str
    ok: bool
    seconds: float
    detail: str


def pytest_counts(junit_xml: Path) -> dict[str, int]:
    """Test counts from pytest's JUnit XML report: tests, failures, errors, skipped."""
    suite = ElementTree.parse(junit_xml).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    return {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}


def run_pytest(step: str, args: list[str]) -> Row:
    """pytest in a subprocess; every selected test must pass (skips count as failures:
    on a GPU machine a CUDA test has no reason to skip)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "junit.xml"
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        if not report.exists():
            return Row(step, False, seconds, f"pytest did not run (exit {result.returncode}): {result.stderr[-200:]}")
        counts = pytest_counts(report)
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    ok = result.returncode == 0 and passed > 0 and counts["skipped"] == 0
    detail = f"{passed} passed, {counts['failures'] + counts['errors']} failed, {counts['skipped']} skipped"
    if not ok:
        failed = [line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR", "SKIPPED"))]
        detail += "; " + "; ".join(failed[:3])
    return Row(step, ok, seconds, detail)


def lesson_checks_on_cuda() -> list[Row]:
    """Each lesson's visible and hidden checks (seed 0) on its reference functions, and
    every known-wrong variant, with the CUDA oracles in play."""
    import importlib

    from autograder.mistakes.registry import LESSONS
    from course.checks.torch_oracle import devices

    rows = []
    for lesson, module in LESSONS.items():
        visible = importlib.import_module(f"course.checks.{lesson}")
        hidden = importlib.import_module(f"autograder.hidden.{lesson}")
        started = time.perf_counter()
        passed, cuda_lines, problems, caught, variants = 0, 0, [], 0, 0
        for function, correct in module.CORRECT.items():
            printed = io.StringIO()
            try:
                with contextlib.redirect_stdout(printed):
                    getattr(visible, function)(*correct)
                    getattr(hidden, function)(*correct, seed=0)
                passed += 1
            except Exception as error:  # a check that fails on the reference: report it
                problems.append(f"{function}: {type(error).__name__}: {str(error)[:120]}")
            cuda_lines += sum("torch cuda" in line for line in printed.getvalue().splitlines())
            for wrong in module.VARIANTS.get(function, ()):
                variants += 1
                caught += _rejected(getattr(visible, function), wrong.functions) or _rejected(
                    getattr(hidden, function), wrong.functions, seed=0
                )
        total = len(module.CORRECT)
        ok = passed == total and caught == variants and cuda_lines > 0 and any(d.startswith("cuda") for d in devices())
        detail = (
            f"{passed}/{total} checks pass, {cuda_lines} lines against torch cuda, "
            f"{caught}/{variants} known-wrong variants caught"
        )
        if problems:
            detail += "; " + "; ".join(problems[:2])
        rows.append(Row(f"checks on CUDA: {lesson}", ok, time.perf_counter() - started, detail))
    return rows


def _rejected(check, functions, **kwargs) -> bool:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            check(*functions, **kwargs)
        except Exception:
            return True
    return False


def learner_run(lesson: str, path: Path) -> Row:
    """Execute a solution notebook as a learner runs it (no NBGRADER_EXECUTION: full
    experiments) with AUTOGRADER_DEVICE=cuda, and confirm it said it ran on CUDA."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("NBGRADER")}
    environment["AUTOGRADER_DEVICE"] = "cuda"
    started = time.perf_counter()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)  # the kernel inherits this process's environment
    try:
        with tempfile.TemporaryDirectory() as scratch:
            NotebookClient(
                notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": scratch}}
            ).execute()
        error = ""
    except Exception as failure:
        error = (
            f"{type(failure).__name__}: {str(failure).strip().splitlines()[-1][:160] if str(failure).strip() else ''}"
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    seconds = time.perf_counter() - started
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
    on_cuda = "cuda (" in printed
    detail = error or (
        "ran on " + next(line for line in printed.splitlines() if "cuda (" in line).strip()[:100]
        if on_cuda
        else "finished, but never printed that it used CUDA"
    )
    return Row(f"learner run on the GPU: {lesson}", not error and on_cuda, seconds, detail)


def epoch_benchmark() -> Row:
    """benchmarks/text_generation_training.py: seconds per epoch on every device."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/text_generation_training.py"), "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    lines = [line.split() for line in result.stdout.splitlines()[1:] if line.strip()]
    per_device = {line[0]: line[-2] for line in lines if line and line[0] in ("cpu", "cuda")}
    ok = result.returncode == 0 and {"cpu", "cuda"} <= set(per_device)
    detail = ", ".join(f"{device} {value} s/epoch" for device, value in per_device.items()) or result.stderr[-200:]
    return Row("lesson 07 epoch: CPU vs GPU", ok, seconds, detail)


def table(rows: list[Row], device: str) -> str:
    width = max(len(row.step) for row in rows)
    lines = [f"make gpu-check on {device}", f"{'step':<{width}}  result  {'seconds':>7}  detail"]
    for row in rows:
        lines.append(f"{row.step:<{width}}  {'OK' if row.ok else 'FAIL':<6}  {row.seconds:>7.1f}  {row.detail}")
    lines.append(f"{sum(r.ok for r in rows)}/{len(rows)} rows OK")
    return "\n".join(lines)


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print(
            f"make gpu-check: torch {torch.__version__} sees no CUDA GPU on this machine; "
            "nothing was checked and nothing is claimed."
        )
        return 0
    from course.device import describe

    device = f"{describe(torch.device('cuda'))}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    print(f"make gpu-check on {device}", flush=True)
    rows = [run_pytest("CUDA-marked tests", ["-m", "cuda", "tests"])]
    print(f"  {rows[-1].step}: {rows[-1].detail}", flush=True)
    rows += lesson_checks_on_cuda()
    for lesson, path in LEARNER_RUNS.items():
        rows.append(learner_run(lesson, path))
        print(f"  {rows[-1].step}: {rows[-1].detail} ({rows[-1].seconds:.0f} s)", flush=True)
    rows.append(epoch_benchmark())
    print()
    print(table(rows, device))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
