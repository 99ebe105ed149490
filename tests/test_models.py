"""dlbook.cache: the model cache keyed by recipe."""

from __future__ import annotations

import fcntl

import keras
import numpy as np
import pytest

import dlbook
from dlbook import cache


def small_network(units: int = 4, activation: str = "relu") -> keras.Model:
    inputs = keras.Input(shape=(3,))
    return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(units, activation=activation)(inputs)))


@pytest.fixture
def fast_mode(isolated):
    dlbook.setup(mode="fast", verbose=False)
    return isolated


def test_signature_ignores_layer_names_but_not_settings():
    assert cache.architecture_signature(small_network()) == cache.architecture_signature(small_network())
    assert cache.architecture_signature(small_network()) != cache.architecture_signature(small_network(units=5))
    assert cache.architecture_signature(small_network()) != cache.architecture_signature(small_network(activation="tanh"))


def test_key_changes_with_the_training_settings():
    key = cache.recipe_key(small_network(), {"epochs": 3})
    assert key == cache.recipe_key(small_network(), {"epochs": 3}) and len(key) == 12
    assert key != cache.recipe_key(small_network(), {"epochs": 4})


def test_cache_path_names_model_mode_and_key(fast_mode):
    path = cache.cache_path("toy", small_network(), {"epochs": 3})
    assert path.parent == fast_mode / "cache" / "models"
    assert path.name == f"toy-fast-{cache.recipe_key(small_network(), {'epochs': 3})}.keras"


def test_load_or_train_trains_once_then_loads(fast_mode):
    calls = []

    def train():
        calls.append(1)
        model = small_network()
        model.compile(optimizer="sgd", loss="mse")
        model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=1, verbose=0)
        return model

    path = cache.cache_path("toy", small_network(), {"epochs": 1})
    first = cache.load_or_train(path, train, "toy model", verbose=False)
    second = cache.load_or_train(path, train, "toy model", verbose=False)
    assert calls == [1] and path.is_file()
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(first.predict(x, verbose=0), second.predict(x, verbose=0))
    assert [p.name for p in path.parent.iterdir() if not p.name.startswith(".")] == [path.name]


def test_failed_training_leaves_no_file(fast_mode):
    path = cache.cache_path("toy", small_network(), {"epochs": 1})

    def broken_training():
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        cache.load_or_train(path, broken_training, "toy model", verbose=False)
    assert not path.exists()


def test_save_model_round_trip(fast_mode):
    model = small_network()
    path = cache.save_model(model, cache.cache_path("toy", model, {}))
    assert keras.saving.load_model(path).count_params() == model.count_params()


def test_train_and_save_holds_the_lock_while_training(fast_mode):
    path = cache.cache_path("toy", small_network(), {"epochs": 1})
    waited = []

    def train():
        # Another process's load_or_train would block here: the lock is taken for the training.
        with open(path.with_name(f".{path.name}.lock"), "w") as lock, pytest.raises(BlockingIOError):
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        waited.append(True)
        return small_network(), "history"

    model, history = cache.train_and_save(path, train, "toy model")
    assert waited == [True] and history == "history" and path.is_file()
    loaded = cache.load_or_train(path, lambda: pytest.fail("should load the saved model"), "toy model", verbose=False)
    assert loaded.count_params() == model.count_params()
