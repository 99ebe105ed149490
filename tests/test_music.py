"""dlbook.music: piano rolls, MIDI files, the frame NLL and its baselines, synthesis, the book's events."""

from __future__ import annotations

import math
import wave

import mido
import numpy as np
import pytest

from dlbook.music import events, midi, pianoroll


def _roll(chords, frames=None):
    roll = pianoroll.to_piano_roll(chords)
    return roll if frames is None else roll[:frames]


def test_piano_roll_rows_are_the_chords_and_off_keyboard_pitches_are_refused():
    chords = [(60, 64, 67), (), (21, 108), (60,)]
    roll = pianoroll.to_piano_roll(chords)
    assert roll.shape == (4, 88) and roll.dtype == np.float32 and roll.sum() == 6
    assert roll[0, 60 - 21] == roll[2, 0] == roll[2, 87] == 1
    assert pianoroll.roll_to_chords(roll) == [(60, 64, 67), (), (21, 108), (60,)]
    with pytest.raises(ValueError, match="pitch 20 at frame 1 is off the 88-key piano"):
        pianoroll.to_piano_roll([(60,), (20,)])


def test_notes_merge_held_keys_unless_asked_not_to():
    roll = _roll([(60, 67), (60,), (60, 64), (), (60,)])
    notes = midi.roll_to_notes(roll, seconds_per_step=0.5)
    assert notes == [midi.Note(60, 0.0, 1.5), midi.Note(67, 0.0, 0.5), midi.Note(64, 1.0, 0.5), midi.Note(60, 2.0, 0.5)]
    separate = midi.roll_to_notes(roll, seconds_per_step=0.5, merge=False)
    assert len(separate) == 6 and all(n.duration == 0.5 for n in separate)
    assert np.array_equal(midi.notes_to_roll(notes, 0.5), roll)
    assert np.array_equal(midi.notes_to_roll(separate, 0.5), roll)


def test_a_roll_survives_a_midi_file_and_mido_reads_it(tmp_path):
    rng = np.random.default_rng(0)
    roll = (rng.random((40, 88)) < 0.05).astype("float32")
    roll[-1, 10] = 1  # the roll ends with a sounding key, so the file's length is the roll's
    path = tmp_path / "piece.mid"
    midi.roll_to_midi(roll, path, velocity=70, program=19)
    midi_file = mido.MidiFile(str(path))
    kinds = [m.type for m in midi_file.tracks[0]]
    # The file's layout: the tempo, the 4/4 time signature, the instrument, then the notes.
    assert kinds[:3] == ["set_tempo", "time_signature", "program_change"]
    signature, program = midi_file.tracks[0][1], midi_file.tracks[0][2]
    assert (signature.numerator, signature.denominator) == (4, 4) and program.program == 19
    notes_on = [m for m in midi_file.tracks[0] if m.type == "note_on"]
    assert len(notes_on) == len(midi.roll_to_notes(roll)) and {m.velocity for m in notes_on} == {70}
    assert midi_file.length == pytest.approx(40 * midi.SECONDS_PER_QUARTER)
    assert np.array_equal(midi.midi_to_roll(path), roll)
    assert np.array_equal(midi.midi_to_roll(midi_file), roll)  # a MidiFile object works too


def test_midi_to_notes_reads_note_on_with_velocity_zero_as_a_note_off(tmp_path):
    track = mido.MidiTrack([mido.Message("note_on", note=60, velocity=90, time=0),
                            mido.Message("note_on", note=60, velocity=0, time=480),
                            mido.Message("note_on", note=62, velocity=90, time=0, channel=1)])
    midi_file = mido.MidiFile(ticks_per_beat=480, tracks=[track])  # 120 bpm: 480 ticks are 0.5 s
    assert midi.midi_to_notes(midi_file) == [midi.Note(60, 0.0, 0.5), midi.Note(62, 0.5, 0.0)]


def test_jsb_chorales_load_as_rolls(real_data):
    chorales = pianoroll.load_jsb_chorales()
    assert {k: len(v) for k, v in chorales.items()} == {"train": 229, "validation": 76, "test": 77}
    frames = np.concatenate([r for rolls in chorales.values() for r in rolls])
    keys = np.flatnonzero(frames.any(axis=0)) + pianoroll.LOWEST_PITCH
    assert keys.min() == 43 and keys.max() == 96
    assert sum(len(r) for r in chorales["train"]) == 13807 and chorales["train"][0].shape == (129, 88)
    assert frames.sum(axis=1).max() == 4  # four voices at most


