"""Chapter 09's text tools: N-gram examples, perplexity, the Kneser-Ney bigram model, skip-gram pairs,
subsampling and negatives, group AUC and the halves of the groups, count vectors, WordVectors and
its cache, the ``dlbook similar`` command, and Chinese glyphs for the words chapter 09 plots."""

from __future__ import annotations

import math
import warnings

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

import dlbook
from dlbook import apps, cache, cli
from dlbook.text import chinese, corpora, count_vectors, language_models
from dlbook.text import word_vectors as wv

# A tiny corpus of the novel's words: two households that never meet in one sentence.
TOY = [["宝玉", "黛玉", "宝钗", "笑", "道"], ["黛玉", "宝玉", "笑"], ["宝钗", "宝玉", "黛玉"],
       ["袭人", "晴雯", "麝月", "去", "了"], ["晴雯", "袭人", "去"], ["麝月", "晴雯", "袭人", "了"]] * 20


@pytest.fixture
def fast_mode(isolated, monkeypatch):
    monkeypatch.setenv("DLBOOK_MODELS", str(isolated / "models"))
    dlbook.setup(mode="fast", verbose=False)
    return isolated


def toy_vectors() -> wv.WordVectors:
    tokens = ["宝玉", "黛玉", "宝钗", "袭人", "玉钏"]
    vectors = [[1, 0, 0], [0.9, 0.1, 0], [0.8, 0.3, 0.1], [0, 1, 0], [0.1, 0.2, 1]]
    return wv.WordVectors(tokens, np.array(vectors) * 3.0, [3775, 1062, 880, 1128, 8])


# Corpus and N-gram examples


def test_is_chinese_word_rejects_the_placeholders_of_rare_characters():
    assert chinese.is_chinese_word("宝玉") and chinese.is_chinese_word("了")
    assert not any(chinese.is_chinese_word(t) for t in ["窄Ё袄", "プ手", "ok", "3", "", "宝玉 "])


def test_ngram_examples_pad_the_start_of_each_sequence():
    x, y = language_models.ngram_examples([[5, 6, 7], [8]], context=2)
    assert x.tolist() == [[0, 0], [0, 5], [5, 6], [0, 0]] and y.tolist() == [5, 6, 7, 8]
    assert x.dtype == np.int32 and language_models.ngram_examples([[5, 6]], context=1)[0].tolist() == [[0], [5]]


def test_perplexity_by_hand():
    assert language_models.perplexity([0.5, 0.25]) == pytest.approx(math.sqrt(8))  # exp(-(ln 1/2 + ln 1/4) / 2)
    assert language_models.perplexity(np.full(7, 1 / 30)) == pytest.approx(30)
    with pytest.raises(ValueError):
        language_models.perplexity([0.5, 0.0])


def test_model_perplexity_of_a_uniform_softmax_is_the_vocabulary_size():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(40, kernel_initializer="zeros", activation="softmax")])
    x, y = np.ones((50, 2), "float32"), np.arange(50) % 40
    assert language_models.model_perplexity(model, x, y, batch_size=16) == pytest.approx(40, rel=1e-5)


def test_the_neural_ngram_model_has_the_book_s_shape():
    model = language_models.neural_ngram_model(30, context=2, dim=10, hidden=128)
    assert [layer.name for layer in model.layers] == ["embedding", "concatenate", "hidden", "next_word"]
    assert model.count_params() == 30 * 10 + (20 * 128 + 128) + (128 * 30 + 30)
    probabilities = keras.ops.convert_to_numpy(model(np.array([[0, 3], [4, 5]], "int32")))
    assert probabilities.shape == (2, 30) and probabilities.sum(axis=1) == pytest.approx([1, 1], rel=1e-5)


# The bigram model


def test_bigram_model_distributions_sum_to_one_over_the_vocabulary():
    ids = [[2, 3, 4, 2, 1], [3, 3, 2], [4]]
    model = language_models.BigramModel(ids, vocab_size=7, discount=0.7)
    for previous in range(7):  # seen contexts, the start (0), and ids never seen (5, 6)
        p = model.distribution(previous)
        assert p.sum() == pytest.approx(1.0) and p[0] == 0 and np.all(p[1:] > 0)


