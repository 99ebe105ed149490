"""Chapter 11's recurrent translator: a GRU encoder–decoder, with or without attention.

The encoder reads the Chinese characters with a bidirectional GRU; the decoder is a GRU over the
English words so far, started from the encoder's summary (the *context vector*). Without
attention that vector is all the decoder knows of the source (Cho et al. 2014 feed it to every
step, as here). With attention, every decoder state ``s_t`` looks back at all encoder states
``h_j`` (:class:`Attention`)::

    score(s_t, h_j) = vᵀ tanh(W₁ h_j + W₂ s_t)      additive (Bahdanau et al. 2015)
    score(s_t, h_j) = s_tᵀ W h_j                    dot product, after a linear map (Luong et al. 2015)
    α_tj = softmax_j(score),   c_t = Σ_j α_tj h_j,   s̃_t = tanh(W_c [c_t; s_t])

and ``s̃_t`` predicts the next word. The attention follows the decoder GRU (Luong's placement),
so a whole target sentence trains in one parallel pass (teacher forcing). Models are built as
``encoder`` → ``decoder`` → ``next_word`` (see :mod:`dlbook.translation.search`).

Every GRU is built with ``dtype="float32"``: under a mixed policy it still computes in float32
(its inputs are cast to it, the layers after it go back to the policy), since cuDNN, which Keras
uses for a GRU on a TensorFlow GPU, rejects bfloat16.
"""

from __future__ import annotations

import keras
from keras import layers, ops

SCORES = ("additive", "dot")


@keras.saving.register_keras_serializable(package="dlbook")
class Attention(layers.Layer):
    """Attention of queries ``(B, T, dq)`` over a memory ``(B, S, dm)``, padding ignored.

    Called as ``context, weights = attention(query, memory, source_ids)``: ``weights`` ``(B, T, S)``
    sum to 1 over the source positions whose id is not 0 (the padding gets weight 0) and are
    float32; ``context`` ``(B, T, dm)`` is the weighted sum of the memory.
    """

    def __init__(self, score: str = "additive", units: int = 256, **kwargs):
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        self.score, self.units = score, units

    def build(self, query_shape, memory_shape, source_ids_shape=None):
        dq, dm = query_shape[-1], memory_shape[-1]
        if self.score == "additive":
            self.w_memory = self.add_weight(shape=(dm, self.units), name="w1", initializer="glorot_uniform")
            self.w_query = self.add_weight(shape=(dq, self.units), name="w2", initializer="glorot_uniform")
            self.v = self.add_weight(shape=(self.units,), name="v", initializer="glorot_uniform")
        else:
            self.w = self.add_weight(shape=(dm, dq), name="w", initializer="glorot_uniform")

    def scores(self, query, memory):
        """The unnormalised scores ``(B, T, S)``."""
        if self.score == "additive":
            keys = ops.matmul(memory, self.w_memory)[:, None, :, :]    # (B, 1, S, u)
            queries = ops.matmul(query, self.w_query)[:, :, None, :]   # (B, T, 1, u)
            return ops.einsum("btsu,u->bts", ops.tanh(keys + queries), self.v)
        keys = ops.matmul(memory, self.w)                               # (B, S, dq)
        return ops.einsum("btd,bsd->bts", query, keys)

    def call(self, query, memory, source_ids):
        scores = ops.cast(self.scores(query, memory), "float32")
        visible = ops.not_equal(source_ids, 0)[:, None, :]
        scores = ops.where(visible, scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=-1)
        context = ops.einsum("bts,bsd->btd", ops.cast(weights, memory.dtype), memory)
        return context, weights

    def compute_output_shape(self, query_shape, memory_shape, source_ids_shape=None):
        return (*query_shape[:2], memory_shape[-1]), (*query_shape[:2], memory_shape[1])

    def get_config(self):
        return {**super().get_config(), "score": self.score, "units": self.units}


