"""Chapter 13's Transformer (Vaswani et al. 2017): attention from scratch, then a translator.

:func:`scaled_dot_product_attention` is the formula written out, with the two masks a
Transformer needs (:func:`padding_mask`, :func:`causal_mask`)::

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + M) V      M = −∞ where a position is hidden

The translator itself is built on ``keras.layers.MultiHeadAttention`` (which runs on every
backend): :class:`PositionalEmbedding` (token embeddings plus sinusoidal or learned positions),
:class:`EncoderBlock` and :class:`DecoderBlock` (pre-layer-norm residual blocks with dropout),
and :class:`WarmupSchedule`, the paper's learning rate that rises for ``warmup`` steps and then
falls as 1/√step. :func:`transformer_translator` assembles them as ``encoder`` → ``decoder`` →
``next_word``, the layout :mod:`dlbook.translation.search` decodes; the decoder also returns every layer's
cross-attention maps ``(B, heads, T, S)``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from dlbook.translation.datasets import TargetVocabulary


def scaled_dot_product_attention(query, key, value, mask=None):
    """``softmax(Q Kᵀ / √d) V`` and the weights; ``mask`` (broadcastable to ``(…, T, S)``, True =
    visible) gives hidden positions weight 0. Shapes ``(…, T, d)``, ``(…, S, d)``, ``(…, S, dv)``."""
    depth = ops.cast(ops.shape(query)[-1], "float32")
    scores = ops.cast(ops.matmul(query, ops.swapaxes(key, -1, -2)), "float32") / ops.sqrt(depth)
    if mask is not None:
        scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
    weights = ops.softmax(scores, axis=-1)
    return ops.matmul(ops.cast(weights, value.dtype), value), weights


def padding_mask(ids):
    """``(B, 1, S)``: True where ``ids`` ``(B, S)`` is a token, False on the padding (id 0)."""
    return ops.not_equal(ids, 0)[:, None, :]


def causal_mask(length: int):
    """``(length, length)``: position t sees positions ≤ t (True), not the future."""
    return ops.tril(ops.ones((length, length), dtype="bool"))


def sinusoidal_positions(length: int, depth: int) -> np.ndarray:
    """The paper's positional encoding ``(length, depth)``: sin and cos of pos / 10000^(2i/depth)."""
    positions = np.arange(length)[:, None]
    rates = 1.0 / 10000 ** (np.arange(0, depth, 2) / depth)
    table = np.zeros((length, depth), np.float32)
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates)[:, : depth // 2]
    return table


@keras.saving.register_keras_serializable(package="dlbook")
class PositionalEmbedding(layers.Layer):
    """Token embedding × √d plus a position code, ``"sinusoidal"`` (fixed) or ``"learned"``."""

    def __init__(self, vocabulary_size: int, depth: int, max_len: int = 128, positions: str = "sinusoidal", **kwargs):
        super().__init__(**kwargs)
        if positions not in ("sinusoidal", "learned"):
            raise ValueError(f"positions must be 'sinusoidal' or 'learned', got {positions!r}")
        self.vocabulary_size, self.depth, self.max_len, self.positions = vocabulary_size, depth, max_len, positions
        self.tokens = layers.Embedding(vocabulary_size, depth, dtype=self.dtype_policy)
        if positions == "learned":
            self.position_table = layers.Embedding(max_len, depth, dtype=self.dtype_policy)

    def build(self, ids_shape):
        self.tokens.build(ids_shape)
        if self.positions == "learned":
            self.position_table.build((None,))

    def call(self, ids):
        length = ops.shape(ids)[1]
        x = self.tokens(ids) * ops.cast(ops.sqrt(float(self.depth)), self.compute_dtype)
        if self.positions == "learned":
            codes = self.position_table(ops.arange(length))
        else:
            codes = ops.convert_to_tensor(sinusoidal_positions(self.max_len, self.depth))[:length]
        return x + ops.cast(codes, self.compute_dtype)[None]

    def compute_output_shape(self, ids_shape):
        return (*ids_shape, self.depth)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "depth": self.depth,
                "max_len": self.max_len, "positions": self.positions}


