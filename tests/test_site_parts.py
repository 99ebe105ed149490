"""The parts of the book's website, each on its own: TeX → MathML, media, fonts, markup, search
index, scrubbing of machine paths, the weight audit, JupyterLab settings."""

from __future__ import annotations

import base64
import io
import json
import wave

import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from dlbook.paths import project_root
from dlbook.site import audit, fonts, lab, markup, media, mathml, notebook, scrub, search


# --- math ---------------------------------------------------------------------------------------

def test_markdown_math_becomes_mathml():
    html = notebook.markdown_to_html("## The model\n\nInline $\\hat y = \\sigma(z)$ and\n\n$$L = \\frac{1}{n}\\sum_i l_i$$")
    assert html.count("<math") == 2 and 'display="block"' in html
    assert "$" not in html and "\\frac" not in html
    assert 'id="The-model"' in html  # headings keep anchors for the page's table of contents


def test_aligned_equations_become_a_table_with_right_and_left_columns():
    tex = r"\begin{aligned} i_t &= \sigma(x) && \text{input gate} \\ f_t &= \sigma(y) && \text{forget gate} \end{aligned}"
    html = mathml.latex_to_mathml(tex, display=True)
    assert html.count("<mtr>") == 2 and html.count("<mtd") == 8
    assert '<mtd columnalign="right">' in html and '<mtd columnalign="left">' in html
    assert ">&<" not in html and "<mtext>input&#x000A0;gate</mtext>" in html
    assert mathml.rewrite(r"\begin{align*} a &= 1 \label{x} \\ b &= 2 \end{align*}")[0] == \
        r"\begin{array}{rl}a & {}= 1 \\ b & {}= 2\end{array}"
    assert "\\begin{array}{c}" in mathml.rewrite(r"\begin{gather} a \\ b \end{gather}")[0]


def test_named_operators_convert_as_one_token():
    double_dqn = mathml.latex_to_mathml(r"y = r + \gamma Q(s', \arg\max_{a'} Q(s', a'))")
    assert '<mo movablelimits="true">arg\u2009max</mo>' in double_dqn and "\\arg" not in double_dqn
    assert "<mo>arg</mo>" in mathml.latex_to_mathml(r"\arg z")
    assert "<mo>arg\u2009min</mo>" not in mathml.latex_to_mathml(r"\argmin_x f")  # starred: limits under it
    assert '<mo movablelimits="true">arg\u2009min</mo>' in mathml.latex_to_mathml(r"\argmin_x f")
    assert "<mo>softmax</mo>" in mathml.latex_to_mathml(r"\operatorname{softmax}(x)")
    assert '<mo movablelimits="true">ess\u2009sup</mo>' in mathml.latex_to_mathml(r"\operatorname*{ess\,sup}_x f")


def test_chinese_inside_math_is_text_that_falls_back_to_the_chinese_font():
    html = markup.mark_chinese("<body><p>" + mathml.latex_to_mathml(r"P(\text{宝玉} \mid \text{黛玉})") + "</p></body>")
    assert '<mtext lang="zh-CN">宝玉</mtext>' in html and "<span" not in html


@pytest.mark.parametrize("tex, reason", [
    (r"\foo{x} + 1", r"TeX command\(s\) \\foo left unconverted"),
    (r"a &= b", "alignment '&'"),
    (r"\frac{1}{", "latex2mathml cannot read it"),
    (r"\begin{aligned} a &= b", r"\\begin\{aligned\} without \\end"),
    (r"\operatorname{\frac{a}{b}}", "operator name"),
])
def test_math_that_does_not_convert_is_an_error_naming_the_formula(tex, reason):
    with pytest.raises(mathml.MathError, match=reason) as error:
        mathml.latex_to_mathml(tex)
    assert error.value.tex == tex


def test_a_notebook_with_broken_math_raises_all_its_formulas_at_once():
    book = new_notebook(cells=[new_markdown_cell(r"One $\foo$ and two $a &= b$, then fine $x^2$.")])
    with pytest.raises(notebook.MathErrors) as errors:
        notebook.notebook_body(book)
    assert [e.tex for e in errors.value.errors] == [r"\foo", "a &= b"]


