"""Chapters 11 and 13's translators: recipes, training, BLEU on a split, baselines, the model cache.

A recipe is a dict of settings per mode (:func:`recipe`); :func:`build` makes its model for a
:class:`~dlbook.translation.datasets.TranslationData`, :func:`fit` trains it (label-smoothed
cross-entropy per real target token, a warm-up then a cosine decay of the learning rate, early
stopping on the validation loss, the best weights kept), :func:`validation_scores` measures the
kept weights, and :func:`evaluate` decodes a split and scores it with BLEU. Two baselines tell a
translator from a model that ignores its input: :func:`constant_translation` (one sentence for
every input) and :func:`shuffled_source_bleu` (the model's own translations, each scored against
another sentence's reference). A :class:`TrainedTranslator` bundles a model with its two
vocabularies; the model cache keeps it (:func:`cached_translator`), and the app
``dlbook.apps.translate`` uses it.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
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
    in the current mode (or ``mode``). ``warmup`` is a number of steps, ``learning_rate`` the peak."""
    if kind == "rnn":
        return pick(mode=mode,
            fast=dict(kind="rnn", attention="additive", train_size=4000, embedding=96, units=96, dropout=0.2,
                      batch_size=64, learning_rate=4e-3, warmup=30, epochs=3, patience=2, label_smoothing=0.1,
                      beam=5),
            full=dict(kind="rnn", attention="additive", train_size=None, embedding=128, units=128, dropout=0.3,
                      batch_size=64, learning_rate=2e-3, warmup=200, epochs=7, patience=3, label_smoothing=0.1,
                      beam=5))
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


def learning_rate(settings: dict, steps: int) -> keras.optimizers.schedules.LearningRateSchedule:
    """The recipe's schedule over ``steps`` training steps: a linear rise to ``learning_rate`` in
    ``warmup`` steps, then a cosine decay to zero at the last step."""
    warmup = min(settings["warmup"], steps // 2)
    return keras.optimizers.schedules.CosineDecay(0.0, max(1, steps - warmup), warmup_target=settings["learning_rate"],
                                                  warmup_steps=warmup)


def compile_translator(model: keras.Model, settings: dict, steps: int = 1000) -> None:
    """Compile ``model`` with the recipe's loss, schedule and metrics, all per real target token:
    ``accuracy`` (the next word right, teacher forcing) and ``nll`` (cross-entropy, unsmoothed)."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate(settings, steps), clipnorm=1.0),
                  loss=SmoothedSparseCrossentropy(settings["label_smoothing"]),
                  weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                                    keras.metrics.SparseCategoricalCrossentropy(name="nll")],
                  **compile_options())


def fit(model: keras.Model, data: TranslationData, settings: dict, verbose="auto", seed: int = 0):
    """Train ``model`` on ``data``'s training pairs; the weights of the best validation loss are kept."""
    batches = data.batches("train", settings["batch_size"], seed=seed)
    compile_translator(model, settings, steps=len(batches) * settings["epochs"])
    stop = keras.callbacks.EarlyStopping("val_loss", patience=settings["patience"], restore_best_weights=True)
    return model.fit(batches, validation_data=data.batches("validation", 256, shuffle=False),
                     epochs=settings["epochs"], callbacks=[stop], verbose=verbose)


def derangement(count: int, seed: int = 0) -> np.ndarray:
    """A random permutation of ``range(count)`` that moves every index (``count`` ≥ 2)."""
    order = np.random.default_rng(seed).permutation(count)
    out = np.empty(count, np.int64)
    out[order] = np.roll(order, -1)
    return out


def validation_scores(model: keras.Model, data: TranslationData, part: str = "validation",
                      shuffled_sources: bool = False, seed: int = 0) -> dict[str, float]:
    """``loss``, ``accuracy`` and ``nll`` per real target token on ``part``, teacher-forced, with
    the model's current weights. ``shuffled_sources`` gives each target another pair's source
    (:func:`derangement`): what the model scores from the target words alone."""
    order = derangement(len(data.pairs(part)), seed) if shuffled_sources else None
    scores = model.evaluate(data.batches(part, 256, shuffle=False, source_order=order), verbose=0, return_dict=True)
    return {name: float(scores[name]) for name in ("loss", "accuracy", "nll")}


@dataclasses.dataclass
class TrainedTranslator:
    """A translation model with its vocabularies: Chinese sentences in, English sentences out."""

    model: keras.Model
    source_vocab: Vocabulary
    target_vocab: TargetVocabulary

    @functools.cached_property
    def parts(self) -> search.Translator:
        """What decoding uses (built once: a recurrent model's word-by-word decoder is a new model)."""
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


def references(data: TranslationData, part: str = "test") -> list[str]:
    """The reference translations of ``part``, lowercased as the translators write."""
    return [p.english.lower() for p in data.pairs(part)]


def evaluate(translator: TrainedTranslator, data: TranslationData, part: str = "test", beam: int = 5,
             progress: bool = False) -> tuple[float, list[str]]:
    """Corpus BLEU of ``translator`` on a split part of ``data``, and its translations."""
    hypotheses = translator.translate_ids(data.source_ids(part), beam=beam, progress=progress)
    return bleu(hypotheses, references(data, part)), hypotheses


def constant_translation(data: TranslationData) -> str:
    """The trivial translator's one answer: the most frequent English sentence of the training pairs."""
    return collections.Counter(p.english.lower() for p in data.pairs("train")).most_common(1)[0][0]


def shuffled_source_bleu(hypotheses: Sequence[str], data: TranslationData, part: str = "test",
                         seed: int = 0) -> float:
    """BLEU of the model's translations, each scored against the reference of another sentence
    (:func:`derangement`): what fluent English alone earns. A model that ignores its source scores
    the same here as on the right references; a translator scores far less."""
    order = derangement(len(hypotheses), seed)
    return bleu([hypotheses[i] for i in order], references(data, part))


def baselines(hypotheses: Sequence[str], data: TranslationData, part: str = "test") -> dict[str, float]:
    """The BLEU of the two baselines on ``part``: ``constant translation`` and ``shuffled sources``
    (the model's translations of other sentences, :func:`shuffled_source_bleu`)."""
    refs = references(data, part)
    return {"constant translation": bleu([constant_translation(data)] * len(refs), refs),
            "shuffled sources": shuffled_source_bleu(hypotheses, data, part)}


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


def recorded_test_bleu(chapter: int, config) -> dict[int, float]:
    """The test BLEU that ``chapter`` (11 or 13) recorded in ``results.json`` in ``config``'s mode,
    backend and precision: ``{seed: value}`` (empty if it has not run so)."""
    from dlbook import results

    return {r["seed"]: r["value"] for r in results.load_results()
            if r["chapter"] == f"{int(chapter):02d}" and r["metric"] == "test_bleu"
            and (r["mode"], r["backend"], r["precision"]) == (config.mode, config.backend, config.precision)}
