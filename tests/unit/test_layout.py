"""The layout draws the line between the student's side and the instructor's.

``course/`` is what a learner's notebook imports and what ``release`` hands out whole;
``autograder/`` answers and grades, and never reaches a student. The line holds only if
nothing on the student's side imports the instructor's package, in any form.
"""

from __future__ import annotations

import ast

import pytest

from autograder import COURSE_ROOT

STUDENT_SIDE = sorted((COURSE_ROOT / "course").rglob("*.py"))


def _imported_modules(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            names |= {arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}
    return names


@pytest.mark.parametrize("path", STUDENT_SIDE, ids=lambda p: str(p.relative_to(COURSE_ROOT)))
def test_the_student_package_never_imports_the_instructors(path):
    imported = _imported_modules(ast.parse(path.read_text()))
    assert not {name for name in imported if name.split(".")[0] == "autograder"}


def test_the_student_package_imports_on_its_own(tmp_path):
    """A copy of course/ alone, with no autograder/ beside it, imports every module."""
    import shutil
    import subprocess
    import sys

    shutil.copytree(COURSE_ROOT / "course", tmp_path / "course", ignore=shutil.ignore_patterns("__pycache__"))
    modules = [
        ".".join(p.relative_to(COURSE_ROOT).with_suffix("").parts).removesuffix(".__init__") for p in STUDENT_SIDE
    ]
    code = (
        "import importlib, sys\n"
        "sys.modules['autograder'] = None  # any import of it fails\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "import course; assert course.__file__.startswith(sys.argv[1]), course.__file__\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path)!r}); exec({code!r})",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