def test_bigram_model_matches_kneser_ney_by_hand():
    # Bigrams (0,2) (2,3) (3,2) (2,4): c(2) = 2 with 2 followers; 4 bigram types; N(. w) = 1 for 2, 3, 4.
    model = language_models.BigramModel([[2, 3, 2, 4]], vocab_size=5, discount=0.5)
    p_cont = {w: (max(n - 0.5, 0) + 0.5 * 3 / 4) / 4 for w, n in {1: 0, 2: 1, 3: 1, 4: 1}.items()}
    assert model.probability(2, 3) == pytest.approx((1 - 0.5) / 2 + 0.5 * 2 / 2 * p_cont[3])
    assert model.probability(2, 1) == pytest.approx(0.5 * 2 / 2 * p_cont[1])
    assert model.probability(4, 3) == pytest.approx(p_cont[3])  # 4 is never a context
    expected = math.exp(-np.mean(np.log([model.probability(0, 2), model.probability(2, 3)])))
    assert model.perplexity([[2, 3]]) == pytest.approx(expected)


def test_bigram_tuned_picks_the_best_validation_discount():
    train, validation = [[2, 3, 4, 2, 3, 5, 2, 3]] * 5, [[2, 3, 5, 2, 4]]
    model, best = language_models.BigramModel.tuned(train, validation, 6, discounts=[0.1, 0.5, 0.9])
    scores = [language_models.BigramModel(train, 6, d).perplexity(validation) for d in (0.1, 0.5, 0.9)]
    assert best == min(scores) and model.discount == [0.1, 0.5, 0.9][int(np.argmin(scores))]


# Skip-gram pairs, subsampling, negatives


def test_skipgram_pairs_stay_inside_the_window_and_the_sequence():
    rng = np.random.default_rng(0)
    sequences = [np.arange(10, 20), np.arange(30, 36)]
    centers, contexts = wv.skipgram_pairs(sequences, window=3, keep=np.ones(40), rng=rng)
    distance = np.abs(centers - contexts)
    assert 1 <= distance.min() and distance.max() <= 3 and np.all((centers < 30) == (contexts < 30))
    # Window 1: every neighbour, both ways.
    centers, contexts = wv.skipgram_pairs([np.array([2, 3, 4])], window=1, keep=np.ones(5), rng=rng)
    assert sorted(zip(centers.tolist(), contexts.tolist())) == [(2, 3), (3, 2), (3, 4), (4, 3)]
    # Random windows: a neighbour pairs every time, a word 3 places away a third of the time.
    centers, contexts = wv.skipgram_pairs([np.arange(2, 1002)] * 20, window=3, keep=np.ones(1002), rng=rng)
    near, far = np.sum(contexts - centers == 1), np.sum(contexts - centers == 3)
    assert near == 20 * 999 and far / near == pytest.approx(1 / 3, abs=0.03)


def test_subsampling_keeps_rare_words_and_thins_frequent_ones():
    counts = np.array([0, 0, 9_000, 1_000, 10, 1], dtype=float)  # 10 011 tokens
    keep = wv.keep_probability(counts, threshold=1e-3)
    assert keep[4] == keep[5] == 1.0 and keep[2] == pytest.approx(math.sqrt(1e-3 / (9_000 / 10_011)))
    ids = np.repeat(np.arange(2, 6), [9_000, 1_000, 10, 1])
    kept = np.concatenate(wv.subsample([ids[:5_000], ids[5_000:]], keep, np.random.default_rng(1)))
    survived = np.bincount(kept, minlength=6)
    assert survived[4] == 10 and survived[5] == 1  # the rare words always survive
    assert survived[2] / 9_000 == pytest.approx(keep[2], abs=0.01) and survived[3] / 1_000 == pytest.approx(keep[3], abs=0.05)
    assert np.all(np.diff(np.flatnonzero(np.isin(ids, kept))) > 0)
    keep[4] = 0.0  # an id that must never pair (padding, <unk>)
    centers, contexts = wv.skipgram_pairs([ids], window=2, keep=keep, rng=np.random.default_rng(2))
    assert 4 not in centers and 4 not in contexts and 5 in centers


