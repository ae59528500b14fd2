"""Nothing a student wrote can run in the pages made of a submission, without a browser:
the feedback file nbgrader generates under the course's config, and the formgrader's view
of the same graded notebook, hold no script but their templates' own; the policies the
course's server sends are the right ones for each path; honest lessons render unchanged.

The browser proof (the same hostile submission, in Chromium, everywhere an instructor
looks) is tests/environment/browser/test_hostile_submission.py.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert.exporters import HTMLExporter
from traitlets.config.loader import PyFileConfigLoader

from autograder import COURSE_ROOT
from autograder.safe_html import (
    NO_SCRIPT_META_POLICY,
    SUBMISSION_FILE_POLICY,
    VIEW_FALLBACK_POLICY,
    _PageScripts,
    policy_for,
    view_policy,
)

from ..environment.browser import hostile

MATHJAX_CDN = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/"
#: Elements that run script, load a document or submit: none may come from a student.
ACTIVE_TAGS = {
    "script",
    "iframe",
    "frame",
    "object",
    "embed",
    "svg",
    "math",
    "form",
    "input",
    "button",
    "base",
    "link",
    "meta",
    "details",
    "style",
}


class _Elements(HTMLParser):
    """Every start tag of a page, with its attributes, and where <body> begins."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def body(self) -> list[tuple[str, dict[str, str]]]:
        start = next(i for i, (tag, _) in enumerate(self.tags) if tag == "body")
        return self.tags[start + 1 :]


def _javascript_urls(elements: list[tuple[str, dict[str, str]]]) -> list[str]:
    return [
        value
        for _, attrs in elements
        for name, value in attrs.items()
        if name in ("href", "src", "action", "formaction", "data") and re.match(r"\s*javascript:", value, re.I)
    ]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> hostile.HostileCourse:
    return hostile.build(tmp_path_factory.mktemp("hostile-course"))


def _autograded(course) -> Path:
    return course.autograded / f"{hostile.NOTEBOOK}.ipynb"


# ---------------------------------------------------------------- the fixture itself


@pytest.mark.slow
def test_unprotected_rendering_of_the_submission_runs_its_payloads(course):
    """Control: nbconvert's plain HTML of the graded notebook is full of live script,
    so the tests below, which find none in ours, can fail."""
    page, _ = HTMLExporter(template_name="classic").from_filename(str(_autograded(course)))
    scripts = _PageScripts(page)
    live = " ".join(scripts.inline + scripts.handlers + _javascript_urls(_Elements(page).tags))
    ran = {name for name in hostile.vector_names() if name in live}
    assert {
        "html-script",
        "html-img-onerror",
        "html-svg-onload",
        "md-script",
        "md-img-onerror",
        "md-a-javascript",
        "md-link-javascript",
        "javascript-output",
    } <= ran, sorted(ran)


# ------------------------------------------------------------------------- feedback


@pytest.mark.slow
def test_feedback_file_has_no_student_script(course):
    page = course.feedback.read_text()
    scripts = _PageScripts(page)
    assert scripts.inline == [] and scripts.handlers == [], (scripts.inline, scripts.handlers)
    assert all(src.startswith(MATHJAX_CDN) for src in scripts.sources), scripts.sources  # the template's own
    body = _Elements(page).body()
    assert not [tag for tag, _ in body if tag in ACTIVE_TAGS]
    assert not _javascript_urls(body)
    assert not [attrs for _, attrs in body if any(name.startswith("on") for name in attrs)]
    # Shown, as text: the student's attempt is visible to whoever reads the feedback.
    assert "&lt;script&gt;window.__pwned" in page


@pytest.mark.slow
def test_feedback_file_forbids_script_when_opened_from_disk(course):
    page = course.feedback.read_text()
    head = page[page.index("<head>") : page.index("</head>")]
    first = _Elements(head).tags[1]  # the first element inside <head>
    assert first == ("meta", {"http-equiv": "Content-Security-Policy", "content": NO_SCRIPT_META_POLICY})
    assert "script-src" not in NO_SCRIPT_META_POLICY and "default-src 'none'" in NO_SCRIPT_META_POLICY


# ------------------------------------------------------------------ formgrader view


def _formgrader_exporter(course_root: Path) -> HTMLExporter:
    """The exporter the formgrader renders a submission with: the course's config, and
    the two settings FormgradeExtension.build_extra_config adds."""
    from nbgrader.server_extensions.formgrader import handlers

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    return HTMLExporter(config=config)


def _view_resources(course) -> dict:
    return {
        "assignment_id": hostile.ASSIGNMENT,
        "notebook_id": hostile.NOTEBOOK,
        "submission_id": "0123abcd",
        "index": 0,
        "total": 1,
        "base_url": "",
        "student": hostile.STUDENT,
        "last_name": None,
        "first_name": None,
        "notebook_path": f"/autograded/{hostile.STUDENT}/{hostile.ASSIGNMENT}/x.ipynb",
    }


