"""pytest plugin: collect ``chapters/NN_*.md`` (jupytext Markdown) and run them with nbval.

nbval collects only ``.ipynb`` files. This plugin hands it the chapter Markdown files instead,
read in memory through jupytext (nothing is written next to the chapters), and nbval runs each
notebook in a kernel of the current environment whose working directory is ``chapters/``.
Loaded with ``-p tests.chapter_plugin`` (see ``pyproject.toml``).
"""

from __future__ import annotations

import os
import re
import types

import jupytext
import nbval.plugin
import pytest

from dlbook.paths import absolutize_path_variables

CHAPTER_NAME = re.compile(r"\d\d_\w+\.md$")


def pytest_configure(config):
    # The test suite is for fast mode, on any device, unless the user asks for full mode.
    os.environ.setdefault("DLBOOK_MODE", "fast")
    # Kernels start in chapters/; relative DLBOOK_* paths given at the root must still resolve.
    absolutize_path_variables()


class JupytextNotebook(nbval.plugin.IPyNbFile):
    """nbval's notebook collector, reading the notebook with jupytext."""

    def collect(self):
        real_nbformat = nbval.plugin.nbformat
        reader = types.SimpleNamespace(read=lambda path, as_version: jupytext.read(path, as_version=as_version))
        nbval.plugin.nbformat = reader
        try:
            yield from super().collect()
        finally:
            nbval.plugin.nbformat = real_nbformat


def pytest_collect_file(file_path, parent):
    option = parent.config.option
    if (option.nbval or option.nbval_lax) and file_path.parent.name == "chapters" and CHAPTER_NAME.match(file_path.name):
        return JupytextNotebook.from_parent(parent, path=file_path)
    return None
