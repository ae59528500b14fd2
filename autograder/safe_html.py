"""No student-controlled script runs where the instructor looks.

A submission's outputs and Markdown are written by the student (outputs by the student's
code, run by the grader's kernel): HTML, JavaScript, SVG and widgets included. Three
places render them, and each gets two locks: a sanitiser, and a Content-Security-Policy
that stops script even if the sanitiser missed something.

- Feedback files (``nbgrader generate_feedback``) and the formgrader's submission view
  are made by nbconvert's HTMLExporter. nbgrader_config.py gives that exporter
  :class:`SanitizeSubmissionHTML` (nbconvert's SanitizeHTML with an allow-list fit for
  rendered notebooks) and :class:`SanitizedMarkdown` (Markdown is sanitised after it is
  rendered: nbconvert's Markdown renderer makes ``javascript:`` links out of plain
  Markdown syntax, which sanitising the Markdown source does not see).
- Feedback files are written by :class:`NoScriptHTMLExporter`: a CSP meta tag that
  forbids every script, so a feedback file opened from disk runs none.
- The course's Jupyter server (``make lab``) loads this module as a server extension:
  everything it serves from a ``submitted``, ``autograded`` or ``feedback`` folder, and
  every file of a submission the formgrader serves, is sent with
  ``Content-Security-Policy: sandbox; default-src 'none'`` (no script, no plugin, a
  unique origin). The formgrader's submission view needs nbgrader's own scripts to
  record manual grades: it is sent with a policy that lets exactly those run (the
  scripts nbgrader's template loads from the server, and the inline ones it writes,
  by hash) and no other.

MathJax, which nbgrader's templates load from a CDN, is blocked by both policies: the
pages show TeX source instead of typeset math.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

import jinja2
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors.sanitize import SanitizeHTML
from traitlets import default
from traitlets.config import LoggingConfigurable

# ----------------------------------------------------------------------- sanitiser

#: What rendered Markdown and ordinary HTML outputs (tables, formatted text) are made
#: of. No script, style, form, frame, object, SVG or MathML element: bleach escapes
#: anything else, so an attack shows as text.
NOTEBOOK_TAGS = [
    "a",
    "abbr",
    "acronym",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
    "var",
]
#: No event handler, no style, no id (an id could shadow the formgrader's own elements).
#: URLs (href, src) keep bleach's protocols only: http, https, mailto and relative ones.
NOTEBOOK_ATTRIBUTES = {
    "*": ["class", "title"],
    "a": ["href", "title"],
    "img": ["src", "alt", "title", "width", "height"],
    "ol": ["start"],
    "td": ["colspan", "rowspan", "align"],
    "th": ["colspan", "rowspan", "align"],
}


class SanitizeSubmissionHTML(SanitizeHTML):
    """nbconvert's sanitiser for outputs, with an allow-list fit for rendered notebooks.

    Code outputs: text/html is cleaned by bleach; every output type that could run
    script (application/javascript, widget views, text/html's unknown cousins) is
    removed; images stay (PNG and JPEG as data, SVG as a data URL in an <img>, where a
    browser never runs its script). Markdown cells and text/markdown outputs are left
    to :class:`SanitizedMarkdown`, which cleans them once they are HTML: cleaning the
    Markdown source escapes `<` in code spans and `>` of quotes, and misses links that
    Markdown itself makes.
    """

    @default("tags")
    def _notebook_tags(self):
        return list(NOTEBOOK_TAGS)

    @default("attributes")
    def _notebook_attributes(self):
        return copy.deepcopy(NOTEBOOK_ATTRIBUTES)

    @default("safe_output_keys")
    def _safe_outputs(self):
        # text/markdown: rendered, then cleaned, by SanitizedMarkdown.
        return {
            "metadata",
            "text/plain",
            "text/latex",
            "application/json",
            "image/png",
            "image/jpeg",
            "image/svg+xml",
            "text/markdown",
        }

    @default("sanitized_output_types")
    def _sanitized_outputs(self):
        return {"text/html"}

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown":
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)


class SanitizedMarkdown(LoggingConfigurable):
    """The exporter's ``markdown2html`` filter, followed by the sanitiser.

    Registered through ``HTMLExporter.filters``: the exporter creates it with itself as
    parent, so it renders exactly as the exporter would (attachments, math, anchors) and
    cleans with the same allow-list as :class:`SanitizeSubmissionHTML`. Every template
    here renders Markdown through this filter: cells, text/markdown outputs, comments.
    """

    # Jinja passes the template context to filters that carry this marker (what
    # jinja2.pass_context sets on a function); the exporter's filter needs the cell.
    jinja_pass_arg = jinja2.pass_context(lambda: None).jinja_pass_arg

    _sanitizer = None

    def __call__(self, context, source):
        if self._sanitizer is None:
            self._sanitizer = SanitizeSubmissionHTML(parent=self.parent)
        return self._sanitizer.sanitize_html_tags(self.parent.markdown2html(context, source))


# ------------------------------------------------------------------ feedback files

#: For a file opened from disk: nothing but inline styles and embedded images.
#: (``sandbox`` and ``frame-ancestors`` are ignored in a meta tag; the server sends them.)
NO_SCRIPT_META_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)


class NoScriptHTMLExporter(HTMLExporter):
    """HTMLExporter whose pages forbid every script: a CSP meta tag opens <head>.

    The tag comes before anything the notebook put in the page, and a browser applies
    every policy it finds, so nothing later in the page can loosen it.
    """

    def from_notebook_node(self, nb, resources=None, **kw):
        html, resources = super().from_notebook_node(nb, resources, **kw)
        return with_meta_policy(html, NO_SCRIPT_META_POLICY), resources


def with_meta_policy(html: str, policy: str) -> str:
    """``html`` with a Content-Security-Policy meta tag as the first element of <head>."""
    tag = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
    page, found = re.subn(r"<head(\s[^>]*)?>", lambda m: m.group(0) + "\n" + tag, html, count=1, flags=re.I)
    if not found:
        raise ValueError("the page has no <head>: cannot give it a Content-Security-Policy")
    return page


# ----------------------------------------------------------- the course's server

#: For anything a submission put on disk: no script at all, a unique origin, no
#: plugins, frames, fetches or forms; images and styles may load (they cannot run code).
SUBMISSION_FILE_POLICY = "; ".join(
    [
        "sandbox",
        "default-src 'none'",
        "img-src 'self' data:",
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",  # JupyterLab may still show it in a tab
    ]
)

#: The formgrader's submission view: nbgrader's scripts are added by the view's handler.
_VIEW_POLICY_START = "default-src 'none'; script-src"
#: If the view was served by another handler than ours: no script at all, not even
#: nbgrader's (grading by hand breaks, visibly; nothing of the student's runs).
VIEW_FALLBACK_POLICY = (
    _VIEW_POLICY_START + " 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"
)

#: nbgrader's course folders that hold what students handed in and what grading made
#: of it. A path through a folder of one of these names (any course root: the course
#: itself, or the output folder of `python -m autograder grade`) is a submission's.
SUBMISSION_FOLDERS = frozenset({"submitted", "autograded", "feedback"})
#: The server's routes that send a file's own bytes (or its rendering) to the browser.
FILE_ROUTES = ("files", "view", "nbconvert")


def _course_folders(settings) -> set[str]:
    """The submission folders' names, as the formgrader's course configures them."""
    folders = set(SUBMISSION_FOLDERS)
    formgrader = settings.get("nbgrader_formgrader")
    if formgrader is not None:
        coursedir = formgrader.coursedir
        folders |= {coursedir.submitted_directory, coursedir.autograded_directory, coursedir.feedback_directory}
    return folders


def policy_for(path: str, base_url: str, settings) -> str | None:
    """The policy this module imposes on a response to ``path`` (None: leave it alone).

    A submission's own view gets the view policy (its handler fills in nbgrader's
    scripts); files of a submission get SUBMISSION_FILE_POLICY.
    """
    path = unquote(path)  # as the handlers see it: %2F is a folder separator too
    if not path.startswith(base_url):
        return None
    parts = [part for part in path[len(base_url) :].split("/") if part]
    if not parts:
        return None
    if parts[:2] == ["formgrader", "submissions"] and len(parts) >= 3:
        if len(parts) == 3:
            return VIEW_FALLBACK_POLICY  # /formgrader/submissions/<id>: the view
        if len(parts) == 4 and parts[3] in ("next", "prev", "next_incorrect", "prev_incorrect"):
            return None  # redirects to another view
        return SUBMISSION_FILE_POLICY  # /formgrader/submissions/<id>/<file of the submission>
    if parts[0] in FILE_ROUTES and _course_folders(settings) & set(parts[1:]):
        return SUBMISSION_FILE_POLICY
    return None


#: Folders whose files a student put there (or a plain `nbgrader autograde` copied from the
#: submission): feedback/ is left out, since its pages are the course's own, sanitised and
#: carrying a no-script policy of their own.
STUDENT_FILE_FOLDERS = frozenset({"submitted", "autograded"})
#: Files that JupyterLab's HTML viewer runs once its "Trust HTML" is pressed.
ACTIVE_SUFFIXES = (".html", ".htm", ".xhtml", ".svg")


def refuses_contents(path: str, base_url: str, settings) -> bool:
    """Whether the contents API must not hand out this file's content.

    JupyterLab opens an .html file through /api/contents (JSON) and shows it in an iframe
    of its own; after "Trust HTML" its scripts run on the instructor's origin, and the
    header policy of the JSON response never reaches that frame. So the server does not
    give the content of an HTML or SVG file that a student put on disk: the file still
    lists, and /files/ serves it under SUBMISSION_FILE_POLICY (where nothing runs).
    """
    path = unquote(path)
    if not path.startswith(base_url):
        return False
    parts = [part for part in path[len(base_url) :].split("/") if part]
    folders = set(STUDENT_FILE_FOLDERS)
    formgrader = settings.get("nbgrader_formgrader")
    if formgrader is not None:
        folders |= {formgrader.coursedir.submitted_directory, formgrader.coursedir.autograded_directory}
    return (
        parts[:2] == ["api", "contents"]
        and bool(folders & set(parts[2:-1]))
        and parts[-1].lower().endswith(ACTIVE_SUFFIXES)
    )


REFUSED_CONTENTS = json.dumps(
    {
        "message": "the course's server does not open a student's HTML or SVG file in JupyterLab: "
        "its scripts would run as you. Open it through /files/, where nothing runs.",
        "reason": "Forbidden",
    }
).encode()


def _submission_policy_transform(base_url: str, settings):
    """A tornado output transform that puts this module's policies on responses."""
    from tornado.web import OutputTransform

    class SubmissionPolicy(OutputTransform):
        def __init__(self, request):
            self.path = request.path
            self.reading = request.method == "GET" and request.query_arguments.get("content", [b"1"]) != [b"0"]
            self.refused = False

        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            if self.reading and status_code == 200 and refuses_contents(self.path, base_url, settings):
                headers["Content-Type"] = "application/json; charset=UTF-8"
                if "Content-Length" in headers:
                    headers["Content-Length"] = str(len(REFUSED_CONTENTS))
                headers.pop("Etag", None)
                self.refused = True
                return 403, headers, REFUSED_CONTENTS
            policy = policy_for(self.path, base_url, settings)
            if policy == VIEW_FALLBACK_POLICY:
                # The view's handler set the exact policy: keep it; otherwise the fallback.
                if not headers.get("Content-Security-Policy", "").startswith(_VIEW_POLICY_START):
                    headers["Content-Security-Policy"] = policy
            elif policy is not None:
                headers["Content-Security-Policy"] = policy  # replaces Jupyter's "sandbox allow-scripts"
            return status_code, headers, chunk

        def transform_chunk(self, chunk, finishing):
            return b"" if self.refused else chunk  # nothing of a refused file, however it is sent

    return SubmissionPolicy


