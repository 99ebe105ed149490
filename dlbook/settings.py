"""The run settings a reader chooses, and their checks, without loading Keras.

Modes, precisions and backends are plain tuples here, so that the ``dlbook`` command can check
``$DLBOOK_MODE``, ``$DLBOOK_PRECISION`` and ``$KERAS_BACKEND`` before any kernel starts (loading
Keras takes seconds and fails outright on a bad backend). :mod:`dlbook.config` applies them.

``fast``  CPU-sized: small data and few epochs, each chapter a couple of minutes on 2 cores.
``full``  The book's results or better; meant for a GPU, but every chapter also finishes on a CPU.
"""

from __future__ import annotations

import importlib.util
import os
import sys

MODES = ("fast", "full")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
BACKENDS = ("tensorflow", "jax", "torch")
# How to install each backend into a checkout's environment (the extras of pyproject.toml).
BACKEND_INSTALL_COMMANDS = {
    "tensorflow": "pip install -e .",
    "jax": "pip install -e '.[jax]'",
    "torch": "pip install -e '.[torch]'",
}
DEFAULT_SEED = 42


def choose(value: str | None, env: str, allowed: tuple[str, ...], default: str) -> str:
    """``value``, else ``$env``, else ``default``; a ``ValueError`` naming the source if not allowed."""
    chosen = value or os.environ.get(env) or default
    if chosen not in allowed:
        source = "the argument" if value else f"${env}"
        raise ValueError(f"{source} is {chosen!r}; expected one of {', '.join(allowed)}.")
    return chosen


def choose_seed(value: int | None = None) -> int:
    """``value``, else ``$DLBOOK_SEED``, else 42."""
    if value is not None:
        return int(value)
    text = os.environ.get("DLBOOK_SEED") or str(DEFAULT_SEED)
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"$DLBOOK_SEED is {text!r}; expected an integer.") from None


def check_run_settings() -> None:
    """Check ``$DLBOOK_MODE``, ``$DLBOOK_PRECISION``, ``$DLBOOK_SEED`` and ``$KERAS_BACKEND``.

    A bad value would otherwise fail inside every chapter's first cell. Raises ``ValueError``
    naming the variable, its value and the allowed values, or how to install a missing backend.
    Unset or empty variables are fine: the defaults apply.
    """
    allowed = {"DLBOOK_MODE": MODES, "DLBOOK_PRECISION": PRECISIONS, "KERAS_BACKEND": BACKENDS}
    for name, values in allowed.items():
        value = os.environ.get(name)
        if value and value not in values:
            raise ValueError(f"${name} is {value!r}; expected one of {', '.join(values)} "
                             f"(or unset it for the default).")
    choose_seed()
    backend = os.environ.get("KERAS_BACKEND") or "tensorflow"
    if importlib.util.find_spec(backend) is None:
        source = "$KERAS_BACKEND" if os.environ.get("KERAS_BACKEND") else "The default backend"
        raise ValueError(f"{source} is {backend!r}, but {backend} is not installed in this environment "
                         f"({sys.executable}). Install it from the checkout with "
                         f"`{BACKEND_INSTALL_COMMANDS[backend]}`, or choose another backend.")
