"""The leak scan: nothing on the student's side may pass a graded function's visible check.

For every graded cell of a lesson, every callable a learner can reach is tried in the
place of each function the cell passes to its check (one "slot" per function the learner
writes, passed directly or through a given adapter that calls it), the other slots holding
the solution's functions. A candidate that makes the
visible check pass is a leak: it answers the exercise. Candidates are

- every function and class defined in a module of the student's package ``course``
  (all of it reaches the student), private names included;
- every function, class and lambda defined in a given cell (neither a solution nor a
  graded cell) of the student copy of this lesson or an earlier one.

Given cells run cheaply: only their imports, ``def``/``class`` statements and constant
assignments are executed (never a training loop), each statement under a time limit.
A candidate whose signature cannot take the slot's required positional arguments is
skipped without a call (the checks pass the learner's functions positional arguments);
every call runs under a time limit and with its output discarded.

Grader-side code, yet it imports no other grader-side module: ``release`` runs it in a
separate interpreter whose ``course`` is the student bundle's, so the bundle itself is
what gets scanned (``python leak_scan.py --root BUNDLE --solutions SOLUTIONS``).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import inspect
import io
import os
import pkgutil
import re
import signal
import sys
import threading
import time
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

#: The student's package: all of it reaches the student.
STUDENT_PACKAGE = "course"
#: Seconds a candidate may run inside one check (at least; see scan_lesson), and a given
#: statement while set up.
CALL_SECONDS = 10.0
STATEMENT_SECONDS = 20.0
#: Seconds the solution itself may take in a graded cell's visible check.
BASELINE_SECONDS = 300.0
HIDDEN_MARK = "### BEGIN HIDDEN TESTS"
#: A set-up problem that leaves a graded cell unscanned: the scan fails on it.
SOLUTION_FAILS = "the solution itself does not pass the visible check: not scanned"


class _TimeUp(BaseException):
    """Raised by the alarm; a BaseException, so that `except Exception` in code under test
    cannot swallow it."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (main thread only: elsewhere, no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum, frame):
        raise _TimeUp()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _quiet():
    """Discard what code under test prints or warns, and close any figure it opens."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            plt = sys.modules.get("matplotlib.pyplot")
            if plt is not None:
                plt.close("all")


# ------------------------------------------------------------------ notebooks


@dataclass
class Cell:
    kind: str  # "given", "solution" or "graded"
    source: str
    grade_id: str = ""


def read_cells(path: Path) -> list[Cell]:
    import nbformat

    cells = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            kind = "solution"
        elif meta.get("grade"):
            kind = "graded"
        else:
            kind = "given"
        cells.append(Cell(kind, cell.source, meta.get("grade_id", "")))
    return cells


def _without_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _is_constant_name(target: ast.expr) -> bool:
    names = [target] if isinstance(target, ast.Name) else list(getattr(target, "elts", []))
    return bool(names) and all(isinstance(n, ast.Name) and n.id.isupper() for n in names)


def _cheap(statement: ast.stmt) -> bool:
    """Imports, definitions, lambdas and constants: what a given cell offers, without
    running its experiments."""
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        if isinstance(statement.value, ast.Lambda) or all(_is_constant_name(t) for t in targets):
            return True
        return not any(isinstance(node, ast.Call) for node in ast.walk(statement.value))
    return False


def definitions(source: str) -> list[ast.stmt]:
    """The cheap statements of a cell, in order (none when it does not parse)."""
    try:
        tree = ast.parse(_without_magics(source))
    except SyntaxError:
        return []
    return [statement for statement in tree.body if _cheap(statement)]


def defined_callables(source: str) -> list[str]:
    """Names a cell binds to a function, a class or a lambda."""
    names = []
    for statement in definitions(source):
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(statement.name)
        elif isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Lambda):
            names += [t.id for t in statement.targets if isinstance(t, ast.Name)]
    return names


def run_definitions(cells: list[Cell], namespace: dict, kinds=("given", "solution")) -> list[str]:
    """Execute the cheap statements of ``cells`` of the given kinds into ``namespace``;
    return the statements that failed (a scan that lacks a definition says so)."""
    failed = []
    for cell in cells:
        if cell.kind not in kinds:
            continue
        for statement in definitions(cell.source):
            code = compile(ast.Module(body=[statement], type_ignores=[]), "<given cell>", "exec")
            try:
                with _quiet(), _time_limit(STATEMENT_SECONDS):
                    exec(code, namespace)
            except (Exception, _TimeUp) as error:
                # An assignment is best effort (it may need a value an experiment computes);
                # an import or a definition that fails is worth saying.
                if not isinstance(statement, (ast.Assign, ast.AnnAssign)):
                    failed.append(f"{ast.unparse(statement).splitlines()[0][:60]}: {type(error).__name__}")
    return failed


# ------------------------------------------------------------------ candidates


def student_modules(package_dir: Path) -> list[str]:
    """Every module of the student's package at ``package_dir``."""
    names = [STUDENT_PACKAGE]
    names += [info.name for info in pkgutil.walk_packages([str(package_dir)], prefix=f"{STUDENT_PACKAGE}.")]
    return sorted(names)