class _PageScripts(HTMLParser):
    """The scripts a page runs: external script URLs, inline scripts, event handlers."""

    # What browsers run as script; any other type (JSON, MathJax config) is data.
    SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module", "text/ecmascript"}

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._text: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.handlers += [value for name, value in attrs if name.startswith("on") and value]
        if tag == "script" and (attributes.get("type") or "").strip().lower() in self.SCRIPT_TYPES:
            if attributes.get("src"):
                self.sources.append(attributes["src"])
            else:
                self._text = []

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._text is not None:
            self.inline.append("".join(self._text))
            self._text = None


def _hash_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def view_policy(template_page: str, page_url: str) -> str:
    """The policy for a formgrader view whose template, rendered without any notebook
    content, is ``template_page``: exactly its scripts may run.

    Its external scripts are allowed by exact URL when they come from this server (a
    student's file is served from this server too, but never at these URLs); its
    inline scripts and event handlers by hash. Off-server scripts (MathJax) are not.
    """
    scripts = _PageScripts(template_page)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(page_url))
    urls = sorted(
        {
            url
            for url in (urljoin(page_url, src).split("?")[0] for src in scripts.sources)
            if url.startswith(origin + "/")
        }
    )
    hashes = sorted({_hash_source(text) for text in scripts.inline + scripts.handlers})
    script_src = " ".join(urls + hashes + (["'unsafe-hashes'"] if scripts.handlers else [])) or "'none'"
    return "; ".join(
        [
            f"{_VIEW_POLICY_START} {script_src}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",  # nbgrader's scripts save grades and comments
            "base-uri 'none'",
            "form-action 'none'",
            "object-src 'none'",
            "frame-ancestors 'self'",  # JupyterLab shows the formgrader in a frame
        ]
    )


