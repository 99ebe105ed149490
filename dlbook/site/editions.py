"""The editions of the book's website: English at the site's root, Chinese under ``zh/``.

An :class:`Edition` is one language of the book: the folder of its chapter sources, its folder in
the site and its labels (the words of the navigation and of the page templates). The English
chapters are executed (``build/NN_slug.ipynb``); a translated edition is not executed a second
time: :func:`merge_outputs` gives each of its code cells the outputs of the same cell of the
English run (the code is the same: tests/test_editions.py checks it, and the merge checks it
again, comments aside). :func:`site_links` turns the links between chapter sources
(``../05_mnist_cnn.md``, ``GLOSSARY.md``) into links between the site's pages.
"""

from __future__ import annotations

import copy
import io
import posixpath
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

GLOSSARY = "GLOSSARY.md"  # the glossary of a translated edition (chapters/zh/GLOSSARY.md)
GLOSSARY_PAGE = "glossary.html"
LAYOUT = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)  # compared by type only
HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"#?:]+\.md)((?:#[^"]*)?")')


@dataclass(frozen=True, eq=False)
class Edition:
    """One language of the book: its chapter sources, its folder in the site and its labels."""

    lang: str  # the pages' language, e.g. "en" or "zh-CN"
    name: str  # as the language switch shows it
    sources: str  # its chapters' folder in the checkout
    folder: str  # its folder in the site ("" for the site's root)
    labels: dict

    @property
    def root(self) -> str:
        """The way from one of its pages back to the site's root (shared styles, fonts, media)."""
        return "../" * len(Path(self.folder).parts) if self.folder else ""

    @property
    def translated(self) -> bool:
        """A translation: rendered with the English run's outputs, not executed itself."""
        return bool(self.folder)

    def href(self, page: str) -> str:
        """``page`` of this edition as a path from the site's root."""
        return f"{self.folder}/{page}" if self.folder else page


ENGLISH_LABELS = {
    "book": "dlbook", "subtitle": "深度学习原理与PyTorch实战 · Keras 3 edition", "contents": "Contents",
    "search": "Search the book", "previous": "Previous", "next": "Next", "home": "Home",
    "home_title": "Contents and results", "start": "Start reading", "notebook": "Notebook (.ipynb)",
    "view_source": "View on GitHub", "colab": "Open in Colab",
    "kaggle": "Open in Kaggle", "copy": "Copy", "copied": "Copied", "no_results": "No section contains all of",
    "not_run_notebook": "Notebook (.ipynb, not executed)",
    "notebook_title": "The chapter as a notebook, with what its cells printed (its figures and sounds are on this page)",
    "page_title": "dlbook — 深度学习原理与PyTorch实战, the Keras 3 edition",
    "status": {"ok": "ok", "failed": "failed", "missed": "missed", "not run": "not run"},
    "mode": "{} mode", "target": "target", "not_executed": "not executed",
    "failed_banner": "This chapter failed to execute:", "failed_where": "Its outputs are shown up to",
    "failed_cell": "the cell where it stopped",
    "not_run_banner": "This chapter has not been executed in this build, so its outputs are missing. Run",
    "not_run_or": "(or", "not_run_end": ") to fill them in.",
    "chapters": "Chapters", "chapter_column": "chapter · 书中章节", "status_column": "status", "where": "where",
    "failed_chapters": "chapter(s) failed to execute in this build:", "failed_end": "Their pages show where they stopped.",
    "results": "Results", "no_results_yet": "No results recorded yet: run", "full_stop": ".", "yes": "yes", "no": "NO",
    "columns": {"chapter": "chapter", "metric": "metric", "value": "value", "seeds": "seeds", "baseline": "baseline",
                "target": "target", "ok": "ok", "time": "time"},
    "untranslated": "", "glossary": "Glossary",
    "figure_alt": ("Figure in the section \u201c{}\u201d", "Figure"),
}
CHINESE_LABELS = {
    "book": "dlbook", "subtitle": "深度学习原理与PyTorch实战 · Keras 3 版", "contents": "目录",
    "search": "搜索全书", "previous": "上一章", "next": "下一章", "home": "首页",
    "home_title": "目录与结果", "start": "开始阅读", "notebook": "笔记本 (.ipynb)",
    "view_source": "在 GitHub 上查看", "colab": "在 Colab 中打开",
    "kaggle": "在 Kaggle 中打开", "copy": "复制", "copied": "已复制", "no_results": "没有哪一节同时包含",
    "not_run_notebook": "笔记本 (.ipynb，未执行)",
    "notebook_title": "本章的笔记本，含各单元格打印的输出（图和声音在本页上）",
    "page_title": "dlbook — 深度学习原理与PyTorch实战 · Keras 3 版",
    "status": {"ok": "通过", "failed": "出错", "missed": "未达标", "not run": "未运行"},
    "mode": "{} 模式", "target": "目标", "not_executed": "未执行",
    "failed_banner": "本章执行出错：", "failed_where": "输出显示到", "failed_cell": "出错停下的单元格",
    "not_run_banner": "本章在这次构建中没有执行，所以没有输出。运行", "not_run_or": "（或",
    "not_run_end": "）即可补上。",
    "chapters": "章节", "chapter_column": "章节 · 书中章节", "status_column": "状态", "where": "出错处",
    "failed_chapters": "章在这次构建中执行出错：", "failed_end": "它们的页面标出了停下的地方。",
    "results": "结果", "no_results_yet": "还没有记录结果：请运行", "full_stop": "。", "yes": "是", "no": "否",
    "columns": {"chapter": "章", "metric": "指标", "value": "数值", "seeds": "随机种子", "baseline": "基线",
                "target": "目标", "ok": "达标", "time": "用时"},
    "untranslated": "以下各章暂时只有英文版：", "glossary": "术语表",
    "figure_alt": ("\u201c{}\u201d一节中的图", "图"),
}
# Every edition of the site; the first (English, executed) is at the site's root.
EDITIONS = (Edition("en", "English", "chapters", "", ENGLISH_LABELS),
            Edition("zh-CN", "中文", "chapters/zh", "zh", CHINESE_LABELS))