def module_candidates(module_names: list[str]) -> tuple[dict[str, object], list[str]]:
    """Functions and classes defined in each module (name -> object); and the modules that
    failed to import."""
    found, failed = {}, []
    for name in module_names:
        try:
            with _quiet():
                module = importlib.import_module(name)
        except Exception as error:
            failed.append(f"{name}: {type(error).__name__}")
            continue
        for attribute, value in vars(module).items():
            if callable(value) and getattr(value, "__module__", None) == name:
                found[f"{name}.{attribute}"] = value
    return found, failed


def given_candidates(lessons: list[tuple[str, list[Path]]]) -> tuple[dict[str, object], list[str]]:
    """What the given cells of these lessons' student copies define: each lesson runs in its
    own namespace (its stubs included, so given code that calls them resolves)."""
    found, failed = {}, []
    for lesson, notebooks in lessons:
        namespace: dict = {"__name__": f"lesson_{lesson}"}
        cells = [cell for path in notebooks for cell in read_cells(path)]
        failed += [f"{lesson}: {f}" for f in run_definitions(cells, namespace)]
        for cell in cells:
            if cell.kind == "given":
                for name in defined_callables(cell.source):
                    if callable(namespace.get(name)):
                        found[f"{lesson} given {name}"] = namespace[name]
    return found, failed


# ------------------------------------------------------------------ the scan


@dataclass
class SlotResult:
    lesson: str
    cell: str
    slot: str
    tried: int = 0
    skipped: int = 0
    timed_out: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)

    def line(self) -> str:
        verdict = "LEAK: " + ", ".join(self.leaks) if self.leaks else "none passes"
        extra = f", {len(self.timed_out)} timed out ({', '.join(self.timed_out)})" if self.timed_out else ""
        return (
            f"{self.lesson:<25} {self.cell:<32} {self.slot:<26} tried {self.tried:>3} "
            f"(skipped {self.skipped} by signature{extra}): {verdict}"
        )


def _required_positional(function) -> int | None:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    return sum(1 for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)


def _accepts(candidate, count: int) -> bool:
    try:
        inspect.signature(candidate).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): try it
        return True
    return True


def given_references(cells: list[Cell], solution_names: set[str]) -> dict[str, list[str]]:
    """For each function or class a given cell defines: the learner's functions (solution
    names) it uses. A graded cell may pass such an adapter to its check (a given wrapper
    that calls the learner's function): the learner's function is then the slot."""
    uses: dict[str, list[str]] = {}
    for cell in cells:
        if cell.kind != "given":
            continue
        for statement in definitions(cell.source):
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = {node.id for node in ast.walk(statement) if isinstance(node, ast.Name)}
                uses[statement.name] = sorted(names & solution_names)
    return uses


def graded_slots(
    cell: Cell, solution_names: set[str], adapters: dict[str, list[str]] | None = None
) -> tuple[str, list[str]]:
    """The visible part of a graded cell, and the learner's functions (defined in the
    lesson's solution cells) that it passes to its check, directly or through a given
    adapter."""
    visible = cell.source.split(HIDDEN_MARK)[0]
    try:
        tree = ast.parse(_without_magics(visible))
    except SyntaxError:
        return visible, []
    slots = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for arg in node.args:
                if not isinstance(arg, ast.Name):
                    continue
                names = [arg.id] if arg.id in solution_names else (adapters or {}).get(arg.id, [])
                slots += [name for name in names if name not in slots]
    return visible, slots


