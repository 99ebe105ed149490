"""dlbook.gan.GAN on the current backend (test_backends.py runs this file on the others)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers, ops

from dlbook.autodiff import value_and_grad
from dlbook.gan import GAN


def softplus(x):
    return ops.log1p(ops.exp(-ops.abs(x))) + ops.maximum(x, 0.0)


def tiny_gan():
    """G ignores its noise (zero kernel): fake = its bias. D is logistic regression."""
    g_in = keras.Input(shape=(3,))
    generator = keras.Model(g_in, layers.Dense(4, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(0.5))(g_in))
    d_in = keras.Input(shape=(4,))
    discriminator = keras.Model(d_in, layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.3))(d_in))
    return GAN(generator, discriminator, latent_dim=3, seed=0)


def test_one_step_matches_the_gradients_of_both_losses():
    gan = tiny_gan()
    gan.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    real = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    w_d, b_d = [ops.convert_to_numpy(v) for v in gan.discriminator.trainable_variables]
    b_g = ops.convert_to_numpy(gan.generator.trainable_variables[1])

    def d_loss(w, b):
        fake = ops.broadcast_to(ops.convert_to_tensor(b_g), (8, 4))
        real_logits = ops.matmul(ops.convert_to_tensor(real), w) + b
        return ops.mean(softplus(-real_logits)) + ops.mean(softplus(ops.matmul(fake, w) + b))

    def g_loss(bias):
        fake = ops.broadcast_to(bias, (8, 4))
        logits = ops.matmul(fake, ops.convert_to_tensor(w_d)) + ops.convert_to_tensor(b_d)
        return ops.mean(softplus(-logits))

    d_value, (grad_w, grad_b) = value_and_grad(d_loss, argnums=(0, 1))(w_d, b_d)
    g_value, grad_bias = value_and_grad(g_loss)(b_g)
    history = gan.fit(real, batch_size=8, epochs=1, shuffle=False, verbose=0)

    new_w, new_b = [ops.convert_to_numpy(v) for v in gan.discriminator.trainable_variables]
    np.testing.assert_allclose(new_w, w_d - 0.1 * ops.convert_to_numpy(grad_w), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_b, b_d - 0.1 * ops.convert_to_numpy(grad_b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(gan.generator.trainable_variables[1]),
                               b_g - 0.1 * ops.convert_to_numpy(grad_bias), rtol=1e-5, atol=1e-6)
    assert history.history["d_loss"][0] == pytest.approx(float(d_value), rel=1e-5)
    assert history.history["g_loss"][0] == pytest.approx(float(g_value), rel=1e-5)


def conditional_gan(latent_dim=8):
    z, label = keras.Input(shape=(latent_dim,)), keras.Input(shape=(), dtype="int32")
    x = layers.Concatenate()([z, layers.Embedding(10, 4)(label)])
    x = layers.Dense(7 * 7 * 8)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Reshape((7, 7, 8))(layers.ReLU()(x))
    image = layers.Conv2DTranspose(1, 4, strides=4, padding="same", activation="tanh", dtype="float32")(x)
    generator = keras.Model([z, label], image)
    img, d_label = keras.Input(shape=(28, 28, 1)), keras.Input(shape=(), dtype="int32")
    y = layers.Flatten()(layers.Conv2D(4, 4, strides=4)(img))
    y = layers.Dropout(0.2)(layers.Concatenate()([y, layers.Embedding(10, 4)(d_label)]))
    discriminator = keras.Model([img, d_label], layers.Dense(1, dtype="float32")(y))
    return GAN(generator, discriminator, latent_dim=latent_dim, num_classes=10, seed=1)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_conditional_gan_trains_with_fit(precision):
    keras.config.set_dtype_policy(precision)
    try:
        gan = conditional_gan()
        gan.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
        rng = np.random.default_rng(0)
        images = rng.uniform(-1, 1, size=(64, 28, 28, 1)).astype("float32")
        labels = rng.integers(0, 10, size=64)
        before = [ops.convert_to_numpy(w).copy() for w in gan.generator.trainable_variables + gan.discriminator.trainable_variables]
        history = gan.fit(images, labels, batch_size=16, epochs=2, verbose=0)
        after = [ops.convert_to_numpy(w) for w in gan.generator.trainable_variables + gan.discriminator.trainable_variables]
        assert all(not np.allclose(b, a) for b, a in zip(before, after)), "every weight should move"
        assert all(np.isfinite(history.history["d_loss"])) and all(np.isfinite(history.history["g_loss"]))
        moving_mean = [v for v in gan.generator.non_trainable_variables if "moving_mean" in v.path][0]
        assert np.abs(ops.convert_to_numpy(moving_mean)).sum() > 0, "batch-norm statistics should update"
        samples = gan.generate(labels=[3, 1, 4])
        assert samples.shape == (3, 28, 28, 1) and samples.dtype == np.float32
        assert np.all(np.abs(samples) <= 1.0)
    finally:
        keras.config.set_dtype_policy("float32")


def test_conditional_gan_needs_labels():
    gan = conditional_gan()
    gan.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    with pytest.raises(ValueError, match=r"fit\(images, labels\)"):
        gan.fit(np.zeros((4, 28, 28, 1), "float32"), batch_size=4, epochs=1, verbose=0)


def test_unconditional_generate():
    gan = tiny_gan()
    assert gan.generate(5).shape == (5, 4)
    np.testing.assert_allclose(gan.generate(2), 0.5)  # the zero-kernel generator outputs its bias


def test_snapshot_callback_records_fixed_samples():
    from dlbook.gan import SnapshotCallback

    gan = conditional_gan()
    gan.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    snapshots = SnapshotCallback(labels=[0, 1, 2], every=2)
    images = np.zeros((8, 28, 28, 1), "float32")
    gan.fit(images, np.arange(8) % 10, batch_size=4, epochs=4, verbose=0, callbacks=[snapshots])
    assert [epoch for epoch, _ in snapshots.snapshots] == [2, 4]
    assert all(grid.shape == (3, 28, 28, 1) for _, grid in snapshots.snapshots)
    noise = np.ones((2, 8), "float32")
    np.testing.assert_allclose(gan.generate(labels=[5, 5], noise=noise)[0], gan.generate(labels=[5, 5], noise=noise)[1], atol=1e-6)
