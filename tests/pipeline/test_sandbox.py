"""The grading sandbox (autograder.sandbox): each property proved on a real kernel.

Most tests share one sandboxed kernel driven by nbclient (a kernel start costs about a
second); the limits that kill or cripple a kernel get kernels of their own. One test
grades a tiny course with nbgrader itself through the sandbox's flags and environment.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from autograder import COURSE_ROOT
from autograder.sandbox import SANDBOX_UID, Limits, SandboxKernel, sandbox_available, sandboxed_kernel

AVAILABLE, WHY_NOT = sandbox_available()
pytestmark = pytest.mark.skipif(not AVAILABLE, reason=f"grading sandbox unavailable: {WHY_NOT}")

#: What nbgrader passes (nbgrader_config.py: Execute.extra_arguments).
NBGRADER_KERNEL_ARGS = ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"]


class Kernel:
    """One running kernel; ``run`` executes code in it and returns what it printed."""

    def __init__(self, client: NotebookClient) -> None:
        self.client = client
        self.cells = 0

    def run(self, code: str) -> str:
        cell = nbformat.v4.new_code_cell(textwrap.dedent(code))
        self.client.nb.cells.append(cell)
        self.client.execute_cell(cell, self.cells)
        self.cells += 1
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{errors[0].ename}: {errors[0].evalue}"
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A fake course (package with a reference subpackage, solutions), a notebook folder,
    a record folder, and a file that no one lists."""
    root = tmp_path_factory.mktemp("sandbox")
    course = root / "course"
    for name, text in {
        "autograder/__init__.py": "VISIBLE = 1\n",
        "autograder/reference/__init__.py": "SECRET = 1\n",
        "solutions/01/answer.txt": "the answer\n",
    }.items():
        (course / name).parent.mkdir(parents=True, exist_ok=True)
        (course / name).write_text(text)
    for name in ("notebook", "probe"):
        (root / name).mkdir()
    (root / "unlisted.txt").write_text("not for the kernel\n")
    return {"root": root, "course": course, "notebook": root / "notebook", "probe": root / "probe"}


@pytest.fixture(scope="module")
def kernel(layout: dict[str, Path]) -> Iterator[Kernel]:
    course = layout["course"]
    with (
        sandboxed_kernel(
            readable=[course],
            writable=[layout["probe"]],
            hidden=[course / "solutions", course / "autograder" / "reference"],
        ) as sandbox,
        started(sandbox, layout["notebook"]) as k,
    ):
        yield k


@pytest.fixture
def small_limits_kernel(tmp_path: Path) -> Iterator[Kernel]:
    limits = Limits(cpu_seconds=2, file_bytes=1024**2, processes=32)
    with sandboxed_kernel(limits=limits) as sandbox, started(sandbox, tmp_path) as k:
        yield k


@contextlib.contextmanager
def started(sandbox: SandboxKernel, cwd: Path) -> Iterator[Kernel]:
    """A kernel of ``sandbox``, started as nbclient does for a notebook in ``cwd``."""
    client = NotebookClient(
        nbformat.v4.new_notebook(),
        resources={"metadata": {"path": str(cwd)}},
        allow_errors=True,
        extra_arguments=NBGRADER_KERNEL_ARGS,
        timeout=60,
        **sandbox.nbclient_kwargs,
    )
    with mock.patch.dict(os.environ, sandbox.env), client.setup_kernel():
        yield Kernel(client)


# ---------------------------------------------------------------- normal work


def test_numpy_and_torch_compute(kernel: Kernel) -> None:
    out = kernel.run("""
        import numpy as np, torch
        x = np.arange(6.0).reshape(2, 3)
        print(float(torch.from_numpy(x @ x.T).sum()), torch.nn.LSTM(3, 4)(torch.zeros(5, 1, 3))[0].shape)
    """)
    assert out.split(None, 1) == ["83.0", "torch.Size([5, 1, 4])\n"]


def test_working_directory_and_probe_are_writable(kernel: Kernel, layout: dict[str, Path]) -> None:
    out = kernel.run(f"""
        import os
        assert os.getcwd() == {str(layout["notebook"])!r}, os.getcwd()
        open("made-by-kernel.txt", "w").write("cwd")
        print(open("made-by-kernel.txt").read())
        open({str(layout["probe"] / "probe.txt")!r}, "w").write("probe")
    """)
    assert out.strip() == "cwd"
    assert (layout["probe"] / "probe.txt").read_text() == "probe"
    # The working directory is a tmpfs in the sandbox: nothing written there reaches the host.
    assert not (layout["notebook"] / "made-by-kernel.txt").exists()


