"""Turning a trained translator into sentences: greedy decoding and beam search, batched.

Both translators of the book (chapter 11's recurrent one, chapter 13's Transformer) are built as
two nested Keras models and one output layer, which is all decoding needs::

    encoded = encoder(source)                                  # a list of arrays, batch first
    features, *attention = decoder([*encoded, source, prefix]) # one feature vector per position
    probabilities = next_word(features[:, t])                  # P(word at t + 1 | source, prefix)

The decoder is causal (position ``t`` sees the prefix up to ``t`` only), so a prefix padded at
the end gives the same position-``t`` output as the bare prefix. A :class:`Translator` decodes
that way, re-reading the whole prefix at every step; a :class:`RecurrentTranslator` (chapter 11's
GRU translators) instead carries the decoder GRU's state from word to word
(:func:`dlbook.translation.rnn.decoder_step`), one GRU step per word. Decoding pads every
array it gives a model to a few fixed shapes: widths from :data:`WIDTHS`, row counts of a whole
chunk or a power of two (:func:`fixed_rows`), so that a whole evaluation compiles a bounded
number of shapes under XLA (each new shape is a new compilation).

:func:`beam_search` keeps the ``beam`` likeliest unfinished prefixes of every sentence (all
sentences of a chunk in one batch) and, apart from them, a pool of up to ``beam`` finished
translations ranked by log-probability over a length penalty (Wu et al. 2016,
``((5 + length) / 6) ** alpha``), as fairseq and Hugging Face do: a translation enters the pool
when ``</s>`` is among its step's ``beam`` best extensions, and a sentence is done when its pool is
full and no unfinished prefix, penalised at its current length, could still beat the pool's
worst. A beam of 1 is greedy decoding. ``<pad>``, ``<unk>`` and ``<s>`` are never written.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import keras
import numpy as np

from dlbook.translation import rnn
from dlbook.translation.datasets import TargetVocabulary, padded

START, END, PAD, UNKNOWN = TargetVocabulary.START, TargetVocabulary.END, TargetVocabulary.PAD, TargetVocabulary.UNKNOWN
NEVER_WRITTEN = (PAD, UNKNOWN, START)

WIDTHS = (8, 16, 24, 32, 48, 64, 96, 128)
"""The widths decoding pads sources and prefixes to (longer ones: multiples of 128)."""


def fixed_width(length: int) -> int:
    """The smallest of :data:`WIDTHS` that holds ``length`` tokens (a multiple of 128 beyond)."""
    return next((w for w in WIDTHS if w >= length), -(-length // 128) * 128)


def fixed_rows(count: int, chunk: int) -> int:
    """The rows a batch of ``count`` sentences is padded to: ``chunk`` if more than half of it,
    else the next power of two (one sentence: 1)."""
    return chunk if count > chunk // 2 else 1 << max(0, count - 1).bit_length()


@dataclasses.dataclass
class Translator:
    """The three parts of a trained translation model that decoding uses."""

    encoder: keras.Model
    decoder: keras.Model
    next_word: keras.layers.Layer

    @classmethod
    def from_model(cls, model: keras.Model) -> "Translator":
        """The parts of a model built by :mod:`dlbook.translation.rnn` (a :class:`RecurrentTranslator`)
        or :mod:`dlbook.translation.transformer`."""
        parts = (model.get_layer("encoder"), model.get_layer("decoder"), model.get_layer("next_word"))
        if any(layer.name == "decoder_gru" for layer in parts[1].layers):
            return RecurrentTranslator(*parts, step_model=rnn.decoder_step(model))
        return cls(*parts)

    def encode(self, source: np.ndarray) -> list[np.ndarray]:
        return _as_arrays(self.encoder.predict_on_batch(source))

    def decode(self, encoded: list[np.ndarray], source: np.ndarray, prefix: np.ndarray) -> list[np.ndarray]:
        """The decoder's outputs (features, then attention maps) for ``prefix``."""
        return _as_arrays(self.decoder.predict_on_batch([*encoded, source, prefix]))

    def log_probabilities(self, features: np.ndarray) -> np.ndarray:
        """log P(next word) from features ``(N, d)``, in float32."""
        probabilities = keras.ops.convert_to_numpy(self.next_word(features)).astype(np.float32)
        return np.log(np.maximum(probabilities, 1e-30))

    def start(self, source: np.ndarray) -> list[np.ndarray]:
        """What decoding carries for each source row from step to step: arrays, batch first."""
        return [*self.encode(source), source]

    def step(self, state: list[np.ndarray], prefixes: np.ndarray, t: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """log P(word ``t + 1``) ``(N, V)`` given ``prefixes[:, : t + 1]``, and the state after the step."""
        features = self.decode(state[:-1], state[-1], prefixes[:, : fixed_width(t + 1)])[0][:, t]
        return self.log_probabilities(features), state


@dataclasses.dataclass
class RecurrentTranslator(Translator):
    """A GRU translator decoded word by word: its state is the encoder's output, the source and
    the decoder GRU's state, which :attr:`step_model` advances by one word."""

    step_model: keras.Model | None = None

    def start(self, source: np.ndarray) -> list[np.ndarray]:
        memory, context = self.encode(source)
        return [memory, context, source, context]  # the decoder GRU starts from the context vector

    def step(self, state: list[np.ndarray], prefixes: np.ndarray, t: int) -> tuple[np.ndarray, list[np.ndarray]]:
        memory, context, source, hidden = state
        features, hidden = _as_arrays(self.step_model.predict_on_batch(
            [memory, context, source, hidden, prefixes[:, t: t + 1]]))
        return self.log_probabilities(features[:, 0]), [memory, context, source, hidden]


def _as_arrays(outputs) -> list[np.ndarray]:
    """A model's output or outputs as a list of NumPy arrays."""
    return [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def length_penalty(length, alpha: float) -> np.ndarray:
    """GNMT's length normaliser ``((5 + length) / 6) ** alpha``; ``alpha=0`` ranks by log-probability."""
    return ((5.0 + np.asarray(length, np.float32)) / 6.0) ** alpha


class _Pool:
    """The finished translations of one sentence: at most ``size``, best penalised score first."""

    def __init__(self, size: int):
        self.size, self.entries = size, []  # (penalised score, ids)

    def add(self, score: float, ids: list[int]) -> None:
        self.entries.append((score, ids))
        self.entries.sort(key=lambda entry: -entry[0])
        del self.entries[self.size:]

    def worst(self) -> float:
        return self.entries[-1][0] if len(self.entries) == self.size else -np.inf


def _search_chunk(translator: Translator, source: np.ndarray, count: int, beam: int, limits: np.ndarray,
                  alpha: float) -> list[list[int]]:
    """Beam search for the first ``count`` rows of ``source`` (the rest pad the batch)."""
    n, max_len = len(source), int(limits.max())
    state = [np.repeat(a, beam, axis=0) for a in translator.start(source)]
    prefixes = np.zeros((n * beam, fixed_width(max_len + 1)), np.int32)
    prefixes[:, 0] = START
    scores = np.full((n, beam), -np.inf, np.float32)
    scores[:count, 0] = 0.0  # one live prefix per sentence at the start; padding rows none
    pools = [_Pool(beam) for _ in range(n)]
    done = np.arange(n) >= count
    for t in range(max_len):
        log_p, state = translator.step(state, prefixes, t)
        log_p = log_p.reshape(n, beam, -1)
        log_p[..., NEVER_WRITTEN] = -np.inf
        at_limit = t + 1 >= limits  # a prefix at its sentence's length limit must end now
        log_p[at_limit, :, :END] = -np.inf
        log_p[at_limit, :, END + 1:] = -np.inf
        vocab = log_p.shape[-1]
        candidates = (scores[..., None] + log_p).reshape(n, beam * vocab)
        top = np.argpartition(-candidates, 2 * beam - 1, axis=1)[:, : 2 * beam]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(candidates, top, axis=1), axis=1), axis=1)
        new_rows = np.zeros((n, beam), np.int64)
        new_tokens = np.full((n, beam), PAD, np.int32)
        new_scores = np.full((n, beam), -np.inf, np.float32)
        for i in np.flatnonzero(~done):
            live = 0
            for rank, flat in enumerate(top[i]):
                score = float(candidates[i, flat])
                if not np.isfinite(score) or live == beam:
                    break
                origin, token = divmod(int(flat), vocab)
                if token == END:
                    if rank < beam:  # </s> among the step's best: a finished translation
                        ids = prefixes[i * beam + origin, 1: t + 1].tolist()
                        pools[i].add(score / float(length_penalty(t + 1, alpha)), ids)
                    continue
                new_rows[i, live], new_tokens[i, live], new_scores[i, live] = origin, token, score
                live += 1
            best_live = new_scores[i, 0] / float(length_penalty(t + 1, alpha))
            done[i] = live == 0 or (pools[i].worst() >= best_live)
        rows = (np.arange(n)[:, None] * beam + new_rows).ravel()
        prefixes = prefixes[rows]
        prefixes[:, t + 1] = new_tokens.ravel()
        scores = np.where(done[:, None], -np.inf, new_scores)
        state = [a[rows] for a in state]
        if done.all():
            break
    return [pool.entries[0][1] if pool.entries else [] for pool in pools[:count]]


