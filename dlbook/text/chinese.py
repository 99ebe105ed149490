"""Chinese text for networks: words by jieba, punctuation, and which tokens are Chinese words.

Chapters 04 (the sentiment of reviews) and 09 (word vectors of 红楼梦) turn text into words here,
in Python, outside any model (no Keras is loaded): Keras's ``TextVectorization`` layer runs only on
TensorFlow, and these helpers work the same under every backend. The steps::

    words = [strip_punctuation(segment(review)) for review in reviews]      # jieba, then clean
    vocab = Vocabulary(words, min_count=2)                                   # dlbook.text.vocabulary
    ids, mask = pad([vocab.encode(w) for w in words], max_len=100)          # int32 (N, 100), bool mask

Segmentation uses jieba with dlbook's user dictionary of the names and places of 红楼梦
(``dlbook/text/resources/hongloumeng_names.txt``), so 黛玉笑道 becomes 黛玉 / 笑 / 道, not 黛玉笑 / 道.
:func:`segment_corpus` caches the segmentation of a whole corpus in the data cache, so a chapter
does not re-segment the novel on every run. The corpora themselves are in :mod:`dlbook.text.corpora`.
"""


from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import string
import warnings
from importlib import metadata, resources
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from dlbook.paths import atomic_path, data_dir

with warnings.catch_warnings():
    # jieba imports pkg_resources where it exists, which some setuptools releases deprecate loudly.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    import jieba


# jieba logs "Building prefix dict from the default dictionary ...", "Loading model cost 0.6
# seconds." and more at DEBUG level to stderr whenever a dictionary loads: silenced here, at their
# source, once. Its warnings and errors still show.
jieba.setLogLevel(logging.WARNING)


NAMES_FILE = "resources/hongloumeng_names.txt"


"""dlbook's user dictionary of 红楼梦 names and places, relative to the package folder."""


def _names_file_text() -> str:
    return resources.files("dlbook.text").joinpath(NAMES_FILE).read_text(encoding="utf-8")


def names_dictionary() -> list[tuple[str, int, str]]:
    """The entries of the 红楼梦 user dictionary as ``(word, frequency, tag)``, in file order.

    Tags are jieba's: ``nr`` for a person, ``ns`` for a place. Comment lines (``#``) are skipped.
    """
    entries = []
    for number, line in enumerate(_names_file_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3 or not parts[1].isdigit():
            raise ValueError(f"{NAMES_FILE}, line {number}: expected 'word frequency tag', got {line!r}")
        entries.append((parts[0], int(parts[1]), parts[2]))
    return entries


@functools.cache
def _tokenizer() -> jieba.Tokenizer:
    """jieba's default dictionary plus the 红楼梦 names, loaded once per process.

    A tokenizer of dlbook's own, so that the names do not change what ``jieba.cut`` does elsewhere.
    """
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word, frequency, tag in names_dictionary():
        tokenizer.add_word(word, frequency, tag)
    return tokenizer


def segment(text: str) -> list[str]:
    """The words of ``text``, in order, as jieba cuts them (with the 红楼梦 names whole).

    Punctuation and whitespace come back as tokens of their own; :func:`strip_punctuation` drops them.
    """
    return _tokenizer().lcut(text)


def segmentation_cache_path(lines: Sequence[str], cache_name: str) -> Path:
    """Where :func:`segment_corpus` caches the segmentation of ``lines``.

    The file name holds a hash of the lines, of the user dictionary and of jieba's version, so a
    changed text or dictionary is segmented afresh instead of loading a stale result.
    """
    if not cache_name or not cache_name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"cache_name must be letters, digits, '_' or '-', got {cache_name!r}")
    digest = hashlib.sha256()
    for part in (json.dumps(list(lines), ensure_ascii=False), _names_file_text(), metadata.version("jieba")):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return data_dir() / "segmented" / f"{cache_name}-{digest.hexdigest()[:16]}.json.gz"


def segment_corpus(lines: Iterable[str], cache_name: str) -> list[list[str]]:
    """:func:`segment` of every line, cached in the data cache under ``cache_name``.

    The first call segments and writes ``<data_dir>/segmented/<cache_name>-<hash>.json.gz``
    atomically; later calls with the same lines and dictionary read it back (a fraction of a
    second for the novel, instead of several seconds of jieba).
    """
    lines = list(lines)
    path = segmentation_cache_path(lines, cache_name)
    if path.is_file():
        try:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return json.load(f)
        except (OSError, EOFError, ValueError):
            pass  # an unreadable cache file is replaced below
    words = [segment(line) for line in lines]
    with atomic_path(path, suffix=".json.gz") as tmp:
        with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=3) as f:
            json.dump(words, f, ensure_ascii=False, separators=(",", ":"))
    return words


# ASCII punctuation, its full-width forms (U+FF01-FF5E: ，．！？：；（）～ ...), and the CJK and
# typographic marks of the corpora: 、。《》「」『』【】“”‘’…— and friends. The novel ends most of
# its sentences with the full-width full stop '．' (19 729 times, beside 8 521 '。').
PUNCTUATION = frozenset(
    set(string.punctuation)
    | {chr(ord(c) + 0xFEE0) for c in string.punctuation}
    | set("、。〃〈〉《》「」『』【】〔〕〖〗〘〙〜〝〞・“”‘’…‥—–―·•′″‵")
)


"""Characters that make a token punctuation (see :func:`is_punctuation`)."""


def is_punctuation(token: str) -> bool:
    """True if ``token`` is made of punctuation marks only (ASCII or full-width)."""
    return bool(token) and all(ch in PUNCTUATION for ch in token)


def strip_punctuation(tokens: Iterable[str]) -> list[str]:
    """``tokens`` without punctuation, whitespace (incl. the ideographic space) or empty tokens."""
    return [token for token in tokens if token.strip() and not is_punctuation(token)]


# The CJK Unified Ideographs, their extension A and the compatibility ideographs: Chinese characters.
_IDEOGRAPHS = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF))


def is_chinese_word(token: str) -> bool:
    """True if ``token`` is made of Chinese characters only (no Latin, digits, kana, Cyrillic or '�')."""
    return bool(token) and all(any(lo <= ord(c) <= hi for lo, hi in _IDEOGRAPHS) for c in token)


def sentiment(texts, verbose: bool = False) -> np.ndarray:
    """P(positive) of each text by chapter 04's review classifier: see :func:`dlbook.text.sentiment.sentiment`."""
    from dlbook.text.sentiment import (
        sentiment as classify,  # loads Keras, which segmentation alone does not need
    )

    return classify(texts, verbose=verbose)


def word_vectors(verbose: bool = True):
    """Chapter 09's word vectors of 红楼梦: see :func:`dlbook.text.word_vectors.word_vectors`."""
    from dlbook.text.word_vectors import word_vectors as load

    return load(verbose=verbose)