def test_working_directory_is_capped_and_its_files_read_only(tmp_path: Path) -> None:
    (tmp_path / "given.txt").write_text("given by the course")
    with sandboxed_kernel(limits=Limits(workdir_bytes=8 * 1024**2)) as sandbox, started(sandbox, tmp_path) as k:
        out = k.run("""
            import errno
            print(open("given.txt").read())
            try:
                open("given.txt", "w").write("changed")
            except OSError as error:
                print("given", errno.errorcode[error.errno])
            written = 0
            try:
                for i in range(64):
                    with open(f"fill{i}.bin", "wb") as f:
                        f.write(bytes(1024**2))
                    written += 1
            except OSError as error:
                print("fill", errno.errorcode[error.errno], written <= 8)
        """)
    assert out.splitlines() == ["given by the course", "given EROFS", "fill ENOSPC True"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["given.txt"]
    assert (tmp_path / "given.txt").read_text() == "given by the course"


def test_kernel_runs_unprivileged(kernel: Kernel) -> None:
    uid = int(kernel.run("import os; print(os.getuid())"))
    assert uid != 0
    if os.geteuid() == 0:
        assert uid == SANDBOX_UID


def test_connection_file_is_visible_read_only(kernel: Kernel) -> None:
    out = kernel.run("""
        import json
        from ipykernel import get_connection_file
        path = get_connection_file()
        info = json.load(open(path))
        try:
            open(path, "a")
        except OSError as error:
            print(info["transport"], error.errno)
    """)
    transport, code = out.split()
    assert transport == "ipc"
    assert int(code) in (errno.EROFS, errno.EACCES)


def test_nbgrader_extra_arguments_reach_the_kernel(kernel: Kernel) -> None:
    out = kernel.run("ip = get_ipython(); print(ip.InteractiveTB.mode, ip.history_manager.hist_file)")
    assert out.split() == ["Minimal", ":memory:"]


def test_a_working_directory_holding_readable_paths_is_refused(layout: dict[str, Path]) -> None:
    # It would be bound read-write in full: the course root, say, instead of a scratch folder.
    with sandboxed_kernel(readable=[layout["course"] / "autograder"]) as sandbox:
        with pytest.raises(RuntimeError, match="Kernel died"), started(sandbox, layout["course"]):
            pass


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="processes"):
        Limits(processes=0)


# ---------------------------------------------------------------- isolation