# --- notebook outputs ---------------------------------------------------------------------------

def test_terminal_text_resolves_redraws():
    assert notebook.terminal_text("epoch 1\b\b\b\b\b\b\bepoch 2\n") == "epoch 2\n"
    assert notebook.terminal_text("10%\r50%\r100%\nnext\r\n") == "100%\nnext\n"
    assert notebook.terminal_text("plain\n") == "plain\n"


def test_widget_views_become_static_html_and_the_state_is_dropped():
    state = {"box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_label", "IPY_MODEL_bar"]}},
             "label": {"model_name": "HTMLModel", "state": {"value": "epochs: 100%"}},
             "bar": {"model_name": "FloatProgressModel", "state": {"value": 3.0, "max": 3.0, "min": 0}}}
    html = notebook.widget_html("box", state)
    assert "epochs: 100%" in html and '<progress value="3.0" max="3.0">' in html
    assert notebook.widget_html("missing", state) is None
    book = new_notebook(cells=[new_code_cell("fit()", outputs=[new_output("display_data", data={
        notebook.WIDGET_VIEW: {"model_id": "box"}, "text/plain": "HBox(0%)"})])])
    book.metadata["widgets"] = {notebook.WIDGET_STATE: {"state": state}}
    notebook.static_widgets(book)
    assert "widgets" not in book.metadata and "epochs: 100%" in book.cells[0].outputs[0].data["text/html"]


def test_failure_finds_the_failing_cell_or_the_last_that_ran():
    def executed(cells):
        book = new_notebook(cells=cells)
        for count, cell in enumerate(book.cells, start=1):
            cell.execution_count = count
        return book

    assert notebook.failure(executed([new_code_cell("1", outputs=[])])) is None
    error = executed([new_code_cell("1", outputs=[]), new_code_cell("x", outputs=[new_output(
        "error", ename="NameError", evalue="x", traceback=[])])])
    assert notebook.failure(error) == {"cell": 1, "error": "NameError: x"}
    died = executed([new_code_cell("1", outputs=[]), new_code_cell("2", outputs=[])])
    died.cells[1].execution_count = None
    assert notebook.failure(died)["cell"] == 0
    assert "not executed" in notebook.failure(new_notebook(cells=[new_code_cell("1")]))["error"]


# --- media --------------------------------------------------------------------------------------

