"""The model cache: trained models that chapters and apps reuse, kept by recipe, mode, backend and precision.

A model worth reusing is described once by a :class:`CachedModel`: its name, its recipe in each
mode, how to build its architecture (whose layers go into the fingerprint), how to train it, and
how to save and load it with its side files (a vocabulary, say). The cache keeps it as a folder::

    data/models/NAME/MODE-BACKEND-PRECISION-KEY/
        model.keras, vocabulary.json, ...   what the model's ``save`` wrote
        entry.json                          name, mode, backend, precision, recipe, when, metrics

``KEY`` hashes the recipe: every layer's class and settings and the training settings. Change
either and the old entry no longer matches, so a changed recipe is retrained, never loaded stale.
Writes are atomic (a complete folder is renamed into place) and locked (a second process waits
for the first one's training instead of repeating it). Training that checkpoints as it goes keeps
its state in :func:`work_folder`, beside the entry.

Chapters call :func:`load_or_train` and :func:`train_and_save`, which reuse only an entry of their
own mode, backend and precision: a chapter passes on a backend only by training there. Apps call
:func:`load_for_app`, which takes the best entry for the task, a full-mode model if one exists
(trained under any backend and precision), else the current mode's, else trains one, and says
on stderr which it uses. :func:`note_metric` (called by ``record_result``) writes a chapter's
headline metric into the entries its process trained, so ``dlbook models`` and the apps show it.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from dlbook.paths import locked, models_dir, new_folder_mode

ENTRY_FILE = "entry.json"
MODEL_FILE = "model.keras"
# Layer settings that name a layer rather than describe it; they vary with how many layers a
# session has built, so they are left out of the architecture's fingerprint.
_NAMING_KEYS = {"name"}


def save_keras_model(model, folder: Path) -> None:
    """The default ``save`` of a :class:`CachedModel`: the Keras model as ``model.keras``."""
    model.save(folder / MODEL_FILE)


def load_keras_model(folder: Path):
    """The default ``load``: ``model.keras``, uncompiled (its file may come from another backend,
    whose compile settings this one may refuse; compile it for what you do with it)."""
    import keras

    return keras.saving.load_model(folder / MODEL_FILE, compile=False)


@dataclasses.dataclass(frozen=True)
class CachedModel:
    """What the cache needs to know about a model worth reusing.

    ``recipe(mode)`` is its recipe in a mode (JSON-able settings); ``architecture(recipe)`` builds
    it untrained, for the fingerprint (None: the recipe alone is the fingerprint); ``train()``
    trains it with the current mode's recipe and returns the object to cache; ``save(object,
    folder)`` writes its files into an empty folder and ``load(folder)`` reads them back.
    """

    name: str
    description: str
    recipe: Callable[[str], dict]
    train: Callable[[], Any]
    architecture: Callable[[dict], Any] | None = None
    save: Callable[[Any, Path], None] = save_keras_model
    load: Callable[[Path], Any] = load_keras_model


@dataclasses.dataclass(frozen=True)
class Entry:
    """One cached model: ``name`` trained by the recipe hashed as ``key`` in ``mode`` under
    ``backend`` and ``precision``."""

    name: str
    mode: str
    backend: str
    precision: str
    key: str

    @property
    def id(self) -> str:
        """``NAME/MODE-BACKEND-PRECISION-KEY``, as ``dlbook models`` lists it."""
        return f"{self.name}/{self.mode}-{self.backend}-{self.precision}-{self.key}"

    @property
    def folder(self) -> Path:
        return models_dir() / self.id

    def exists(self) -> bool:
        return (self.folder / ENTRY_FILE).is_file()

    def info(self) -> dict:
        """The contents of its ``entry.json``."""
        return json.loads((self.folder / ENTRY_FILE).read_text(encoding="utf-8"))

    def describe(self) -> str:
        """One line for a reader: where, how and when it was trained, and what it scored."""
        info = self.info() if self.exists() else {}
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in info.get("metrics", {}).items())
        return (f"{self.name} trained in {self.mode} mode on {self.backend} ({self.precision}), recipe {self.key}"
                f"{', ' + metrics if metrics else ''} [{self.id}]")


def architecture_signature(model) -> list:
    """Every layer of ``model`` (nested models flattened), as ``[class name, settings]`` pairs.

    Names are left out, so two builds of the same architecture have the same signature.
    """
    import keras

    signature = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            signature.append([type(layer).__name__, architecture_signature(layer)])
            continue
        settings = {k: v for k, v in layer.get_config().items() if k not in _NAMING_KEYS}
        signature.append([type(layer).__name__, settings])
    return signature


def recipe_key(recipe: dict, model=None) -> str:
    """A short hash of the ``recipe`` (JSON-able settings) and, if given, the architecture of ``model``."""
    fingerprint = {"training": recipe, "architecture": None if model is None else architecture_signature(model)}
    text = json.dumps(fingerprint, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def entry_for(model: CachedModel, mode: str | None = None, backend: str | None = None,
              precision: str | None = None) -> Entry:
    """The entry of ``model`` in ``mode`` under ``backend`` and ``precision`` (default: the current ones)."""
    from dlbook.config import current

    config = current()
    mode = mode or config.mode
    recipe = model.recipe(mode)
    architecture = model.architecture(recipe) if model.architecture else None
    return Entry(model.name, mode, backend or config.backend, precision or config.precision,
                 recipe_key(recipe, architecture))


def work_folder(entry: Entry) -> Path:
    """A folder for the training state of ``entry`` while it trains (checkpoints), beside the entry."""
    return entry.folder.with_name(entry.folder.name + ".work")


# Entries that this process wrote, for note_metric.
_written: list[Entry] = []


def _write(entry: Entry, obj, model: CachedModel) -> None:
    """Save ``obj`` into a new folder and rename it into place as ``entry`` (the caller holds the lock)."""
    import keras

    entry.folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.folder.name}.", dir=entry.folder.parent))
    try:
        model.save(obj, staging)
        info = {
            "name": entry.name, "description": model.description, "mode": entry.mode, "backend": entry.backend,
            "precision": entry.precision, "key": entry.key, "recipe": model.recipe(entry.mode),
            "trained_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "keras": keras.__version__, "metrics": {},
        }
        (staging / ENTRY_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        staging.chmod(new_folder_mode())  # mkdtemp makes it 0700; the entry gets a new folder's permissions
        if entry.folder.exists():
            shutil.rmtree(entry.folder)
        os.replace(staging, entry.folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _written.append(entry)


def _lock(entry: Entry, description: str):
    return locked(entry.folder, purpose=f"e.g. a chapter training the {description}", label=entry.id)


def load_or_train(model: CachedModel, verbose: bool = True):
    """The cached ``model`` of the current mode, backend and precision; if there is none, train it
    and cache it first. A second process asking meanwhile waits for this one's training."""
    entry = entry_for(model)
    with _lock(entry, model.description):
        if entry.exists():
            if verbose:
                print(f"Loaded the {model.description} from the model cache: {entry.id}", file=sys.stderr)
            return model.load(entry.folder)
        if verbose:
            print(f"No cached {model.description} ({entry.id}): training it now.", file=sys.stderr, flush=True)
        obj = model.train()
        _write(entry, obj, model)
        return obj


