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

Protocol (all files in the record folder the grader names in ``AUTOGRADER_RECORD_DIR``):
- ``seed``: the grader's seed (decimal), written before the notebook runs; the kernel reads
  it to draw its cases, the grader never reads it back (it keeps the seed it drew);
- ``<check>.json`` and ``<check>.npz``: the calls a hidden check made, written by the kernel:
  for each call, what it returned and the arguments it changed, as they were after it.
  Values are carried as plain data (dicts with str keys, lists, tuples, str, int, float,
  bool, None, numeric NumPy arrays and scalars, torch tensors marked as such, nested): the
  structure as JSON, the arrays in the .npz. Anything else is recorded as not carried, and
  on replay any use of it fails the check (``Uncarried``): what the grader cannot see is
  never judged right.

Everything in the folder is written by the learner's kernel, so the grader reads it as
hostile input: no links followed, regular files only (a FIFO must not block), caps on the
bytes actually read, on decompressed sizes, on the number of values, their nesting and
the length of strings, and only fixed messages, never a record's
content or a raw exception text, in what a replay reports.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import stat
import sys
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RECORD_ENV = "AUTOGRADER_RECORD_DIR"

#: Caps on what a kernel can make the grader read (a record is hostile input). The
#: largest record of the course's correct functions holds 28 calls, 282 arrays (130 kB),
#: 379 values and 15 kB of JSON: every cap leaves room for far more.
MAX_CALLS = 200  # calls one hidden check may record
MAX_BYTES = 32 * 2**20  # bytes read from one check's two record files together
MAX_META_BYTES = 4 * 2**20  # bytes of its JSON (the values' structure)
MAX_ARRAYS = 4096  # members of one .npz
MAX_ARRAY_BYTES = 64 * 2**20  # decompressed size of one .npz, all members together
MAX_RATIO = 20  # decompressed / compressed size of a member (np.savez stores: about 1)
MAX_SEED_BYTES = 64
MAX_NODES = 50_000  # values in one record (containers, numbers, strings, arrays, dict keys)
MAX_DEPTH = 32  # containers nested in one value
MAX_STRING_CHARS = 2**17  # characters of one string or dict key
MAX_INT_DIGITS = 32  # decimal digits of one int
MAX_ARGUMENTS = 64  # arguments of one call recorded as changed
MAX_NAME_CHARS = 100  # characters of an argument's name

#: What the kernel lets one record grow to, below the caps above (a replay then always
#: reads it; a value past this is recorded as too large): half the values (at most 60
#: bytes of JSON each), strings in under half the JSON (a character may take 12 bytes:
#: \ud83d\ude00), arrays with their .npy headers in half the bytes.
RECORD_NODES = MAX_NODES // 2
RECORD_STRING_CHARS = MAX_META_BYTES // 32
RECORD_ARRAY_BYTES = MAX_BYTES // 2
NPY_OVERHEAD = 512  # an array's .npy header and zip entries, at most (np.savez: 128 + about 150)


def record_dir() -> Path | None:
    """The record folder while the course grades this notebook, else None."""
    value = os.environ.get(RECORD_ENV)
    return Path(value) if value else None


def case_rng(seed: int, check: str) -> np.random.Generator:
    """The random cases of one hidden check: the same on both sides for the same seed."""
    return np.random.default_rng([seed, zlib.crc32(check.encode())])


def read_seed(folder: Path) -> int:
    """The seed in the record folder: read by the kernel only (the grader keeps its own)."""
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
        reason = "a link, not followed" if error.errno == errno.ELOOP else "not a readable regular file"
        raise UnreadableFile(reason) from None
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
    # zipfile builds an entry for every central-directory record, each of which starts with
    # this signature: counting it first bounds that work before zipfile does any.
    if data.count(b"PK\x01\x02") > MAX_ARRAYS:
        raise ReplayError("the record holds too many arrays")
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
        if dtype.kind not in CARRIED_KINDS:
            raise ReplayError("the record holds arrays of a type no check compares")
        if int(np.prod(shape, dtype=object)) * dtype.itemsize > member.file_size:
            raise ReplayError("the record's arrays are shorter than their headers say")
    with archive.open(member) as handle:
        return np.lib.format.read_array(handle, allow_pickle=False)


def write_seed(folder: Path, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "seed").write_text(str(seed))


