"""The book runner: list the chapters and execute them into ``build/`` as ``.ipynb`` notebooks."""

from __future__ import annotations

import json
import os
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
        self.cell_began: tuple[int, str, float] | None = None  # the running cell: number, first line, start
        self.timings: list[dict] = []  # each finished code cell: number, first line, seconds

    def cell_started(self, cell, cell_index: int, **_) -> None:
        """Print ``cell 3/14, 0:45 elapsed: <the cell's first line>``."""
        number = self.code_cell_numbers.get(cell_index, "?")
        first_line = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
        if len(first_line) > 60:
            first_line = first_line[:57] + "..."
        self.cell_began = (number, first_line, time.perf_counter())
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

    def cell_finished(self, **_) -> None:
        """At the end of a cell: print what is left of unfinished lines, and note the cell's time."""
        self.finish_streams()
        if self.cell_began is not None:
            number, first_line, began = self.cell_began
            self.timings.append({"cell": number, "source": first_line, "seconds": round(time.perf_counter() - began, 1)})
            self.cell_began = None

    def slowest(self, count: int = 5) -> list[dict]:
        """The ``count`` slowest cells so far, slowest first."""
        return sorted(self.timings, key=lambda t: -t["seconds"])[:count]

    def finish_streams(self, **_) -> None:
        """Print what is left of unfinished lines."""
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


def execute_chapter(path: Path, cell_timeout: int = 3600, output: Path | None = None) -> Path:
    """Execute one chapter with the current environment into ``output`` (default
    ``build/NN_slug.ipynb``).

    The kernel's working directory is ``chapters/``. While it runs, the progress of each code cell
    and the cells' printed output are echoed to stdout (see :class:`ProgressEcho`); at the end, its
    slowest cells with their times (also written beside the notebook as ``.timings.json``: where
    the chapter's time goes). If a cell fails, the notebook is still written (up to the failing
    cell) and the error is raised.

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
    output = output or build_dir() / f"{path.stem}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    client = EchoingClient(
        notebook,
        km=_current_python_kernel(),
        timeout=cell_timeout,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # nbclient shuts down only a kernel whose manager it made itself; this one is made for this
    # chapter alone, so it goes too (else `dlbook run all` kept every finished chapter's kernel,
    # 1-2 GB each, and `run all` on two backends at once ran out of memory).
    client.owns_km = True
    echo = client.echo = ProgressEcho([i for i, cell in enumerate(notebook.cells) if _will_run(client, cell)])
    client.on_cell_execute = echo.cell_started
    client.on_cell_executed = echo.cell_finished
    try:
        with open(kernel_log_path(output), "w") as kernel_log:
            client.execute(stdout=kernel_log, stderr=subprocess.STDOUT)
    finally:
        echo.finish_streams()
        nbformat.write(notebook, output)
        timings = {"total_seconds": round(time.perf_counter() - echo.started, 1), "cells": echo.timings}
        output.with_suffix(".timings.json").write_text(json.dumps(timings, indent=1), encoding="utf-8")
        print(format_slowest(echo.slowest(), timings["total_seconds"]), flush=True)
    return output


def format_slowest(slowest: list[dict], total_seconds: float) -> str:
    """The slowest cells as lines: ``cell 7  2:31  43 %  model.fit(...``."""
    lines = [f"    slowest cells (of {_clock(total_seconds)} in all):"]
    for timing in slowest:
        share = timing["seconds"] / total_seconds if total_seconds else 0.0
        lines.append(f"      cell {timing['cell']:>3}  {_clock(timing['seconds']):>7}  {share:4.0%}  {timing['source']}")
    return "\n".join(lines)


def kernel_log_path(output: Path) -> Path:
    """Where :func:`execute_chapter` keeps the terminal output of the kernel that wrote ``output``."""
    return output.with_suffix(".kernel.log")


def _will_run(client, cell) -> bool:
    """Whether nbclient executes ``cell``: a code cell with some source, not tagged to be skipped."""
    tags = cell.metadata.get("tags", [])
    return cell.cell_type == "code" and bool(cell.source.strip()) and client.skip_cells_with_tag not in tags


def seed_output(path: Path, seed: int) -> Path:
    """Where a run of chapter ``path`` with ``seed`` goes when it is not the first of several seeds:
    ``build/seeds/NN_slug-seed1.ipynb`` (the first seed's run is ``build/NN_slug.ipynb``)."""
    return build_dir() / "seeds" / f"{path.stem}-seed{seed}.ipynb"


def run_chapters(paths: list[Path], seeds: list[int] | None = None) -> list[tuple[Path, int | None, str | None]]:
    """Execute chapters one after another, each once per seed of ``seeds`` (``$DLBOOK_SEED`` set
    for its kernel; None: once, with the environment's seed). Returns ``(path, seed, error or
    None)`` for each run. The first seed's notebook is ``build/NN_slug.ipynb``, the others'
    :func:`seed_output`; ``record_result`` keeps every seed's result apart."""
    outcomes = []
    saved_seed = os.environ.get("DLBOOK_SEED")
    try:
        for path in paths:
            for index, seed in enumerate(seeds or [None]):
                label = "" if seed is None else f" (seed {seed})"
                print(f"==> {path.name}{label}: {chapter_title(path)}", flush=True)
                if seed is not None:
                    os.environ["DLBOOK_SEED"] = str(seed)
                output = build_dir() / f"{path.stem}.ipynb" if index == 0 else seed_output(path, seed)
                outcomes.append((path, seed, _run_one(path, output)))
    finally:
        if saved_seed is None:
            os.environ.pop("DLBOOK_SEED", None)
        else:
            os.environ["DLBOOK_SEED"] = saved_seed
    return outcomes


def _run_one(path: Path, output: Path) -> str | None:
    start = time.perf_counter()
    try:
        execute_chapter(path, output=output)
    except Exception as error:  # noqa: BLE001 - report and go on with the next chapter
        summary = str(error).strip().splitlines()
        message = summary[-1] if summary else type(error).__name__
        print(f"    FAILED after {time.perf_counter() - start:.0f} s: {message}\n"
              f"    (the kernel's own output, e.g. why it died: {kernel_log_path(output)})", flush=True)
        return message
    print(f"    done in {time.perf_counter() - start:.0f} s -> {output}", flush=True)
    return None
