"""Turning a trained translator into sentences: greedy decoding and beam search, batched.

Both translators of the book (chapter 11's recurrent one, chapter 13's Transformer) are built as
two nested Keras models and one output layer, which is all decoding needs::

    encoded = encoder(source)                                  # a list of arrays, batch first
    features, *attention = decoder([*encoded, source, prefix]) # one feature vector per position
    probabilities = next_word(features[:, t])                  # P(word at t + 1 | source, prefix)

The decoder is causal (position ``t`` sees the prefix up to ``t`` only), so a prefix padded at
the end gives the same position-``t`` output as the bare prefix: the decoder runs on widths that
are multiples of 8 (few shapes to compile) and :func:`beam_search` reads position ``t``.

:func:`beam_search` keeps the ``beam`` best prefixes of every sentence (all sentences of a chunk
in one batch), and ranks the finished ones by log-probability over a length penalty (Wu et al.
2016, ``((5 + length) / 6) ** alpha``), so long translations are not punished just for being
long. A beam of 1 is greedy decoding.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import keras
import numpy as np

from dlbook.translation.datasets import TargetVocabulary, bucket_width, padded

START, END, PAD = TargetVocabulary.START, TargetVocabulary.END, TargetVocabulary.PAD


@dataclasses.dataclass
class Translator:
    """The three parts of a trained translation model that decoding uses."""

    encoder: keras.Model
    decoder: keras.Model
    next_word: keras.layers.Layer

    @classmethod
    def from_model(cls, model: keras.Model) -> "Translator":
        """The parts of a model built by :mod:`dlbook.translation.rnn` or :mod:`dlbook.translation.transformer`."""
        return cls(model.get_layer("encoder"), model.get_layer("decoder"), model.get_layer("next_word"))

    def encode(self, source: np.ndarray) -> list[np.ndarray]:
        return _as_arrays(self.encoder.predict_on_batch(source))

    def decode(self, encoded: list[np.ndarray], source: np.ndarray, prefix: np.ndarray) -> list[np.ndarray]:
        """The decoder's outputs (features, then attention maps) for ``prefix``."""
        return _as_arrays(self.decoder.predict_on_batch([*encoded, source, prefix]))

    def log_probabilities(self, features: np.ndarray) -> np.ndarray:
        """log P(next word) from features ``(N, d)``, in float32."""
        probabilities = keras.ops.convert_to_numpy(self.next_word(features)).astype(np.float32)
        return np.log(np.maximum(probabilities, 1e-30))


