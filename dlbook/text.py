"""Chinese text for networks: words by jieba, punctuation, a vocabulary, and padded id arrays.

Chapters 04 (the sentiment of reviews) and 09 (word vectors of 红楼梦) turn text into integer ids
here, in Python and NumPy, outside any model: Keras's ``TextVectorization`` layer runs only on
TensorFlow, and these helpers work the same under every backend. The steps::

    words = [strip_punctuation(segment(review)) for review in reviews]      # jieba, then clean
    vocab = Vocabulary(words, min_count=2)                                   # ids 0 (pad), 1 (unknown), words
    ids, mask = pad([vocab.encode(w) for w in words], max_len=100)          # int32 (N, 100), bool mask

Segmentation uses jieba with dlbook's user dictionary of the names and places of 红楼梦
(``dlbook/resources/hongloumeng_names.txt``), so 黛玉笑道 becomes 黛玉 / 笑 / 道, not 黛玉笑 / 道.
:func:`segment_corpus` caches the segmentation of a whole corpus in the data cache, so a chapter
does not re-segment the novel on every run. The corpora themselves are in :mod:`dlbook.corpora`.
"""

from __future__ import annotations

import collections
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
    return resources.files("dlbook").joinpath(NAMES_FILE).read_text(encoding="utf-8")


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


class Vocabulary:
    """Words to integer ids and back, built from tokenized texts; plain NumPy, for every backend.

    Id 0 (:attr:`PAD`) pads short sequences and id 1 (:attr:`UNKNOWN`) stands for every word left
    out; the words kept (those seen at least ``min_count`` times, at most ``max_words`` of them)
    follow from id 2, most frequent first, ties in alphabetical order. ``len(vocab)`` counts the
    two reserved ids too: it is the ``input_dim`` of an ``Embedding`` layer.
    """

    PAD = 0
    UNKNOWN = 1
    RESERVED = ("<pad>", "<unk>")

    def __init__(self, token_lists: Iterable[Iterable[str]], min_count: int = 1, max_words: int | None = None):
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        self.counts: collections.Counter = collections.Counter()
        """How often every token was seen, kept in the vocabulary or not."""
        for tokens in token_lists:
            self.counts.update(tokens)
        self.min_count = min_count
        words = [w for w, n in self.counts.items() if n >= min_count and w not in self.RESERVED]
        words.sort(key=lambda w: (-self.counts[w], w))
        self.tokens: list[str] = [*self.RESERVED, *words[:max_words]]
        """The token of each id: ``tokens[0]`` is ``"<pad>"``, ``tokens[1]`` ``"<unk>"``."""
        self._ids = {word: i for i, word in enumerate(self.tokens) if i >= len(self.RESERVED)}

    @classmethod
    def from_tokens(cls, tokens: Sequence[str]) -> "Vocabulary":
        """The vocabulary whose :attr:`tokens` are ``tokens`` (as saved beside a trained model).

        ``tokens`` must start with the reserved ``"<pad>"`` and ``"<unk>"``; counts are not kept.
        """
        tokens = list(tokens)
        if tuple(tokens[: len(cls.RESERVED)]) != cls.RESERVED or len(set(tokens)) != len(tokens):
            raise ValueError(f"a vocabulary's tokens start with {cls.RESERVED} and do not repeat")
        vocabulary = cls([])
        vocabulary.tokens = tokens
        vocabulary._ids = {word: i for i, word in enumerate(tokens) if i >= len(cls.RESERVED)}
        return vocabulary

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, word: str) -> bool:
        return word in self._ids

    def __repr__(self) -> str:
        return f"Vocabulary({len(self) - 2} words with count >= {self.min_count}, plus <pad> and <unk>)"

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """The ids of ``tokens`` as an int32 array; words not in the vocabulary get :attr:`UNKNOWN`."""
        return np.array([self._ids.get(token, self.UNKNOWN) for token in tokens], dtype=np.int32)

    def decode(self, ids: Iterable[int], skip_padding: bool = True) -> list[str]:
        """The tokens of ``ids`` (``"<unk>"`` for the unknown id); padding is left out unless asked for."""
        return [self.tokens[i] for i in map(int, ids) if not (skip_padding and i == self.PAD)]

    def most_common(self, n: int | None = None) -> list[tuple[str, int]]:
        """The ``n`` most frequent words of the vocabulary (all if ``n`` is None) with their counts."""
        return [(word, self.counts[word]) for word in self.tokens[len(self.RESERVED):][:n]]


def pad(id_lists: Sequence[Sequence[int]], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of ids as one int32 array ``(N, max_len)``, padded with 0 at the end, and its mask.

    Longer sequences keep their first ``max_len`` ids; ``max_len=None`` takes the longest. The
    boolean mask is True where a real id stands and False on the padding.
    """
    lengths = np.array([len(ids) for ids in id_lists], dtype=np.int64)
    width = int(lengths.max(initial=0)) if max_len is None else int(max_len)
    if width < 0:
        raise ValueError(f"max_len must not be negative, got {max_len}")
    padded = np.full((len(lengths), width), Vocabulary.PAD, dtype=np.int32)
    for row, ids in enumerate(id_lists):
        kept = np.asarray(ids, dtype=np.int32)[:width]
        padded[row, : len(kept)] = kept
    mask = np.arange(width) < np.minimum(lengths, width)[:, None]
    return padded, mask


def sentiment(texts, verbose: bool = False) -> np.ndarray:
    """P(positive) of each text by chapter 04's review classifier: see :func:`dlbook.sentiment.sentiment`."""
    from dlbook.sentiment import sentiment as classify  # loads Keras, which segmentation alone does not need

    return classify(texts, verbose=verbose)


def word_vectors(verbose: bool = True):
    """Chapter 09's word vectors of 红楼梦: see :func:`dlbook.word_vectors.word_vectors`."""
    from dlbook.word_vectors import word_vectors as load

    return load(verbose=verbose)
