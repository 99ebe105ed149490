"""The two editions of the book share one code: ``chapters/NN_slug.md`` (English) and
``chapters/zh/NN_slug.md`` (Chinese) have the same code cells.

Every English chapter has a Chinese edition and every Chinese chapter an English one; their code
cells are equal cell by cell, compared as Python tokens with comments ignored (so comments may be
translated, while names, numbers and strings may not differ); their jupytext front matter and the
cells' metadata (tags) are equal. The Chinese chapters are not executed a second time: the website
renders them with the English run's outputs, cell by cell, which is right only because of this test.

Nothing here executes a notebook: jupytext reads the files and :mod:`tokenize` compares the code.
"""

from __future__ import annotations

import io
import shutil
import tokenize
from dataclasses import dataclass
from pathlib import Path

import jupytext
import pytest

from tests.conftest import ROOT

ENGLISH = ROOT / "chapters"
CHINESE = ENGLISH / "zh"
GLOSSARY = CHINESE / "GLOSSARY.md"
CHAPTER_PATTERN = "[0-9][0-9]_*.md"

# The English chapters that have no Chinese edition yet: empty, since every chapter has both. A new
# English chapter fails the test until its Chinese edition exists or it is listed here, and a listed
# chapter that gains its Chinese edition fails it until it is taken off, so the list says exactly what
# is left to translate.
UNTRANSLATED: tuple[str, ...] = ()

# Cell magics whose body is Python (compared as tokens); any other cell magic's body (%%bash,
# %%writefile …) is compared line by line as text, its comments included.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}
# Tokens compared by type only: their text is layout (indentation, line ends), not code.
LAYOUT_TOKENS = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
# Cell metadata that jupytext keeps about the Markdown file's layout (blank lines after a cell…),
# not about the cell: left out of the comparison.
LAYOUT_METADATA = ("cell_marker", "lines_to_next_cell", "lines_to_end_of_cell_marker")
MAGIC = "MAGIC"  # the type of a magic line's token, compared verbatim (`%matplotlib inline`, `!ls`)


@dataclass(frozen=True)
class CodeCell:
    number: int  # 1-based among the chapter's code cells
    notebook_index: int  # 0-based among all its cells (Markdown included)
    source: str
    metadata: dict


@dataclass(frozen=True)
class Token:
    kind: object  # a tokenize token type, or MAGIC
    text: str
    line: int  # 1-based line of the cell where the token starts


def chapter_files(folder: Path) -> dict[str, Path]:
    """The chapters directly in ``folder`` (``NN_slug.md``), by stem."""
    return {path.stem: path for path in sorted(folder.glob(CHAPTER_PATTERN))}


def read_chapter(path: Path):
    return jupytext.read(path)