# ------------------------------------------------------------------ encoding of values
# A recorded value is a tree of JSON nodes whose leaves may name arrays of the .npz:
#   {"kind": "none"} | {"kind": "bool" | "int" | "float" | "str", "value": ...}
#   {"kind": "array" | "scalar" | "tensor", "array": key}     (a NumPy array, a NumPy
#       number, a torch tensor: each carried as an array, the kind says which it was)
#   {"kind": "list" | "tuple", "items": [node, ...]}
#   {"kind": "dict", "keys": [str, ...], "items": [node, ...]}
#   {"kind": "uncarried", "reason": code}                     (anything else)
# Only plain data crosses from the kernel to the grader (np.load with allow_pickle=False,
# JSON for the structure): never an object the grader would run.

#: Array dtypes the record carries (bool, integers, floats, complex): never objects,
#: strings or structured records.
CARRIED_KINDS = "biufc"

#: Why a value was not carried: code -> the fixed words a failed replay shows.
UNCARRIED = {
    "object": "an object that is not plain data (the record carries dicts with str keys, lists, tuples, "
    "str, numbers, None, numeric arrays and tensors)",
    "dtype": "an array or tensor of a type the record does not carry (objects, strings, bfloat16)",
    "deep": f"containers nested more than {MAX_DEPTH} levels deep",
    "large": "more data than a record may hold",
    "unreadable": "a value that raised an error while it was recorded",
}


