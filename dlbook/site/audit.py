"""What the built website weighs and whether it leaks anything of the build machine, file by file.

:func:`audit_site` measures the whole site (every file, both editions once there are two), each
page as a first visit loads it (its HTML, styles, script, fonts and the media it links), and
each font; it reports a site over :data:`SITE_BUDGET`, a page over :data:`PAGE_BUDGET`, a font
over :data:`FONT_BUDGET`, any path of the build machine or lock message left in a text file
(:func:`dlbook.site.scrub.find_machine_paths`), and Chinese characters that the site's font
lacks (they would show as empty boxes). The browser check (:mod:`dlbook.site.browser`) includes it.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from pathlib import Path

SITE_BUDGET = 8_000_000  # bytes, every edition together
PAGE_BUDGET = 2_000_000  # bytes, one page with what it loads
FONT_BUDGET = 1_000_000  # bytes, each font
TEXT_SUFFIXES = {".html", ".js", ".css", ".ipynb", ".md", ".json", ".txt"}
LINKED = re.compile(r'\b(?:src|href)="([^"#?]+)[^"]*"')


def _local(page: Path, link: str) -> Path | None:
    link = html.unescape(link)
    if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.IGNORECASE):  # http:, data:, mailto:
        return None
    return (page.parent / urllib.parse.unquote(link)).resolve()


def page_resources(site: Path, page: Path) -> list[Path]:
    """The local files a first visit of ``page`` loads: itself, its stylesheet and script, the fonts
    the stylesheet names, its images and sounds (not other pages, downloads or the search index,
    which loads when the search box is used)."""
    text = page.read_text(encoding="utf-8")
    files = {page.resolve()}
    for link in LINKED.findall(text):
        target = _local(page, link)
        if target is None or not target.is_file() or target.suffix in (".html", ".ipynb", ".md"):
            continue
        files.add(target)
        if target.suffix == ".css":
            css = target.read_text(encoding="utf-8")
            files |= {(target.parent / f).resolve() for f in re.findall(r'url\("?([^")]+)"?\)', css)
                      if (target.parent / f).is_file()}
    return sorted(files)


def chinese_font_gaps(site: Path) -> set[str]:
    """Chinese characters of the pages that the site's Chinese font does not have."""
    from fontTools.ttLib import TTFont

    from dlbook.site.fonts import is_chinese_font_character

    fonts = sorted((site / "_static").glob("chinese-*.woff2"))
    if not fonts:
        return set()
    covered = set(TTFont(fonts[0]).getBestCmap())
    used = set()
    for page in site.rglob("*.html"):
        text = html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))
        used |= {c for c in text if is_chinese_font_character(ord(c)) and ord(c) not in covered}
    return used - {"\u3000"}


def audit_site(site: Path) -> dict:
    """``{"site_bytes", "pages": {relative name: bytes}, "fonts": {name: bytes}, "problems": [...]}``."""
    from dlbook.site.scrub import find_machine_paths

    site = Path(site).resolve()
    files = [p for p in site.rglob("*") if p.is_file()]
    report = {"site_bytes": sum(p.stat().st_size for p in files), "pages": {}, "fonts": {}, "problems": []}
    problems = report["problems"]
    if report["site_bytes"] > SITE_BUDGET:
        problems.append(f"the site weighs {report['site_bytes'] / 1e6:.2f} MB, over its budget of "
                        f"{SITE_BUDGET / 1e6:.0f} MB")
    for page in sorted(site.rglob("*.html")):
        name = page.relative_to(site).as_posix()
        weight = sum(p.stat().st_size for p in page_resources(site, page))
        report["pages"][name] = weight
        if weight > PAGE_BUDGET:
            problems.append(f"{name} weighs {weight / 1e6:.2f} MB with what it loads, over {PAGE_BUDGET / 1e6:.0f} MB")
    for font in sorted(site.rglob("*.woff2")):
        report["fonts"][font.name] = font.stat().st_size
        if font.stat().st_size > FONT_BUDGET:
            problems.append(f"the font {font.name} weighs {font.stat().st_size / 1e6:.2f} MB, over {FONT_BUDGET / 1e6:.0f} MB")
    for path in files:
        if path.suffix in TEXT_SUFFIXES:
            found = find_machine_paths(path.read_text(encoding="utf-8", errors="replace"))
            if found:
                problems.append(f"{path.relative_to(site).as_posix()} shows the build machine: {found}")
    gaps = chinese_font_gaps(site)
    if gaps:
        problems.append(f"the Chinese font lacks {len(gaps)} character(s) of the pages: {''.join(sorted(gaps))[:40]}")
    return report
