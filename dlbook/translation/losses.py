"""The translators' training loss: cross-entropy with label smoothing, per real target token."""


from __future__ import annotations

import keras

NOT_WORDS = (0, 1, 2)
"""The target ids that label smoothing gives no mass: ``<pad>``, ``<unk>`` and ``<s>``
(:class:`~dlbook.translation.datasets.TargetVocabulary`). ``</s>`` is a word the decoder writes."""


@keras.saving.register_keras_serializable(package="dlbook")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer targets with label smoothing ``ε`` (Szegedy et al. 2016), in float32,
    averaged over the real target tokens.

    ``(1 − ε) · (−log p[y]) − ε · mean_{k ∈ K}(log p[k])`` where ``K`` is every target id but
    ``excluded`` (:data:`NOT_WORDS`): the smoothing spreads ``ε`` over the words the decoder may
    write, never over padding, ``<unk>`` or ``<s>``, which keeps the model from over-confidence
    without teaching it to expect those. ``epsilon=0`` is plain cross-entropy.

    The reduction is ``mean_with_sample_weight``: with the batches' weights (1 on real target
    tokens, 0 on padding) a batch's loss is the sum over its real tokens divided by their number,
    so it does not depend on how much padding the batch holds.
    """

    def __init__(self, epsilon: float = 0.1, excluded=NOT_WORDS, name: str = "smoothed_crossentropy",
                 reduction: str = "mean_with_sample_weight", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        self.epsilon, self.excluded = epsilon, tuple(int(i) for i in excluded)

    def call(self, y_true, y_pred):
        log_p = keras.ops.log(keras.ops.clip(keras.ops.cast(y_pred, "float32"), 1e-9, 1.0))
        y_true = keras.ops.cast(y_true, "int32")
        nll = -keras.ops.take_along_axis(log_p, y_true[..., None], axis=-1)[..., 0]
        if not self.epsilon:
            return nll
        ids = keras.ops.arange(keras.ops.shape(log_p)[-1], dtype="int32")[:, None]
        excluded = keras.ops.convert_to_tensor([list(self.excluded) or [-1]], dtype="int32")
        words = keras.ops.cast(keras.ops.all(keras.ops.not_equal(ids, excluded), axis=-1), "float32")
        smooth = -keras.ops.sum(log_p * words, axis=-1) / keras.ops.sum(words)
        return (1.0 - self.epsilon) * nll + self.epsilon * smooth

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "excluded": list(self.excluded)}
