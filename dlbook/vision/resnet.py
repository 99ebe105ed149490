"""Deep plain and residual CNNs (chapter 05's section on depth) and the signals that explain them.

:func:`deep_cnn` builds two networks of the same depth on the digits: a *plain* stack of 3×3
convolutions with ReLU, and a *residual* one whose convolutions come in pre-activation blocks
(He et al., *Identity Mappings in Deep Residual Networks*, 2016): batch norm, ReLU, convolution,
twice, added to the block's input. :func:`signal_norms` measures, layer by layer, how large the
activations are on the way up and the gradient of the loss on the way down. In the plain stack
the gradient that reaches a layer is the product of one factor per layer above it, so it shrinks
(or grows) geometrically with depth; a residual block adds its input to its output, so the
gradient passes every block unchanged along the skip connection, plus what the block adds.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from dlbook.autodiff import value_and_grad


def _body(x, layer, depth: int, residual: bool, width: int, probes=None):
    """The deep part, on 7×7 maps: ``layer(name, make)`` returns the layer called ``name``
    (made by ``make()`` the first time). ``probes[k]``, if given, is added to the output of
    convolution ``k + 1`` (plain) or block ``k + 1`` (residual): a zero tensor whose gradient is
    the gradient of the loss with respect to that output."""
    def conv(k):
        return layer(f"conv{k}", lambda: layers.Conv2D(width, 3, padding="same", use_bias=not residual, name=f"conv{k}"))

    def probe(x, k):
        return x if probes is None else layer(f"probe{k}", lambda: layers.Add(name=f"probe{k}"))([x, probes[k]])

    if not residual:
        for k in range(1, depth + 1):
            x = probe(layer(f"relu{k}", lambda: layers.ReLU(name=f"relu{k}"))(conv(k)(x)), k - 1)
        return x
    for block in range(depth // 2):
        shortcut = x
        for k in (2 * block + 1, 2 * block + 2):
            x = layer(f"bn{k}", lambda: layers.BatchNormalization(momentum=0.9, name=f"bn{k}"))(x)
            x = layer(f"relu{k}", lambda: layers.ReLU(name=f"relu{k}"))(x)
            x = conv(k)(x)
        x = probe(layer(f"skip{block + 1}", lambda: layers.Add(name=f"skip{block + 1}"))([shortcut, x]), block)
    x = layer("bn_out", lambda: layers.BatchNormalization(momentum=0.9, name="bn_out"))(x)
    return layer("relu_out", lambda: layers.ReLU(name="relu_out"))(x)


def _graph(inputs, layer, depth, residual, width, probes=None):
    x = layer("stem", lambda: layers.Conv2D(width, 3, strides=2, padding="same", name="stem"))(inputs)  # 14×14
    x = layer("stem_pool", lambda: layers.MaxPooling2D(name="stem_pool"))(x)                          # 7×7
    x = _body(x, layer, depth, residual, width, probes)
    x = layer("average", lambda: layers.GlobalAveragePooling2D(name="average"))(x)
    return layer("digit", lambda: layers.Dense(10, activation="softmax", dtype="float32", name="digit"))(x)


def deep_cnn(depth: int = 20, residual: bool = False, width: int = 16, name: str | None = None) -> keras.Model:
    """A digit classifier with ``depth`` 3×3 convolutions of ``width`` channels after a stem.

    The stem (a strided 3×3 convolution, then 2×2 max pooling) takes the 28×28 image to 7×7 maps,
    so the deep part is cheap. ``residual=False``: each convolution is followed by a ReLU, nothing
    else (Keras's default Glorot initialisation, no normalisation). ``residual=True``: the same
    ``depth`` convolutions in ``depth // 2`` pre-activation blocks,
    ``x + conv(relu(bn(conv(relu(bn(x))))))`` (``depth`` must be even), then batch norm and ReLU.
    Both end in global average pooling and a float32 softmax over the 10 digits. The convolutions
    are named ``conv1`` … ``conv{depth}``, the blocks' additions ``skip1`` ….
    """
    if depth < 1 or (residual and depth % 2):
        raise ValueError(f"depth={depth}: use a positive depth, and an even one for a residual network "
                         "(its convolutions come in blocks of two).")
    made = {}

    def layer(layer_name, make):
        if layer_name not in made:
            made[layer_name] = make()
        return made[layer_name]

    inputs = keras.Input(shape=(28, 28, 1), name="image")
    outputs = _graph(inputs, layer, depth, residual, width)
    return keras.Model(inputs, outputs, name=name or f"{'residual' if residual else 'plain'}_cnn_{depth}")


def _shape_of(model: keras.Model) -> tuple[int, bool, int]:
    """``(depth, residual, width)`` of a :func:`deep_cnn` model, read from its layers."""
    convolutions = [layer for layer in model.layers if isinstance(layer, layers.Conv2D) and layer.name != "stem"]
    residual = any(layer.name.startswith("skip") for layer in model.layers)
    return len(convolutions), residual, convolutions[0].filters


def signal_norms(model: keras.Model, images, labels) -> dict[str, np.ndarray]:
    """How the signal travels through a :func:`deep_cnn` model, on one batch, without changing it.

    Returns ``{"forward": ..., "backward": ...}``, one value per convolution (plain) or block
    (residual), from the input side to the output side: the root mean square of that layer's
    output, and of the gradient of the mean cross-entropy with respect to that output. The model
    runs as in a training step (batch norm on the batch's statistics). Works on every backend.
    """
    depth, residual, width = _shape_of(model)
    count = depth // 2 if residual else depth
    probe_inputs = [keras.Input(shape=(7, 7, width), name=f"probe_input{k}") for k in range(count)]
    image = keras.Input(shape=(28, 28, 1), name="image")
    outputs = _graph(image, lambda name, make: model.get_layer(name) if name in _names(model) else make(),
                     depth, residual, width, probe_inputs)
    probed = keras.Model([image, *probe_inputs], outputs, name="probed")
    taps = keras.Model(probed.inputs, [probed.get_layer(f"probe{k}").output for k in range(count)])
    images = ops.convert_to_tensor(np.asarray(images, "float32"))
    labels = ops.convert_to_tensor(np.asarray(labels, "int32"))
    zeros = [np.zeros((len(labels), 7, 7, width), "float32") for _ in range(count)]
    trainable = [v.value for v in probed.trainable_variables]
    non_trainable = [v.value for v in probed.non_trainable_variables]

    def loss(*probes):
        probabilities, _ = probed.stateless_call(trainable, non_trainable, [images, *probes], training=True)
        return ops.mean(keras.losses.sparse_categorical_crossentropy(labels, probabilities))

    _, grads = value_and_grad(loss, argnums=tuple(range(count)))(*zeros)
    maps, _ = taps.stateless_call([v.value for v in taps.trainable_variables],
                                  [v.value for v in taps.non_trainable_variables], [images, *zeros], training=True)

    def rms(tensors):
        return np.array([np.sqrt(np.mean(np.square(ops.convert_to_numpy(t).astype("float64")))) for t in tensors])

    return {"forward": rms(maps if isinstance(maps, (list, tuple)) else [maps]), "backward": rms(grads)}


def _names(model: keras.Model) -> set[str]:
    return {layer.name for layer in model.layers}
