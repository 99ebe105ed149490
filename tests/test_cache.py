"""dlbook.cache: one load-or-train for every model, kept by recipe, mode, backend and precision."""

from __future__ import annotations

import fcntl
import json

import keras
import numpy as np
import pytest

import dlbook
from dlbook import cache


def small_network(units: int = 4, activation: str = "relu") -> keras.Model:
    inputs = keras.Input(shape=(3,))
    return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(units, activation=activation)(inputs)))


def trained_network(recipe=None) -> keras.Model:
    model = small_network()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=1, verbose=0)
    return model


def toy(calls=None, **overrides) -> cache.CachedModel:
    """A toy model whose recipe has 1 epoch in fast mode and 5 in full mode; ``calls`` counts trainings."""
    def train():
        if calls is not None:
            calls.append(1)
        return trained_network()

    fields = dict(name="toy", description="toy model", recipe=lambda mode: {"epochs": 1 if mode == "fast" else 5},
                  architecture=lambda recipe: small_network(), train=train)
    return cache.CachedModel(**{**fields, **overrides})


@pytest.fixture
def fast_mode(isolated):
    dlbook.setup(mode="fast", verbose=False)
    return isolated


X = np.arange(6, dtype="float32").reshape(2, 3)


def test_signature_ignores_layer_names_but_not_settings():
    assert cache.architecture_signature(small_network()) == cache.architecture_signature(small_network())
    assert cache.architecture_signature(small_network()) != cache.architecture_signature(small_network(units=5))
    assert cache.architecture_signature(small_network()) != cache.architecture_signature(small_network(activation="tanh"))


def test_key_changes_with_the_recipe_and_the_architecture():
    key = cache.recipe_key({"epochs": 3}, small_network())
    assert key == cache.recipe_key({"epochs": 3}, small_network()) and len(key) == 12
    assert key != cache.recipe_key({"epochs": 4}, small_network())
    assert key != cache.recipe_key({"epochs": 3}, small_network(units=5))
    assert key != cache.recipe_key({"epochs": 3})  # no architecture: the recipe alone


def test_an_entry_names_model_mode_backend_precision_and_recipe(fast_mode):
    entry = cache.entry_for(toy())
    assert entry.mode == "fast" and entry.backend == keras.backend.backend() and entry.precision == "float32"
    assert entry.id == f"toy/fast-{entry.backend}-float32-{entry.key}"
    assert entry.folder == fast_mode / "cache" / "models" / "toy" / entry.id.split("/")[1]
    assert cache.entry_for(toy(), mode="full").key != entry.key  # another mode, another recipe
    assert cache.entry_for(toy(), precision="mixed_bfloat16").id != entry.id
    assert cache.entry_for(toy(), backend="jax" if entry.backend != "jax" else "torch").id != entry.id


def test_load_or_train_trains_once_then_loads(fast_mode, capsys):
    calls = []
    first = cache.load_or_train(toy(calls))
    assert "No cached toy model (toy/fast-" in capsys.readouterr().err
    second = cache.load_or_train(toy(calls))
    assert "Loaded the toy model from the model cache: toy/fast-" in capsys.readouterr().err
    assert calls == [1]
    np.testing.assert_allclose(first.predict(X, verbose=0), second.predict(X, verbose=0))
    entry = cache.entry_for(toy())
    assert sorted(p.name for p in entry.folder.iterdir()) == ["entry.json", "model.keras"]
    assert [p.name for p in entry.folder.parent.iterdir() if not p.name.startswith(".")] == [entry.folder.name]
    info = entry.info()
    assert info["recipe"] == {"epochs": 1} and info["mode"] == "fast" and info["metrics"] == {}
    assert info["description"] == "toy model" and info["trained_at"] and info["keras"] == keras.__version__


def test_a_chapter_never_reuses_another_backends_or_precisions_model(fast_mode):
    """A chapter passes on a backend only by training there: an entry of another backend is not its own."""
    calls = []
    cache.load_or_train(toy(calls))
    keras.config.set_dtype_policy("mixed_bfloat16")
    dlbook.setup(mode="fast", precision="mixed_bfloat16", verbose=False)
    cache.load_or_train(toy(calls))
    assert calls == [1, 1] and len(cache.list_entries()) == 2


def test_failed_training_leaves_nothing(fast_mode):
    def broken_training():
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        cache.load_or_train(toy(train=broken_training))
    entry = cache.entry_for(toy())
    assert not entry.exists() and cache.list_entries() == []


def test_a_failed_save_leaves_no_folder_behind(fast_mode):
    def broken_save(model, folder):
        (folder / "model.keras").write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cache.load_or_train(toy(save=broken_save))
    parent = cache.entry_for(toy()).folder.parent
    assert [p.name for p in parent.iterdir() if not p.name.endswith(".lock")] == []


