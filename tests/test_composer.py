"""dlbook.music.composer and dlbook.music.counting: the models, the frame-NLL loss, sampling, and the app `compose`."""

from __future__ import annotations

import os

import keras
import mido
import numpy as np
import pytest

import dlbook
from dlbook import apps, cache
from dlbook.music import composer, counting, events, midi, pianoroll

TINY = dict(units=8, layers=1, dropout=0.0, input_dropout=0.0, transpose=1, batch_size=64, learning_rate=1e-2,
            epochs=1, patience=1, bucket=32, seed=0)


@pytest.fixture
def fast():
    dlbook.setup(mode="fast", verbose=False)


@pytest.fixture
def tiny_recipe(real_data, fast, monkeypatch):
    """Fast mode, an empty model cache, and a chorale recipe that trains in seconds."""
    monkeypatch.setattr(composer, "chorale_recipe", lambda mode=None: dict(TINY))
    return real_data


@pytest.fixture
def bfloat16():
    keras.config.set_dtype_policy("mixed_bfloat16")
    yield
    keras.config.set_dtype_policy("float32")


def _toy_rolls(count=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((int(n), 88)) < 0.05).astype("float32") for n in rng.integers(5, 40, count)]


# --- 0ⁿ1ⁿ -------------------------------------------------------------------------------------


def test_counting_strings_mark_the_determined_positions():
    data = counting.counting_strings([1, 3], length=7)
    assert data.x.shape == (2, 7, 2) and data.n.tolist() == [1, 3]
    assert data.x[1, :, 0].tolist() == [1, 1, 1, 0, 0, 0, 0] and data.x[1, :, 1].tolist() == [0, 0, 0, 1, 1, 1, 0]
    assert data.y.tolist() == [[1, 2, 0, 0, 0, 0, 0], [0, 0, 1, 1, 1, 2, 0]]  # 0, 1, end
    assert data.weights.tolist() == [[1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0]]
    assert data.scored.tolist() == [[False, True] + [False] * 5, [False] * 3 + [True] * 3 + [False]]
    assert counting.counting_strings([4]).x.shape == (1, 8, 2)
    with pytest.raises(ValueError, match="at least 1"):
        counting.counting_strings([0, 2])
    with pytest.raises(ValueError, match="shorter than the longest string"):
        counting.counting_strings([3], length=5)


def test_a_hand_set_lstm_counts_and_the_trace_is_the_layers_computation(fast):
    model = counting.hand_counter()
    data = counting.counting_strings(range(1, 201))
    assert counting.counting_correct(model, data).all()
    trace = counting.lstm_trace(model, data.x[5])  # n = 6
    assert set(trace) == {"input", "forget", "candidate", "output", "cell", "hidden"}
    assert np.allclose(trace["cell"][:12, 0], [0.5 * k for k in range(1, 7)] + [0.5 * k for k in range(5, -1, -1)], atol=1e-5)
    assert np.allclose(trace["hidden"], counting.recurrent_states(model, data.x[5:6])[0], atol=1e-5)
    # A model that always says "end" gets only the strings whose one determined answer is "end".
    always_end = counting.counting_model("rnn", 2)
    always_end.get_layer("next").set_weights([np.zeros((2, 3)), np.array([0.0, 0.0, 5.0])])
    assert counting.counting_correct(always_end, data).tolist() == [True] + [False] * 199


def test_training_counting_models_retries_and_learns_the_short_strings(fast):
    with pytest.raises(ValueError, match="unknown kind 'gru'"):
        counting.counting_model("gru", 2)
    model, history, tries = counting.train_counting_model("lstm", 2, train_ns=range(1, 4), epochs=5, tries=2)
    assert tries in (1, 2) and len(history.history["loss"]) == 5
    assert model.get_layer("recurrent").units == 2
    rnn, history, _ = counting.train_counting_model("rnn", 4, train_ns=range(1, 4), epochs=60, tries=1)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert counting.counting_correct(rnn, counting.counting_strings([1, 2])).all()


# --- The book's event model --------------------------------------------------------------------


def test_event_baselines_by_hand():
    classes = np.array([[1, 100, 0], [2, 0, 3], [1, 100, 0], [2, 0, 3], [1, 100, 1], [2, 100, 3]])
    scores = composer.event_baselines(classes, train_targets=np.array([0, 2, 3]), test_targets=np.array([4, 5]))
    assert scores["velocity"] == {"majority": 1.0, "repeat": 0.5, "alternate": 0.5}
    assert scores["pitch"] == {"majority": 0.5, "repeat": 0.0, "alternate": 1.0}
    assert scores["time"] == {"majority": 0.0, "repeat": 0.0, "alternate": 0.5}


