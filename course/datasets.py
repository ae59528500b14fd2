"""The course's datasets, loaded from the files committed under ``datasets/``.

One function per dataset, each returning plain Python or NumPy objects::

    from course.datasets import load_alice, CharVocab
    text = load_alice()
    vocab = CharVocab(text)
    ids = vocab.encode(text)              # (num_chars,) int64

Files are found through the installed package (``COURSE_ROOT / "datasets"``), never the
working directory: nbgrader runs notebooks in ``autograded/<student>/<assignment>/``.
Before a file is read its SHA-256 is checked against ``datasets/manifest.json``, so an
altered or truncated file fails loudly instead of training on wrong data. Nothing is ever
downloaded here: ``make datasets`` rebuilds the files from pinned packages.

Only the standard library and NumPy are imported, so importing this module is cheap.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import COURSE_ROOT

__all__ = [
    "DATA_DIR",
    "DatasetError",
    "IntentData",
    "TimeSeries",
    "CharVocab",
    "load_alice",
    "load_banking77",
    "load_seattle_weather",
    "load_co2",
    "load_names",
    "pack_lines",
]

#: Where the committed files and manifest.json live. Read at every call (not bound at
#: import), so tests can point it at a copy.
DATA_DIR = COURSE_ROOT / "datasets"

REBUILD_COMMAND = "make datasets"


class DatasetError(RuntimeError):
    """A dataset file is missing or differs from the checksum in the manifest."""


# ---------------------------------------------------------------------------------------
# Checksum verification
# ---------------------------------------------------------------------------------------

# Files verified in this process, keyed by (path, size, modification time): a second load
# costs one stat, and a file rewritten after its check is checked again.
_verified: set[tuple[str, int, int]] = set()


def _rebuild_hint() -> str:
    return f"Rebuild the datasets with `{REBUILD_COMMAND}` in the course root ({COURSE_ROOT})."


def _manifest_entry(data_dir: Path, filename: str) -> dict:
    manifest_path = data_dir / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        return manifest["files"][filename]
    except (OSError, ValueError, KeyError) as error:
        raise DatasetError(
            f"cannot read the expected checksum of {filename} from {manifest_path} ({error!r}). {_rebuild_hint()}"
        ) from None


def _verified_path(filename: str) -> Path:
    """The path of a committed dataset file, after checking it against the manifest."""
    data_dir = Path(DATA_DIR)
    path = data_dir / filename
    expected = _manifest_entry(data_dir, filename)["sha256"]
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise DatasetError(f"dataset file {path} is missing (expected SHA-256 {expected}). {_rebuild_hint()}") from None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return path
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise DatasetError(
            f"dataset file {path} was altered: its SHA-256 is {actual}, expected {expected} "
            f"({data_dir / 'manifest.json'}). {_rebuild_hint()}"
        )
    _verified.add(key)
    return path


def _read_text(filename: str) -> str:
    # newline="" keeps the bytes' line endings exactly (the files use "\n" only).
    with open(_verified_path(filename), encoding="utf-8", newline="") as f:
        return f.read()


def _read_rows(filename: str, delimiter: str = ",") -> tuple[list[str], list[list[str]]]:
    """Header and rows of a committed CSV or TSV (written unquoted by datasets/build.py)."""
    with open(_verified_path(filename), encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_NONE)
        header = next(reader)
        return header, list(reader)


# ---------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------


def load_alice() -> str:
    """Alice's Adventures in Wonderland (Lewis Carroll), the whole book as one string.

    148,476 characters, "\\n" line endings, ASCII only; quotations use the apostrophe.
    """
    return _read_text("alice.txt")


def pack_lines(text: str, max_chars: int) -> list[str]:
    """Lesson 07's passages: consecutive whole lines of ``text`` (newlines kept), joined while
    a passage has at most ``max_chars`` characters. A longer line is a passage of its own,
    so no line is ever cut in the middle."""
    passages, current = [], ""
    for line in text.splitlines(keepends=True):
        if current and len(current) + len(line) > max_chars:
            passages.append(current)
            current = ""
        current += line
    return passages + [current] if current else passages


def load_names() -> list[str]:
    """5,163 lowercase first names (1990 US census), sorted; letters a-z only."""
    return _read_text("names.txt").splitlines()


class CharVocab:
    """A character vocabulary: each distinct character of a text gets an index.

    Characters are sorted, so the same text always gives the same indices.

        vocab = CharVocab("hello")        # chars ['e', 'h', 'l', 'o'], len(vocab) == 4
        vocab.encode("hole")              # array([1, 3, 2, 0])
        vocab.decode([1, 0, 2, 2, 3])     # 'hello'
    """

    def __init__(self, text: str | Iterable[str]):
        #: index -> character
        self.chars: list[str] = sorted(set("".join(text)))
        #: character -> index
        self.char_to_index: dict[str, int] = {c: i for i, c in enumerate(self.chars)}

    @property
    def index_to_char(self) -> list[str]:
        return self.chars

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self.char_to_index

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} chars: {''.join(self.chars)!r})"

    def encode(self, text: str) -> np.ndarray:
        """The indices of text's characters, an int64 array of shape (len(text),)."""
        try:
            return np.array([self.char_to_index[c] for c in text], dtype=np.int64)
        except KeyError as error:
            raise ValueError(f"character {error.args[0]!r} is not in the vocabulary") from None

    def decode(self, indices: Iterable[int]) -> str:
        """The text whose characters have these indices (any 1-D integer sequence)."""
        indices = np.asarray(indices)
        if indices.ndim == 1 and indices.size == 0:
            return ""  # np.asarray([]) is float64: accept it as the empty sequence
        if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(f"decode expects a 1-D integer sequence, got shape {indices.shape} of {indices.dtype}")
        bad = (indices < 0) | (indices >= len(self))
        if bad.any():
            raise ValueError(f"index {int(indices[bad][0])} is outside 0..{len(self) - 1}")
        return "".join(self.chars[i] for i in indices.tolist())


