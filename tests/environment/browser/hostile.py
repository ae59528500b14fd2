"""A course holding one graded submission that carries every way we know to run script
in a page that shows it: HTML and JavaScript outputs, SVG, widgets, Markdown with raw
HTML and `javascript:` links, a raw cell, attachments, and stray .html/.svg files.

Built with nbgrader's own commands (generate_assignment, autograde, generate_feedback)
under the course's nbgrader_config.py, on a one-exercise assignment so that grading
takes seconds: the outputs are those the student's code makes when the grader's kernel
runs it, as in a real class.

Every payload, if it ever ran, would leave a trace: it appends its name to
``window.__pwned``, sets ``document.title`` to "PWNED-<name>", calls
``fetch('/api/contents?pwned=<name>')`` (with the page's session) and ``alert('<name>')``.
"""

from __future__ import annotations

import base64
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import COURSE_ROOT
from autograder.nbgrader_cli import run_nbgrader

ASSIGNMENT = "99_hostile"
NOTEBOOK = "hostile"
STUDENT = "mallory"
MARKER = "PWNED"


def payload(name: str) -> str:
    """JavaScript that leaves every trace: single quotes only (it fits in "attributes"), no
    spaces and balanced parentheses (it fits in a Markdown link)."""
    return (
        f"window.__pwned=(window.__pwned||[]).concat(['{name}']);document.title='{MARKER}-{name}';"
        f"fetch('/api/contents?pwned={name}');alert('{name}')"
    )


def _html_vectors() -> dict[str, str]:
    """HTML a student's code displays (text/html outputs), by vector name."""
    return {
        "html-script": f"<script>{payload('html-script')}</script>",
        "html-img-onerror": f'<img src="x" onerror="{payload("html-img-onerror")}">',
        "html-svg-onload": f'<svg onload="{payload("html-svg-onload")}"><rect width="5" height="5"/></svg>',
        "html-svg-script": f"<svg><script>{payload('html-svg-script')}</script></svg>",
        "html-iframe-srcdoc": f'<iframe srcdoc="<script>{payload("html-iframe-srcdoc")}</script>"></iframe>',
        "html-iframe-javascript": f'<iframe src="javascript:{payload("html-iframe-javascript")}"></iframe>',
        "html-body-onload": f'<body onload="{payload("html-body-onload")}"></body>',
        "html-details-ontoggle": f'<details open ontoggle="{payload("html-details-ontoggle")}"><summary>s</summary></details>',
        "html-input-autofocus": f'<input autofocus onfocus="{payload("html-input-autofocus")}">',
        "html-object-data": f'<object data="javascript:{payload("html-object-data")}"></object>',
        "html-embed-svg": f'<embed src="data:image/svg+xml;base64,{base64.b64encode(_svg("html-embed-svg").encode()).decode()}">',
        "html-a-javascript": f'<a id="pwn-link" href="javascript:{payload("html-a-javascript")}">click me</a>',
        "html-meta-refresh": f'<meta http-equiv="refresh" content="0;url=javascript:{payload("html-meta-refresh")}">',
        "html-base-href": '<base href="https://attacker.invalid/">',
        "html-form-action": f'<form action="javascript:{payload("html-form-action")}"><button id="pwn-button">go</button></form>',
        "html-style-import": "<style>@import url('https://attacker.invalid/pwned.css');</style>",
        "html-link-stylesheet": '<link rel="stylesheet" href="https://attacker.invalid/pwned.css">',
    }


def _svg(name: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="{payload(name)}">'
        f"<script>{payload(name + '-inner')}</script><rect width='10' height='10'/></svg>"
    )


# What the student's code cell does when the grader runs it: one display per vector.
STUDENT_CODE = """
from IPython.display import HTML, SVG, Javascript, Markdown, display

VECTORS = {html_vectors!r}
for name, html in VECTORS.items():
    display(HTML(html))
display(HTML({isolated!r}), metadata={{"isolated": True}})
display(Javascript({javascript!r}))
display(SVG({svg!r}))
display(Markdown({markdown!r}))
display({{"application/vnd.jupyter.widget-view+json": {{"model_id": "0" * 32, "version_major": 2, "version_minor": 0}},
         "text/html": {widget_html!r}, "text/plain": "a widget"}}, raw=True)
display({{"text/x-unknown-html": {unknown!r}, "text/plain": "an unknown type"}}, raw=True)
print({stdout!r})

def answer():
    return 42
""".strip()

MARKDOWN_CELL = f'''
## A student's notes

Raw HTML: <script>{payload("md-script")}</script>
<img src="x" onerror="{payload("md-img-onerror")}">
<svg onload="{payload("md-svg-onload")}"></svg>
<iframe srcdoc="<script>{payload("md-iframe-srcdoc")}</script>"></iframe>
<details open ontoggle="{payload("md-details-ontoggle")}"><summary>s</summary></details>
<a id="md-a-javascript" href="javascript:{payload("md-a-javascript")}">an HTML link</a>

A [Markdown link](javascript:{payload("md-link-javascript")}) and a [reference link][ref],
an ![image](javascript:{payload("md-image-javascript")}) and an attachment: ![a](attachment:evil.svg)

[ref]: javascript:{payload("md-ref-javascript")}

Honest text stays readable: `a < b`, $x_t W_x + h_{{t-1}} W_h$, and

> a quotation.
'''.strip()

