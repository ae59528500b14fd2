"""A hostile submission, graded, looked at everywhere an instructor (or the student) looks
at it, in real Chromium: nothing the student wrote runs.

The submission (tests/environment/browser/hostile.py) carries every vector we know: <script>, event
handlers (onerror, onload, ontoggle, onfocus), iframes (srcdoc, javascript:), SVG with
script and onload (inline, as an output, embedded, as a stray file), `javascript:` links
made by raw HTML and by Markdown, application/javascript, widget and unknown outputs,
isolated HTML, attachments, cell tags, a raw HTML cell and a stray .html file. Each page
below is opened with a dialog listener and a request log; then the page, and each of its
frames, must show no trace of any payload (window.__pwned, the title, a request, a
dialog), and the page must carry the policy the server or the file gives it.

Screenshots of the formgrader showing the submission inert land in tests/artifacts/browser/.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from . import hostile

pytestmark = pytest.mark.browser

MATHJAX_CDN = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/"
# Records what the page's Content-Security-Policy blocks (runs before the page's scripts).
COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(
    {directive: e.effectiveDirective, blockedURI: e.blockedURI, sample: e.sample}));
"""
# Reading a frame's state is quick where the frame has a script context at all.
FRAME_READ_TIMEOUT_MS = 5_000

TRACES = """(root) => ({
    pwned: window.__pwned || [],
    title: document.title,
    // URLs a click, a submit or a frame would run (an <img src="javascript:..."> never runs)
    javascriptUrls: [...document.querySelectorAll('[href],[action],[formaction],[data],iframe[src],embed[src],frame[src]')]
        .flatMap(e => ['href', 'action', 'formaction', 'data', 'src'].map(a => e.getAttribute(a) || ''))
        .filter(v => /^\\s*javascript:/i.test(v)),
})"""


@pytest.fixture(scope="module")
def course_root(tmp_path_factory) -> Path:
    """The course the server runs on: the hostile submission, autograded, with feedback."""
    return hostile.build(tmp_path_factory.mktemp("hostile-course")).root


@pytest.fixture(scope="module")
def course(course_root) -> hostile.HostileCourse:
    return hostile.HostileCourse(course_root)


class Watch:
    """What a page did that only a running payload would do."""

    def __init__(self, page: Page):
        self.page = page
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("dialog", self._dialog)
        page.on("request", lambda request: self.requests.append(request.url))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, url: str):
        response = self.page.goto(url)
        # Inline scripts and handlers run before "load" (it waits for images and frames);
        # a payload's fetch would keep the network busy: wait until it is quiet.
        self.page.wait_for_load_state("networkidle")
        return response

    def traces(self) -> dict:
        """Every trace a payload would leave, in the page and in each of its frames."""
        found = {
            "pwned": [],
            "titles": [],
            "javascript_urls": [],
            "dialogs": list(self.dialogs),
            "pwned_requests": [url for url in self.requests if _is_payload_fetch(url)],
        }
        for frame in self.page.frames:
            try:
                seen = frame.locator(":root").evaluate(TRACES, timeout=FRAME_READ_TIMEOUT_MS)
            except PlaywrightError:
                if frame == self.page.main_frame:
                    raise
                # A frame in which script is disabled (a sandboxed page's frames) has no
                # context to read, and runs nothing; a payload there would still show as
                # a dialog or a request, which the page-level listeners record.
                continue
            found["pwned"] += seen["pwned"]
            found["javascript_urls"] += seen["javascriptUrls"]
            if hostile.MARKER in seen["title"]:
                found["titles"].append(seen["title"])
        return found

    def api_requests(self, base_url: str) -> list[str]:
        """Requests to the Jupyter server's API (/api/...) made by the page."""
        api = urlsplit(base_url).path.rstrip("/") + "/api/"
        return [url for url in self.requests if urlsplit(url).path.startswith(api)]


def _is_payload_fetch(url: str) -> bool:
    """The request a running payload makes (not, say, an <img src="javascript:..."> the
    browser refuses to load)."""
    parts = urlsplit(url)
    return (
        parts.scheme in ("http", "https", "file") and parts.path.endswith("/api/contents") and "pwned=" in parts.query
    )


