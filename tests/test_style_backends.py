"""The style-transfer optimisation path on the current backend: the loss's value and gradient (which
dlbook.vision.vgg.Objective compiles with jax.jit under JAX and takes through dlbook.autodiff elsewhere),
L-BFGS-B and Adam. Seconds; meant for test_backends.py's PER_BACKEND_TESTS."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.vision import style, vgg


@pytest.fixture(scope="module")
def images():
    content = np.random.default_rng(5).uniform(0, 1, (32, 40, 3)).astype("float32")
    stripes = 0.5 + 0.5 * np.sin(np.arange(40) / 3.0)[None, :, None] * np.array([1.0, -0.5, 0.2])
    painting = np.broadcast_to(stripes, content.shape).astype("float32")
    return content, painting


def test_value_and_grad_matches_the_losses_and_finite_differences(images):
    content, painting = images
    objective = vgg.Objective(content, painting, style_layers=("conv1_1", "conv2_1"), content_layers=("conv2_1",))
    f = objective.value_and_grad()
    x = np.clip(content + 0.1, 0, 1)[None]
    value, grad = f(x)
    assert grad.shape == x.shape and grad.dtype == np.float32 and np.isfinite(grad).all()
    assert float(value) == pytest.approx(float(objective.losses(x)["total"]), rel=1e-5)
    direction = np.random.default_rng(1).normal(size=x.shape).astype("float32")
    eps = 1e-3
    numeric = (float(f(x + eps * direction)[0]) - float(f(x - eps * direction)[0])) / (2 * eps)
    assert float(np.sum(grad * direction)) == pytest.approx(numeric, rel=0.03)


def test_lbfgs_and_adam_lower_the_loss_and_respect_the_bounds(images):
    content, painting = images
    objective = vgg.Objective(content, painting, style_layers=("conv1_1", "conv2_1"), content_layers=("conv2_1",))
    start = style.noise(content.shape)
    result = style.lbfgs(objective, start, steps=10, progress=False)
    assert 2 <= len(result.losses) <= 11 and result.evaluations >= len(result.losses)
    assert result.losses[-1] < 0.5 * float(objective.losses(start[None])["total"])
    assert result.image.shape == content.shape and 0 <= result.image.min() and result.image.max() <= 1
    assert np.all(np.diff(result.seconds) >= 0)
    adam = style.adam(objective, start, steps=10, learning_rate=0.05, progress=False)
    assert len(adam.losses) == 11 and adam.losses[-1] < adam.losses[0]
    assert 0 <= adam.image.min() and adam.image.max() <= 1


def test_a_content_reconstruction_recovers_the_image(images):
    content, _ = images
    result = style.transfer(content, None, steps=30, start="noise", progress=False, style_layers=(),
                            content_layers=("conv1_1",), tv_weight=0.0)
    assert np.mean(np.abs(result.image - content)) < 0.5 * np.mean(np.abs(style.noise(content.shape) - content))


def test_full_float32_sets_and_restores_the_backends_precision():
    """On a GPU, TF32 would make L-BFGS's line search stop early; the block turns it off for the
    objective and gives the previous setting back after it (here on the CPU, where the flags exist too)."""
    import keras

    before = vgg.float32_precision()
    with vgg.full_float32():
        assert vgg.float32_precision() == "full"
    assert vgg.float32_precision() == before
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        assert before == "tf32"  # TensorFlow's default: TF32 where the GPU has it
        tf.config.experimental.enable_tensor_float_32_execution(False)
        try:
            with vgg.full_float32():
                pass
            assert vgg.float32_precision() == "full"  # a setting chosen before the block stays
        finally:
            tf.config.experimental.enable_tensor_float_32_execution(True)
    if keras.backend.backend() == "torch":
        assert before != "full"  # PyTorch's default: TF32 for cuDNN convolutions


def test_the_transfer_and_its_measures_compute_in_full_float32(images, monkeypatch):
    content, painting = images
    seen = []
    original = vgg.Objective.value_and_grad

    def recording(self):
        f = original(self)

        def call(image):
            seen.append(vgg.float32_precision())
            return f(image)

        return call

    monkeypatch.setattr(vgg.Objective, "value_and_grad", recording)
    monkeypatch.setattr(style, "features", lambda *args: seen.append(vgg.float32_precision()) or vgg.features(*args))
    for method in ("lbfgs", "adam"):
        style.transfer(content, painting, 2, method=method, progress=False, style_layers=("conv1_1",),
                       content_layers=("conv1_1",))
    style.evaluate(content, content, painting, style_layers=("conv1_1",), content_layers=("conv1_1",))
    assert len(seen) > 6 and set(seen) == {"full"}
