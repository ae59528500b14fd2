"""The committed datasets: checksums, loaders, errors, the README table, and the rebuild."""

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from autograder import COURSE_ROOT
from course import datasets
from course.datasets import (
    CharVocab,
    DatasetError,
    load_alice,
    load_banking77,
    load_co2,
    load_names,
    load_seattle_weather,
)

DATA_DIR = COURSE_ROOT / "datasets"
MANIFEST = json.loads((DATA_DIR / "manifest.json").read_text(encoding="utf-8"))
# Files in datasets/ that are not data (everything else must be in the manifest).
NOT_DATA = {"build.py", "README.md", "manifest.json", ".gitattributes", "__pycache__"}

# Each committed file, and a loader call that reads it.
LOADER_OF = {
    "alice.txt": load_alice,
    "banking77_train.tsv": lambda: load_banking77("train"),
    "banking77_test.tsv": lambda: load_banking77("test"),
    "banking77_subset_intents.txt": lambda: load_banking77("test", subset=True),
    "seattle_weather.csv": load_seattle_weather,
    "co2_weekly.csv": load_co2,
    "names.txt": load_names,
}


def load_build_script():
    """datasets/build.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("datasets_build", DATA_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------
# The committed files and their manifest
# ---------------------------------------------------------------------------------------


def test_manifest_lists_exactly_the_data_files():
    present = {p.name for p in DATA_DIR.iterdir()} - NOT_DATA
    assert present == set(MANIFEST["files"])
    assert set(LOADER_OF) == set(MANIFEST["files"]), "every file needs a loader test"


@pytest.mark.parametrize("filename", sorted(MANIFEST["files"]))
def test_committed_file_matches_manifest(filename):
    entry = MANIFEST["files"][filename]
    data = (DATA_DIR / filename).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert len(data) == entry["size"]
    assert b"\r" not in data, "line endings must be \\n only"


@pytest.mark.parametrize("filename", sorted(MANIFEST["files"]))
def test_manifest_records_provenance_and_licence(filename):
    entry = MANIFEST["files"][filename]
    source = entry["source"]
    for key in ("package", "version", "archive", "package_licence"):
        assert source[key], key
    assert re.fullmatch(r"[0-9a-f]{64}", source["archive_sha256"])
    assert source["members"]
    for member in source["members"]:
        assert member["path"] and re.fullmatch(r"[0-9a-f]{64}", member["sha256"])
    assert entry["licence"] and entry["attribution"]


def test_total_size_stays_small():
    total = sum(p.stat().st_size for p in DATA_DIR.iterdir() if p.is_file())
    assert total < 3_000_000, f"datasets/ holds {total:,} bytes: the repo is sent around"


def test_readme_states_licences_and_attributions():
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    for fact in (
        "CC BY 4.0",
        "PolyAI",
        "Casanueva",
        "Efficient Intent Detection with Dual Sentence Encoders",
        "public domain",
        "Lewis Carroll",
        "Keeling",
        "make datasets",
    ):
        assert fact in readme, fact
    banking = MANIFEST["files"]["banking77_train.tsv"]
    assert banking["licence"] == "CC BY 4.0"
    assert "PolyAI" in banking["attribution"] and "Casanueva" in banking["attribution"]


# ---------------------------------------------------------------------------------------
# The README table says what the loaders give
# ---------------------------------------------------------------------------------------


def readme_table():
    """{file: (size cell, rows-or-characters cell)} from the README's table of files."""
    rows = {}
    for line in (DATA_DIR / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and re.fullmatch(r"`[^`]+`", cells[1]):
            rows[cells[1].strip("`")] = (cells[2], cells[3])
    return rows


def rows_or_characters(filename):
    """The README's 'rows or characters' cell, computed from the loaders."""
    if filename == "alice.txt":
        text = load_alice()
        return f"{len(text):,} characters ({len(CharVocab(text))} distinct)"
    if filename.startswith("banking77_") and filename.endswith(".tsv"):
        data = load_banking77(filename[len("banking77_") : -len(".tsv")])
        return f"{len(data):,} rows, {len(data.label_names)} intents"
    if filename == "banking77_subset_intents.txt":
        train, test = load_banking77("train", True), load_banking77("test", True)
        return f"{len(train.label_names)} intents: {len(train):,} train rows, {len(test):,} test rows"
    if filename == "seattle_weather.csv":
        weather = load_seattle_weather()
        return f"{len(weather):,} rows (days), {len(weather.columns)} values"
    if filename == "co2_weekly.csv":
        co2 = load_co2()
        return f"{len(co2):,} rows (weeks), {int(co2.interpolated.sum())} interpolated"
    if filename == "names.txt":
        return f"{len(load_names()):,} rows (names)"
    raise AssertionError(f"no rule for {filename}")


def test_readme_table_matches_files_and_loaders():
    table = readme_table()
    assert set(table) == set(MANIFEST["files"])
    for filename, (size, count) in table.items():
        assert size == f"{MANIFEST['files'][filename]['size']:,}", filename
        assert count == rows_or_characters(filename), filename


# ---------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------


def test_loaders_work_from_an_unrelated_directory(tmp_path):
    # nbgrader runs notebooks in autograded/<student>/<assignment>/: the files must be
    # found through the installed package, whatever the working directory.
    script = textwrap.dedent("""
        import json, sys
        from course.datasets import (load_alice, load_banking77, load_co2,
                                         load_names, load_seattle_weather)
        heavy = sorted(m for m in ("torch", "pandas", "matplotlib") if m in sys.modules)
        print(json.dumps({
            "alice": len(load_alice()),
            "banking_train": len(load_banking77("train")),
            "banking_test_subset": len(load_banking77("test", subset=True)),
            "weather": list(load_seattle_weather().values.shape),
            "co2": list(load_co2().values.shape),
            "names": len(load_names()),
            "heavy_imports": heavy,
        }))
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the install only
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "alice": 148_476,
        "banking_train": 10_003,
        "banking_test_subset": 400,
        "weather": [1461, 4],
        "co2": [2284, 1],
        "names": 5163,
        "heavy_imports": [],
    }


def test_alice_is_clean_text():
    text = load_alice()
    assert text.startswith(" " * 10) and "ALICE'S ADVENTURES IN WONDERLAND" in text[:200]
    assert text.endswith("THE END\n")
    for stray in ("\r", "`", "\x1a", "\t"):
        assert stray not in text, repr(stray)
    assert "'and what is the use of a book,'" in text  # was `and ...,'


def test_banking77_splits_share_one_numbering():
    train, test = load_banking77("train"), load_banking77("test")
    assert train.label_names == test.label_names == sorted(train.label_names)
    assert len(train.label_names) == 77
    for data in (train, test):
        assert data.labels.dtype == np.int64 and data.labels.shape == (len(data.texts),)
        assert np.bincount(data.labels, minlength=77).min() > 0
        assert all(text and "\t" not in text and "\n" not in text for text in data.texts)


def test_banking77_subset():
    subset_names = (DATA_DIR / "banking77_subset_intents.txt").read_text().split()
    full = load_banking77("train")
    for split in ("train", "test"):
        data = load_banking77(split, subset=True)
        assert data.label_names == sorted(subset_names) and len(data.label_names) == 10
        assert set(data.labels.tolist()) == set(range(10))
    # The subset keeps exactly the full set's utterances of those intents, same order.
    train = load_banking77("train", subset=True)
    keep = [full.label_names[label] in subset_names for label in full.labels]
    assert train.texts == [t for t, k in zip(full.texts, keep) if k]
    assert [train.label_names[i] for i in train.labels] == [full.label_names[i] for i, k in zip(full.labels, keep) if k]


def test_banking77_rejects_an_unknown_split():
    with pytest.raises(ValueError, match="split"):
        load_banking77("dev")


def test_seattle_weather_is_a_gap_free_daily_series():
    weather = load_seattle_weather()
    assert weather.dates.dtype == np.dtype("datetime64[D]")
    assert weather.dates[0] == np.datetime64("2012-01-01")
    assert weather.dates[-1] == np.datetime64("2015-12-31")
    assert (np.diff(weather.dates) == np.timedelta64(1, "D")).all()
    assert weather.columns == ("precipitation", "temp_max", "temp_min", "wind")
    assert weather.values.shape == (1461, 4) and weather.values.dtype == np.float64
    assert np.isfinite(weather.values).all()
    assert (weather.column("temp_max") >= weather.column("temp_min")).all()
    assert weather.interpolated is None


def test_co2_is_weekly_with_interpolated_weeks_flagged():
    co2 = load_co2()
    assert co2.columns == ("co2",) and co2.values.shape == (2284, 1)
    assert (np.diff(co2.dates) == np.timedelta64(7, "D")).all()
    assert co2.dates[0] == np.datetime64("1958-03-29")
    values, filled = co2.column("co2"), co2.interpolated
    assert filled.dtype == bool and filled.sum() == 59 and not filled[[0, -1]].any()
    assert np.isfinite(values).all() and 310 < values.min() and values.max() < 380
    # A filled week lies between the measured weeks around it.
    for i in np.flatnonzero(filled):
        left = i - np.argmin(filled[i::-1])
        right = i + np.argmin(filled[i:])
        low, high = sorted((values[left], values[right]))
        assert low - 0.01 <= values[i] <= high + 0.01


def test_names_are_lowercase_sorted_and_unique():
    names = load_names()
    assert len(names) == 5163 and names == sorted(set(names))
    assert all(re.fullmatch(r"[a-z]{2,11}", name) for name in names)
    assert "mary" in names and "james" in names


# ---------------------------------------------------------------------------------------
# CharVocab
# ---------------------------------------------------------------------------------------


def test_char_vocab_round_trip_on_alice():
    text = load_alice()
    vocab = CharVocab(text)
    assert vocab.chars == sorted(set(text)) and len(vocab) == 71
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    assert CharVocab(text).char_to_index == vocab.char_to_index  # deterministic


def test_char_vocab_small_example_and_errors():
    vocab = CharVocab(["he", "llo"])
    assert vocab.chars == vocab.index_to_char == ["e", "h", "l", "o"]
    assert vocab.encode("hole").tolist() == [1, 3, 2, 0]
    assert vocab.decode(np.array([1, 0, 2, 2, 3])) == "hello"
    assert vocab.decode([]) == "" and vocab.encode("").shape == (0,)
    assert "h" in vocab and "z" not in vocab
    with pytest.raises(ValueError, match="'z'"):
        vocab.encode("hz")
    with pytest.raises(ValueError, match="outside"):
        vocab.decode([4])
    with pytest.raises(ValueError, match="1-D integer"):
        vocab.decode([[0, 1]])


# ---------------------------------------------------------------------------------------
# A missing or altered file is refused with a message that says how to fix it
# ---------------------------------------------------------------------------------------


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A copy of datasets/ that the loaders read instead (the real files stay untouched)."""
    copy = tmp_path / "datasets"
    shutil.copytree(DATA_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(datasets, "DATA_DIR", copy)
    return copy


def assert_names_the_fix(error, path, filename):
    message = str(error.value)
    assert str(path) in message
    assert MANIFEST["files"][filename]["sha256"] in message
    assert "make datasets" in message


@pytest.mark.parametrize("filename", sorted(LOADER_OF))
def test_altered_file_is_refused(data_copy, filename):
    path = data_copy / filename
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="altered") as error:
        LOADER_OF[filename]()
    assert_names_the_fix(error, path, filename)


@pytest.mark.parametrize("filename", sorted(LOADER_OF))
def test_missing_file_is_refused(data_copy, filename):
    path = data_copy / filename
    path.unlink()
    with pytest.raises(DatasetError, match="missing") as error:
        LOADER_OF[filename]()
    assert_names_the_fix(error, path, filename)


def test_file_altered_after_a_successful_load_is_refused(data_copy):
    assert load_names()[0] == "aaron"
    with open(data_copy / "names.txt", "a") as f:
        f.write("mallory\n")
    with pytest.raises(DatasetError, match="altered"):
        load_names()


def test_missing_manifest_is_refused(data_copy):
    (data_copy / "manifest.json").unlink()
    with pytest.raises(DatasetError, match="make datasets"):
        load_alice()


# ---------------------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------------------


def test_build_tells_an_unreachable_registry_from_other_failures(tmp_path):
    build = load_build_script()
    # Nothing listens on the loopback discard port: pip cannot connect at all.
    offline = ("--isolated", "--index-url", "http://127.0.0.1:9/simple", "--retries", "1")
    with pytest.raises(build.RegistryUnreachable):
        build.download(build.NAMES, tmp_path, offline)
    # A registry that answers without the package is a real error, not a skip.
    empty_index = tmp_path / "empty-index"
    empty_index.mkdir()
    offline_but_answering = ("--isolated", "--no-index", "--find-links", str(empty_index))
    with pytest.raises(build.DownloadError) as error:
        build.download(build.NAMES, tmp_path, offline_but_answering)
    assert not isinstance(error.value, build.RegistryUnreachable)


@pytest.mark.slow
def test_build_reproduces_the_committed_files(tmp_path):
    build = load_build_script()
    out = tmp_path / "out"
    try:
        build.build(out, log=lambda *args: None)
    except build.RegistryUnreachable as error:
        pytest.skip(f"package registry unreachable, cannot rebuild the datasets: {error}")
    assert {p.name for p in out.iterdir()} == set(MANIFEST["files"]) | {"manifest.json"}
    for filename in sorted(MANIFEST["files"]) + ["manifest.json"]:
        assert (out / filename).read_bytes() == (DATA_DIR / filename).read_bytes(), filename


def test_pack_lines_keeps_whole_lines_within_the_limit():
    from course.datasets import pack_lines

    text = "ab\ncd\nlong line here\nx\n"
    passages = pack_lines(text, 6)
    assert "".join(passages) == text, "nothing lost, nothing reordered"
    assert passages == ["ab\ncd\n", "long line here\n", "x\n"]  # a longer line stands alone, uncut
    assert all(len(p) <= 6 or p.count("\n") == 1 for p in passages)
    book = datasets.load_alice()
    assert all(len(p) <= 201 for p in pack_lines(book, 201) if p.count("\n") > 1)