RAW_CELL = f'<script>{payload("raw-script")}</script><img src=x onerror="{payload("raw-img-onerror")}">'

STRAY_HTML = f"<!doctype html><title>stray</title><script>{payload('stray-html')}</script><p>stray page</p>"


@dataclass(frozen=True)
class HostileCourse:
    root: Path

    @property
    def submitted(self) -> Path:
        return self.root / "submitted" / STUDENT / ASSIGNMENT

    @property
    def autograded(self) -> Path:
        return self.root / "autograded" / STUDENT / ASSIGNMENT

    @property
    def feedback(self) -> Path:
        return self.root / "feedback" / STUDENT / ASSIGNMENT / f"{NOTEBOOK}.html"

    def submission_notebook_id(self) -> str:
        """The formgrader's id of the graded notebook (its view is /formgrader/submissions/<id>/)."""
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gradebook:
            return gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, STUDENT).id


def vector_names() -> list[str]:
    """Every payload's name (some payloads carry two: an SVG's onload and its script)."""
    names = list(_html_vectors()) + [
        "html-isolated",
        "javascript-output",
        "svg-output",
        "svg-output-inner",
        "markdown-output-link",
        "markdown-output-img",
        "widget-output",
        "unknown-output",
        "stdout",
        "html-embed-svg-inner",
    ]
    names += [
        "md-script",
        "md-img-onerror",
        "md-svg-onload",
        "md-iframe-srcdoc",
        "md-details-ontoggle",
        "md-a-javascript",
        "md-link-javascript",
        "md-ref-javascript",
        "md-image-javascript",
        "md-attachment",
        "md-attachment-inner",
        "raw-script",
        "raw-img-onerror",
        "stray-html",
        "stray-svg",
        "stray-svg-inner",
        "tag-attribute",
    ]
    return names


def _source_notebook():
    """The instructor's one-exercise notebook: a solution cell and a graded test cell."""

    def meta(**nbgrader):
        return {"nbgrader": {"schema_version": 3, "locked": False, "solution": False, "grade": False, **nbgrader}}

    solution = nbformat.v4.new_code_cell(
        "### BEGIN SOLUTION\ndef answer():\n    return 42\n### END SOLUTION",
        metadata=meta(grade_id="answer", solution=True),
    )
    test = nbformat.v4.new_code_cell(
        "assert answer() == 42", metadata=meta(grade_id="check_answer", grade=True, locked=True, points=1)
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Hostile fixture"), solution, test])
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def _hostile_submission(released: Path):
    """The released notebook, answered by a student who tries every vector."""
    notebook = nbformat.read(released, as_version=4)
    code = STUDENT_CODE.format(
        html_vectors=_html_vectors(),
        isolated=f"<script>{payload('html-isolated')}</script>",
        javascript=payload("javascript-output"),
        svg=_svg("svg-output"),
        markdown=(
            f"[markdown output](javascript:{payload('markdown-output-link')}) "
            f'<img src=x onerror="{payload("markdown-output-img")}">'
        ),
        widget_html=f"<script>{payload('widget-output')}</script>",
        unknown=f"<script>{payload('unknown-output')}</script>",
        stdout=f"<script>{payload('stdout')}</script>",
    )
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer":
            cell.source = code
            cell.metadata.tags = [f'"><script>{payload("tag-attribute")}</script>']
    notes = nbformat.v4.new_markdown_cell(MARKDOWN_CELL)
    notes.attachments = {"evil.svg": {"image/svg+xml": base64.b64encode(_svg("md-attachment").encode()).decode()}}
    raw = nbformat.v4.new_raw_cell(RAW_CELL, metadata={"raw_mimetype": "text/html"})
    notebook.cells[1:1] = [notes, raw]
    return notebook


def build(root: Path, config: Path = COURSE_ROOT / "nbgrader_config.py") -> HostileCourse:
    """A course at ``root`` (with the repository's nbgrader_config.py, or ``config``)
    with the hostile submission autograded and its feedback generated."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(config, root / "nbgrader_config.py")
    source = root / "solutions" / ASSIGNMENT
    source.mkdir(parents=True)
    nbformat.write(_source_notebook(), source / f"{NOTEBOOK}.ipynb")
    run_nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")

    course = HostileCourse(root)
    course.submitted.mkdir(parents=True)
    nbformat.write(
        _hostile_submission(root / "lessons" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"), course.submitted / f"{NOTEBOOK}.ipynb"
    )
    # Stray files beside the notebook (plain nbgrader copies them into autograded/).
    (course.submitted / "stray.html").write_text(STRAY_HTML)
    (course.submitted / "stray.svg").write_text(_svg("stray-svg"))
    run_nbgrader(root, "autograde", ASSIGNMENT, "--create")
    run_nbgrader(root, "generate_feedback", ASSIGNMENT)
    return course