def code_cells(notebook) -> list[CodeCell]:
    cells = [(index, cell) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    return [
        CodeCell(number, index, cell.source, {key: value for key, value in cell.metadata.items() if key not in LAYOUT_METADATA})
        for number, (index, cell) in enumerate(cells, 1)
    ]


def is_magic_line(line: str) -> bool:
    """An IPython line magic or shell escape: ``%name …``, ``!command`` (at any indentation)."""
    return line.lstrip().startswith(("%", "!"))


def code_tokens(source: str) -> list[Token]:
    """The tokens of a code cell that make up its code: Python's tokens without comments and
    non-logical line breaks, with each IPython magic line (and the body of a non-Python cell
    magic) as one verbatim token.

    Raises ``tokenize.TokenError`` or ``SyntaxError`` (an ``IndentationError``) for a cell that is
    not Python.
    """
    lines = source.splitlines()
    magics: list[Token] = []
    python_lines = list(lines)
    if lines and lines[0].startswith("%%"):
        magic_name = lines[0][2:].split(maxsplit=1)[0] if lines[0][2:].strip() else ""
        magics.append(Token(MAGIC, lines[0].strip(), 1))
        python_lines[0] = ""
        if magic_name not in PYTHON_CELL_MAGICS:
            body = [Token(MAGIC, line.rstrip(), number) for number, line in enumerate(lines[1:], 2) if line.strip()]
            return magics + body
    for number, line in enumerate(python_lines, 1):
        if is_magic_line(line):
            magics.append(Token(MAGIC, line.strip(), number))
            python_lines[number - 1] = ""  # keeps the line numbers of the Python tokens
    text = "\n".join(python_lines) + "\n"
    python = [
        Token(token.type, "" if token.type in LAYOUT_TOKENS else token.string, token.start[0])
        for token in tokenize.generate_tokens(io.StringIO(text).readline)
        if token.type not in (tokenize.COMMENT, tokenize.NL)
    ]
    return sorted(magics + python, key=lambda token: token.line)  # stable: a line's tokens keep their order


def line_of(source: str, number: int) -> str:
    lines = source.splitlines()
    return lines[number - 1].strip() if 0 < number <= len(lines) else "(the end of the cell)"


def cell_difference(english: CodeCell, chinese: CodeCell) -> str | None:
    """Where two code cells differ as code (comments aside), or None if they are the same code."""
    if english.metadata != chinese.metadata:
        return f"metadata (tags) differ: English {english.metadata}, Chinese {chinese.metadata}"
    try:
        english_tokens, chinese_tokens = code_tokens(english.source), code_tokens(chinese.source)
    except (tokenize.TokenError, SyntaxError) as error:
        return f"cannot be read as Python ({error}); both editions' cells must be valid code"
    for position in range(max(len(english_tokens), len(chinese_tokens))):
        left = english_tokens[position] if position < len(english_tokens) else None
        right = chinese_tokens[position] if position < len(chinese_tokens) else None
        if left is None or right is None or (left.kind, left.text) != (right.kind, right.text):
            english_line = left.line if left else len(english.source.splitlines()) + 1
            chinese_line = right.line if right else len(chinese.source.splitlines()) + 1
            return (
                f"first differing line: English line {english_line}: {line_of(english.source, english_line)!r}; "
                f"Chinese line {chinese_line}: {line_of(chinese.source, chinese_line)!r}"
            )
    return None


def edition_differences(english_path: Path, chinese_path: Path) -> list[str]:
    """How the Chinese edition of a chapter differs from the English one in anything but prose and
    comments: the front matter, the number of code cells, each code cell (the first difference
    within it). Empty when both editions hold the same code."""
    name = english_path.stem
    english, chinese = read_chapter(english_path), read_chapter(chinese_path)
    problems = []
    if english.metadata != chinese.metadata:
        problems.append(f"{name}: the jupytext front matter differs (copy the English file's header)")
    english_cells, chinese_cells = code_cells(english), code_cells(chinese)
    if len(english_cells) != len(chinese_cells):
        problems.append(f"{name}: the English edition has {len(english_cells)} code cells, the Chinese {len(chinese_cells)}")
    for english_cell, chinese_cell in zip(english_cells, chinese_cells):
        difference = cell_difference(english_cell, chinese_cell)
        if difference:
            problems.append(
                f"{name}, code cell {english_cell.number} (notebook cell {english_cell.notebook_index + 1} in English, "
                f"{chinese_cell.notebook_index + 1} in Chinese): {difference}"
            )
    return problems


def pairing_problems(english_folder: Path, chinese_folder: Path, untranslated: tuple[str, ...]) -> list[str]:
    """The chapters missing from either edition, and the entries of ``untranslated`` that are stale."""
    english, chinese = chapter_files(english_folder), chapter_files(chinese_folder)
    problems = []
    for name in english:
        if name not in chinese and name not in untranslated:
            problems.append(f"{name}: no Chinese edition (write chapters/zh/{name}.md)")
    for name in chinese:
        if name not in english:
            problems.append(f"{name}: a Chinese chapter without an English one (chapters/{name}.md)")
        elif name in untranslated:
            problems.append(f"{name}: translated now; take it off UNTRANSLATED in tests/test_editions.py")
    for name in untranslated:
        if name not in english:
            problems.append(f"{name}: listed in UNTRANSLATED but no such English chapter")
    return problems


# --- the book's two editions -------------------------------------------------------------------


def test_every_chapter_is_in_both_editions():
    problems = pairing_problems(ENGLISH, CHINESE, UNTRANSLATED)
    assert not problems, "\n".join(problems)


TRANSLATED = sorted(set(chapter_files(ENGLISH)) & set(chapter_files(CHINESE)))


@pytest.mark.parametrize("name", TRANSLATED)
def test_both_editions_have_the_same_code(name):
    problems = edition_differences(ENGLISH / f"{name}.md", CHINESE / f"{name}.md")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", TRANSLATED)
def test_a_chinese_chapter_has_the_header_and_links_the_glossary(name):
    text = (CHINESE / f"{name}.md").read_text(encoding="utf-8")
    for field in ("**书中章节:**", "**加速器:**", "**运行时间:**"):
        assert field in text, f"chapters/zh/{name}.md lacks the header line {field}"
    assert "](GLOSSARY.md)" in text, f"chapters/zh/{name}.md does not link the glossary"


def test_the_glossary_is_a_table_that_links_the_book_source():
    text = GLOSSARY.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("|") and not line.startswith("|--")]
    terms = {row.split("|")[2].strip() for row in rows[1:]}
    for term in ("张量", "自动微分", "反向传播", "卷积", "迁移学习", "生成对抗网络", "词向量", "注意力机制", "强化学习"):
        assert term in terms, f"the glossary lacks {term}"
    assert "github.com/swarmapytorch/book_DeepLearning_in_PyTorch_Source" in text


