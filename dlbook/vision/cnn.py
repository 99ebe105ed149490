"""The digit CNNs of chapters 05, 06 and 08: the book's network, our trunk and classifier, augmentation.

Chapter 05 trains :func:`digit_classifier` and caches it (``train_digit_classifier(save=True)``).
Chapters 06 and 08 call :func:`load_digit_classifier`, which loads that checkpoint from the model
cache (:mod:`dlbook.cache`), or, if it is missing, trains it with the same code: no chapter
depends on another having run.
"""


from __future__ import annotations


import keras
import numpy as np
from keras import layers, ops

from dlbook import cache
from dlbook.config import compile_options, pick
from dlbook.vision.datasets import Digits, load_digits


def book_cnn() -> keras.Model:
    """The book's network of chapter 5: two 5x5 convolution + ReLU + 2x2 max-pooling stages (4, then
    8 filters, padded), a dense layer of 512 with dropout 0.5, and a 10-way softmax (in float32).
    Its layers are named ``conv1``, ``pool1``, ``conv2``, ``pool2`` so a chapter can look inside.
    """
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = layers.Conv2D(4, 5, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(8, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10, activation="softmax", dtype="float32", name="digit")(x)
    return keras.Model(inputs, outputs, name="book_cnn")


def digit_trunk(name: str = "digit_trunk") -> keras.Model:
    """The convolutional feature extractor: a (28, 28, 1) image to a 128-d feature vector.

    Two blocks of two 3x3 convolutions (32 then 64 filters) with batch normalisation and ReLU,
    each followed by 2x2 max pooling, then dropout and a dense layer of 128, also batch-normalised
    before its ReLU. Without that last batch norm, Adam's first steps on the 3 136 inputs of the
    dense layer could push most of its ReLUs below zero for good (with one seed on JAX 82 of 128
    died and the digit 0 was never learned). Batch norm uses momentum 0.9 so its running
    statistics settle within the few hundred steps of a fast-mode run.
    """
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = inputs
    for filters in (32, 64):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=0.9)(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(128, use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    features = layers.ReLU(name="features")(x)
    return keras.Model(inputs, features, name=name)


@keras.saving.register_keras_serializable(package="dlbook")
class RandomShift(layers.Layer):
    """Data augmentation: shift each image by a random whole number of pixels, in training only.

    Each image moves by up to ``max_shift`` pixels along each axis; pixels shifted in are zero
    (the MNIST background). The shift is a product with 0/1 shift matrices,
    ``out[b] = R[b] @ image[b] @ C[b]^T``, written in ``keras.ops``, so it compiles with XLA on
    every backend, unlike Keras's ``RandomTranslation`` (``supports_jit = False``), which
    keeps a whole model out of XLA.
    """

    def __init__(self, max_shift: int = 3, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_shift = int(max_shift)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _shift_matrices(self, offsets, size: int):
        """``(batch, size, size)`` matrices that move rows (or columns) down by ``offsets``."""
        rows = ops.arange(size)[None, :, None]
        columns = ops.arange(size)[None, None, :]
        return ops.cast(ops.equal(columns, rows - offsets[:, None, None]), self.compute_dtype)

    def call(self, images, training=False):
        if not training or self.max_shift == 0:
            return images
        batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        offsets = keras.random.randint((2, batch), -self.max_shift, self.max_shift + 1, seed=self.seed_generator)
        down, right = self._shift_matrices(offsets[0], height), self._shift_matrices(offsets[1], width)
        rows_moved = ops.einsum("bij,bjkc->bikc", down, images)   # two batched matrix products,
        return ops.einsum("bikc,blk->bilc", rows_moved, right)    # cheaper than one three-way einsum

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift, "seed": self.seed}


def digit_classifier(trunk: keras.Model | None = None) -> keras.Model:
    """The digit recognizer: random shifts (training only), the trunk, and a 10-way softmax.

    The softmax computes in float32, so the loss is precise under ``mixed_bfloat16``.
    """
    trunk = trunk or digit_trunk()
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = RandomShift(max_shift=3, name="shift")(inputs)
    outputs = layers.Dense(10, activation="softmax", dtype="float32", name="digit")(trunk(x))
    return keras.Model(inputs, outputs, name="digit_classifier")


def classifier_recipe(digits: Digits | None = None, epochs: int | None = None, mode: str | None = None) -> dict:
    """The training settings of :func:`train_digit_classifier` in the current mode (or ``mode``).

    Fast mode trains on 10 000 images for 4 epochs, full mode on all 60 000 for 10, with batches
    of 128 and Adam whose learning rate decays from 1e-3 to 0 along a cosine.
    """
    train_size = len(digits.x_train) if digits is not None else pick(fast=10_000, full=60_000, mode=mode)
    return {"train_size": train_size, "epochs": epochs or pick(fast=4, full=10, mode=mode), "batch_size": 128,
            "optimizer": "adam", "learning_rate": 1e-3, "schedule": "cosine"}


def train_digit_classifier(digits: Digits | None = None, epochs: int | None = None, verbose: int | str = "auto",
                           save: bool = False):
    """Build and train :func:`digit_classifier` with :func:`classifier_recipe`; returns ``(model, history)``.

    ``save=True`` (chapter 05) also caches the model for :func:`load_digit_classifier`, holding
    the cache's lock while it trains, so a chapter 06 or 08 started meanwhile waits for it
    instead of training its own copy. Only the current mode's recipe can be saved.
    """
    if save:
        if classifier_recipe(digits, epochs) != classifier_recipe():
            raise ValueError(f"only the current mode's recipe is cached ({classifier_recipe()}); "
                             "train with those settings or pass save=False")
        return cache.train_and_save(CLASSIFIER, lambda: train_digit_classifier(digits, epochs, verbose),
                                    cached=lambda result: result[0])
    recipe = classifier_recipe(digits, epochs)
    digits = digits or load_digits(train_size=recipe["train_size"])
    steps = recipe["epochs"] * int(np.ceil(len(digits.x_train) / recipe["batch_size"]))
    model = digit_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(recipe["learning_rate"], steps)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        **compile_options(),
    )
    history = model.fit(digits.x_train, digits.y_train, batch_size=recipe["batch_size"], epochs=recipe["epochs"],
                        verbose=verbose)
    return model, history


CLASSIFIER = cache.CachedModel(
    name="digit_classifier",
    description="digit classifier (chapter 05's model and recipe)",
    recipe=lambda mode: classifier_recipe(mode=mode),
    architecture=lambda recipe: digit_classifier(),
    train=lambda: train_digit_classifier(verbose=2)[0],
)
"""Chapter 05's digit classifier in the model cache (chapters 06 and 08 load it)."""


def load_digit_classifier(verbose: bool = True) -> keras.Model:
    """The cached digit classifier of the current mode, backend and precision; trained (and cached)
    first if missing. It comes compiled for evaluation on the current backend."""
    model = cache.load_or_train(CLASSIFIER, verbose=verbose)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], **compile_options())
    return model


def feature_extractor(classifier: keras.Model) -> keras.Model:
    """The classifier's penultimate layer: image to 128-d features (used for Fréchet distance)."""
    trunk = classifier.get_layer("digit_trunk")
    return keras.Model(trunk.inputs, trunk.outputs, name="digit_features")


def pretrained_trunk(classifier: keras.Model, trainable: bool = True, name: str = "pretrained_trunk") -> keras.Model:
    """A fresh copy of the classifier's trunk with its trained weights (the original is untouched).

    ``trainable=False`` freezes its weights. Call a frozen trunk with ``training=False`` (Keras's
    transfer-learning pattern): freezing alone puts batch norm in inference mode, but its dropout
    would still fire in training.
    """
    original = classifier.get_layer("digit_trunk")
    trunk = digit_trunk(name=name)
    trunk.set_weights(original.get_weights())
    trunk.trainable = trainable
    return trunk

