"""Words to integer ids and back (:class:`Vocabulary`), and padded id arrays with masks (:func:`pad`).

Chapters 04, 09, 11 and 13 number their tokens here, in Python and NumPy (no Keras): id 0 is
padding, id 1 the unknown word, then the words, most frequent first.
"""


from __future__ import annotations

import collections
from typing import Iterable, Sequence

import numpy as np


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

