"""dlbook.vision: MNIST arrays, the digit CNN, its model cache, and addition pairs.

test_backends.py runs this file under every backend; the short mixed_bfloat16 training of chapter
05's model runs on JAX, the backend of the GPU configuration (see :data:`TRAINED_PRECISIONS`).
"""

from __future__ import annotations

import gzip

import keras
import numpy as np
import pytest

import dlbook
from dlbook import cache
from dlbook.vision import cnn, datasets


def striped_digits(n: int = 320, seed: int = 0) -> datasets.Digits:
    """Random images with a bar whose row depends on the label: a quick stand-in for MNIST."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype("int32")
    images = rng.uniform(0, 0.2, size=(n, 28, 28, 1)).astype("float32")
    for i, label in enumerate(labels):
        images[i, 2 + 2 * label : 4 + 2 * label, 4:24, 0] = 1.0
    return datasets.Digits(images[: n // 2], labels[: n // 2], images[n // 2 :], labels[n // 2 :])


@pytest.fixture
def fast_mode(isolated):
    dlbook.setup(mode="fast", verbose=False)
    yield isolated
    keras.config.set_dtype_policy("float32")


def test_to_model_input_scales_and_adds_a_channel():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    x = datasets.to_model_input(images)
    assert x.shape == (1, 2, 2, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, :, 0], [[0, 1], [0.2, 0.4]])


def test_load_digits(real_data):
    digits = datasets.load_digits(train_size=1000)
    assert digits.x_train.shape == (1000, 28, 28, 1) and digits.x_test.shape == (10000, 28, 28, 1)
    assert 0.0 <= digits.x_train.min() and digits.x_train.max() == 1.0 and digits.y_test.dtype == np.int32


def test_classifier_shapes_and_trunk():
    model = cnn.digit_classifier()
    assert model.output_shape == (None, 10) and model.get_layer("digit_trunk").output_shape == (None, 128)
    features = cnn.feature_extractor(model).predict(np.zeros((2, 28, 28, 1), "float32"), verbose=0)
    assert features.shape == (2, 128)


# mixed_bfloat16 is the GPU configuration of JAX. On this CPU (AVX2, no native bfloat16) the other
# two backends emulate it slowly: the bfloat16 training below took 760 s on TensorFlow in a whole
# test run (float32: 85 s) and 285 s on PyTorch; JAX took 122 s on one thread. Layers and losses
# under mixed_bfloat16 stay tested on every backend in test_gan.py (on TensorFlow in test_seq2seq.py).
TRAINED_PRECISIONS = ["float32", "mixed_bfloat16"] if keras.backend.backend() == "jax" else ["float32"]


@pytest.mark.parametrize("precision", TRAINED_PRECISIONS)
def test_chapter_05_model_trains(fast_mode, real_data, precision):
    """A short training of chapter 05's classifier on 2 560 MNIST digits, float32 and mixed_bfloat16."""
    keras.config.set_dtype_policy(precision)
    mnist = datasets.load_digits(train_size=2560)
    digits = datasets.Digits(mnist.x_train, mnist.y_train, mnist.x_test[:1000], mnist.y_test[:1000])
    model, history = cnn.train_digit_classifier(digits, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]
    probabilities = model.predict(digits.x_test, verbose=0)
    assert probabilities.dtype == np.float32  # the softmax computes in float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
    conv = next(layer for layer in model.get_layer("digit_trunk").layers if isinstance(layer, keras.layers.Conv2D))
    assert conv.compute_dtype == ("bfloat16" if precision == "mixed_bfloat16" else "float32")
    predicted = probabilities.argmax(axis=1)
    assert (predicted == digits.y_test).mean() > 0.9
    # Every digit is learned: a seed once left a whole class at 0 % because most of the 128 ReLU
    # features had died in Adam's first steps (the loss stalled near 2 at 85 % accuracy).
    per_class = [(predicted[digits.y_test == k] == k).mean() for k in range(10)]
    assert min(per_class) > 0.7, per_class
    features = cnn.feature_extractor(model).predict(digits.x_test, verbose=0)
    assert (features.max(axis=0) > 0).all(), "some features are dead (zero for every test digit)"


def test_load_digit_classifier_trains_once_then_loads(fast_mode, monkeypatch):
    calls = []
    real_train = cnn.train_digit_classifier

    def small_training(verbose):
        calls.append(verbose)
        return real_train(striped_digits(64), epochs=1, verbose=0)

    monkeypatch.setattr(cnn, "train_digit_classifier", small_training)
    first = cnn.load_digit_classifier(verbose=False)
    entry = cache.entry_for(cnn.CLASSIFIER)
    assert entry.exists() and entry.id.startswith("digit_classifier/fast-")
    second = cnn.load_digit_classifier(verbose=False)
    assert len(calls) == 1
    x = striped_digits(8).x_train
    np.testing.assert_allclose(first.predict(x, verbose=0), second.predict(x, verbose=0), atol=1e-5)


