"""Chapter 11's attention layer and recurrent translators; chapter 13's attention and Transformer."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dlbook.translation import rnn, search, transformer

SOURCE = np.array([[5, 6, 7, 0, 0], [3, 4, 5, 6, 7]], "int32")


@pytest.mark.parametrize("score", rnn.SCORES)
def test_attention_gives_padding_zero_weight_and_sums_to_one(score):
    rng = np.random.default_rng(0)
    query, memory = rng.normal(size=(2, 4, 6)).astype("float32"), rng.normal(size=(2, 5, 8)).astype("float32")
    layer = rnn.Attention(score, units=3)
    context, weights = (keras.ops.convert_to_numpy(t) for t in layer(query, memory, SOURCE))
    assert context.shape == (2, 4, 8) and weights.shape == (2, 4, 5) and weights.dtype == np.float32
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert (weights[0, :, 3:] == 0).all() and (weights[0, :, :3] > 0).all()
    np.testing.assert_allclose(context, np.einsum("bts,bsd->btd", weights, memory), rtol=1e-4, atol=1e-5)
    memory[0, 3:] = 100.0  # what stands at padded positions changes nothing
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(query, memory, SOURCE)[0])[0], context[0], atol=1e-5)


def test_additive_attention_is_the_formula():
    rng = np.random.default_rng(1)
    query, memory = rng.normal(size=(1, 2, 3)).astype("float32"), rng.normal(size=(1, 4, 5)).astype("float32")
    layer = rnn.Attention("additive", units=6)
    layer(query, memory, np.ones((1, 4), "int32"))
    w1, w2, v = (keras.ops.convert_to_numpy(w) for w in (layer.w_memory, layer.w_query, layer.v))
    by_hand = np.array([[v @ np.tanh(w1.T @ h + w2.T @ s) for h in memory[0]] for s in query[0]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.scores(query, memory))[0], by_hand, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("attention", [None, "additive", "dot"])
def test_rnn_translators_predict_a_distribution_per_position_and_decode(attention):
    model = rnn.rnn_translator(10, 12, attention=attention, embedding=8, units=6)
    target = np.array([[2, 4, 5], [2, 6, 0]], "int32")
    probabilities = model.predict([SOURCE, target], verbose=0)
    assert probabilities.shape == (2, 3, 12) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    translator = search.Translator.from_model(model)
    out = search.beam_search(translator, [SOURCE[0, :3], SOURCE[1]], beam=3, max_len=4)
    assert len(out) == 2 and all(len(ids) <= 4 and 3 not in ids for ids in out)
    maps = search.attention_map(translator, SOURCE[0, :3], [4, 5])
    assert [m.shape for m in maps] == ([] if attention is None else [(3, 3)])


@pytest.mark.parametrize("attention", [None, "additive", "dot"])
def test_word_by_word_decoding_matches_the_full_decoder(attention):
    keras.utils.set_random_seed(1)
    model = rnn.rnn_translator(10, 12, attention=attention, embedding=8, units=6)
    recurrent = search.Translator.from_model(model)
    assert isinstance(recurrent, search.RecurrentTranslator)
    full = search.Translator(recurrent.encoder, recurrent.decoder, recurrent.next_word)  # re-reads the prefix
    source = np.pad(SOURCE, ((0, 0), (0, 3)))
    prefixes = np.random.default_rng(0).integers(3, 12, size=(2, 8)).astype("int32")
    prefixes[:, 0] = search.START
    by_word, whole = recurrent.start(source), full.start(source)
    for t in range(6):
        (a, by_word), (b, whole) = recurrent.step(by_word, prefixes, t), full.step(whole, prefixes, t)
        np.testing.assert_allclose(a, b, atol=1e-4)
    sources = [SOURCE[0, :3], SOURCE[1]]
    assert search.beam_search(recurrent, sources, beam=3, max_len=6) == search.beam_search(full, sources, beam=3, max_len=6)


def test_rnn_translator_is_causal_in_the_target_and_survives_saving(tmp_path):
    model = rnn.rnn_translator(10, 12, attention="additive", embedding=8, units=6)
    a, b = np.array([[2, 4, 5, 6]], "int32"), np.array([[2, 4, 9, 9]], "int32")
    pa, pb = (model.predict([SOURCE[:1], t], verbose=0) for t in (a, b))
    np.testing.assert_allclose(pa[:, :2], pb[:, :2], rtol=1e-5)  # later words do not change earlier outputs
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(loaded.predict([SOURCE[:1], a], verbose=0), pa, rtol=1e-5)


def test_scaled_dot_product_attention_masks():
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(size=(2, 5, 4)).astype("float32") for _ in range(3))
    out, weights = (keras.ops.convert_to_numpy(t) for t in transformer.scaled_dot_product_attention(q, k, v))
    scores = q @ k.transpose(0, 2, 1) / 2.0
    expected = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, rtol=1e-5)
    np.testing.assert_allclose(out, expected @ v, rtol=1e-4, atol=1e-6)
    _, padded = transformer.scaled_dot_product_attention(q, k, v, transformer.padding_mask(SOURCE))
    assert (keras.ops.convert_to_numpy(padded)[0, :, 3:] == 0).all()
    _, causal = transformer.scaled_dot_product_attention(q, k, v, transformer.causal_mask(5))
    causal = keras.ops.convert_to_numpy(causal)
    assert (np.triu(causal[0], 1) == 0).all() and causal[0, 0, 0] == pytest.approx(1.0)


def test_sinusoidal_positions():
    table = transformer.sinusoidal_positions(50, 8)
    assert table.shape == (50, 8)
    np.testing.assert_allclose(table[:, 0], np.sin(np.arange(50)), atol=1e-6)
    np.testing.assert_allclose(table[:, 1], np.cos(np.arange(50)), atol=1e-6)
    np.testing.assert_allclose(table[3, 6:8], [np.sin(3 / 1000), np.cos(3 / 1000)], atol=1e-6)


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_transformer_is_causal_masks_padding_and_survives_saving(positions, tmp_path):
    model = transformer.transformer_translator(10, 12, depth=16, heads=2, hidden=32, blocks=2, positions=positions)
    a, b = np.array([[2, 4, 5, 6]], "int32"), np.array([[2, 4, 9, 9]], "int32")
    pa, pb = (model.predict([SOURCE[:1], t], verbose=0) for t in (a, b))
    assert pa.shape == (1, 4, 12) and pa.dtype == np.float32
    np.testing.assert_allclose(pa[:, :2], pb[:, :2], rtol=1e-4, atol=1e-6)  # the causal mask hides the future
    longer = np.concatenate([SOURCE[:1], np.zeros((1, 3), "int32")], axis=1)  # more padding: no change
    np.testing.assert_allclose(model.predict([longer, a], verbose=0), pa, rtol=1e-4, atol=1e-6)
    maps = search.attention_map(search.Translator.from_model(model), SOURCE[0, :3], [4, 5])
    assert [m.shape for m in maps] == [(2, 3, 3)] * 2
    model.save(tmp_path / "t.keras")
    loaded = keras.saving.load_model(tmp_path / "t.keras", compile=False)
    np.testing.assert_allclose(loaded.predict([SOURCE[:1], a], verbose=0), pa, rtol=1e-5, atol=1e-6)


def test_copy_task_targets_are_the_sources_between_start_and_end():
    (source, target_in), target_out = transformer.copy_task(6, length=5, symbols=3, seed=1)
    assert source.shape == (6, 5) and target_in.shape == target_out.shape == (6, 6)
    assert source.dtype == target_in.dtype == np.int32 and set(np.unique(source)) <= {4, 5, 6}
    assert (target_in[:, 0] == search.START).all() and (target_in[:, 1:] == source).all()
    assert (target_out[:, :-1] == source).all() and (target_out[:, -1] == search.END).all()
    (again, _), _ = transformer.copy_task(6, length=5, symbols=3, seed=1)
    np.testing.assert_array_equal(again, source)


def test_warmup_schedule_rises_then_falls():
    schedule = transformer.WarmupSchedule(peak=1e-3, warmup=100)
    rates = [float(keras.ops.convert_to_numpy(schedule(step))) for step in (0, 49, 99, 399)]
    assert rates[0] < rates[1] < rates[2] == pytest.approx(1e-3) and rates[3] == pytest.approx(5e-4, rel=1e-3)


def test_models_train_under_mixed_bfloat16_with_float32_outputs():
    from dlbook.translation import losses

    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        for model in (rnn.rnn_translator(10, 12, embedding=8, units=6),
                      transformer.transformer_translator(10, 12, depth=16, heads=2, hidden=32, blocks=1)):
            model.compile(optimizer="adam", loss=losses.SmoothedSparseCrossentropy(0.1))
            target = np.array([[2, 4, 5], [2, 6, 3]], "int32")
            values = [float(model.train_on_batch([SOURCE, target], target)) for _ in range(30)]
            assert np.isfinite(values).all() and values[-1] < values[0]
            assert model.predict([SOURCE, target], verbose=0).dtype == np.float32
        recurrent = [layer for layer in rnn.rnn_translator(10, 12, embedding=8, units=6)._flatten_layers()
                     if isinstance(layer, (keras.layers.GRU, keras.layers.Bidirectional))]
        assert len(recurrent) == 4  # the encoder's wrapper and its two GRUs, the decoder's GRU
        assert all(layer.compute_dtype == "float32" for layer in recurrent)
    finally:
        keras.config.set_dtype_policy("float32")