def _trial_namespace(namespace: dict, slot: str, candidate) -> dict:
    """The lesson's namespace with ``candidate`` in the learner's place: every function
    defined in the namespace is rebound to the copy, so that a given adapter (or another
    solution function) that calls the slot calls the candidate, as in a learner's kernel."""
    trial = dict(namespace)
    trial[slot] = candidate
    for name, value in namespace.items():
        if isinstance(value, types.FunctionType) and value.__globals__ is namespace and value is not candidate:
            copy = types.FunctionType(value.__code__, trial, value.__name__, value.__defaults__, value.__closure__)
            copy.__kwdefaults__ = value.__kwdefaults__
            copy.__dict__.update(value.__dict__)
            trial[name] = copy
    trial[slot] = candidate
    return trial


class _Refused(BaseException):
    """What a candidate gets for trying to end or signal a process during the scan."""


@contextlib.contextmanager
def _no_process_control():
    """A candidate is any callable, called with arrays: none may end the scan's process or
    signal others (a grader-side helper that kills its descendants, say)."""

    def refuse(*args, **kwargs):
        raise _Refused()

    saved = {
        (module, name): getattr(module, name)
        for module, name in ((os, "_exit"), (os, "kill"), (os, "killpg"), (os, "abort"), (signal, "raise_signal"))
    }
    for module, name in saved:
        setattr(module, name, refuse)
    try:
        yield
    finally:
        for (module, name), value in saved.items():
            setattr(module, name, value)


@contextlib.contextmanager
def _process_state_kept():
    """Put back what a candidate may change for every later trial: the import path (a
    helper that adds its argument, an array, to sys.path breaks every later import), the
    working directory, the environment, the temporary folder."""
    import tempfile

    path, cwd, environ, tempdir = list(sys.path), os.getcwd(), dict(os.environ), tempfile.tempdir
    try:
        yield
    finally:
        sys.path[:] = path
        os.chdir(cwd)
        if dict(os.environ) != environ:
            os.environ.clear()
            os.environ.update(environ)
        tempfile.tempdir = tempdir


def _outcome(visible: str, namespace: dict, seconds: float = CALL_SECONDS) -> str:
    """'' when the visible check passes, else why not ('ran out of time', or the error)."""
    try:
        with _quiet(), _process_state_kept(), _no_process_control(), _time_limit(seconds):
            exec(compile(visible, "<graded cell>", "exec"), dict(namespace))
    except _TimeUp:
        return "ran out of time"
    except BaseException as error:  # the check failed, or the candidate crashed: not a pass
        return f"{type(error).__name__}: {error}".splitlines()[0][:200]
    return ""


def _passes(visible: str, namespace: dict, seconds: float = CALL_SECONDS) -> bool | None:
    """True when the visible check passes, False when it fails, None when it ran too long."""
    outcome = _outcome(visible, namespace, seconds)
    return None if outcome == "ran out of time" else not outcome


def _stub(*args, **kwargs):
    raise NotImplementedError


