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
- ``seed``: the grader's seed (decimal), written before the notebook runs;
- ``<check>.json`` and ``<check>.npz``: the calls a hidden check made, written by the kernel.
"""
from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

PROBE_ENV = "AUTOGRADER_PROBE_DIR"

#: Most calls one hidden check may record, and most bytes of arrays: a bound on what a
#: kernel can make the grader read.
MAX_CALLS = 200
MAX_BYTES = 32 * 2**20


def probe_dir() -> Path | None:
    """The probe folder while the course grades this notebook, else None."""
    value = os.environ.get(PROBE_ENV)
    return Path(value) if value else None


def case_rng(seed: int, check: str) -> np.random.Generator:
    """The random cases of one hidden check: the same on both sides for the same seed."""
    return np.random.default_rng([seed, zlib.crc32(check.encode())])


def read_seed(folder: Path) -> int:
    return int((folder / "seed").read_text().strip())


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
        meta_path, array_path = folder / f"{check}.json", folder / f"{check}.npz"
        if not meta_path.exists() or not array_path.exists():
            raise ReplayError(f"{check}: the hidden check left no record (it did not run to the end)")
        if meta_path.stat().st_size + array_path.stat().st_size > MAX_BYTES:
            raise ReplayError(f"{check}: the record is too large")
        meta = json.loads(meta_path.read_text())
        if meta.get("check") != check or len(meta.get("calls", ())) > MAX_CALLS:
            raise ReplayError(f"{check}: the record does not belong to this check")
        self.check = check
        self.calls = meta["calls"]
        with np.load(array_path, allow_pickle=False) as archive:
            self.arrays = {key: archive[key] for key in archive.files}
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
                raise ReplayError(f"{self.check}: the record calls {entry.get('function')!r} where the check calls {name!r}")
            if "raised" in entry or "result" not in entry:
                raise ReplayError(f"{self.check}: {name} raised {entry.get('raised', 'an error')} during grading")
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
