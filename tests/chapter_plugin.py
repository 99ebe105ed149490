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

from dlbook.paths import absolutize_path_variables

CHAPTER_NAME = re.compile(r"\d\d_\w+\.md$")


def pytest_configure(config):
    # The test suite is for fast mode, on any device, unless the user asks for full mode.
    os.environ.setdefault("DLBOOK_MODE", "fast")
    # Kernels start in chapters/; relative DLBOOK_* paths given at the root must still resolve.
    absolutize_path_variables()


class JupytextNotebook(nbval.plugin.IPyNbFile):
    """nbval's notebook collector, reading the notebook with jupytext.

    With ``$DLBOOK_SAVE_EXECUTED`` set (CI sets it), the chapter is also saved with the outputs
    its cells produced, as ``build/NN_slug.ipynb`` like ``dlbook run`` writes it, so that the
    book's website (``make html``) is built from this run instead of executing the chapters twice.
    """

    def collect(self):
        real_nbformat = nbval.plugin.nbformat
        reader = types.SimpleNamespace(read=lambda path, as_version: jupytext.read(path, as_version=as_version))
        nbval.plugin.nbformat = reader
        self.cell_items = []
        try:
            for item in super().collect():
                self.cell_items.append(item)
                yield item
        finally:
            nbval.plugin.nbformat = real_nbformat

    def setup(self):
        if not os.environ.get("DLBOOK_SAVE_EXECUTED"):
            return super().setup()
        # Saved chapters show their figures: the kernel draws inline, as under `dlbook run`, not with
        # the MPLBACKEND=Agg that tests/conftest.py sets for this process (where plt.show() draws nothing).
        backend = os.environ.pop("MPLBACKEND", None)
        try:
            return super().setup()
        finally:
            if backend is not None:
                os.environ["MPLBACKEND"] = backend

    def teardown(self):
        try:
            if os.environ.get("DLBOOK_SAVE_EXECUTED"):
                self.save_executed()
        finally:
            super().teardown()

    def save_executed(self):
        """Write the notebook with the outputs of the cells that ran (cells that did not run keep
        no execution count, which the website shows as where the chapter stopped)."""
        import nbformat

        from dlbook.paths import build_dir

        count = 0
        for item in self.cell_items:
            item.cell.outputs = []
            item.cell.execution_count = None
            if item.test_outputs is not None:
                count += 1
                item.cell.outputs = list(item.test_outputs)
                item.cell.execution_count = count
        self.nb.metadata.setdefault("language_info", {"name": "python", "pygments_lexer": "ipython3"})
        output = build_dir() / f"{self.path.stem}.ipynb"
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(self.nb, output)


def pytest_collect_file(file_path, parent):
    option = parent.config.option
    if (option.nbval or option.nbval_lax) and file_path.parent.name == "chapters" and CHAPTER_NAME.match(file_path.name):
        return JupytextNotebook.from_parent(parent, path=file_path)
    return None
