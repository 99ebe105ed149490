"""The book's website: the executed chapters of ``build/`` as static HTML in ``build/html/``.

``make book`` executes the chapters into ``build/NN_slug.ipynb`` and ends with
:func:`build_site`; ``make html`` (``python -m dlbook.site.build``) re-renders without executing.

Why this design: nbconvert (already installed with Jupyter) turns each notebook into HTML with
its outputs; a small Jinja template (``dlbook/site/templates/``) adds the book around it — a
sidebar with the chapters and a search box, previous/next links, downloads, the results table
on the home page. Compared with Sphinx + myst-nb or Jupyter Book 2 (Node), it adds a few small
pure-Python dependencies and builds offline in seconds. Reading needs no internet either: math
is MathML converted at build time (:mod:`~dlbook.site.mathml`) and drawn with a bundled math font,
figures and sounds are light files beside the pages (:mod:`~dlbook.site.media`), the fonts are
cut down to the characters the book uses (:mod:`~dlbook.site.fonts`), search runs on a prebuilt
index (:mod:`~dlbook.site.search`). No page shows a path of the build machine
(:mod:`~dlbook.site.scrub`); :mod:`~dlbook.site.audit` checks that and the site's weight.

The site is made of **editions** (:mod:`~dlbook.site.editions`): the English one at the root of
the site, the Chinese one under ``zh/``, each with its own sources, page language and labels,
sharing the fonts, media and styles. A Chinese page shows the outputs of the English run, cell by
cell (one code, not executed twice); a chapter not translated yet has no Chinese page (the Chinese
home page lists it with a link to its English page), and every page links to the same page of
the other edition where there is one. With ``$DLBOOK_REPOSITORY_URL`` set (e.g.
``https://github.com/OWNER/dlbook``), each chapter also links to its source in the repository
and opens in Colab or Kaggle from the notebooks of the site published on the ``gh-pages`` branch.

A chapter that failed still gets its page, showing where it stopped; the home page marks it.
A chapter not executed yet gets a page from its Markdown source (without outputs), marked too.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dlbook.paths import build_dir, project_root
from dlbook.results import load_results, summarize
from dlbook.runner import first_heading
from dlbook.site.editions import (
    EDITIONS,
    GLOSSARY_PAGE,
    Edition,
    glossary_source,
    merge_outputs,
    site_links,
)
from dlbook.site.notebook import MathErrors, notebook_body

TEMPLATES = Path(__file__).parent / "templates"
RUN_LINE = re.compile(r"dlbook: backend=(?P<backend>\S+) device=(?P<device>.+?) mode=(?P<mode>\S+) "
                      r"precision=(?P<precision>\S+)")
SECTION = re.compile(r'<h2 id="(?P<id>[^"]+)">(?P<title>.*?)<a class="anchor-link"')
DOWNLOADS = "_downloads"
PUBLISHED_BRANCH = "gh-pages"  # where the built site (and so its notebooks) is published
RUN_KEYS = ("mode", "backend", "device", "precision")


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
    results: list = field(default_factory=list)  # its records of the run shown (all seeds)

    @property
    def stem(self) -> str:
        return f"{self.number}_{self.slug}"

    @property
    def page(self) -> str:
        return f"{self.stem}.html"

    @property
    def status(self) -> str:
        """``ok``, ``failed``, ``missed`` (ran, but missed its target) or ``not run``."""
        if self.notebook is None:
            return "not run"
        if self.failure:
            return "failed"
        return "missed" if any(not r["passed"] for r in self.results) else "ok"


def chinese_title(markdown: str) -> str:
    """The book's chapter title from a chapter's ``**Book chapter:** 第5章 … (English)`` line (in the
    Chinese edition ``**书中章节:** 第5章 …，本版…``)."""
    match = re.search(r"\*\*(?:Book chapter|书中章节)[:：]\*\*\s*(.+?)(?:\s+\(|（|，|<br>|$)", markdown, re.MULTILINE)
    return match.group(1).strip() if match else ""


def load_notebook(chapter: Chapter, translated: bool = False):
    """The chapter's notebook: its executed one, else its source; in a ``translated`` edition, its
    source with the outputs of the executed (English) notebook (:func:`~dlbook.site.editions.merge_outputs`)."""
    import jupytext
    import nbformat

    if chapter.notebook is None:
        return jupytext.read(chapter.source)
    executed = nbformat.read(chapter.notebook, as_version=4)
    if not translated:
        return executed
    return merge_outputs(jupytext.read(chapter.source), executed, f"chapter {chapter.number} ({chapter.source})")


def find_chapters(build: Path, sources: list[Path], translated: bool = False) -> list[Chapter]:
    """The chapters: every source ``NN_slug.md`` and every executed ``build/NN_slug.ipynb`` (of a
    ``translated`` edition: every source, with the outputs of the executed notebook of its name)."""
    from dlbook.site.notebook import failure

    by_stem = {p.stem: p for p in sources}
    notebooks = {p.stem: p for p in build.glob("[0-9][0-9]_*.ipynb")}
    records = load_results(build / "results.json")
    chapters = []
    for stem in sorted(set(by_stem) if translated else set(by_stem) | set(notebooks)):
        chapter = Chapter(number=stem[:2], slug=stem[3:], title="", chinese_title="", source=by_stem.get(stem),
                          notebook=notebooks.get(stem))
        notebook = load_notebook(chapter, translated)
        first = "\n".join(c.source for c in notebook.cells[:3] if c.cell_type == "markdown")
        chapter.title, chapter.chinese_title = first_heading(first, stem), chinese_title(first)
        if chapter.notebook is not None:
            chapter.failure = failure(notebook)
            chapter.run = _run_settings(notebook)
            chapter.results = [r for r in records if r["chapter"] == chapter.number
                               and all(r.get(k) == chapter.run.get(k) for k in ("mode", "backend", "precision")
                                       if chapter.run.get(k))]
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


def results_table(records: list[dict]) -> dict:
    """The home page's results: the run settings shared by every record (stated once), those that
    differ (a column each), and one row per chapter and metric with its seeds summarized."""
    rows = summarize(records)
    for row in rows:  # the device is not part of a setting: the last record's
        row["device"] = row.get("device") or ""
    shared = {k: rows[0][k] for k in RUN_KEYS if rows and len({str(r[k]) for r in rows}) == 1}
    varying = [k for k in RUN_KEYS if k not in shared]
    for row in rows:
        row["value_text"] = f"{row['mean']:.4g}" + (f" ± {row['sd']:.2g}" if row["n"] > 1 else "")
        row["seeds_text"] = ", ".join(str(s) for s in row["seeds"]) if row["n"] <= 3 else f"{row['n']} seeds"
        baseline = row.get("baseline")
        row["baseline_text"] = f"{baseline['name']} {baseline['value']:.4g}" if baseline else "—"
        relation = "≥" if row["higher_is_better"] else "≤"
        row["target_text"] = "—" if row["target"] is None else f"{relation} {row['target']:.4g}"
        row["checked"] = row["target"] is not None or bool(baseline)
    rows.sort(key=lambda r: (r["chapter"], not r.get("headline"), r["metric"], *(str(r[k]) for k in varying)))
    return {"rows": rows, "shared": shared, "varying": varying}


def repository_links(url: str | None, chapter: Chapter, edition: Edition = EDITIONS[0]) -> dict:
    """Links to the chapter in the repository at ``url`` (``https://github.com/OWNER/REPO``, optionally
    ``/tree/BRANCH``): its source, and, on GitHub, Colab and Kaggle opening its published notebook
    (the one of ``edition``)."""
    if not url or chapter.source is None:
        return {}
    match = re.fullmatch(r"(?P<base>https?://(?P<host>[^/]+)/(?P<owner>[^/]+)/(?P<repo>[^/]+?))(?:\.git)?"
                         r"(?:/tree/(?P<branch>.+))?/?", url.strip())
    if not match:
        raise ValueError(f"DLBOOK_REPOSITORY_URL is a repository's web address, e.g. https://github.com/OWNER/dlbook; "
                         f"got {url!r}")
    base, branch = match["base"], match["branch"] or "main"
    root = project_root()
    source = chapter.source.resolve()
    path = source.relative_to(root.resolve()).as_posix() if root and source.is_relative_to(root.resolve()) \
        else f"{edition.sources}/{chapter.source.name}"
    links = {"view_source": f"{base}/blob/{branch}/{path}"}
    if match["host"].lower() == "github.com":
        notebook = f"{match['owner']}/{match['repo']}/blob/{PUBLISHED_BRANCH}/{edition.href(DOWNLOADS)}/{chapter.stem}.ipynb"
        links["colab"] = f"https://colab.research.google.com/github/{notebook}"
        links["kaggle"] = f"https://www.kaggle.com/kernels/welcome?src=https://github.com/{notebook}"
    return links


def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["seconds"] = lambda s: f"{s // 60:.0f} min {s % 60:02.0f} s" if s >= 60 else f"{s:.0f} s"
    env.filters["number"] = lambda v: f"{v:.4g}"
    return env


def _stylesheet(fonts: dict) -> str:
    from pygments.formatters import HtmlFormatter

    from dlbook.site.fonts import chinese_unicode_range

    def colours(style: str) -> str:
        rules = HtmlFormatter(style=style).get_style_defs(".highlight")
        return re.sub(r"^(\.highlight \{ )background: [^;]+;", r"\1", rules, flags=re.MULTILINE)  # ours: --code-bg

    faces = "\n".join([
        "/* Fonts cut down to the characters of the book (dlbook.site.fonts); SIL Open Font License 1.1. */",
        '@font-face { font-family: "dlbook Noto Sans SC"; src: url("%s") format("woff2"); font-display: swap;'
        % fonts["chinese"]["file"], f"  unicode-range: {chinese_unicode_range()}; }}",
        '@font-face { font-family: "dlbook Math"; src: url("%s") format("woff2"); font-display: swap; }'
        % fonts["math"]["file"], ""])
    return (faces + (TEMPLATES / "book.css").read_text(encoding="utf-8")
            + "\n/* Pygments: friendly (light), github-dark (dark) */\n" + colours("friendly")
            + "\n@media (prefers-color-scheme: dark) {\n" + colours("github-dark") + "\n}\n")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _write_downloads(folder: Path, chapter: Chapter, notebook) -> dict:
    """The chapter's notebook (executed, with its printed outputs but not its media: see
    :func:`~dlbook.site.media.light_notebook`) in ``folder``, as compact JSON; its link from the
    chapter's page. The Markdown source is not copied: the notebook holds the same text and code,
    and the repository (linked when ``DLBOOK_REPOSITORY_URL`` is set) has the source; both editions
    stay within the site's weight budget so."""
    import nbformat

    from dlbook.site.media import light_notebook

    folder.mkdir(parents=True, exist_ok=True)
    light = copy.deepcopy(notebook)
    light_notebook(light)
    compact = json.dumps(json.loads(nbformat.writes(light)), ensure_ascii=False, separators=(",", ":"))
    (folder / f"{chapter.stem}.ipynb").write_text(compact + "\n", encoding="utf-8")
    return {"notebook": f"{DOWNLOADS}/{chapter.stem}.ipynb"}


