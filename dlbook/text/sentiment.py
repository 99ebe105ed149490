"""Chapter 04's sentiment classifiers of Chinese reviews, and the ``dlbook sentiment`` app.

A review becomes jieba's words without punctuation (:func:`review_words`); the book's three
models read word ids, the stronger model reads *n-grams*: the words, the pairs of neighbouring
words (不_好 tells more than 不 and 好 apart) and the pairs of neighbouring characters, which
catch words that jieba cuts differently from review to review (:func:`ngram_features`).

* :func:`book_bag_of_words_model`, :func:`book_rnn_model`, :func:`book_lstm_model`: the book's
  three networks, trained in batches instead of one review at a time.
* :class:`NaiveBayes`: the count-based baseline every text classifier should be compared with.
* :func:`ngram_embedding_model`: the stronger model, the mean and maximum of n-gram embeddings.
* :class:`SentimentClassifier`: a trained model with its vocabulary, from texts to P(positive);
  :func:`train_sentiment_classifier` trains one with the chapter's recipe and
  :func:`load_sentiment_classifier` keeps one in the model cache for :func:`sentiment`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
from keras import layers, ops

from dlbook import cache
from dlbook.config import compile_options, pick
from dlbook.text import chinese, corpora
from dlbook.text.vocabulary import Vocabulary, pad

CORPUS_CACHE = "jd_reviews"
"""The name under which the segmentation of the JD reviews is cached (:func:`chinese.segment_corpus`)."""


_SEGMENTED: dict[str, dict[str, list[str]]] = {}
"""cache name -> text -> its words, for this process: a corpus's subsets are not segmented again."""


def review_words(texts: Sequence[str], cache_name: str | None = None) -> list[list[str]]:
    """jieba's words of every text, punctuation and whitespace left out.

    With ``cache_name`` the segmentation is cached, in the data cache (for a corpus read again
    and again) and in this process (so that the splits of a corpus segmented before, or the
    corpus again, cost nothing); without, the texts are segmented afresh (a user's few sentences).
    """
    texts = list(texts)
    if not cache_name:
        return [chinese.strip_punctuation(chinese.segment(t)) for t in texts]
    known = _SEGMENTED.setdefault(cache_name, {})
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    if missing:
        known.update(zip(missing, map(chinese.strip_punctuation, chinese.segment_corpus(missing, cache_name))))
    return [list(known[t]) for t in texts]


def ngram_features(words: Sequence[str]) -> list[str]:
    """The features of one review for the n-gram model: words, word pairs and character pairs.

    ``["不", "好用"]`` gives ``["不", "好用", "不_好用", "c:不好", "c:好用"]``. A review with no
    words at all gives ``["<unk>"]``, so that every review has at least one feature.
    """
    words = list(words)
    characters = "".join(words)
    features = words + [f"{a}_{b}" for a, b in zip(words, words[1:])]
    features += [f"c:{characters[i:i + 2]}" for i in range(len(characters) - 1)]
    return features or [Vocabulary.RESERVED[Vocabulary.UNKNOWN]]


def normalized_reviews(texts: Sequence[str], cache_name: str | None = None) -> list[str]:
    """Each review as the model reads it: its words (:func:`review_words`) joined, without
    punctuation and whitespace. 穿着舒服，大小合适！！ and 穿着舒服 大小合适 both give 穿着舒服大小合适;
    a review of punctuation only gives ``""``. Joining the characters also merges reviews that
    jieba cut differently (质量 / 太差 and 质量 / 太 / 差), which are one review to a reader.

    This is the key by which :func:`jd_clean_split` de-duplicates and splits, and by which
    :func:`overlap_share` compares splits.
    """
    return ["".join(words) for words in review_words(texts, cache_name)]


def book_split(texts: Sequence[str], labels, seed: int, fractions=(0.8, 0.1, 0.1)):
    """The book's split: every non-empty line, repeats included, shuffled and cut 80/10/10.

    Returns ``[(train_texts, train_labels), (val_texts, val_labels), (test_texts, test_labels)]``.
    A review posted twice can land in training and in the test set: see :func:`overlap_share`,
    and :func:`jd_clean_split` for the honest split.
    """
    kept = [i for i, t in enumerate(texts) if t.strip()]
    order = np.random.default_rng(seed).permutation(kept)
    bounds = [round(fractions[0] * len(order)), round((fractions[0] + fractions[1]) * len(order))]
    labels = np.asarray(labels)
    return [([texts[i].strip() for i in part], labels[part]) for part in np.split(order, bounds)]