class _Block(layers.Layer):
    """Shared settings of the encoder and decoder blocks."""

    def __init__(self, depth: int, heads: int, hidden: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.depth, self.heads, self.hidden, self.dropout = depth, heads, hidden, dropout

    def _attention(self):
        return layers.MultiHeadAttention(self.heads, self.depth // self.heads, dropout=self.dropout,
                                         dtype=self.dtype_policy)

    def _feed_forward(self):
        return keras.Sequential([layers.Dense(self.hidden, activation="relu", dtype=self.dtype_policy),
                                 layers.Dense(self.depth, dtype=self.dtype_policy)])

    def _norm(self):
        return layers.LayerNormalization(epsilon=1e-6, dtype=self.dtype_policy)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, "heads": self.heads, "hidden": self.hidden,
                "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="dlbook")
class EncoderBlock(_Block):
    """Self-attention over the source (padding hidden), then a feed-forward layer; pre-norm residuals."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.attention, self.feed_forward = self._attention(), self._feed_forward()
        self.norm1, self.norm2, self.drop = self._norm(), self._norm(), layers.Dropout(self.dropout)

    def build(self, x_shape, source_ids_shape=None):
        self.attention.build(x_shape, x_shape)
        for layer in (self.norm1, self.norm2, self.feed_forward):
            layer.build(x_shape)

    def call(self, x, source_ids, training=None):
        mask = ops.broadcast_to(padding_mask(source_ids), (ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[1]))
        h = self.norm1(x)
        x = x + self.drop(self.attention(h, h, attention_mask=mask, training=training), training=training)
        return x + self.drop(self.feed_forward(self.norm2(x), training=training), training=training)

    def compute_output_shape(self, x_shape, source_ids_shape=None):
        return x_shape


@keras.saving.register_keras_serializable(package="dlbook")
class DecoderBlock(_Block):
    """Causal self-attention, attention over the encoder's output, feed-forward; pre-norm residuals.

    Returns the new states and the cross-attention weights ``(B, heads, T, S)``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.self_attention, self.cross_attention = self._attention(), self._attention()
        self.feed_forward = self._feed_forward()
        self.norm1, self.norm2, self.norm3 = self._norm(), self._norm(), self._norm()
        self.drop = layers.Dropout(self.dropout)

    def build(self, x_shape, memory_shape, source_ids_shape=None):
        self.self_attention.build(x_shape, x_shape)
        self.cross_attention.build(x_shape, memory_shape)
        for layer in (self.norm1, self.norm2, self.norm3, self.feed_forward):
            layer.build(x_shape)

    def call(self, x, memory, source_ids, training=None):
        h = self.norm1(x)
        x = x + self.drop(self.self_attention(h, h, use_causal_mask=True, training=training), training=training)
        mask = ops.broadcast_to(padding_mask(source_ids), (ops.shape(x)[0], ops.shape(x)[1], ops.shape(memory)[1]))
        attended, weights = self.cross_attention(self.norm2(x), memory, attention_mask=mask,
                                                 return_attention_scores=True, training=training)
        x = x + self.drop(attended, training=training)
        x = x + self.drop(self.feed_forward(self.norm3(x), training=training), training=training)
        return x, ops.cast(weights, "float32")

    def compute_output_shape(self, x_shape, memory_shape, source_ids_shape=None):
        return x_shape, (x_shape[0], self.heads, x_shape[1], memory_shape[1])


@keras.saving.register_keras_serializable(package="dlbook")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``peak · min(step / warmup, √(warmup / step))``: linear warm-up, then 1/√step decay."""

    def __init__(self, peak: float = 1e-3, warmup: int = 1000):
        self.peak, self.warmup = peak, warmup

    def __call__(self, step):
        step = ops.maximum(ops.cast(step, "float32") + 1.0, 1.0)
        return self.peak * ops.minimum(step / self.warmup, ops.sqrt(self.warmup / step))

    def get_config(self):
        return {"peak": self.peak, "warmup": self.warmup}


def copy_task(count: int, length: int, symbols: int = 10, seed: int = 0):
    """The copy task: ``count`` random sequences of ``length`` symbols to be written out again.

    Symbols are ids 4 … 3 + ``symbols`` (ids 0–3 are ``<pad>``, ``<unk>``, ``<s>``, ``</s>``, as in
    translation). Returns ``((source, target_in), target_out)`` in the layout translators train on:
    ``target_in`` is ``<s>`` + source, ``target_out`` is source + ``</s>``.
    """
    rng = np.random.default_rng(seed)
    source = rng.integers(4, 4 + symbols, size=(count, length)).astype("int32")
    start = np.full((count, 1), TargetVocabulary.START, "int32")
    end = np.full((count, 1), TargetVocabulary.END, "int32")
    return (source, np.concatenate([start, source], axis=1)), np.concatenate([source, end], axis=1)


def transformer_translator(source_size: int, target_size: int, depth: int = 256, heads: int = 4, hidden: int = 1024,
                           blocks: int = 3, dropout: float = 0.2, positions: str = "sinusoidal",
                           max_len: int = 128) -> keras.Model:
    """An encoder–decoder Transformer: ``[source ids, target ids in] → P(next word)``."""
    settings = dict(depth=depth, heads=heads, hidden=hidden, dropout=dropout)
    source = keras.Input((None,), dtype="int32", name="source")
    x = PositionalEmbedding(source_size, depth, max_len, positions, name="source_embedding")(source)
    x = layers.Dropout(dropout)(x)
    for i in range(blocks):
        x = EncoderBlock(**settings, name=f"encoder_block_{i + 1}")(x, source)
    memory = layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(x)
    encoder = keras.Model(source, memory, name="encoder")

    memory_in = keras.Input((None, depth), name="memory")
    source_in = keras.Input((None,), dtype="int32", name="source_ids")
    target_in = keras.Input((None,), dtype="int32", name="target_in")
    y = PositionalEmbedding(target_size, depth, max_len, positions, name="target_embedding")(target_in)
    y = layers.Dropout(dropout)(y)
    maps = []
    for i in range(blocks):
        y, weights = DecoderBlock(**settings, name=f"decoder_block_{i + 1}")(y, memory_in, source_in)
        maps.append(weights)
    y = layers.LayerNormalization(epsilon=1e-6, name="decoder_norm")(y)
    decoder = keras.Model([memory_in, source_in, target_in], [y, *maps], name="decoder")

    target = keras.Input((None,), dtype="int32", name="target")
    features = decoder([encoder(source), source, target])[0]
    probabilities = layers.Dense(target_size, activation="softmax", dtype="float32", name="next_word")(features)
    return keras.Model([source, target], probabilities, name="transformer")