def test_frame_nll_is_the_summed_cross_entropy_per_frame():
    p = np.array([[0.8, 0.25]])
    y = np.array([[1.0, 0.0]])
    by_hand = -(math.log(0.8) + math.log(0.75))
    assert pianoroll.frame_nll(p, y) == pytest.approx(by_hand)
    # Frames are pooled over sequences: a 1-frame and a 3-frame sequence average over 4 frames.
    q = np.full((3, 2), 0.5)
    assert pianoroll.frame_nll([p, q], [y, np.zeros((3, 2))]) == pytest.approx((by_hand + 3 * 2 * math.log(2)) / 4)
    assert pianoroll.frame_nll(np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]])) == pytest.approx(0, abs=1e-6)
    assert np.isfinite(pianoroll.frame_nll(np.array([[0.0]]), np.array([[1.0]])))  # clipped, not infinite
    with pytest.raises(ValueError, match="differ in shape"):
        pianoroll.frame_nll([np.zeros((2, 88))], [np.zeros((3, 88))])
    with pytest.raises(ValueError, match="2 predictions for 1 target"):
        pianoroll.frame_nll([p, p], [y])


def test_the_bernoulli_baseline_uses_the_training_rates():
    train = [_roll([(60,), (60, 64), (), (64,)])]  # 60 sounds in 2 of 4 frames, 64 in 2, others never
    rates = pianoroll.key_rates(train)
    assert rates[60 - 21] == pytest.approx(3 / 6) and rates[0] == pytest.approx(1 / 6)
    test = [_roll([(60,), (60,)])]  # one predicted frame: key 60 on, 87 keys off
    by_hand = -(math.log(0.5) + math.log(0.5) + 86 * math.log(5 / 6))
    assert pianoroll.bernoulli_nll(train, test) == pytest.approx(by_hand)


def test_the_bernoulli_baseline_on_jsb_is_11_09(real_data):
    chorales = pianoroll.load_jsb_chorales()
    assert pianoroll.bernoulli_nll(chorales["train"], chorales["test"]) == pytest.approx(11.09, abs=0.01)


def test_next_frame_pairs_lagged_frames_and_padding():
    roll = _roll([(60,), (62,), (64,), (65,)])
    (x,), (y,) = pianoroll.next_frame_pairs([roll])
    assert np.array_equal(x, roll[:-1]) and np.array_equal(y, roll[1:])
    features = pianoroll.lagged_frames(roll, lags=2)
    assert features.shape == (3, 176)
    assert np.array_equal(features[:, :88], roll[:-1])                       # the current frame
    assert np.array_equal(features[1:, 88:], roll[:-2]) and not features[0, 88:].any()  # the one before
    batch, real = pianoroll.pad_rolls([roll, roll[:2]])
    assert batch.shape == (2, 4, 88) and real.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]] and not batch[1, 2:].any()
    with pytest.raises(ValueError, match="more than the padded length 3"):
        pianoroll.pad_rolls([roll], 3)


def test_transposition_moves_every_note():
    roll = _roll([(60, 64), (67,)])
    assert pianoroll.roll_to_chords(pianoroll.transpose_roll(roll, 3)) == [(63, 67), (70,)]
    assert pianoroll.roll_to_chords(pianoroll.transpose_roll(roll, -12)) == [(48, 52), (55,)]
    assert pianoroll.roll_to_chords(pianoroll.transpose_roll(_roll([(107,)]), 5)) == [()]  # off the top: gone


