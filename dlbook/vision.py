"""MNIST helpers shared by chapters 05, 06 and 08: the data, the digit CNN, and its model cache.

Chapter 05 trains :func:`digit_classifier` and saves it with :func:`save_digit_classifier`.
Chapters 06 and 08 call :func:`load_digit_classifier`, which loads that checkpoint, or, if it is
missing, trains it with the same code: no chapter depends on another having run.
"""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import keras
import numpy as np

from dlbook.config import current, pick
from dlbook.data import fetch
from dlbook.paths import atomic_path, locked, models_dir

layers = keras.layers


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (the MNIST format), gzipped or not, into a NumPy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an idx file of unsigned bytes (bad magic number).")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise ValueError(f"{path}: header says {shape} ({expected} bytes), found {len(data) - offset}.")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def load_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST as ``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 28, 28) and labels."""
    def part(prefix: str):
        images = read_idx(fetch("mnist", f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(fetch("mnist", f"{prefix}-labels-idx1-ubyte.gz"))
        return images, labels

    return part("train"), part("t10k")


@dataclasses.dataclass
class Digits:
    """MNIST as float32 images in [0, 1] of shape (N, 28, 28, 1) and integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) to float32 in [0, 1] with a channel axis: (N, 28, 28, 1)."""
    return (np.asarray(images, dtype="float32") / 255.0)[..., None]


def load_digits(train_size: int | None = None) -> Digits:
    """MNIST from the dataset hub, optionally only the first ``train_size`` training images."""
    (x_train, y_train), (x_test, y_test) = load_mnist()
    if train_size is not None:
        x_train, y_train = x_train[:train_size], y_train[:train_size]
    return Digits(to_model_input(x_train), y_train.astype("int32"), to_model_input(x_test), y_test.astype("int32"))


def digit_trunk(name: str = "digit_trunk") -> keras.Model:
    """The convolutional feature extractor: a (28, 28, 1) image to a 128-d feature vector.

    Two blocks of two 3x3 convolutions (32 then 64 filters) with batch normalisation and ReLU,
    each followed by 2x2 max pooling, then a dense layer of 128. Batch norm uses momentum 0.9
    so its running statistics settle within the few hundred steps of a fast-mode run.
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
    features = layers.Dense(128, activation="relu", name="features")(x)
    return keras.Model(inputs, features, name=name)


def digit_classifier(trunk: keras.Model | None = None) -> keras.Model:
    """The digit recognizer: random shifts (training only), the trunk, and a 10-way softmax.

    The softmax computes in float32, so the loss is precise under ``mixed_bfloat16``.
    """
    trunk = trunk or digit_trunk()
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant", name="shift")(inputs)
    outputs = layers.Dense(10, activation="softmax", dtype="float32", name="digit")(trunk(x))
    return keras.Model(inputs, outputs, name="digit_classifier")


def train_digit_classifier(digits: Digits | None = None, epochs: int | None = None, verbose: int | str = "auto"):
    """Build and train :func:`digit_classifier`; returns ``(model, history)``.

    Defaults per mode: fast trains on 10 000 images for 4 epochs, full on all 60 000 for 15,
    with Adam and a learning rate decaying from 1e-3 along a cosine.
    """
    digits = digits or load_digits(train_size=pick(fast=10_000, full=None))
    epochs = epochs or pick(fast=4, full=15)
    batch_size = 128
    steps = epochs * int(np.ceil(len(digits.x_train) / batch_size))
    model = digit_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(digits.x_train, digits.y_train, batch_size=batch_size, epochs=epochs, verbose=verbose)
    return model, history


def classifier_path() -> Path:
    """Where the digit classifier of the current mode is cached."""
    return models_dir() / f"digit_classifier_{current().mode}.keras"


def save_digit_classifier(model: keras.Model) -> Path:
    """Save the classifier to the model cache (atomically) for later chapters."""
    path = classifier_path()
    with locked(path):
        _save_atomically(model, path)
    return path


def _save_atomically(model: keras.Model, path: Path) -> None:
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)


def load_digit_classifier(verbose: bool = True) -> keras.Model:
    """The cached digit classifier of the current mode; trained (and cached) first if missing."""
    path = classifier_path()
    with locked(path):
        if path.is_file():
            if verbose:
                print(f"Loaded the digit classifier from {path}")
            return keras.saving.load_model(path)
        if verbose:
            print(f"No digit classifier at {path}: training it now (chapter 05's model and recipe).")
        model, _ = train_digit_classifier(verbose=2 if verbose else 0)
        _save_atomically(model, path)
        return model


def feature_extractor(classifier: keras.Model) -> keras.Model:
    """The classifier's penultimate layer: image to 128-d features (used for Fréchet distance)."""
    trunk = classifier.get_layer("digit_trunk")
    return keras.Model(trunk.inputs, trunk.outputs, name="digit_features")


def pretrained_trunk(classifier: keras.Model, trainable: bool = True, name: str = "pretrained_trunk") -> keras.Model:
    """A fresh copy of the classifier's trunk with its trained weights (the original is untouched).

    ``trainable=False`` freezes it; its batch-norm layers then also run in inference mode.
    """
    original = classifier.get_layer("digit_trunk")
    trunk = digit_trunk(name=name)
    trunk.set_weights(original.get_weights())
    trunk.trainable = trainable
    return trunk


def addition_pairs(images: np.ndarray, labels: np.ndarray, n_pairs: int, seed: int = 0):
    """``n_pairs`` random pairs of digits and their sums: ``((first, second), sums)``.

    With ``n_pairs <= len(images) // 2`` no image is used twice.
    """
    rng = np.random.default_rng(seed)
    if n_pairs <= len(images) // 2:
        order = rng.permutation(len(images))[: 2 * n_pairs]
        first, second = order[:n_pairs], order[n_pairs:]
    else:
        first, second = rng.integers(0, len(images), size=(2, n_pairs))
    return (images[first], images[second]), (labels[first] + labels[second]).astype("int32")
