"""The language switch of the book's website, checked in headless Chromium (:mod:`dlbook.site.browser`).

Each page of an edition links to the same page in the other edition (``<p class="languages">``).
:func:`check_language_switch` clicks that link as a reader would and checks where it lands: a page
that loaded, in the language the link promised, of the same chapter (same file name), with a
switch back to the page it came from. :func:`translations` says which pages must have a switch.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

# The page's first language link, clicked; null when it has none.
CLICK = """(() => {
  const link = document.querySelector('.languages a');
  if (!link) return null;
  const target = {href: link.href, lang: link.hreflang};
  link.click();
  return target;
})()"""
# Where the click landed.
LANDED = """({url: location.href, lang: document.documentElement.lang, title: document.title,
  back: [...document.querySelectorAll('.languages a')].map(a => a.href)})"""


def translations(site: Path, page: Path) -> list[Path]:
    """The pages of the other editions with the same name as ``page`` (``01_x.html`` at the site's
    root and ``zh/01_x.html``): a page with one must link to it."""
    site, page = site.resolve(), page.resolve()
    folders = {p.parent for p in site.rglob(page.name)}
    return sorted(folder / page.name for folder in folders if folder != page.parent and (folder / page.name).is_file())


def _path(url: str) -> Path | None:
    parsed = urllib.parse.urlparse(url)
    return Path(urllib.parse.unquote(parsed.path)).resolve() if parsed.scheme == "file" else None


def check_language_switch(browser, site: Path, page: Path) -> tuple[dict | None, list[str]]:
    """Click the language switch of ``page`` (already open in ``browser``, a
    :class:`~dlbook.site.browser.Chromium`); ``({"from", "to", "lang"} or None, problems)``."""
    name = page.resolve().relative_to(site.resolve()).as_posix()
    expected = translations(site, page)
    browser.events.clear()
    target = browser.evaluate(CLICK)
    if target is None:
        other = expected[0].relative_to(site.resolve()).as_posix() if expected else ""
        return None, [f"{name}: no language switch, though {other} is the same page in another edition"] if expected else []
    browser.wait_for("Page.loadEventFired")
    landed = browser.evaluate(LANDED)
    errors = browser.errors()
    arrived = _path(landed["url"])
    problems = [f"{name}: after its language switch, {e}" for e in errors]
    shown = arrived.relative_to(site.resolve()).as_posix() if arrived and arrived.is_relative_to(site.resolve()) \
        else landed["url"]
    if arrived is None or not arrived.is_file():
        problems.append(f"{name}: its language switch leads to a missing page ({target['href']})")
    elif arrived.name != page.name:
        problems.append(f"{name}: its language switch leads to another page ({shown})")
    if landed["lang"] != target["lang"]:
        problems.append(f"{name}: its language switch promises {target['lang']!r}, but {shown} is in "
                        f"{landed['lang']!r}")
    if page.resolve() not in {_path(back) for back in landed["back"]}:
        problems.append(f"{name}: {shown} has no language switch back to it (it links {json.dumps(landed['back'])})")
    return {"from": name, "to": shown, "lang": landed["lang"]}, problems
