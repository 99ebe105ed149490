"""dlbook.vision.gan.GAN on the current backend (test_backends.py runs this file on the others)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers, ops

from dlbook.autodiff import value_and_grad
from dlbook.vision.gan import GAN


def softplus(x):
    return ops.log1p(ops.exp(-ops.abs(x))) + ops.maximum(x, 0.0)


def tiny_gan():
    """G ignores its noise (zero kernel): fake = its bias. D is logistic regression."""
    g_in = keras.Input(shape=(3,))
    generator = keras.Model(g_in, layers.Dense(4, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(0.5))(g_in))
    d_in = keras.Input(shape=(4,))
    discriminator = keras.Model(d_in, layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.3))(d_in))
    return GAN(generator, discriminator, latent_dim=3, seed=0)


def reference_step(real, w_d, b_d, b_g):
    """The losses and the gradients of one tiny_gan step, computed independently in float32."""

    def d_loss(w, b):
        fake = ops.broadcast_to(ops.convert_to_tensor(b_g), (len(real), 4))
        real_logits = ops.matmul(ops.convert_to_tensor(real), w) + b
        return ops.mean(softplus(-real_logits)) + ops.mean(softplus(ops.matmul(fake, w) + b))

    def g_loss(bias):
        fake = ops.broadcast_to(bias, (len(real), 4))
        logits = ops.matmul(fake, ops.convert_to_tensor(w_d)) + ops.convert_to_tensor(b_d)
        return ops.mean(softplus(-logits))

    d_value, (grad_w, grad_b) = value_and_grad(d_loss, argnums=(0, 1))(w_d, b_d)
    g_value, grad_bias = value_and_grad(g_loss)(b_g)
    return float(d_value), float(g_value), [ops.convert_to_numpy(g) for g in (grad_w, grad_b, grad_bias)]


def one_sgd_epoch(precision, real, learning_rate=0.1):
    """fit() tiny_gan for one epoch (batches of 8) with SGD under ``precision``.

    Returns ``(gan, history, before, reference)``: the initial weights, and the reference step
    computed from them on the last batch.
    """
    keras.config.set_dtype_policy(precision)
    try:
        gan = tiny_gan()
        gan.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate))
        w_d, b_d = [ops.convert_to_numpy(v) for v in gan.discriminator.trainable_variables]
        b_g = ops.convert_to_numpy(gan.generator.trainable_variables[1])
        reference = reference_step(real[-8:], w_d, b_d, b_g)
        history = gan.fit(real, batch_size=8, epochs=1, shuffle=False, verbose=0)
    finally:
        keras.config.set_dtype_policy("float32")
    return gan, history, (w_d, b_d, b_g), reference


def assert_sgd_update(gan, before, reference, history=None, learning_rate=0.1, rtol=1e-5, atol=1e-6):
    (w_d, b_d, b_g), (d_value, g_value, (grad_w, grad_b, grad_bias)) = before, reference
    new_w, new_b = [ops.convert_to_numpy(v) for v in gan.discriminator.trainable_variables]
    new_b_g = ops.convert_to_numpy(gan.generator.trainable_variables[1])
    # Compare the updates themselves (new - old), so that a tolerance on them means something.
    np.testing.assert_allclose(new_w - w_d, -learning_rate * grad_w, rtol=rtol, atol=atol)
    np.testing.assert_allclose(new_b - b_d, -learning_rate * grad_b, rtol=rtol, atol=atol)
    np.testing.assert_allclose(new_b_g - b_g, -learning_rate * grad_bias, rtol=rtol, atol=atol)
    if history is not None:  # the logged losses are the unscaled ones
        assert history.history["d_loss"][0] == pytest.approx(d_value, rel=max(rtol, 1e-5))
        assert history.history["g_loss"][0] == pytest.approx(g_value, rel=max(rtol, 1e-5))


def real_batch(n=8):
    return np.random.default_rng(0).normal(size=(n, 4)).astype("float32")


def test_one_step_matches_the_gradients_of_both_losses():
    gan, history, before, reference = one_sgd_epoch("float32", real_batch())
    assert_sgd_update(gan, before, reference, history)


def test_mixed_float16_step_is_unscaled_correctly():
    """Under mixed_float16, compile() wraps the optimizer in a LossScaleOptimizer (scale 2**15).

    The step must scale the losses before differentiating, or every update comes out 2**15 times
    too small. The float16 forward pass (inputs and weights rounded to 11 significant bits) is
    compared with float32 gradients, hence a relative tolerance of 1e-2 (about 10 float16 ulps).
    """
    gan, history, before, reference = one_sgd_epoch("mixed_float16", real_batch())
    assert isinstance(gan.optimizer, keras.optimizers.LossScaleOptimizer), "the policy should wrap the optimizer"
    assert float(ops.convert_to_numpy(gan.optimizer.dynamic_scale)) == 2.0**15, "a finite step keeps the scale"
    assert_sgd_update(gan, before, reference, history, rtol=1e-2, atol=1e-4)


def test_mixed_float16_step_uses_the_current_loss_scale():
    """A non-finite batch is skipped and halves the scale; the next step must scale by the new value.

    A step that read the scale once (at tracing time, or the initial value) would make the second
    update twice too large.
    """
    real = np.concatenate([real_batch(), real_batch(16)[8:]])
    real[0, 0] = np.inf  # the first batch's discriminator gradients are not finite
    gan, _, before, reference = one_sgd_epoch("mixed_float16", real)
    assert float(ops.convert_to_numpy(gan.optimizer.dynamic_scale)) == 2.0**14
    # The weights moved once, by the second batch's gradients (the logged losses include NaN).
    assert_sgd_update(gan, before, reference, rtol=1e-2, atol=1e-4)


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


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16", "mixed_float16"])
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


def test_generate_runs_in_inference_mode_and_uses_the_labels():
    """After training, batch norm uses its moving statistics: an image does not depend on its batch."""
    gan = conditional_gan()
    gan.compile(optimizer=keras.optimizers.Adam(1e-2, beta_1=0.5))
    rng = np.random.default_rng(0)
    gan.fit(rng.uniform(-1, 1, size=(32, 28, 28, 1)).astype("float32"), rng.integers(0, 10, size=32), batch_size=16, epochs=2, verbose=0)
    noise = rng.normal(size=(4, 8)).astype("float32")
    batch = gan.generate(labels=[5, 5, 7, 0], noise=noise)
    alone = gan.generate(labels=[5], noise=noise[:1])
    np.testing.assert_allclose(alone[0], batch[0], atol=1e-5)
    same_noise = gan.generate(labels=[5, 7], noise=np.repeat(noise[:1], 2, axis=0))
    assert np.abs(same_noise[0] - same_noise[1]).max() > 1e-3, "the label should change the image"


def test_snapshot_callback_records_fixed_samples():
    from dlbook.vision.gan import SnapshotCallback

    gan = conditional_gan()
    gan.compile(optimizer=keras.optimizers.Adam(1e-2, beta_1=0.5))
    snapshots = SnapshotCallback(labels=[0, 1, 2], every=2, seed=7)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(8, 28, 28, 1)).astype("float32")
    gan.fit(images, np.arange(8) % 10, batch_size=4, epochs=4, verbose=0, callbacks=[snapshots])
    assert [epoch for epoch, _ in snapshots.snapshots] == [2, 4]
    assert all(grid.shape == (3, 28, 28, 1) for _, grid in snapshots.snapshots)
    # The snapshots follow training (the generator moved between epochs 2 and 4) ...
    (_, first), (_, last) = snapshots.snapshots
    assert np.abs(first - last).max() > 1e-3
    # ... and use the same noise every time: that of the callback's seed.
    noise = np.random.default_rng(7).normal(size=(3, 8)).astype("float32")
    np.testing.assert_allclose(last, gan.generate(labels=[0, 1, 2], noise=noise), atol=1e-5)