def overlap_share(train_texts: Sequence[str], test_texts: Sequence[str], cache_name: str | None = None) -> float:
    """The share of ``test_texts`` whose normalised form (:func:`normalized_reviews`: the words the
    model reads) is also that of a text in ``train_texts``. ``cache_name`` caches the segmentation."""
    if not len(test_texts):
        return 0.0
    seen = set(normalized_reviews(train_texts, cache_name))
    return float(np.mean([key in seen for key in normalized_reviews(test_texts, cache_name)]))


@keras.saving.register_keras_serializable(package="dlbook")
class BagOfWordsLinear(layers.Layer):
    """A dense layer on a review's word frequencies, ``W · (counts / n) + b``, without building the counts.

    The book's ``sentence2vec`` turns a review of ``n`` words into the vocabulary-sized vector of
    its word counts divided by ``n`` and multiplies it by a matrix. Column ``w`` of that matrix
    meets the frequency of word ``w``, so the product is the mean of the columns of the review's
    words, one per occurrence: ``(1/n) Σ_t W[w_t] + b``. Averaging looked-up rows costs the
    review's length instead of the vocabulary's size. Padding (id 0) is not counted; a review of
    no words gives ``b``. ``normalize=False`` sums instead (raw counts, ``Σ_t W[w_t] + b``).
    """

    def __init__(self, vocab_size: int, units: int, normalize: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.units, self.normalize = vocab_size, units, normalize

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(self.vocab_size, self.units), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, ids):
        ids = ops.cast(ids, "int32")
        rows = ops.take(ops.cast(self.kernel, self.compute_dtype), ids, axis=0)
        counted = ops.cast(ops.not_equal(ids, Vocabulary.PAD), rows.dtype)
        total = ops.sum(rows * counted[..., None], axis=1)
        if self.normalize:
            total = total / ops.maximum(ops.sum(counted, axis=1, keepdims=True), ops.cast(1, rows.dtype))
        return total + ops.cast(self.bias, rows.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "units": self.units, "normalize": self.normalize}


# The GPU path: every recurrent layer is built with dtype="float32", so it computes in float32 under
# a mixed policy (cuDNN rejects bfloat16 on a TensorFlow GPU); Keras casts its inputs, and the
# layers after it go back to the policy. Every output that feeds a loss is float32 too.


def _two_way_softmax(x, name: str = "sentiment"):
    # The book's two outputs (negative, positive); the softmax computes in float32.
    return layers.Dense(2, activation="softmax", dtype="float32", name=name)(x)


def book_bag_of_words_model(vocab_size: int) -> keras.Model:
    """The book's first model: word frequencies (counts / length) → Linear(V→10) → ReLU → Linear(10→2) → softmax."""
    ids = keras.Input(shape=(None,), dtype="int32", name="word_ids")
    hidden = layers.Activation("relu")(BagOfWordsLinear(vocab_size, 10, name="counts_linear")(ids))
    return keras.Model(ids, _two_way_softmax(hidden), name="book_bag_of_words")


def book_rnn_model(vocab_size: int, units: int = 10) -> keras.Model:
    """The book's RNN: 10-dimensional word embeddings, a simple recurrent layer, softmax on its last state."""
    ids = keras.Input(shape=(None,), dtype="int32", name="word_ids")
    x = layers.Embedding(vocab_size, units, mask_zero=True, name="embedding")(ids)
    x = layers.SimpleRNN(units, dtype="float32", name="rnn")(x)
    return keras.Model(ids, _two_way_softmax(x), name="book_rnn")


def book_lstm_model(vocab_size: int, units: int = 10) -> keras.Model:
    """The book's LSTM: 10-dimensional word embeddings and two LSTM layers of 10 units."""
    ids = keras.Input(shape=(None,), dtype="int32", name="word_ids")
    x = layers.Embedding(vocab_size, units, mask_zero=True, name="embedding")(ids)
    x = layers.LSTM(units, return_sequences=True, dtype="float32", name="lstm_1")(x)
    x = layers.LSTM(units, dtype="float32", name="lstm_2")(x)
    return keras.Model(ids, _two_way_softmax(x), name="book_lstm")


