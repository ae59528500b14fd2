"""`make gpu-check` on a machine without CUDA: it says so, claims nothing and exits 0.
On a GPU machine the same command runs the CUDA paths (autograder/gpu_check.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from autograder import COURSE_ROOT, gpu_check


def test_without_cuda_it_says_so_and_claims_nothing():
    # CUDA_VISIBLE_DEVICES="" hides any GPU, so this holds on a GPU machine too.
    result = subprocess.run(
        [sys.executable, "-m", "autograder.gpu_check"],
        capture_output=True,
        text=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "sees no CUDA GPU" in result.stdout and "nothing was checked" in result.stdout
    assert "OK" not in result.stdout and "passed" not in result.stdout


def test_every_cuda_test_is_marked_cuda(request):
    """The tests that skip for want of a GPU are the ones `pytest -m cuda` selects."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-m",
            "cuda",
            "-p",
            "no:cacheprovider",
            "tests/unit/test_references.py",
            "tests/unit/test_references_lstm.py",
            "tests/unit/test_references_gru.py",
            "tests/lessons/test_sequence_models.py",
            "tests/unit/test_device.py",
        ],
        cwd=COURSE_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    selected = [line for line in result.stdout.splitlines() if "::" in line]
    for module in (
        "test_references.py",
        "test_references_lstm.py",
        "test_references_gru.py",
        "test_sequence_models.py",
    ):
        assert any(module in line for line in selected), f"no CUDA test of {module} is marked cuda"
    assert all("cuda" in line.lower() for line in selected), selected
    assert not any("test_device.py" in line for line in selected), "a CPU-only test was taken for a CUDA one"


def test_a_skip_counts_as_a_failure_in_the_table(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text('<testsuites><testsuite tests="5" failures="0" errors="0" skipped="1"/></testsuites>')
    assert gpu_check.pytest_counts(report) == {"tests": 5, "failures": 0, "errors": 0, "skipped": 1}
    rows = [
        gpu_check.Row("CUDA-marked tests", False, 1.0, "4 passed, 0 failed, 1 skipped"),
        gpu_check.Row("lesson 07 epoch: CPU vs GPU", True, 2.0, "cpu 30.1 s/epoch, cuda 1.2 s/epoch"),
    ]
    text = gpu_check.table(rows, "cuda (a GPU)")
    assert "FAIL" in text and "1/2 rows OK" in text