@pytest.mark.slow
def test_formgrader_view_runs_only_its_templates_scripts(course):
    exporter = _formgrader_exporter(course.root)
    page, _ = exporter.from_filename(str(_autograded(course)), resources=_view_resources(course))
    template, _ = exporter.from_notebook_node(nbformat.v4.new_notebook(), resources=_view_resources(course))
    on_page, of_template = _PageScripts(page), _PageScripts(template)
    assert sorted(on_page.inline) == sorted(of_template.inline)
    assert sorted(on_page.handlers) == sorted(of_template.handlers)
    assert sorted(on_page.sources) == sorted(of_template.sources)
    assert "&lt;script&gt;window.__pwned" in page
    assert not _javascript_urls(_Elements(page).body())
    # The policy built from the template allows exactly those scripts, and no others.
    policy = view_policy(template, "http://127.0.0.1:8888/formgrader/submissions/0123abcd/")
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src")).split()[1:]
    assert "'unsafe-inline'" not in script_src and "'self'" not in script_src
    assert "http://127.0.0.1:8888/formgrader/static/js/formgrade.js" in script_src
    assert not [s for s in script_src if s.startswith("https://")]  # MathJax's CDN is not allowed
    assert len([s for s in script_src if s.startswith("'sha256-")]) == len(
        set(of_template.inline + of_template.handlers)
    )


# -------------------------------------------------------------- the server's policies


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/formgrader/submissions/abc/", VIEW_FALLBACK_POLICY),  # the view: its handler refines it
        ("/formgrader/submissions/abc", VIEW_FALLBACK_POLICY),
        ("/formgrader/submissions/abc/stray.html", SUBMISSION_FILE_POLICY),
        ("/formgrader/submissions/abc/sub/dir/x.svg", SUBMISSION_FILE_POLICY),
        ("/formgrader/submissions/abc/next", None),
        ("/files/submitted/s/01_fc_layers/stray.html", SUBMISSION_FILE_POLICY),
        ("/files/autograded/s/01_fc_layers/x.html", SUBMISSION_FILE_POLICY),
        ("/files/feedback/s/01_fc_layers/fc_layers.html", SUBMISSION_FILE_POLICY),
        ("/files/grading/feedback/s/01_fc_layers/fc_layers.html", SUBMISSION_FILE_POLICY),  # grade --out
        ("/files/%61utograded/s/a/x.html", SUBMISSION_FILE_POLICY),  # percent-encoded
        ("/files/grading%2Ffeedback%2Fs/a/x.html", SUBMISSION_FILE_POLICY),  # an encoded separator
        ("/view/feedback/s/a/x.html", SUBMISSION_FILE_POLICY),
        ("/nbconvert/html/autograded/s/a/x.ipynb", SUBMISSION_FILE_POLICY),
        ("/files/lessons/01_fc_layers/fc_layers.ipynb", None),
        ("/lab/tree/autograded/s/a/x.ipynb", None),  # JupyterLab's own page: it sanitises itself
        ("/api/contents/autograded/s/a/x.ipynb", None),
        ("/formgrader/manage_assignments", None),
        ("/other/base/files/autograded/x.html", None),  # not under the server's base URL
    ],
)
def test_policy_for_each_path(path, expected):
    assert policy_for(path, "/", {}) == expected


def test_policy_under_a_base_url_and_configured_folder_names():
    class Coursedir:
        submitted_directory, autograded_directory, feedback_directory = "handed_in", "graded", "returned"

    class Formgrader:
        coursedir = Coursedir()

    settings = {"nbgrader_formgrader": Formgrader()}
    assert policy_for("/user/ann/files/returned/s/a/x.html", "/user/ann/", settings) == SUBMISSION_FILE_POLICY
    assert policy_for("/user/ann/formgrader/submissions/abc/", "/user/ann/", settings) == VIEW_FALLBACK_POLICY
    assert policy_for("/files/returned/s/a/x.html", "/user/ann/", settings) is None


def test_submission_file_policy_runs_nothing():
    directives = SUBMISSION_FILE_POLICY.split("; ")
    assert directives[0] == "sandbox" and "default-src 'none'" in directives
    assert not [d for d in directives if "allow-scripts" in d or d.startswith("script-src")]
    assert "script-src 'none'" in VIEW_FALLBACK_POLICY


# ------------------------------------------------------------------ honest lessons


def _visible_text(html: str) -> str:
    class Text(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []

        def handle_data(self, data):
            self.parts.append(data)

    parser = Text()
    parser.feed(html)
    return " ".join("".join(parser.parts).split())


def test_honest_lessons_read_the_same_once_sanitised():
    """Every Markdown cell of every lesson shows the same text with and without the
    sanitiser: math with `<`, code spans, quotes and images survive it."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE_ROOT)).load_config()
    plain, sanitised = HTMLExporter(template_name="basic"), HTMLExporter(template_name="basic", config=config)
    checked = 0
    for path in sorted((COURSE_ROOT / "lessons").glob("*/*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        notebook.cells = [cell for cell in notebook.cells if cell.cell_type == "markdown"]
        before, _ = plain.from_notebook_node(notebook)
        after, _ = sanitised.from_notebook_node(notebook)
        assert _visible_text(after) == _visible_text(before), path.name
        assert after.count("<img") == before.count("<img"), path.name
        checked += len(notebook.cells)
    assert checked > 50


@pytest.mark.parametrize(
    "path, refused",
    [
        ("/api/contents/submitted/s/a/stray.html", True),
        ("/api/contents/grading/autograded/s/a/picture.SVG", True),
        ("/api/contents/submitted%2Fs%2Fa%2Fstray.htm", True),  # an encoded separator is one too
        ("/api/contents/feedback/s/a/a.html", False),  # the course's own, sanitised page
        ("/api/contents/submitted/s/a/a.ipynb", False),
        ("/api/contents/lessons/01_fc_layers/notes.html", False),
        ("/files/submitted/s/a/stray.html", False),  # served sandboxed instead
    ],
)
def test_contents_of_a_students_html_are_refused(path, refused):
    from autograder.safe_html import refuses_contents

    assert refuses_contents(path, "/", {}) is refused