def beam_search(translator: Translator, sources: Sequence[np.ndarray], beam: int = 5, alpha: float = 0.6,
                max_len: int | None = None, chunk: int = 128, progress: bool = False) -> list[list[int]]:
    """The best target ids (without ``<s>`` and ``</s>``) for each source (a 1-d id array).

    ``max_len`` caps the length of a translation, ``</s>`` included (default: twice the source's
    length plus 10, at most 80, for each sentence). Sources are sorted by length and decoded
    ``chunk`` at a time, ``beam`` hypotheses each, padded to :func:`fixed_rows` and
    :func:`fixed_width`. ``beam=1`` is greedy decoding.
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
        total = fixed_rows(len(rows), chunk)
        batch = [sources[i] for i in rows] + [sources[rows[0]]] * (total - len(rows))
        limits = np.concatenate([limits, np.full(total - len(rows), limits.min())])
        source = padded(batch, fixed_width(max(1, lengths.max())))
        for i, ids in zip(rows, _search_chunk(translator, source, len(rows), beam, limits, alpha)):
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
    source_row = padded([source], fixed_width(len(source)))
    encoded = translator.encode(source_row)
    outputs = translator.decode(encoded, source_row, padded(prefix, fixed_width(prefix.shape[1])))
    return [a[0][..., : prefix.shape[1], : len(source)] for a in outputs[1:]]
