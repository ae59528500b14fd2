# The start-up file of JupyterLab's terminal for this course (tools/lab.sh starts the
# terminal as `bash --rcfile THIS -i`). JupyterLab's default terminal is a login shell,
# and a login profile (or a ~/.bashrc that activates conda) resets PATH, so `python` there
# would not be the course's. Here the user's own start-up files run first, then the
# course's environment goes first on PATH.
[ -f /etc/bash.bashrc ] && . /etc/bash.bashrc
[ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"
if [ -n "${COURSE_ENV_BIN:-}" ]; then
    export PATH="$COURSE_ENV_BIN:$PATH"
    hash -r
fi
echo "python here is the course's ($(command -v python)). Score a lesson: python -m course check 01_fc_layers"