def _assert_inert(watch: Watch, sanitised: bool = True) -> None:
    """No payload ran. A sanitised page also holds no `javascript:` URL; a page that is
    only sandboxed (a stray file, the server's own nbconvert) may, inert."""
    traces = watch.traces()
    if not sanitised:
        traces.pop("javascript_urls")
    assert not any(traces.values()), traces


def _policy(response) -> str:
    return response.headers.get("content-security-policy", "")


def _assert_sandboxed(response) -> None:
    directives = [d.strip() for d in _policy(response).split(";")]
    assert "sandbox" in directives and "default-src 'none'" in directives, _policy(response)
    assert not any("allow-scripts" in d for d in directives), _policy(response)


def test_the_watch_sees_a_payload_that_runs(page: Page, tmp_path: Path):
    """Control: the same watch, on a page where script may run, sees every trace."""
    control = tmp_path / "control.html"
    control.write_text(f"<title>control</title><script>{hostile.payload('control')}</script>")
    watch = Watch(page)
    watch.open(control.as_uri())
    traces = watch.traces()
    assert traces["pwned"] == ["control"] and traces["dialogs"] == ["control"]
    assert traces["titles"] == [f"{hostile.MARKER}-control"] and traces["pwned_requests"]


def test_feedback_file_opened_from_disk(course, page: Page):
    watch = Watch(page)
    watch.open(course.feedback.as_uri())
    policy = page.locator('head > meta[http-equiv="Content-Security-Policy"]').first
    assert "default-src 'none'" in policy.get_attribute("content")
    expect(page.get_by_text(f"{hostile.MARKER}-md-script")).to_be_visible()  # shown, as text
    _assert_inert(watch)


@pytest.mark.parametrize(
    "path",
    [
        "files/feedback/{student}/{assignment}/hostile.html",
        "view/feedback/{student}/{assignment}/hostile.html",
        "files/submitted/{student}/{assignment}/stray.html",
        "files/autograded/{student}/{assignment}/stray.html",
        "files/autograded/{student}/{assignment}/stray.svg",
        "nbconvert/html/autograded/{student}/{assignment}/hostile.ipynb",
    ],
)
def test_submission_files_served_by_the_course_server(lab, page: Page, path: str):
    watch = Watch(page)
    response = watch.open(lab.url(path.format(student=hostile.STUDENT, assignment=hostile.ASSIGNMENT)))
    assert response.ok, response.status
    if not path.startswith("view/"):  # /view/ is Jupyter's page around a frame of /files/...
        _assert_sandboxed(response)
    if path.startswith("nbconvert/"):
        # The server's own rendering is not sanitised: its javascript: link and form are
        # there, and do nothing when the instructor clicks them.
        page.locator("#pwn-link").click()
        page.locator("#pwn-button").click()
        page.wait_for_load_state("networkidle")
    _assert_inert(watch, sanitised=False)
    assert not watch.api_requests(lab.base_url)


def test_formgrader_views_of_the_submission(lab, course, page: Page, artifacts: Path):
    view = f"formgrader/submissions/{course.submission_notebook_id()}/"
    page.add_init_script(COLLECT_VIOLATIONS)
    watch = Watch(page)
    response = watch.open(lab.url(view))
    assert response.ok, response.status

    # The policy allows nbgrader's scripts by URL and hash only ...
    script_src = next(d for d in _policy(response).split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'self'" not in script_src, script_src
    # ... and they run: its external scripts, its inline script, its inline handler.
    assert page.evaluate("typeof FormGrader") == "function"
    assert page.evaluate("submission_id") == course.submission_notebook_id()
    page.evaluate("document.querySelector('span.name-hidden[onclick]').click()")
    expect(page.locator("a.name-shown").first).to_be_visible()
    # Nothing was blocked but MathJax, which nbgrader loads from a CDN.
    blocked = page.evaluate("window.__violations")
    assert all(v["blockedURI"].startswith(MATHJAX_CDN) for v in blocked), blocked

    # The hostile content is on the page, as text.
    notes = page.locator(".text_cell_render", has_text="A student's notes")
    expect(notes).to_contain_text(f"{hostile.MARKER}-md-script")
    notes.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "hostile-formgrader.png")
    page.screenshot(path=artifacts / "hostile-formgrader-full.png", full_page=True)
    _assert_inert(watch)
    assert not watch.api_requests(lab.base_url)

    # A stray file of the submission, served by the formgrader from the same origin.
    for stray in ("stray.html", "stray.svg"):
        stray_watch = Watch(page)
        response = stray_watch.open(lab.url(view + stray))
        assert response.ok, (stray, response.status)
        _assert_sandboxed(response)
        _assert_inert(stray_watch, sanitised=False)
        assert not stray_watch.api_requests(lab.base_url)


