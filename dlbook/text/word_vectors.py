"""Word vectors of 红楼梦: skip-gram pairs with negative sampling, the vectors, group AUC.

Chapter 09 trains a skip-gram model with negative sampling (SGNS) on the novel; what it shares with
the tests and with the app ``dlbook similar`` lives here, in NumPy and Keras layers, the same under
every backend. :data:`VECTORS` keeps the :class:`WordVectors` in the model cache (keyed by
:func:`recipe`, so a changed recipe is retrained). The language models of the chapter's first half
are in :mod:`dlbook.text.language_models`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from importlib import resources
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
from keras import layers

from dlbook import cache
from dlbook.config import compile_options, current, pick
from dlbook.paths import atomic_path
from dlbook.text import chinese, corpora, vocabulary

GROUPS_FILE = "resources/hongloumeng_groups.txt"
"""Groups of 红楼梦 words (people by standing, places) for judging, relative to the package folder."""
PLACES = "places"
"""The group of places in :data:`GROUPS_FILE`; the others are people."""


def novel_paragraphs() -> list[tuple[int, list[str]]]:
    """Every paragraph of 红楼梦 as ``(chapter number, words)``, in order.

    Words are jieba's with the names dictionary (segmentation cached), without punctuation and
    without the tokens that hold a non-CJK letter: the source replaced about 300 rare characters
    with stray Cyrillic or kana letters (窄Ё袄), which would otherwise reach the vocabulary.
    """
    numbered = [(chapter.number, p) for chapter in corpora.novel_chapters() for p in chapter.paragraphs]
    segmented = chinese.segment_corpus([p for _, p in numbered], "hongloumeng")
    return [(number, [w for w in words if chinese.is_chinese_word(w)]) for (number, _), words in zip(numbered, segmented)]


# Skip-gram with negative sampling


def keep_probability(counts, threshold: float = 1e-3) -> np.ndarray:
    """Subsampling: the chance ``min(1, sqrt(t / f))`` to keep an occurrence of a word of frequency ``f``.

    ``f`` is the word's share of all ``counts`` and ``t`` the ``threshold``: words rarer than ``t``
    are always kept, a word a hundred times more frequent one time in ten.
    """
    counts = np.asarray(counts, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.minimum(1.0, np.sqrt(threshold * counts.sum() / counts))


def negative_distribution(counts, power: float = 0.75) -> np.ndarray:
    """Where negative samples come from: probabilities proportional to ``counts ** power``."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


