"""Language models of 红楼梦 (chapter 09): the book's N-gram examples, perplexity, a Kneser-Ney bigram.

The book's neural N-gram model reads ``context`` words and predicts the next one; its examples
come from :func:`ngram_examples`, its score is :func:`perplexity` (:func:`model_perplexity` for a
Keras model), :func:`neural_ngram_model` builds it, and :class:`BigramModel`, an interpolated
Kneser-Ney bigram model in NumPy, is the count-based baseline it must beat on held-out chapters.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

from dlbook.text.vocabulary import Vocabulary


def ngram_examples(id_lists: Sequence[Sequence[int]], context: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Every word of every sequence as a target, with the ``context`` ids before it: ``(x, y)``.

    ``x`` is int32 ``(N, context)``, oldest word first; positions before a sequence's start hold
    :attr:`Vocabulary.PAD`, which thus also means "start of paragraph".
    """
    xs, ys = [], []
    for ids in id_lists:
        ids = np.asarray(ids, dtype=np.int32)
        padded = np.concatenate([np.full(context, Vocabulary.PAD, np.int32), ids])
        xs.append(np.stack([padded[i:i + len(ids)] for i in range(context)], axis=1))
        ys.append(ids)
    return np.concatenate(xs).reshape(-1, context), np.concatenate(ys)


def perplexity(probabilities) -> float:
    """``exp`` of the mean cross-entropy of a model that gave the targets these ``probabilities``."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.size == 0 or np.any(p <= 0) or np.any(p > 1):
        raise ValueError("perplexity needs at least one probability, each in (0, 1]")
    return float(np.exp(-np.mean(np.log(p))))


def model_perplexity(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int = 2048) -> float:
    """Perplexity of a Keras model with a softmax output on ``(x, y)``, predicted chunk by chunk."""
    target_probabilities = []
    for start in range(0, len(y), batch_size):
        probs = keras.ops.convert_to_numpy(model(x[start:start + batch_size], training=False))
        target_probabilities.append(probs[np.arange(len(probs)), y[start:start + batch_size]])
    return perplexity(np.maximum(np.concatenate(target_probabilities).astype(np.float64), 1e-30))


class BigramModel:
    """A count bigram model with interpolated Kneser-Ney smoothing (one absolute ``discount``).

    It predicts ids ``1 .. vocab_size - 1`` (``<unk>`` is a word like any other) after the previous
    id, where id 0 (padding) marks the start of a sequence::

        P(w | v) = max(c(v, w) - D, 0) / c(v) + D N(v •) / c(v) * P_cont(w)
        P_cont(w) = (max(N(• w) - D, 0) + D n_cont / (V - 1)) / N(• •)

    ``N(v •)`` and ``N(• w)`` count the different words seen after ``v`` and before ``w``, ``N(• •)``
    the different bigrams, ``n_cont`` the words with ``N(• w) > 0``; an unseen context gets ``P_cont``.
    """

    def __init__(self, id_lists: Sequence[Sequence[int]], vocab_size: int, discount: float = 0.75):
        if not 0 < discount < 1:
            raise ValueError(f"discount must be in (0, 1), got {discount}")
        self.vocab_size, self.discount = int(vocab_size), float(discount)
        x, y = ngram_examples(id_lists, context=1)
        keys, counts = np.unique(x[:, 0].astype(np.int64) * self.vocab_size + y, return_counts=True)
        self._keys, self._counts = keys, counts
        previous, following = keys // self.vocab_size, keys % self.vocab_size
        self._context_total = np.bincount(previous, weights=counts, minlength=self.vocab_size)
        self._context_types = np.bincount(previous, minlength=self.vocab_size)
        continuation = np.bincount(following, minlength=self.vocab_size).astype(np.float64)
        n_cont = np.count_nonzero(continuation[1:])
        self._continuation = (np.maximum(continuation - discount, 0) + discount * n_cont / (vocab_size - 1)) / len(keys)
        self._continuation[0] = 0.0  # padding is never predicted

    def probability(self, previous, following) -> np.ndarray:
        """``P(following | previous)`` for arrays of ids (broadcast together)."""
        previous, following = np.broadcast_arrays(np.asarray(previous, np.int64), np.asarray(following, np.int64))
        keys = previous * self.vocab_size + following
        where = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        pair_counts = np.where(self._keys[where] == keys, self._counts[where], 0)
        total, types, p_cont = self._context_total[previous], self._context_types[previous], self._continuation[following]
        p = (np.maximum(pair_counts - self.discount, 0) + self.discount * types * p_cont) / np.maximum(total, 1)
        p = np.where(total > 0, p, p_cont)
        return np.where(following > 0, p, 0.0)

    def distribution(self, previous: int) -> np.ndarray:
        """``P(w | previous)`` for every id ``w`` of the vocabulary (0 for padding); sums to 1."""
        return self.probability(previous, np.arange(self.vocab_size))

    def perplexity(self, id_lists: Sequence[Sequence[int]]) -> float:
        """Perplexity on sequences of ids, every word predicted from the one before it."""
        x, y = ngram_examples(id_lists, context=1)
        return perplexity(self.probability(x[:, 0], y))

    @classmethod
    def tuned(cls, train_ids, validation_ids, vocab_size: int, discounts=np.arange(0.05, 1.0, 0.05)):
        """The model whose discount gives the lowest perplexity on ``validation_ids``; and that perplexity."""
        scored = [(model.perplexity(validation_ids), i, model)
                  for i, model in enumerate(cls(train_ids, vocab_size, float(d)) for d in discounts)]
        best, _, model = min(scored)
        return model, best


def neural_ngram_model(vocab_size: int, context: int = 2, dim: int = 64, hidden: int = 256) -> keras.Model:
    """The book's neural N-gram language model: the ``context`` previous words' ``dim``-dimensional
    embeddings, concatenated, a ReLU layer of ``hidden`` units and a softmax over the vocabulary.

    The book's sizes are ``dim=10, hidden=128``. The softmax computes in float32
    (``dtype="float32"``), so that it stays exact over thousands of words under mixed precision.
    """
    return keras.Sequential([
        keras.Input(shape=(context,), dtype="int32", name="context"),
        keras.layers.Embedding(vocab_size, dim, name="embedding"),
        keras.layers.Flatten(name="concatenate"),
        keras.layers.Dense(hidden, activation="relu", name="hidden"),
        keras.layers.Dense(vocab_size, activation="softmax", dtype="float32", name="next_word"),
    ], name=f"ngram_language_model_{dim}_{hidden}")
