"""JupyterLab settings of the course, written into the running Python environment.

Run once per environment, by `make install` (tools/install.sh) and by hand on the conda
route (`python tools/lab_settings.py` with the environment active), so that both routes
give the same JupyterLab. Idempotent: running it again changes nothing.

- overrides.json (``<env>/share/jupyter/lab/settings/``), the defaults a user may still
  change in Settings:
  - the widget manager saves widget state with the notebook, so tqdm's progress bars
    still show after a notebook is saved and opened again (without it: "Error displaying
    widget: model not found");
  - no Jupyter news toast and no update check (no request to the internet);
  - a Markdown file opens rendered, so the course's start page (README.md) reads as a page.
- nbgrader's exchange-based pieces (assignment list, course list) off: a learner works
  without an exchange, and they would only show errors. Validate and the instructor's
  formgrader stay.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

OVERRIDES = {
    "@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True},
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Markdown Preview"}},
}
LAB_EXTENSIONS_OFF = ["@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:course-list"]
SERVER_EXTENSIONS_OFF = [
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
]


def overrides_file(prefix: Path = Path(sys.prefix)) -> Path:
    return prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def write_overrides(path: Path) -> dict:
    """Merge the course's settings into overrides.json, keeping any others found there."""
    current = json.loads(path.read_text()) if path.is_file() else {}
    for plugin, settings in OVERRIDES.items():
        current.setdefault(plugin, {}).update(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2) + "\n")
    return current


def main() -> int:
    path = overrides_file()
    write_overrides(path)
    print(f"JupyterLab settings: {path}")
    jupyter = Path(sys.executable).with_name("jupyter")
    for name in LAB_EXTENSIONS_OFF:
        subprocess.run(
            [str(jupyter), "labextension", "disable", "--level=sys_prefix", name], check=True, capture_output=True
        )
    for name in SERVER_EXTENSIONS_OFF:
        subprocess.run(
            [str(jupyter), "server", "extension", "disable", "--sys-prefix", name], check=True, capture_output=True
        )
    print("nbgrader's exchange pieces (assignment list, course list) disabled; Validate and the formgrader kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