def test_no_network(kernel: Kernel) -> None:
    # A listener on the grader's loopback: the kernel's 127.0.0.1 is another one.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        out = kernel.run(f"""
            import socket, time
            for address in [("192.0.2.1", 80), ("127.0.0.1", {port})]:  # TEST-NET-1, the grader's loopback
                start = time.monotonic()
                try:
                    socket.create_connection(address, timeout=5).close()
                    print("connected")
                except OSError as error:
                    print(error.errno, round(time.monotonic() - start, 1))
        """)
    (unreachable, t1), (refused, t2) = (line.split() for line in out.splitlines())
    assert int(unreachable) == errno.ENETUNREACH and float(t1) < 1
    assert int(refused) == errno.ECONNREFUSED and float(t2) < 1


def test_hidden_paths_cannot_be_read(kernel: Kernel, layout: dict[str, Path]) -> None:
    course = layout["course"]
    out = kernel.run(f"""
        import os
        print(open({str(course / "autograder" / "__init__.py")!r}).read().strip())
        for path in [{str(course / "solutions" / "01" / "answer.txt")!r},
                     {str(course / "autograder" / "reference" / "__init__.py")!r}]:
            try:
                open(path).read()
                print("READ", path)
            except OSError as error:
                print(error.errno)
        print(os.listdir({str(course / "solutions")!r}), os.listdir({str(course / "autograder" / "reference")!r}))
    """)
    assert out.splitlines() == ["VISIBLE = 1", str(errno.ENOENT), str(errno.ENOENT), "[] []"]


def test_unlisted_paths_are_not_visible(kernel: Kernel, layout: dict[str, Path]) -> None:
    paths = [
        layout["root"] / "unlisted.txt",
        COURSE_ROOT / "solutions",
        COURSE_ROOT / "autograder",
        Path("/etc/shadow"),
        Path("/etc/hostname"),
        Path.home() / ".bashrc",
        Path("/var"),
    ]
    out = kernel.run(f"""
        import os
        print([os.path.exists(p) for p in {[str(p) for p in paths]!r}])
        print(sorted(os.listdir("/")))
    """)
    exists, top = out.splitlines()
    assert exists == str([False] * len(paths))
    ours = [Path(sys.prefix).resolve(), Path(sys.base_prefix), layout["root"]]  # top folders of bound paths
    system = {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp", "usr"}
    assert set(eval(top)) <= system | {p.parts[1] for p in ours}


def test_writes_outside_writable_paths_fail(kernel: Kernel, layout: dict[str, Path]) -> None:
    targets = [
        layout["course"] / "autograder" / "new.py",
        Path(sys.prefix) / "new.txt",
        Path("/usr/new.txt"),
        Path("/new.txt"),
    ]
    out = kernel.run(f"""
        for path in {[str(p) for p in targets]!r}:
            try:
                open(path, "w").write("x")
                print("WROTE", path)
            except OSError as error:
                print(error.errno)
        open("/tmp/private.txt", "w").write("scratch")  # the private /tmp is writable
    """)
    assert [int(code) for code in out.split()] == [errno.EROFS] * 3 + [errno.EACCES]
    assert not any(p.exists() for p in targets)
    assert not Path("/tmp/private.txt").exists()


# ---------------------------------------------------------------- limits


def test_memory_limit_raises_memory_error(kernel: Kernel) -> None:
    out = kernel.run(f"""
        import numpy as np
        try:
            np.ones({Limits().memory_bytes} // 8 + 1)
        except MemoryError:
            print("MemoryError")
        print(np.ones(10**7).sum())  # 80 MB is fine, and the kernel lives on
    """)
    assert out.split() == ["MemoryError", "10000000.0"]


def test_file_size_limit(small_limits_kernel: Kernel) -> None:
    out = small_limits_kernel.run("""
        with open("small.bin", "wb") as f:
            f.write(bytes(512 * 1024))
        try:
            with open("big.bin", "wb") as f:
                f.write(bytes(2 * 1024**2))
        except OSError as error:
            print(error.errno)
    """)
    assert int(out) == errno.EFBIG


def test_process_limit_stops_a_fork_bomb(small_limits_kernel: Kernel) -> None:
    out = small_limits_kernel.run("""
        import os, signal, time
        children = []
        try:
            for _ in range(200):
                pid = os.fork()
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                children.append(pid)
        except OSError as error:
            print(error.errno, len(children))
        finally:
            for pid in children:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
    """)
    code, forked = map(int, out.split())
    assert code == errno.EAGAIN
    assert 0 < forked < 32  # the kernel's own threads count against the limit too


def test_cpu_limit_kills_the_kernel(small_limits_kernel: Kernel) -> None:
    start = time.monotonic()
    with pytest.raises(DeadKernelError):
        small_limits_kernel.run("while True: pass")
    assert time.monotonic() - start < 30


# ---------------------------------------------------------------- nbgrader


def test_nbgrader_autograde_through_the_sandbox(tmp_path: Path) -> None:
    (tmp_path / "nbgrader_config.py").write_text(
        textwrap.dedent(f"""
        c = get_config()
        c.CourseDirectory.root = {str(tmp_path)!r}
        c.Execute.extra_arguments = {NBGRADER_KERNEL_ARGS!r}
    """)
    )
    solution = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [
        graded_cell(solution, "answer", solution=True),
        graded_cell("assert add(1, 2) == 3", "test_add", points=1),
        # Passes only inside the sandbox: the instructor's source is not visible there.
        graded_cell(f"import os\nassert not os.path.exists({str(tmp_path / 'source')!r})", "test_sandboxed", points=1),
    ]
    (tmp_path / "source" / "ps1").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "source" / "ps1" / "p.ipynb")
    nbgrader(tmp_path, "generate_assignment", "ps1", "--create")

    student = nbformat.read(tmp_path / "release" / "ps1" / "p.ipynb", as_version=4)
    student.cells[0].source = "def add(a, b):\n    return a + b"
    (tmp_path / "submitted" / "alice" / "ps1").mkdir(parents=True)
    nbformat.write(student, tmp_path / "submitted" / "alice" / "ps1" / "p.ipynb")

    with sandboxed_kernel() as sandbox:
        nbgrader(tmp_path, "autograde", "ps1", "--create", *sandbox.nbgrader_args, env=sandbox.env)

    graded = nbformat.read(tmp_path / "autograded" / "alice" / "ps1" / "p.ipynb", as_version=4)
    assert [o.get("ename") for c in graded.cells for o in c.get("outputs", [])] == []
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission("ps1", "alice")
        assert (submission.score, submission.max_score) == (2, 2)


def graded_cell(source: str, grade_id: str, *, solution: bool = False, points: int = 0) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {
        "grade": points > 0,
        "solution": solution,
        "locked": not solution,
        "grade_id": grade_id,
        "schema_version": 3,
        **({"points": points} if points else {}),
    }
    return cell


def nbgrader(course: Path, *args: str, env: dict[str, str] | None = None) -> None:
    # nbgrader runs `alembic` by name when it creates a gradebook: this venv's bin/ first.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    full_env = {**os.environ, **(env or {}), "PATH": path}
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=full_env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- overhead


def test_report_overhead(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Reports (does not assert) kernel start plus `import torch`, with and without."""

    def timed(kernel_name: str, **kwargs: object) -> float:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch; torch.ones(3).sum()")])
        start = time.perf_counter()
        NotebookClient(
            nb,
            resources={"metadata": {"path": str(tmp_path)}},
            extra_arguments=NBGRADER_KERNEL_ARGS,
            **{"kernel_name": kernel_name, **kwargs},
        ).execute()
        return time.perf_counter() - start

    plain = timed("python3")
    with sandboxed_kernel() as sandbox, mock.patch.dict(os.environ, sandbox.env):
        boxed = timed(**sandbox.nbclient_kwargs)
    with capsys.disabled():
        print(
            f"\nkernel start + import torch: plain {plain:.2f} s, sandboxed {boxed:.2f} s"
            f" (overhead {boxed - plain:+.2f} s)"
        )