def test_classifier_cache_is_keyed_by_mode_recipe_and_precision(fast_mode):
    fast_entry = cache.entry_for(cnn.CLASSIFIER)
    assert cache.entry_for(cnn.CLASSIFIER) == fast_entry  # a second build of the same recipe: same entry
    dlbook.setup(mode="full", verbose=False)
    full_entry = cache.entry_for(cnn.CLASSIFIER)
    assert full_entry.key != fast_entry.key and full_entry.mode == "full"
    dlbook.setup(mode="fast", precision="mixed_bfloat16", verbose=False)  # another precision: another model
    assert cache.entry_for(cnn.CLASSIFIER) != fast_entry
    assert cnn.classifier_recipe(mode="full") == cnn.classifier_recipe() | {"train_size": 60_000, "epochs": 10}


def test_random_shift_moves_whole_images_by_whole_pixels():
    images = np.zeros((64, 28, 28, 1), "float32")
    images[:, 12:16, 12:16] = np.arange(16, dtype="float32").reshape(4, 4, 1) + 1
    shift = cnn.RandomShift(max_shift=3, seed=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(shift(images)), images)  # inference: unchanged
    shifted = keras.ops.convert_to_numpy(shift(images, training=True))
    offsets = set()
    for original, moved in zip(images[..., 0], shifted[..., 0]):
        rows, columns = np.nonzero(moved)
        dy, dx = rows.min() - 12, columns.min() - 12
        assert abs(dy) <= 3 and abs(dx) <= 3
        np.testing.assert_array_equal(moved, np.roll(original, (dy, dx), axis=(0, 1)))  # content intact
        offsets.add((int(dy), int(dx)))
    assert len(offsets) > 10  # each image draws its own shift


def test_random_shift_fills_with_zeros_and_survives_saving(tmp_path):
    images = np.ones((16, 28, 28, 1), "float32")
    shifted = keras.ops.convert_to_numpy(cnn.RandomShift(max_shift=2, seed=0)(images, training=True))
    assert shifted.min() == 0 and shifted.max() == 1 and (shifted.sum(axis=(1, 2, 3)) >= 26 * 26).all()
    model = cnn.digit_classifier()
    model.save(tmp_path / "m.keras")
    assert keras.saving.load_model(tmp_path / "m.keras").get_layer("shift").max_shift == 3


def test_pretrained_trunk_copies_weights_and_freezes():
    classifier = cnn.digit_classifier()
    frozen = cnn.pretrained_trunk(classifier, trainable=False)
    original = classifier.get_layer("digit_trunk")
    assert frozen is not original and not frozen.trainable and frozen.trainable_weights == []
    for mine, theirs in zip(frozen.get_weights(), original.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert cnn.pretrained_trunk(classifier).trainable


def test_addition_pairs():
    images = np.arange(20, dtype="float32").reshape(20, 1, 1, 1)
    labels = np.arange(20) % 10
    (first, second), sums = datasets.addition_pairs(images, labels, n_pairs=10, seed=0)
    used = np.concatenate([first.ravel(), second.ravel()])
    assert sorted(used) == list(range(20))  # no image used twice
    np.testing.assert_array_equal(sums, first.ravel().astype(int) % 10 + second.ravel().astype(int) % 10)
    (more_first, _), more_sums = datasets.addition_pairs(images, labels, n_pairs=50, seed=0)
    assert len(more_first) == 50 and more_sums.max() <= 18


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.idx3-ubyte.gz", array)
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "a.idx3-ubyte.gz"), array)


def test_read_idx_rejects_other_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x1f\x8b not idx")
    with pytest.raises(ValueError, match="not an idx file"):
        datasets.read_idx(tmp_path / "bad")
    truncated = tmp_path / "short.gz"
    with gzip.open(truncated, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="header says"):
        datasets.read_idx(truncated)


def test_load_mnist(real_data):
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and x_train.max() == 255
    assert sorted(np.unique(y_train)) == list(range(10)) and y_test.shape == (10000,)
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first training labels


def test_train_digit_classifier_can_save_only_the_modes_recipe(fast_mode):
    with pytest.raises(ValueError, match="only the current mode's recipe"):
        cnn.train_digit_classifier(striped_digits(64), epochs=1, verbose=0, save=True)
    assert not cache.entry_for(cnn.CLASSIFIER).exists()


def test_train_digit_classifier_saves_the_modes_recipe_to_the_cache(fast_mode, monkeypatch):
    small_recipe = {"train_size": 64, "epochs": 1, "batch_size": 32, "optimizer": "adam", "learning_rate": 1e-3,
                    "schedule": "cosine"}
    monkeypatch.setattr(cnn, "classifier_recipe", lambda digits=None, epochs=None, mode=None: small_recipe)
    model, history = cnn.train_digit_classifier(striped_digits(128), verbose=0, save=True)
    assert len(history.history["loss"]) == 1 and cache.entry_for(cnn.CLASSIFIER).exists()
    loaded = cnn.load_digit_classifier(verbose=False)
    x = striped_digits(8).x_train
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