def scan_lesson(
    lesson: str, root: Path, solutions: Path, candidates: dict[str, object]
) -> tuple[list[SlotResult], list[str]]:
    """Try every candidate in every slot of every graded cell of ``lesson``; ``root`` holds
    the student copy (lessons/), ``solutions`` the instructor's notebooks (for the other
    slots). Returns the results and the problems met while setting up."""
    problems = []
    solution_cells = [cell for path in sorted((solutions / lesson).glob("*.ipynb")) for cell in read_cells(path)]
    student_cells = [cell for path in sorted((root / "lessons" / lesson).glob("*.ipynb")) for cell in read_cells(path)]
    namespace: dict = {"__name__": f"solution_{lesson}"}
    problems += [f"solution {lesson}: {f}" for f in run_definitions(solution_cells, namespace)]
    solution_names = {
        name for cell in solution_cells if cell.kind == "solution" for name in defined_callables(cell.source)
    }
    adapters = given_references(solution_cells, solution_names)
    results = []
    for cell in student_cells:
        if cell.kind != "graded":
            continue
        visible, slots = graded_slots(cell, solution_names, adapters)
        if not slots:
            continue
        # The solution first, with time to spare: it sets the time each candidate gets (ten
        # times its own, at least CALL_SECONDS), so that a busy machine slows the scan
        # without changing what it finds.
        started = time.monotonic()
        why = _outcome(visible, namespace, seconds=BASELINE_SECONDS)
        seconds = max(CALL_SECONDS, 10 * (time.monotonic() - started))
        if why:
            problems.append(f"{lesson} {cell.grade_id}: {SOLUTION_FAILS} ({why})")
            continue
        for slot in slots:
            if _passes(visible, _trial_namespace(namespace, slot, _stub), seconds):
                # The check does not call this function (a backward check that builds the
                # forward's cache from its stated contract): nothing there to answer.
                problems.append(
                    f"{lesson} {cell.grade_id}: {slot} is not judged by this check (a stub passes): not scanned"
                )
                continue
            result = SlotResult(lesson, cell.grade_id, slot)
            required = _required_positional(namespace[slot]) or 0
            for label, candidate in candidates.items():
                if not _accepts(candidate, required):
                    result.skipped += 1
                    continue
                result.tried += 1
                outcome = _passes(visible, _trial_namespace(namespace, slot, candidate), seconds)
                if outcome is None:
                    result.timed_out.append(label)
                elif outcome:
                    result.leaks.append(label)
            results.append(result)
    return results, problems


def lesson_ids(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "lessons").iterdir() if p.is_dir() and re.match(r"\d\d_", p.name))


def scan(root: Path, solutions: Path, lessons: list[str] | None = None, out=print) -> list[SlotResult]:
    """Scan ``lessons`` (default: every lesson under root/lessons) of the course or bundle at
    ``root``, whose ``course`` must be the one imported. Prints what it tried."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    all_lessons = lesson_ids(root)
    package = importlib.import_module(STUDENT_PACKAGE)
    out(f"scanning the {STUDENT_PACKAGE} package at {Path(package.__file__).parent}, lessons at {root / 'lessons'}")
    modules, module_problems = module_candidates(student_modules(root / STUDENT_PACKAGE))
    for problem in module_problems:
        out(f"could not import {problem}")
    results = []
    for lesson in lessons or all_lessons:
        earlier = [(name, sorted((root / "lessons" / name).glob("*.ipynb"))) for name in all_lessons if name <= lesson]
        given, given_problems = given_candidates(earlier)
        candidates = {**modules, **given}
        out(
            f"{lesson}: {len(modules)} callables from {len(student_modules(root / STUDENT_PACKAGE))} student-facing modules, "
            f"{len(given)} from given cells of lessons up to {lesson}"
        )
        out("  candidates: " + ", ".join(sorted(candidates)))
        lesson_results, problems = scan_lesson(lesson, root, solutions, candidates)
        for problem in given_problems + problems:
            out(f"  set-up: {problem}")
        for result in lesson_results:
            out("  " + result.line())
        results += lesson_results
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, required=True, help="the course or the student bundle (holds lessons/ and course/)"
    )
    parser.add_argument("--solutions", type=Path, required=True, help="the instructor's solutions/ folder")
    parser.add_argument("lessons", nargs="*", help="lesson ids (default: all under ROOT/lessons)")
    args = parser.parse_args(argv)
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    results = scan(args.root.resolve(), args.solutions.resolve(), args.lessons or None, out=out)
    leaks = [r for r in results if r.leaks]
    unscanned = [line for line in lines if SOLUTION_FAILS in line]
    print(
        f"leak scan: {len(results)} graded slots, {sum(r.tried for r in results)} trials, {len(leaks)} with a leak"
        + (f", {len(unscanned)} graded cells not scanned" if unscanned else "")
    )
    return 1 if leaks or unscanned else 0


if __name__ == "__main__":
    # Run as a file by release: the first path entry is this folder, whose modules
    # must not shadow anything; the root's course package comes first.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(here)]
    root_arg = sys.argv[sys.argv.index("--root") + 1] if "--root" in sys.argv else "."
    sys.path.insert(0, str(Path(root_arg).resolve()))
    sys.exit(main())
