"""The translation app: recipes, the model cache, `dlbook translate` on awkward input."""

from __future__ import annotations

import json

import keras
import pytest

import dlbook
from dlbook import apps, cache, cli
from dlbook.translation import recipes

TINY_RNN = dict(kind="rnn", attention="additive", train_size=300, embedding=8, units=8, dropout=0.0, batch_size=64,
                learning_rate=3e-3, epochs=1, patience=1, label_smoothing=0.1, beam=2)
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
