#!/usr/bin/env bash
# Creates or updates the course's Python environment in .venv (run by `make install`).
#   usage: tools/install.sh PYTHON VENV EXTRAS TORCH_INDEX
#   PYTHON       the interpreter to build .venv from (3.11 or newer), e.g. python3.12
#   VENV         the folder, normally .venv
#   EXTRAS       pip extras of this project: "" (a learner) or "dev" (the test suite's tools)
#   TORCH_INDEX  "" for PyTorch from PyPI (on Linux: the CUDA build and NVIDIA's libraries,
#                several GB), or a PyTorch wheel index: "cpu" (CPU only, about 180 MB),
#                "cu126", ... (https://download.pytorch.org/whl/<TORCH_INDEX>)
# A failed install never leaves a broken .venv behind: one this run created is removed, and
# one that did not finish an earlier run (no .installed marker) is rebuilt from scratch.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
extras=${3:-}
torch_index=${4:-}
required=(3 11)

if ! command -v "$python" >/dev/null 2>&1; then
    echo "error: no '$python' on PATH. Install Python ${required[0]}.${required[1]} or newer and run" \
         "\`make install PYTHON=/path/to/python3.12\`." >&2
    exit 1
fi
version_ok="import sys; sys.exit(sys.version_info[:2] < (${required[0]}, ${required[1]}))"
if ! "$python" -c "$version_ok"; then
    found=$("$python" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo "unknown")
    echo "error: $python is Python $found; the course needs ${required[0]}.${required[1]} or newer." >&2
    echo "  Install one (python.org, your package manager, e.g. \`brew install python@3.12\` on macOS," \
         "or pyenv), then: make install PYTHON=python3.12" >&2
    exit 1
fi
if ! "$python" -c "import venv, ensurepip" >/dev/null 2>&1; then
    echo "error: $python has no venv/ensurepip module (Debian/Ubuntu: sudo apt-get install python3-venv)." >&2
    exit 1
fi

if [ -e "$venv" ] && [ ! -f "$venv/.installed" ]; then
    echo "$venv is left from an install that did not finish: removing it and starting again"
    rm -rf "$venv"
elif [ -e "$venv" ] && ! "$venv/bin/python" -c "$version_ok" >/dev/null 2>&1; then
    echo "$venv has no working Python ${required[0]}.${required[1]}+: removing it and starting again"
    rm -rf "$venv"
fi

created=0
finish() {
    status=$?
    if [ "$status" -ne 0 ]; then
        if [ "$created" = 1 ]; then
            rm -rf "$venv"
            echo "install failed (exit $status): $venv removed; fix the problem above and run make again" >&2
        else
            echo "install failed (exit $status): $venv is marked unfinished; the next make rebuilds it" >&2
        fi
    fi
}
trap finish EXIT

if [ ! -e "$venv" ]; then
    echo "creating $venv with $python ($("$python" -c 'import platform; print(platform.python_version())'))"
    "$python" -m venv "$venv"
    created=1
fi
rm -f "$venv/.installed"
pip=("$venv/bin/python" -m pip install --quiet)
"${pip[@]}" --upgrade pip
if [ -n "$torch_index" ]; then
    # The pin comes from pyproject.toml (torch==X): the same version, from PyTorch's own index.
    pin=$("$venv/bin/python" -c 'import re, tomllib; deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; print(next(d for d in deps if re.match(r"torch\b", d)).replace(" ", ""))')
    echo "installing $pin from https://download.pytorch.org/whl/$torch_index"
    "${pip[@]}" "$pin" --index-url "https://download.pytorch.org/whl/$torch_index"
fi
echo "installing the course's packages (JupyterLab, nbgrader, NumPy, PyTorch, ...): a few minutes the first time"
"${pip[@]}" -e ".${extras:+[$extras]}"
"$venv/bin/python" tools/lab_settings.py
touch "$venv/.installed"