def train_and_save(model: CachedModel, train: Callable[[], Any] | None = None,
                   cached: Callable[[Any], Any] = lambda result: result):
    """Train (always) and cache ``model`` for the current mode, backend and precision; return what
    ``train`` returned (default: ``model.train``). ``cached(result)`` is the object to cache
    (e.g. ``lambda r: r[0]`` when training returns a model and its history); None caches nothing
    (a training stopped before its end). The lock is held from the start of the training to the
    end of the save, so a :func:`load_or_train` of the same model elsewhere waits for it."""
    entry = entry_for(model)
    with _lock(entry, model.description):
        result = (train or model.train)()
        obj = cached(result)
        if obj is not None:
            _write(entry, obj, model)
        return result


def save(model: CachedModel, obj) -> Entry:
    """Cache ``obj``, trained by the caller with ``model``'s recipe in the current mode (a chapter
    that trains it its own way, then leaves it for the app); returns its entry."""
    entry = entry_for(model)
    with _lock(entry, model.description):
        _write(entry, obj, model)
    return entry


def _existing(name: str, mode: str, key: str) -> list[Entry]:
    folder = models_dir() / name
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        parts = path.name.split("-")
        if path.name.endswith(".work") or len(parts) != 4 or parts[0] != mode or parts[3] != key:
            continue
        entry = Entry(name, *parts)
        if entry.exists():
            found.append(entry)
    return found


