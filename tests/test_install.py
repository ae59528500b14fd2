"""The two installation paths (pip: pyproject.toml, conda: environment.yml) list the same
direct dependencies with the same version constraints, and the pip path pins torch."""
from __future__ import annotations

import re
import tomllib

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
