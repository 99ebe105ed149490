"""Finishing touches on a rendered page of the book's website: code lines and Chinese text.

* :func:`code_lines` drops the syntax spans that change nothing (names, punctuation) and puts each line of a ``<pre>`` block (code cells and their printed output)
  in a ``<span class="line">`` that carries its indentation (``style="--indent:N"``), so that
  a long line wraps with a hanging indent under its own start, on a phone and on paper, instead
  of being cut off at the column's edge or wrapping back to column 0. Copying still gives the
  text as it was (the spans add no characters).
* :func:`mark_chinese` gives Chinese text its language (``lang="zh-CN"``): a run of Chinese
  characters in English prose becomes a ``<span lang="zh-CN">``, and an ``<mtext>`` of a formula
  gets the attribute, so that browsers and screen readers pick Chinese fonts and pronunciation.
"""

from __future__ import annotations

import html
import re

TAG = re.compile(r"<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
OPEN_OR_CLOSE = re.compile(r"<(/?)([A-Za-z][\w-]*)[^>]*?(/?)>")
PRE = re.compile(r"(<pre\b[^>]*>)(.*?)(</pre>)", re.DOTALL)
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff5e\u2e80-\u2fdf"
# A run of Chinese: CJK characters, with digits, spaces and CJK punctuation between them ("第5章 手写").
CHINESE = re.compile(f"[{_CJK}](?:[{_CJK}\\d \u00b7\u2014\u2026\u201c\u201d]*[{_CJK}])?")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Pygments' spans for names, punctuation and whitespace: drawn in the text's own colour by both of
# the site's code styles (friendly, github-dark), so they only add weight (a third of a page's code).
PLAIN_TOKEN = re.compile(r'<span class="(?:n|p|w)">([^<]*)</span>')
SKIPPED = ("script", "style", "title", "textarea", "math", "svg")
CHINESE_LANG = "zh-CN"


def _lines(inner: str) -> list[str]:
    """The HTML inside a ``<pre>`` split into lines, each with its open inline tags closed at its
    end and reopened at the start of the next line (a coloured traceback span may cross lines)."""
    lines, stack = [], []
    for raw in inner.split("\n"):
        prefix = "".join(tag for _, tag in stack)
        for match in OPEN_OR_CLOSE.finditer(raw):
            closing, name, self_closing = match.groups()
            if self_closing or name.lower() in ("br", "img", "wbr"):
                continue
            if closing:
                for depth in range(len(stack) - 1, -1, -1):
                    if stack[depth][0] == name.lower():
                        del stack[depth:]
                        break
            else:
                stack.append((name.lower(), match.group(0)))
        suffix = "".join(f"</{name}>" for name, _ in reversed(stack))
        lines.append(prefix + raw + suffix)
    return lines


def _indent(line_html: str) -> int:
    text = html.unescape(TAG.sub("", line_html))
    return len(text) - len(text.lstrip(" "))


def code_lines(page: str) -> str:
    """``page`` with every line of its ``<pre>`` blocks in a ``<span class="line">`` (see the module)."""
    def wrap(match: re.Match) -> str:
        start, inner, end = match.groups()
        if 'class="line"' in inner:
            return match.group(0)
        lines = _lines(PLAIN_TOKEN.sub(r"\1", inner))
        if len(lines) > 1 and not TAG.sub("", lines[-1]).strip():
            last = lines.pop()  # the newline that ends the block: no line of its own
            lines[-1] += last
        spans = []
        for line in lines:
            indent = _indent(line)
            style = f' style="--indent:{indent}"' if indent else ""
            spans.append(f'<span class="line"{style}>{line}\n</span>')
        return start + "".join(spans) + end

    return PRE.sub(wrap, page)


def mark_chinese(page: str, page_lang: str = "en") -> str:
    """``page`` with its Chinese text marked ``lang="zh-CN"`` (nothing to do on a Chinese page)."""
    if page_lang.lower().startswith("zh"):
        return page
    body_start = page.find("<body")
    head, rest = (page[:body_start], page[body_start:]) if body_start >= 0 else ("", page)
    parts, skipping = [], []
    position = 0
    for match in TAG.finditer(rest):
        parts.append(_mark_text(rest[position:match.start()], skipping))
        tag = match.group(0)
        name_match = re.match(r"<(/?)([A-Za-z][\w-]*)", tag)
        if name_match:
            closing, name = name_match.group(1), name_match.group(2).lower()
            if name in SKIPPED and not tag.endswith("/>"):
                if closing and name in skipping:
                    skipping.remove(name)
                elif not closing:
                    skipping.append(name)
            if name == "mtext" and not closing and "lang=" not in tag:
                following = rest[match.end():rest.find("<", match.end())]
                if HAN.search(following):
                    tag = tag[:-1].rstrip("/") + f' lang="{CHINESE_LANG}">'
        parts.append(tag)
        position = match.end()
    parts.append(_mark_text(rest[position:], skipping))
    return head + "".join(parts)


def _mark_text(text: str, skipping: list[str]) -> str:
    if skipping or not HAN.search(text):
        return text
    return CHINESE.sub(lambda m: f'<span lang="{CHINESE_LANG}">{m.group(0)}</span>' if HAN.search(m.group(0))
                       else m.group(0), text)
