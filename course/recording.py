"""Honest hidden checks: record in the learner's kernel, judge outside it.

In nbgrader (and otter-grader) a learner's code and the tests share one Python process,
so code in the notebook can rewrite numpy, ``assert`` or the checks themselves. While the
course grades a notebook, a hidden check therefore does not judge anything inside the
learner's kernel. It only *records* what the learner's functions return on inputs drawn
from a seed the grader chose at grading time; afterwards the grader *replays* those
returns through the very same check, in its own process, against the NumPy references
and PyTorch. A monkeypatch inside the kernel can change what is printed there, but not
what the grader's process computes; to pass, the recorded outputs must be right.

This module holds no answers: the learner's kernel may read it.

Protocol (all files in the probe folder the grader names in ``AUTOGRADER_PROBE_DIR``):
- ``seed``: the grader's seed (decimal), written before the notebook runs; the kernel reads
  it to draw its cases, the grader never reads it back (it keeps the seed it drew);
- ``<check>.json`` and ``<check>.npz``: the calls a hidden check made, written by the kernel.

Everything in the folder is written by the learner's kernel, so the grader reads it as
hostile input: no links followed, regular files only (a FIFO must not block), caps on the
bytes actually read and on decompressed sizes, and only fixed messages, never a record's
content or a raw exception text, in what a replay reports.
"""
from __future__ import annotations

import errno
import io
import json
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

PROBE_ENV = "AUTOGRADER_PROBE_DIR"

#: Most calls one hidden check may record, and most bytes of arrays: a bound on what a
#: kernel can make the grader read.
MAX_CALLS = 200
MAX_BYTES = 32 * 2**20  # bytes read from one check's two record files together
MAX_ARRAYS = 8 * MAX_CALLS  # members of one .npz
MAX_ARRAY_BYTES = 64 * 2**20  # decompressed size of one .npz, all members together
MAX_RATIO = 20  # decompressed / compressed size of a member (np.savez stores: about 1)
MAX_SEED_BYTES = 64


def probe_dir() -> Path | None:
    """The probe folder while the course grades this notebook, else None."""
    value = os.environ.get(PROBE_ENV)
    return Path(value) if value else None


def case_rng(seed: int, check: str) -> np.random.Generator:
    """The random cases of one hidden check: the same on both sides for the same seed."""
    return np.random.default_rng([seed, zlib.crc32(check.encode())])


def read_seed(folder: Path) -> int:
    """The seed in the probe folder: read by the kernel only (the grader keeps its own)."""
    return int(read_capped(folder / "seed", MAX_SEED_BYTES).decode("ascii").strip())


class UnreadableFile(Exception):
    """A file that is not a regular file within its cap. The message says which (a link,
    a FIFO, too large), never what the file holds."""


