"""Running nbgrader's own command line from Python, the one way the course does it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def nbgrader_env() -> dict[str, str]:
    """os.environ with this interpreter's bin/ first on PATH: nbgrader runs `alembic` by
    name when it creates a gradebook, and it lives beside the interpreter (in .venv/bin)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    """`nbgrader ARGS` in the course root ``root``; raises RuntimeError with its output on failure."""
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=root, env=nbgrader_env(), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"nbgrader {' '.join(args)} failed in {root}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result
