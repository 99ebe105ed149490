"""Chapter 04's sentiment tools: features, the book's split, the layers, naive Bayes, the app."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import dlbook
from dlbook import apps, cache, cli
from dlbook.text import chinese, sentiment
from dlbook.text.vocabulary import Vocabulary

POSITIVE = ["这个手机太好用了", "质量很好，很满意", "非常好，推荐购买", "物流很快，好评", "不错，值得买"]
NEGATIVE = ["质量太差了，退货", "很差，不推荐", "垃圾产品，差评", "物流太慢，很失望", "不好用，后悔买了"]


def test_ngram_features_are_words_word_pairs_and_character_pairs():
    assert sentiment.ngram_features(["不", "好用"]) == ["不", "好用", "不_好用", "c:不好", "c:好用"]
    assert sentiment.ngram_features(["好"]) == ["好"]
    assert sentiment.ngram_features([]) == ["<unk>"]  # no review without a feature (a masked mean of nothing is NaN)


def test_review_words_drops_punctuation_and_whitespace():
    words = sentiment.review_words(["很好！！ 很满意。", "？？", ""])
    assert "".join(words[0]) == "很好很满意" and "满意" in words[0] and words[1:] == [[], []]


def test_the_book_split_leaks_repeated_reviews_and_the_share_is_measured():
    texts = ["好评"] * 30 + [f"评论{i}" for i in range(70)] + ["", "  "]
    labels = np.ones(len(texts), int)
    parts = sentiment.book_split(texts, labels, seed=0)
    assert [len(p[0]) for p in parts] == [80, 10, 10]  # empty lines dropped, 100 kept
    assert all(t.strip() for p in parts for t in p[0])
    assert sentiment.overlap_share(parts[0][0], parts[2][0]) == np.mean([t == "好评" for t in parts[2][0]]) > 0
    assert sentiment.overlap_share(["a", "b "], ["b", "c", "d", "a"]) == 0.5
    assert sentiment.overlap_share(["a"], []) == 0.0
    # Compared as the model reads them: without punctuation and spaces.
    assert sentiment.overlap_share(["穿着舒服，大小合适"], ["穿着舒服，大小合适！！", "穿着 舒服 大小 合适", "不合适"]) == 2 / 3


def test_review_words_segments_a_corpus_once_per_process(isolated, monkeypatch):
    calls = []
    segment_corpus = sentiment.chinese.segment_corpus
    monkeypatch.setattr(sentiment.chinese, "segment_corpus", lambda lines, name: calls.append(list(lines))
                        or segment_corpus(lines, name))
    monkeypatch.setattr(sentiment, "_SEGMENTED", {})
    corpus = ["很好！！ 很满意。", "太差了", "还行吧"]
    words = sentiment.review_words(corpus, "toy")
    assert sentiment.review_words(corpus[::-1], "toy") == words[::-1]  # a subset or reordering: from memory
    words[0].append("changed")  # callers get copies
    assert sentiment.review_words(["新的评论", "太差了"], "toy")[1] == words[1]
    assert calls == [corpus, ["新的评论"]]  # only the new review was segmented
    assert sentiment.review_words(corpus[:1], "toy") == [["很", "好", "很", "满意"]]


def test_normalized_reviews_are_the_words_without_punctuation_and_spaces():
    assert sentiment.normalized_reviews(["穿着舒服，大小合适！！", " 穿着舒服 大小合适", "！！！", ""]) == \
        ["穿着舒服大小合适", "穿着舒服大小合适", "", ""]


def test_review_split_drops_copies_that_differ_only_in_punctuation():
    texts = ["很好！！", "很好", "很好。", "太差了", "太差了！", "很好…", "一般吧", "！！！"]
    labels = [1, 1, 1, 0, 0, 0, 1, 1]
    split = sentiment.review_split(texts, labels, seed=0, fractions=(0.5, 0.0, 0.5), cache_name=None)
    assert (split.n_empty, split.n_duplicate, split.n_conflicting) == (1, 4, 1)  # 很好 came with both labels
    assert sorted(split.x_train + split.x_test) == ["一般吧", "太差了"]


def test_no_normalised_jd_review_is_in_two_splits(real_data):
    """Chapter 04's split on the real data, for each seed of its full-mode runs: no word sequence
    the model reads, nor the same characters cut into other words, is in two splits or twice in
    one, and no review kept has a copy with the other label. The book's split leaks."""
    texts, labels = sentiment.corpora.load_jd_reviews(unescape=True)
    stripped = [t.strip() for t in texts]
    words = dict(zip(stripped, sentiment.review_words(stripped, sentiment.CORPUS_CACHE)))
    labels_of: dict[str, set] = {}
    for text, label in zip(stripped, labels.tolist()):
        labels_of.setdefault("".join(words[text]), set()).add(label)
    for seed in (42, 1, 2):
        split = sentiment.jd_clean_split(seed)
        assert (split.n_read, split.n_empty, split.n_duplicate, split.n_conflicting, split.n_kept) == \
            (13165, 166, 2660, 104, 10235)
        parts = ((split.x_train, split.y_train), (split.x_val, split.y_val), (split.x_test, split.y_test))
        for normalise in (tuple, "".join):
            keys = [normalise(words[t]) for x, _ in parts for t in x]
            assert all(keys) and len(set(keys)) == len(keys)
        for x, y in parts:
            assert all(labels_of["".join(words[t])] == {label} for t, label in zip(x, y.tolist()))
            assert abs(y.mean() - split.y_train.mean()) < 0.002  # stratified
    (x_train, _), _, (x_test, _) = sentiment.book_split(texts, labels, seed=42)
    seen = {"".join(words[t]) for t in x_train}
    assert np.mean(["".join(words[t]) in seen for t in x_test]) > 0.2


