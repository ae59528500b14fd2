"""Run grading kernels inside a bubblewrap sandbox (no Docker needed).

Student code and the course's tests share one kernel, so a submission can do anything
the kernel's user can: read solutions/ or the hidden tests, talk to the network, fill the
disk, fork-bomb the grader. ``sandboxed_kernel`` writes a temporary Jupyter kernelspec
whose command wraps ipykernel in ``bwrap`` (Debian's ``bubblewrap``) plus util-linux's
``setpriv``, ``unshare`` and ``prlimit``, so each kernel runs:

- without network (its own network namespace: a loopback that is not the host's);
- with the filesystem hidden except: read-only ``/usr`` (and the ``/bin``, ``/lib*``
  links of a merged-/usr system), a few ``/etc`` files the dynamic loader and libc read,
  the Python environment (``sys.prefix`` and the interpreter it links to), the caller's
  ``readable`` paths; read-write the kernel's working directory, the caller's
  ``writable`` paths and a private, size-capped ``/tmp``; read-only the kernel's
  connection file alone; ``hidden`` paths are masked by an empty directory or file;
- under resource limits (``Limits``): address space, CPU time, file size, processes;
- as an unprivileged user (``nobody``) when the grader runs as root, because root is
  exempt from the process limit and could undo the rest.

Usage with nbgrader (a subprocess)::

    with sandboxed_kernel(readable=[...], writable=[...], hidden=[...]) as kernel:
        subprocess.run(["nbgrader", "autograde", "ps1", *kernel.nbgrader_args],
                       env={**os.environ, **kernel.env}, check=True)

and with nbclient in this process (the kernelspec is found through ``JUPYTER_PATH``,
which jupyter_client reads from ``os.environ`` when the kernel manager is created)::

    with sandboxed_kernel(...) as kernel, mock.patch.dict(os.environ, kernel.env):
        NotebookClient(nb, **kernel.nbclient_kwargs).execute()

Facts this relies on (trial of nbgrader 0.9.6, jupyter_client 8, ipykernel 7):

- The kernel's loopback is not the grader's, so the kernel's sockets use zmq's ``ipc``
  transport, in a directory bound into the sandbox at the same absolute path
  (``KernelManager.ip`` must be absolute: the kernel and the grader have different cwds).
- ``JPY_PARENT_PID`` names a process outside the sandbox's pid namespace; ipykernel would
  watch it and exit. The environment is rebuilt from an allowlist, with it set to 1.
- Signals to the kernel's process reach bwrap, not ipykernel: ``interrupt_mode`` is
  ``message``.
- nbgrader's ``Execute.extra_arguments`` are appended to the kernelspec's argv by
  jupyter_client; the launcher passes them on to ipykernel.

One context serves one kernel at a time (nbgrader autograde is serial). Kernels running
at once must each get their own context: they would otherwise share the ipc directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KERNEL_NAME = "rnn-course-sandbox"

#: The user a root grader's kernels run as: ``nobody``. Only the grader's own scratch
#: directories are given to it (see ``sandboxed_kernel``).
SANDBOX_UID = 65534
SANDBOX_GID = 65534

MiB = 1024**2
GiB = 1024**3

#: Files under /etc that libc and the dynamic loader read (users, library cache,
#: time zone). Nothing else of /etc is visible.
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/fonts",  # matplotlib's fontconfig prints an error to the kernel's stderr without it
)

#: Top-level names that are links into /usr on a merged-/usr system (Debian 12+),
#: or real directories on older ones.
ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

#: Grader environment variables the kernel keeps (by prefix); everything else is
#: dropped, so the kernel never sees the grader's secrets or JPY_PARENT_PID.
KEPT_ENV_PREFIXES = (
    "AUTOGRADER_",  # the record folder the hidden checks record into (course.recording)
    "NBGRADER_",
    "LANG",
    "LC_",
    "TZ",
    "PYTHONHASHSEED",
)

#: Thread-pool sizes of NumPy's BLAS and torch, set from Limits.threads.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Limits:
    """Per-kernel resource limits (setrlimit, so per process unless said otherwise).

    memory_bytes: address space (RLIMIT_AS). A sandboxed kernel that has imported torch
        and run a small LSTM holds 1.2 GiB of address space (VmPeak; a plain python
        with torch 0.8 GiB), so 4 GiB leaves about 2.8 GiB for a student's arrays. An
        allocation beyond it raises MemoryError and the kernel survives.
    cpu_seconds: CPU time of the kernel process over its whole life (RLIMIT_CPU); at the
        limit the kernel is killed (nbclient raises DeadKernelError).
    file_bytes: largest file the kernel may write (RLIMIT_FSIZE); beyond it write()
        fails with EFBIG (Python ignores SIGXFSZ, which would otherwise kill it).
    processes: processes and threads (RLIMIT_NPROC) of the sandbox user. Counted per
        kernel where user namespaces are allowed (see ``_process_count_is_private``);
        a kernel that has run torch has 11 threads, which leaves 50 or so processes.
    threads: size of the BLAS / OpenMP / torch thread pools (OMP_NUM_THREADS, ...):
        grading runs several kernels at once, and a pool per core would make the address
        space and thread count of a kernel depend on the machine.
    tmp_bytes: size of the private /tmp and of /dev/shm (tmpfs, held in memory).
    workdir_bytes: what the kernel may write into its working directory, in total: the
        directory is a tmpfs of this size inside the sandbox, with the files it held when
        the kernel started bound read-only into it. What the kernel writes there never
        reaches the host's disk and vanishes with the kernel (nothing to copy back).
    """

    memory_bytes: int = 4 * GiB
    cpu_seconds: int = 600
    file_bytes: int = 64 * MiB
    processes: int = 64
    threads: int = 1
    tmp_bytes: int = 256 * MiB
    workdir_bytes: int = 256 * MiB

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if getattr(self, f.name) <= 0:
                raise ValueError(f"Limits.{f.name} must be positive")


@dataclass(frozen=True)
class SandboxKernel:
    """What a caller needs to start kernels from the temporary kernelspec.

    name: the kernelspec's name (``--Execute.kernel_name`` for nbgrader).
    env: variables to add to the environment of the process that starts kernels
        (``JUPYTER_PATH``, so jupyter_client finds the kernelspec).
    nbgrader_args: command-line flags for ``nbgrader autograde`` (and validate): the
        kernel name and the kernel manager's ipc transport and absolute ip.
    nbclient_kwargs: keyword arguments for ``nbclient.NotebookClient`` with the same
        meaning (``kernel_name`` and a traitlets ``config``).
    """

    name: str
    env: dict[str, str]
    nbgrader_args: list[str]
    nbclient_kwargs: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class _Plan:
    """Everything the launcher needs, fixed when the kernelspec is written (as JSON)."""

    bwrap: str
    python: str
    environment: list[str]  # read-only: the Python prefixes
    readable: list[str]
    writable: list[str]  # including the ipc directory
    hidden: list[str]
    mask_file: str  # an empty file bound over hidden files
    limits: dict[str, int]
    run_as: int | None  # uid to drop to (root graders); None: stay the caller's user
    private_user_namespace: bool  # count processes per kernel (see _process_count_is_private)

    @classmethod
    def load(cls, path: str | Path) -> _Plan:
        return cls(**json.loads(Path(path).read_text()))


# ---------------------------------------------------------------- availability


@functools.cache
@functools.cache
def sandbox_available() -> tuple[bool, str]:
    """(True, '') when bubblewrap works here (a real ``bwrap ... true`` is run, as the
    kernels will: dropping to the sandbox user when root); else (False, reason)."""
    if not sys.platform.startswith("linux"):
        return False, "the sandbox needs Linux (bubblewrap)"
    tools = ["bwrap", "prlimit"] + (["setpriv"] if os.geteuid() == 0 else [])
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        return False, (
            f"not installed: {', '.join(missing)}"
            " (Debian packages bubblewrap, util-linux; see tools/system-packages.sh)"
        )
    ok, error = _try_in_sandbox(["prlimit", "--nproc=64", "--", "true"])
    if not ok:
        return False, f"bubblewrap cannot start a sandbox here: {error}"
    return True, ""


@functools.cache
def _process_count_is_private() -> bool:
    """Whether the kernel can enter a user namespace of its own after dropping root.

    RLIMIT_NPROC counts the processes of a user in a user namespace: every kernel
    running as ``nobody`` in the same namespace shares one count, so one student's fork
    bomb would starve the kernels grading beside it. A fresh namespace per kernel
    (``unshare --user``) gives each its own count. Some hosts forbid unprivileged user
    namespaces (sysctl, AppArmor); the count is then shared.
    """
    ok, _ = _try_in_sandbox(["unshare", "--user", "--", "true"])
    return ok


def _try_in_sandbox(command: list[str]) -> tuple[bool, str]:
    """Runs ``command`` in a minimal sandbox, as the sandbox user when root."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, "bwrap not found"
    argv = [bwrap, *_namespace_args(), *_system_args(), "--proc", "/proc", "--dev", "/dev", "--"]
    argv += _drop_root_args(SANDBOX_UID if os.geteuid() == 0 else None) + command
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, str(error)
    return result.returncode == 0, result.stderr.strip() or f"exit status {result.returncode}"


