"""The model cache: trained models that chapters and apps reuse, keyed by the recipe that made them.

A chapter that trains a model worth reusing saves it with :func:`save_model`; a later chapter or
an app calls :func:`load_or_train`, which loads the cached model or, if there is none, trains it
with the given function and caches it. Files live in :func:`dlbook.paths.models_dir` as
``NAME-<mode>-<key>.keras``, where ``key`` is a hash of the *recipe*: the architecture (every
layer's class and settings) and the training settings. Change either, and the old file no longer
matches, so a changed recipe is retrained instead of silently loading a stale model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import keras

from dlbook.config import current
from dlbook.paths import atomic_path, locked, models_dir

# Layer settings that name a layer rather than describe it; they vary with how many layers a
# session has built, so they are left out of the architecture's fingerprint.
_NAMING_KEYS = {"name"}


def architecture_signature(model: keras.Model) -> list:
    """Every layer of ``model`` (nested models flattened), as ``[class name, settings]`` pairs.

    Names are left out, so two builds of the same architecture have the same signature.
    """
    signature = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            signature.append([type(layer).__name__, architecture_signature(layer)])
            continue
        settings = {k: v for k, v in layer.get_config().items() if k not in _NAMING_KEYS}
        signature.append([type(layer).__name__, settings])
    return signature


def recipe_key(model: keras.Model, training: dict) -> str:
    """A short hash of the architecture of ``model`` and the ``training`` settings (JSON-able)."""
    recipe = {"architecture": architecture_signature(model), "training": training}
    text = json.dumps(recipe, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def cache_path(name: str, model: keras.Model, training: dict) -> Path:
    """Where the model ``name`` made by this recipe is cached in the current mode."""
    return models_dir() / f"{name}-{current().mode}-{recipe_key(model, training)}.keras"


def _save_atomically(model: keras.Model, path: Path) -> None:
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)


def save_model(model: keras.Model, path: Path) -> Path:
    """Save ``model`` to the cache file ``path`` (see :func:`cache_path`), atomically."""
    with locked(path, purpose="e.g. another chapter saving the same model"):
        _save_atomically(model, path)
    return path


def train_and_save(path: Path, train: Callable[[], tuple], description: str) -> tuple:
    """Run ``train()``, which returns ``(model, anything)``, and cache the model at ``path``.

    The path's lock is held from the start of the training to the end of the save, so a
    :func:`load_or_train` of the same model in another process (a later chapter started
    meanwhile) waits for this model instead of training a copy of its own. For a chapter that
    must train the model itself and also leaves it for others; returns what ``train()`` returned.
    """
    with locked(path, purpose=f"e.g. a chapter training the {description}"):
        result = train()
        _save_atomically(result[0], path)
    return result


def load_or_train(path: Path, train: Callable[[], keras.Model], description: str, verbose: bool = True) -> keras.Model:
    """The model cached at ``path``; if there is none, ``train()`` it and cache it first.

    A loaded model comes back uncompiled: its file may have been written under another backend,
    whose compile settings (``steps_per_execution``, say) this one may refuse. Compile it for
    what you do with it (``predict`` needs nothing). The lock makes a second process wait for the
    first one's training instead of repeating it.
    """
    with locked(path, purpose=f"e.g. a chapter training the {description}"):
        if path.is_file():
            if verbose:
                print(f"Loaded the {description} from {path}")
            return keras.saving.load_model(path, compile=False)
        if verbose:
            print(f"No cached {description} at {path}: training it now.")
        model = train()
        _save_atomically(model, path)
        return model
