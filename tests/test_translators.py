"""The translation app: recipes, the model cache, `dlbook translate` on awkward input."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

import dlbook
from dlbook import apps, cache, cli
from dlbook.translation import bleu, recipes

TINY_RNN = dict(kind="rnn", attention="additive", train_size=300, embedding=8, units=8, dropout=0.0, batch_size=64,
                learning_rate=3e-3, warmup=2, epochs=1, patience=1, label_smoothing=0.1, beam=2)
TINY_TRANSFORMER = dict(kind="transformer", train_size=300, depth=8, heads=2, hidden=16, blocks=1, dropout=0.0,
                        positions="sinusoidal", batch_size=64, learning_rate=3e-3, warmup=5, epochs=1, patience=1,
                        label_smoothing=0.1, beam=2)
TINY = {"rnn": TINY_RNN, "transformer": TINY_TRANSFORMER}


@pytest.fixture
def tiny_recipe(real_data, monkeypatch):
    """Fast mode, an empty model cache, and a recipe that trains in seconds on 300 pairs."""
    dlbook.setup(mode="fast", verbose=False)
    monkeypatch.setattr(recipes, "recipe", lambda kind, mode=None: dict(TINY[kind]))
    return real_data


def test_recipes_name_their_kind_and_reject_others():
    for kind in recipes.KINDS:
        assert recipes.recipe(kind)["kind"] == kind
    with pytest.raises(ValueError, match="unknown translator 'lstm'"):
        recipes.recipe("lstm")


def test_the_cache_entry_follows_the_recipe(tiny_recipe, monkeypatch):
    entry = cache.entry_for(recipes.cached_translator("rnn"))
    assert entry.id.startswith("translator_rnn/fast-")
    monkeypatch.setattr(recipes, "recipe", lambda kind, mode=None: {**TINY_RNN, "units": 16})
    assert cache.entry_for(recipes.cached_translator("rnn")) != entry
    with pytest.raises(ValueError, match="unknown translator 'gpt'"):
        recipes.cached_translator("gpt")


@pytest.mark.parametrize("kind", recipes.KINDS)
def test_the_app_trains_once_then_loads_and_always_answers_a_line(kind, tiny_recipe, monkeypatch, tmp_path, capsys):
    odd = ["我们走吧。", "", "   ", "他" * 500, "ñ☃😀", "hello"]
    first = apps.translate(odd, model=kind, beam=2)
    folder = cache.entry_for(recipes.cached_translator(kind)).folder
    assert set(json.loads((folder / "vocabularies.json").read_text("utf-8"))) == {"source", "target"}
    assert len(first) == len(odd) and all(isinstance(t, str) and "\n" not in t for t in first)
    assert first[1] == first[2] == ""  # nothing to translate

    monkeypatch.setattr(recipes, "train_translator", lambda *a, **k: pytest.fail("the cached model should load"))
    assert apps.translate(odd, model=kind, beam=2) == first

    sentences = tmp_path / "sentences.txt"
    sentences.write_text("\n".join(odd) + "\n", encoding="utf-8")
    assert cli.main(["translate", "--file", str(sentences), "--model", kind, "--beam", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == first  # exactly one line per input line, nothing else
    assert cli.main(["translate", "我们走吧。", "--model", kind, "--beam", "2"]) == 0
    assert capsys.readouterr().out == f"我们走吧。\t{first[0]}\n"


def test_cli_translate_bad_input_is_a_one_line_error(tmp_path, capsys):
    binary = tmp_path / "latin1.txt"
    binary.write_bytes("très bien\n".encode("latin-1"))
    for argv, message in ((["translate", "--file", str(tmp_path / "missing.txt")], "no such file"),
                          (["translate", "--file", str(binary)], "not UTF-8"),
                          (["translate", "--file", str(tmp_path)], "is a folder"),
                          (["translate"], "give sentences on the command line"),
                          (["translate", "好", "--file", str(binary)], "not both"),
                          (["translate", "好", "--beam", "0"], "beam must be between 1 and 20, got 0"),
                          (["translate", "好", "--beam", "99"], "beam must be between 1 and 20, got 99")):
        assert cli.main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and message in captured.err and len(captured.err.strip().splitlines()) == 1
    with pytest.raises(apps.InvalidInput, match="model must be one of rnn, transformer, got 'gpt'"):
        apps.translate(["好"], model="gpt")
    keras.backend.clear_session()


def test_best_and_worst_rank_test_translations_by_sentence_bleu(capsys):
    from dlbook.translation.datasets import Pair, Split, TranslationData

    test = [Pair("我们走吧。", "Let's go."), Pair("我不知道。", "I don't know."), Pair("好。", "Good.")]
    data = TranslationData.build(Split(train=test, validation=test, test=test))
    hypotheses = ["let's go.", "i don't know it.", "bad"]
    ranked = recipes.best_and_worst(data, hypotheses, count=1)
    assert ranked == {"best": [("我们走吧。", "let's go.", "Let's go.")], "worst": [("好。", "bad", "Good.")]}
    recipes.show_best_and_worst(data, hypotheses, count=1)
    assert capsys.readouterr().out.splitlines() == ["--- best", "我们走吧。", "   model: let's go.", "   truth: Let's go.",
                                                    "--- worst", "好。", "   model: bad", "   truth: Good."]


def test_derangement_moves_every_index():
    for count in (2, 3, 10, 1000):
        order = recipes.derangement(count, seed=count)
        assert sorted(order) == list(range(count)) and (order != np.arange(count)).all()
    np.testing.assert_array_equal(recipes.derangement(50, seed=1), recipes.derangement(50, seed=1))


def _tiny_data():
    from dlbook.translation.datasets import Pair, Split, TranslationData

    pairs = [Pair(c, e) for c, e in (("我们走吧。", "Let's go."), ("我不知道。", "I don't know."), ("好。", "Good."),
                                      ("我不知道。", "I don't know."), ("谢谢。", "Thanks."))]
    return TranslationData.build(Split(train=pairs, validation=pairs[:3], test=pairs[:3]))


def test_baselines_catch_a_model_that_ignores_its_input():
    data = _tiny_data()
    assert recipes.constant_translation(data) == "i don't know."
    right = ["let's go.", "i don't know.", "good."]
    scores = recipes.baselines(right, data)
    assert scores["constant translation"] == pytest.approx(bleu.bleu(["i don't know."] * 3, recipes.references(data)))
    assert scores["shuffled sources"] < 20 and bleu.bleu(right, recipes.references(data)) == pytest.approx(100)
    same = ["i don't know."] * 3  # the same answer whatever the input: shuffling costs it nothing
    assert recipes.shuffled_source_bleu(same, data) == pytest.approx(bleu.bleu(same, recipes.references(data)))


def test_learning_rate_warms_up_then_decays_to_zero():
    schedule = recipes.learning_rate({"learning_rate": 1e-3, "warmup": 10}, steps=110)
    rates = [float(keras.ops.convert_to_numpy(schedule(step))) for step in (0, 5, 10, 60, 110)]
    assert rates[0] == 0 and rates[1] == pytest.approx(5e-4) and rates[2] == pytest.approx(1e-3)
    assert rates[3] == pytest.approx(5e-4, rel=1e-3) and rates[4] == pytest.approx(0, abs=1e-9)
    short = recipes.learning_rate({"learning_rate": 1e-3, "warmup": 500}, steps=40)  # warm-up at most half
    assert float(keras.ops.convert_to_numpy(short(20))) == pytest.approx(1e-3)


def test_validation_scores_are_per_token_and_shuffle_sources_on_request():
    dlbook.setup(mode="fast", verbose=False)
    data = _tiny_data()
    model = recipes.build(data, TINY_RNN)
    recipes.compile_translator(model, TINY_RNN)
    plain = recipes.validation_scores(model, data)
    assert set(plain) == {"loss", "accuracy", "nll"} and 0 <= plain["accuracy"] <= 1
    assert plain["nll"] == pytest.approx(np.log(len(data.target_vocab)), rel=0.05)  # untrained: about uniform
    shuffled = recipes.validation_scores(model, data, shuffled_sources=True)
    assert shuffled["nll"] != plain["nll"]


def test_recorded_test_bleu_reads_one_setting_by_seed(isolated):
    import dataclasses

    config = dlbook.setup(mode="fast", seed=1, verbose=False)
    assert recipes.recorded_test_bleu(11, config) == {}
    dlbook.record_result(11, "test_bleu", 3.0, target=None)
    dlbook.setup(mode="fast", seed=2, verbose=False)
    dlbook.record_result(11, "test_bleu", 5.0, target=None)
    dlbook.record_result(11, "attention_gain", 9.0, target=None)
    dlbook.record_result(13, "test_bleu", 7.0, target=None)
    assert recipes.recorded_test_bleu(11, config) == {1: 3.0, 2: 5.0}
    assert recipes.recorded_test_bleu(13, config) == {2: 7.0}
    assert recipes.recorded_test_bleu(11, dataclasses.replace(config, mode="full")) == {}
    assert recipes.recorded_test_bleu(11, dataclasses.replace(config, precision="mixed_bfloat16")) == {}
