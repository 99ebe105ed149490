"""Chapters 11 and 13's translators: recipes, training, BLEU on a split, and their model cache.

A recipe is a dict of settings per mode (:func:`recipe`); :func:`build` makes its model for a
:class:`~dlbook.translation.datasets.TranslationData`, :func:`fit` trains it (label-smoothed cross-entropy
on the real target tokens, early stopping on the validation loss) and :func:`evaluate` decodes a
split and scores it with BLEU. A :class:`TrainedTranslator` bundles a model with its two
vocabularies; the model cache keeps it (:func:`cached_translator`), and the app
``dlbook.apps.translate`` uses it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from dlbook import cache
from dlbook.config import compile_options, pick
from dlbook.text.vocabulary import Vocabulary
from dlbook.translation import rnn, search, transformer
from dlbook.translation.bleu import bleu, sentence_bleu
from dlbook.translation.datasets import (
    TargetVocabulary,
    TranslationData,
    chinese_tokens,
    detokenize,
    load_pairs,
    split_pairs,
)
from dlbook.translation.losses import SmoothedSparseCrossentropy

KINDS = ("rnn", "transformer")
DEFAULT_KIND = "transformer"
"""The app's default model: the one with the higher test BLEU in full mode (README, results)."""

MAX_SOURCE_TOKENS = 100
"""Longer input is cut to this many characters (training sentences have at most 40)."""


def recipe(kind: str, mode: str | None = None) -> dict:
    """The training recipe of ``kind`` (``"rnn"``: chapter 11's best; ``"transformer"``: chapter 13's)
    in the current mode (or ``mode``)."""
    if kind == "rnn":
        return pick(mode=mode,
            fast=dict(kind="rnn", attention="additive", train_size=4000, embedding=96, units=96, dropout=0.2,
                      batch_size=64, learning_rate=4e-3, epochs=3, patience=2, label_smoothing=0.1, beam=5),
            full=dict(kind="rnn", attention="additive", train_size=None, embedding=128, units=128, dropout=0.3,
                      batch_size=64, learning_rate=2e-3, epochs=7, patience=3, label_smoothing=0.1, beam=5))
    if kind == "transformer":
        return pick(mode=mode,
            fast=dict(kind="transformer", train_size=4000, depth=64, heads=4, hidden=256, blocks=2, dropout=0.1,
                      positions="sinusoidal", batch_size=64, learning_rate=2e-3, warmup=200, epochs=8, patience=2,
                      label_smoothing=0.1, beam=5),
            full=dict(kind="transformer", train_size=None, depth=128, heads=4, hidden=512, blocks=2, dropout=0.1,
                      positions="sinusoidal", batch_size=64, learning_rate=1e-3, warmup=600, epochs=16,
                      patience=3, label_smoothing=0.1, beam=5))
    raise ValueError(f"unknown translator {kind!r}: choose one of {', '.join(KINDS)}")


def build(data: TranslationData, settings: dict) -> keras.Model:
    """The model of a recipe (or of any settings with the same keys) for ``data``'s vocabularies."""
    return _build((len(data.source_vocab), len(data.target_vocab)), settings)


def _build(sizes: tuple[int, int], settings: dict) -> keras.Model:
    if settings["kind"] == "rnn":
        return rnn.rnn_translator(*sizes, attention=settings["attention"], embedding=settings["embedding"],
                                      units=settings["units"], dropout=settings["dropout"])
    return transformer.transformer_translator(*sizes, depth=settings["depth"], heads=settings["heads"],
                                              hidden=settings["hidden"], blocks=settings["blocks"],
                                              dropout=settings["dropout"], positions=settings["positions"])


def fit(model: keras.Model, data: TranslationData, settings: dict, verbose="auto", seed: int = 0):
    """Train ``model`` on ``data``'s training pairs; the weights of the best validation loss are kept."""
    rate = settings["learning_rate"]
    if "warmup" in settings:
        rate = transformer.WarmupSchedule(rate, settings["warmup"])
    model.compile(optimizer=keras.optimizers.Adam(rate, clipnorm=1.0),
                  loss=SmoothedSparseCrossentropy(settings["label_smoothing"]),
                  weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                  **compile_options())
    stop = keras.callbacks.EarlyStopping("val_loss", patience=settings["patience"], restore_best_weights=True)
    return model.fit(data.batches("train", settings["batch_size"], seed=seed),
                     validation_data=data.batches("validation", 256, shuffle=False),
                     epochs=settings["epochs"], callbacks=[stop], verbose=verbose)


