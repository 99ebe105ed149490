"""The book's website (dlbook.site), from a tiny synthetic executed book: a figure, math (aligned
equations, arg max), Chinese text, a sound, an animation, machine paths and a lock message in the
outputs, a chapter that failed and one not run. Checked in its HTML and files, and in headless
Chromium at a desktop and a phone width. The parts (math, media, fonts, markup, search, scrub,
audit) are tested on their own in tests/test_site_parts.py."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import wave

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from dlbook.paths import project_root
from dlbook.site import audit, browser, build, notebook

MATH_AND_CHINESE = r"""## The model

Each prediction is $\hat y = \sigma(w^\top x + b)$, the policy takes $\arg\max_{a'} Q(s', a')$, and the loss is

$$L = -\frac{1}{n} \sum_{i=1}^{n} y_i \log \hat y_i .$$

The gates, aligned:

$$
\begin{aligned}
i_t &= \sigma(W_i x_t + b_i) && \text{input gate: how much of the candidate to write} \\
f_t &= \sigma(W_f x_t + b_f) && \text{forget gate}
\end{aligned}
$$

中文：手写数字识别器，a distinctive word: quaternionic.

| a wide table | with | many | columns | that | would | make | a | phone | scroll | sideways | if | it | were | not | in | its | box |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
| 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15 | 16 | 17 | 18 |"""

LONG_CODE = ("def a_function_with_a_long_signature(first_argument, second_argument, third_argument, "
             "fourth_argument):\n    return [first_argument, second_argument, third_argument, fourth_argument, "
             "first_argument + second_argument]\n")
ONE_PIXEL_GIF = base64.b64encode(bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")).decode()


def png_bytes(title: str = "loss") -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(2, 1.5), dpi=50)
    axes.plot([0, 1, 2], [1, 0, 2])
    axes.set_title(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def wav_base64(seconds: float = 0.2, rate: int = 8000) -> str:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(rate)
        tone = 8000 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)
        sound.writeframes(tone.astype("<i2").tobytes())
    return base64.b64encode(buffer.getvalue()).decode()


def executed(cells) -> nbformat.NotebookNode:
    """A notebook whose code cells ran in order (execution counts 1, 2, ...)."""
    result = new_notebook(cells=cells)
    code = [cell for cell in result.cells if cell.cell_type == "code"]
    for count, cell in enumerate(code, start=1):
        cell.execution_count = count
    return result


def header(title: str, chinese: str) -> str:
    return f"# {title}\n\n**Book chapter:** {chinese} (the English title)<br>\n**Time:** seconds\n"


def machine_traces() -> list:
    """Outputs a chapter may print on the build machine: a path in the checkout, a temporary
    folder, a lock message of the model cache."""
    root = project_root()
    return [new_output("stream", name="stdout", text=f"saved for chapter 06: {root}/data/models/cnn-abc.keras\n"),
            new_output("stream", name="stderr", text="dlbook: waiting for /tmp/pytest-of-x/models/cnn.keras "
                                                     "(another process holds its lock; e.g. a chapter) ...\n"),
            new_output("stream", name="stdout", text="scratch in /tmp/tmpab12cd/part.npz\n")]


def write_book(folder, records=None):
    """A build folder with two executed chapters (01 fine, 02 failed), a third only as source."""
    build_folder, chapters = folder / "build_folder", folder / "chapters"
    build_folder.mkdir()
    chapters.mkdir()
    figure = base64.b64encode(png_bytes()).decode()
    audio = f'<audio controls="controls"><source src="data:audio/wav;base64,{wav_base64()}" type="audio/wav" /></audio>'
    good = executed([
        new_markdown_cell(header("A first chapter", "第1章 引言")),
        new_code_cell("import dlbook\nconfig = dlbook.setup()", outputs=[new_output(
            "stream", name="stdout", text="dlbook: backend=jax device=CPU (2 cores) mode=fast precision=float32 seed=42\n")]),
        new_markdown_cell(MATH_AND_CHINESE),
        new_code_cell("plot()", outputs=[new_output("display_data", data={"image/png": figure, "text/plain": "<Figure>"},
                                                    metadata={"image/png": {"alt": "loss per epoch"}})]),
        new_code_cell(LONG_CODE, outputs=[new_output("stream", name="stdout",
                                                     text="epoch 1\b\b\b\b\b\b\bepoch 2\r\nloss 0.5\n")]),
        new_code_cell("save()", outputs=machine_traces()),
        new_code_cell("play()", outputs=[
            new_output("display_data", data={"image/gif": ONE_PIXEL_GIF, "text/plain": "<Image>"}),
            new_output("display_data", data={"text/html": audio, "text/plain": "<Audio>"})]),
    ])
    bad = executed([
        new_markdown_cell(header("A broken chapter", "第2章 出错")),
        new_code_cell("x = 1", outputs=[]),
        new_code_cell("1 / 0", outputs=[new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                                   traceback=["\x1b[31mZeroDivisionError\x1b[0m: division by zero"])]),
    ])
    bad.cells.append(new_code_cell("after()"))  # never ran: no execution count
    nbformat.write(good, build_folder / "01_first.ipynb")
    nbformat.write(bad, build_folder / "02_broken.ipynb")
    for stem, title, chinese in (("01_first", "A first chapter", "第1章 引言"), ("02_broken", "A broken chapter", "第2章 出错"),
                                 ("03_later", "A later chapter", "第3章 以后")):
        (chapters / f"{stem}.md").write_text(header(title, chinese) + "\n```python\nprint(1)\n```\n", encoding="utf-8")
    run = {"mode": "fast", "backend": "jax", "device": "CPU (2 cores)", "precision": "float32",
           "recorded_at": "2026-01-01T00:00:00+00:00", "higher_is_better": True}
    records = records if records is not None else [
        {**run, "chapter": "01", "metric": "test_accuracy", "value": value, "seed": seed, "target": 0.9,
         "baseline": {"name": "majority class", "value": 0.11}, "margin": 0.5, "headline": True,
         "passed": True, "wall_time_s": 75.0} for seed, value in ((42, 0.9312), (43, 0.9288))] + [
        {**run, "chapter": "01", "metric": "train_seconds", "value": 12.5, "seed": 42, "target": None,
         "baseline": None, "headline": False, "passed": True, "wall_time_s": 75.0}]
    (build_folder / "results.json").write_text(json.dumps(records), encoding="utf-8")
    return build_folder, sorted(chapters.glob("*.md"))


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    build_folder, sources = write_book(tmp_path_factory.mktemp("book"))
    index = build.build_site(build_folder, sources=sources, repository="")
    return index.parent


def page(book, name: str) -> str:
    return (book / name).read_text(encoding="utf-8")


def text(html: str) -> str:
    """The text of HTML, tags removed (Chinese runs are wrapped in ``<span lang>``)."""
    return re.sub(r"<[^>]+>", "", html)


def test_site_has_a_home_page_a_page_per_chapter_and_shared_files(book):
    assert sorted(p.name for p in book.glob("*.html")) == ["01_first.html", "02_broken.html", "03_later.html",
                                                           "index.html"]
    static = sorted(p.name for p in (book / "_static").iterdir())
    assert {"book.css", "book.js", "search-en.js"} <= set(static)
    fonts = [p for p in (book / "_static").glob("*.woff2")]
    assert sorted(p.name.split("-")[0] for p in fonts) == ["chinese", "math"]
    assert all(1_000 < p.stat().st_size < audit.FONT_BUDGET for p in fonts)
    css = page(book, "_static/book.css")
    assert all(p.name in css for p in fonts) and "font-display: swap" in css and "prefers-color-scheme: dark" in css


def test_home_page_states_the_run_once_and_summarizes_seeds(book):
    home = page(book, "index.html")
    for shown in ("第1章 引言", "第2章 出错", "not run", "test_accuracy", "0.93 ± 0.0017", "42, 43",
                  "majority class 0.11", "≥ 0.9", "1 min 15 s"):
        assert shown in text(home), shown
    assert "badge-failed" in home and "02_broken.html#failure" in home and '<span lang="zh-CN">第1章 引言</span>' in home
    stated = home.split('class="run-config">')[1].split("</strong>")[0]
    assert stated == "fast mode · jax · CPU (2 cores) · float32"
    assert home.count("CPU (2 cores)") == 1  # stated once, not in every row
    secondary = home.split("<code>train_seconds</code>")[1].split("</tr>")[0]
    assert "badge" not in secondary  # no target and no baseline: nothing to pass


def test_results_table_adds_a_column_for_what_differs():
    base = {"chapter": "03", "metric": "test_rmse", "higher_is_better": False, "target": 80.0, "baseline": None,
            "passed": True, "mode": "fast", "device": "CPU", "precision": "float32", "wall_time_s": 60.0, "seed": 42}
    table = build.results_table([{**base, "backend": "jax", "value": 70.0},
                                 {**base, "backend": "torch", "value": 72.0}])
    assert table["varying"] == ["backend"] and table["shared"] == {"mode": "fast", "device": "CPU",
                                                                   "precision": "float32"}
    assert [r["target_text"] for r in table["rows"]] == ["≤ 80", "≤ 80"] and table["rows"][0]["checked"]


def test_chapter_page_has_math_media_downloads_and_no_machine_traces(book):
    first = page(book, "01_first.html")
    assert first.count("<math") == 4 and "<mtable>" in first and "arg\u2009max" in first
    assert "\\begin" not in first and "&amp;&amp;" not in first and "math-source" not in first
    assert "data:image" not in first and "data:audio" not in first  # media are files of their own
    assert 'alt="loss per epoch"' in first
    audio = re.search(r"<audio[^>]*>\s*<source[^>]*>", first).group(0)
    assert 'preload="none"' in audio and re.search(r'src="_media/\w+\.mp3"', audio) and 'type="audio/mpeg"' in audio
    media = sorted(p.suffix for p in (book / "_media").iterdir())
    assert ".mp3" in media and set(media) <= {".webp", ".png", ".gif", ".mp3", ".jpg"}
    assert "epoch 2" in first and "epoch 1" not in first
    assert '<a href="#The-model">The model</a>' in first  # the section list in the sidebar
    assert '<span lang="zh-CN">中文：手写数字识别器，</span>' in first and '<html lang="en"' in first
    assert 'class="line" style="--indent:4"' in first  # wrapped code keeps its indentation
    assert "waiting for" not in first and "holds its lock" not in first
    assert "data/models/cnn-abc.keras" in first and "&lt;tmp&gt;/part.npz" in first
    assert audit.audit_site(book)["problems"] == []


def test_each_chapter_offers_its_notebook_from_inside_the_site(book):
    first = page(book, "01_first.html")
    assert 'href="_downloads/01_first.ipynb" download' in first and "01_first.md" not in first
    assert "\n " not in (book / "_downloads" / "01_first.ipynb").read_text(encoding="utf-8")  # compact JSON
    downloaded = nbformat.read(book / "_downloads" / "01_first.ipynb", as_version=4)
    nbformat.validate(downloaded)
    assert any(o.get("output_type") == "stream" and "epoch" in o.get("text", "")
               for c in downloaded.cells for o in c.get("outputs", []))  # executed: outputs kept
    text = json.dumps(downloaded)
    assert str(project_root()) not in text and "holds its lock" not in text
    assert "data:audio" not in text and "image/png" not in text and "[loss per epoch: shown on the chapter" in text
    later = page(book, "03_later.html")
    assert "banner-not-run" in later and "dlbook run 03" in later and "_downloads/03_later.ipynb" in later
    assert 'href="../' not in first and 'src="../' not in first  # nothing outside the site


def test_failed_chapter_shows_where_it_stopped(book):
    broken = page(book, "02_broken.html")
    assert 'id="failure"' in broken and "ZeroDivisionError: division by zero" in broken
    assert "celltag_dlbook-failed" in broken and "celltag_dlbook-not-run" in broken


def test_repository_url_adds_source_colab_and_kaggle_links(tmp_path):
    chapter = build.Chapter("05", "mnist_cnn", "t", "", project_root() / "chapters" / "05_mnist_cnn.md", None)
    links = build.repository_links("https://github.com/someone/dlbook", chapter)
    assert links["view_source"] == "https://github.com/someone/dlbook/blob/main/chapters/05_mnist_cnn.md"
    assert links["colab"] == ("https://colab.research.google.com/github/someone/dlbook/blob/gh-pages/"
                              "_downloads/05_mnist_cnn.ipynb")
    assert links["kaggle"].endswith("src=https://github.com/someone/dlbook/blob/gh-pages/_downloads/05_mnist_cnn.ipynb")
    assert build.repository_links("https://github.com/someone/dlbook/tree/dev", chapter)["view_source"].startswith(
        "https://github.com/someone/dlbook/blob/dev/")
    assert set(build.repository_links("https://gitlab.com/someone/dlbook", chapter)) == {"view_source"}
    assert build.repository_links("", chapter) == {}
    with pytest.raises(ValueError, match="DLBOOK_REPOSITORY_URL"):
        build.repository_links("not a url", chapter)
    build_folder, sources = write_book(tmp_path, records=[])
    os.environ["DLBOOK_REPOSITORY_URL"] = "https://github.com/someone/dlbook"
    first = (build.build_site(build_folder, sources=sources).parent / "01_first.html").read_text(encoding="utf-8")
    assert "colab.research.google.com/github/someone/dlbook/blob/gh-pages/_downloads/01_first.ipynb" in first
    assert "Open in Kaggle" in first and "/blob/main/" in first


def test_a_formula_that_does_not_convert_fails_the_build_naming_chapter_and_formula(tmp_path):
    build_folder, sources = write_book(tmp_path, records=[])
    broken = nbformat.read(build_folder / "01_first.ipynb", as_version=4)
    broken.cells.append(new_markdown_cell(r"A command MathML lacks: $\weirdcommand{x} + 1$ and $a &= b$."))
    nbformat.write(broken, build_folder / "01_first.ipynb")
    with pytest.raises(ValueError) as failure:
        build.build_site(build_folder, sources=sources, repository="")
    message = str(failure.value)
    assert "chapter 01 (01_first.md)" in message and "\\weirdcommand" in message and "a &= b" in message


def test_a_rebuild_reuses_media_and_removes_what_is_no_longer_linked(tmp_path):
    build_folder, sources = write_book(tmp_path, records=[])
    site = build.build_site(build_folder, sources=sources, repository="").parent
    media = {p.name: p.stat().st_mtime_ns for p in (site / "_media").iterdir()}
    for stale in (site / "_media" / "0000.webp", site / "09_gone.html", site / "_downloads" / "09_gone.ipynb"):
        stale.write_text("left by an earlier build")
    build.build_site(build_folder, sources=sources, repository="")
    assert {p.name: p.stat().st_mtime_ns for p in (site / "_media").iterdir()} == media  # reused, not re-encoded
    assert not (site / "09_gone.html").exists() and not (site / "_downloads" / "09_gone.ipynb").exists()
    assert (site / "_downloads" / "01_first.ipynb").is_file()


def test_nothing_to_render_or_check_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    with pytest.raises(FileNotFoundError, match="make book"):
        build.build_site(tmp_path, sources=[])
    monkeypatch.setattr(build, "project_root", lambda: None)  # an installed dlbook: no chapter sources
    assert build.main(["--build", str(tmp_path)]) == 1
    assert browser.main([str(tmp_path / "html")]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "make book" in errors[0] and "make html" in errors[1]
    assert not (tmp_path / "html").exists()


def test_notebook_body_leaves_media_embedded_without_a_store():
    cells = executed([new_code_cell("plot()", outputs=[new_output(
        "display_data", data={"image/png": base64.b64encode(png_bytes()).decode(), "text/plain": "<Figure>"})])])
    cells.cells.insert(0, new_markdown_cell("## Results"))
    html = notebook.notebook_body(cells)
    assert 'src="data:image/png;base64,' in html and "alt=\"Figure in the section “Results”\"" in html


def needs_chromium():
    if browser.find_browser() is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Chromium for the site check: .ci/run installs it (apt-get install chromium)")
        pytest.skip("no Chromium here (apt-get install chromium, or set $DLBOOK_BROWSER)")


def test_site_in_headless_chromium_at_desktop_and_phone_widths(book, tmp_path):
    """Every page loads at 1280 and 390 px without console errors or sideways scrolling, images
    decode with alt text, math is laid out in its font, Chinese in its font, search finds the
    chapter by a word of its prose, links resolve; screenshots are saved. In CI a missing browser fails."""
    needs_chromium()
    report = browser.check_site(book, chapter="01", screenshots=tmp_path / "shots")
    assert report["problems"] == []
    assert len(report["pages"]) == 8  # 4 pages × 2 widths
    for width in (1280, 390):
        chapter = report["pages"][f"01_first.html@{width}"]
        assert chapter["math"] == 4 and chapter["math_font"] == "loaded" and chapter["chinese_font"] == "loaded"
        assert chapter["page_width"] <= width and [i["width"] for i in chapter["images"]] == [100, 1]
    assert report["search"]["word"] == "quaternionic" and report["search"]["results"][0].startswith("01_first.html")
    assert all((tmp_path / "shots" / name).stat().st_size > 10_000
               for name in ("site-home.png", "site-01.png", "site-01-figure.png", "site-home-390.png", "site-01-390.png"))
    # What a chapter page lacks is reported: the failed chapter has no figure and no math.
    problems = browser.check_site(book, chapter="02", screenshots=tmp_path / "shots", widths=(1280,))["problems"]
    assert problems == ["02_broken.html at 1280 px: no figures on the page",
                        "02_broken.html at 1280 px: no rendered math (<math>) on the page"]


def test_code_cells_have_a_copy_button_that_copies_the_code_as_written(book):
    """The button copies the text of the cell's code (the line spans of the page add nothing), and
    a print of the page leaves out the navigation and the buttons."""
    needs_chromium()
    with browser.Chromium() as chromium:
        chromium.open((book / "01_first.html").as_uri())
        cells = chromium.evaluate("[...document.querySelectorAll('.input_area')].map(box => "
                                  "[box.querySelectorAll('.copy-button').length, box.querySelector('pre').textContent])")
        chromium.send("Emulation.setEmulatedMedia", media="print")
        printed = chromium.evaluate("['.sidebar', '.copy-button', '.pager'].map(s => "
                                    "getComputedStyle(document.querySelector(s)).display)")
    assert [count for count, _ in cells] == [1] * 5
    assert [code.rstrip("\n") for _, code in cells][2] == LONG_CODE.rstrip("\n")
    assert printed == ["none", "none", "none"]


def test_a_browser_that_does_not_start_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DLBOOK_BROWSER", "/nonexistent/chromium")
    assert browser.find_browser() is None
    with pytest.raises(FileNotFoundError, match="apt-get install chromium"):
        browser.Chromium()
    with pytest.raises(RuntimeError, match="exited with code 1"):
        with browser.Chromium("/bin/false"):
            pass