# ---------------------------------------------------------------------------------------
# Intent classification
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntentData:
    """Utterances with their intents: texts[i] has intent label_names[labels[i]]."""

    texts: list[str]
    labels: np.ndarray  # (num_utterances,) int64, values in 0..len(label_names) - 1
    label_names: list[str]  # sorted, so the same intent has the same label in every split

    def __len__(self) -> int:
        return len(self.texts)


def load_banking77(split: str = "train", subset: bool = False) -> IntentData:
    """BANKING77 (PolyAI, CC BY 4.0): customer-service utterances of an online bank.

    split: "train" (10,003 utterances) or "test" (3,080), as published; 77 intents.
    subset: keep only the 10 intents of datasets/banking77_subset_intents.txt
      (1,294 train and 400 test utterances; trains in seconds on a CPU); labels are
      then 0..9 over those ten.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    _, rows = _read_rows(f"banking77_{split}.tsv", delimiter="\t")
    if subset:
        keep = set(_read_text("banking77_subset_intents.txt").split())
        rows = [row for row in rows if row[1] in keep]
        label_names = sorted(keep)
    else:
        # Every split holds all 77 intents, so sorting gives one shared numbering.
        label_names = sorted({intent for _, intent in rows})
    index = {name: i for i, name in enumerate(label_names)}
    texts = [text for text, _ in rows]
    labels = np.array([index[intent] for _, intent in rows], dtype=np.int64)
    return IntentData(texts=texts, labels=labels, label_names=label_names)


# ---------------------------------------------------------------------------------------
# Time series
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeSeries:
    """A series of T dated observations of C named quantities."""

    dates: np.ndarray  # (T,) datetime64[D], increasing
    values: np.ndarray  # (T, C) float64; column j is the quantity columns[j]
    columns: tuple[str, ...]  # (C,) names of the values' columns
    interpolated: np.ndarray | None = None  # (T,) bool: True where a value was filled in

    def __len__(self) -> int:
        return len(self.dates)

    def column(self, name: str) -> np.ndarray:
        """The (T,) values of one named column."""
        return self.values[:, self.columns.index(name)]


def load_seattle_weather() -> TimeSeries:
    """Daily Seattle weather, 2012-01-01 to 2015-12-31 (1,461 days, NOAA, public domain).

    columns: precipitation (mm), temp_max and temp_min (degrees C), wind (m/s).
    """
    header, rows = _read_rows("seattle_weather.csv")
    dates = np.array([row[0] for row in rows], dtype="datetime64[D]")
    values = np.array([row[1:] for row in rows], dtype=np.float64)
    return TimeSeries(dates=dates, values=values, columns=tuple(header[1:]))


def load_co2() -> TimeSeries:
    """Weekly mean CO2 at Mauna Loa (ppmv), 1958-03-29 to 2001-12-29 (2,284 weeks).

    The 59 weeks without a measurement are filled by linear interpolation between their
    neighbours and marked True in ``interpolated``. One column: "co2".
    """
    _, rows = _read_rows("co2_weekly.csv")  # columns: date, co2, interpolated
    dates = np.array([row[0] for row in rows], dtype="datetime64[D]")
    values = np.array([[row[1]] for row in rows], dtype=np.float64)
    interpolated = np.array([row[2] == "1" for row in rows], dtype=bool)
    return TimeSeries(dates=dates, values=values, columns=("co2",), interpolated=interpolated)
