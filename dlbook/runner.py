"""The book runner: list the chapters and execute them into ``build/`` as ``.ipynb`` notebooks."""

from __future__ import annotations

import re
import time
from pathlib import Path

from dlbook.paths import build_dir, chapters_dir


def chapter_files() -> list[Path]:
    """The chapter notebooks, ``chapters/NN_slug.md``, in order."""
    return sorted(chapters_dir().glob("[0-9][0-9]_*.md"))


def chapter_title(path: Path) -> str:
    """The first level-1 heading of a chapter."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def find_chapter(number: str | int) -> Path:
    """The chapter whose file starts with the two-digit ``number`` (``3``, ``"03"`` or ``"03_bike"``)."""
    match = re.match(r"\d+", str(number))
    prefix = f"{int(match.group()):02d}_" if match else None
    for path in chapter_files():
        if prefix and path.name.startswith(prefix):
            return path
    available = ", ".join(p.name[:2] for p in chapter_files())
    raise FileNotFoundError(f"No chapter {number!r}. Available chapters: {available} (see `dlbook list`).")


def _current_python_kernel():
    """A kernel manager that runs this very interpreter, whatever kernelspecs are installed."""
    import ipykernel.kernelspec
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class CurrentPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict())

    return KernelManager(kernel_name="python3", kernel_spec_manager=CurrentPython())


def execute_chapter(path: Path, cell_timeout: int = 3600) -> Path:
    """Execute one chapter with the current environment into ``build/NN_slug.ipynb``.

    The kernel's working directory is ``chapters/``. If a cell fails, the notebook is still
    written (up to the failing cell) and the error is raised.
    """
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    notebook = jupytext.read(path)
    output = build_dir() / f"{path.stem}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        notebook,
        km=_current_python_kernel(),
        timeout=cell_timeout,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    finally:
        nbformat.write(notebook, output)
    return output


def run_chapters(paths: list[Path]) -> list[tuple[Path, str | None]]:
    """Execute chapters one after another; returns ``(path, error or None)`` for each."""
    outcomes = []
    for path in paths:
        print(f"==> {path.name}: {chapter_title(path)}", flush=True)
        start = time.perf_counter()
        try:
            output = execute_chapter(path)
        except Exception as error:  # noqa: BLE001 - report and go on with the next chapter
            summary = str(error).strip().splitlines()
            message = summary[-1] if summary else type(error).__name__
            print(f"    FAILED after {time.perf_counter() - start:.0f} s: {message}", flush=True)
            outcomes.append((path, message))
        else:
            print(f"    done in {time.perf_counter() - start:.0f} s -> {output}", flush=True)
            outcomes.append((path, None))
    return outcomes
