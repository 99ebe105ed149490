"""Count vectors of 红楼梦 (chapter 09's baseline for word2vec): rows of a co-occurrence matrix.

Before word2vec, word vectors were counted: how often does word ``w`` stand within a few places
of word ``c``? :func:`cooccurrence_counts` builds that matrix, :func:`ppmi` reweighs it by
positive pointwise mutual information, and :func:`count_vectors` turns its rows (or their
truncated SVD) into :class:`~dlbook.text.word_vectors.WordVectors`, judged by the same group AUC
as the skip-gram vectors. Raw counts are the trivial baseline (frequent words dominate every
row); PPMI with SVD is the strong count model that skip-gram with negative sampling implicitly
factorises (Levy and Goldberg, 2014).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dlbook.text import vocabulary
from dlbook.text.word_vectors import WordVectors


def cooccurrence_counts(id_lists: Sequence[np.ndarray], vocab_size: int, window: int):
    """How often two words stand at most ``window`` places apart in one sequence: a symmetric
    ``scipy.sparse`` matrix ``(vocab_size, vocab_size)``. Ids 0 and 1 (padding, ``<unk>``) are left out."""
    from scipy import sparse

    rows, cols = [], []
    for ids in map(np.asarray, id_lists):
        for offset in range(1, window + 1):
            rows += [ids[:-offset], ids[offset:]]
            cols += [ids[offset:], ids[:-offset]]
    rows, cols = np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64)
    known = (rows >= len(vocabulary.Vocabulary.RESERVED)) & (cols >= len(vocabulary.Vocabulary.RESERVED))
    counts = sparse.coo_matrix((np.ones(known.sum()), (rows[known], cols[known])), shape=(vocab_size, vocab_size))
    return counts.tocsr()  # duplicates are summed


def ppmi(counts, smoothing: float = 0.75):
    """Positive pointwise mutual information ``max(0, log P(w, c) / (P(w) P_α(c)))`` of a count
    matrix, with the context counts raised to ``smoothing`` (as word2vec's noise distribution)."""
    from scipy import sparse

    counts = counts.tocoo()
    word_totals = np.asarray(counts.sum(axis=1)).ravel()
    context_weights = np.asarray(counts.sum(axis=0)).ravel() ** smoothing
    pmi = np.log(counts.data * context_weights.sum() / (word_totals[counts.row] * context_weights[counts.col]))
    positive = pmi > 0
    return sparse.csr_matrix((pmi[positive], (counts.row[positive], counts.col[positive])), shape=counts.shape)


def count_vectors(paragraphs, vocab: vocabulary.Vocabulary, window: int, weighting: str = "counts",
                  dim: int | None = None, words: Sequence[str] | None = None) -> WordVectors:
    """Word vectors that are rows of a co-occurrence matrix of the ``paragraphs`` (``(chapter, words)``).

    ``weighting="counts"``: raw counts within ``window`` words; ``"ppmi"``: their :func:`ppmi`.
    ``dim`` reduces the rows to ``dim`` dimensions by a truncated SVD (``U √S``); without it the
    rows are as long as the vocabulary, so ``words`` (the words to keep, default all) saves memory.
    """
    if weighting not in ("counts", "ppmi"):
        raise ValueError(f"weighting must be 'counts' or 'ppmi', got {weighting!r}")
    matrix = cooccurrence_counts([vocab.encode(w) for _, w in paragraphs], len(vocab), window)
    if weighting == "ppmi":
        matrix = ppmi(matrix)
    tokens = [w for w in (vocab.tokens[2:] if words is None else words) if w in vocab]
    rows = vocab.encode(tokens)
    if dim is not None:
        from scipy.sparse.linalg import svds

        u, singular, _ = svds(matrix, k=dim, v0=np.full(min(matrix.shape), 1 / np.sqrt(min(matrix.shape))))
        table = (u * np.sqrt(singular))[rows]
    else:
        table = matrix[rows].toarray()
    return WordVectors(tokens, table, [vocab.counts[w] for w in tokens])
