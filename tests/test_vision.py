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
from dlbook.vision import autoencoders, cnn, datasets, resnet


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


# Each backend trains the network in the precision it runs it in: TensorFlow and PyTorch in float32
# (the CPU default), JAX in mixed_bfloat16 (its GPU configuration). On an AVX2 CPU with no native
# bfloat16 the other two emulate it slowly: the bfloat16 training below took 760 s on TensorFlow in a
# whole test run (float32: 85 s) and 285 s on PyTorch; JAX took 122 s on one thread. JAX's float32
# training of it, 37 s of every test run, is left to `make test-backends` (chapters 05, 06 and 08
# under JAX); the same code path in bfloat16 is the stricter check. Layers and losses under
# mixed_bfloat16 stay tested on every backend in test_gan.py (on TensorFlow in test_seq2seq.py).
TRAINED_PRECISIONS = ["mixed_bfloat16"] if keras.backend.backend() == "jax" else ["float32"]


@pytest.mark.parametrize("precision", TRAINED_PRECISIONS)
def test_chapter_05_model_trains(fast_mode, real_data, precision):
    """A short training of chapter 05's classifier on 2 560 MNIST digits, in the precision its backend runs it in."""
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
    small_recipe = cnn.classifier_recipe(mode="fast") | {"train_size": 64, "epochs": 1, "batch_size": 32}
    monkeypatch.setattr(cnn, "classifier_recipe", lambda digits=None, epochs=None, mode=None: small_recipe)
    model, history = cnn.train_digit_classifier(striped_digits(128), verbose=0, save=True)
    assert len(history.history["loss"]) == 1 and cache.entry_for(cnn.CLASSIFIER).exists()
    loaded = cnn.load_digit_classifier(verbose=False)
    x = striped_digits(8).x_train
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


# --- Chapter 05's deep networks: plain and residual --------------------------------------------


@pytest.mark.parametrize("residual", [False, True])
def test_deep_cnn_has_the_depth_asked_for(residual):
    model = resnet.deep_cnn(depth=6, residual=residual, width=8)
    convolutions = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions == ["stem", *(f"conv{k}" for k in range(1, 7))]
    assert model.output_shape == (None, 10)
    skips = [layer for layer in model.layers if layer.name.startswith("skip")]
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert (len(skips), len(norms)) == ((3, 7) if residual else (0, 0))
    probabilities = model.predict(np.zeros((2, 28, 28, 1), "float32"), verbose=0)
    assert probabilities.dtype == np.float32 and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_deep_cnn_rejects_odd_residual_depths():
    with pytest.raises(ValueError, match="even one for a residual network"):
        resnet.deep_cnn(depth=5, residual=True)
    with pytest.raises(ValueError, match="positive depth"):
        resnet.deep_cnn(depth=0)


def test_a_residual_block_adds_its_input():
    """With its last convolution zeroed, each block is the identity: the skip path alone."""
    model = resnet.deep_cnn(depth=4, residual=True, width=4)
    for name in ("conv2", "conv4"):
        layer = model.get_layer(name)
        layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))
    x = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype("float32")
    stem = keras.Model(model.input, model.get_layer("stem_pool").output)
    blocks = keras.Model(model.input, model.get_layer("skip2").output)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(blocks(x)), keras.ops.convert_to_numpy(stem(x)), atol=1e-6)


