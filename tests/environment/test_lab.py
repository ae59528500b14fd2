"""`make lab` starts JupyterLab on the course: it opens on README.md, its terminal's
`python` is the course's, its settings keep widget state and fetch no news, nbgrader's
Validate and formgrader are on and the exchange-based pieces (assignment list, course
list) off."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

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


def test_opens_on_the_readme(lab):
    base, token = lab
    # The server's front page redirects to the default URL: the README, shown rendered.
    with urllib.request.urlopen(f"{base}/?token={token}", timeout=10) as response:
        assert response.status == 200
        assert response.geturl().split("?")[0].endswith("/lab/tree/README.md")
    viewers = _setting(base, token, "@jupyterlab/docmanager-extension:plugin", "defaultViewers")
    assert viewers.get("markdown") == "Markdown Preview"


def _setting(base: str, token: str, plugin: str, key: str):
    """A setting's value as JupyterLab computes it (schema default, overrides, user)."""
    status, body = _get(f"{base}/lab/api/settings/{plugin}?token={token}")
    assert status == 200, plugin
    answer = json.loads(body)
    # The user's own settings, else the schema's default (overrides.json changes the default)
    return answer["settings"].get(key, answer["schema"]["properties"][key].get("default"))


def test_widgets_are_saved_and_no_news_is_fetched(lab):
    base, token = lab
    # tqdm's bars are widgets: saved with the notebook, they still show when it is reopened.
    assert _setting(base, token, "@jupyter-widgets/jupyterlab-manager:plugin", "saveState") is True
    assert _setting(base, token, "@jupyterlab/apputils-extension:notification", "fetchNews") == "false"
    assert _setting(base, token, "@jupyterlab/apputils-extension:notification", "checkForUpdates") is False


def test_the_terminals_python_is_the_courses(lab):
    """JupyterLab's terminal, as a learner opens it (File > New > Terminal), runs the
    course's python, whatever a login profile does to PATH."""
    base, token = lab
    request = urllib.request.Request(f"{base}/api/terminals?token={token}", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as response:
        name = json.loads(response.read())["name"]
    try:
        output = asyncio.run(
            _terminal_session(base, token, name, "python -c \"import sys; print('PREFIX=' + sys.prefix)\"")
        )
    finally:
        urllib.request.urlopen(
            urllib.request.Request(f"{base}/api/terminals/{name}?token={token}", method="DELETE"), timeout=10
        ).close()
    # (the echo of the typed command has PREFIX=' ...; the answer, a path)
    prefixes = re.findall(r"PREFIX=(/\S+)", output)
    assert prefixes and Path(prefixes[-1]).resolve() == Path(sys.prefix).resolve(), output[-2000:]


async def _terminal_session(base: str, token: str, name: str, command: str, timeout: float = 60) -> str:
    """Types a command into a terminal over its websocket; returns what it printed."""
    from tornado.websocket import websocket_connect

    url = base.replace("http://", "ws://") + f"/terminals/websocket/{name}?token={token}"
    connection = await websocket_connect(url)
    output = ""
    connection.write_message(json.dumps(["stdin", command + "\r"]))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not re.search(r"PREFIX=/\S+\s", output):
        message = await asyncio.wait_for(connection.read_message(), timeout=deadline - time.monotonic())
        if message is None:
            break
        kind, *payload = json.loads(message)
        if kind == "stdout":
            output += payload[0]
    connection.close()
    return output


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
