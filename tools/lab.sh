#!/usr/bin/env bash
# Starts JupyterLab on the course, the same way on both routes: `make lab` runs it with
# .venv/bin first on PATH; on the conda route run `bash tools/lab.sh` with the environment
# active. Arguments are passed on to `jupyter lab` (e.g. --no-browser --port 8899).
#
# - the server's root is the course (nbgrader's Validate and formgrader find
#   nbgrader_config.py there); it opens on README.md, rendered (tools/lab_settings.py);
# - notebooks are served with this Python's language_info (course/jupyterlab.py), so that a
#   lesson is not marked modified as soon as its kernel starts;
# - JupyterLab's terminal runs tools/terminal.bashrc: `python` there is this environment's,
#   whatever a login profile or ~/.bashrc does to PATH;
# - in the instructor's clone (not the student bundle, which has no autograder/), the
#   extension that keeps a student's HTML inert in the formgrader and JupyterLab;
# - JupyterLab refuses to run as root (containers, CI) unless told to.
set -euo pipefail
tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The course: the folder above tools/, unless COURSE_ROOT names another (a copy of the course).
root=${COURSE_ROOT:-$(dirname "$tools")}
jupyter=$(command -v jupyter) || {
    echo "error: no jupyter on PATH: run \`make lab\`, or activate the course's environment first" >&2
    exit 1
}
export COURSE_ENV_BIN
COURSE_ENV_BIN=$(dirname "$jupyter")

# course.jupyterlab: a lesson does not show as modified as soon as its kernel starts.
args=(--ServerApp.root_dir="$root" --LabApp.default_url=/lab/tree/README.md
      --ServerApp.contents_manager_class=course.jupyterlab.CourseContentsManager)
if command -v bash >/dev/null 2>&1; then
    args+=("--ServerApp.terminado_settings=shell_command=$(command -v bash) --rcfile '$tools/terminal.bashrc' -i")
fi
if [ -f "$tools/../autograder/safe_html.py" ]; then
    args+=(--ServerApp.jpserver_extensions=autograder.safe_html=True)
fi
if [ "$(id -u)" = 0 ]; then
    args+=(--allow-root)
fi
exec "$jupyter" lab "${args[@]}" "$@"