def avoided_terms(glossary_text: str) -> dict[str, str]:
    """The glossary's table of terms the Chinese edition does not use: {avoided: used}."""
    section = glossary_text.split("## 不用的译名", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("|") and not line.startswith("|--")]
    return {avoided.strip(): used.strip() for avoided, used in rows[1:]}


@pytest.mark.parametrize("name", TRANSLATED)
def test_a_chinese_chapter_uses_the_glossary_terms(name):
    avoided = avoided_terms(GLOSSARY.read_text(encoding="utf-8"))
    assert "验证集" in avoided
    text = (CHINESE / f"{name}.md").read_text(encoding="utf-8")
    found = {term: used for term, used in avoided.items() if term in text}
    assert not found, f"chapters/zh/{name}.md uses {', '.join(found)}; the glossary's terms are {', '.join(found.values())}"


def test_the_readmes_link_each_other():
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert "README.zh-CN.md" in english.splitlines()[0], "README.md's first line must link README.zh-CN.md"
    assert "](README.md)" in chinese
    for command in ("make book", "make test", "make lab", "DLBOOK_MIRROR"):
        assert command in chinese, f"README.zh-CN.md does not mention {command}"


# --- the test fails when the code of either edition changes ------------------------------------

A_CHAPTER = """<!--
---
jupyter:
  kernelspec:
    display_name: Python 3
    language: python
    name: python3
---
-->

# {title}

{prose}

```python
%matplotlib inline
import numpy as np  # {comment}
```

{prose}

```python tags=["raises-exception"]
def square(x):
    {comment_line}
    return x ** 2  # {comment}

print(square(3), "{text}")
```
"""

ENGLISH_CHAPTER = A_CHAPTER.format(
    title="A chapter", prose="Some prose.", comment="a comment", comment_line="# squares x", text="nine"
)


def write_pair(tmp_path: Path, chinese_text: str, english_text: str = ENGLISH_CHAPTER) -> tuple[Path, Path]:
    (tmp_path / "zh").mkdir(exist_ok=True)
    english, chinese = tmp_path / "01_demo.md", tmp_path / "zh" / "01_demo.md"
    english.write_text(english_text, encoding="utf-8")
    chinese.write_text(chinese_text, encoding="utf-8")
    return english, chinese


def test_translated_prose_and_comments_are_the_same_code(tmp_path):
    chinese = A_CHAPTER.format(title="一章", prose="一段文字。", comment="注释", comment_line="# 求平方", text="nine")
    assert edition_differences(*write_pair(tmp_path, chinese)) == []


@pytest.mark.parametrize(
    "change, line",
    [
        (("return x ** 2", "return x ** 3"), "return x ** 3"),  # a number
        (('"nine"', '"九"'), '"九"'),  # a string: the code is the same code, strings included
        (("import numpy as np", "import numpy"), "import numpy"),
        (("%matplotlib inline", "%matplotlib widget"), "%matplotlib widget"),  # a magic
        (("    # squares x", "    squares = x"), "squares = x"),  # a comment that became code
    ],
)
@pytest.mark.parametrize("edition", ["English", "Chinese"])
def test_a_changed_code_line_in_either_edition_fails(tmp_path, edition, change, line):
    changed = ENGLISH_CHAPTER.replace(*change)
    assert changed != ENGLISH_CHAPTER
    english, chinese = (changed, ENGLISH_CHAPTER) if edition == "English" else (ENGLISH_CHAPTER, changed)
    problems = edition_differences(*write_pair(tmp_path, chinese, english))
    assert len(problems) == 1
    assert problems[0].startswith("01_demo, code cell")
    changed_side = problems[0].split(f"{edition} line ", 1)[1].split(";")[0]
    assert line in changed_side and change[0].strip() not in changed_side


