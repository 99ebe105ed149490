"""The book's website: the executed chapters of ``build/`` as static HTML in ``build/html/``.

``make book`` executes the chapters into ``build/NN_slug.ipynb`` and ends with
:func:`build_site`; ``make html`` (``python -m dlbook.site.build``) re-renders without executing.

Why this design: nbconvert (already installed with Jupyter) turns each notebook into HTML with
its outputs; a small Jinja template (``dlbook/site/templates/``) adds the book around it — a
sidebar with the chapters, previous/next links, the results table on the home page. Compared
with Sphinx + myst-nb or Jupyter Book 2 (Node), it adds one small pure-Python dependency
(latex2mathml) and builds offline in seconds. Viewing needs no internet either: math is
converted to MathML at build time (browsers lay it out natively; no MathJax CDN), figures are
embedded as ``data:`` URIs, and Chinese text uses Noto Sans SC, the font that matplotlib already
gets from the package pylopdf-fonts-zh-cn, copied next to the pages (so a machine without a
Chinese system font still shows 中文). The folder can be opened from disk or served as is.

A chapter that failed still gets its page, showing where it stopped; the home page marks it.
A chapter not executed yet gets a page from its Markdown source (without outputs), marked too.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dlbook.paths import build_dir, project_root
from dlbook.results import load_results
from dlbook.runner import first_heading

TEMPLATES = Path(__file__).parent / "templates"
FONT_FILE = "NotoSansSC-Regular.otf"
RUN_LINE = re.compile(r"dlbook: backend=(?P<backend>\S+) device=(?P<device>.+?) mode=(?P<mode>\S+) "
                      r"precision=(?P<precision>\S+)")
SECTION = re.compile(r'<h2 id="(?P<id>[^"]+)">(?P<title>.*?)<a class="anchor-link"')


@dataclass
class Chapter:
    """One chapter of the site: its source, its executed notebook (if any) and how it ran."""

    number: str
    slug: str
    title: str
    chinese_title: str
    source: Path | None
    notebook: Path | None
    run: dict = field(default_factory=dict)  # backend, device, mode, precision, as the chapter printed them
    failure: dict | None = None  # {"cell", "error"} from dlbook.site.notebook.failure
    results: list = field(default_factory=list)

    @property
    def page(self) -> str:
        return f"{self.number}_{self.slug}.html"

    @property
    def status(self) -> str:
        """``ok``, ``failed``, ``missed`` (ran, but missed its target) or ``not run``."""
        if self.notebook is None:
            return "not run"
        if self.failure:
            return "failed"
        return "missed" if any(not r["passed"] for r in self.results) else "ok"


def chinese_title(markdown: str) -> str:
    """The book's chapter title from a chapter's ``**Book chapter:** 第5章 … (English)`` line."""
    match = re.search(r"\*\*Book chapter:\*\*\s*(.+?)(?:\s+\(|<br>|$)", markdown, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _read(notebook_path: Path | None, source: Path | None):
    import jupytext
    import nbformat

    if notebook_path is not None:
        return nbformat.read(notebook_path, as_version=4)
    return jupytext.read(source)


def find_chapters(build: Path, sources: list[Path]) -> list[Chapter]:
    """The chapters: every source ``NN_slug.md`` and every executed ``build/NN_slug.ipynb``."""
    from dlbook.site.notebook import failure

    by_stem = {p.stem: p for p in sources}
    notebooks = {p.stem: p for p in build.glob("[0-9][0-9]_*.ipynb")}
    records = load_results(build / "results.json")
    chapters = []
    for stem in sorted(set(by_stem) | set(notebooks)):
        notebook = _read(notebooks.get(stem), by_stem.get(stem))
        first = "\n".join(c.source for c in notebook.cells[:3] if c.cell_type == "markdown")
        chapter = Chapter(number=stem[:2], slug=stem[3:], title=first_heading(first, stem),
                          chinese_title=chinese_title(first), source=by_stem.get(stem),
                          notebook=notebooks.get(stem))
        if chapter.notebook is not None:
            chapter.failure = failure(notebook)
            chapter.run = _run_settings(notebook)
            chapter.results = [r for r in records if r["chapter"] == chapter.number
                               and all(r.get(k) == chapter.run.get(k) for k in ("mode", "backend"))]
        chapters.append(chapter)
    return chapters


def _run_settings(notebook) -> dict:
    """Backend, device, mode and precision from the line ``dlbook.setup()`` prints."""
    for cell in notebook.cells[:6]:
        for output in cell.get("outputs", []):
            match = RUN_LINE.search(output.get("text", ""))
            if match:
                return match.groupdict()
    return {}


def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["seconds"] = lambda s: f"{s // 60:.0f} min {s % 60:02.0f} s" if s >= 60 else f"{s:.0f} s"
    env.filters["number"] = lambda v: f"{v:.4g}"
    return env


def _stylesheet() -> str:
    from pygments.formatters import HtmlFormatter

    code_colours = HtmlFormatter(style="friendly").get_style_defs(".highlight")
    code_colours = re.sub(r"^\.highlight \{ background: [^;]+; \}$", "", code_colours, flags=re.MULTILINE)
    return (TEMPLATES / "book.css").read_text(encoding="utf-8") + "\n/* Pygments (friendly) */\n" + code_colours


def _copy_font(static: Path) -> None:
    from pylopdf_fonts_zh_cn import (
        sans_path,  # Noto Sans SC Regular, SIL Open Font License 1.1
    )

    font = Path(sans_path())
    target = static / FONT_FILE
    if not target.is_file() or target.stat().st_size != font.stat().st_size:
        shutil.copyfile(font, target)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def build_site(build: Path | None = None, out: Path | None = None, sources: list[Path] | None = None) -> Path:
    """Render the executed chapters of ``build`` (default: ``build/``) into a static website in
    ``out`` (default: ``build/html``); returns the path of its ``index.html``.

    ``sources`` are the chapters' Markdown files (default: ``chapters/*.md`` of the checkout);
    each gets a page, from its executed notebook where there is one.
    """
    from dlbook.site.notebook import mark_failure, notebook_body

    build = Path(build) if build else build_dir()
    out = Path(out) if out else build / "html"
    if sources is None:
        root = project_root()
        sources = sorted((root / "chapters").glob("[0-9][0-9]_*.md")) if root else []
    chapters = find_chapters(build, list(sources))
    if not chapters:
        raise FileNotFoundError(f"No chapters to render: no {build}/NN_*.ipynb and no chapter sources. "
                                "Run `make book` (or `dlbook run 02`) first.")
    static = out / "_static"
    static.mkdir(parents=True, exist_ok=True)
    _copy_font(static)
    _write(static / "book.css", _stylesheet())
    env = _environment()
    records = load_results(build / "results.json")
    for position, chapter in enumerate(chapters):
        notebook = _read(chapter.notebook, chapter.source)
        if chapter.failure:
            mark_failure(notebook, chapter.failure)
        body = notebook_body(notebook)
        heading = re.search(r"<h1 .*?</h1>", body, re.DOTALL)  # the chapter's title goes in the page header
        heading, body = (heading.group(), body.replace(heading.group(), "", 1)) if heading else ("", body)
        sections = [(m["id"], re.sub(r"<[^>]+>", "", m["title"])) for m in SECTION.finditer(body)]
        page = env.get_template("chapter.html.j2").render(
            chapter=chapter, chapters=chapters, heading=heading, body=body, sections=sections,
            previous=chapters[position - 1] if position else None,
            next=chapters[position + 1] if position + 1 < len(chapters) else None,
            source_link=_relative_link(chapter.source, out), notebook_link=_relative_link(chapter.notebook, out))
        _write(out / chapter.page, page)
    index = out / "index.html"
    _write(index, env.get_template("index.html.j2").render(
        chapters=chapters, records=records, first=chapters[0],
        failed=[c for c in chapters if c.status == "failed"]))
    return index


def _relative_link(path: Path | None, out: Path) -> str | None:
    if path is None:
        return None
    return Path(os.path.relpath(Path(path).resolve(), out.resolve())).as_posix()


def main(argv: list[str] | None = None) -> int:
    """``python -m dlbook.site.build [--build DIR] [--out DIR]``: render the site; 1 and a one-line error if it cannot."""
    parser = argparse.ArgumentParser(prog="python -m dlbook.site.build", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, help="the executed notebooks (default: $DLBOOK_BUILD or build/)")
    parser.add_argument("--out", type=Path, help="the site's folder (default: BUILD/html)")
    args = parser.parse_args(argv)
    try:
        index = build_site(args.build, args.out)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"the book's website: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
