"""Both editions on the website (dlbook.site.editions): the tiny synthetic book of tests/test_site.py
with a Chinese edition of two of its three chapters and a glossary. The Chinese pages show the
English run's outputs cell by cell, link to the same page in English and back, have Chinese
navigation, titles and home page, and pass the headless-browser check (fonts cover their characters)."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from dlbook.site import audit, browser, build, editions, languages
from tests.test_site import LONG_CODE, needs_chromium, text, write_book

RARE = "龘"  # a character only the Chinese edition uses: the font subset must include it

FIRST = f"""# 第一个章节

**书中章节:** 第1章 引言，本版用 Keras 3 实现<br>
**运行时间:** 几秒钟

本章用语以[术语表](GLOSSARY.md)为准；英文版：[A first chapter](../01_first.md#The-model)。

```python
import dlbook  # 最先导入：中文注释可以不同
config = dlbook.setup()
```

## 模型

每个预测是 $\\hat y = \\sigma(w^\\top x + b)$，损失是

$$L = -\\frac{{1}} {{n}} \\sum_{{i=1}}^{{n}} y_i \\log \\hat y_i .$$

卷积神经网络识别手写数字{RARE}，供搜索的英文词：quaternionic。

```python
plot()
```

```python
{LONG_CODE}```

```python
save()
```

```python
play()
```
"""
BROKEN = """# 出错的章节

**书中章节:** 第2章 出错<br>

```python
x = 1
```

```python
1 / 0
```

```python
after()
```
"""
GLOSSARY_TEXT = "# 术语表 · Glossary\n\n| English | 中文 |\n|---|---|\n| tensor | 张量 |\n\n第一章：[引言](01_first.md)\n"


def write_chinese(folder) -> list:
    chinese = folder / "chapters" / "zh"
    chinese.mkdir(parents=True)
    (chinese / "01_first.md").write_text(FIRST, encoding="utf-8")
    (chinese / "02_broken.md").write_text(BROKEN, encoding="utf-8")
    (chinese / "GLOSSARY.md").write_text(GLOSSARY_TEXT, encoding="utf-8")
    return sorted(chinese.glob("[0-9][0-9]_*.md"))


def build_both(folder) -> build.Path:
    build_folder, sources = write_book(folder)
    return build.build_site(build_folder, sources=sources, repository="",
                            translations={"zh-CN": write_chinese(folder)}).parent


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_both(tmp_path_factory.mktemp("editions"))


def page(site, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


def switch(html: str) -> list[tuple[str, str]]:
    """The language switch of a page: (href, text) of each link."""
    found = re.search(r'<p class="languages">(.*?)</p>', html, re.DOTALL)
    return [(href, text(name)) for href, name in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', found.group(1))] \
        if found else []


def test_the_chinese_edition_has_a_page_per_translated_chapter_a_home_page_and_a_glossary(site):
    assert sorted(p.name for p in (site / "zh").glob("*.html")) == ["01_first.html", "02_broken.html",
                                                                    "glossary.html", "index.html"]
    for name in ("zh/index.html", "zh/01_first.html", "zh/glossary.html"):
        assert '<html lang="zh-CN"' in page(site, name) and 'href="../_static/book.css"' in page(site, name)
    assert '<html lang="en"' in page(site, "index.html")
    assert {"search-en.js", "search-zh-CN.js"} <= {p.name for p in (site / "_static").iterdir()}
    index = (site / "_static" / "search-zh-CN.js").read_text(encoding="utf-8")
    assert '"p":"zh/01_first.html"' in index and "quaternionic" in index and "03_later" not in index


def test_a_chinese_page_shows_the_english_runs_outputs_cell_by_cell(site):
    english, chinese = page(site, "01_first.html"), page(site, "zh/01_first.html")
    assert "最先导入：中文注释可以不同" in chinese and "epoch 2" in chinese and "epoch 1" not in chinese
    images = [dict(re.findall(r'(src|alt)="([^"]+)"', img)) for img in re.findall(r"<img[^>]*>", chinese)]
    assert [i["alt"] for i in images] == ["loss per epoch", "“模型”一节中的图"]  # the fallback alt text in Chinese
    english_media = re.findall(r'src="(_media/[^"]+)"', english)
    assert [i["src"] for i in images] == ["../" + m for m in english_media[:2]]  # the same files, not copies
    assert re.search(r'src="\.\./_media/\w+\.mp3"', chinese) and chinese.count("<math") == 2
    assert "data/models/cnn-abc.keras" in chinese and "holds its lock" not in chinese  # scrubbed like English
    downloaded = nbformat.read(site / "zh/_downloads/01_first.ipynb", as_version=4)
    outputs = [c.get("outputs") for c in downloaded.cells if c.cell_type == "code"]
    assert len(outputs) == 5 and all(outputs[:3])
    assert any("卷积神经网络" in c.source for c in downloaded.cells if c.cell_type == "markdown")  # the Chinese text


def test_every_page_switches_to_the_same_page_in_the_other_edition(site):
    assert switch(page(site, "01_first.html")) == [("zh/01_first.html", "中文")]
    assert switch(page(site, "zh/01_first.html")) == [("../01_first.html", "English")]
    assert switch(page(site, "index.html")) == [("zh/index.html", "中文")]
    assert switch(page(site, "zh/index.html")) == [("../index.html", "English")]
    assert switch(page(site, "03_later.html")) == []  # no Chinese edition of chapter 03: no switch
    assert '<link rel="alternate" hreflang="zh-CN" href="zh/01_first.html">' in page(site, "01_first.html")


def test_the_chinese_edition_has_chinese_navigation_titles_and_home_page(site):
    home, first, broken = page(site, "zh/index.html"), page(site, "zh/01_first.html"), page(site, "zh/02_broken.html")
    assert "<title>01 · 第一个章节 — 第1章 引言</title>" in first  # the book's title, without "，本版…"
    assert 'placeholder="搜索全书"' in first
    for shown in ("目录", "下一章", "02 · 出错的章节", "术语表", "fast 模式", "笔记本 (.ipynb)"):
        assert shown in text(first), shown
    assert "Contents" not in text(first) and "Next" not in text(first)
    for shown in ("张江等著", "章节", "结果", "阅读与运行", "出错", "全部在 fast 模式 · jax · CPU (2 cores) · float32 下测得",
                  "以下各章暂时只有英文版", "03 · A later chapter", "开始阅读"):
        assert shown in text(home), shown
    assert 'href="../03_later.html" hreflang="en"' in home  # the untranslated chapter: its English page
    assert "Each chapter" not in text(home) and "Reading and running" not in text(home)
    lead = re.search(r'<p class="lead">(.*?)</p>', home, re.DOTALL).group(1)
    assert not re.search(r"[\u4e00-\u9fff，。]\s+[\u4e00-\u9fff]", lead)  # no line break shown as a space in Chinese
    assert "本章执行出错" in broken and "ZeroDivisionError: division by zero" in broken and 'id="failure"' in broken
    assert "celltag_dlbook-failed" in broken and "celltag_dlbook-not-run" in broken
    assert "以下各章" not in page(site, "index.html") and "Chapters" in text(page(site, "index.html"))


def test_links_between_sources_become_links_between_pages(site):
    first, glossary = page(site, "zh/01_first.html"), page(site, "zh/glossary.html")
    assert 'href="glossary.html">术语表</a>' in first and 'href="../01_first.html#The-model">A first chapter</a>' in first
    assert ".md" not in "".join(re.findall(r'<article class="chapter">.*?</article>', first, re.DOTALL)[0].split(
        "_downloads"))  # no link to a Markdown file left in the chapter's text
    assert 'href="01_first.html">引言</a>' in glossary and "<table>" in glossary and "张量" in glossary


def test_the_font_subset_covers_the_chinese_pages(site):
    from fontTools.ttLib import TTFont

    font = next((site / "_static").glob("chinese-*.woff2"))
    assert ord(RARE) in TTFont(font).getBestCmap() and RARE not in page(site, "01_first.html")
    assert audit.audit_site(site)["problems"] == [] and audit.chinese_font_gaps(site) == set()


def test_merge_outputs_copies_outputs_by_code_cell_and_refuses_other_code():
    executed = new_notebook(cells=[new_markdown_cell("# English"), new_code_cell("x = 1  # one", execution_count=1),
                                   new_code_cell("print(x)", execution_count=2, outputs=[
                                       new_output("stream", name="stdout", text="1\n")])],
                            metadata={"widgets": {"state": 1}, "language_info": {"name": "python"}})
    chinese = new_notebook(cells=[new_markdown_cell("# 中文"), new_markdown_cell("说明"),
                                  new_code_cell("x = 1  # 一"), new_code_cell("print(x)")])
    merged = editions.merge_outputs(chinese, executed, "chapter 07")
    assert [c.source for c in merged.cells] == ["# 中文", "说明", "x = 1  # 一", "print(x)"]
    assert merged.cells[3].outputs[0].text == "1\n" and merged.cells[3].execution_count == 2
    assert merged.metadata["widgets"] == {"state": 1} and not chinese.cells[3].get("outputs")  # a copy
    chinese.cells[3].source = "print(x + 1)"
    with pytest.raises(ValueError, match=r"chapter 07: code cell 2 differs"):
        editions.merge_outputs(chinese, executed, "chapter 07")
    chinese.cells.append(new_code_cell("extra()"))
    with pytest.raises(ValueError, match=r"chapter 07: 3 code cells, but the executed English notebook has 2"):
        editions.merge_outputs(chinese, executed, "chapter 07")


def test_a_chinese_chapter_whose_code_is_not_the_executed_code_fails_the_build(tmp_path):
    build_folder, sources = write_book(tmp_path)
    chinese = write_chinese(tmp_path)
    chinese[0].write_text(FIRST.replace("plot()", "plot(2)"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"chapter 01 .*01_first.md\): code cell 2 differs"):
        build.build_site(build_folder, sources=sources, repository="", translations={"zh-CN": chinese})


def test_chinese_title_reads_both_editions_headers():
    assert build.chinese_title("**Book chapter:** 第5章 手写数字识别器 (Handwritten digits)<br>") == "第5章 手写数字识别器"
    assert build.chinese_title("**书中章节:** 第2章 PyTorch 简介，本版用 Keras 3 实现<br>") == "第2章 PyTorch 简介"
    assert build.chinese_title("**书中章节：** 第3章 单车预测器<br>\n") == "第3章 单车预测器"


def test_repository_links_of_a_chinese_chapter_open_its_own_notebook():
    zh = editions.EDITIONS[1]
    chapter = build.Chapter("02", "tensors_autodiff", "t", "", build.project_root() / "chapters/zh/02_tensors_autodiff.md",
                            None)
    links = build.repository_links("https://github.com/someone/dlbook", chapter, zh)
    assert links["view_source"].endswith("/blob/main/chapters/zh/02_tensors_autodiff.md")
    assert links["colab"].endswith("/blob/gh-pages/zh/_downloads/02_tensors_autodiff.ipynb")


def test_the_checkout_pairs_every_chinese_chapter_with_an_english_one():
    """The real editions: each chapters/zh/ chapter reads as a translated chapter with a Chinese title."""
    root = build.project_root()
    chinese = sorted((root / "chapters/zh").glob("[0-9][0-9]_*.md"))
    found = build.find_chapters(root / "no-build-here", chinese, translated=True)
    assert [c.stem for c in found] == [p.stem for p in chinese] and chinese
    assert all((root / "chapters" / c.source.name).is_file() and re.search("[\u4e00-\u9fff]", c.title)
               and c.chinese_title.startswith("第") for c in found)


def test_the_site_check_covers_a_chinese_page_and_the_language_switch(site, tmp_path):
    """In headless Chromium: the Chinese page of the checked chapter loads without console errors,
    with its figures decoded, math laid out and the Chinese font loaded; every language switch leads
    to the same page in the other edition and back."""
    needs_chromium()
    report = browser.check_site(site, chapter="01", screenshots=tmp_path / "shots", widths=(1280,))
    assert report["problems"] == []
    chinese = report["pages"]["zh/01_first.html@1280"]
    assert chinese["errors"] == [] and [i["width"] for i in chinese["images"]] == [100, 1]
    assert chinese["math"] == 2 and chinese["math_font"] == "loaded" and chinese["chinese_font"] == "loaded"
    switched = {(s["from"], s["to"], s["lang"]) for s in report["languages"]}
    assert {("01_first.html", "zh/01_first.html", "zh-CN"), ("zh/01_first.html", "01_first.html", "en"),
            ("index.html", "zh/index.html", "zh-CN"), ("zh/index.html", "index.html", "en")} <= switched
    assert (tmp_path / "shots" / "site-zh-01.png").stat().st_size > 10_000


def test_the_site_check_reports_a_broken_language_switch(tmp_path):
    needs_chromium()
    site = build_both(tmp_path)
    english = page(site, "01_first.html")
    (site / "01_first.html").write_text(english.replace('href="zh/01_first.html" hreflang', 'href="zh/02_broken.html" hreflang'),
                                        encoding="utf-8")
    chinese = page(site, "zh/02_broken.html")
    (site / "zh/02_broken.html").write_text(chinese.replace('<p class="languages">', '<p class="nothing">'),
                                            encoding="utf-8")
    with browser.Chromium() as chromium:
        problems = []
        for name in ("01_first.html", "zh/02_broken.html"):
            chromium.open((site / name).as_uri())
            problems += languages.check_language_switch(chromium, site, site / name)[1]
    assert problems == ["01_first.html: its language switch leads to another page (zh/02_broken.html)",
                        "01_first.html: zh/02_broken.html has no language switch back to it (it links [])",
                        "zh/02_broken.html: no language switch, though 02_broken.html is the same page in another edition"]
    assert json.dumps(languages.translations(site, site / "03_later.html")) == "[]"