class Uncarried:
    """Stands in, on replay, for a value the kernel could not carry over (an arbitrary
    object, an object array, a structure too deep or too large).

    The grader cannot see that value, so it must never be judged right: any use of the
    stand-in as data (converting it to an array or a number, comparing it, its length,
    its items, its truth) raises ReplayError with a fixed message, and a check that
    looks at its type sees ``Uncarried``, not what it expected. The kernel's own text
    (the object's type name) is not kept."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason if reason in UNCARRIED else "object"

    def _refuse(self, *args, **kwargs):
        raise ReplayError(f"a value returned during grading could not be recorded: {UNCARRIED[self.reason]}")

    __array__ = __bool__ = __len__ = __iter__ = __getitem__ = __contains__ = _refuse
    __float__ = __int__ = __index__ = __complex__ = __hash__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __neg__ = __abs__ = __matmul__ = __rmatmul__ = _refuse

    def __repr__(self) -> str:
        return f"<not recorded: {self.reason}>"


def _torch_tensor_type():
    """torch.Tensor when torch is already imported (a value can be a tensor only then)."""
    torch = sys.modules.get("torch")
    return getattr(torch, "Tensor", None)


def _is_tensor(value) -> bool:
    tensor = _torch_tensor_type()
    return tensor is not None and isinstance(value, tensor)


class _Encoder:
    """Encodes the values of one call. Arrays are copied now (the learner's code or the
    check may change them later); one array met twice in a call is stored once, so a
    cache that holds the same array at every step replays as such, at one copy's size.
    ``budget`` is the Recorder's: the record's totals stay within what a replay accepts,
    and a value past them is recorded as "large" rather than making the record unusable."""

    def __init__(self, prefix: str, arrays: dict[str, np.ndarray], budget: dict):
        self.prefix, self.arrays, self.budget = prefix, arrays, budget
        # id(array or tensor) -> (key, the object): holding the object keeps its id from
        # being reused by a later temporary within the call.
        self.keys: dict[int, tuple[str, object]] = {}

    def encode(self, value, depth: int = 0) -> dict:
        try:
            return self._encode(value, depth)
        except Exception:  # noqa: BLE001 (a learner's object may raise anything when read)
            return {"kind": "uncarried", "reason": "unreadable"}

    def _encode(self, value, depth: int) -> dict:
        if self.budget["nodes"] >= RECORD_NODES:
            return {"kind": "uncarried", "reason": "large"}
        self.budget["nodes"] += 1
        if value is None:
            return {"kind": "none"}
        if isinstance(value, bool):
            return {"kind": "bool", "value": value}
        if isinstance(value, np.generic) and not isinstance(value, str):
            return self._array(value, "scalar")
        if isinstance(value, int):
            return (
                {"kind": "int", "value": int(value)}
                if abs(int(value)) < 10**MAX_INT_DIGITS
                else {"kind": "uncarried", "reason": "large"}
            )
        if isinstance(value, float):
            return {"kind": "float", "value": float(value)}
        if isinstance(value, str):
            if len(value) > MAX_STRING_CHARS or self.budget["chars"] + len(value) > RECORD_STRING_CHARS:
                return {"kind": "uncarried", "reason": "large"}
            self.budget["chars"] += len(value)
            return {"kind": "str", "value": str(value)}
        if isinstance(value, np.ndarray):
            return self._array(value, "array")
        if _is_tensor(value):
            return self._array(value, "tensor")
        if isinstance(value, (list, tuple, dict)) and depth >= MAX_DEPTH:
            return {"kind": "uncarried", "reason": "deep"}
        if isinstance(value, (list, tuple)):
            kind = "tuple" if isinstance(value, tuple) else "list"
            return {"kind": kind, "items": [self.encode(item, depth + 1) for item in value]}
        if isinstance(value, dict):
            keys = list(value.keys())
            if not all(isinstance(key, str) and len(key) <= MAX_STRING_CHARS for key in keys):
                return {"kind": "uncarried", "reason": "object"}
            self.budget["nodes"] += len(keys)
            self.budget["chars"] += sum(len(key) for key in keys)
            if self.budget["nodes"] > RECORD_NODES or self.budget["chars"] > RECORD_STRING_CHARS:
                return {"kind": "uncarried", "reason": "large"}
            return {
                "kind": "dict",
                "keys": [str(key) for key in keys],
                "items": [self.encode(value[key], depth + 1) for key in keys],
            }
        return {"kind": "uncarried", "reason": "object"}

    def _array(self, value, kind: str) -> dict:
        key = self.keys.get(id(value), (None,))[0]
        if key is None:
            if kind == "tensor":
                try:
                    array = value.detach().cpu().resolve_conj().resolve_neg().numpy().copy()
                except (TypeError, RuntimeError):  # bfloat16, sparse, quantized: no NumPy twin
                    return {"kind": "uncarried", "reason": "dtype"}
            else:
                array = np.array(value, copy=True, subok=False)
            if array.dtype.kind not in CARRIED_KINDS or array.dtype.hasobject:
                return {"kind": "uncarried", "reason": "dtype"}
            size = array.nbytes + NPY_OVERHEAD
            if self.budget["bytes"] + size > RECORD_ARRAY_BYTES or len(self.arrays) >= MAX_ARRAYS:
                return {"kind": "uncarried", "reason": "large"}
            self.budget["bytes"] += size
            key = f"{self.prefix}{len(self.keys)}"
            self.keys[id(value)] = (key, value)
            self.arrays[key] = array
        return {"kind": kind, "array": key}


class _Decoder:
    """Reads the value trees of a record as hostile input: every node's shape is checked,
    and the record's totals are capped (nodes, depth, string length); an array belongs
    to one call only, so no array is handed out twice across calls. Raises ReplayError
    with fixed messages only."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays
        self.owner: dict[str, int] = {}  # array key -> the call that uses it
        self.nodes = 0

    def call_values(self, call: int, nodes: dict) -> dict:
        """Decode one call's nodes (a dict of name -> node); the call's tensors share one memo."""
        self.call, self.tensors = call, {}
        return {name: self.value(node, 0) for name, node in nodes.items()}

    def value(self, node, depth: int):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ReplayError("the record holds too many values")
        if depth > MAX_DEPTH:
            raise ReplayError("the record's values are nested too deeply")
        if not isinstance(node, dict) or not isinstance(node.get("kind"), str):
            raise ReplayError("the record's values are malformed")
        kind, field_value = node["kind"], node.get("value")
        if kind == "none":
            return None
        if kind == "bool" and type(field_value) is bool:
            return field_value
        if kind == "int" and type(field_value) is int and abs(field_value) < 10**MAX_INT_DIGITS:
            return field_value
        if kind == "float" and type(field_value) in (float, int):
            return float(field_value)
        if kind == "str" and type(field_value) is str:
            if len(field_value) > MAX_STRING_CHARS:
                raise ReplayError("the record holds a string longer than any check uses")
            return field_value
        if kind in ("array", "scalar", "tensor"):
            return self._array(kind, node.get("array"))
        if kind in ("list", "tuple") and type(node.get("items")) is list:
            items = [self.value(item, depth + 1) for item in node["items"]]
            return tuple(items) if kind == "tuple" else items
        if kind == "dict" and type(node.get("keys")) is list and type(node.get("items")) is list:
            keys, items = node["keys"], node["items"]
            if (
                len(keys) != len(items)
                or not all(type(k) is str and len(k) <= MAX_STRING_CHARS for k in keys)
                or len(set(keys)) != len(keys)
            ):
                raise ReplayError("the record's values are malformed")
            self.nodes += len(keys)
            return {key: self.value(item, depth + 1) for key, item in zip(keys, items)}
        if kind == "uncarried":
            return Uncarried(node.get("reason") if isinstance(node.get("reason"), str) else "object")
        raise ReplayError("the record's values are malformed")

    def _array(self, kind: str, key):
        if not isinstance(key, str) or key not in self.arrays:
            raise ReplayError("the record refers to an array it does not hold")
        if self.owner.setdefault(key, self.call) != self.call:
            raise ReplayError("the record hands one array to two calls")
        array = self.arrays[key]
        if kind == "scalar":
            if array.ndim != 0:
                raise ReplayError("the record's values are malformed")
            return array[()]
        if kind == "tensor":
            if key not in self.tensors:
                import torch

                try:
                    self.tensors[key] = torch.from_numpy(array)
                except (TypeError, ValueError, RuntimeError):  # a byte order or dtype torch lacks
                    raise ReplayError("the record's values are malformed") from None
            return self.tensors[key]
        return array


