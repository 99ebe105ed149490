"""Check the book's website in a real browser: headless Chromium over the DevTools protocol.

:func:`check_site` opens every page of every edition, and reports what a reader would
notice: console errors and uncaught exceptions, images that did not decode, math left as raw
TeX, Chinese text missing or drawn without its font, links to missing pages, a language switch
that does not lead to the same page in the other edition. It
saves a screenshot of each page. The protocol is spoken over a WebSocket (websocket-client),
so nothing but the browser itself is needed: Debian's ``chromium`` package (``apt-get install
chromium``), or any Chromium/Chrome named by ``$DLBOOK_BROWSER``.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHINESE_FONT = "dlbook Noto Sans SC"
MATH_FONT = "dlbook Math"
WIDTHS = (1280, 390)  # a desktop window and a phone

# What the page itself reports, evaluated in it after it loaded, its fonts are ready and every
# image (lazy ones too) has been decoded.
PAGE_FACTS = """(async () => {
  await document.fonts.ready;
  await Promise.all([...document.images].map(i => { i.loading = 'eager'; return i.decode().catch(() => null); }));
  const prose = [...document.querySelectorAll('.text_cell_render, .home-header, .content > p')]
    .map(e => e.innerText).join('\\n');
  const maths = [...document.querySelectorAll('math')];
  const face = name => { const f = [...document.fonts].find(f => f.family.replace(/"/g, '') === name);
                         return f ? f.status : 'missing'; };
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(e => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && r.right > width + 1 && getComputedStyle(e).position !== 'fixed'
        && !e.closest('.table-scroll, .math-display, .output_area, table, pre, .search-results');
    }).slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string'
      ? '.' + e.className.trim().split(/\\s+/).join('.') : '') + ' (' + Math.round(e.getBoundingClientRect().right) + ' px)');
  return {
    title: document.title,
    images: [...document.images].map(i => ({src: i.src.slice(0, 80), width: i.naturalWidth, alt: i.alt})),
    raw_math: (prose.match(/\\$\\$|\\\\\\(|\\\\\\[|\\\\begin\\{|\\$[^$\\n]*\\\\[a-zA-Z]+[^$\\n]*\\$/g) || []).slice(0, 5)
      .concat(maths.map(m => m.textContent).filter(t => /\\\\[a-zA-Z]|&/.test(t)).slice(0, 5)),
    math: maths.length,
    math_laid_out: maths.filter(m => m.getBoundingClientRect().height > 0).length,
    chinese: (document.body.innerText.match(/[\\u4e00-\\u9fff]/g) || []).length,
    chinese_font: face('%s'),
    math_font: face('%s'),
    links: [...document.querySelectorAll('a[rel=prev], a[rel=next], nav.sidebar a, .downloads a.download')].map(a => a.href),
    not_executed: document.querySelector('.banner-not-run') !== null,
    page_width: document.documentElement.scrollWidth,
    window_width: width,
    too_wide: wide,
    height: document.documentElement.scrollHeight,
  };
})()""" % (CHINESE_FONT, MATH_FONT)

# Types a word into the search box and waits (up to 10 s) for the results: the pages they link.
SEARCH = """(async (word) => {
  const box = document.getElementById('search-box');
  if (!box) return null;
  box.focus();
  box.value = word;
  box.dispatchEvent(new Event('input'));
  for (let i = 0; i < 100; i++) {
    const links = [...document.querySelectorAll('#search-results a')].map(a => a.getAttribute('href'));
    if (links.length || document.querySelector('#search-results .none')) return links;
    await new Promise(r => setTimeout(r, 100));
  }
  return [];
})(%s)"""


def find_browser() -> str | None:
    """The Chromium to use: ``$DLBOOK_BROWSER``, else the first of :data:`BROWSER_NAMES` on the PATH."""
    named = os.environ.get("DLBOOK_BROWSER")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    return next((path for name in BROWSER_NAMES if (path := shutil.which(name))), None)


class Chromium:
    """A headless Chromium and one page of it, driven over the DevTools protocol.

    Use as a context manager; :meth:`open` loads a URL and returns the console errors and
    exceptions that the page raised while loading.
    """

    def __init__(self, executable: str | None = None, width: int = 1280, height: int = 900, timeout: float = 60):
        self.executable = executable or find_browser()
        if self.executable is None:
            raise FileNotFoundError("No Chromium found: install it (Debian: `apt-get install chromium`) "
                                    "or set $DLBOOK_BROWSER to a Chromium or Chrome executable.")
        self.width, self.height, self.timeout = width, height, timeout
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def __enter__(self) -> Chromium:
        import websocket

        self.profile = tempfile.TemporaryDirectory(prefix="dlbook-chromium-")
        arguments = [self.executable, "--headless", "--remote-debugging-port=0", f"--user-data-dir={self.profile.name}",
                     "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                     "--disable-background-networking", "--disable-sync", "--mute-audio",
                     "--allow-file-access-from-files", f"--window-size={self.width},{self.height}", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            arguments.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        # Its log goes to a file (a pipe nobody reads could fill up and stall the browser).
        self.log = open(Path(self.profile.name) / "chromium.log", "wb")
        # Its own process group, so that closing it also ends the helper processes it started.
        self.process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True)
        try:
            port = self._debugging_port()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
                page = next(t for t in json.load(answer) if t["type"] == "page")
            self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=self.timeout,
                                                      suppress_origin=True)
            for domain in ("Page", "Runtime", "Log"):
                self.send(f"{domain}.enable")
            self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _debugging_port(self) -> int:
        """The port Chromium chose, from the DevToolsActivePort file it writes in its profile."""
        active = Path(self.profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                message = (Path(self.profile.name) / "chromium.log").read_text(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(f"{self.executable} exited with code {self.process.returncode}: {' '.join(message)}")
            if active.is_file() and active.read_text().strip():
                return int(active.read_text().split()[0])
            time.sleep(0.1)
        raise RuntimeError(f"{self.executable} did not open its DevTools port within {self.timeout:.0f} s")

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            self.socket.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(OSError):  # helpers that outlived it would still write to its profile
            os.killpg(self.process.pid, 9)
        self.log.close()
        for attempt in range(5):  # a helper may write a last file while the profile is being removed
            try:
                shutil.rmtree(self.profile.name)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.2 * (attempt + 1))
        self.profile.cleanup()  # gone already: this only marks it so

    def send(self, method: str, **params) -> dict:
        """Call a DevTools method and return its result; events that arrive meanwhile are kept."""
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method}: {message['error'].get('message')}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event: str) -> dict:
        """The next event named ``event`` (kept ones first)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for index, message in enumerate(self.events):
                if message["method"] == event:
                    return self.events.pop(index)
            message = json.loads(self.socket.recv())
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(f"no {event} within {self.timeout:.0f} s")

    def open(self, url: str) -> list[str]:
        """Load ``url``; the console errors and uncaught exceptions it raised."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        return self.errors()

    def errors(self) -> list[str]:
        found = []
        for message in self.events:
            method, params = message["method"], message.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}".strip())
        return found

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (awaited if it is a promise)."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, path: Path, scroll_to: str | None = None) -> Path:
        """Save what the window shows as a PNG (scrolled to the CSS selector ``scroll_to`` first)."""
        if scroll_to:
            self.evaluate(f"document.querySelector({json.dumps(scroll_to)})?.scrollIntoView({{block: 'center'}})")
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


    def resize(self, width: int, height: int = 900, mobile: bool = False) -> None:
        """Lay pages out for a window of ``width`` CSS pixels (``mobile``: as a phone, honouring the
        page's viewport settings)."""
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)


def page_problems(facts: dict, errors: list[str], chapter: bool) -> list[str]:
    """What is wrong with one page, from :data:`PAGE_FACTS` and its console errors; a ``chapter``
    page (the one the check is about) must also have been executed and show figures and math."""
    problems = list(errors)
    if chapter and facts["not_executed"]:
        problems.append("the chapter was not executed: its page has no outputs")
    if chapter and not facts["images"]:
        problems.append("no figures on the page")
    problems += [f"image not decoded: {i['src']}..." for i in facts["images"] if not i["width"]]
    problems += [f"image without alt text: {i['src']}..." for i in facts["images"] if not i["alt"].strip()]
    if facts["raw_math"]:
        problems.append(f"raw TeX in the text: {facts['raw_math']}")
    if chapter and not facts["math"]:
        problems.append("no rendered math (<math>) on the page")
    if facts["math"] > facts["math_laid_out"]:
        problems.append(f"{facts['math'] - facts['math_laid_out']} of {facts['math']} formulas not laid out")
    if facts["math"] and facts["math_font"] != "loaded":
        problems.append(f"the math font {MATH_FONT!r} did not load ({facts['math_font']})")
    if not facts["chinese"]:
        problems.append("no Chinese characters in the page text")
    elif facts["chinese_font"] != "loaded":
        problems.append(f"the Chinese font {CHINESE_FONT!r} did not load ({facts['chinese_font']})")
    if facts["page_width"] > facts["window_width"] + 1:
        problems.append(f"the page scrolls sideways: {facts['page_width']} px wide in a {facts['window_width']} px "
                        f"window ({', '.join(facts['too_wide']) or 'no single element found'})")
    for link in facts["links"]:
        parsed = urllib.parse.urlparse(link)
        if parsed.scheme == "file" and not Path(urllib.parse.unquote(parsed.path)).is_file():
            problems.append(f"link to a missing file: {link}")
    return problems


def search_word(facts_text: str) -> str | None:
    """A distinctive word of a chapter's prose to search for: its longest plain word (≥ 6 letters)."""
    words = re.findall(r"\b[A-Za-z]{6,}\b", facts_text)
    return max(words, key=len) if words else None


def check_site(site: Path, chapter: str = "05", screenshots: Path | None = None,
               executable: str | None = None, widths: tuple[int, ...] = WIDTHS) -> dict:
    """Check the site in ``site`` as readers see it, and what it weighs.

    Every page (the home page and each chapter, in every edition) is opened in headless Chromium
    at each of ``widths`` (a desktop window and a phone): console errors, images that did not
    decode or lack alt text, raw TeX, formulas not laid out, fonts not loaded, sideways scrolling,
    links to missing files; the search box must find each chapter by a word of its prose; the
    language switch must lead to the same page in the other edition and back
    (:mod:`dlbook.site.languages`). The page of ``chapter``, in every edition, must also be
    executed, with figures and math. Then :func:`dlbook.site.audit.audit_site`:
    the weight budgets and no trace of the build machine. Returns ``{"pages": {"NAME@WIDTH": facts},
    "audit": ..., "search": ..., "languages": [{"from", "to", "lang"}], "problems": [...], "screenshots": [...]}``;
    screenshots of the home pages and the chapter at each width (``site-home.png``, ``site-NN-390.png``,
    ``site-NN-figure.png``, ``site-zh-NN.png``…) go to ``screenshots`` (default: the site's parent folder). No problems means the check passed.
    """
    from dlbook.site.audit import audit_site
    from dlbook.site.languages import check_language_switch, translations

    site = Path(site).resolve()
    screenshots = Path(screenshots) if screenshots else site.parent
    named = sorted(site.glob(f"{int(chapter):02d}_*.html"))
    if not (site / "index.html").is_file() or not named:
        raise FileNotFoundError(f"No site to check in {site} (index.html and a page of chapter {chapter}); "
                                "build it first with `make html`.")
    checked = {named[0], *translations(site, named[0])}  # the chapter in every edition
    pages = [p for p in sorted(site.rglob("*.html")) if p.name == "index.html" or re.match(r"\d\d_", p.name)]
    audit = audit_site(site)
    report = {"pages": {}, "audit": audit, "search": None, "languages": [], "problems": list(audit["problems"]),
              "screenshots": []}
    with Chromium(executable) as browser:
        for width in widths:
            browser.resize(width, 900 if width > 600 else 844, mobile=width <= 600)
            suffix = "" if width == max(widths) else f"-{width}"
            for page in pages:
                name = page.relative_to(site).as_posix()
                edition = "" if page.parent == site else page.parent.relative_to(site).as_posix().replace("/", "-") + "-"
                short = edition + ("home" if page.name == "index.html" else page.stem[:2])
                errors = browser.open(page.as_uri())
                facts = browser.evaluate(PAGE_FACTS)
                errors += browser.errors()[len(errors):]
                report["pages"][f"{name}@{width}"] = {**facts, "errors": errors, "links": len(facts["links"])}
                is_named = page in checked
                report["problems"] += [f"{name} at {width} px: {p}"
                                       for p in page_problems(facts, errors, chapter=is_named)]
                if page.name == "index.html" or is_named:
                    report["screenshots"].append(str(browser.screenshot(screenshots / f"site-{short}{suffix}.png")))
                if is_named and facts["images"]:
                    report["screenshots"].append(str(browser.screenshot(
                        screenshots / f"site-{short}{suffix}-figure.png", scroll_to="img.figure")))
                if width == max(widths) and page.name != "index.html":
                    found = _check_search(browser, page, report["problems"], required=is_named)
                    report["search"] = found if page == named[0] else report["search"]
                if width == max(widths):  # last: the click leaves the page
                    switched, problems = check_language_switch(browser, site, page)
                    report["languages"] += [switched] if switched else []
                    report["problems"] += problems
    return report


def _check_search(browser: Chromium, page: Path, problems: list[str], required: bool = True) -> dict:
    """Search the page's own site for a word of its prose; the page must be among the results
    (a page without a long enough word is a problem only if ``required``)."""
    text = browser.evaluate("[...document.querySelectorAll('.text_cell_render p')].map(p => p.innerText).join(' ')")
    word = search_word(text or "")
    if word is None:
        if required:
            problems.append(f"{page.name}: no prose word to search for")
        return {"word": None, "results": []}
    links = browser.evaluate(SEARCH % json.dumps(word)) or []
    if not any(link.split("#")[0].endswith(page.name) for link in links):
        problems.append(f"search for {word!r} does not find {page.name} (results: {links[:5]})")
    return {"word": word, "results": links}


def main(argv: list[str] | None = None) -> int:
    """``python -m dlbook.site.browser [SITE] [--chapter NN]``: check a built site; 1 if it has problems."""
    import argparse
    import sys

    from dlbook.paths import build_dir

    parser = argparse.ArgumentParser(prog="python -m dlbook.site.browser", description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, help="the site's folder (default: build/html)")
    parser.add_argument("--chapter", default="05", help="the chapter page to check (default: 05)")
    args = parser.parse_args(argv)
    try:
        report = check_site(args.site or build_dir() / "html", chapter=args.chapter)
    except (FileNotFoundError, RuntimeError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, facts in report["pages"].items():
        print(f"{name}: {len(facts['images'])} images, {facts['math']} formulas, {facts['chinese']} Chinese "
              f"characters (font {facts['chinese_font']}), {facts['page_width']} px wide, {len(facts['errors'])} console errors")
    audit = report["audit"]
    print(f"site: {audit['site_bytes'] / 1e6:.2f} MB; heaviest page: "
          + ", ".join(f"{n} {b / 1e6:.2f} MB" for n, b in sorted(audit["pages"].items(), key=lambda i: -i[1])[:3])
          + "; fonts: " + ", ".join(f"{n} {b / 1e3:.0f} kB" for n, b in audit["fonts"].items()))
    if report["search"]:
        print(f"search for {report['search']['word']!r}: {len(report['search']['results'])} results")
    if report["languages"]:
        print(f"language switches: {len(report['languages'])} checked, e.g. "
              + ", ".join(f"{s['from']} → {s['to']}" for s in report["languages"][:3]))
    print("screenshots: " + ", ".join(report["screenshots"]))
    if report["problems"]:
        print("\n".join(["the site check FAILED:", *report["problems"]]), file=sys.stderr)
        return 1
    print("the site check passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
