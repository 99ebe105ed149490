"""dlbook: the helper library of the Keras 3 edition of 深度学习原理与PyTorch实战.

A chapter starts with::

    import dlbook
    config = dlbook.setup()          # seeds, mode (fast/full), precision; prints one line
    epochs = dlbook.pick(fast=5, full=100)

and ends by recording its headline metric::

    dlbook.record_result(3, "test_rmse", rmse, target=dlbook.pick(fast=110, full=72), higher_is_better=False)

Modules by topic: ``config``, ``data`` (the dataset hub) and ``hub`` (its registry), ``autodiff``,
``results``, ``tabular``, ``plotting``, ``runner`` and ``cli``. The names below are imported on
first use, so that ``dlbook data list`` does not wait for a deep-learning framework to load.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "setup": "dlbook.config",
    "current": "dlbook.config",
    "pick": "dlbook.config",
    "compile_options": "dlbook.config",
    "record_result": "dlbook.results",
    "value_and_grad": "dlbook.autodiff",
    "grad": "dlbook.autodiff",
    "fetch": "dlbook.data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dlbook' has no attribute {name!r}")