def test_bag_of_words_linear_equals_a_dense_layer_on_word_frequencies():
    """The book's sentence2vec: counts divided by the review's length, times a matrix, plus a bias."""
    ids = np.array([[2, 3, 3, 5, 0, 0], [4, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]], dtype="int32")
    counts = np.zeros((3, 6))
    for row, sequence in enumerate(ids):
        for i in sequence[sequence != 0]:
            counts[row, i] += 1  # padding (id 0) is not a word
    for normalize, vectors in ((True, counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)), (False, counts)):
        layer = sentiment.BagOfWordsLinear(vocab_size=6, units=3, normalize=normalize)
        out = keras.ops.convert_to_numpy(layer(ids))
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.weights)
        np.testing.assert_allclose(out, vectors @ kernel + bias, rtol=1e-5, atol=1e-6)  # no words: the bias
    assert sentiment.BagOfWordsLinear(6, 3, normalize=False).get_config()["normalize"] is False


def test_the_book_models_output_two_class_probabilities_in_float32():
    ids = np.array([[2, 3, 0], [4, 0, 0]], dtype="int32")
    for build in (sentiment.book_bag_of_words_model, sentiment.book_rnn_model, sentiment.book_lstm_model):
        probabilities = keras.ops.convert_to_numpy(build(6)(ids))
        assert probabilities.shape == (2, 2) and probabilities.dtype == np.float32
        np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_naive_bayes_counts_tokens_per_class():
    tokens = [["好", "好"], ["好", "满意"], ["差"], ["差", "好"]]
    bayes = sentiment.NaiveBayes(alpha=1.0).fit(tokens, [1, 1, 0, 0])
    # Positive counts: 好 3, 满意 1, 差 0 (+1 each: 4, 2, 1 of 7); negative: 好 1, 满意 0, 差 2 (2, 1, 3 of 6).
    assert bayes.log_odds("好") == pytest.approx(np.log(4 / 7) - np.log(2 / 6))
    assert bayes.log_odds("差") == pytest.approx(np.log(1 / 7) - np.log(3 / 6))
    expected = 1 / (1 + np.exp(np.log(3 / 6) - np.log(1 / 7)))  # equal priors; P(差|-)/P(差|+)
    assert bayes.predict_proba([["差"]])[0] == pytest.approx(expected)
    assert bayes.predict_proba([["没见过"], []]) == pytest.approx([0.5, 0.5])  # unknown tokens: the prior
    assert bayes.log_odds("没见过") == 0.0


