"""Chinese → English pairs of Tatoeba (chapters 11 and 13): loading, tokens, the split, batches.

The pieces both translators share, in Python and NumPy outside any model so that they work the
same under every backend::

    pairs = load_pairs()                       # 21 116 (chinese, english) pairs of Tatoeba
    split = split_pairs(pairs)                 # test 1 000, validation 1 000, training the rest;
                                               # no Chinese or English sentence in two splits
    data = TranslationData.build(split)        # tokens, vocabularies, id arrays
    batches = data.batches("train", 64)        # a PyDataset of length-bucketed, padded batches

Chinese is read character by character after a traditional → simplified conversion (紅 and 红
become one token); English is lowercased with punctuation split off (:func:`english_tokens`),
and :func:`detokenize` undoes that for scoring (:mod:`dlbook.translation.bleu`). Decoding
(greedy and beam search) is in :mod:`dlbook.translation.search`; the recurrent translator of
chapter 11 in :mod:`dlbook.translation.rnn`, the Transformer of chapter 13 in
:mod:`dlbook.translation.transformer`, their recipes and training in
:mod:`dlbook.translation.recipes`.
"""


from __future__ import annotations

import dataclasses
import functools
import random
import re
import unicodedata
import zipfile
from typing import Sequence

import keras
import numpy as np

from dlbook.data import fetch
from dlbook.text.vocabulary import Vocabulary

DATASET = "tatoeba_cmn_eng"


SPLIT_SEED = 2019


"""The split is fixed (the same for every run and both chapters), not drawn from the run's seed."""


@dataclasses.dataclass(frozen=True)
class Pair:
    chinese: str
    english: str


def load_pairs() -> list[Pair]:
    """Every line of Tatoeba's cmn.txt as a :class:`Pair`, in file order (21 116 pairs)."""
    with zipfile.ZipFile(fetch(DATASET, "cmn-eng.zip")) as archive:
        text = archive.read("cmn.txt").decode("utf-8")
    pairs = []
    for line in text.splitlines():
        english, chinese = line.split("\t")[:2]
        pairs.append(Pair(chinese=chinese.strip(), english=english.strip()))
    return pairs


@functools.cache
def _traditional_to_simplified():
    from opencc import (
        OpenCC,  # opencc-python-reimplemented: pure Python, its tables in the package
    )

    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    """``text`` in simplified characters (我們走吧 → 我们走吧); full-width Latin letters and digits
    become ASCII (NFKC), Chinese punctuation stays."""
    return _traditional_to_simplified().convert(unicodedata.normalize("NFKC", text))


def chinese_tokens(text: str) -> list[str]:
    """The characters of ``text`` after :func:`to_simplified`, white space dropped: the source tokens."""
    return [c for c in to_simplified(text) if not c.isspace()]


_ENGLISH_TOKEN = re.compile(r"\w+(?:['’.\-]\w+)*|[^\w\s]")


def english_tokens(text: str) -> list[str]:
    """``text`` lowercased, punctuation split off: "Don't go, Tom!" → don't / go / , / tom / !"""
    return _ENGLISH_TOKEN.findall(text.lower().replace("’", "'"))


_NO_SPACE_BEFORE = set(".,!?;:%)]}")


_NO_SPACE_AFTER = set("([{$")


def detokenize(tokens: Sequence[str]) -> str:
    """English tokens back to a sentence: no space before , . ! ? and the like, quotes hug their words."""
    out: list[str] = []
    quote_open = False
    glue_next = True
    for token in tokens:
        if token == '"':
            quote_open = not quote_open
            glue = not quote_open  # a closing quote hugs the word before it
            out.append(token if glue or glue_next else " " + token)
            glue_next = quote_open
            continue
        glue = glue_next or token in _NO_SPACE_BEFORE
        out.append(token if glue else " " + token)
        glue_next = token in _NO_SPACE_AFTER
    return "".join(out)


@dataclasses.dataclass
class Split:
    train: list[Pair]
    validation: list[Pair]
    test: list[Pair]


def source_key(chinese: str) -> str:
    """The Chinese side as the model reads it: :func:`chinese_tokens` joined (t2s, NFKC, no spaces)."""
    return "".join(chinese_tokens(chinese))


def target_key(english: str) -> str:
    """The English side as the model writes it: :func:`english_tokens` joined by spaces."""
    return " ".join(english_tokens(english))