@keras.saving.register_keras_serializable(package="dlbook")
class MaskedMaxPooling(layers.Layer):
    """The largest value of each feature over a sequence's real (unmasked) steps.

    ``GlobalMaxPooling1D`` ignores masks, so padding would take part in the maximum.
    """

    def call(self, x, mask=None):
        if mask is None:
            return ops.max(x, axis=1)
        real = ops.cast(mask, "bool")[..., None]
        return ops.max(ops.where(real, x, ops.cast(-1e4, x.dtype)), axis=1)

    def compute_mask(self, x, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def ngram_embedding_model(vocab_size: int, dim: int = 64, dropout: float = 0.5) -> keras.Model:
    """The stronger model: the mean and the maximum of a review's n-gram embeddings, then one sigmoid unit.

    Every n-gram gets a ``dim``-dimensional vector. The mean over the review (padding masked
    out) weighs all the evidence; the maximum of each dimension picks out the strongest single
    n-gram for it, so one 差评 in a long review is not averaged away. A logistic regression on
    both (with dropout) gives P(positive).
    """
    ids = keras.Input(shape=(None,), dtype="int32", name="ngram_ids")
    x = layers.Embedding(vocab_size, dim, mask_zero=True, name="ngram_embedding")(ids)
    pooled = layers.Concatenate(name="mean_and_max")([layers.GlobalAveragePooling1D(name="mean")(x),
                                                      MaskedMaxPooling(name="max")(x)])
    pooled = layers.Dropout(dropout, name="dropout")(pooled)
    positive = layers.Dense(1, activation="sigmoid", dtype="float32", name="positive")(pooled)
    return keras.Model(ids, positive, name="ngram_embeddings")


class NaiveBayes:
    """Multinomial naive Bayes with add-``alpha`` smoothing on lists of tokens, in NumPy.

    ``P(class | review) ∝ P(class) Π_t P(t | class)``, each ``P(t | class)`` counted in the
    training reviews of the class. Tokens unseen in training are ignored.
    """

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, token_lists: Sequence[Sequence[str]], labels) -> "NaiveBayes":
        labels = np.asarray(labels)
        self.vocabulary = Vocabulary(token_lists)
        counts = np.zeros((2, len(self.vocabulary)))
        for tokens, label in zip(token_lists, labels):
            np.add.at(counts[int(label)], self.vocabulary.encode(tokens), 1)
        smoothed = counts + self.alpha
        smoothed[:, : len(Vocabulary.RESERVED)] = 1.0  # never looked up: see _known
        self.log_likelihood = np.log(smoothed) - np.log(smoothed[:, len(Vocabulary.RESERVED):].sum(axis=1, keepdims=True))
        self.log_prior = np.log(np.bincount(labels.astype(int), minlength=2) / len(labels))
        return self

    def predict_proba(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """P(positive) of every token list."""
        scores = np.array([self.log_prior + self.log_likelihood[:, self._known(t)].sum(axis=1) for t in token_lists])
        return 1.0 / (1.0 + np.exp(np.clip(scores[:, 0] - scores[:, 1], -50, 50)))

    def _known(self, tokens: Sequence[str]) -> np.ndarray:
        ids = self.vocabulary.encode(tokens)
        return ids[ids >= len(Vocabulary.RESERVED)]

    def log_odds(self, token: str) -> float:
        """``log P(token | positive) - log P(token | negative)``: how far one token pushes to each side."""
        ids = self._known([token])
        return float(self.log_likelihood[1, ids].sum() - self.log_likelihood[0, ids].sum())


@dataclass
class SentimentClassifier:
    """The n-gram model with the vocabulary it was trained with: texts in, P(positive) out."""

    model: keras.Model
    vocabulary: Vocabulary
    max_len: int = 400

    def encode(self, texts: Sequence[str], cache_name: str | None = None) -> np.ndarray:
        """The padded n-gram ids of ``texts`` (at most ``max_len`` features each)."""
        features = [ngram_features(w) for w in review_words(texts, cache_name)]
        return pad([self.vocabulary.encode(f) for f in features], self.max_len)[0]

    def predict(self, texts: Sequence[str], cache_name: str | None = None, batch_size: int = 256) -> np.ndarray:
        """P(positive) of every text, as float32 (empty or unknown text gets a probability too)."""
        if isinstance(texts, str):
            raise TypeError("predict takes a list of texts; wrap a single text in a list")
        if not len(texts):
            return np.zeros(0, np.float32)
        ids = self.encode(texts, cache_name)
        return np.asarray(self.model.predict(ids, batch_size=batch_size, verbose=0), np.float32).reshape(-1)


def sentiment_recipe(mode: str | None = None) -> dict:
    """The training settings of :func:`train_sentiment_classifier` in the current mode (or ``mode``).

    The clean split of the JD reviews by :func:`review_split` (seed 42), n-grams seen at least
    twice in training, 64-dim embeddings, Adam 1e-3, batches of 64, early stopping on validation
    accuracy (patience 4), at most 30 epochs in full mode and 8 in fast mode.
    """
    return {"data": "jd_reviews review_split (normalised words)", "split_seed": 42,
            "features": "words+word pairs+char pairs",
            "min_count": 2, "max_len": 400, "dim": 64, "dropout": 0.5, "optimizer": "adam",
            "learning_rate": 1e-3, "batch_size": 64, "max_epochs": pick(fast=8, full=30, mode=mode), "patience": 4}


def train_sentiment_classifier(split: corpora.CleanSplit, seed: int, verbose: int | str = 0):
    """Train the n-gram model on ``split`` with :func:`sentiment_recipe`; returns ``(classifier, history)``.

    The vocabulary is built from the training reviews only; the epoch of best validation accuracy
    is kept. ``seed`` seeds the weights, dropout and shuffling.
    """
    recipe = sentiment_recipe()
    train_features = [ngram_features(w) for w in review_words(split.x_train, CORPUS_CACHE)]
    vocabulary = Vocabulary(train_features, min_count=recipe["min_count"])
    keras.utils.set_random_seed(seed)
    classifier = SentimentClassifier(ngram_embedding_model(len(vocabulary), recipe["dim"], recipe["dropout"]),
                                     vocabulary, recipe["max_len"])
    x_train = pad([vocabulary.encode(f) for f in train_features], recipe["max_len"])[0]
    x_val = classifier.encode(split.x_val, CORPUS_CACHE)
    classifier.model.compile(optimizer=keras.optimizers.Adam(recipe["learning_rate"]), loss="binary_crossentropy",
                             metrics=["accuracy"], **compile_options())
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=recipe["patience"],
                                         restore_best_weights=True)
    history = classifier.model.fit(x_train, split.y_train, validation_data=(x_val, split.y_val),
                                   batch_size=recipe["batch_size"], epochs=recipe["max_epochs"],
                                   callbacks=[stop], verbose=verbose)
    return classifier, history


