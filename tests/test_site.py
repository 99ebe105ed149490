"""dlbook.site.build, dlbook.site.notebook and dlbook.site.browser: the book's website, from a tiny synthetic
executed book (a figure, math, Chinese text, a chapter that failed, one not run), checked in HTML
and in headless Chromium."""

from __future__ import annotations

import base64
import io
import json
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from dlbook.site import browser, build, notebook

MATH_AND_CHINESE = r"""## The model

Each prediction is $\hat y = \sigma(w^\top x + b)$, and the loss is

$$L = -\frac{1}{n} \sum_{i=1}^{n} y_i \log \hat y_i .$$

中文：手写数字识别器。"""


ONE_PIXEL_GIF = base64.b64encode(bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")).decode()
AUDIO = '<audio controls><source src="data:audio/wav;base64,UklGRg==" type="audio/wav"></audio>'


def png_bytes() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(2, 1.5), dpi=50)
    axes.plot([0, 1, 2], [1, 0, 2])
    axes.set_title("loss")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def executed(cells) -> nbformat.NotebookNode:
    """A notebook whose code cells ran in order (execution counts 1, 2, ...)."""
    result = new_notebook(cells=cells)
    code = [cell for cell in result.cells if cell.cell_type == "code"]
    for count, cell in enumerate(code, start=1):
        cell.execution_count = count
    return result


def header(number: int, title: str, chinese: str) -> str:
    return f"# {title}\n\n**Book chapter:** {chinese} (the English title)<br>\n**Time:** seconds\n"


@pytest.fixture
def book(tmp_path):
    """A build_folder folder with two executed chapters (01 fine, 02 failed), a third only as source."""
    build_folder, chapters = tmp_path / "build_folder", tmp_path / "chapters"
    build_folder.mkdir()
    chapters.mkdir()
    figure = base64.b64encode(png_bytes()).decode()
    good = executed([
        new_markdown_cell(header(1, "A first chapter", "第1章 引言")),
        new_code_cell("import dlbook\nconfig = dlbook.setup()", outputs=[new_output(
            "stream", name="stdout", text="dlbook: backend=jax device=CPU (2 cores) mode=fast precision=float32 seed=42\n")]),
        new_markdown_cell(MATH_AND_CHINESE),
        new_code_cell("plot()", outputs=[new_output("display_data", data={"image/png": figure, "text/plain": "<Figure>"})]),
        new_code_cell("fit()", outputs=[new_output("stream", name="stdout", text="epoch 1\b\b\b\b\b\b\bepoch 2\r\nloss 0.5\n")]),
        new_code_cell("play()", outputs=[
            new_output("display_data", data={"image/gif": ONE_PIXEL_GIF, "text/plain": "<Image>"}),
            new_output("display_data", data={"text/html": AUDIO, "text/plain": "<Audio>"})]),
    ])
    bad = executed([
        new_markdown_cell(header(2, "A broken chapter", "第2章 出错")),
        new_code_cell("x = 1", outputs=[]),
        new_code_cell("1 / 0", outputs=[new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                                   traceback=["\x1b[31mZeroDivisionError\x1b[0m: division by zero"])]),
    ])
    bad.cells.append(new_code_cell("after()"))  # never ran: no execution count
    nbformat.write(good, build_folder / "01_first.ipynb")
    nbformat.write(bad, build_folder / "02_broken.ipynb")
    for stem, title, chinese in (("01_first", "A first chapter", "第1章 引言"), ("02_broken", "A broken chapter", "第2章 出错"),
                                 ("03_later", "A later chapter", "第3章 以后")):
        (chapters / f"{stem}.md").write_text(header(int(stem[:2]), title, chinese) + "\n```python\nprint(1)\n```\n",
                                             encoding="utf-8")
    records = [{"chapter": "01", "metric": "test_accuracy", "value": 0.9312, "target": 0.9, "higher_is_better": True,
                "passed": True, "mode": "fast", "backend": "jax", "device": "CPU (2 cores)", "precision": "float32",
                "wall_time_s": 75.0, "recorded_at": "2026-01-01T00:00:00+00:00"}]
    (build_folder / "results.json").write_text(json.dumps(records), encoding="utf-8")
    index = build.build_site(build_folder, sources=sorted(chapters.glob("*.md")))
    return index.parent


def test_markdown_math_becomes_mathml():
    html = notebook.markdown_to_html(MATH_AND_CHINESE)
    assert html.count("<math") == 2 and 'display="block"' in html
    assert "$" not in html and "\\frac" not in html
    assert 'id="The-model"' in html  # headings keep anchors for the page's table of contents


def test_unreadable_math_is_shown_as_source_with_a_warning():
    with pytest.warns(UserWarning, match="not converted"):
        html = notebook.latex_to_mathml(r"\frac{1}{")
    assert "math-source" in html and "<math" not in html


def test_terminal_text_resolves_redraws():
    assert notebook.terminal_text("epoch 1\b\b\b\b\b\b\bepoch 2\n") == "epoch 2\n"
    assert notebook.terminal_text("10%\r50%\r100%\nnext\r\n") == "100%\nnext\n"
    assert notebook.terminal_text("plain\n") == "plain\n"


