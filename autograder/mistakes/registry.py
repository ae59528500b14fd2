"""Every lesson's known-wrong module, found by name: autograder/mistakes/<lesson module>.py
for each course/checks/<lesson module>.py. A new lesson joins the tests by adding
its module, with no list to edit."""

from __future__ import annotations

import importlib
import pkgutil

import autograder.mistakes as package

#: lesson module name (e.g. "fc_layers") -> its known-wrong module
LESSONS = {
    info.name: importlib.import_module(f"autograder.mistakes.{info.name}")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name)
    if info.name != "registry"
}