def test_the_event_model_has_three_float32_heads_and_trains(fast):
    rng = np.random.default_rng(0)
    classes = np.stack([rng.integers(0, 89, 60), rng.choice([0, 100], 60), rng.integers(0, 12, 60)], axis=1)
    x, y = events.event_windows(classes, window=5)
    model = composer.event_model(window=5, units=8)
    assert [o.shape for o in model.outputs] == [(None, 89), (None, 128), (None, 12)]
    history = composer.fit_event_model(model, x, y, validation=(x[:10], y[:10]), epochs=2, verbose=0)
    assert {"pitch_accuracy", "val_velocity_accuracy", "val_time_accuracy"} <= set(history.history)
    scores = composer.head_accuracies(model, x, y)
    assert set(scores) == {"pitch", "velocity", "time", "mean"}
    assert scores["mean"] == pytest.approx(np.mean([scores[h] for h in events.HEADS]))
    predicted = model.predict(x, verbose=0)
    assert scores["time"] == pytest.approx(np.mean(predicted[2].argmax(-1) == y[:, 2]))


# --- The chorale model: loss, batches, training, scores ----------------------------------------


def test_chorale_batches_are_bucketed_shifted_pairs():
    rolls = [pianoroll.transpose_roll(r, 40) for r in _toy_rolls(20)]  # in the middle of the keyboard
    rolls = [r * (np.arange(88) >= 30) * (np.arange(88) < 60) for r in rolls]
    batches = composer.ChoraleBatches(rolls, batch_size=4, bucket=8)
    assert len(batches) == 5
    seen = []
    for i in range(len(batches)):
        x, y, real = batches[i]
        assert x.shape == y.shape and x.shape[1] % 8 == 0 and real.shape == x.shape[:2]
        for row, index in enumerate(batches.batches[i]):
            n = len(rolls[index]) - 1
            assert real[row].sum() == n and np.array_equal(x[row, :n], rolls[index][:-1])
            assert np.array_equal(y[row, :n], rolls[index][1:]) and not y[row, n:].any()
            seen.append(index)
    assert sorted(seen) == list(range(20))
    assert batches[0][0].shape[1] != batches[1][0].shape[1]  # so Keras leaves the time axis open
    moved = composer.ChoraleBatches(rolls, batch_size=4, bucket=8, transpose=3, seed=1)
    x, _, _ = moved[0]
    originals = [rolls[i][:-1] for i in moved.batches[0]]
    assert [x[k, :len(r)].sum() for k, r in enumerate(originals)] == [r.sum() for r in originals]
    assert any(not np.array_equal(x[k, :len(r)], r) for k, r in enumerate(originals))


def test_a_tiny_chorale_model_trains_and_keras_validation_loss_is_the_frame_nll(real_data, fast):
    chorales = pianoroll.load_jsb_chorales()
    model, history = composer.train_chorale_model(chorales, dict(TINY, epochs=2), verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert history.history["val_loss"][1] < history.history["val_loss"][0]
    nll = composer.chorale_nll(model, chorales["validation"])
    assert nll == pytest.approx(min(history.history["val_loss"]), rel=1e-4)
    by_hand = pianoroll.frame_nll(composer.predict_rolls(model, chorales["validation"][:3]),
                              [r[1:] for r in chorales["validation"][:3]])
    assert by_hand == pytest.approx(composer.chorale_nll(model, chorales["validation"][:3]))
    assert 8 < nll < 60


def test_the_logistic_baseline_beats_the_bernoulli_one(real_data, fast):
    chorales = pianoroll.load_jsb_chorales()
    model, nll = composer.logistic_baseline(chorales, epochs=10)
    assert model.input_shape == (None, 176) and model.output_shape == (None, 88)
    assert 8.5 < nll < pianoroll.bernoulli_nll(chorales["train"], chorales["test"])


def test_mixed_bfloat16_keeps_outputs_and_losses_float32(fast, bfloat16):
    model = composer.chorale_model(TINY)
    x = np.zeros((2, 5, 88), "float32")
    p = model(x)
    # The LSTMs compute in float32 (cuDNN refuses bfloat16; the cell state keeps its precision);
    # the layers after them go back to the policy, the probabilities are float32 again.
    assert model.get_layer("lstm_0").compute_dtype == model.get_layer("lstm_0").variable_dtype == "float32"
    assert model.get_layer("dropout_0").compute_dtype == "bfloat16"
    assert keras.backend.standardize_dtype(p.dtype) == "float32"
    assert composer.event_model(window=3, units=4).get_layer("lstm").compute_dtype == "float32"
    for kind in ("rnn", "lstm"):
        assert counting.counting_model(kind, 2).get_layer("recurrent").compute_dtype == "float32"
    loss = composer.FrameNLL()(np.ones((2, 5, 88), "float32"), p)
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    for other in (composer.event_model(window=3, units=4), counting.counting_model("lstm", 1)):
        shape = (1,) + other.input_shape[1:] if other.input_shape[1] else (1, 3, 2)
        for output in keras.tree.flatten(other(np.zeros(shape, "float32"))):
            assert keras.backend.standardize_dtype(output.dtype) == "float32"
    rolls = composer.sample_rolls(model, np.zeros((1, 88)), 4, seed=0)
    assert rolls.shape == (1, 4, 88)


# --- Sampling ------------------------------------------------------------------------------------


def test_temperature_sharpens_or_flattens_the_probabilities():
    p = np.array([0.1, 0.5, 0.8])
    assert np.allclose(composer.sharpen(p, 1.0), p)
    cold, hot = composer.sharpen(p, 0.5), composer.sharpen(p, 2.0)
    assert cold[0] < 0.1 and cold[2] > 0.8 and hot[0] > 0.1 and hot[2] < 0.8 and cold[1] == hot[1] == 0.5
    assert np.allclose(composer.sharpen(p, 0.01)[[0, 2]], [0, 1], atol=1e-6)
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="temperature must be positive"):
            composer.sharpen(p, bad)


