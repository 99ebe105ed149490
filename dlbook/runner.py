"""The book runner: list the chapters and execute them into ``build/`` as ``.ipynb`` notebooks."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from dlbook.paths import build_dir, chapters_dir


def chapter_files() -> list[Path]:
    """The chapter notebooks, ``chapters/NN_slug.md``, in order."""
    return sorted(chapters_dir().glob("[0-9][0-9]_*.md"))


def chapter_title(path: Path) -> str:
    """The first level-1 heading of a chapter."""
    return first_heading(path.read_text(encoding="utf-8"), default=path.stem)


def first_heading(markdown: str, default: str) -> str:
    """The first level-1 heading (``# Title``) of Markdown text, or ``default`` if it has none."""
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return default


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
    """A kernel manager that runs this very interpreter, whatever kernelspecs are installed.

    It is the asynchronous manager that nbclient uses by default: nbclient checks from inside its
    event loop, every second, that the kernel is alive, and the blocking ``KernelManager`` cannot
    answer from there, so a kernel that died (killed, out of memory) left ``dlbook run`` waiting
    for ever instead of reporting it.
    """
    import ipykernel.kernelspec
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class CurrentPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict())

    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=CurrentPython())


def _clock(seconds: float) -> str:
    """``seconds`` as ``m:ss`` (or ``h:mm:ss``), for progress lines."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressEcho:
    """Prints a chapter's progress while it runs: which code cell of how many, the time since the
    start, and the text the cells write to stdout and stderr, indented, one line at a time.

    :func:`execute_chapter` connects it to nbclient's hooks; it prints to ``sys.stdout`` and
    flushes each line, so ``dlbook run`` shows a 30-minute chapter as it goes.
    """

    CELL_INDENT = " " * 4
    OUTPUT_INDENT = " " * 6

    def __init__(self, code_cell_indices: list[int]):
        self.code_cell_numbers = {index: number for number, index in enumerate(code_cell_indices, start=1)}
        self.started = time.perf_counter()
        self.pending = {}  # stream name ("stdout", "stderr") -> the unfinished last line

    def cell_started(self, cell, cell_index: int, **_) -> None:
        """Print ``cell 3/14, 0:45 elapsed: <the cell's first line>``."""
        number = self.code_cell_numbers.get(cell_index, "?")
        first_line = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
        if len(first_line) > 60:
            first_line = first_line[:57] + "..."
        elapsed = _clock(time.perf_counter() - self.started)
        self._print(f"{self.CELL_INDENT}cell {number}/{len(self.code_cell_numbers)}, {elapsed} elapsed: {first_line}")

    def stream_text(self, name: str, text: str) -> None:
        """Print the finished lines of a chunk of stream text; keep an unfinished one for later.

        Progress bars redraw a line with carriage returns and backspaces; only what the line
        finally shows is printed.
        """
        buffer = (self.pending.get(name, "") + text).replace("\r\n", "\n").replace("\b", "")
        *lines, unfinished = buffer.split("\n")
        # Of a line being redrawn, the last two drawings suffice (the last may still be empty).
        self.pending[name] = "\r".join(unfinished.split("\r")[-2:])
        for line in lines:
            self._print_output_line(line)

    def finish_streams(self, **_) -> None:
        """Print what is left of unfinished lines (at the end of a cell)."""
        for name in list(self.pending):
            unfinished = self.pending.pop(name)
            if unfinished:
                self._print_output_line(unfinished)

    def _print_output_line(self, line: str) -> None:
        shown = next((part for part in reversed(line.split("\r")) if part), "")
        self._print(f"{self.OUTPUT_INDENT}{shown}".rstrip())

    @staticmethod
    def _print(line: str) -> None:
        print(line, file=sys.stdout, flush=True)


def execute_chapter(path: Path, cell_timeout: int = 3600) -> Path:
    """Execute one chapter with the current environment into ``build/NN_slug.ipynb``.

    The kernel's working directory is ``chapters/``. While it runs, the progress of each code cell
    and the cells' printed output are echoed to stdout (see :class:`ProgressEcho`). If a cell
    fails, the notebook is still written (up to the failing cell) and the error is raised.

    The kernel process's own terminal output goes to ``build/NN_slug.kernel.log``: ipykernel
    copies what libraries write to file descriptors 1 and 2 (TensorFlow's C++ log, say) both into
    the cells' output, which is echoed, and to its terminal, which would print it twice. The log
    keeps what a crashing kernel says last.
    """
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    class EchoingClient(NotebookClient):
        """nbclient's client, also handing the text of each stream message to its ``echo``."""

        echo: ProgressEcho

        def output(self, outs, msg, display_id, cell_index):
            if msg["msg_type"] == "stream":
                self.echo.stream_text(msg["content"]["name"], msg["content"]["text"])
            return super().output(outs, msg, display_id, cell_index)

    notebook = jupytext.read(path)
    output = build_dir() / f"{path.stem}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    client = EchoingClient(
        notebook,
        km=_current_python_kernel(),
        timeout=cell_timeout,
        resources={"metadata": {"path": str(path.parent)}},
    )
    echo = client.echo = ProgressEcho([i for i, cell in enumerate(notebook.cells) if _will_run(client, cell)])
    client.on_cell_execute = echo.cell_started
    client.on_cell_executed = echo.finish_streams
    try:
        with open(kernel_log_path(path), "w") as kernel_log:
            client.execute(stdout=kernel_log, stderr=subprocess.STDOUT)
    finally:
        echo.finish_streams()
        nbformat.write(notebook, output)
    return output


def kernel_log_path(path: Path) -> Path:
    """Where :func:`execute_chapter` keeps the terminal output of chapter ``path``'s kernel."""
    return build_dir() / f"{path.stem}.kernel.log"


def _will_run(client, cell) -> bool:
    """Whether nbclient executes ``cell``: a code cell with some source, not tagged to be skipped."""
    tags = cell.metadata.get("tags", [])
    return cell.cell_type == "code" and bool(cell.source.strip()) and client.skip_cells_with_tag not in tags


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
            print(f"    FAILED after {time.perf_counter() - start:.0f} s: {message}\n"
                  f"    (the kernel's own output, e.g. why it died: {kernel_log_path(path)})", flush=True)
            outcomes.append((path, message))
        else:
            print(f"    done in {time.perf_counter() - start:.0f} s -> {output}", flush=True)
            outcomes.append((path, None))
    return outcomes
