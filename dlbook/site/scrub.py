"""No trace of the build machine in the book's website.

A chapter's outputs may name files of the machine that executed it (a model saved under the
checkout, a dataset in the mirror, a temporary folder of the test run, a traceback into the
virtual environment) and the model cache may print a lock message while a chapter waits for
another one. :func:`scrub_notebook` rewrites those outputs before a page (or the notebook a reader
downloads) is made from them: a path inside the checkout becomes relative to it (``data/models/…``),
the mirror ``$DLBOOK_MIRROR/…``, the environment ``.venv/…``, the home folder ``~``, a temporary
folder ``<tmp>``; lock and waiting messages are dropped. :func:`find_machine_paths` finds what is
left in the built site, which the site check reports.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path

# The model cache's and the results file's lock messages ("dlbook: waiting for … (another process holds its lock; …)").
LOCK_LINE = re.compile(r"^.*(dlbook: waiting for\b|another process holds its lock).*(\n|$)", re.MULTILINE)
TEMPORARY = re.compile(r"(?<![\w.~/-])(/tmp|/var/tmp|/private/var/folders|/dev/shm)(/[^\s'\"<>:;,()\[\]{}|]*)?")
TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "application/javascript")


def _forms(path: Path | str | None) -> list[str]:
    """The spellings of a folder as outputs may show it: as given and resolved, without a trailing slash."""
    if not path:
        return []
    path = Path(path).expanduser()
    forms = {str(path), str(path.resolve())} if path.is_absolute() else {str(path.resolve())}
    return [f.rstrip("/") for f in forms if f.rstrip("/") not in ("", "/")]


PATH_VARIABLES = ("DLBOOK_MIRROR", "DLBOOK_DATA", "DLBOOK_MODELS", "DLBOOK_BUILD", "HOME")


def machine_folders() -> tuple[tuple[str, str], ...]:
    """(folder, what a page shows instead) for the build machine's folders, longest first."""
    return _machine_folders(tuple(os.environ.get(name) for name in PATH_VARIABLES), os.getcwd())


@functools.cache
def _machine_folders(variables: tuple, cwd: str) -> tuple[tuple[str, str], ...]:
    from dlbook import paths

    root = paths.project_root()
    named = [(os.environ.get("DLBOOK_MIRROR"), "$DLBOOK_MIRROR"), (sys.prefix, ".venv")]
    for variable, function in (("DLBOOK_MODELS", paths.models_dir), ("DLBOOK_DATA", paths.data_dir),
                               ("DLBOOK_BUILD", paths.build_dir)):
        folder = function()
        inside = root is not None and folder.resolve().is_relative_to(root.resolve())
        named.append((None if inside else folder, f"${variable}"))
    named += [(root, "."), (Path.home(), "~")]
    pairs = {(form, shown) for folder, shown in named for form in _forms(folder)}
    return tuple(sorted(pairs, key=lambda pair: -len(pair[0])))


def scrub_text(text: str) -> str:
    """``text`` with the build machine's folders replaced (see the module's docstring)."""
    for folder, shown in machine_folders():
        if folder in text:
            text = re.sub(re.escape(folder) + r"(?=/|\b|$)(/)?",
                          lambda m, shown=shown: "" if shown == "." and m.group(1) else shown + (m.group(1) or ""),
                          text)
    return TEMPORARY.sub(_temporary, text)


def _temporary(match: re.Match) -> str:
    """A temporary path as ``<tmp>/FILE``: its folders say nothing to a reader."""
    name = (match.group(2) or "").rstrip("/").rsplit("/", 1)[-1]
    return f"<tmp>/{name}" if name else "<tmp>"


def scrub_notebook(notebook) -> None:
    """Rewrite the outputs of ``notebook`` (in place): no machine folders, no lock messages."""
    for cell in notebook.cells:
        outputs = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                output.text = scrub_text(LOCK_LINE.sub("", output.text))
                if not output.text:
                    continue
            elif output.output_type == "error":
                output.evalue = scrub_text(output.evalue)
                output.traceback = [scrub_text(line) for line in output.traceback]
            for mime in TEXT_MIMES:
                value = output.get("data", {}).get(mime)
                if isinstance(value, str):
                    output.data[mime] = scrub_text(value)
                elif isinstance(value, list):
                    output.data[mime] = [scrub_text(v) for v in value]
            outputs.append(output)
        if "outputs" in cell:
            cell.outputs = outputs


def find_machine_paths(text: str) -> list[str]:
    """The build machine's folders and lock messages that ``text`` still holds (at most five)."""
    found = [folder for folder, _ in machine_folders() if re.search(re.escape(folder) + r"(?=/|\b|$)", text)]
    found += [m.group(0)[:60] for m in TEMPORARY.finditer(text)]
    found += [m.group(0).strip()[:80] for m in LOCK_LINE.finditer(text)]
    return found[:5]
