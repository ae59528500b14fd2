"""The two installation paths (pip: pyproject.toml, conda: environment.yml) list the same
direct dependencies with the same version constraints, and the pip path pins torch.
The git hooks (.pre-commit-config.yaml) run the dev dependencies' tools from .venv, and the
nbstripout hook gives back a committed notebook exactly, nbgrader's metadata included."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from autograder import COURSE_ROOT

#: conda-forge names that differ from the PyPI names
CONDA_TO_PIP = {"pytorch": "torch"}
#: conda-only entries: the interpreter and the installer
CONDA_ONLY = {"python", "pip"}


def _pip_requirements() -> dict[str, SpecifierSet]:
    project = tomllib.loads((COURSE_ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {Requirement(line).name.lower(): Requirement(line).specifier for line in lines}


def _conda_requirements() -> dict[str, SpecifierSet]:
    environment = yaml.safe_load((COURSE_ROOT / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"]
    found = {}
    for entry in environment["dependencies"]:
        assert isinstance(entry, str), f"unexpected nested entry {entry!r} (a pip: section would be a second list)"
        name = re.match(r"[A-Za-z0-9_.-]+", entry).group(0).lower()
        if name in CONDA_ONLY:
            continue  # `python=3.11` is conda's syntax, not a pip requirement
        requirement = Requirement(entry.replace(" ", ""))
        found[CONDA_TO_PIP.get(name, name)] = requirement.specifier
    return found


def test_pip_and_conda_list_the_same_dependencies():
    pip, conda = _pip_requirements(), _conda_requirements()
    assert set(pip) == set(conda), f"only in pip: {set(pip) - set(conda)}; only in conda: {set(conda) - set(pip)}"
    differ = {name: (str(pip[name]), str(conda[name])) for name in pip if pip[name] != conda[name]}
    assert not differ, f"version constraints differ (pip, conda): {differ}"


def test_torch_is_pinned_exactly():
    # An unpinned torch pulls the CUDA build: gigabytes on a learner's laptop.
    assert str(_pip_requirements()["torch"]) == "==2.13.0"


def test_installed_versions_satisfy_the_pins():
    from importlib.metadata import version

    for name, specifier in _pip_requirements().items():
        installed = version(name)
        assert specifier.contains(installed, prereleases=True) or name == "torch" and installed.startswith("2.13.0"), (
            f"{name} {installed} does not satisfy {specifier}"
        )


def _hooks() -> dict[str, dict]:
    config = yaml.safe_load((COURSE_ROOT / ".pre-commit-config.yaml").read_text())
    return {hook["id"]: {**hook, "repo": repo["repo"]} for repo in config["repos"] for hook in repo["hooks"]}


def test_every_hook_runs_a_dev_dependency_from_the_venv():
    # No hook downloads anything: each is local and runs a tool that `make install` put in .venv.
    dev = _pip_requirements()
    for hook_id, hook in _hooks().items():
        tool = shlex.split(hook["entry"])[0]
        assert hook["repo"] == "local" and tool.startswith(".venv/bin/"), f"{hook_id} runs {tool}"
        assert tool.removeprefix(".venv/bin/") in dev, f"{hook_id}: {tool} is not a dev dependency"


@pytest.mark.parametrize("path", ["solutions/03_bptt/bptt.ipynb", "lessons/03_bptt/bptt.ipynb"])
def test_nbstripout_hook_gives_back_the_committed_notebook(path, tmp_path):
    """Run and saved in JupyterLab (outputs, execution counts, timing and kernel metadata),
    then stripped by the hook: byte for byte the committed notebook, cell ids and nbgrader's
    metadata (grade ids, points, locks, checksums) kept."""
    hook = _hooks()["nbstripout"]
    assert re.fullmatch(hook["files"], path)
    committed = COURSE_ROOT / path
    executed = tmp_path / Path(path).name
    notebook = nbformat.read(committed, as_version=4)
    assert any("nbgrader" in cell.metadata for cell in notebook.cells)
    for count, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="out  OK\n"),
            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="}),
        ]
        cell.metadata.update(ExecuteTime={"end_time": "2026-01-01T00:00:00"}, scrolled=True)
    notebook.metadata.language_info.update(version="3.11.7", mimetype="text/x-python", file_extension=".py")
    nbformat.write(notebook, executed)

    command = shlex.split(hook["entry"])
    assert command[0] == ".venv/bin/nbstripout"
    # the venv's nbstripout is the one running these tests: `python -m nbstripout`
    subprocess.run([sys.executable, "-m", "nbstripout", *command[1:], str(executed)], check=True, cwd=tmp_path)
    assert executed.read_bytes() == committed.read_bytes()


def test_git_drivers_named_in_gitattributes_are_the_ones_make_configures():
    attributes = (COURSE_ROOT / ".gitattributes").read_text()
    assert re.search(r"^\*\.ipynb\s+diff=jupyternotebook\s+merge=jupyternotebook$", attributes, re.M)
    makefile = (COURSE_ROOT / "Makefile").read_text()
    for setting in ("diff.jupyternotebook.command", "merge.jupyternotebook.driver"):
        assert f"git config --local {setting}" in makefile, f"make install does not set {setting}"
    assert shutil.which("git-nbdiffdriver", path=str(Path(sys.executable).parent)), "nbdime is not installed"


# ------------------------------------------------------------------ tools/install.sh, tools/lab_settings.py

INSTALL = COURSE_ROOT / "tools" / "install.sh"


def _install(folder: Path, python: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(INSTALL), python, ".venv", "", ""],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )


def test_install_refuses_an_old_python_before_creating_anything(tmp_path):
    old = tmp_path / "python3.9"
    old.write_text(
        '#!/bin/sh\ncase "$*" in *python_version*) echo 3.9.6 ;; *version_info*) exit 1 ;; *) exit 0 ;; esac\n'
    )
    old.chmod(0o755)
    result = _install(tmp_path, str(old))
    assert result.returncode == 1
    assert "Python 3.9.6" in result.stderr and "3.11 or newer" in result.stderr and "PYTHON=" in result.stderr
    assert not (tmp_path / ".venv").exists()
    missing = _install(tmp_path, "no-such-python3")
    assert missing.returncode == 1 and "PYTHON=" in missing.stderr


@pytest.mark.slow
def test_a_failed_install_leaves_no_venv(tmp_path):
    """pip fails (a pyproject.toml it cannot read): the .venv this run created is removed;
    a .venv left by an earlier install that did not finish is not kept either."""
    (tmp_path / "pyproject.toml").write_text("[project\nnot toml")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "left-over").touch()  # no .installed marker: an unfinished install
    # No index: the pip upgrade finds nothing newer offline, and nothing is downloaded.
    result = _install(tmp_path, sys.executable, PIP_NO_INDEX="1", PIP_FIND_LINKS="")
    assert result.returncode != 0
    assert "did not finish: removing it" in result.stdout
    assert "install failed" in result.stderr and ".venv removed" in result.stderr
    assert not (tmp_path / ".venv").exists()


def test_make_install_passes_python_and_the_torch_index(tmp_path):
    result = subprocess.run(
        [
            "make",
            "-n",
            "-B",
            "-C",
            str(COURSE_ROOT),
            f"VENV={tmp_path / 'v'}",
            "install",
            "TORCH_INDEX=cpu",
            "PYTHON=python3.12",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert f'bash tools/install.sh "python3.12" {tmp_path / "v"} dev "cpu"' in result.stdout
    script = INSTALL.read_text()
    assert '--index-url "https://download.pytorch.org/whl/$torch_index"' in script


def test_lab_settings_merge_into_overrides(tmp_path):
    sys.path.insert(0, str(COURSE_ROOT / "tools"))
    try:
        import lab_settings
    finally:
        sys.path.pop(0)
    path = lab_settings.overrides_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}')
    settings = lab_settings.write_overrides(path)
    assert settings["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}  # kept
    assert settings["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True
    assert settings["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert lab_settings.write_overrides(path) == settings  # idempotent


def test_the_conda_route_runs_the_scripts_make_runs():
    makefile = (COURSE_ROOT / "Makefile").read_text()
    assert "tools/lab.sh" in makefile and "tools/install.sh" in makefile
    assert "tools/lab_settings.py" in INSTALL.read_text()
    readme = (COURSE_ROOT / "README.md").read_text()
    conda = readme[readme.index("Prefer conda?") :][:600]
    assert "python tools/lab_settings.py" in conda and "bash tools/lab.sh" in conda