def _as_arrays(outputs) -> list[np.ndarray]:
    """A model's output or outputs as a list of NumPy arrays."""
    return [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def length_penalty(length, alpha: float) -> np.ndarray:
    """GNMT's length normaliser ``((5 + length) / 6) ** alpha``; ``alpha=0`` ranks by log-probability."""
    return ((5.0 + np.asarray(length, np.float32)) / 6.0) ** alpha


def _search_chunk(translator: Translator, source: np.ndarray, beam: int, limits: np.ndarray,
                  alpha: float) -> list[list[int]]:
    n, max_len = len(source), int(limits.max())
    encoded = [np.repeat(e, beam, axis=0) for e in translator.encode(source)]
    source = np.repeat(source, beam, axis=0)
    prefixes = np.zeros((n * beam, max_len + 1), np.int32)
    prefixes[:, 0] = START
    scores = np.full((n, beam), -np.inf, np.float32)
    scores[:, 0] = 0.0  # one live hypothesis per sentence at the start
    lengths = np.zeros((n, beam), np.int32)
    finished = np.zeros((n, beam), bool)
    for t in range(max_len):
        width = bucket_width(t + 1)
        features = translator.decode(encoded, source, prefixes[:, :width])[0][:, t]
        log_p = translator.log_probabilities(features).reshape(n, beam, -1)
        vocab = log_p.shape[-1]
        # A hypothesis at its sentence's length limit must end now.
        at_limit = (t + 1 >= limits)[:, None] & ~finished
        log_p[at_limit] = np.where(np.arange(vocab) == END, 0.0, -np.inf)
        # A finished hypothesis only extends by padding, at no cost, so it keeps its score.
        log_p[finished] = -np.inf
        log_p[..., PAD] = np.where(finished, 0.0, -np.inf)
        candidates = (scores[..., None] + log_p).reshape(n, beam * vocab)
        best = np.argsort(-candidates, axis=1, kind="stable")[:, :beam]
        origin, token = best // vocab, best % vocab
        rows = (np.arange(n)[:, None] * beam + origin).ravel()
        prefixes = prefixes[rows]
        prefixes[:, t + 1] = token.ravel()
        scores = np.take_along_axis(candidates, best, axis=1)
        was_finished = np.take_along_axis(finished, origin, axis=1)
        lengths = np.take_along_axis(lengths, origin, axis=1) + ~was_finished
        finished = was_finished | (token == END)
        encoded = [e[rows] for e in encoded]
        if finished[np.isfinite(scores)].all():
            break
    ranked = np.where(np.isfinite(scores), scores / length_penalty(lengths, alpha), -np.inf)
    chosen = ranked.argmax(axis=1)
    outputs = []
    for i, k in enumerate(chosen):
        ids = prefixes[i * beam + k, 1:]
        ends = np.flatnonzero(ids == END)
        ids = ids[: ends[0]] if len(ends) else ids
        outputs.append([int(w) for w in ids if w != PAD])
    return outputs


def beam_search(translator: Translator, sources: Sequence[np.ndarray], beam: int = 5, alpha: float = 0.6,
                max_len: int | None = None, chunk: int = 128, progress: bool = False) -> list[list[int]]:
    """The best target ids (without ``<s>`` and ``</s>``) for each source (a 1-d id array).

    ``max_len`` caps the length of a translation, ``</s>`` included (default: twice the source's
    length plus 10, at most 80, for each sentence). Sources are sorted by length and decoded ``chunk`` at a time, ``beam`` hypotheses
    each. ``beam=1`` is greedy decoding.
    """
    if beam < 1:
        raise ValueError(f"beam must be at least 1, got {beam}")
    order = np.argsort([len(s) for s in sources], kind="stable")
    results: list[list[int]] = [[] for _ in sources]
    chunks = [order[i: i + chunk] for i in range(0, len(order), chunk)]
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc=f"beam {beam}", unit="chunk")
    for rows in chunks:
        lengths = np.array([len(sources[i]) for i in rows])
        limits = np.full(len(rows), max_len) if max_len is not None else np.minimum(80, 2 * lengths + 10)
        source = padded([sources[i] for i in rows], bucket_width(max(1, lengths.max())))
        for i, ids in zip(rows, _search_chunk(translator, source, beam, limits, alpha)):
            results[i] = ids
    return results


def greedy_decode(translator: Translator, sources: Sequence[np.ndarray], **kwargs) -> list[list[int]]:
    """The most likely next word at every step: :func:`beam_search` with a beam of 1."""
    return beam_search(translator, sources, beam=1, **kwargs)


def attention_map(translator: Translator, source: np.ndarray, target: Sequence[int]) -> list[np.ndarray]:
    """The decoder's attention maps for one source sentence and its translation ``target`` (ids).

    Returns the decoder's attention outputs with the batch axis dropped, each cut to
    ``(..., len(target) + 1, len(source))``: rows are the predicted words (and ``</s>``), columns
    the source tokens.
    """
    prefix = np.array([[START, *target]], np.int32)
    width = bucket_width(max(len(source), prefix.shape[1]))
    source_row = padded([source], width)
    encoded = translator.encode(source_row)
    outputs = translator.decode(encoded, source_row, padded(prefix, width))
    return [a[0][..., : prefix.shape[1], : len(source)] for a in outputs[1:]]
