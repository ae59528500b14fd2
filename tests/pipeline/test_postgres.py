"""A shared gradebook: `grade --db-url postgresql://...` grades a class into a real
PostgreSQL server (Debian's package, started here on a temporary data directory, on
loopback only), as the only writer, exactly as into SQLite.

Skipped only where PostgreSQL's server programs are not installed (tools/system-packages.sh
installs them; CI runs it through `make install`)."""

from __future__ import annotations

import csv
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from autograder.class_run import UNCHANGED, grade_class

from .fixture_class import FULL, LESSON, fixtures

pytestmark = pytest.mark.slow

TIMEOUT = 30
STUDENTS = ("correct", "partial")
STARTUP = 120.0  # seconds for the server to accept connections on a busy machine


def _server_programs() -> Path | None:
    """The folder of initdb and postgres: on PATH, or where Debian puts them."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("postgres"):
        return Path(initdb).resolve().parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of its own: a temporary data directory, 127.0.0.1 and a socket
    in that directory only, trust authentication for the one local user. initdb and
    postgres refuse to run as root: as root, they run as the unprivileged `postgres` user."""
    pytest.importorskip("psycopg", reason="psycopg (SQLAlchemy's PostgreSQL driver) is not installed: pip install -e .")
    programs = _server_programs()
    if programs is None:
        pytest.skip("PostgreSQL's server programs are not installed (tools/system-packages.sh database)")
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run the server as")
        run_as = ["runuser", "-u", "postgres", "--"]
    data = Path(tempfile.mkdtemp(prefix="pg-"))
    if owner is not None:
        os.chown(data, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    log = data.parent / f"{data.name}.log"
    subprocess.run(
        [*run_as, str(programs / "initdb"), "-D", str(data / "db"), "-U", "grader", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    with open(log, "w") as handle:
        server = subprocess.Popen(
            [*run_as, str(programs / "postgres"), "-D", str(data / "db"), "-h", "127.0.0.1", "-p", str(port)]
            + ["-k", str(data)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        import psycopg

        deadline = time.monotonic() + STARTUP
        while True:
            try:
                connection = psycopg.connect(
                    host="127.0.0.1", port=port, user="grader", dbname="postgres", autocommit=True
                )
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("PostgreSQL did not start:\n" + log.read_text()[-2000:]) from None
                time.sleep(0.2)
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE course")
        connection.close()
        yield f"postgresql://grader@127.0.0.1:{port}/course"
    finally:
        server.terminate()  # a fast shutdown
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        shutil.rmtree(data, ignore_errors=True)
        log.unlink(missing_ok=True)


def test_a_class_is_graded_into_postgresql(postgres, tmp_path):
    from nbgrader.api import Gradebook

    submitted = tmp_path / "submitted"
    expected = {f.student: f.expected for f in fixtures(TIMEOUT) if f.student in STUDENTS}
    for fixture in fixtures(TIMEOUT):
        if fixture.student in STUDENTS:
            fixture.write(submitted / fixture.student / LESSON)
    out = tmp_path / "out"
    outcomes = grade_class(submitted, workers=2, timeout=TIMEOUT, out=out, progress=False, db_url=postgres)
    assert {o.student: o.score for o in outcomes} == expected
    assert not (out / "gradebook.db").exists(), "the gradebook must be PostgreSQL's, not a file in the output"
    # nbgrader itself reads the grades from PostgreSQL.
    with Gradebook(postgres, "rnn-course") as gradebook:
        assert gradebook.find_assignment(LESSON).max_score == FULL
        for student, score in expected.items():
            assert gradebook.find_submission(LESSON, student).score == score
    with open(out / "grades.csv", newline="") as handle:
        assert {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)} == expected
    with open(out / "canvas.csv", newline="") as handle:
        rows = list(csv.reader(handle))[2:]
    assert {row[2]: float(row[5]) for row in rows} == expected
    # A second run finds what it graded in PostgreSQL and keeps it.
    again = grade_class(submitted, workers=1, timeout=TIMEOUT, out=out, progress=False, db_url=postgres)
    assert all(UNCHANGED in o.problems for o in again), [o.problems for o in again]
    assert {o.student: o.score for o in again} == expected