# ------------------------------------------------------------------ arguments changed by a call
# A check may look for in-place changes (a gradient check must restore what it perturbs, a
# function must leave its list of sequences alone): an argument the call changed is
# recorded as the call left it, and the replay makes the check's own argument match.


def _snapshot(value, depth: int = 0):
    """A deep copy of the arrays, tensors and containers in ``value``; other leaves are kept."""
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, np.ndarray):
        return value.copy()
    if _is_tensor(value):
        return value.detach().clone()
    if isinstance(value, list):
        return [_snapshot(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(_snapshot(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return {k: _snapshot(v, depth + 1) for k, v in value.items()}
    return value


def _snapshot_safely(value):
    """``_snapshot``, or, for a value that raises when read (a learner's odd container), a
    marker that equals nothing: the argument is then recorded as the call left it."""
    try:
        return _snapshot(value)
    except Exception:  # noqa: BLE001 (a learner's object may raise anything when read)
        return _UNREAD


_UNREAD = object()


def _same(before, after, depth: int = 0) -> bool:
    """Whether ``after`` still equals the snapshot ``before``, in structure and values."""
    if depth > MAX_DEPTH:
        return True
    if isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and before.shape == after.shape
            and before.dtype == after.dtype
            and np.array_equal(before, after, equal_nan=before.dtype.kind in "fc")
        )
    if _is_tensor(before):
        import torch

        return (
            _is_tensor(after)
            and before.shape == after.shape
            and before.dtype == after.dtype
            and bool(torch.equal(before, after.detach()))
        )
    if isinstance(before, (list, tuple)):
        return (
            type(before) is type(after)
            and len(before) == len(after)
            and all(_same(b, a, depth + 1) for b, a in zip(before, after))
        )
    if isinstance(before, dict):
        return (
            isinstance(after, dict)
            and list(before) == list(after)
            and all(_same(before[k], after[k], depth + 1) for k in before)
        )
    return before is after  # a number, a string or an object: only a container can swap it


def _restore(target, value) -> bool:
    """Make the check's argument ``target`` hold the recorded ``value`` as far as it can be
    changed in place (array entries, list and dict contents, recursively); return whether
    ``target`` now holds it. The caller puts ``value`` itself in a slot that cannot."""
    if isinstance(value, Uncarried):
        return False
    if isinstance(target, np.ndarray):
        if isinstance(value, np.ndarray) and value.shape == target.shape and target.flags.writeable:
            np.copyto(target, value, casting="unsafe")
            return True
        return False
    if _is_tensor(target):
        if _is_tensor(value) and value.shape == target.shape:
            import torch

            with torch.no_grad():
                target.copy_(value)
            return True
        return False
    if isinstance(target, list) and type(value) is list:
        kept = [t if _restore(t, v) else v for t, v in zip(target, value)]
        target[:] = kept + value[len(target) :]
        return True
    if isinstance(target, dict) and type(value) is dict:
        kept = {k: target[k] if k in target and _restore(target[k], v) else v for k, v in value.items()}
        target.clear()
        target.update(kept)
        return True
    if isinstance(target, tuple) and type(value) is tuple and len(target) == len(value):
        restored = [_restore(t, v) for t, v in zip(target, value)]  # every entry, not up to the first
        return all(restored)
    if isinstance(target, (list, tuple, dict)) or isinstance(value, (list, tuple, dict, np.ndarray)):
        return False
    return type(target) is type(value) and bool(target == value or (_is_nan(target) and _is_nan(value)))


def _is_nan(value) -> bool:
    return isinstance(value, (float, np.floating)) and math.isnan(value)


# ------------------------------------------------------------------ recording (kernel side)


@dataclass
class Recorder:
    """Wraps a learner's functions; logs each call's return value and the arguments it changed."""

    calls: list[dict] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    budget: dict = field(default_factory=lambda: {"nodes": 0, "bytes": 0, "chars": 0})

    def wrap(self, function: Callable, name: str) -> Callable:
        """``name`` is the check's name for the function (the learner may have renamed it)."""

        def recorded(*args, **kwargs):
            index = len(self.calls)
            entry = {"function": name, "after": {}}
            self.calls.append(entry)
            arguments = {
                slot: arg
                for slot, arg in {**{str(p): a for p, a in enumerate(args)}, **kwargs}.items()
                if len(slot) <= MAX_NAME_CHARS and _is_argument_slot(slot)
            }
            before = {slot: _snapshot_safely(arg) for slot, arg in list(arguments.items())[:MAX_ARGUMENTS]}
            try:
                result = function(*args, **kwargs)
            except BaseException as error:
                entry["raised"] = type(error).__name__
                raise
            encoder = _Encoder(f"c{index}_", self.arrays, self.budget)
            entry["result"] = encoder.encode(result)
            for slot, saved in before.items():
                arg = arguments[slot]
                try:
                    changed = not _same(saved, arg)
                except Exception:  # noqa: BLE001 (a learner's object may raise when compared)
                    changed = True
                if changed:
                    entry["after"][slot] = encoder.encode(arg)
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


def _is_argument_slot(slot: str) -> bool:
    """A position ("0", "1", ...) or a keyword's name: what ``Recorder.wrap`` writes."""
    return slot.isascii() and (slot.isdecimal() or slot.isidentifier())


@dataclass(frozen=True)
class _Call:
    function: object  # the kernel's text: compared, never shown
    raised: bool
    result: object
    after: dict  # argument position ("0", "1", ...) or keyword -> its value after the call


class Replayer:
    """Plays a recording back, call by call, in place of the learner's functions. The
    whole record is read and checked when the Replayer is made."""

    def __init__(self, folder: Path, check: str):
        self.check = check
        try:
            meta_bytes = read_capped(folder / f"{check}.json", min(MAX_META_BYTES, MAX_BYTES))
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
        if (
            (meta.get("check") if isinstance(meta, dict) else None) != check
            or not isinstance(calls, list)
            or len(calls) > MAX_CALLS
            or not all(isinstance(c, dict) for c in calls)
        ):
            raise ReplayError(f"{check}: the record does not belong to this check")
        try:
            decoder = _Decoder(load_arrays(array_bytes))
            self.calls = [self._read_call(decoder, index, entry) for index, entry in enumerate(calls)]
        except ReplayError as error:
            raise ReplayError(f"{check}: {error}") from None
        self.position = 0

    @staticmethod
    def _read_call(decoder: _Decoder, index: int, entry: dict) -> _Call:
        raised = "raised" in entry or "result" not in entry
        after = entry.get("after", {})
        if (
            not isinstance(after, dict)
            or len(after) > MAX_ARGUMENTS
            or not all(len(slot) <= MAX_NAME_CHARS and _is_argument_slot(slot) for slot in after)
        ):
            raise ReplayError("the record's values are malformed")
        values = decoder.call_values(
            index,
            {**({} if raised else {"": entry["result"]}), **{f"after {slot}": node for slot, node in after.items()}},
        )
        return _Call(entry.get("function"), raised, values.get(""), {slot: values[f"after {slot}"] for slot in after})

    def functions(self, names: Sequence[str]) -> tuple[Callable, ...]:
        return tuple(self._stand_in(name) for name in names)

    def _stand_in(self, name: str) -> Callable:
        def replayed(*args, **kwargs):
            if self.position >= len(self.calls):
                raise ReplayError(f"{self.check}: the record ends before the check does")
            call = self.calls[self.position]
            self.position += 1
            if call.function != name:
                # Never echo what the record says: it is the kernel's text.
                raise ReplayError(f"{self.check}: the record calls another function where the check calls {name!r}")
            if call.raised:
                raise ReplayError(f"{self.check}: {name} raised an error during grading")
            for slot, value in call.after.items():
                if slot.isdecimal() and int(slot) < len(args):
                    _restore(args[int(slot)], value)
                elif slot in kwargs:
                    _restore(kwargs[slot], value)
            return call.result

        replayed.__name__ = name
        return replayed

    def finish(self) -> None:
        if self.position != len(self.calls):
            raise ReplayError(f"{self.check}: the record holds calls the check did not make")