@dataclasses.dataclass
class TrainedTranslator:
    """A translation model with its vocabularies: Chinese sentences in, English sentences out."""

    model: keras.Model
    source_vocab: Vocabulary
    target_vocab: TargetVocabulary

    @property
    def parts(self) -> search.Translator:
        return search.Translator.from_model(self.model)

    def source_ids(self, sentences: Sequence[str]) -> list[np.ndarray]:
        """Each sentence's character ids (unknown characters → ``<unk>``), cut to MAX_SOURCE_TOKENS."""
        return [self.source_vocab.encode(chinese_tokens(s)[:MAX_SOURCE_TOKENS]) for s in sentences]

    def translate_ids(self, sources: Sequence[np.ndarray], beam: int = 5, progress: bool = False) -> list[str]:
        """English for source id arrays; an empty source gets an empty translation."""
        out = [""] * len(sources)
        rows = [i for i, s in enumerate(sources) if len(s)]
        found = search.beam_search(self.parts, [sources[i] for i in rows], beam=beam, progress=progress)
        for i, ids in zip(rows, found):
            out[i] = detokenize(self.target_vocab.decode(ids))
        return out

    def translate(self, sentences: Sequence[str] | str, beam: int = 5) -> list[str]:
        """One English line per Chinese sentence (a single string gives a list of one)."""
        sentences = [sentences] if isinstance(sentences, str) else list(sentences)
        return self.translate_ids(self.source_ids(sentences), beam=beam)


def evaluate(translator: TrainedTranslator, data: TranslationData, part: str = "test", beam: int = 5,
             progress: bool = False) -> tuple[float, list[str]]:
    """Corpus BLEU of ``translator`` on a split part of ``data``, and its translations."""
    hypotheses = translator.translate_ids(data.source_ids(part), beam=beam, progress=progress)
    return bleu(hypotheses, [p.english.lower() for p in data.pairs(part)]), hypotheses


def best_and_worst(data: TranslationData, hypotheses: Sequence[str], count: int = 5, part: str = "test") -> dict:
    """The ``count`` best and worst translations of ``part`` by sentence BLEU: ``{"best": rows,
    "worst": rows}``, each row ``(chinese, translation, reference)``, best first and worst first."""
    pairs = data.pairs(part)
    scores = np.array([sentence_bleu(h, p.english.lower()) for h, p in zip(hypotheses, pairs)])
    order = np.argsort(scores, kind="stable")
    ranked = {"best": order[::-1][:count], "worst": order[:count]}
    return {title: [(pairs[i].chinese, hypotheses[i], pairs[i].english) for i in rows] for title, rows in ranked.items()}


def show_best_and_worst(data: TranslationData, hypotheses: Sequence[str], count: int = 5, part: str = "test") -> None:
    """Print :func:`best_and_worst`: each Chinese sentence, the model's English and the reference."""
    for title, rows in best_and_worst(data, hypotheses, count, part).items():
        print(f"--- {title}")
        for chinese, hypothesis, reference in rows:
            print(f"{chinese}\n   model: {hypothesis}\n   truth: {reference}")


def chapter_data(settings: dict) -> TranslationData:
    """Tatoeba's pairs split (fixed) and tokenised, with the recipe's training subset."""
    return TranslationData.build(split_pairs(load_pairs()), train_size=settings["train_size"])


def _save_translator(translator: TrainedTranslator, folder: Path) -> None:
    (folder / "vocabularies.json").write_text(
        json.dumps({"source": translator.source_vocab.tokens, "target": translator.target_vocab.tokens},
                   ensure_ascii=False), encoding="utf-8")
    cache.save_keras_model(translator.model, folder)


def _load_translator(folder: Path) -> TrainedTranslator:
    saved = json.loads((folder / "vocabularies.json").read_text(encoding="utf-8"))
    return TrainedTranslator(cache.load_keras_model(folder), Vocabulary.from_tokens(saved["source"]),
                             TargetVocabulary.from_tokens(saved["target"]))


def train_translator(kind: str, verbose="auto") -> tuple[TrainedTranslator, TranslationData]:
    """Train the translator ``kind`` with its chapter's recipe; returns it and its data."""
    settings = recipe(kind)
    data = chapter_data(settings)
    keras.utils.set_random_seed(0)
    model = build(data, settings)
    fit(model, data, settings, verbose=verbose)
    return TrainedTranslator(model, data.source_vocab, data.target_vocab), data


def cached_translator(kind: str) -> cache.CachedModel:
    """The translator ``kind`` in the model cache (the app ``dlbook translate`` uses it), keyed by
    its recipe and architecture (built with placeholder vocabulary sizes, which the fixed data
    determine); its vocabularies are kept beside the model."""
    if kind not in KINDS:
        raise ValueError(f"unknown translator {kind!r}: choose one of {', '.join(KINDS)}")
    return cache.CachedModel(
        name=f"translator_{kind}",
        description=f"{kind} translator (chapter {11 if kind == 'rnn' else 13}'s recipe)",
        recipe=lambda mode: recipe(kind, mode),
        architecture=lambda settings: _build((8, 8), settings),
        train=lambda: train_translator(kind, verbose=2)[0],
        save=_save_translator,
        load=_load_translator,
    )
