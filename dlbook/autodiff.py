"""Gradients of plain functions, the same call on every Keras backend.

Keras 3 trains models through ``fit()`` on any backend, but has no common API for "the gradient
of this function with respect to these tensors". :func:`value_and_grad` provides one, with a small
implementation per backend (``tf.GradientTape``, ``jax.value_and_grad``, ``torch.autograd.grad``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras


def _tensorflow(fn, args, argnums):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        for i in argnums:
            tape.watch(args[i])
        value = fn(*args)
    grads = tape.gradient(value, [args[i] for i in argnums])
    return value, [g if g is not None else tf.zeros_like(args[i]) for g, i in zip(grads, argnums)]


def _jax(fn, args, argnums):
    import jax

    value, grads = jax.value_and_grad(fn, argnums=tuple(argnums))(*args)
    return value, list(grads)


def _torch(fn, args, argnums):
    import torch

    args = list(args)
    for i in argnums:
        args[i] = args[i].detach().requires_grad_(True)
    with torch.enable_grad():
        value = fn(*args)
        grads = torch.autograd.grad(value, [args[i] for i in argnums], allow_unused=True)
    grads = [g if g is not None else torch.zeros_like(args[i]) for g, i in zip(grads, argnums)]
    return value.detach(), grads


_IMPLEMENTATIONS = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}


def value_and_grad(fn: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Wrap ``fn`` (tensors in, scalar out) to return ``(fn(*args), gradients)``.

    ``argnums`` picks the arguments to differentiate, as in JAX: an int gives one gradient, a
    sequence gives a tuple of them. Arguments are converted to backend tensors first, so NumPy
    arrays and Python floats are fine.

    >>> loss = lambda w, x: keras.ops.sum((w * x) ** 2)
    >>> value, grad_w = value_and_grad(loss)(2.0, 3.0)   # value 36, d/dw = 2 w x^2 = 36
    """
    backend = keras.backend.backend()
    if backend not in _IMPLEMENTATIONS:
        raise NotImplementedError(f"value_and_grad supports {', '.join(_IMPLEMENTATIONS)}, not {backend!r}.")
    single = isinstance(argnums, int)
    indices = [argnums] if single else list(argnums)

    def wrapped(*args):
        if not indices or max(indices) >= len(args):
            raise ValueError(f"argnums={argnums!r} does not fit a call with {len(args)} arguments.")
        tensors = [
            keras.ops.convert_to_tensor(a, dtype="float32") if i in indices else keras.ops.convert_to_tensor(a)
            for i, a in enumerate(args)
        ]
        value, grads = _IMPLEMENTATIONS[backend](fn, tensors, indices)
        return value, grads[0] if single else tuple(grads)

    return wrapped


def grad(fn: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Like :func:`value_and_grad`, returning only the gradients."""
    value_and_grad_fn = value_and_grad(fn, argnums)
    return lambda *args: value_and_grad_fn(*args)[1]