def test_negatives_follow_counts_to_the_power_three_quarters():
    counts = np.array([0, 0, 10_000, 1_000, 100, 10], dtype=float)
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    assert wv.negative_distribution(counts) == pytest.approx(expected)
    batches = wv.SkipgramBatches([np.array([2, 3, 4, 5, 2, 3, 2] * 50)], counts, window=2, negatives=20,
                                 subsample=1.0, batch_size=64, seed=0)
    (centers, candidates), labels = batches[0]
    assert centers.shape == (64,) and candidates.shape == (64, 21) and labels.shape == (64, 21)
    assert labels[:, 0].tolist() == [1] * 64 and labels[:, 1:].sum() == 0
    drawn = np.bincount(batches.candidates[:, 1:].ravel(), minlength=6) / batches.candidates[:, 1:].size
    assert drawn[:2].sum() == 0 and drawn == pytest.approx(expected, abs=0.01)
    length = len(batches)
    batches.on_epoch_end()
    assert len(batches) == length and batches[length - 1][0][1].shape == (64, 21)


# Group AUC


def test_group_auc_perfect_reversed_and_ties():
    groups = {"a": ["宝玉", "黛玉"], "b": ["袭人", "晴雯"]}
    perfect = wv.WordVectors(["宝玉", "黛玉", "袭人", "晴雯"], [[1, 0], [1, 0.1], [0, 1], [0.1, 1]], [1] * 4)
    assert wv.group_auc(perfect, groups) == 1.0
    reversed_ = wv.WordVectors(["宝玉", "黛玉", "袭人", "晴雯"], [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]], [1] * 4)
    assert wv.group_auc(reversed_, groups) == 0.0
    same = wv.WordVectors(["宝玉", "黛玉", "袭人", "晴雯"], [[1, 0]] * 4, [1] * 4)
    assert wv.group_auc(same, groups) == 0.5
    assert wv.group_auc(perfect, {**groups, "c": ["怡红院"]}) == 1.0  # words without vectors are left out


def test_groups_split_into_a_tuning_and_a_reporting_half():
    groups = {"young": ["宝玉", "黛玉", "宝钗"], "places": ["怡红院", "潇湘馆"]}
    tuning, reporting = wv.split_groups(groups)
    assert tuning == {"young": ["宝玉", "宝钗"], "places": ["怡红院"]}
    assert reporting == {"young": ["黛玉"], "places": ["潇湘馆"]}
    assert wv.people_groups(groups) == {"young": ["宝玉", "黛玉", "宝钗"]}
    tuning, reporting = wv.split_groups(wv.load_groups())
    assert set(tuning) == set(reporting) == set(wv.load_groups()) and min(map(len, reporting.values())) >= 4
    assert not {w for ws in tuning.values() for w in ws} & {w for ws in reporting.values() for w in ws}


def test_cooccurrence_counts_and_ppmi_by_hand():
    counts = count_vectors.cooccurrence_counts([np.array([2, 3, 2, 1, 4])], vocab_size=5, window=2)
    # Pairs at distance 1 or 2: (2,3) (3,2) (2,1) (1,4) and (2,2) (3,1) (2,4); <unk> (1) left out.
    expected = np.zeros((5, 5))
    for a, b in ((2, 3), (3, 2), (2, 2), (2, 4)):
        expected[a, b] += 1
        expected[b, a] += 1
    np.testing.assert_array_equal(counts.toarray(), expected)
    positive = count_vectors.ppmi(counts, smoothing=1.0).toarray()
    total = expected.sum()
    pmi = np.log(expected[2, 3] * total / (expected[2].sum() * expected[:, 3].sum()))
    assert positive[2, 3] == pytest.approx(max(pmi, 0)) and np.all(positive >= 0) and positive[0].sum() == 0


def test_count_vectors_separate_the_two_households_of_the_toy_corpus():
    paragraphs = [(1, words) for words in TOY]
    vocab = wv.novel_vocabulary(paragraphs, min_count=2)
    groups = {"masters": ["宝玉", "黛玉", "宝钗"], "maids": ["袭人", "晴雯", "麝月"]}
    for weighting, dim in (("counts", None), ("ppmi", None), ("ppmi", 3)):
        vectors = count_vectors.count_vectors(paragraphs, vocab, window=2, weighting=weighting, dim=dim,
                                              words=["宝玉", "黛玉", "宝钗", "袭人", "晴雯", "麝月", "无"])
        assert len(vectors) == 6 and vectors.vectors.shape[1] == (dim or len(vocab))
        assert wv.group_auc(vectors, groups) == 1.0
    with pytest.raises(ValueError, match="weighting"):
        count_vectors.count_vectors(paragraphs, vocab, window=2, weighting="tfidf")