def subsample(id_lists: Sequence[np.ndarray], keep: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """The sequences with each occurrence of id ``w`` kept with probability ``keep[w]``, order kept."""
    return [ids[rng.random(len(ids)) < keep[ids]] for ids in map(np.asarray, id_lists)]


def skipgram_pairs(id_lists: Sequence[np.ndarray], window: int, keep: np.ndarray, rng: np.random.Generator):
    """Skip-gram's (center, context) id pairs: ``(centers, contexts)``, int32 arrays.

    Words survive :func:`subsample` by ``keep`` (ids whose ``keep`` is 0, such as ``<unk>``, never
    do); each survivor draws a window ``b`` from 1 to ``window`` and pairs with the survivors up to
    ``b`` places before and after it in its sequence, so near words pair more often than far ones.
    """
    kept = [ids for ids in subsample(id_lists, keep, rng) if len(ids) > 1] or [np.zeros(0, np.int32)]
    flat = np.concatenate(kept).astype(np.int32)
    sequence = np.repeat(np.arange(len(kept)), [len(ids) for ids in kept])
    reach = rng.integers(1, window + 1, size=len(flat))
    pairs = []
    for offset in range(1, window + 1):
        for a, b in ((slice(None, -offset), slice(offset, None)), (slice(offset, None), slice(None, -offset))):
            ok = (sequence[a] == sequence[b]) & (reach[a] >= offset)
            pairs.append((flat[a][ok], flat[b][ok]))
    return np.concatenate([c for c, _ in pairs]), np.concatenate([x for _, x in pairs])


class SkipgramBatches(keras.utils.PyDataset):
    """Batches ``((centers, [context, negatives...]), labels)`` for :func:`skipgram_model`.

    Every epoch subsamples, draws windows and ``negatives`` noise words per pair anew (seeded).
    The first epoch's pairs fix the number of batches; later epochs are cut or wrapped to it.
    """

    def __init__(self, id_lists, counts, *, window: int, negatives: int, subsample: float,
                 batch_size: int, seed: int):
        super().__init__()
        self.id_lists = [np.asarray(ids, np.int32) for ids in id_lists]
        self.keep = keep_probability(counts, subsample)
        self.keep[counts == 0] = 0.0
        self.noise = np.cumsum(negative_distribution(counts))
        self.window, self.negatives, self.batch_size = window, negatives, batch_size
        self.rng = np.random.default_rng(seed)
        self._draw()
        if len(self.centers) == 0:
            raise ValueError("no skip-gram pairs: every sequence is shorter than two words after subsampling")
        self.n_batches = math.ceil(len(self.centers) / batch_size)

    def _draw(self) -> None:
        centers, contexts = skipgram_pairs(self.id_lists, self.window, self.keep, self.rng)
        noise = np.searchsorted(self.noise, self.rng.random((len(centers), self.negatives)) * self.noise[-1], "right")
        order = self.rng.permutation(len(centers))
        self.centers = centers[order]
        self.candidates = np.concatenate([contexts[order, None], noise.astype(np.int32)], axis=1)

    def __len__(self) -> int:
        return self.n_batches

    def __getitem__(self, index: int):
        rows = np.arange(index * self.batch_size, (index + 1) * self.batch_size) % len(self.centers)
        labels = np.zeros((len(rows), self.negatives + 1), np.float32)
        labels[:, 0] = 1.0
        return (self.centers[rows], self.candidates[rows]), labels

    def on_epoch_end(self) -> None:
        """Draw the next epoch's pairs and noise words."""
        self._draw()


def skipgram_model(vocab_size: int, dim: int, negatives: int) -> keras.Model:
    """SGNS: a center word's vector dotted with the vectors of its context word and noise words.

    Two embedding tables: ``word_vectors`` for center words (the vectors we keep) and
    ``context_vectors``; outputs the ``1 + negatives`` logits (float32) of "is a real context".
    """
    center = keras.Input(shape=(), dtype="int32", name="center")
    candidates = keras.Input(shape=(negatives + 1,), dtype="int32", name="candidates")
    u = layers.Embedding(vocab_size, dim, name="word_vectors")(center)                 # (batch, dim)
    v = layers.Embedding(vocab_size, dim, name="context_vectors")(candidates)          # (batch, 1 + k, dim)
    logits = layers.Dot(axes=(2, 1), name="scores")([v, u])                            # (batch, 1 + k)
    return keras.Model([center, candidates], layers.Activation("linear", dtype="float32", name="logits")(logits))


# How the window and the subsampling threshold were chosen: sweep(...) of windows 2, 3, 5, 8 and
# thresholds 1e-4, 1e-3, 1e-2 in full mode (TensorFlow, float32, seed 42), scored on the tuning half
# of the word groups (split_groups(load_groups())[0]) as group AUC / people-only AUC:
#   t = 1e-3: window 2 0.870 / 0.804, 3 0.890 / 0.831, 5 0.890 / 0.851, 8 0.837 / 0.803
#   t = 1e-2: window 2 0.870 / 0.800, 3 0.890 / 0.826, 5 0.886 / 0.832, 8 0.850 / 0.805
#   t = 1e-4: window 3 0.738 / 0.679, 5 0.819 / 0.786
# Window 5 with t = 1e-3 has the best mean of the two (0.871); fast mode's sweep (seed 42) agreed:
# window 5 0.867, 3 0.839, 2 0.834 at t = 1e-3.


def recipe(mode: str | None = None) -> dict:
    """The word vectors' training settings in the current mode or ``mode`` (chapter 09's recipe)."""
    # The window and subsampling were chosen by :func:`sweep` on the tuning half of the groups
    # (split_groups), full mode, TensorFlow, seed 42: group AUC (people only) on the tuning half.
    #   t = 1e-3: window 2 0.870 (0.804), 3 0.890 (0.831), 5 0.890 (0.851), 8 0.837 (0.803)
    #   t = 1e-2: window 2 0.870 (0.800), 3 0.890 (0.826), 5 0.886 (0.832), 8 0.850 (0.805)
    #   t = 1e-4: window 3 0.738 (0.679), 5 0.819 (0.786)
    # Windows 3 and 5 tie at t = 1e-3; window 5 separates the people better, so: 5 and 1e-3.
    return {"min_count": 5, "dim": pick(fast=64, full=100, mode=mode), "window": 5, "negatives": 5,
            "subsample": 1e-3, "batch_size": 2048, "learning_rate": pick(fast=4e-3, full=2e-3, mode=mode),
            "epochs": pick(fast=2, full=5, mode=mode),
            "names": hashlib.sha256(chinese._names_file_text().encode()).hexdigest()[:8]}


def novel_vocabulary(paragraphs=None, min_count: int = 5) -> vocabulary.Vocabulary:
    """The vocabulary of the whole novel (``paragraphs`` from :func:`novel_paragraphs`) at ``min_count``."""
    return vocabulary.Vocabulary([words for _, words in paragraphs or novel_paragraphs()], min_count=min_count)


def train_skipgram(paragraphs=None, settings: dict | None = None, verbose="auto"):
    """Train :func:`skipgram_model` on the novel with ``settings`` (:func:`recipe` by default).

    Returns ``(vectors, model, history)``: the :class:`WordVectors` of the center table, the model
    and the Keras history. Adam, a learning rate falling linearly to 0, binary cross-entropy.
    """
    settings = settings or recipe()
    paragraphs = paragraphs or novel_paragraphs()
    vocab = novel_vocabulary(paragraphs, settings["min_count"])
    counts = np.array([0, 0] + [vocab.counts[w] for w in vocab.tokens[2:]], dtype=np.float64)
    batches = SkipgramBatches([vocab.encode(words) for _, words in paragraphs], counts,
                              window=settings["window"], negatives=settings["negatives"],
                              subsample=settings["subsample"], batch_size=settings["batch_size"], seed=current().seed)
    model = skipgram_model(len(vocab), settings["dim"], settings["negatives"])
    schedule = keras.optimizers.schedules.PolynomialDecay(settings["learning_rate"], settings["epochs"] * len(batches), 0.0)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  **compile_options())
    history = model.fit(batches, epochs=settings["epochs"], verbose=verbose)
    table = keras.ops.convert_to_numpy(model.get_layer("word_vectors").embeddings)
    return WordVectors(vocab.tokens[2:], table[2:], counts[2:]), model, history