def connected_groups(pairs: Sequence[Pair]) -> list[list[Pair]]:
    """``pairs`` grouped into connected components: two pairs are in one group when they share a
    Chinese sentence (:func:`source_key`) or an English one (:func:`target_key`), directly or
    through other pairs. Groups come in the order of their first pair in ``pairs``."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(node):
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]  # path halving
            node = parent[node]
        return node

    keys = [(("zh", source_key(p.chinese)), ("en", target_key(p.english))) for p in pairs]
    for chinese, english in keys:
        a, b = root(chinese), root(english)
        if a != b:
            parent[a] = b
    groups: dict[tuple[str, str], list[Pair]] = {}
    for pair, (chinese, _) in zip(pairs, keys):
        groups.setdefault(root(chinese), []).append(pair)
    return list(groups.values())


def split_pairs(pairs: Sequence[Pair], test: int = 1000, validation: int = 1000, seed: int = SPLIT_SEED) -> Split:
    """Test, validation and training pairs such that no Chinese sentence and no English sentence,
    as the model reads them, is in two splits.

    The pairs are grouped into :func:`connected_groups` (on Tatoeba 19 572 groups of 1 to 10
    pairs: 哪本是你的书？ with "Which is your book?" and "Which book is yours?" and their other
    translations is one group). The groups are shuffled with ``seed``; whole groups go to the
    test split until it holds ``test`` pairs or just more, then to validation, the rest to training.
    """
    groups = sorted(connected_groups(pairs), key=lambda g: (source_key(g[0].chinese), target_key(g[0].english)))
    random.Random(seed).shuffle(groups)
    parts: list[list[Pair]] = [[], [], []]
    wanted = (test, validation)
    part = 0
    for group in groups:
        while part < 2 and len(parts[part]) >= wanted[part]:
            part += 1
        parts[part].extend(group)
    return Split(train=parts[2], validation=parts[1], test=parts[0])


class TargetVocabulary(Vocabulary):
    """An English vocabulary with sentence start ``<s>`` (id 2) and end ``</s>`` (id 3) reserved."""

    RESERVED = ("<pad>", "<unk>", "<s>", "</s>")
    START = 2
    END = 3


@dataclasses.dataclass
class TranslationData:
    """A split tokenised: source and target vocabularies, and each part's token lists."""

    split: Split
    source_vocab: Vocabulary
    target_vocab: TargetVocabulary
    source_tokens: dict[str, list[list[str]]]
    target_tokens: dict[str, list[list[str]]]

    @classmethod
    def build(cls, split: Split, min_count: int = 2, train_size: int | None = None) -> "TranslationData":
        """Tokenise ``split``; vocabularies of the training pairs' tokens seen ``min_count`` times.

        ``train_size`` keeps the first that many training pairs (fast mode's subset).
        """
        if train_size is not None:
            split = Split(split.train[:train_size], split.validation, split.test)
        parts = {"train": split.train, "validation": split.validation, "test": split.test}
        source = {name: [chinese_tokens(p.chinese) for p in part] for name, part in parts.items()}
        target = {name: [english_tokens(p.english) for p in part] for name, part in parts.items()}
        return cls(split, Vocabulary(source["train"], min_count), TargetVocabulary(target["train"], min_count),
                   source, target)

    def pairs(self, part: str) -> list[Pair]:
        return getattr(self.split, part)

    def source_ids(self, part: str) -> list[np.ndarray]:
        return [self.source_vocab.encode(tokens) for tokens in self.source_tokens[part]]

    def target_ids(self, part: str) -> list[np.ndarray]:
        """Each target sentence as ids framed by ``<s>`` and ``</s>``."""
        frame = lambda ids: np.concatenate([[TargetVocabulary.START], ids, [TargetVocabulary.END]]).astype(np.int32)
        return [frame(self.target_vocab.encode(tokens)) for tokens in self.target_tokens[part]]

    def batches(self, part: str, batch_size: int, max_len: int = 40, shuffle: bool = True, seed: int = 0,
                source_order: Sequence[int] | None = None):
        """A :class:`PairBatches` of ``part``'s pairs, those longer than ``max_len`` tokens left out.

        ``source_order`` pairs target ``i`` with source ``source_order[i]`` (a control that gives
        each target another sentence's source)."""
        sources, targets = self.source_ids(part), self.target_ids(part)
        if source_order is not None:
            sources = [sources[i] for i in source_order]
        keep = [i for i, (s, t) in enumerate(zip(sources, targets)) if len(s) <= max_len and len(t) - 1 <= max_len]
        return PairBatches([sources[i] for i in keep], [targets[i] for i in keep], batch_size, shuffle, seed)