# ---------------------------------------------------------------- the context


@contextlib.contextmanager
def sandboxed_kernel(
    *,
    readable: Sequence[Path] = (),
    writable: Sequence[Path] = (),
    hidden: Sequence[Path] = (),
    limits: Limits = Limits(),
) -> Iterator[SandboxKernel]:
    """Writes a temporary kernelspec ``rnn-course-sandbox`` and yields how to use it.

    readable: paths the kernel may read (bound read-only at the same place), for
        example the course package; the Python environment is always readable.
    writable: paths the kernel may write besides its working directory (which is
        always writable), for example a record folder. When the grader runs as root
        they are given (chown -R) to the sandbox user ``nobody``, and so is each
        kernel's working directory itself (not its contents): the kernel can create files
        there, and read but not modify the files already in it.
    hidden: paths masked by an empty directory (or empty file), inside readable or
        writable paths, for example ``autograder/reference``. Missing ones are skipped.
    limits: see ``Limits``.

    Raises RuntimeError when the sandbox cannot run here (see ``sandbox_available``)
    and FileNotFoundError for a missing readable or writable path.
    """
    ok, reason = sandbox_available()
    if not ok:
        raise RuntimeError(reason)
    run_as = SANDBOX_UID if os.geteuid() == 0 else None
    readable = [_existing(p) for p in readable]
    writable = [_existing(p) for p in writable]
    hidden = [Path(p).resolve() for p in hidden]

    data_dir = Path(tempfile.mkdtemp(prefix="rnn-course-sandbox-"))
    try:
        spec_dir = data_dir / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        ipc_dir = data_dir / "ipc"
        ipc_dir.mkdir()
        mask_file = data_dir / "empty"
        mask_file.touch(mode=0o444)
        if run_as is not None:
            for path in [*writable, ipc_dir]:
                _give_to(path, run_as, recursive=True)

        plan = _Plan(
            bwrap=shutil.which("bwrap") or "bwrap",
            # Absolute, with the folder's links resolved but not the interpreter's own (a
            # virtual environment is found through it): an interpreter started by a relative
            # path would not be found from the sandbox's working directory.
            python=os.path.join(os.path.realpath(os.path.dirname(sys.executable)), os.path.basename(sys.executable)),
            environment=[str(p) for p in _python_prefixes()],
            readable=[str(p) for p in readable],
            writable=[str(p) for p in [*writable, ipc_dir]],
            hidden=[str(p) for p in hidden],
            mask_file=str(mask_file),
            limits=dataclasses.asdict(limits),
            run_as=run_as,
            private_user_namespace=run_as is not None and _process_count_is_private(),
        )
        _write_kernelspec(spec_dir, plan)

        ip = str(ipc_dir / "kernel")  # ipc sockets are files ip-1, ip-2, ...
        yield SandboxKernel(
            name=KERNEL_NAME,
            env={"JUPYTER_PATH": os.pathsep.join(filter(None, [str(data_dir), os.environ.get("JUPYTER_PATH")]))},
            nbgrader_args=[
                f"--Execute.kernel_name={KERNEL_NAME}",
                "--KernelManager.transport=ipc",
                f"--KernelManager.ip={ip}",
            ],
            nbclient_kwargs={
                "kernel_name": KERNEL_NAME,
                "config": _traitlets_config({"KernelManager": {"transport": "ipc", "ip": ip}}),
            },
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _write_kernelspec(spec_dir: Path, plan: _Plan) -> None:
    plan_file = spec_dir / "plan.json"
    plan_file.write_text(json.dumps(dataclasses.asdict(plan), indent=1))
    launcher = spec_dir / "launch.py"
    # -I: the launcher runs in the student's directory; nothing there may shadow a module.
    launcher.write_text(
        "# Written by autograder.sandbox: starts one grading kernel inside bubblewrap.\n"
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
        "from autograder.sandbox import launch_kernel\n"
        f"launch_kernel({str(plan_file)!r}, sys.argv[1], sys.argv[2:])\n"
    )
    kernel = {
        "argv": [plan.python, "-I", str(launcher), "{connection_file}"],
        "display_name": "Python 3 (grading sandbox)",
        "language": "python",
        "interrupt_mode": "message",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(kernel, indent=1))


def _traitlets_config(sections: dict[str, dict[str, Any]]) -> Any:
    from traitlets.config import Config

    return Config(sections)


def _existing(path: Path) -> Path:
    resolved = Path(path).resolve()
    if not resolved.exists():
        raise FileNotFoundError(f"sandbox path does not exist: {path}")
    return resolved


def _python_prefixes() -> list[Path]:
    """The environment's prefix and the installation its interpreter comes from (a venv's
    python is a link to, e.g., /root/.pyenv/versions/3.11.7/bin/python3.11)."""
    candidates = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix]
    candidates.append(str(Path(os.path.realpath(sys.executable)).parent.parent))
    return _outermost(Path(os.path.realpath(p)) for p in candidates)


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Distinct paths, leaving out those inside another one."""
    unique = sorted(set(paths), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return kept


def _give_to(path: Path, uid: int, *, recursive: bool) -> None:
    os.chown(path, uid, SANDBOX_GID, follow_symlinks=False)
    if recursive and path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), uid, SANDBOX_GID, follow_symlinks=False)


# ---------------------------------------------------------------- the launcher


def launch_kernel(plan_file: str, connection_file: str, kernel_args: list[str]) -> None:
    """Entry point of the kernelspec: replaces this process with the sandboxed kernel.

    Runs in the kernel's working directory (jupyter_client's cwd for the kernel), as the
    grader's user, with the connection file jupyter_client wrote and the extra kernel
    arguments (nbgrader's Execute.extra_arguments).
    """
    plan = _Plan.load(plan_file)
    cwd = Path.cwd()
    # The working directory is bound read-write in full: it must be a scratch folder
    # (nbgrader's autograded/<student>/<assignment>), not one holding the environment or
    # the course, such as the repository root.
    if any(Path(p).is_relative_to(cwd) for p in ["/usr", *plan.environment, *plan.readable]):
        sys.exit(f"autograder.sandbox: refusing to run a kernel in {cwd}: it contains paths the kernel may only read")
    if plan.run_as is not None and cwd.stat().st_uid != plan.run_as:
        _give_to(cwd, plan.run_as, recursive=False)
    # bwrap copies the connection file from this descriptor into the sandbox, readable by
    # the sandbox user (jupyter_client writes it 0600 for the grader's user).
    fd = os.open(connection_file, os.O_RDONLY)
    os.set_inheritable(fd, True)
    argv = bwrap_argv(
        plan, cwd=cwd, connection_file=connection_file, connection_fd=fd, kernel_args=kernel_args, environ=os.environ
    )
    os.execv(argv[0], argv)


def bwrap_argv(
    plan: _Plan,
    *,
    cwd: Path,
    connection_file: str,
    connection_fd: int,
    kernel_args: Sequence[str],
    environ: Mapping[str, str],
) -> list[str]:
    """The full command: bwrap's namespaces and mounts, then the user drop, the limits
    and ipykernel."""
    limits = Limits(**plan.limits)
    argv = [plan.bwrap, *_namespace_args(), "--die-with-parent", "--new-session"]
    argv += _system_args()
    argv += _mount_args(plan, cwd=cwd, connection_file=connection_file, connection_fd=connection_fd)
    argv += _env_args(limits, environ, plan.python)
    argv += ["--chdir", str(cwd), "--"]
    argv += _drop_root_args(plan.run_as)
    if plan.run_as is not None and plan.private_user_namespace:
        argv += ["unshare", "--user", "--"]
    argv += _limit_args(limits)
    argv += [plan.python, "-m", "ipykernel_launcher", "-f", connection_file, *kernel_args]
    return argv


def _namespace_args() -> list[str]:
    # Not --unshare-all: as root it would add a user namespace in which the sandbox user
    # has no mapping, and setpriv could not switch to it.
    args = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() != 0:
        args.insert(0, "--unshare-user")  # what bwrap needs to mount without root
    return args


def _system_args() -> list[str]:
    # /etc made first with 0755: bwrap would create it 0700 for the binds below, and the
    # sandbox user could not enter it.
    args = ["--ro-bind", "/usr", "/usr", "--perms", "0755", "--dir", "/etc"]
    for name in ROOT_LINKS:
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    for name in ETC_FILES:
        if os.path.exists(name):
            args += ["--ro-bind", name, name]
    return args


def _drop_root_args(uid: int | None) -> list[str]:
    if uid is None:
        return []
    # A plain uid change clears the capabilities; the bounding set, inheritable set and
    # no_new_privs make sure none come back through an exec.
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={SANDBOX_GID}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def _limit_args(limits: Limits) -> list[str]:
    # prlimit sets soft = hard: the kernel cannot raise them back. At the CPU hard limit
    # the kernel sends SIGKILL. Core dumps would be files outside file_bytes' reach.
    return [
        "prlimit",
        f"--as={limits.memory_bytes}",
        f"--cpu={limits.cpu_seconds}",
        f"--fsize={limits.file_bytes}",
        f"--nproc={limits.processes}",
        "--core=0",
        "--",
    ]


def _env_args(limits: Limits, environ: Mapping[str, str], python: str) -> list[str]:
    env = {k: v for k, v in environ.items() if k.startswith(KEPT_ENV_PREFIXES)}
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        {
            "PATH": os.pathsep.join([str(Path(python).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": "/tmp",  # IPython, matplotlib and torch keep their caches under $HOME
            "TMPDIR": "/tmp",
            # The grader's JPY_PARENT_PID is a pid outside the sandbox's pid namespace:
            # ipykernel would poll it and exit. 1 (bwrap's init) is ipykernel's "no parent
            # to watch" value and also stops its "Ctrl-C will not work" banner on stdout.
            "JPY_PARENT_PID": "1",
            **{name: str(limits.threads) for name in THREAD_ENV},
        }
    )
    args = ["--clearenv"]
    for name, value in sorted(env.items()):
        args += ["--setenv", name, value]
    return args


def _mount_args(plan: _Plan, *, cwd: Path, connection_file: str, connection_fd: int) -> list[str]:
    """Mounts in an order that works: a path's parents before the path, masks last.

    bwrap creates missing parents of a mount point with mode 0700, which the sandbox
    user cannot enter, so each parent is created explicitly with 0755 first.
    """
    tmp_size = str(plan.limits["tmp_bytes"])
    # (path, rank, args): sorted by depth, then rank, so that deeper mounts land on top.
    mounts: list[tuple[Path, int, list[str]]] = [
        (Path("/proc"), 0, ["--proc", "/proc"]),
        (Path("/dev"), 0, ["--dev", "/dev"]),
        (Path("/dev/shm"), 0, ["--perms", "1777", "--size", tmp_size, "--tmpfs", "/dev/shm"]),
        (Path("/tmp"), 0, ["--perms", "1777", "--size", tmp_size, "--tmpfs", "/tmp"]),
    ]
    for path in _outermost([Path("/usr"), *map(Path, plan.environment + plan.readable)]):
        if path != Path("/usr"):  # bound by _system_args already
            mounts.append((path, 1, ["--ro-bind", str(path), str(path)]))
    for path in {Path(p) for p in plan.writable}:
        mounts.append((path, 2, ["--bind", str(path), str(path)]))
    # The working directory: a size-capped tmpfs, the files already there bound on top,
    # read-only (links and other special files are left out).
    workdir_size = str(plan.limits.get("workdir_bytes", Limits.workdir_bytes))
    mounts.append((cwd, 2, ["--perms", "1777", "--size", workdir_size, "--tmpfs", str(cwd)]))
    with os.scandir(cwd) as listing:
        for entry in listing:
            if entry.is_file(follow_symlinks=False) or entry.is_dir(follow_symlinks=False):
                mounts.append((Path(entry.path), 2, ["--ro-bind", entry.path, entry.path]))
    for path in map(Path, plan.hidden):
        if path.is_dir():
            mounts.append((path, 3, ["--perms", "0755", "--tmpfs", str(path)]))
        elif path.exists():
            mounts.append((path, 3, ["--ro-bind", plan.mask_file, str(path)]))
    mounts.append(
        (Path(connection_file), 4, ["--perms", "0444", "--ro-bind-data", str(connection_fd), connection_file])
    )

    args: list[str] = []
    bound: list[Path] = []  # host directories bound in: their subdirectories exist already
    made: set[Path] = {Path("/")}
    for path, _rank, mount in sorted(mounts, key=lambda m: (len(m[0].parts), m[1], str(m[0]))):
        for parent in reversed(path.parents):
            if parent in made or any(parent.is_relative_to(b) for b in bound):
                continue
            args += ["--perms", "0755", "--dir", str(parent)]
            made.add(parent)
        args += mount
        made.add(path)
        if mount[0] in ("--ro-bind", "--bind") and path.is_dir():
            bound.append(path)
    return args