def test_signal_norms_show_the_gradient_vanish_in_the_plain_network():
    digits = striped_digits(64)
    keras.utils.set_random_seed(0)
    plain = resnet.signal_norms(resnet.deep_cnn(depth=12), digits.x_train[:32], digits.y_train[:32])
    residual_model = resnet.deep_cnn(depth=12, residual=True)
    weights = [w.copy() for w in residual_model.get_weights()]
    residual = resnet.signal_norms(residual_model, digits.x_train[:32], digits.y_train[:32])
    assert plain["backward"].shape == plain["forward"].shape == (12,) and residual["backward"].shape == (6,)
    assert all(np.isfinite(v).all() and (v > 0).all() for v in (*plain.values(), *residual.values()))
    # Each plain layer multiplies the gradient by about 1/sqrt(2) on its way down (Glorot initial
    # weights, half the ReLUs off): the first layer gets a small fraction of what the last gets.
    assert plain["backward"][0] < 0.1 * plain["backward"][-1]
    # The skip connections pass it on undiminished.
    assert residual["backward"][0] > 0.5 * residual["backward"][-1]
    for before, after in zip(weights, residual_model.get_weights()):  # nothing was changed
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("residual", [False, True])
def test_deep_cnn_trains_under_mixed_bfloat16(isolated, residual):
    dlbook.setup(mode="fast", precision="mixed_bfloat16", verbose=False)
    try:
        model = resnet.deep_cnn(depth=4, residual=residual, width=8)
        assert model.get_layer("conv1").compute_dtype == "bfloat16"
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", **dlbook.compile_options())
        digits = striped_digits(128)
        history = model.fit(digits.x_train, digits.y_train, batch_size=32, epochs=2, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        assert model.predict(digits.x_test[:4], verbose=0).dtype == np.float32
        norms = resnet.signal_norms(model, digits.x_train[:16], digits.y_train[:16])
        assert np.isfinite(norms["backward"]).all()
    finally:
        keras.config.set_dtype_policy("float32")


# --- Chapter 08's autoencoders -----------------------------------------------------------------


def test_autoencoder_shapes_and_code():
    model, encoder, decoder = autoencoders.autoencoder(code_size=2)
    x = striped_digits(16).x_train[:4]
    codes = encoder.predict(x, verbose=0)
    assert codes.shape == (4, 2) and codes.dtype == np.float32
    np.testing.assert_allclose(model.predict(x, verbose=0), decoder.predict(codes, verbose=0), atol=1e-5)
    images = decoder.predict(np.zeros((3, 2), "float32"), verbose=0)
    assert images.shape == (3, 28, 28, 1) and 0 <= images.min() and images.max() <= 1


def test_autoencoder_learns_to_reconstruct():
    keras.utils.set_random_seed(0)
    digits = striped_digits(256)
    model, _, _ = autoencoders.autoencoder(code_size=2)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=autoencoders.reconstruction_loss)
    history = model.fit(digits.x_train, digits.x_train, batch_size=32, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]


def test_reconstruction_loss_sums_binary_cross_entropy_over_pixels():
    x = np.zeros((2, 28, 28, 1), "float32")
    decoded = np.full((2, 28, 28, 1), 0.5, "float32")
    loss = keras.ops.convert_to_numpy(autoencoders.reconstruction_loss(x, decoded))
    np.testing.assert_allclose(loss, [784 * np.log(2)] * 2, rtol=1e-4)


def test_sampling_adds_the_kl_divergence_and_draws_around_the_mean():
    sampling = autoencoders.Sampling(seed=1)
    mean = np.array([[1.0, -2.0]] * 4000, "float32")
    log_var = np.full((4000, 2), np.log(0.25), "float32")
    z = keras.ops.convert_to_numpy(sampling(mean, log_var))
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), [0.5, 0.5], atol=0.05)
    # KL(N(m, s²) || N(0, 1)) = (s² + m² - 1 - ln s²) / 2 per dimension.
    expected = sum(0.5 * (0.25 + m**2 - 1 - np.log(0.25)) for m in (1.0, -2.0))
    assert float(keras.ops.convert_to_numpy(sampling.losses[0])) == pytest.approx(expected, rel=1e-5)


def test_vae_trains_under_mixed_bfloat16(isolated):
    dlbook.setup(mode="fast", precision="mixed_bfloat16", verbose=False)
    try:
        vae, encoder, decoder = autoencoders.variational_autoencoder(code_size=2, seed=0)
        assert vae.get_layer("sampling").compute_dtype == "float32"
        vae.compile(optimizer="adam", loss=autoencoders.reconstruction_loss, **dlbook.compile_options())
        digits = striped_digits(128)
        history = vae.fit(digits.x_train, digits.x_train, batch_size=32, epochs=2, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        assert encoder.predict(digits.x_test[:3], verbose=0).dtype == np.float32
        assert decoder.predict(np.zeros((1, 2), "float32"), verbose=0).dtype == np.float32
    finally:
        keras.config.set_dtype_policy("float32")
