"""The search index of the book's website: every section's prose and code, searched in the browser.

No server: :func:`write_index` writes ``_static/search-LANG.js``, a script that sets
``window.dlbookSearchIndex`` to one entry per section of every chapter (its page, anchor,
titles and plain text: the Markdown without markup or TeX, and the code). ``book.js`` loads it
when the reader first uses the search box (a script, not ``fetch``, so that it also works
when the pages are opened from disk) and ranks the sections that contain every word searched.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$", re.MULTILINE)
SECTION = re.compile(r'<h([23]) id="(?P<id>[^"]+)">(?P<title>.*?)<a class="anchor-link"', re.DOTALL)
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)


def plain_markdown(source: str) -> str:
    """Markdown as the words a reader sees: no TeX, HTML tags, link targets or emphasis marks."""
    text = MATH.sub(" ", source)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[*`]+", "", text)  # emphasis and code marks (not "_": it joins names like load_digits)
    text = re.sub(r"^\s*#+|[>|]+", " ", text, flags=re.MULTILINE)
    return " ".join(html.unescape(text).split())


def sections(notebook, body: str) -> list[dict]:
    """The sections of a chapter: ``{"anchor", "title", "text"}``, the anchors as the rendered
    ``body`` has them (h2/h3); the text before the first section goes with the chapter's top."""
    anchors = [(m["id"], re.sub(r"<[^>]+>", "", m["title"]).strip()) for m in SECTION.finditer(body)]
    found: list[dict] = [{"anchor": "", "title": "", "text": []}]
    headings = 0
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            rest = FENCE.sub("", cell.source)
            position = 0
            for match in HEADING.finditer(rest):
                found[-1]["text"].append(plain_markdown(rest[position:match.start()]))
                position = match.end()
                if len(match.group(1)) >= 2:
                    anchor, title = anchors[headings] if headings < len(anchors) else ("", plain_markdown(match.group(2)))
                    headings += 1
                    found.append({"anchor": anchor, "title": title, "text": []})
            found[-1]["text"].append(plain_markdown(rest[position:]))
        elif cell.cell_type == "code":
            found[-1]["text"].append(" ".join(cell.source.split()))
    if headings != len(anchors):  # the rendering found other headings: link the chapter, not a section
        for section in found:
            section["anchor"] = ""
    return [{**s, "text": " ".join(t for t in s["text"] if t)} for s in found if any(s["text"])]


def index_entries(page: str, chapter_title: str, notebook, body: str) -> list[dict]:
    """The index entries of one chapter page (short keys: the index is shipped to every reader)."""
    return [{"p": page, "a": s["anchor"], "c": chapter_title, "s": s["title"], "t": s["text"]}
            for s in sections(notebook, body)]


def write_index(static: Path, lang: str, entries: list[dict]) -> Path:
    """``static/search-LANG.js``, the script that defines the index of one edition."""
    path = static / f"search-{lang}.js"
    data = json.dumps(entries, ensure_ascii=False, separators=(",", ":"))
    path.write_text(f"window.dlbookSearchIndex = {data};\n", encoding="utf-8")
    return path