def review_split(texts: Sequence[str], labels, seed: int, fractions=(0.8, 0.1, 0.1),
                 cache_name: str | None = CORPUS_CACHE) -> corpora.CleanSplit:
    """:func:`corpora.clean_split` on the text the model reads (:func:`normalized_reviews`): no two
    splits share a review's word sequence, and reviews whose word sequence came with both labels
    are dropped. ``cache_name`` caches the segmentation (None: segment afresh)."""
    return corpora.clean_split(texts, labels, seed=seed, fractions=fractions,
                               key=lambda stripped: normalized_reviews(stripped, cache_name))


def jd_clean_split(seed: int = 42) -> corpora.CleanSplit:
    """The JD reviews (HTML entities unescaped), cleaned and split by :func:`review_split`."""
    texts, labels = corpora.load_jd_reviews(unescape=True)
    return review_split(texts, labels, seed)


def _save_classifier(classifier: SentimentClassifier, folder: Path) -> None:
    (folder / "vocabulary.json").write_text(json.dumps({"tokens": classifier.vocabulary.tokens,
                                                        "max_len": classifier.max_len}, ensure_ascii=False),
                                            encoding="utf-8")
    cache.save_keras_model(classifier.model, folder)


def _load_classifier(folder: Path) -> SentimentClassifier:
    saved = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
    return SentimentClassifier(cache.load_keras_model(folder), Vocabulary.from_tokens(saved["tokens"]),
                               saved["max_len"])


def _train_for_cache() -> SentimentClassifier:
    seed = sentiment_recipe()["split_seed"]
    return train_sentiment_classifier(jd_clean_split(seed), seed=seed, verbose=2)[0]


CLASSIFIER = cache.CachedModel(
    name="sentiment_classifier",
    description="sentiment classifier (chapter 04's pooled n-gram model)",
    recipe=lambda mode: sentiment_recipe(mode),
    # built with a placeholder vocabulary size: the real size follows from the data and the recipe
    architecture=lambda recipe: ngram_embedding_model(2, recipe["dim"], recipe["dropout"]),
    train=lambda: _train_for_cache(),
    save=_save_classifier,
    load=_load_classifier,
)
"""Chapter 04's classifier with its vocabulary in the model cache (the app ``dlbook sentiment`` uses it)."""