def test_groups_file_names_people_and_places_of_the_novel(real_data):
    groups = wv.load_groups()
    assert set(groups) == {"young", "elders", "maids", "servants", "places"}
    words = [w for members in groups.values() for w in members]
    assert len(words) == len(set(words)) and min(map(len, groups.values())) >= 9
    names = {word for word, _, _ in chinese.names_dictionary()}
    assert [w for w in words if w not in names and w not in {"老太太", "太太", "老爷"}] == []
    novel = corpora.load_novel()
    assert [w for w in words if novel.count(w) < 15] == []


# WordVectors and the cache


def test_word_vectors_lookups():
    vectors = toy_vectors()
    assert len(vectors) == 5 and "宝玉" in vectors and "贾母" not in vectors
    assert np.linalg.norm(vectors.vectors, axis=1) == pytest.approx(np.ones(5))
    neighbours = vectors.most_similar("宝玉", k=2)
    assert [w for w, _ in neighbours] == ["黛玉", "宝钗"] and neighbours[0][1] == pytest.approx(0.9 / math.hypot(0.9, 0.1))
    assert vectors.similarity("宝玉", "袭人") == pytest.approx(0.0) and vectors.similarity("宝玉", "宝玉") == pytest.approx(1)
    assert vectors.analogy("宝玉", "黛玉", "宝钗", k=1)[0][0] in vectors and vectors.rank("玉钏", "宝玉", "黛玉", "宝钗") >= 1


def test_unknown_words_are_one_clear_error_with_suggestions():
    vectors = toy_vectors()
    with pytest.raises(ValueError, match=r"'宝黛' is not among the 5 words.*first\): 宝玉, 黛玉, 宝钗$"):
        vectors.most_similar("宝黛")
    with pytest.raises(ValueError, match=r"first\): 宝钗, 宝玉$"):  # 宝钗 shares two characters
        vectors.most_similar("钗宝")
    with pytest.raises(ValueError, match="no known word shares its characters"):
        vectors.similarity("宝玉", "贾母")
    with pytest.raises(ValueError, match="'abc' is not a Chinese word.*e.g. 宝玉, 袭人"):
        vectors.most_similar("abc")
    with pytest.raises(ValueError, match="no word given"):
        vectors.most_similar(" ")


def test_save_and_load_round_trip(tmp_path):
    vectors = toy_vectors()
    loaded = wv.WordVectors.load(vectors.save(tmp_path / "v.npz"))
    assert loaded.tokens == vectors.tokens and loaded.vectors == pytest.approx(vectors.vectors, abs=1e-6)
    assert loaded.counts.tolist() == vectors.counts.tolist() and [p.name for p in tmp_path.iterdir()] == ["v.npz"]


_train_skipgram = wv.train_skipgram
_novel_vocabulary = wv.novel_vocabulary


def toy_vocabulary(paragraphs=None, min_count=5):
    """The vocabulary of TOY where the app would look at the whole novel's (no novel to segment)."""
    return _novel_vocabulary(paragraphs or [(1, words) for words in TOY], 2)


def tiny_training():
    """SGNS on TOY: 10 words (12 ids with <pad> and <unk>), 8 dimensions, one epoch."""
    settings = {**wv.recipe(), "dim": 8, "epochs": 1, "batch_size": 64, "min_count": 2, "subsample": 1.0}
    return _train_skipgram([(1, words) for words in TOY], settings, verbose=0)