def test_a_changed_tag_or_a_missing_cell_fails(tmp_path):
    untagged = ENGLISH_CHAPTER.replace(' tags=["raises-exception"]', "")
    [problem] = edition_differences(*write_pair(tmp_path, untagged))
    assert problem.startswith("01_demo, code cell 2 (notebook cell 4 in English, 4 in Chinese): metadata (tags) differ")
    one_cell = ENGLISH_CHAPTER[: ENGLISH_CHAPTER.index("Some prose.\n\n```python tags")]
    problems = edition_differences(*write_pair(tmp_path, one_cell))
    assert problems == ["01_demo: the English edition has 2 code cells, the Chinese 1"]


def renamed_first_name(source: str, text: str) -> tuple[str, str, int]:
    """A code line of ``source`` that occurs once in ``text``, the same line with its first name
    changed (``m`` → ``m_changed``), and its line number in ``source``."""
    for token in tokenize.generate_tokens(io.StringIO(source + "\n").readline):
        line = token.line.rstrip("\n")
        if token.type == tokenize.NAME and text.count(line) == 1:
            start, end = token.start[1], token.end[1]
            return line, line[:start] + line[start:end] + "_changed" + line[end:], token.start[0]
    raise AssertionError("no code line to change")


@pytest.mark.parametrize("edition", ["English", "Chinese"])
@pytest.mark.parametrize("name", TRANSLATED)
def test_a_changed_line_of_a_real_chapter_fails_naming_chapter_cell_and_line(tmp_path, name, edition):
    copies = {"English": tmp_path / f"{name}.md", "Chinese": tmp_path / "zh" / f"{name}.md"}
    copies["Chinese"].parent.mkdir()
    shutil.copy(ENGLISH / f"{name}.md", copies["English"])
    shutil.copy(CHINESE / f"{name}.md", copies["Chinese"])
    assert edition_differences(copies["English"], copies["Chinese"]) == []
    text = copies[edition].read_text(encoding="utf-8")
    cell = code_cells(read_chapter(copies[edition]))[2]
    line, changed_line, number = renamed_first_name(cell.source, text)
    copies[edition].write_text(text.replace(line, changed_line), encoding="utf-8")
    [problem] = edition_differences(copies["English"], copies["Chinese"])
    assert problem.startswith(f"{name}, code cell 3 ")
    assert f"{edition} line {number}: {changed_line.strip()!r}" in problem


def test_a_missing_or_extra_chapter_fails_naming_it(tmp_path):
    (tmp_path / "zh").mkdir()
    for name in ("01_one", "02_two", "03_three"):
        (tmp_path / f"{name}.md").write_text("# x\n", encoding="utf-8")
    (tmp_path / "zh" / "01_one.md").write_text("# x\n", encoding="utf-8")
    (tmp_path / "zh" / "04_four.md").write_text("# x\n", encoding="utf-8")
    (tmp_path / "zh" / "GLOSSARY.md").write_text("# 术语表\n", encoding="utf-8")
    assert pairing_problems(tmp_path, tmp_path / "zh", ("01_one", "03_three", "05_five")) == [
        "02_two: no Chinese edition (write chapters/zh/02_two.md)",
        "01_one: translated now; take it off UNTRANSLATED in tests/test_editions.py",
        "04_four: a Chinese chapter without an English one (chapters/04_four.md)",
        "05_five: listed in UNTRANSLATED but no such English chapter",
    ]
    assert pairing_problems(tmp_path, tmp_path / "zh", ("02_two", "03_three")) == [
        "04_four: a Chinese chapter without an English one (chapters/04_four.md)",
    ]


def test_code_tokens_ignore_comments_and_layout_but_not_code():
    assert code_tokens("x = 1  # one\n# a line\ny = 'a'") == code_tokens("x = 1  # 一\n\ny = 'a'  # 注释")
    assert code_tokens("x = 1") != code_tokens("x = 2")
    assert code_tokens("y = 'a'") != code_tokens('y = "a"')
    assert code_tokens("s = '# not a comment'") != code_tokens("s = '# 不是注释'")
    assert code_tokens("!ls -l\nx = 1") != code_tokens("!ls\nx = 1")
    # a cell magic with a Python body compares its body as Python; another's body as text
    assert code_tokens("%%time\nx = 1  # a") == code_tokens("%%time\nx = 1  # 一")
    assert code_tokens("%%bash\necho 1  # a") != code_tokens("%%bash\necho 1  # 一")