def rnn_translator(source_size: int, target_size: int, attention: str | None = "additive", embedding: int = 256,
                   units: int = 256, dropout: float = 0.3) -> keras.Model:
    """The GRU encoder–decoder: ``[source ids, target ids in] → P(next word)``.

    ``attention`` is ``"additive"``, ``"dot"`` or None (the context vector only). The encoder's
    GRU runs both ways with ``units`` each; the decoder's GRU has ``2 * units``.
    """
    source = keras.Input((None,), dtype="int32", name="source")
    x = layers.Embedding(source_size, embedding, mask_zero=True, name="source_embedding")(source)
    x = layers.Dropout(dropout)(x)
    memory, forward, backward = layers.Bidirectional(
        layers.GRU(units, return_sequences=True, return_state=True, dtype="float32", name="gru"),
        dtype="float32", name="encoder_gru")(x)
    context = layers.Concatenate()([forward, backward])
    encoder = keras.Model(source, [memory, context], name="encoder")

    memory_in = keras.Input((None, 2 * units), name="memory")
    context_in = keras.Input((2 * units,), name="context")
    source_in = keras.Input((None,), dtype="int32", name="source_ids")
    target_in = keras.Input((None,), dtype="int32", name="target_in")
    y = layers.Embedding(target_size, embedding, name="target_embedding")(target_in)
    y = layers.Dropout(dropout)(y)
    if attention is None:  # the context vector at every step (Cho et al. 2014)
        y = layers.Concatenate()([y, RepeatAlong(name="context_every_step")(context_in, y)])
    states = layers.GRU(2 * units, return_sequences=True, dtype="float32", name="decoder_gru")(
        y, initial_state=context_in)
    outputs = []
    if attention is not None:
        attended, weights = Attention(attention, units, name="attention")(states, memory_in, source_in)
        states = layers.Dense(2 * units, activation="tanh", name="attentional_state")(
            layers.Concatenate()([attended, states]))
        outputs = [weights]
    states = layers.Dropout(dropout)(states)
    decoder = keras.Model([memory_in, context_in, source_in, target_in], [states, *outputs], name="decoder")

    target = keras.Input((None,), dtype="int32", name="target")
    features = decoder([*encoder(source), source, target])
    features = features[0] if isinstance(features, (list, tuple)) else features
    probabilities = layers.Dense(target_size, activation="softmax", dtype="float32", name="next_word")(features)
    name = f"gru_{attention}_attention" if attention else "gru_no_attention"
    return keras.Model([source, target], probabilities, name=name)


@keras.saving.register_keras_serializable(package="dlbook")
class RepeatAlong(layers.Layer):
    """``vector`` ``(B, d)`` repeated along the time axis of ``sequence`` ``(B, T, ·)``: ``(B, T, d)``."""

    def call(self, vector, sequence):
        return ops.zeros_like(sequence[..., :1], dtype=vector.dtype) + vector[:, None, :]

    def compute_output_shape(self, vector_shape, sequence_shape):
        return (*sequence_shape[:2], vector_shape[-1])


def decoder_step(model: keras.Model) -> keras.Model:
    """One step of a trained :func:`rnn_translator`'s decoder, sharing its layers (and weights):
    ``[memory, context, source ids, state, word] → [features, new state]``.

    ``state`` ``(B, 2·units)`` is the decoder GRU's state (the context vector at the start), and
    ``word`` ``(B, 1)`` the last word written; ``features`` ``(B, 1, 2·units)`` are what the
    full decoder gives at that position. Decoding word by word with it costs one GRU step per
    word, where the full decoder re-reads the whole prefix (:mod:`dlbook.translation.search`).
    Dropout is left out: decoding runs without it.
    """
    decoder = model.get_layer("decoder")
    names = {layer.name for layer in decoder.layers}
    width = decoder.get_layer("decoder_gru").units
    memory_in = keras.Input((None, decoder.inputs[0].shape[-1]), name="memory")
    context_in = keras.Input((width,), name="context")
    source_in = keras.Input((None,), dtype="int32", name="source_ids")
    state_in = keras.Input((width,), name="state")
    word_in = keras.Input((1,), dtype="int32", name="word")
    y = decoder.get_layer("target_embedding")(word_in)
    if "context_every_step" in names:
        y = layers.Concatenate()([y, RepeatAlong()(context_in, y)])
    states = decoder.get_layer("decoder_gru")(y, initial_state=state_in)
    features = states
    if "attention" in names:
        attended, _ = decoder.get_layer("attention")(states, memory_in, source_in)
        features = decoder.get_layer("attentional_state")(layers.Concatenate()([attended, states]))
    new_state = states[:, -1, :]  # a GRU's output is its state
    return keras.Model([memory_in, context_in, source_in, state_in, word_in], [features, new_state],
                       name="decoder_step")
