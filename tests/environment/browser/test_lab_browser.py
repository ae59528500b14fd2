"""The course in a real browser: a learner fills a stub of lesson 01 in JupyterLab,
sees its check go from a failure to OK and presses nbgrader's Validate; a saved progress
bar shows again when the notebook is reopened; an instructor finds the lesson in the
formgrader.

Screenshots of each step land in tests/artifacts/browser/ (git-ignored).
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.request
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import REPO_ROOT

pytestmark = pytest.mark.browser

LESSON = "lessons/01_fc_layers/fc_layers.ipynb"
STUB_SIGNATURE = "def affine_forward(x, W, b):"
STUB_BODY = "    # YOUR CODE HERE\n    raise NotImplementedError()"
# What a learner types in place of the stub's two lines; the return only where the
# cell does not already end in it (the lesson keeps it after the solution region).
ANSWER = "    out = x @ W + b\n    cache = (x, W)"
RETURN = "    return out, cache"
CHECK = "check.affine_forward(affine_forward)"

# Bounds on waits for the kernel: a run of the lesson's first cells imports torch;
# Validate executes the whole notebook, small training runs included.
RUN_TIMEOUT_MS = 90_000
VALIDATE_TIMEOUT_MS = 240_000


def test_learner_fills_a_stub_and_sees_check_and_validate(lab, page: Page, artifacts: Path):
    lesson_before = _sha256(REPO_ROOT / LESSON)
    stub_source = _cell_source(lab.root / LESSON, STUB_SIGNATURE)
    assert STUB_BODY in stub_source, "the stub no longer holds nbgrader's code stub"

    page.goto(lab.url(f"lab/tree/{LESSON}"))
    _wait_for_kernel_ready(page)
    page.screenshot(path=artifacts / "01-lesson-open.png")

    # Unfilled, the check fails with a message that says what to do.
    _run_all(page)
    check_output = _code_cell(page, exactly=CHECK).locator(".jp-OutputArea")
    expect(check_output).to_contain_text("affine_forward still raises NotImplementedError", timeout=RUN_TIMEOUT_MS)
    _wait_for_run_to_finish(page)
    _show(check_output, artifacts / "02-check-fails.png")

    # Filled through the editor, the check prints its OK line.
    answer = _filled(stub_source)
    stub = _code_cell(page, containing=STUB_SIGNATURE)
    _replace_source(page, stub, answer)
    _show(stub, artifacts / "03-stub-filled.png")
    _run_all(page)
    expect(check_output).not_to_contain_text("NotImplementedError", timeout=RUN_TIMEOUT_MS)
    expect(check_output).to_contain_text(re.compile(r"affine_forward\s+out\s.*\bOK\b"), timeout=RUN_TIMEOUT_MS)
    _wait_for_run_to_finish(page)
    _show(check_output, artifacts / "04-check-passes.png")

    # Validate saves the notebook and runs it from scratch: the filled stub's check is
    # no longer among the failures; the checks of the stubs left unfilled still are.
    page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate", exact=True).click()
    dialog = page.locator(".jp-Dialog").filter(has_text="Validation Results")
    expect(dialog).to_be_visible(timeout=VALIDATE_TIMEOUT_MS)
    page.screenshot(path=artifacts / "05-validate-result.png")
    message = dialog.locator("#validation-message")
    expect(message).to_contain_text("The following cell failed:")
    failed_cells = _failed_cell_sources(message)
    assert CHECK not in failed_cells
    assert any(source.startswith("check.") for source in failed_cells), failed_cells
    dialog.get_by_role("button", name="Ok").click()

    assert _cell_source(lab.root / LESSON, STUB_SIGNATURE) == answer, "the saved notebook lacks the answer"
    assert _sha256(REPO_ROOT / LESSON) == lesson_before, "the repository's lesson was modified"


def test_instructor_finds_lesson_in_formgrader(lab, page: Page, artifacts: Path):
    page.goto(lab.url("formgrader"))
    expect(page.get_by_role("heading", name="Manage Assignments")).to_be_visible()
    # The list is filled in by a request that creates the gradebook on first use.
    lesson = page.locator("#main-table .name").filter(has_text=re.compile(r"^\s*01_fc_layers\s*$"))
    listed = expect(lesson, "the formgrader does not list 01_fc_layers: see tests/artifacts/browser/lab-server.log")
    listed.to_have_count(1, timeout=30_000)
    page.screenshot(path=artifacts / "06-formgrader.png")


def test_a_lesson_opens_unmodified(lab, page: Page):
    """Opened, its kernel started, nothing typed: the lesson is not marked modified (the
    kernel's language_info used to differ from the committed one: course/jupyterlab.py)."""
    page.goto(lab.url(f"lab/tree/{LESSON}"))
    _wait_for_kernel_ready(page)
    tab = page.locator(".lm-TabBar-tab.jp-mod-current", has_text="fc_layers.ipynb")
    expect(tab).to_have_count(1)
    page.wait_for_timeout(2_000)  # the kernel's info arrives just after it is idle
    assert "jp-mod-dirty" not in (tab.get_attribute("class") or "")


def test_progress_bars_survive_save_and_reopen(lab, page: Page, artifacts: Path):
    """tqdm draws its bars as widgets. Saved without their state, a reopened notebook shows
    "Error displaying widget: model not found" in place of every bar; make lab's settings
    (tools/lab_settings.py: the widget manager's saveState) keep them."""
    name = "progress.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("from tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc='epochs'):\n    pass")
    ]
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, lab.root / name)

    page.goto(lab.url(f"lab/tree/{name}"))
    _wait_for_kernel_ready(page)
    _run_all(page)
    bar = page.locator(".jp-OutputArea .widget-hbox", has_text="epochs")  # tqdm: label, bar, counts
    expect(bar).to_have_count(1, timeout=RUN_TIMEOUT_MS)
    _wait_for_run_to_finish(page)
    page.keyboard.press("Control+s")
    expect(page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")).to_have_count(0, timeout=30_000)
    saved = json.loads((lab.root / name).read_text())
    assert saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"], "no widget state saved"

    # Reopened with a fresh kernel, which knows no widget models: only the saved state can
    # draw the bar.
    for session in json.loads(_api(lab, "api/sessions")):
        _api(lab, f"api/sessions/{session['id']}", method="DELETE")
    page.reload()
    _wait_for_kernel_ready(page)
    expect(bar).to_have_count(1, timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_text("Error displaying widget")).to_have_count(0)
    _show(bar, artifacts / "07-progress-bar-reopened.png")


# --------------------------------------------------------------------------- helpers


def _api(lab, path: str, method: str = "GET") -> bytes:
    request = urllib.request.Request(lab.url(path), method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def _cell_source(notebook: Path, signature: str) -> str:
    """The source of the one code cell of a notebook on disk that contains signature."""
    cells = json.loads(notebook.read_text())["cells"]
    sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    matches = [source for source in sources if signature in source]
    assert len(matches) == 1, f"expected one cell with {signature!r} in {notebook}, found {len(matches)}"
    return matches[0]


def _filled(stub_source: str) -> str:
    """The stub's source with a correct answer in place of nbgrader's code stub."""
    before, after = stub_source.split(STUB_BODY)
    answer = ANSWER if RETURN in after else f"{ANSWER}\n{RETURN}"
    return before + answer + after


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _code_cell(page: Page, *, exactly: str | None = None, containing: str | None = None) -> Locator:
    """The notebook's code cell whose source is (or contains) the given text.

    CodeMirror draws each line as a block of its own: the editor's text is the lines
    joined without newlines, so a one-line source matches exactly."""
    text = re.compile(rf"^{re.escape(exactly)}$") if exactly else containing
    editor = page.locator(".jp-InputArea-editor", has_text=text)
    return page.locator(".jp-Notebook .jp-CodeCell").filter(has=editor)


def _replace_source(page: Page, cell: Locator, source: str) -> None:
    """Types source over the cell's text, as a learner would with select-all and paste.

    insert_text sends the text as one input, so the editor's auto-indent and
    bracket-closing leave it as it is."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(source)
    page.keyboard.press("Escape")  # back to command mode, as after editing
    expect(cell.locator(".cm-content")).to_contain_text("cache = (x, W)")


def _run_all(page: Page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def _wait_for_kernel_ready(page: Page) -> None:
    """Waits for the status bar's "<kernel name> | Idle".

    Before the kernel is up it reads "No Kernel | Initializing" (the toolbar's execution
    indicator already says idle then)."""
    kernel_status = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"^(?!No Kernel).+ \| Idle$"))
    expect(kernel_status).to_be_visible(timeout=RUN_TIMEOUT_MS)


def _wait_for_run_to_finish(page: Page) -> None:
    """Waits until no cell is queued or running (prompt "[*]:"), then for an idle kernel.

    The kernel alone would not do: it goes idle for a moment between queued cells."""
    running = page.locator(".jp-Notebook .jp-InputPrompt", has_text="*")
    expect(running).to_have_count(0, timeout=RUN_TIMEOUT_MS)
    _wait_for_kernel_ready(page)


def _show(element: Locator, path: Path) -> None:
    """Screenshot of the whole window with element scrolled into view."""
    element.scroll_into_view_if_needed()
    element.page.screenshot(path=path)


def _failed_cell_sources(message: Locator) -> list[str]:
    """The sources of the cells Validate lists as failed.

    The dialog lists each failed cell as a paragraph, its source and its error, the
    last two each in a .jp-RenderedText block: sources are every other block."""
    blocks = message.locator(":scope > .jp-RenderedText pre").all_inner_texts()
    return [source.strip() for source in blocks[0::2]]
