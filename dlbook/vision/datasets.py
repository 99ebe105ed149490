"""MNIST for chapters 05, 06 and 08: the idx files through the hub, digits as model input, pairs of digits."""


from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import numpy as np

from dlbook.data import fetch


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