# --- The app ---------------------------------------------------------------------------------------


def test_the_recipe_trains_with_the_runs_seed(fast):
    assert composer.chorale_recipe()["seed"] == dlbook.current().seed
    assert composer.chorale_recipe(seed=1)["seed"] == 1
    first = cache.entry_for(composer.CHORALE_LSTM)
    dlbook.setup(mode="fast", seed=2, verbose=False)
    try:
        assert composer.chorale_recipe()["seed"] == 2
        assert cache.entry_for(composer.CHORALE_LSTM).key != first.key  # `--seeds 42,1,2` trains three models
    finally:
        dlbook.setup(mode="fast", verbose=False)


def test_the_cache_entry_follows_the_recipe(tiny_recipe, monkeypatch):
    entry = cache.entry_for(composer.CHORALE_LSTM)
    assert entry.id.startswith("chorale_lstm/fast-")
    monkeypatch.setattr(composer, "chorale_recipe", lambda mode=None: dict(TINY, units=16))
    assert cache.entry_for(composer.CHORALE_LSTM) != entry


def test_compose_trains_once_then_loads_and_writes_midi_and_wav(tiny_recipe, tmp_path, monkeypatch, capsys):
    tmp_path = tmp_path / "out"  # the model cache is in tmp_path too
    tmp_path.mkdir()
    out = tmp_path / "chorale.mid"
    result = apps.compose(out, seconds=6, temperature=0.8, seed=3, wav=tmp_path / "chorale.wav")
    assert cache.entry_for(composer.CHORALE_LSTM).exists()
    captured = capsys.readouterr()
    assert captured.out == "" and "no cached chorale LSTM" in captured.err  # progress on stderr only
    assert result.midi == out and result.frames == 10 and result.seconds == pytest.approx(6.0)
    midi_file = mido.MidiFile(str(out))
    assert sum(m.type == "note_on" for m in midi_file.tracks[0]) == result.notes > 0
    roll = midi.midi_to_roll(out)
    assert len(roll) <= 10 and roll[0].sum() == 4  # the opening chord
    import wave

    with wave.open(str(tmp_path / "chorale.wav")) as w:
        assert w.getnframes() > 6 * 22050
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary files left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not mkstemp's 0600

    monkeypatch.setattr(composer, "train_chorale_model", lambda *a, **k: pytest.fail("the cached model should load"))
    again = apps.compose(tmp_path / "again.midi", seconds=6, temperature=0.8, seed=3)
    assert midi.midi_to_roll(tmp_path / "again.midi").tolist() == roll.tolist()  # same seed, same piece
    assert again.wav is None and "dlbook: using chorale_lstm trained in fast mode" in capsys.readouterr().err


def test_the_midi_file_plays_at_the_musics_tempo_in_four_four(tmp_path):
    """A JSB frame is a quarter note of 0.6 s: 100 beats a minute, so each note sits on the beat grid."""
    notes = [midi.Note(60, 0.0, 0.6), midi.Note(64, 0.6, 1.2), midi.Note(67, 1.8, 0.6)]
    midi.notes_to_midi(notes, tmp_path / "tempo.mid")
    midi_file = mido.MidiFile(str(tmp_path / "tempo.mid"))
    meta = {m.type: m for m in midi_file.tracks[0] if m.is_meta}
    assert mido.tempo2bpm(meta["set_tempo"].tempo) == pytest.approx(100)
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (4, 4)
    ticks, starts = 0, []
    for message in midi_file.tracks[0]:
        ticks += message.time
        if message.type == "note_on":
            starts.append(ticks)
    assert [t / midi_file.ticks_per_beat for t in starts] == [0, 1, 3]  # on the beats
    assert [(n.pitch, n.start, n.duration) for n in midi.midi_to_notes(midi_file)] == [
        (n.pitch, pytest.approx(n.start), pytest.approx(n.duration)) for n in notes]


def test_a_failed_write_leaves_no_file(tiny_recipe, tmp_path, monkeypatch):
    tmp_path = tmp_path / "out"  # the model cache is in tmp_path too
    tmp_path.mkdir()
    out = tmp_path / "c.mid"
    out.write_bytes(b"old")

    def broken(notes, path, **options):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(midi, "notes_to_midi", broken)
    with pytest.raises(apps.InvalidInput, match=f"could not write {out}: No space left on device"):
        apps.compose(out, seconds=2)
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["c.mid"]