def padded(sequences: Sequence[np.ndarray], width: int) -> np.ndarray:
    """``sequences`` as an int32 array ``(N, width)``, cut to ``width`` or padded with 0 at the end."""
    out = np.zeros((len(sequences), width), np.int32)
    for row, ids in enumerate(sequences):
        out[row, : min(len(ids), width)] = ids[:width]
    return out


def bucket_width(length: int, step: int = 8) -> int:
    """``length`` rounded up to a multiple of ``step``: few distinct batch shapes, so few compilations."""
    return max(step, -(-length // step) * step)


class PairBatches(keras.utils.PyDataset):
    """Batches ``((source, target_in), target_out, weights)`` of pairs of similar length.

    Pairs are sorted by length (with a little noise, redrawn each epoch) and cut into batches, so
    a batch pads little; each side is padded to a multiple of :meth:`step` (few shapes to compile).
    ``target_in`` is ``<s> w1 … wn`` and ``target_out`` is ``w1 … wn </s>``; ``weights`` is 1 on
    the real target tokens and 0 on the padding, so the loss ignores the padding. The last, short
    batch is filled up to ``batch_size`` rows with copies of its pairs weighted 0, so that every
    batch has the same number of rows (one shape fewer to compile under XLA).
    """

    @staticmethod
    def step() -> int:
        """The width multiple: 4, or 8 under JAX, which compiles a training step for every batch shape
        (with 4, chapter 11's fast mode spent most of its 12 minutes on JAX compiling)."""
        return 8 if keras.backend.backend() == "jax" else 4

    def __init__(self, sources, targets, batch_size: int, shuffle: bool = True, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.sources, self.targets = list(sources), list(targets)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.rng = np.random.default_rng(seed)
        self.source_lengths = np.array([len(s) for s in self.sources])
        self.target_lengths = np.array([len(t) - 1 for t in self.targets])
        self._order()

    def _order(self):
        n = len(self.sources)
        noise = self.rng.uniform(0, 2, n) if self.shuffle else np.zeros(n)
        order = np.lexsort((self.source_lengths, self.target_lengths + noise))
        self.batch_indices = [order[i: i + self.batch_size] for i in range(0, n, self.batch_size)]
        if self.shuffle:
            self.rng.shuffle(self.batch_indices)
        # Keras's TensorFlow adapter infers the batch shape from the first two batches: where their
        # widths differ, it learns that the width varies (else a later, wider batch would fail). So
        # two batches that differ in every width that varies at all go first.
        first_of = {}
        for i, rows in enumerate(self.batch_indices):
            first_of.setdefault(self._widths(rows), i)
        varying = [d for d in range(2) if len({w[d] for w in first_of}) > 1]
        pair = next(((first_of[a], first_of[b]) for a in first_of for b in first_of
                     if all(a[d] != b[d] for d in varying) and a != b), None)
        if pair is not None:
            rest = [rows for i, rows in enumerate(self.batch_indices) if i not in pair]
            self.batch_indices = [self.batch_indices[pair[0]], self.batch_indices[pair[1]], *rest]

    def _widths(self, rows) -> tuple[int, int]:
        step = self.step()
        return (bucket_width(int(self.source_lengths[rows].max()), step),
                bucket_width(int(self.target_lengths[rows].max()), step))

    def __len__(self):
        return len(self.batch_indices)

    def __getitem__(self, index):
        rows = self.batch_indices[index]
        source_width, target_width = self._widths(rows)
        source = padded([self.sources[i] for i in rows], source_width)
        target = padded([self.targets[i] for i in rows], target_width + 1)
        target_in, target_out = target[:, :-1], target[:, 1:]
        weights = (target_out != 0).astype("float32")
        if len(rows) < self.batch_size:  # fill the short batch with copies that weigh nothing
            fill = np.resize(np.arange(len(rows)), self.batch_size)
            source, target_in, target_out, weights = (a[fill] for a in (source, target_in, target_out, weights))
            weights[len(rows):] = 0.0
        return (source, target_in), target_out, weights

    def on_epoch_end(self):
        if self.shuffle:
            self._order()