def test_is_chinese_word():
    assert chinese.is_chinese_word("宝玉") and chinese.is_chinese_word("㐀")
    assert not any(map(chinese.is_chinese_word, ["", "ok", "好2", "好�", "ヶ", "好，"]))


def test_vocabulary_from_tokens_round_trips():
    vocab = Vocabulary([["好", "好", "差"]])
    again = Vocabulary.from_tokens(vocab.tokens)
    assert again.tokens == vocab.tokens and list(again.encode(["差", "好", "?"])) == list(vocab.encode(["差", "好", "?"]))
    with pytest.raises(ValueError, match="start with"):
        Vocabulary.from_tokens(["好", "差"])


def tiny_classifier() -> sentiment.SentimentClassifier:
    """A classifier trained in a second on ten reviews: enough to test the plumbing."""
    keras.utils.set_random_seed(0)
    features = [sentiment.ngram_features(w) for w in sentiment.review_words(POSITIVE + NEGATIVE)]
    vocabulary = Vocabulary(features)
    classifier = sentiment.SentimentClassifier(sentiment.ngram_embedding_model(len(vocabulary), dim=8, dropout=0.0),
                                               vocabulary, max_len=50)
    classifier.model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    classifier.model.fit(classifier.encode(POSITIVE + NEGATIVE), np.array([1] * 5 + [0] * 5), epochs=60, verbose=0)
    return classifier


@pytest.fixture(scope="module")
def trained_classifier():
    return tiny_classifier()


@pytest.fixture
def cached_classifier(isolated, trained_classifier):
    """The tiny classifier, saved in an empty model cache where the app looks for chapter 04's model."""
    dlbook.setup(mode="fast", verbose=False)
    entry = cache.save(sentiment.CLASSIFIER, trained_classifier)
    assert sorted(p.name for p in entry.folder.iterdir()) == ["entry.json", "model.keras", "vocabulary.json"]
    return trained_classifier


def test_a_classifier_gives_every_text_a_probability(cached_classifier):
    odd = ["", "！！！", "hello world", "这是一个从未见过的句子"]
    probabilities = cached_classifier.predict(POSITIVE + NEGATIVE + odd)
    assert probabilities.shape == (14,) and np.all((probabilities >= 0) & (probabilities <= 1))
    assert np.all(probabilities[:5] > 0.5) and np.all(probabilities[5:10] < 0.5)  # it learned its ten reviews
    assert cached_classifier.predict([]).shape == (0,)
    with pytest.raises(TypeError, match="list"):
        cached_classifier.predict("一个字符串")


def test_the_app_uses_the_cached_classifier(cached_classifier, capsys):
    expected = cached_classifier.predict(["很好，很满意", "很差"])
    np.testing.assert_allclose(apps.sentiment(["很好，很满意", "很差"]), expected, rtol=1e-5)
    assert "dlbook: using sentiment_classifier trained in fast mode" in capsys.readouterr().err
    assert len(apps.sentiment("很好", progress=False)) == 1 and capsys.readouterr().err == ""