def test_autograded_notebook_in_jupyterlab(lab, page: Page):
    """The formgrader's "open live notebook": JupyterLab itself renders the submission."""
    watch = Watch(page)
    path = f"lab/tree/autograded/{hostile.STUDENT}/{hostile.ASSIGNMENT}/hostile.ipynb"
    page.goto(lab.url(path))
    stdout = page.locator(".jp-OutputArea-output", has_text=f"{hostile.MARKER}-stdout")
    expect(stdout).to_be_visible(timeout=60_000)
    notes = page.locator(".jp-MarkdownOutput", has_text="A student's notes")
    expect(notes).to_be_visible()
    _assert_inert(watch)


def test_feedback_trusted_in_jupyterlab_html_viewer(lab, page: Page):
    """JupyterLab's HTML viewer runs a file's scripts on the server's origin once the
    instructor presses "Trust HTML"; the feedback file's own policy still stops them."""
    watch = Watch(page)
    page.goto(lab.url(f"lab/tree/feedback/{hostile.STUDENT}/{hostile.ASSIGNMENT}/hostile.html"))
    viewer = page.frame_locator(".jp-HTMLViewer iframe")
    expect(viewer.get_by_text("A student's notes")).to_be_visible(timeout=60_000)
    page.get_by_text("Trust HTML", exact=True).click()
    expect(page.locator(".jp-HTMLViewer iframe")).to_have_attribute("sandbox", re.compile("allow-scripts"))
    expect(viewer.get_by_text("A student's notes")).to_be_visible()
    page.wait_for_load_state("networkidle")
    _assert_inert(watch)


def test_a_students_html_is_never_opened_in_jupyterlab(lab, page: Page):
    """JupyterLab's HTML viewer would run a stray file's scripts once "Trust HTML" is
    pressed, and the header policy of /api/contents never reaches its frame: the course's
    server does not hand a student's HTML or SVG to it. The file still lists, /files/
    serves it sandboxed, and the course's own feedback page still opens."""
    import json
    import urllib.error
    import urllib.request

    def status(path: str) -> int:
        request = urllib.request.Request(f"{lab.base_url}/{path}", headers={"Authorization": f"token {lab.token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            assert b"alert" not in error.read()  # the refusal carries none of the file
            return error.code

    folder = f"{hostile.STUDENT}/{hostile.ASSIGNMENT}"
    for stray in (
        f"submitted/{folder}/stray.html",
        f"autograded/{folder}/stray.html",
        f"autograded/{folder}/stray.svg",
    ):
        assert status(f"api/contents/{stray}") == 403, stray
        assert status(f"api/contents/{stray}?content=0") == 200, stray  # it still lists
    assert status(f"api/contents/feedback/{folder}/hostile.html") == 200
    listing = urllib.request.Request(
        f"{lab.base_url}/api/contents/submitted/{folder}", headers={"Authorization": f"token {lab.token}"}
    )
    with urllib.request.urlopen(listing, timeout=30) as response:
        assert "stray.html" in {item["name"] for item in json.load(response)["content"]}

    watch = Watch(page)
    # A workspace of its own, reset: the server keeps the layout of earlier tests (the
    # feedback page open in a viewer), and JupyterLab would restore it into this page.
    page.goto(lab.url(f"lab/workspaces/stray-only/tree/submitted/{folder}/stray.html") + "&reset")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(2_000)  # what a payload would do, it would have done by now
    # JupyterLab still makes its viewer's tab, but it stays empty: the load fails with
    # the server's reason, and no frame of the page holds any of the student's file.
    expect(page.locator(".jp-Dialog", has_text="File Load Error")).to_contain_text("does not open a student's HTML")
    for frame in page.frames:
        assert "stray page" not in frame.content(), f"JupyterLab opened a student's HTML file in {frame.url}"
    _assert_inert(watch, sanitised=False)