def sweep(changes: Sequence[dict], groups: dict[str, Sequence[str]], paragraphs=None,
          mode: str | None = None) -> list[dict]:
    """Train :func:`train_skipgram` once per change of the ``mode``'s :func:`recipe` (``{"window": 5}``,
    say) and score each on ``groups``: rows ``{**change, "group_auc": ..., "people_auc": ...}``.

    Chapter 09's window and subsampling were chosen this way, on the tuning half of the word
    groups (:func:`split_groups`), never on the half it reports. Every run starts from the current
    seed (``dlbook.setup(seed=...)``).
    """
    paragraphs = paragraphs or novel_paragraphs()
    rows = []
    for change in changes:
        keras.utils.set_random_seed(current().seed)
        vectors = train_skipgram(paragraphs, {**recipe(mode), **change}, verbose=0)[0]
        rows.append({**change, "group_auc": group_auc(vectors, groups),
                     "people_auc": group_auc(vectors, people_groups(groups))})
    return rows


# Judging and using the vectors


def load_groups() -> dict[str, list[str]]:
    """The word groups of ``dlbook/text/resources/hongloumeng_groups.txt``: name -> words (for judging only)."""
    groups = {}
    for number, line in enumerate(resources.files("dlbook.text").joinpath(GROUPS_FILE).read_text("utf-8").splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, words = line.partition(":")
            if not sep or not words.split():
                raise ValueError(f"{GROUPS_FILE}, line {number}: expected 'name: word word ...', got {line!r}")
            groups[name.strip()] = words.split()
    return groups


def split_groups(groups: dict[str, Sequence[str]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Every group's words in two halves, alternately in file order: ``(tuning, reporting)``.

    The first, third, fifth ... words of each group choose the training settings; the second,
    fourth ... words, never looked at while choosing, give the reported score.
    """
    return ({name: list(words[0::2]) for name, words in groups.items()},
            {name: list(words[1::2]) for name, words in groups.items()})


def people_groups(groups: dict[str, Sequence[str]]) -> dict[str, list[str]]:
    """The groups without the places: telling people from places is the easy contrast."""
    return {name: list(words) for name, words in groups.items() if name != PLACES}


def group_auc(vectors: "WordVectors", groups: dict[str, Sequence[str]]) -> float:
    """The chance that a same-group pair of words is more alike (cosine) than a cross-group pair.

    Over all same-group pairs and all cross-group pairs of the groups' words (words missing from
    ``vectors`` are left out); ties count half: 1 is perfect, 0.5 chance, 0 reversed.
    """
    words = [(w, g) for g, members in groups.items() for w in members if w in vectors]
    matrix = np.stack([vectors.vector(w) for w, _ in words])
    labels = np.array([g for _, g in words])
    upper = np.triu_indices(len(words), k=1)
    cosines = (matrix @ matrix.T)[upper]
    same = (labels[:, None] == labels[None, :])[upper]
    positive, negative = np.sort(cosines[same]), cosines[~same]
    if len(positive) == 0 or len(negative) == 0:
        raise ValueError("group_auc needs at least one same-group and one cross-group pair")
    below = np.searchsorted(positive, negative, side="left")
    equal = np.searchsorted(positive, negative, side="right") - below
    return float(((len(positive) - below - equal) + 0.5 * equal).sum() / (len(positive) * len(negative)))


@dataclasses.dataclass
class WordVectors:
    """Words and their unit-length vectors, with how often each word occurs; plain NumPy.

    ``vectors.most_similar("宝玉")``, ``vectors.similarity("宝玉", "黛玉")``, ``"宝玉" in vectors``,
    ``len(vectors)``. Vectors are normalised on construction, so cosines are dot products.
    """

    tokens: list[str]
    vectors: np.ndarray
    counts: np.ndarray

    def __post_init__(self):
        self.tokens, vectors = [str(t) for t in self.tokens], np.asarray(self.vectors, np.float32)
        self.vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        self.counts = np.asarray(self.counts, np.int64)
        self._ids = {w: i for i, w in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, word) -> bool:
        return word in self._ids

    def index(self, word: str) -> int:
        """The row of ``word``; a ``ValueError`` that suggests known words if it has none."""
        if word in self._ids:
            return self._ids[word]
        word = str(word).strip()
        if not word:
            raise ValueError("no word given: name a word of the novel, e.g. 宝玉")
        if not chinese.is_chinese_word(word):
            common = ", ".join([self.tokens[i] for i in np.argsort(-self.counts, kind="stable") if len(self.tokens[i]) > 1][:5])
            raise ValueError(f"{word!r} is not a Chinese word; the vectors know the words of 红楼梦, e.g. {common}")
        shared = {i: len(set(t) & set(word)) for i, t in enumerate(self.tokens) if set(t) & set(word)}
        close = sorted(shared, key=lambda i: (-shared[i], -self.counts[i]))[:8]
        hint = ("; known words sharing its characters (most shared, then most frequent, first): "
                + ", ".join(self.tokens[i] for i in close) if close else "; no known word shares its characters")
        raise ValueError(f"{word!r} is not among the {len(self)} words of the vectors{hint}")

    def vector(self, word: str) -> np.ndarray:
        """The unit vector of ``word``."""
        return self.vectors[self.index(word)]

    def similarity(self, a: str, b: str) -> float:
        """The cosine of the vectors of ``a`` and ``b``."""
        return float(self.vector(a) @ self.vector(b))

    def nearest(self, query: np.ndarray, k: int = 10, exclude=()) -> list[tuple[str, float]]:
        """The ``k`` words whose vectors have the highest cosine with ``query``, leaving out ``exclude``."""
        cosines = self.vectors @ (query / max(np.linalg.norm(query), 1e-12))
        excluded = {self._ids[w] for w in exclude if w in self._ids}
        cosines[list(excluded)] = -np.inf
        best = np.argsort(-cosines, kind="stable")[:min(k, len(self) - len(excluded))]
        return [(self.tokens[i], float(cosines[i])) for i in best]

    def most_similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` words closest to ``word`` by cosine, closest first, as ``(word, cosine)``."""
        return self.nearest(self.vector(word), k, exclude=[word])

    def analogy(self, a: str, b: str, c: str, k: int = 10) -> list[tuple[str, float]]:
        """``a : b :: c : ?``: the words nearest to ``b - a + c`` (the three left out)."""
        return self.nearest(self.vector(b) - self.vector(a) + self.vector(c), k, exclude=[a, b, c])

    def rank(self, answer: str, a: str, b: str, c: str) -> int:
        """Where ``answer`` lands (1 = first) among the answers of :meth:`analogy` ``a : b :: c : ?``."""
        ranked = [w for w, _ in self.analogy(a, b, c, k=len(self))]
        return ranked.index(self.tokens[self.index(answer)]) + 1

    def save(self, path: Path) -> Path:
        """Write tokens, vectors and counts to ``path`` (.npz), atomically."""
        with atomic_path(Path(path), suffix=".npz") as tmp:
            np.savez(tmp, tokens=np.array(self.tokens), vectors=self.vectors, counts=self.counts)
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> WordVectors:
        """Read vectors written by :meth:`save`."""
        with np.load(path) as saved:
            return cls(saved["tokens"].tolist(), saved["vectors"], saved["counts"])


VECTORS = cache.CachedModel(
    name="word_vectors",
    description="word vectors of 红楼梦 (chapter 09's skip-gram recipe)",
    recipe=lambda mode: recipe(mode),
    train=lambda: train_skipgram(None, recipe(), verbose=2)[0],
    save=lambda vectors, folder: vectors.save(folder / "vectors.npz"),
    load=lambda folder: WordVectors.load(folder / "vectors.npz"),
)
"""Chapter 09's word vectors in the model cache (the app ``dlbook similar`` uses them)."""


def train_and_save(paragraphs=None, verbose="auto"):
    """Train with the current mode's :func:`recipe` and cache the vectors, holding the cache's lock
    meanwhile (an app asking for them waits); returns :func:`train_skipgram`'s result."""
    return cache.train_and_save(VECTORS, lambda: train_skipgram(paragraphs, recipe(), verbose),
                                cached=lambda result: result[0])