def test_cli_sentiment_file_prints_exactly_one_probability_a_line(cached_classifier, tmp_path, capsys):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("很好，很满意\n\n！！！\nhello\n很差\n", encoding="utf-8")
    assert cli.main(["sentiment", "--file", str(reviews)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5 and all(0 <= float(line) <= 1 for line in out)
    assert float(out[0]) > 0.5 > float(out[4])


def test_cli_sentiment_prints_texts_with_probabilities(cached_classifier, capsys):
    assert cli.main(["sentiment", "很好，很满意", "很差"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].endswith("很好，很满意") and "positive" in lines[0] and "negative" in lines[1]


def test_cli_sentiment_bad_input_is_a_one_line_error(cached_classifier, tmp_path, capsys):
    binary = tmp_path / "latin1.txt"
    binary.write_bytes("très bien\n".encode("latin-1"))
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    for argv, message in ((["sentiment", "--file", str(tmp_path / "missing.txt")], "no such file"),
                          (["sentiment", "--file", str(binary)], "not UTF-8"),
                          (["sentiment", "--file", str(tmp_path)], "is a folder"),
                          (["sentiment", "--file", str(empty)], "is empty"),
                          (["sentiment"], "give reviews on the command line"),
                          (["sentiment", "好", "--file", str(binary)], "not both")):
        assert cli.main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and message in captured.err and len(captured.err.strip().splitlines()) == 1


def test_the_chinese_font_covers_every_character_chapter_04_plots(real_data):
    """Chapter 04 plots the JD words seen at least 20 times in training: Noto Sans SC has them all."""
    from matplotlib import font_manager, ft2font

    from dlbook import plotting

    path = font_manager.findfont(font_manager.FontProperties(family=[plotting.use_chinese_font()]),
                                 fallback_to_default=False)
    covered = set(ft2font.FT2Font(path).get_charmap())
    split = sentiment.jd_clean_split()
    vocabulary = Vocabulary(sentiment.review_words(split.x_train, sentiment.CORPUS_CACHE), min_count=20)
    characters = {c for word, _ in vocabulary.most_common() if chinese.is_chinese_word(word) for c in word}
    assert len(characters) > 300
    assert not {c for c in characters if ord(c) not in covered}


def test_masked_max_pooling_ignores_the_padding():
    x = np.array([[[1.0, -5.0], [3.0, -2.0], [9.0, 9.0]]], dtype="float32")  # the third step is padding
    mask = np.array([[True, True, False]])
    out = keras.ops.convert_to_numpy(sentiment.MaskedMaxPooling()(x, mask=mask))
    np.testing.assert_array_equal(out, [[3.0, -2.0]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(sentiment.MaskedMaxPooling()(x)), [[9.0, 9.0]])
    ids = np.array([[5, 0, 0]], dtype="int32")  # a model: the Embedding's mask reaches the pooling
    model = sentiment.ngram_embedding_model(8, dim=4, dropout=0.0)
    padded, unpadded = model.predict(ids, verbose=0), model.predict(ids[:, :1], verbose=0)
    np.testing.assert_allclose(padded, unpadded, rtol=1e-5)


def test_under_mixed_bfloat16_recurrent_layers_and_outputs_compute_in_float32():
    """The GPU path: recurrent layers in float32 (cuDNN rejects bfloat16), every output float32."""
    from dlbook.text import language_models, word_vectors

    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        ids = np.array([[2, 3, 0], [4, 0, 0]], dtype="int32")
        for build in (sentiment.book_bag_of_words_model, sentiment.book_rnn_model, sentiment.book_lstm_model):
            model = build(6)
            recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
            assert all(layer.compute_dtype == "float32" for layer in recurrent)
            assert keras.backend.standardize_dtype(model(ids).dtype) == "float32"
        assert len([layer for layer in sentiment.book_lstm_model(6).layers if isinstance(layer, keras.layers.RNN)]) == 2
        assert keras.backend.standardize_dtype(sentiment.ngram_embedding_model(6, dim=4)(ids).dtype) == "float32"
        language_model = language_models.neural_ngram_model(6, dim=4, hidden=8)
        assert keras.backend.standardize_dtype(language_model(ids[:, :2]).dtype) == "float32"
        skipgram = word_vectors.skipgram_model(6, dim=4, negatives=2)
        logits = skipgram([np.array([2, 3], "int32"), np.array([[3, 4, 5], [2, 4, 5]], "int32")])
        assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    finally:
        keras.config.set_dtype_policy("float32")