def _edition_sources(edition: Edition) -> list[Path]:
    root = project_root()
    return sorted((root / edition.sources).glob("[0-9][0-9]_*.md")) if root else []


def _alternates(edition: Edition, chapter: Chapter | None, editions: list) -> list[dict]:
    """Links from a page of ``edition`` to the same page in each other edition."""
    links = []
    for other, chapters in editions:
        if other is edition:
            continue
        page = "index.html" if chapter is None else next((c.page for c in chapters if c.stem == chapter.stem), None)
        if page:
            links.append({"name": other.name, "lang": other.lang, "href": edition.root + other.href(page)})
    return links


def build_site(build: Path | None = None, out: Path | None = None, sources: list[Path] | None = None,
               repository: str | None = None, translations: dict[str, list[Path]] | None = None) -> Path:
    """Render the executed chapters of ``build`` (default: ``build/``) into a static website in
    ``out`` (default: ``build/html``), every edition of :data:`~dlbook.site.editions.EDITIONS`;
    returns the path of its ``index.html``.

    ``sources`` are the first (English) edition's chapter Markdown files, ``translations`` those of
    the others by language (default for both: the checkout's; given ``sources`` only, the site has
    the first edition only). Each English chapter gets a page, from its executed notebook where there
    is one; each translated chapter a page with the outputs of that notebook. ``repository``
    (default: ``$DLBOOK_REPOSITORY_URL``) adds links to the repository. Raises ValueError naming
    every formula that does not convert to MathML (or a translated chapter whose code is not the
    executed one), FileNotFoundError if there is nothing to render.
    """
    import jupytext

    from dlbook.site import fonts, markup, search
    from dlbook.site.media import MediaStore

    build = Path(build) if build else build_dir()
    out = Path(out) if out else build / "html"
    repository = os.environ.get("DLBOOK_REPOSITORY_URL") if repository is None else repository
    if translations is None:
        translations = {} if sources is not None else {e.lang: _edition_sources(e) for e in EDITIONS[1:]}
    editions = []
    for edition in EDITIONS:
        edition_sources = (translations.get(edition.lang, []) if edition.translated
                           else list(sources) if sources is not None else _edition_sources(edition))
        chapters = find_chapters(build, edition_sources, translated=edition.translated)
        if chapters:
            editions.append((edition, chapters))
        elif edition is EDITIONS[0]:
            raise FileNotFoundError(f"No chapters to render: no {build}/NN_*.ipynb and no chapter sources. "
                                    "Run `make book` (or `dlbook run 02`) first.")
    static = out / "_static"
    static.mkdir(parents=True, exist_ok=True)
    store, env, pages, failures, scripts = MediaStore(out), _environment(), {}, [], []
    table = results_table(load_results(build / "results.json"))
    for edition, chapters in editions:
        folder, entries = out / edition.folder, []
        glossary = glossary_source(edition, chapters)
        common = {"edition": edition, "t": edition.labels, "root": edition.root, "chapters": chapters,
                  "glossary": GLOSSARY_PAGE if glossary else None}
        for position, chapter in enumerate(chapters):
            try:
                body, notebook, downloads = _chapter_body(chapter, edition, editions, store, folder)
            except MathErrors as errors:
                name = chapter.source.name if chapter.source else chapter.page
                failures += [f"chapter {chapter.number} ({name}): {error}" for error in errors.errors]
                continue
            heading = re.search(r"<h1 .*?</h1>", body, re.DOTALL)  # the chapter's title goes in the page header
            heading, body = (heading.group(), body.replace(heading.group(), "", 1)) if heading else ("", body)
            sections = [(m["id"], re.sub(r"<[^>]+>", "", m["title"])) for m in SECTION.finditer(body)]
            entries += search.index_entries(edition.href(chapter.page), f"{chapter.number} · {chapter.title}",
                                            notebook, body)
            results = [r for r in table["rows"] if r["chapter"] == chapter.number
                       and all(r[k] == chapter.run.get(k, r[k]) for k in ("mode", "backend", "precision"))]
            pages[(edition, folder / chapter.page)] = env.get_template("chapter.html.j2").render(
                **common, chapter=chapter, heading=heading, body=body, sections=sections, results=results,
                previous=chapters[position - 1] if position else None,
                next=chapters[position + 1] if position + 1 < len(chapters) else None,
                downloads=downloads, links=repository_links(repository, chapter, edition),
                alternates=_alternates(edition, chapter, editions))
        stems = {c.stem for c in chapters}
        untranslated = [{"chapter": c, "href": edition.root + c.page} for c in editions[0][1] if c.stem not in stems]
        pages[(edition, folder / "index.html")] = env.get_template("index.html.j2").render(
            **common, table=table, first=chapters[0], failed=[c for c in chapters if c.status == "failed"],
            alternates=_alternates(edition, None, editions), untranslated=untranslated)
        if glossary:
            body = site_links(notebook_body(jupytext.read(glossary), store, edition.root), glossary, editions, edition)
            pages[(edition, folder / GLOSSARY_PAGE)] = env.get_template("page.html.j2").render(
                **common, body=body, title=edition.labels["glossary"], alternates=[])
        scripts.append(search.write_index(static, edition.lang, entries))
    if failures:
        raise ValueError("formulas that do not convert to MathML (fix them in the chapter):\n" + "\n".join(failures))
    finished = {path: markup.code_lines(markup.mark_chinese(page, edition.lang))
                for (edition, path), page in pages.items()}
    used_fonts = fonts.write_fonts(static, [*finished.values(), *(s.read_text(encoding="utf-8") for s in scripts)])
    _write(static / "book.css", _stylesheet(used_fonts))
    shutil.copyfile(TEMPLATES / "book.js", static / "book.js")
    for path, page in finished.items():
        _write(path, page)
    store.remove_unused()
    _remove_stale(out, set(finished), scripts)
    return out / "index.html"