def _submission_view_handler():
    """nbgrader's SubmissionHandler, sending the view with view_policy."""
    import nbformat
    from nbgrader.server_extensions.formgrader.handlers import SubmissionHandler
    from tornado import web

    class _TemplateRecorder:
        """Stands in for the formgrader's exporter: renders the page as nbgrader does,
        and renders it again for an empty notebook (the template alone)."""

        def __init__(self, exporter):
            self.exporter = exporter
            self.template_page: str | None = None

        def from_filename(self, filename, resources=None, **kw):
            page = self.exporter.from_filename(filename, resources=dict(resources or {}), **kw)
            empty = nbformat.v4.new_notebook()
            self.template_page, _ = self.exporter.from_notebook_node(empty, resources=dict(resources or {}))
            return page

    class SubmissionViewHandler(SubmissionHandler):
        def prepare(self):
            if "nbgrader_formgrader" not in self.settings:
                raise web.HTTPError(404)  # the formgrader is not loaded
            return super().prepare()

        @property
        def exporter(self):
            self._recorder = _TemplateRecorder(self.settings["nbgrader_exporter"])
            return self._recorder

        def get(self, submission_id):
            self._recorder = None
            super().get(submission_id)
            recorder = self._recorder
            if recorder is not None and recorder.template_page is not None:
                self.set_header("Content-Security-Policy", view_policy(recorder.template_page, self.request.full_url()))

    return SubmissionViewHandler


def _jupyter_server_extension_points():
    return [{"module": "autograder.safe_html"}]


def _load_jupyter_server_extension(serverapp):
    """Put the policies on the course's server (``make lab`` enables this extension)."""
    from jupyter_server.utils import url_path_join

    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.add_transform(_submission_policy_transform(base_url, web_app.settings))
    try:
        handler = _submission_view_handler()
    except ImportError:  # no nbgrader: no formgrader to protect
        handler = None
    if handler is not None:
        # Extensions load in name order, so this route comes before the formgrader's
        # own (nbgrader.server_extensions.formgrader) and serves its submission view.
        # Were it not so, the transform above would still give the view the fallback.
        web_app.add_handlers(".*$", [(url_path_join(base_url, r"/formgrader/submissions/([^/]+)/?"), handler)])
    serverapp.log.info("autograder.safe_html: submissions are served with a Content-Security-Policy")
