"""Chapters 11 and 13's shared translation tools: tokens, the grouped split, batches, BLEU, the loss."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dlbook.translation import bleu, datasets, losses
from dlbook.translation.datasets import Pair


def test_english_tokens_split_punctuation_and_detokenize_undoes_it():
    tokens = datasets.english_tokens("Don't go, Tom! It's 3.5 km (really).")
    assert tokens == ["don't", "go", ",", "tom", "!", "it's", "3.5", "km", "(", "really", ")", "."]
    assert datasets.detokenize(tokens) == "don't go, tom! it's 3.5 km (really)."
    assert datasets.detokenize(datasets.english_tokens('He said "hi" to me.')) == 'he said "hi" to me.'
    assert datasets.detokenize([]) == ""


def test_chinese_tokens_are_simplified_characters_without_spaces():
    assert datasets.to_simplified("我們走吧。紅樓夢") == "我们走吧。红楼梦"
    assert datasets.chinese_tokens("紅 色！ＡＢ") == ["红", "色", "!", "A", "B"]  # full-width Latin → ASCII (NFKC)


def _pairs(groups: int, per_group) -> list[Pair]:
    return [Pair(f"中文{g}-{k}", f"english {g}") for g in range(groups) for k in range(per_group(g))]


def _disjoint(split: datasets.Split, key) -> bool:
    parts = [{key(p) for p in part} for part in (split.train, split.validation, split.test)]
    return not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_split_keeps_every_english_sentence_in_one_part():
    pairs = _pairs(300, lambda g: 1 + g % 3)
    split = datasets.split_pairs(pairs, test=50, validation=40, seed=1)
    parts = [split.train, split.validation, split.test]
    assert _disjoint(split, lambda p: p.english)
    assert sorted(map(repr, pairs)) == sorted(repr(p) for part in parts for p in part)  # nothing lost or repeated
    assert 50 <= len(split.test) < 53 and 40 <= len(split.validation) < 43
    assert datasets.split_pairs(pairs, test=50, validation=40, seed=1) == split  # fixed by its seed


def test_groups_join_pairs_that_share_a_normalised_sentence_on_either_side():
    pairs = [Pair("我們走吧。", "Let's go."), Pair("我们走吧。", "Let us go."),  # one source after t2s
             Pair("走吧！", "Let us go!"), Pair("走 吧！", "Let's leave."),   # spaces are not read
             Pair("我很好。", "I'm fine."), Pair("我没事。", "i'm FINE."),    # nor is case
             Pair("你好。", "Hello.")]
    groups = datasets.connected_groups(pairs)
    assert [[pairs.index(p) for p in g] for g in groups] == [[0, 1], [2, 3], [4, 5], [6]]


def test_split_keeps_sources_and_targets_as_read_in_one_part():
    rng = np.random.default_rng(0)
    chinese, english = [f"句{i}。" for i in range(150)], [f"Sentence {i}." for i in range(150)]
    pairs = [Pair(chinese[rng.integers(150)], english[rng.integers(150)]) for _ in range(400)]
    pairs += [Pair(datasets.to_simplified(p.chinese).replace("。", " 。"), p.english.upper()) for p in pairs[:50]]
    split = datasets.split_pairs(pairs, test=40, validation=40, seed=3)
    assert _disjoint(split, lambda p: datasets.source_key(p.chinese))
    assert _disjoint(split, lambda p: datasets.target_key(p.english))
    assert sorted(map(repr, pairs)) == sorted(repr(p) for part in (split.train, split.validation, split.test) for p in part)


def test_the_real_split_sizes_and_no_sentence_in_two_parts(real_data):
    pairs = datasets.load_pairs()
    split = datasets.split_pairs(pairs)
    assert len(pairs) == 21116 and (len(split.train), len(split.validation), len(split.test)) == (19116, 1000, 1000)
    # The model reads t2s + NFKC characters without spaces and lowercased, tokenised English: no such
    # source and no such target is in two parts (grouping by the raw English string left 82 test
    # pairs whose normalised Chinese sentence was also in training).
    assert _disjoint(split, lambda p: datasets.source_key(p.chinese))
    assert _disjoint(split, lambda p: datasets.target_key(p.english))


def _data(n: int = 40) -> datasets.TranslationData:
    rng = np.random.default_rng(0)
    words = ["i", "like", "tea", "you", "want", "rice", "."]
    pairs = [Pair("".join(rng.choice(list("我喜欢茶你要饭"), rng.integers(1, 12))),
                  " ".join(rng.choice(words, rng.integers(1, 10)))) for _ in range(n)]
    return datasets.TranslationData.build(datasets.Split(pairs, pairs[:5], pairs[:5]), min_count=1)


def test_target_ids_are_framed_by_start_and_end():
    data = _data()
    ids = data.target_ids("train")[0]
    assert ids[0] == datasets.TargetVocabulary.START and ids[-1] == datasets.TargetVocabulary.END
    assert data.target_vocab.decode(ids[1:-1]) == data.target_tokens["train"][0]
    assert data.target_vocab.tokens[:4] == ["<pad>", "<unk>", "<s>", "</s>"]


def test_pair_batches_pad_to_multiples_of_the_step_and_weigh_only_real_tokens():
    step = datasets.PairBatches.step()
    assert step == (8 if keras.backend.backend() == "jax" else 4)
    data = _data(100)
    batches = data.batches("train", batch_size=16, seed=3)
    seen = 0
    widths = set()
    for i in range(len(batches)):
        (source, target_in), target_out, weights = batches[i]
        assert source.shape[1] % step == 0 and target_in.shape[1] % step == 0
        assert target_in.shape == target_out.shape == weights.shape
        np.testing.assert_array_equal(target_in[:, 1:], target_out[:, :-1])  # shifted by one word
        assert (target_in[:, 0] == datasets.TargetVocabulary.START).all()
        real = weights.any(axis=1)
        np.testing.assert_array_equal(weights[real], target_out[real] != 0)
        assert ((target_out == datasets.TargetVocabulary.END).sum(axis=1) == 1).all()  # every sentence ends
        assert len(source) == 16  # the short last batch is filled with copies weighted 0
        seen += real.sum()
        widths.add((source.shape[1], target_in.shape[1]))
    assert seen == 100 and len(widths) > 1
    first, second = batches[0], batches[1]
    assert first[0][0].shape[1] != second[0][0].shape[1] and first[1].shape[1] != second[1].shape[1]


def test_bleu_on_known_cases():
    assert bleu.bleu(["the cat sat on the mat."], ["The cat sat on the mat."]) == pytest.approx(100)
    assert bleu.bleu(["dogs bark loudly"], ["the cat sat on the mat."]) == 0
    # 13a splits the period off, so a sentence with and without its space scores the same.
    assert bleu.bleu(["it is good ."], ["it is good."]) == pytest.approx(100)
    assert 0 < bleu.bleu(["the cat sat on a mat."], ["the cat sat on the mat."]) < 100
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        bleu.bleu(["a", "b"], ["a"])
    assert bleu.sentence_bleu("the cat sat on the mat.", "the cat sat on the mat.") == pytest.approx(100)


def test_smoothed_crossentropy_by_hand():
    probabilities = np.array([[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]], "float32")
    targets = np.array([[0, 2]])
    plain = keras.ops.convert_to_numpy(losses.SmoothedSparseCrossentropy(0.0)(targets, probabilities))
    assert plain == pytest.approx(-(np.log(0.7) + np.log(0.8)) / 2, rel=1e-5)
    every_id = losses.SmoothedSparseCrossentropy(0.3, excluded=())
    smoothed = keras.ops.convert_to_numpy(every_id(targets, probabilities))
    by_hand = [0.7 * -np.log(p[t]) + 0.3 * -np.log(p).mean() for p, t in zip(probabilities[0], targets[0])]
    assert smoothed == pytest.approx(np.mean(by_hand), rel=1e-5)
    restored = losses.SmoothedSparseCrossentropy.from_config(losses.SmoothedSparseCrossentropy(0.2).get_config())
    assert restored.epsilon == 0.2 and restored.excluded == losses.NOT_WORDS


def test_bleu_signature_says_lowercase_13a_one_reference():
    assert bleu.signature().startswith("nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|version:")


def test_batches_can_pair_each_target_with_another_source():
    pairs = [Pair("好" * (1 + i % 7) + str(i), f"word {i} .") for i in range(30)]
    data = datasets.TranslationData.build(datasets.Split(pairs, pairs, pairs), min_count=1)
    order = np.roll(np.arange(30), 1)
    (source, target_in), _, _ = data.batches("train", 30, shuffle=False, source_order=order)[0]
    number = {data.target_vocab.encode([str(i)])[0]: i for i in range(30)}
    for row in range(30):
        i = number[target_in[row, 2]]  # "<s> word i ..." is target i
        np.testing.assert_array_equal(source[row][source[row] != 0], data.source_ids("train")[order[i]])


def test_the_loss_is_per_real_token_and_smooths_over_words_only():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(6), size=(2, 3)).astype("float32")
    targets = np.array([[4, 3, 0], [5, 0, 0]])
    weights = (targets != 0).astype("float32")
    loss = losses.SmoothedSparseCrossentropy(0.2)
    log_p = np.log(probabilities)
    words = [3, 4, 5]  # not <pad>, <unk> or <s>
    per_token = [0.8 * -log_p[b, t, targets[b, t]] - 0.2 * log_p[b, t, words].mean()
                 for b in range(2) for t in range(3) if targets[b, t]]
    value = float(keras.ops.convert_to_numpy(loss(targets, probabilities, sample_weight=weights)))
    assert value == pytest.approx(np.mean(per_token), rel=1e-5)  # the mean over the 3 real tokens
    more_padding = np.concatenate([probabilities, probabilities[:, :1]], axis=1)
    padded_targets, padded_weights = np.pad(targets, ((0, 0), (0, 1))), np.pad(weights, ((0, 0), (0, 1)))
    again = float(keras.ops.convert_to_numpy(loss(padded_targets, more_padding, sample_weight=padded_weights)))
    assert again == pytest.approx(value, rel=1e-5)  # padding changes nothing