def picture(size=(120, 80), photo=False) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(0)
    if photo:
        pixels = (rng.random((size[1], size[0], 3)) * 255).astype("uint8")
    else:
        pixels = np.full((size[1], size[0], 4), 255, "uint8")
        pixels[size[1] // 2, :, :3] = (30, 100, 200)  # a line on white, opaque RGBA as matplotlib writes
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_images_are_stored_once_in_a_lighter_format(tmp_path):
    from PIL import Image

    store = media.MediaStore(tmp_path)
    figure = picture()
    link, size = store.image(figure)
    assert link.startswith("_media/") and size == (120, 80) and store.image(figure, "../")[0] == "../" + link
    stored = tmp_path / link
    assert len(list((tmp_path / "_media").iterdir())) == 1 and stored.stat().st_size <= len(figure)
    if stored.suffix == ".webp":  # a figure: lossless, the same pixels
        assert np.array_equal(np.asarray(Image.open(stored).convert("RGB")),
                              np.asarray(Image.open(io.BytesIO(figure)).convert("RGB")))
    assert media.is_photograph(Image.open(io.BytesIO(picture(photo=True))))
    assert not media.is_photograph(Image.open(io.BytesIO(figure)))
    photo, extension, size = media.compact_image(picture((400, 200), photo=True), display_width=200)
    assert extension == "webp" and size == (300, 150) == Image.open(io.BytesIO(photo)).size  # 1.5 px per CSS px


def test_sound_becomes_mp3_and_downloads_keep_printed_outputs_but_not_media():
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(16000)
        sound.writeframes((8000 * np.sin(np.arange(16000) / 5)).astype("<i2").tobytes())
    mp3 = media.wav_to_mp3(buffer.getvalue())
    assert len(mp3) < len(buffer.getvalue()) / 3 and (mp3[:3] == b"ID3" or mp3[:2] in (b"\xff\xfb", b"\xff\xf3"))
    html = f'<audio controls><source src="data:audio/wav;base64,{base64.b64encode(buffer.getvalue()).decode()}" type="audio/wav"></audio>'
    book = new_notebook(cells=[new_code_cell("show()", outputs=[
        new_output("display_data", data={"image/png": base64.b64encode(picture(photo=True)).decode(),
                                         "text/plain": "<Figure>"}, metadata={"image/png": {"alt": "a cat"}}),
        new_output("display_data", data={"text/html": html}),
        new_output("stream", name="stdout", text="accuracy 0.98\n")])])
    media.light_notebook(book)
    photo, sound, printed = book.cells[0].outputs
    assert photo.data == {"text/plain": "[a cat: shown on the chapter's web page; run the cell to draw it]"}
    assert list(sound.data) == ["text/plain"] and "web page" in sound.data["text/plain"] and not photo.metadata
    assert printed.text == "accuracy 0.98\n"  # what the chapter printed stays


# --- fonts --------------------------------------------------------------------------------------

def test_fonts_keep_the_characters_the_pages_use(tmp_path):
    from fontTools.ttLib import TTFont

    pages = ["<p>深度学习 <math><mi>x</mi><mo>∑</mo><mtext>宝</mtext></math></p>", "<p>卷积 “quoted”</p>"]
    chinese, math = fonts.characters_used(pages)
    assert chinese == set("深度学习卷积宝“”")
    assert {"x", "∑", "\U0001d465"} <= math and "宝" not in math  # 𝑥: MathML's italic x
    written = fonts.write_fonts(tmp_path, pages)
    cmap = TTFont(tmp_path / written["chinese"]["file"]).getBestCmap()
    assert {chr(c) for c in cmap} >= set("深度学习卷积宝") and len(cmap) < 200
    math_font = TTFont(tmp_path / written["math"]["file"])
    assert "MATH" in math_font and ord("∑") in math_font.getBestCmap()
    assert math_font.flavor == "woff2" and (tmp_path / written["math"]["file"]).stat().st_size < 200_000
    again = fonts.write_fonts(tmp_path, pages)
    assert again == written and len(list(tmp_path.glob("*.woff2"))) == 2  # reused, nothing left over
    assert "U+4E00-9FFF" in fonts.chinese_unicode_range()


# --- markup -------------------------------------------------------------------------------------

def test_code_lines_keep_their_indentation_and_text():
    html = ('<pre><span class="k">def</span> f():\n    <span class="s">"""one\n    two"""</span>\n'
            '        return 1\n</pre>')
    lined = markup.code_lines(html)
    assert lined.count('class="line"') == 4
    assert '<span class="line" style="--indent:4">    <span class="s">"""one</span>\n</span>' in lined
    assert '<span class="line" style="--indent:4"><span class="s">    two"""</span>' in lined  # reopened
    assert 'style="--indent:8">        return 1' in lined
    assert markup.TAG.sub("", lined) == markup.TAG.sub("", html)  # copying gives the same text
    assert markup.code_lines(lined) == lined


def test_chinese_text_gets_its_language():
    page = ('<html><head><title>第5章</title></head><body><p>The book 深度学习原理与PyTorch实战 (第5章 手写)</p>'
            '<script>var s = "中文";</script><pre>print("你好")</pre></body></html>')
    marked = markup.mark_chinese(page)
    assert '<span lang="zh-CN">深度学习原理与</span>PyTorch<span lang="zh-CN">实战</span>' in marked
    assert '(<span lang="zh-CN">第5章 手写</span>)' in marked and '<title>第5章</title>' in marked
    assert 'var s = "中文"' in marked and 'print("<span lang="zh-CN">你好</span>")' in marked
    assert markup.mark_chinese(page, "zh-CN") == page


# --- search -------------------------------------------------------------------------------------

def test_search_index_has_a_section_per_heading_with_prose_and_code(tmp_path):
    book = new_notebook(cells=[
        new_markdown_cell("# Title\n\nIntro with $x^2$ and a [link](http://x)."),
        new_markdown_cell("## The data\n\nMNIST *digits*.\n\n```python\n# not a heading\n```"),
        new_code_cell("load_digits(train_size=100)"),
        new_markdown_cell("### Details\n\nMore."),
    ])
    body = notebook.notebook_body(book)
    entries = search.index_entries("05_x.html", "05 · Title", book, body)
    assert [(e["a"], e["s"]) for e in entries] == [("", ""), ("The-data", "The data"), ("Details", "Details")]
    assert entries[0]["t"] == "Intro with and a link." and "x^2" not in entries[0]["t"]
    assert entries[1]["t"] == "MNIST digits. load_digits(train_size=100)"
    path = search.write_index(tmp_path, "en", entries)
    script = path.read_text(encoding="utf-8")
    assert script.startswith("window.dlbookSearchIndex = ") and json.loads(script[27:].rstrip(";\n")) == entries


# --- machine paths ------------------------------------------------------------------------------

def test_scrub_rewrites_machine_folders_and_drops_lock_messages():
    root = project_root()
    text = f"saved: {root}/data/models/m.keras; scratch /tmp/tmpx1/part.npz; home {scrub.Path.home()}/.keras/x"
    assert scrub.scrub_text(text) == "saved: data/models/m.keras; scratch <tmp>/part.npz; home ~/.keras/x"
    assert scrub.find_machine_paths(text) and scrub.find_machine_paths(scrub.scrub_text(text)) == []
    if not str(root).startswith("/tmp/"):  # a checkout under /tmp is itself a scratch folder (<tmp>)
        assert scrub.scrub_text(f"{root}2/x") == f"{root}2/x"  # another folder that merely starts alike
    book = new_notebook(cells=[new_code_cell("x", outputs=[
        new_output("stream", name="stderr", text="dlbook: waiting for /m/x.keras (another process holds its lock; e.g. …) ...\n"),
        new_output("stream", name="stdout", text=f"{root}/build/a.txt\n"),
        new_output("error", ename="E", evalue=f"{root}/x", traceback=[f"File {root}/dlbook/a.py"])])])
    scrub.scrub_notebook(book)
    stream, error = book.cells[0].outputs
    assert stream.text == "build/a.txt\n" and error.evalue == "x" and error.traceback == ["File dlbook/a.py"]


def test_audit_reports_weight_paths_and_missing_glyphs(tmp_path, monkeypatch):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "book.css").write_text("body{}", encoding="utf-8")
    (tmp_path / "big.webp").write_bytes(b"x" * 3000)
    (tmp_path / "index.html").write_text('<link rel="stylesheet" href="_static/book.css"><img src="big.webp">'
                                         '<p>/tmp/tmpq/x.npz</p>', encoding="utf-8")
    monkeypatch.setattr(audit, "PAGE_BUDGET", 2000)
    report = audit.audit_site(tmp_path)
    assert report["pages"]["index.html"] == 3000 + 6 + len((tmp_path / "index.html").read_bytes())
    assert any("index.html weighs" in p for p in report["problems"])
    assert any("index.html shows the build machine: ['/tmp/tmpq/x.npz']" in p for p in report["problems"])
    monkeypatch.setattr(audit, "SITE_BUDGET", 100)
    assert any("the site weighs" in p for p in audit.audit_site(tmp_path)["problems"])


# --- JupyterLab ---------------------------------------------------------------------------------

def test_lab_settings_make_markdown_open_as_notebooks_and_keep_other_settings(tmp_path):
    path = lab.settings_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Editor"},
                                                                            "autosave": False}}))
    assert lab.install_lab_settings(tmp_path) == path
    settings = json.loads(path.read_text())
    docmanager = settings["@jupyterlab/docmanager-extension:plugin"]
    assert docmanager == {"defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"},
                          "autosave": False}
    assert settings["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false", "checkForUpdates": False}
