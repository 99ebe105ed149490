"""The translators' training loss: cross-entropy with label smoothing over the target words."""


from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="dlbook")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer targets with label smoothing ``ε`` (Szegedy et al. 2016), in float32.

    ``(1 − ε) · (−log p[y]) + ε · mean_k(−log p[k])``: the target gets ``1 − ε + ε/V`` of the
    probability mass and every word ``ε/V``, which keeps the model from over-confidence.
    ``epsilon=0`` is plain cross-entropy.
    """

    def __init__(self, epsilon: float = 0.1, name: str = "smoothed_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.epsilon = epsilon

    def call(self, y_true, y_pred):
        log_p = keras.ops.log(keras.ops.clip(keras.ops.cast(y_pred, "float32"), 1e-9, 1.0))
        y_true = keras.ops.cast(y_true, "int32")
        nll = -keras.ops.take_along_axis(log_p, y_true[..., None], axis=-1)[..., 0]
        return (1.0 - self.epsilon) * nll - self.epsilon * keras.ops.mean(log_p, axis=-1)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}

