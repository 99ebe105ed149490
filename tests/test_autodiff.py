"""dlbook.value_and_grad on the current backend (test_backends.py runs this file on the others)."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from dlbook.autodiff import grad, value_and_grad


def test_gradient_of_a_sum_of_squares():
    value, gradient = value_and_grad(lambda x: ops.sum(x * x))(np.array([1.0, -2.0, 3.0]))
    assert float(value) == pytest.approx(14.0)
    np.testing.assert_allclose(ops.convert_to_numpy(gradient), [2.0, -4.0, 6.0])


def test_several_arguments_and_the_chain_rule():
    a, b = 0.5, -1.5
    _, (da, db) = value_and_grad(lambda a, b: ops.sigmoid(a * b), argnums=(0, 1))(a, b)
    s = 1 / (1 + np.exp(-a * b))
    assert float(da) == pytest.approx(s * (1 - s) * b, rel=1e-5)
    assert float(db) == pytest.approx(s * (1 - s) * a, rel=1e-5)


def test_data_arguments_are_not_differentiated():
    x = np.linspace(0, 1, 5).astype("float32")
    y = 3 * x + 1
    loss = lambda w, b, x, y: ops.mean((w * x + b - y) ** 2)  # noqa: E731
    value, (dw, db) = value_and_grad(loss, argnums=(0, 1))(0.0, 0.0, x, y)
    residual = -y
    assert float(value) == pytest.approx(np.mean(y**2), rel=1e-6)
    assert float(dw) == pytest.approx(np.mean(2 * residual * x), rel=1e-5)
    assert float(db) == pytest.approx(np.mean(2 * residual), rel=1e-5)


def test_matrix_gradient_matches_the_closed_form():
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=(3, 2)).astype("float32"), rng.normal(size=(4, 3)).astype("float32")
    gradient = grad(lambda w, x: ops.sum(ops.matmul(x, w) ** 2))(w, x)
    np.testing.assert_allclose(ops.convert_to_numpy(gradient), 2 * x.T @ (x @ w), rtol=1e-4)


def test_an_unused_argument_gets_a_zero_gradient():
    _, (da, db) = value_and_grad(lambda a, b: a * 2.0, argnums=(0, 1))(1.0, 5.0)
    assert float(da) == 2.0 and float(db) == 0.0


def test_gradient_descent_with_the_helper_converges():
    step = value_and_grad(lambda w: ops.sum((w - 3.0) ** 2))
    w = ops.convert_to_tensor(np.zeros(2, "float32"))
    for _ in range(100):
        _, g = step(w)
        w = w - 0.1 * g
    np.testing.assert_allclose(ops.convert_to_numpy(w), [3.0, 3.0], atol=1e-4)


def test_bad_argnums_is_a_clear_error():
    with pytest.raises(ValueError, match="argnums=3 does not fit a call with 1 arguments"):
        value_and_grad(lambda x: x, argnums=3)(1.0)
