"""JupyterLab's file service for the course (tools/lab.sh sets it as the contents manager).

A lesson is committed with a short ``language_info`` (``name``, ``pygments_lexer``: the rest
is stripped on commit, since it names the Python version of whoever saved it last). When a
kernel starts, JupyterLab writes the kernel's full ``language_info`` into the notebook, and
any difference marks the notebook modified: every lesson showed as changed right after it
was opened, before the learner typed anything. Serving a Python notebook with the
``language_info`` of this environment's Python (the one its kernel runs) leaves nothing to
change. The file on disk is untouched until the learner saves, as JupyterLab would write it.
"""

from __future__ import annotations

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager


def python_language_info() -> dict:
    """What ipykernel reports for this interpreter (name, version, mimetype, ...)."""
    from ipykernel.ipkernel import IPythonKernel

    return dict(IPythonKernel.language_info)


class CourseContentsManager(AsyncLargeFileManager):
    """JupyterLab's default file service, with Python notebooks' ``language_info`` completed."""

    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if content and model.get("type") == "notebook" and model.get("content") is not None:
            metadata = model["content"]["metadata"]
            info = metadata.get("language_info")
            if isinstance(info, dict) and info.get("name") == "python":
                metadata["language_info"] = {**info, **python_language_info()}
        return model