def test_side_files_are_saved_and_loaded_with_the_model(fast_mode):
    def save(pair, folder):
        model, vocabulary = pair
        (folder / "vocabulary.json").write_text(json.dumps(vocabulary))
        cache.save_keras_model(model, folder)

    def load(folder):
        return cache.load_keras_model(folder), json.loads((folder / "vocabulary.json").read_text())

    model = toy(train=lambda: (trained_network(), ["<pad>", "好"]), save=save, load=load)
    cache.load_or_train(model)
    network, vocabulary = cache.load_or_train(model)
    assert vocabulary == ["<pad>", "好"] and network.count_params() == small_network().count_params()


def test_train_and_save_always_trains_and_holds_the_lock_meanwhile(fast_mode):
    entry = cache.entry_for(toy())
    waited = []

    def train():
        # Another process's load_or_train would block here: the lock is taken for the training.
        with open(entry.folder.with_name(f".{entry.folder.name}.lock"), "w") as lock, \
                pytest.raises(BlockingIOError):
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        waited.append(True)
        return trained_network(), "history"

    model, history = cache.train_and_save(toy(), train, cached=lambda result: result[0])
    assert waited == [True] and history == "history" and entry.exists()
    loaded = cache.load_or_train(toy(train=lambda: pytest.fail("should load the saved model")), verbose=False)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    cache.train_and_save(toy(), lambda: (None, "stopped early"), cached=lambda result: result[0])  # caches nothing
    assert entry.exists()


def test_save_caches_what_a_chapter_trained_its_own_way(fast_mode):
    model = trained_network()
    entry = cache.save(toy(), model)
    assert entry == cache.entry_for(toy()) and entry.exists()
    loaded = cache.load_or_train(toy(train=lambda: pytest.fail("should load")), verbose=False)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_an_app_prefers_full_mode_then_its_backend_then_any(fast_mode, capsys):
    assert cache.best_entry(toy()) is None
    cache.load_or_train(toy(), verbose=False)
    fast_entry = cache.entry_for(toy())
    assert cache.best_entry(toy()) == fast_entry
    dlbook.setup(mode="full", verbose=False)
    other = "jax" if keras.backend.backend() != "jax" else "torch"
    full_elsewhere = cache.entry_for(toy(), backend=other)
    cache._write(full_elsewhere, trained_network(), toy())  # as if a full-mode run on another backend made it
    dlbook.setup(mode="fast", verbose=False)
    assert cache.best_entry(toy()) == full_elsewhere  # full mode wins, even from another backend
    model, entry = cache.load_for_app(toy(train=lambda: pytest.fail("should use the cached model")))
    assert entry == full_elsewhere
    assert f"dlbook: using toy trained in full mode on {other} (float32), recipe {entry.key}" in capsys.readouterr().err


def test_an_app_trains_with_the_chapters_recipe_when_the_cache_is_empty(fast_mode, capsys):
    calls = []
    model, entry = cache.load_for_app(toy(calls))
    err = capsys.readouterr().err
    assert calls == [1] and entry == cache.entry_for(toy()) and entry.exists()
    assert "no cached toy model; training it with its chapter's recipe (fast mode) first" in err
    assert "dlbook: using toy trained in fast mode" in err


def test_note_metric_marks_the_entries_this_process_trained(fast_mode):
    cache.load_or_train(toy(), verbose=False)
    cache.note_metric("test_accuracy", 0.99)
    entry = cache.entry_for(toy())
    assert entry.info()["metrics"] == {"test_accuracy": 0.99}
    assert "test_accuracy 0.99" in entry.describe()


def test_record_result_notes_a_headline_metric_in_the_cache(fast_mode):
    cache.load_or_train(toy(), verbose=False)
    dlbook.record_result(5, "test_accuracy", 0.95, target=0.9, baseline=("majority class", 0.11))
    dlbook.record_result(5, "detail", 3.0, target=None)  # not a headline metric: not noted
    assert cache.entry_for(toy()).info()["metrics"] == {"test_accuracy": 0.95}


def test_list_and_remove_entries(fast_mode):
    cache.load_or_train(toy(), verbose=False)
    work = cache.work_folder(cache.entry_for(toy()))
    work.mkdir()
    (work / "checkpoint.npz").write_bytes(b"x" * 1000)
    [row] = cache.list_entries()
    assert row["id"] == cache.entry_for(toy()).id and row["size"] > 1000 and row["name"] == "toy"
    with pytest.raises(ValueError, match="no cached model 'nothing'"):
        cache.remove_entries(["nothing"])
    assert cache.remove_entries(["toy"]) == [row["id"]]
    assert cache.list_entries() == [] and not work.exists()
