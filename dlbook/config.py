"""One call at the top of each chapter: seeds, mode, precision, and a line saying what runs where.

Modes (see :mod:`dlbook.settings`): ``fast`` is CPU-sized, ``full`` the book's results or better.
The mode comes from ``setup(mode=...)``, else ``$DLBOOK_MODE``, else ``full`` when an accelerator
is present and ``fast`` otherwise. Precision comes from ``setup(precision=...)``, else
``$DLBOOK_PRECISION``, else ``mixed_bfloat16`` on an accelerator in full mode and ``float32``
otherwise.
"""

from __future__ import annotations

import dataclasses
import time

import keras

from dlbook.machine import usable_cores
from dlbook.settings import MODES, PRECISIONS, choose, choose_seed


@dataclasses.dataclass(frozen=True)
class Config:
    """What :func:`setup` chose. ``started`` is a ``time.perf_counter()`` stamp."""

    backend: str
    device: str
    accelerator: bool
    mode: str
    precision: str
    seed: int
    started: float

    def summary(self) -> str:
        return (
            f"dlbook: backend={self.backend} device={self.device} mode={self.mode} "
            f"precision={self.precision} seed={self.seed}"
        )


_current: Config | None = None


def detect_device(backend: str | None = None) -> tuple[str, bool]:
    """Describe the device the Keras backend computes on: ``(description, is_accelerator)``."""
    backend = backend or keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            return f"{device.platform.upper()} ({device.device_kind})", True
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return f"GPU ({torch.cuda.get_device_name(0)})", True
    elif backend == "tensorflow":
        import tensorflow as tf

        from dlbook import _stderr_to_devnull

        with _stderr_to_devnull():  # a CPU-only machine makes TF log a failed CUDA probe
            gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
            return f"GPU ({name})", True
    return f"CPU ({usable_cores()} cores)", False


def setup(
    seed: int | None = None,
    mode: str | None = None,
    precision: str | None = None,
    verbose: bool = True,
) -> Config:
    """Seed Python, NumPy and the backend; choose mode and precision; print one summary line.

    Call it once at the top of a chapter. It returns the :class:`Config`, which
    :func:`current` also returns later. The seed is ``seed``, else ``$DLBOOK_SEED``, else 42.
    """
    global _current
    seed = choose_seed(seed)
    device, accelerator = detect_device()
    mode = choose(mode, "DLBOOK_MODE", MODES, "full" if accelerator else "fast")
    default_precision = "mixed_bfloat16" if accelerator and mode == "full" else "float32"
    precision = choose(precision, "DLBOOK_PRECISION", PRECISIONS, default_precision)
    keras.config.set_dtype_policy(precision)
    keras.utils.set_random_seed(seed)
    import dlbook.plotting  # noqa: F401 - every chapter's figures: Chinese labels, sharp, with alt text
    _current = Config(
        backend=keras.backend.backend(),
        device=device,
        accelerator=accelerator,
        mode=mode,
        precision=precision,
        seed=seed,
        started=time.perf_counter(),
    )
    if verbose:
        print(_current.summary())
    return _current


def current() -> Config:
    """The configuration chosen by the last :func:`setup` (calling it with defaults if needed)."""
    return _current if _current is not None else setup(verbose=False)


def pick(*, fast, full, mode: str | None = None):
    """Return ``fast`` or ``full`` according to the current mode, e.g. ``pick(fast=3, full=100)``;
    ``mode`` asks for another mode's value (a recipe in full mode, say, while running in fast)."""
    mode = mode or current().mode
    if mode not in MODES:
        raise ValueError(f"mode is {mode!r}; expected one of {', '.join(MODES)}")
    return fast if mode == "fast" else full


def compile_options() -> dict:
    """Keyword arguments for ``model.compile(...)``: the fastest measured setting where it runs.

    On an accelerator every backend but PyTorch compiles with XLA and runs 32 training steps per
    call (``steps_per_execution``), which removes the per-step overhead of small models. On a CPU
    the measurements of ``benchmarks/training_speed.py`` (README, "Speed") decide: TensorFlow
    runs its graph mode without XLA (XLA was up to three times slower for these convolutional
    networks) and 32 steps per call, which takes the per-step Python work of Keras (callbacks,
    progress bar, one graph call) out of 31 steps in 32: the book's CNN trains about a quarter
    faster and chapter 05's network no slower. JAX always compiles with XLA, one step per call
    (32 were no faster for chapter 05's network). PyTorch runs eagerly, one step per call
    (Keras's torch trainer allows no more). The batches, their order and the arithmetic are the
    same whatever the steps per call; only how often Keras hands control back to Python changes.
    """
    config = current()
    if config.backend == "torch":
        return {"jit_compile": False, "steps_per_execution": 1}
    if config.accelerator:
        return {"jit_compile": True, "steps_per_execution": 32}
    if config.backend == "tensorflow":
        return {"jit_compile": False, "steps_per_execution": 32}
    return {"jit_compile": True, "steps_per_execution": 1}