def best_entry(model: CachedModel) -> Entry | None:
    """The entry an app should use: full mode's if any, else the current mode's; within a mode,
    the current backend and precision first, then any other (newest first). None if none exists."""
    from dlbook.config import current

    config = current()
    for mode in dict.fromkeys(("full", config.mode)):
        candidates = _existing(model.name, mode, entry_for(model, mode).key)
        candidates.sort(key=lambda e: (e.backend != config.backend or e.precision != config.precision,
                                       -e.folder.stat().st_mtime))
        if candidates:
            return candidates[0]
    return None


def load_for_app(model: CachedModel, progress: bool = True, announce: bool = True):
    """``(object, entry)`` for an app: the :func:`best_entry`, else a new one trained with the
    chapter's recipe in the current mode. Says on stderr which model it uses (with ``progress``
    and ``announce``; an app that checks its input against the model first announces it itself,
    :func:`announce_entry`)."""
    entry = best_entry(model)
    if entry is None:
        if progress:
            print(f"dlbook: no cached {model.description}; training it with its chapter's recipe "
                  f"({entry_for(model).mode} mode) first.", file=sys.stderr, flush=True)
        obj = load_or_train(model, verbose=progress)
        entry = entry_for(model)
    else:
        obj = model.load(entry.folder)
    if progress and announce:
        announce_entry(entry)
    return obj, entry


def announce_entry(entry: Entry) -> None:
    """Say on stderr which cached model an app uses: ``dlbook: using NAME trained in …``."""
    print(f"dlbook: using {entry.describe()}", file=sys.stderr, flush=True)


def note_metric(metric: str, value: float) -> None:
    """Write ``metric`` into ``entry.json`` of every entry this process trained (their scores)."""
    for entry in dict.fromkeys(_written):
        if not entry.exists():
            continue
        with _lock(entry, entry.name):
            info = entry.info()
            info.setdefault("metrics", {})[metric] = float(value)
            staging = entry.folder / f".{ENTRY_FILE}.tmp"
            staging.write_text(json.dumps(info, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
            os.replace(staging, entry.folder / ENTRY_FILE)


def _size(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def list_entries() -> list[dict]:
    """Every entry in the cache: its ``entry.json`` with ``id`` and ``size`` (bytes, its training
    state included), sorted by id."""
    rows = []
    root = models_dir()
    for info_file in sorted(root.glob(f"*/*/{ENTRY_FILE}")) if root.is_dir() else []:
        folder = info_file.parent
        info = json.loads(info_file.read_text(encoding="utf-8"))
        entry = Entry(info["name"], info["mode"], info["backend"], info["precision"], info["key"])
        rows.append({**info, "id": entry.id, "size": _size(folder) + _size(work_folder(entry))})
    return rows


def remove_entries(selectors: list[str]) -> list[str]:
    """Remove the entries whose id is, or whose name is, one of ``selectors`` (with their training
    state); returns the ids removed. Raises ValueError for a selector that matches nothing."""
    rows = list_entries()
    removed = []
    for selector in selectors:
        matching = [r for r in rows if selector in (r["id"], r["name"])]
        if not matching:
            raise ValueError(f"no cached model {selector!r}; `dlbook models` lists them by name and id")
        for row in matching:
            entry = Entry(row["name"], row["mode"], row["backend"], row["precision"], row["key"])
            with _lock(entry, entry.name):
                shutil.rmtree(entry.folder, ignore_errors=True)
                shutil.rmtree(work_folder(entry), ignore_errors=True)
            removed.append(entry.id)
    return removed