def test_sweep_scores_each_change_of_the_recipe(fast_mode, monkeypatch):
    trained = []

    def train(paragraphs, settings, verbose=0):
        trained.append(settings)
        return tiny_training()

    monkeypatch.setattr(wv, "train_skipgram", train)
    groups = {"masters": ["宝玉", "黛玉", "宝钗"], "maids": ["袭人", "晴雯", "麝月"], "places": ["笑", "道"]}
    rows = wv.sweep([{"window": 2}, {"window": 5, "subsample": 1e-2}], groups, paragraphs=[(1, TOY[0])])
    assert [(s["window"], s["subsample"]) for s in trained] == [(2, wv.recipe()["subsample"]), (5, 1e-2)]
    assert [sorted(row) for row in rows] == [["group_auc", "people_auc", "window"],
                                              ["group_auc", "people_auc", "subsample", "window"]]
    assert all(0 <= row["group_auc"] <= 1 and 0 <= row["people_auc"] <= 1 for row in rows)


def test_the_cache_entry_is_keyed_by_mode_and_recipe(fast_mode, monkeypatch):
    entry = cache.entry_for(wv.VECTORS)
    assert entry.id.startswith("word_vectors/fast-") and cache.entry_for(wv.VECTORS, mode="full").key != entry.key
    monkeypatch.setattr(wv, "recipe", lambda mode=None: {"epochs": 99})
    assert cache.entry_for(wv.VECTORS).key != entry.key


def test_the_app_trains_once_then_loads(fast_mode, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(wv, "train_skipgram", lambda *args, **kwargs: calls.append(1) or tiny_training())
    monkeypatch.setattr(wv, "novel_vocabulary", toy_vocabulary)
    first = apps.similar("宝玉", top=3)
    assert "no cached word vectors" in capsys.readouterr().err and cache.entry_for(wv.VECTORS).exists()
    second = apps.similar("宝玉", top=3)
    assert calls == [1] and [w for w, _ in first] == [w for w, _ in second] and len(first) == 3
    assert [c for _, c in first] == pytest.approx([c for _, c in second], abs=1e-5)


def test_cli_similar_prints_neighbours_and_rejects_unknown_words(fast_mode, capsys):
    vectors, model, history = tiny_training()
    assert model.count_params() == 2 * 12 * 8 and len(history.history["loss"]) == 1
    cache.save(wv.VECTORS, vectors)
    assert cli.main(["similar", "宝玉", "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.split()[0] in vectors and -1 <= float(line.split()[1]) <= 1 for line in lines)
    assert lines[0].split()[0] == vectors.most_similar("宝玉", 1)[0][0]
    for argv, message in ((["similar", "宝黛"], "'宝黛' is not among the 10 words of the vectors"),
                          (["similar", "宝玉", "--top", "0"], "top must be between 1 and 100, got 0"),
                          (["similar", " 宝玉"], "word must be one word of the novel")):
        assert cli.main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.startswith(f"dlbook: error: {message}")
        assert len(captured.err.splitlines()) == 1


def test_cli_similar_trains_first_with_progress_off_stdout(fast_mode, monkeypatch, capsys):
    def training(*args, **kwargs):
        print("Epoch 1/1")  # what Keras prints while it trains
        return tiny_training()

    monkeypatch.setattr(wv, "train_skipgram", training)
    monkeypatch.setattr(wv, "novel_vocabulary", toy_vocabulary)
    assert cli.main(["similar", "袭人", "--top", "2"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2 and "Epoch" not in captured.out
    assert "no cached word vectors" in captured.err and "Epoch 1/1" in captured.err


def test_the_app_checks_the_word_before_training(fast_mode, monkeypatch):
    monkeypatch.setattr(wv, "train_skipgram", lambda *args, **kwargs: pytest.fail("no training for an unknown word"))
    monkeypatch.setattr(wv, "novel_vocabulary", toy_vocabulary)
    with pytest.raises(apps.InvalidInput, match="'宝黛' is not among the words"):
        apps.similar("宝黛")


# Chinese glyphs in chapter 09's figures


def test_the_chinese_font_covers_every_group_word():
    from dlbook import plotting

    name = plotting.use_chinese_font()
    path = font_manager.findfont(font_manager.FontProperties(family=[name]), fallback_to_default=False)
    characters = {ch for members in wv.load_groups().values() for w in members for ch in w}
    charmap = FT2Font(path).get_charmap()
    assert sorted(ch for ch in characters if ord(ch) not in charmap) == []
    fig, ax = plt.subplots()
    for i, (group, members) in enumerate(wv.load_groups().items()):
        ax.text(0, i, " ".join(members))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would fail here
        fig.canvas.draw()
    plt.close(fig)