def read_regular_file(path, cap: int, *, dir_fd: int | None = None) -> bytes:
    """The bytes of a regular file, never following a link, never blocking on a FIFO, and
    never reading more than ``cap`` bytes (what is read counts, not ``st_size``, which is
    0 for /dev/zero). ``dir_fd``: ``path`` is a name in that open folder. Raises
    UnreadableFile, or FileNotFoundError when there is no such file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError as error:  # ELOOP: a link; EACCES, ENXIO (a socket): not ours to read
        raise UnreadableFile("a link, not followed" if error.errno == errno.ELOOP else "not a readable regular file") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnreadableFile("not a regular file")
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:
            raise UnreadableFile(f"larger than {cap} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_capped(path: Path, cap: int) -> bytes:
    """``read_regular_file`` for a record: raises ReplayError with a fixed message."""
    try:
        return read_regular_file(path, cap)
    except UnreadableFile as error:
        raise ReplayError(f"{path.name}: {error}") from None


def load_arrays(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of a record's .npz, checked before anything is decompressed or
    allocated: member count, each member's and the total decompressed size from the zip
    directory, the compression ratio, and each array's header (no objects, no more bytes
    than the member holds). zipfile never returns more than a member's stated size."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ReplayError("the record's arrays are not an .npz archive") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ARRAYS:
            raise ReplayError("the record holds too many arrays")
        if sum(m.file_size for m in members) > MAX_ARRAY_BYTES:
            raise ReplayError("the record's arrays are too large once decompressed")
        arrays = {}
        for member in members:
            if member.file_size > MAX_RATIO * max(member.compress_size, 1) + 4096:
                raise ReplayError("the record's arrays are compressed beyond any real record")
            if not member.filename.endswith(".npy"):
                raise ReplayError("the record's arrays are not an .npz archive")
            try:
                arrays[member.filename[:-4]] = _read_member(archive, member)
            except ReplayError:
                raise
            except Exception as error:  # corrupt, truncated, bad CRC, pickled: a fixed message
                raise ReplayError(f"the record's arrays cannot be read ({type(error).__name__})") from None
        return arrays


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> np.ndarray:
    with archive.open(member) as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        if dtype.hasobject:
            raise ReplayError("the record holds objects, not plain arrays (allow_pickle is off)")
        if int(np.prod(shape, dtype=object)) * dtype.itemsize > member.file_size:
            raise ReplayError("the record's arrays are shorter than their headers say")
    with archive.open(member) as handle:
        return np.lib.format.read_array(handle, allow_pickle=False)


def write_seed(folder: Path, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "seed").write_text(str(seed))


# ------------------------------------------------------------------ encoding of values
# A recorded value is JSON metadata plus arrays. Only plain data crosses from the kernel
# to the grader (np.load with allow_pickle=False): never an object the grader would run.


def _encode(value, key: str, arrays: dict[str, np.ndarray]) -> dict:
    if isinstance(value, tuple):
        return {"kind": "tuple", "items": [_encode(v, f"{key}_{i}", arrays) for i, v in enumerate(value)]}
    if value is None:
        return {"kind": "none"}
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        arrays[key] = value.detach().cpu().numpy()
        return {"kind": "tensor", "array": key}
    if isinstance(value, (np.ndarray, np.generic, int, float, bool)):
        array = np.asarray(value)
        if array.dtype.kind in "biuf":
            arrays[key] = array
            return {"kind": "array" if isinstance(value, np.ndarray) else "scalar", "array": key}
    # A cache or any other object: the checks never compare it, so it is not carried.
    return {"kind": "opaque", "type": type(value).__name__}


def _decode(meta: dict, arrays) -> object:
    kind = meta["kind"]
    if kind == "tuple":
        return tuple(_decode(m, arrays) for m in meta["items"])
    if kind == "none":
        return None
    if kind == "tensor":
        import torch

        return torch.as_tensor(np.array(arrays[meta["array"]]))
    if kind == "array":
        return np.array(arrays[meta["array"]])
    if kind == "scalar":
        return np.array(arrays[meta["array"]])[()]
    return _Opaque(meta.get("type", "object"))


@dataclass(frozen=True)
class _Opaque:
    """Stands for an object the kernel returned but did not carry over (a cache)."""

    type_name: str


# ------------------------------------------------------------------ recording (kernel side)


@dataclass
class Recorder:
    """Wraps a learner's functions; logs each call's return value and the arrays it changed."""

    calls: list[dict] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def wrap(self, function: Callable, name: str) -> Callable:
        """``name`` is the check's name for the function (the learner may have renamed it)."""

        def recorded(*args, **kwargs):
            index = len(self.calls)
            entry = {"function": name, "after": {}}
            self.calls.append(entry)
            try:
                result = function(*args, **kwargs)
            except BaseException as error:
                entry["raised"] = type(error).__name__
                raise
            entry["result"] = _encode(result, f"c{index}_r", self.arrays)
            # The array arguments as the call left them: a check may look for in-place
            # changes (a gradient check must restore what it perturbs).
            for position, arg in enumerate(args):
                if isinstance(arg, np.ndarray) and arg.dtype.kind in "biuf":
                    key = f"c{index}_a{position}"
                    self.arrays[key] = arg.copy()
                    entry["after"][str(position)] = key
            return result

        recorded.__name__ = name
        return recorded

    def save(self, folder: Path, check: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / f"{check}.npz", **self.arrays)
        (folder / f"{check}.json").write_text(json.dumps({"check": check, "calls": self.calls}))


# ------------------------------------------------------------------ replaying (grader side)


class ReplayError(AssertionError):
    """The recording does not match what the check asks for: the check fails."""


class Replayer:
    """Plays a recording back, call by call, in place of the learner's functions."""

    def __init__(self, folder: Path, check: str):
        self.check = check
        try:
            meta_bytes = read_capped(folder / f"{check}.json", MAX_BYTES)
            array_bytes = read_capped(folder / f"{check}.npz", MAX_BYTES - len(meta_bytes))
        except FileNotFoundError:
            raise ReplayError(f"{check}: the hidden check left no record (it did not run to the end)") from None
        except ReplayError as error:
            raise ReplayError(f"{check}: the record is unusable: {error}") from None
        try:
            meta = json.loads(meta_bytes)
        except (ValueError, RecursionError):
            raise ReplayError(f"{check}: the record is not valid JSON") from None
        calls = meta.get("calls") if isinstance(meta, dict) else None
        if (meta.get("check") if isinstance(meta, dict) else None) != check or not isinstance(calls, list) \
                or len(calls) > MAX_CALLS or not all(isinstance(c, dict) for c in calls):
            raise ReplayError(f"{check}: the record does not belong to this check")
        self.calls = calls
        try:
            self.arrays = load_arrays(array_bytes)
        except ReplayError as error:
            raise ReplayError(f"{check}: {error}") from None
        self.position = 0

    def functions(self, names: Sequence[str]) -> tuple[Callable, ...]:
        return tuple(self._stand_in(name) for name in names)

    def _stand_in(self, name: str) -> Callable:
        def replayed(*args, **kwargs):
            if self.position >= len(self.calls):
                raise ReplayError(f"{self.check}: the record ends before the check does")
            entry = self.calls[self.position]
            self.position += 1
            if entry.get("function") != name:
                # Never echo what the record says: it is the kernel's text.
                raise ReplayError(f"{self.check}: the record calls another function where the check calls {name!r}")
            if "raised" in entry or "result" not in entry:
                raise ReplayError(f"{self.check}: {name} raised an error during grading")
            for position, key in entry.get("after", {}).items():
                position = int(position)
                if position < len(args) and isinstance(args[position], np.ndarray):
                    recorded = self.arrays[key]
                    if recorded.shape == args[position].shape:
                        np.copyto(args[position], recorded, casting="unsafe")
            return _decode(entry["result"], self.arrays)

        replayed.__name__ = name
        return replayed

    def finish(self) -> None:
        if self.position != len(self.calls):
            raise ReplayError(f"{self.check}: the record holds calls the check did not make")