def test_widget_views_become_static_html():
    state = {"box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_label", "IPY_MODEL_bar"]}},
             "label": {"model_name": "HTMLModel", "state": {"value": "epochs: 100%"}},
             "bar": {"model_name": "FloatProgressModel", "state": {"value": 3.0, "max": 3.0, "min": 0}}}
    html = notebook.widget_html("box", state)
    assert "epochs: 100%" in html and '<progress value="3.0" max="3.0">' in html
    assert notebook.widget_html("missing", state) is None


def test_failure_finds_the_failing_cell_or_the_last_that_ran():
    ok = executed([new_code_cell("1", outputs=[])])
    assert notebook.failure(ok) is None
    error = executed([new_code_cell("1", outputs=[]), new_code_cell("x", outputs=[new_output(
        "error", ename="NameError", evalue="x", traceback=[])])])
    assert notebook.failure(error) == {"cell": 1, "error": "NameError: x"}
    died = executed([new_code_cell("1", outputs=[]), new_code_cell("2", outputs=[])])
    died.cells[1].execution_count = None
    assert notebook.failure(died)["cell"] == 0
    assert "not executed" in notebook.failure(new_notebook(cells=[new_code_cell("1")]))["error"]


def test_chinese_title_from_the_book_chapter_line():
    assert build.chinese_title("**Book chapter:** 第5章 手写数字识别器——认识卷积神经网络 (The recognizer)<br>") == \
        "第5章 手写数字识别器——认识卷积神经网络"
    assert build.chinese_title("**Book chapter:** 第13章 Transformer<br>") == "第13章 Transformer"
    assert build.chinese_title("no such line") == ""


def test_site_has_a_home_page_and_a_page_per_chapter(book):
    pages = sorted(p.name for p in book.glob("*.html"))
    assert pages == ["01_first.html", "02_broken.html", "03_later.html", "index.html"]
    assert (book / "_static" / build.FONT_FILE).stat().st_size > 1_000_000
    home = (book / "index.html").read_text(encoding="utf-8")
    for text in ("第1章 引言", "第2章 出错", "badge-failed", "02_broken.html#failure", "not run",
                 "test_accuracy", "0.9312", "≥ 0.9", "jax", "CPU (2 cores)", "1 min 15 s"):
        assert text in home, text
    first = (book / "01_first.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in first and first.count("<math") == 2
    assert 'href="../../chapters/01_first.md"' in first and 'rel="next" href="02_broken.html"' in first
    assert "epoch 2" in first and "epoch 1" not in first
    assert 'src="data:image/gif;base64,' in first and "<audio controls" in first  # animations, sound
    assert '<a href="#The-model">The model</a>' in first  # the section list in the sidebar
    broken = (book / "02_broken.html").read_text(encoding="utf-8")
    assert 'id="failure"' in broken and "ZeroDivisionError: division by zero" in broken
    assert "celltag_dlbook-failed" in broken and "celltag_dlbook-not-run" in broken
    later = (book / "03_later.html").read_text(encoding="utf-8")
    assert "banner-not-run" in later and "dlbook run 03" in later


def test_nothing_to_render_or_check_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    with pytest.raises(FileNotFoundError, match="make book"):
        build.build_site(tmp_path, sources=[])
    monkeypatch.setattr(build, "project_root", lambda: None)  # an installed dlbook: no chapter sources
    assert build.main(["--build", str(tmp_path)]) == 1
    assert browser.main([str(tmp_path / "html")]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "make book" in errors[0] and "make html" in errors[1]
    assert not (tmp_path / "html").exists()


def test_site_in_headless_chromium(book, tmp_path):
    """The home page and a chapter load without console errors, images decode, math is laid out,
    Chinese shows in its font, links resolve; screenshots are saved. In CI a missing browser fails."""
    if browser.find_browser() is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Chromium for the site check: .ci/run installs it (apt-get install chromium)")
        pytest.skip("no Chromium here (apt-get install chromium, or set $DLBOOK_BROWSER)")
    report = browser.check_site(book, chapter="01", screenshots=tmp_path / "shots")
    assert report["problems"] == []
    chapter = report["pages"]["01"]
    assert chapter["math"] == 2 and chapter["chinese_font"] == "loaded"
    assert [image["width"] for image in chapter["images"]] == [100, 1]  # the figure (2 in at 50 dpi), the GIF
    assert all((tmp_path / "shots" / name).stat().st_size > 10_000
               for name in ("site-home.png", "site-01.png", "site-01-figure.png"))
    # What a chapter page lacks is reported: the failed chapter has no figure and no math.
    problems = browser.check_site(book, chapter="02", screenshots=tmp_path / "shots")["problems"]
    assert problems == ["02_broken.html: no figures on the page", "02_broken.html: no rendered math (<math>) on the page"]


def test_a_browser_that_does_not_start_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DLBOOK_BROWSER", "/nonexistent/chromium")
    assert browser.find_browser() is None
    with pytest.raises(FileNotFoundError, match="apt-get install chromium"):
        browser.Chromium()
    with pytest.raises(RuntimeError, match="exited with code 1"):
        with browser.Chromium("/bin/false"):
            pass
