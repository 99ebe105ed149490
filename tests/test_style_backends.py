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
