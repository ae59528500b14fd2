"""Fixtures for the browser tests: a throw-away copy of the course, the course's own
JupyterLab started on it exactly as `make lab` starts it, and headless Chromium
driven through Playwright.

The learner in these tests edits and saves notebooks, so the server works on a copy
of the course root (nbgrader_config.py, lessons/, solutions/): the repository's files
are never touched. nbgrader_config.py sets the course root from its own location, so
the copied config makes Validate and the formgrader work in the copy.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "browser"

# Debian's Chromium: Playwright's own browser download is not available here.
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium opens connections of its own
# (updates, sync, QUIC probes) that this machine refuses many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SERVER_START_TIMEOUT_S = 90
SERVER_STOP_TIMEOUT_S = 20

# JupyterLab settings for the test's private config dir (it is empty otherwise):
LAB_USER_SETTINGS = {
    # no news toast over the screenshots, and no request to the internet
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # every cell stays in the DOM, so locators find cells that are scrolled out of view
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives Chromium through JupyterLab (skipped without Chromium)")


def pytest_collection_modifyitems(config, items):
    # The only reason to skip: no Chromium (tools/system-packages.sh installs it where it can).
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (install it: sudo apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets the page fixture know whether its test failed (to keep a screenshot of it).
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """tests/artifacts/browser/, emptied so that it holds this run's screenshots only."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def course_root(tmp_path_factory) -> Path:
    """A copy of the course root that the server, and the learner, may change at will."""
    root = tmp_path_factory.mktemp("course")
    shutil.copy2(REPO_ROOT / "nbgrader_config.py", root)
    skip_state = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    for folder in ("lessons", "solutions"):
        shutil.copytree(REPO_ROOT / folder, root / folder, ignore=skip_state)
    return root


@dataclass
class Lab:
    """A running JupyterLab: where it answers and how to log in."""

    base_url: str
    token: str
    root: Path

    def url(self, path: str) -> str:
        """The address of a page, with the token that logs the browser in."""
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"


@pytest.fixture(scope="module")
def lab(course_root, tmp_path_factory, artifacts):
    """The course's JupyterLab on 127.0.0.1, started by the Makefile's `lab` target.

    `make -C COPY -f REPO/Makefile lab` runs the recipe from the copy, so the server's
    root and working directory (where Validate and the formgrader read
    nbgrader_config.py) are the copy. `--old-file` keeps make from reinstalling the
    environment even when pyproject.toml is newer than its install stamp.
    """
    port = _free_port()
    token = secrets.token_hex(16)
    venv = Path(sys.prefix)  # the environment running pytest: the course's .venv
    lab_args = (
        f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} "
        f"--ServerApp.port_retries=0 --IdentityProvider.token={token}"
    )
    if os.geteuid() == 0:  # containers and CI often run as root, which Jupyter refuses by default
        lab_args += " --ServerApp.allow_root=True"
    command = [
        "make",
        "--silent",
        "-C",
        str(course_root),
        "-f",
        str(REPO_ROOT / "Makefile"),
        f"VENV={venv}",
        f"--old-file={venv / '.installed'}",
        "lab",
        f"LAB_ARGS={lab_args}",
    ]
    log_path = artifacts / "lab-server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            command,
            cwd=course_root,
            env=_server_env(tmp_path_factory.mktemp("jupyter")),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so that stopping it stops it all
        )
        running = Lab(base_url=f"http://127.0.0.1:{port}", token=token, root=course_root)
        try:
            _wait_until_answering(running, server, log_path)
            yield running
        finally:
            _stop(running, server)


def _server_env(jupyter_home: Path) -> dict[str, str]:
    """The caller's environment, as a learner's shell would pass it to `make lab`, with
    Jupyter's per-user state (settings, workspaces, runtime files) in a private folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    config_dir = jupyter_home / "config"
    for plugin, settings in LAB_USER_SETTINGS.items():
        path = config_dir / "lab" / "user-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    env["JUPYTER_CONFIG_DIR"] = str(config_dir)
    env["JUPYTER_RUNTIME_DIR"] = str(jupyter_home / "runtime")
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(lab: Lab, path: str, method: str = "GET", timeout: float = 5):
    request = urllib.request.Request(
        f"{lab.base_url}{path}", method=method, headers={"Authorization": f"token {lab.token}"}
    )
    return urllib.request.urlopen(request, timeout=timeout)


def _wait_until_answering(lab: Lab, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"`make lab` exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with _request(lab, "/api/status"):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")


def _stop(lab: Lab, server: subprocess.Popen) -> None:
    """Ask the server to shut down (it stops its kernels, which run in sessions of their
    own), then make sure nothing of its process group is left."""
    try:
        _request(lab, "/api/shutdown", method="POST").close()
        server.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        _signal_group(server, signal.SIGTERM)
        try:
            server.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(server, signal.SIGKILL)  # whatever is left (normally nothing)
    server.wait()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, artifacts, request):
    """A fresh browser tab; on failure its last state is kept as failed-<test>.png."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            tab.screenshot(path=str(artifacts / f"failed-{request.node.name}.png"))
        context.close()
