"""`make lab` starts JupyterLab serving lessons/, with nbgrader's Validate and formgrader
on and the exchange-based pieces (assignment list, course list) off."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from autograder import COURSE_ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


@pytest.fixture(scope="module")
def lab():
    port, token = _free_port(), secrets.token_hex(16)
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --IdentityProvider.token={token}"
    process = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"],
        cwd=COURSE_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: make, jupyter and kernels stop together
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"make lab exited early:\n{process.stdout.read()[-3000:]}")
            try:
                if _get(f"{base}/api/status?token={token}")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 90 s")
        yield base, token
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """Stop make, the server and its kernels: the whole process group."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def test_serves_the_lessons(lab):
    base, token = lab
    status, body = _get(f"{base}/api/contents/lessons?token={token}")
    assert status == 200
    names = {item["name"] for item in json.loads(body)["content"]}
    assert "01_fc_layers" in names


def test_opens_on_lessons(lab):
    base, token = lab
    # The server's front page redirects to the default URL: the lessons folder.
    with urllib.request.urlopen(f"{base}/?token={token}", timeout=10) as response:
        assert response.status == 200
        assert response.geturl().split("?")[0].rstrip("/").endswith("/lab/tree/lessons")


def test_exchange_pieces_are_off_and_validate_is_on(lab):
    base, token = lab
    _, page = _get(f"{base}/lab?token={token}")
    config = json.loads(
        re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    )
    disabled = config["disabledExtensions"]
    assert "@jupyter/nbgrader:assignment-list" in disabled and "@jupyter/nbgrader:course-list" in disabled
    assert "@jupyter/nbgrader:validate-assignment" not in disabled
    # The server side of the same pieces: the exchange's handlers are not mounted ...
    assert _get(f"{base}/assignments?token={token}")[0] == 404
    # ... while the instructor's formgrader answers.
    assert _get(f"{base}/formgrader?token={token}")[0] == 200