def code_tokens(source: str) -> list[tuple[int, str]] | str:
    """A code cell's code without its comments and layout (Python tokens), or its text if it is not Python."""
    try:
        return [(t.type, "" if t.type in LAYOUT else t.string)
                for t in tokenize.generate_tokens(io.StringIO(source).readline)
                if t.type not in (tokenize.COMMENT, tokenize.NL)]
    except (tokenize.TokenError, SyntaxError):
        return source


def merge_outputs(translation, executed, name: str = "the chapter"):
    """A copy of ``translation`` (a notebook without outputs) whose code cells carry the outputs and
    execution counts of the code cells of ``executed``, cell by cell, and whose metadata has the
    executed notebook's (kernel, widget state). Raises ValueError, naming ``name`` and the cell,
    if the two do not have the same code."""
    merged = copy.deepcopy(translation)
    ours = [c for c in merged.cells if c.cell_type == "code"]
    theirs = [c for c in executed.cells if c.cell_type == "code"]
    if len(ours) != len(theirs):
        raise ValueError(f"{name}: {len(ours)} code cells, but the executed English notebook has {len(theirs)}; "
                         "its outputs cannot be its own (check tests/test_editions.py, run the chapter again)")
    for number, (cell, source) in enumerate(zip(ours, theirs), 1):
        if code_tokens(cell.source) != code_tokens(source.source):
            raise ValueError(f"{name}: code cell {number} differs from the one the English notebook executed "
                             "(check tests/test_editions.py, or run the chapter again)")
        cell.outputs = copy.deepcopy(source.get("outputs", []))
        cell.execution_count = source.get("execution_count")
    merged.metadata = {**copy.deepcopy(executed.metadata), **{k: v for k, v in merged.metadata.items()
                                                               if k not in executed.metadata}}
    return merged


def glossary_source(edition: Edition, chapters: list) -> Path | None:
    """The glossary of a translated edition: ``GLOSSARY.md`` beside its chapter sources, if there is one."""
    folders = {c.source.parent for c in chapters if c.source is not None}
    found = [folder / GLOSSARY for folder in folders if (folder / GLOSSARY).is_file()]
    return found[0] if edition.translated and found else None


def site_links(body: str, source: Path, editions: list[tuple[Edition, list]], page_edition: Edition) -> str:
    """``body`` (a page rendered from ``source``) with its links to other Markdown files of the
    checkout made links to their pages in the site: a chapter of an edition (``../05_mnist_cnn.md``
    from ``chapters/zh/``) to its page, a translated edition's glossary to its page; other links
    stay as they are."""
    pages = {}
    for edition, chapters in editions:
        pages.update({c.source.resolve(): edition.href(c.page) for c in chapters if c.source is not None})
        glossary = glossary_source(edition, chapters)
        if glossary is not None:
            pages[glossary.resolve()] = edition.href(GLOSSARY_PAGE)

    def rewrite(match: re.Match) -> str:
        start, link, end = match.groups()
        target = (source.parent / link).resolve()
        if target in pages:
            return start + posixpath.relpath(pages[target], page_edition.folder or ".") + end
        return match.group(0)

    return HREF.sub(rewrite, body)
