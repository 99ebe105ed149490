"""JupyterLab for readers: a double click on ``chapters/NN_slug.md`` opens the notebook.

JupyterLab opens a ``.md`` file in its text editor unless told otherwise, and greets a new user
with a popup asking about Jupyter news. ``make lab`` runs :func:`install_lab_settings` first,
which writes JupyterLab's default-setting overrides into the project's environment (never the
user's home): jupytext's own ``set-default-viewer`` (the "Jupytext Notebook" viewer for Markdown
and MyST files) and news off (no popup, no request to a news feed). JupyterLab reads them from
``<environment>/etc/jupyter/labconfig/default_setting_overrides.json``; a reader's own settings
still win over them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DOCUMENT_TYPES = ("markdown", "myst")
NEWS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def settings_file(prefix: Path | str | None = None) -> Path:
    """Where the overrides live in the environment at ``prefix`` (default: this Python's)."""
    return Path(prefix or sys.prefix) / "etc" / "jupyter" / "labconfig" / "default_setting_overrides.json"


def install_lab_settings(prefix: Path | str | None = None) -> Path:
    """Write (or update) the overrides of the environment at ``prefix``; returns the file."""
    from jupytext_config.labconfig import LabConfig

    path = settings_file(prefix)
    config = LabConfig(settings_file=path).read()
    for doctype in DOCUMENT_TYPES:
        config.get_viewers()[doctype] = "Jupytext Notebook"  # set_default_viewer keeps an existing choice
    for plugin, values in NEWS.items():
        config.config.setdefault(plugin, {}).update(values)
    config.write()
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m dlbook.site.lab [PREFIX]``: install the settings, print where."""
    args = sys.argv[1:] if argv is None else argv
    path = install_lab_settings(args[0] if args else None)
    print(f"JupyterLab settings for dlbook: {path}")
    print(json.dumps(json.loads(path.read_text()), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