def _chapter_body(chapter: Chapter, edition: Edition, editions: list, store, folder: Path) -> tuple:
    """A chapter's page body (its links to other sources made links to pages), its notebook as
    rendered, and its downloads (written in ``folder``)."""
    from dlbook.site.notebook import mark_failure, static_widgets
    from dlbook.site.scrub import scrub_notebook

    notebook = load_notebook(chapter, edition.translated)
    scrub_notebook(notebook)
    static_widgets(notebook)
    downloads = _write_downloads(folder / DOWNLOADS, chapter, notebook)
    if chapter.failure:
        mark_failure(notebook, chapter.failure)
    body = notebook_body(notebook, store, edition.root, edition.labels["figure_alt"])
    if chapter.source is not None:
        body = site_links(body, chapter.source, editions, edition)
    return body, notebook, downloads


def _remove_stale(out: Path, pages: set[Path], scripts: list[Path]) -> None:
    """Delete what earlier builds left that this one did not write: chapter pages, downloads, indexes."""
    for folder in {page.parent for page in pages}:
        written = {p.name for p in pages if p.parent == folder}
        downloads = {f"{Path(name).stem}.ipynb" for name in written}
        for stale in [*folder.glob("[0-9][0-9]_*.html"), *(folder / DOWNLOADS).glob("*")]:
            if stale.name not in written and stale.name not in downloads:
                stale.unlink()
    for stale in (out / "_static").glob("search-*.js"):
        if stale not in scripts:
            stale.unlink()


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