def test_synthesis_sounds_the_right_pitch_for_the_right_time(tmp_path):
    rate = 8000
    samples = midi.synthesize([midi.Note(69, 0.5, 1.0)], sample_rate=rate)
    assert samples.dtype == np.float32 and np.abs(samples).max() == pytest.approx(0.9)
    assert len(samples) == math.ceil((1.5 + 0.08 + 0.2) * rate)
    assert not samples[: int(0.5 * rate)].any() and not samples[int(1.6 * rate):].any()
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()] == pytest.approx(440, abs=2)
    assert not midi.synthesize([], sample_rate=rate).any()
    # Partials above the Nyquist frequency are left out (they would alias): C8 (4186 Hz) keeps only its
    # fundamental at 9 kHz sampling and is silent at 8 kHz.
    high = midi.synthesize([midi.Note(108, 0, 0.2)], sample_rate=9000)
    spectrum = np.abs(np.fft.rfft(high))
    frequencies = np.fft.rfftfreq(len(high), 1 / 9000)
    assert frequencies[spectrum.argmax()] == pytest.approx(4186, abs=10)
    assert spectrum[frequencies < 4000].max() < 0.05 * spectrum.max()
    assert not midi.synthesize([midi.Note(108, 0, 0.2)], sample_rate=8000).any()
    path = midi.write_wav(samples, tmp_path / "a.wav", rate)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, rate, len(samples))
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert np.allclose(pcm / 32767, samples, atol=1e-4)
    with pytest.raises(ValueError, match="sample_rate must be positive"):
        midi.synthesize([], sample_rate=0)


def test_krebs_channel_0_has_826_events_of_16_pitches(real_data):
    rows = events.book_events()
    assert rows.shape == (826, 3)
    assert len(np.unique(rows[:, 0])) == 16 and set(np.unique(rows[:, 1])) == {0.0, 100.0}
    assert (rows[:, 2] >= 0).all() and rows[0, 2] > 2  # the piece starts after a rest
    assert len(events.book_events(channel=1)) == 826 and len(events.book_events(channel=9)) == 0
    notes = events.events_to_notes(rows)
    assert len(notes) == 413 and all(n.duration > 0 for n in notes)


def test_the_book_coding_of_events():
    rows = np.array([[62, 100, 2.0], [62, 0, 0.2], [67, 100, 0.0], [67, 0, 0.1], [130, 200, 1.1]])
    coding = events.EventCoding.fit(rows)
    assert coding.min_t == pytest.approx(0.1) and coding.interval == pytest.approx(0.19)
    classes = coding.encode(rows)
    assert classes.tolist() == [[38, 100, 11], [38, 0, 1], [43, 100, 0], [43, 0, 1], [88, 127, 6]]
    decoded = coding.decode(classes)
    assert np.array_equal(coding.encode(decoded), classes)  # decoding lands in the same classes
    assert decoded[2, 2] == 0 and decoded[0, 0] == 62

    codes = events.one_hot_events(classes)
    assert codes.shape == (5, events.EVENT_SIZE) == (5, 229) and (codes.sum(axis=1) == 3).all()
    assert codes[0, 38] == codes[0, 89 + 100] == codes[0, 89 + 128 + 11] == 1

    x, y = events.event_windows(classes, window=3)
    assert x.shape == (2, 3, 229) and np.array_equal(y, classes[3:])
    assert np.array_equal(x[1], codes[1:4])
    with pytest.raises(ValueError, match="5 events make no window of 5"):
        events.event_windows(classes, window=5)


def test_the_time_classes_are_fitted_on_the_training_windows_only():
    # Windows of 2 events starting at 0 and 1 read or predict events 0..3; event 4 is held out.
    assert events.window_events([1, 0], window=2).tolist() == [0, 1, 2, 3]
    assert events.window_events(np.array([3]), window=2).tolist() == [3, 4, 5]
    rows = np.array([[60, 100, 0.5], [60, 0, 0.1], [62, 100, 0.32], [62, 0, 0.2], [64, 100, 9.0]])
    coding = events.EventCoding.fit(rows[events.window_events([0, 1], window=2)])
    assert coding.min_t == pytest.approx(0.1) and coding.interval == pytest.approx(0.04)  # not stretched to 9 s
    assert coding.encode(rows)[:, 2].tolist() == [11, 1, 6, 3, 11]  # the held-out 9 s lands in the last class
    with pytest.raises(ValueError, match="no event with a positive"):
        events.EventCoding.fit(np.array([[60, 100, 0.0]]))


def test_events_to_notes_pairs_starts_and_ends():
    rows = np.array([[60, 100, 0.0], [64, 100, 0.0], [60, 0, 1.0], [64, 0, 0.5], [67, 100, 0.5]])
    assert events.events_to_notes(rows, hold=0.25) == [midi.Note(60, 0.0, 1.0), midi.Note(64, 0.0, 1.5),
                                                        midi.Note(67, 2.0, 0.25)]
