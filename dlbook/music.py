"""Music as data (chapter 10): piano rolls, MIDI files, the book's note events, synthesis, the frame NLL.

Three representations meet here, all in NumPy (MIDI files through the pure-Python ``mido``):

* a **piano roll**, an array ``(frames, 88)`` of 0/1, one column per piano key (key 0 is MIDI
  pitch 21, A0), one row per time step: a quarter note in the JSB Chorales;
* a list of **notes** ``Note(pitch, start, duration)`` in seconds, what MIDI files and the
  synthesiser speak; :func:`roll_to_notes` and :func:`notes_to_roll` convert, and
  :func:`notes_to_midi` / :func:`midi_to_notes` write and read MIDI files;
* the book's **events**: channel 0's ``note_on`` messages as ``(pitch, velocity, Δt)``, one-hot
  encoded in 89 + 128 + 12 = 229 dimensions (:class:`EventCoding`).

:func:`frame_nll` is the standard score of polyphonic music models (Boulanger-Lewandowski et al.
2012; Bai, Kolter and Koltun 2018): the binary cross-entropy summed over the 88 keys, averaged
over all predicted frames, in nats.
"""

from __future__ import annotations

import dataclasses
import json
import math
import wave
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from dlbook.data import fetch

KEYS = 88
LOWEST_PITCH = 21
"""MIDI pitch of key 0 (A0); key 87 is pitch 108 (C8)."""
SECONDS_PER_QUARTER = 0.6
"""Playback speed of a JSB frame (a quarter note): 100 beats a minute."""
SPLITS = {"train": "train", "validation": "valid", "test": "test"}
"""dlbook's split names and the JSON file's."""
EPSILON = 1e-7


class Note(NamedTuple):
    """A sounding note: MIDI pitch (0–127), start and duration in seconds."""

    pitch: int
    start: float
    duration: float


# --- JSB Chorales as piano rolls ---------------------------------------------------------------

def to_piano_roll(chords: Sequence[Sequence[int]]) -> np.ndarray:
    """``(len(chords), 88)`` float32 0/1 roll from one list of MIDI pitches per frame."""
    roll = np.zeros((len(chords), KEYS), dtype="float32")
    for t, chord in enumerate(chords):
        for pitch in chord:
            key = int(pitch) - LOWEST_PITCH
            if not 0 <= key < KEYS:
                raise ValueError(f"pitch {pitch} at frame {t} is off the 88-key piano (MIDI 21–108)")
            roll[t, key] = 1.0
    return roll


def roll_to_chords(roll: np.ndarray) -> list[tuple[int, ...]]:
    """The MIDI pitches sounding in each frame of ``roll`` (the inverse of :func:`to_piano_roll`)."""
    return [tuple(int(k) + LOWEST_PITCH for k in np.flatnonzero(frame > 0.5)) for frame in np.asarray(roll)]


def load_jsb_chorales() -> dict[str, list[np.ndarray]]:
    """The JSB Chorales at quarter-note resolution: ``{"train": [roll, ...], "validation": ..., "test": ...}``.

    229, 76 and 77 chorales (Boulanger-Lewandowski et al. 2012's split), each a ``(frames, 88)``
    roll; pitches run from 43 to 96. Fetched through the dataset hub (``jsb_chorales``).
    """
    path = fetch("jsb_chorales", "jsb-chorales-quarter.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {name: [to_piano_roll(chorale) for chorale in raw[key]] for name, key in SPLITS.items()}


def next_frame_pairs(rolls: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Inputs and targets of next-frame prediction, chorale by chorale: ``roll[:-1]`` and ``roll[1:]``."""
    return [r[:-1] for r in rolls], [r[1:] for r in rolls]


def lagged_frames(roll: np.ndarray, lags: int = 2) -> np.ndarray:
    """Features for predicting ``roll[1:]``: at step t the frames t, t-1, …, t-lags+1 side by side
    (``(frames - 1, 88 * lags)``; frames before the start are silent)."""
    padded = np.concatenate([np.zeros((lags - 1, roll.shape[1]), roll.dtype), roll[:-1]])
    return np.concatenate([padded[lags - 1 - lag: len(padded) - lag] for lag in range(lags)], axis=1)


def pad_rolls(rolls: Sequence[np.ndarray], length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack rolls, padded at the end with silence to ``length`` (default: the longest), and a 0/1
    array ``(count, length)`` marking the real frames."""
    length = length or max(len(r) for r in rolls)
    batch = np.zeros((len(rolls), length, rolls[0].shape[1]), dtype="float32")
    real = np.zeros((len(rolls), length), dtype="float32")
    for i, roll in enumerate(rolls):
        if len(roll) > length:
            raise ValueError(f"roll {i} has {len(roll)} frames, more than the padded length {length}")
        batch[i, :len(roll)] = roll
        real[i, :len(roll)] = 1.0
    return batch, real


def transpose_roll(roll: np.ndarray, semitones: int) -> np.ndarray:
    """``roll`` moved up (or down, if negative) by ``semitones``; notes pushed off the keyboard vanish."""
    out = np.zeros_like(roll)
    if semitones >= 0:
        out[:, semitones:] = roll[:, :roll.shape[1] - semitones]
    else:
        out[:, :semitones] = roll[:, -semitones:]
    return out


# --- The score --------------------------------------------------------------------------------

def frame_nll(probabilities, targets) -> float:
    """Negative log-likelihood per frame (nats): ``-Σ_keys [y log p + (1-y) log(1-p)]``, summed over
    every frame of every sequence, divided by the number of frames.

    ``probabilities`` and ``targets`` are arrays ``(frames, 88)`` or equal-length lists of them (one
    per chorale; frames are pooled, so a long chorale counts more than a short one).
    """
    if isinstance(targets, np.ndarray) and targets.ndim == 2:
        probabilities, targets = [probabilities], [targets]
    if len(probabilities) != len(targets):
        raise ValueError(f"{len(probabilities)} predictions for {len(targets)} target sequences")
    total, frames = 0.0, 0
    for p, y in zip(probabilities, targets):
        p = np.clip(np.asarray(p, dtype="float64"), EPSILON, 1 - EPSILON)
        y = np.asarray(y, dtype="float64")
        if p.shape != y.shape:
            raise ValueError(f"predictions {p.shape} and targets {y.shape} differ in shape")
        total -= float(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))
        frames += len(y)
    return total / frames


def key_rates(rolls: Sequence[np.ndarray], smoothing: float = 1.0) -> np.ndarray:
    """How often each key sounds in ``rolls`` (88 values; add-``smoothing`` counts, so no key has 0)."""
    frames = np.concatenate(rolls)
    return (frames.sum(axis=0) + smoothing) / (len(frames) + 2 * smoothing)


def bernoulli_nll(train: Sequence[np.ndarray], test: Sequence[np.ndarray]) -> float:
    """The frame NLL on ``test`` of independent keys, each sounding at its rate in ``train``: what a
    model scores that knows which keys are common but nothing of the music before."""
    rates = key_rates(train)
    _, targets = next_frame_pairs(test)
    return frame_nll([np.broadcast_to(rates, t.shape) for t in targets], targets)


# --- Notes, MIDI files and sound --------------------------------------------------------------

def roll_to_notes(roll: np.ndarray, seconds_per_step: float = SECONDS_PER_QUARTER, merge: bool = True) -> list[Note]:
    """The notes of a roll. With ``merge`` a key held over consecutive frames is one long note (a
    quarter-note roll cannot tell a held note from a repeated one); without, one note per frame."""
    notes = []
    active = np.asarray(roll) > 0.5
    for key in range(active.shape[1]):
        frames = np.flatnonzero(active[:, key])
        if not len(frames):
            continue
        runs = np.split(frames, np.flatnonzero(np.diff(frames) > 1) + 1) if merge else [[f] for f in frames]
        for run in runs:
            notes.append(Note(key + LOWEST_PITCH, run[0] * seconds_per_step, len(run) * seconds_per_step))
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def notes_to_roll(notes: Sequence[Note], seconds_per_step: float = SECONDS_PER_QUARTER) -> np.ndarray:
    """A roll with a frame every ``seconds_per_step``; a note fills the frames it covers (rounded)."""
    frames = max((round((n.start + n.duration) / seconds_per_step) for n in notes), default=0)
    roll = np.zeros((frames, KEYS), dtype="float32")
    for note in notes:
        key = note.pitch - LOWEST_PITCH
        if 0 <= key < KEYS:
            roll[round(note.start / seconds_per_step): round((note.start + note.duration) / seconds_per_step), key] = 1
    return roll


def notes_to_midi(notes: Sequence[Note], path: Path | str | None = None, velocity: int = 80, program: int = 0,
                  ticks_per_beat: int = 480, tempo: int = 500_000):
    """A one-track ``mido.MidiFile`` playing ``notes`` (instrument ``program``, 0 = piano); saved to
    ``path`` if given. ``tempo`` is microseconds a beat (the default, 120 beats a minute, makes a
    second 960 ticks)."""
    import mido

    messages = []  # (tick, order, message): note-offs before note-ons at the same tick
    for note in notes:
        start = round(mido.second2tick(note.start, ticks_per_beat, tempo))
        end = max(start + 1, round(mido.second2tick(note.start + note.duration, ticks_per_beat, tempo)))
        messages.append((start, 1, mido.Message("note_on", note=int(note.pitch), velocity=velocity)))
        messages.append((end, 0, mido.Message("note_off", note=int(note.pitch), velocity=0)))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0),
                            mido.Message("program_change", program=program, time=0)])
    now = 0
    for tick, _, message in sorted(messages, key=lambda m: (m[0], m[1], m[2].note)):
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat, tracks=[track])
    if path is not None:
        midi.save(str(path))
    return midi


def midi_to_notes(midi) -> list[Note]:
    """The notes of a MIDI file (a path or a ``mido.MidiFile``), all channels, times in seconds."""
    import mido

    midi = midi if isinstance(midi, mido.MidiFile) else mido.MidiFile(str(midi))
    now, sounding, notes = 0.0, {}, []
    for message in midi:  # merged tracks; times in seconds, tempo changes applied
        now += message.time
        if message.type not in ("note_on", "note_off"):
            continue
        key = (message.channel, message.note)
        if key in sounding:  # a note-off, or a new note-on ending the previous one
            start = sounding.pop(key)
            notes.append(Note(message.note, start, now - start))
        if message.type == "note_on" and message.velocity > 0:
            sounding[key] = now
    notes.extend(Note(pitch, start, now - start) for (_, pitch), start in sounding.items())
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def roll_to_midi(roll: np.ndarray, path: Path | str | None = None, seconds_per_step: float = SECONDS_PER_QUARTER,
                 **options):
    """:func:`notes_to_midi` of :func:`roll_to_notes` (held keys merged into long notes)."""
    return notes_to_midi(roll_to_notes(roll, seconds_per_step), path, **options)


def midi_to_roll(midi, seconds_per_step: float = SECONDS_PER_QUARTER) -> np.ndarray:
    """:func:`notes_to_roll` of :func:`midi_to_notes`."""
    return notes_to_roll(midi_to_notes(midi), seconds_per_step)


def synthesize(notes: Sequence[Note], sample_rate: int = 22_050, harmonics: Sequence[float] = (1.0, 0.45, 0.25, 0.12),
               decay: float = 1.2, release: float = 0.08) -> np.ndarray:
    """Audio of ``notes`` by additive synthesis: each note a sum of sine harmonics (amplitudes
    ``harmonics``, those above the Nyquist frequency left out) under an envelope with a 10 ms attack,
    an exponential decay (time constant ``decay`` seconds) and a ``release``. Float32 samples in
    [-0.9, 0.9] (normalised to that peak), 1 channel, with a little silence at the end."""
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    length = max((n.start + n.duration for n in notes), default=0.0) + release + 0.2
    out = np.zeros(int(math.ceil(length * sample_rate)), dtype="float64")
    for note in notes:
        frequency = 440.0 * 2 ** ((note.pitch - 69) / 12)
        samples = int((note.duration + release) * sample_rate)
        t = np.arange(samples) / sample_rate
        tone = sum(a * np.sin(2 * np.pi * (k + 1) * frequency * t)
                   for k, a in enumerate(harmonics) if (k + 1) * frequency < sample_rate / 2)
        envelope = np.minimum(1.0, t / 0.01) * np.exp(-t / decay)
        envelope *= np.clip((note.duration + release - t) / release, 0.0, 1.0)  # fade out over the release
        start = int(note.start * sample_rate)
        out[start:start + samples] += (tone * envelope)[: len(out) - start]
    peak = np.abs(out).max()
    return (out * (0.9 / peak if peak > 0 else 1.0)).astype("float32")


def write_wav(samples: np.ndarray, path: Path | str, sample_rate: int = 22_050) -> Path:
    """Write mono float samples in [-1, 1] as a 16-bit PCM WAV file."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return Path(path)


# --- The book's note events -------------------------------------------------------------------

PITCH_CLASSES, VELOCITY_CLASSES, TIME_CLASSES = 89, 128, 12
EVENT_SIZE = PITCH_CLASSES + VELOCITY_CLASSES + TIME_CLASSES
"""229: the one-hot width of an event."""
PITCH_OFFSET = 24
HEADS = ("pitch", "velocity", "time")


def book_events(path: Path | str | None = None, channel: int = 0) -> np.ndarray:
    """The book's data: every ``note_on`` of ``channel`` in a MIDI file (default: ``krebs.mid`` of
    the hub's ``midi`` dataset) as a row ``(pitch, velocity, Δt)``, Δt the seconds since the
    previous such event (float64 ``(events, 3)``). A velocity of 0 ends a note."""
    import mido

    midi = mido.MidiFile(str(path or fetch("midi", "krebs.mid")))
    now, previous, rows = 0.0, 0.0, []
    for message in midi:
        now += message.time
        if message.type == "note_on" and message.channel == channel:
            rows.append((message.note, message.velocity, now - previous))
            previous = now
    return np.array(rows, dtype="float64").reshape(-1, 3)


@dataclasses.dataclass(frozen=True)
class EventCoding:
    """The book's classes of an event: pitch − 24 (89 classes), velocity (128), and Δt in 12 classes:
    0 for Δt = 0, else 1 + the tenth of [min Δt, max Δt] it falls in (the maximum gets class 11)."""

    min_t: float
    interval: float

    @classmethod
    def fit(cls, events: np.ndarray, intervals: int = 10) -> "EventCoding":
        positive = events[events[:, 2] > 0, 2]
        return cls(float(positive.min()), float(positive.max() - positive.min()) / intervals)

    def encode(self, events: np.ndarray) -> np.ndarray:
        """Class indices ``(events, 3)`` (int) of pitch, velocity and Δt."""
        pitch = np.clip(events[:, 0].astype(int) - PITCH_OFFSET, 0, PITCH_CLASSES - 1)
        velocity = np.clip(events[:, 1].astype(int), 0, VELOCITY_CLASSES - 1)
        bins = np.floor((events[:, 2] - self.min_t) / self.interval + 1) if self.interval else np.ones(len(events))
        time = np.where(events[:, 2] > 0, np.clip(bins, 1, TIME_CLASSES - 1), 0).astype(int)
        return np.stack([pitch, velocity, time], axis=1)

    def decode(self, classes: np.ndarray) -> np.ndarray:
        """Events ``(pitch, velocity, Δt)`` from class indices; Δt is the middle of its class."""
        classes = np.asarray(classes)
        dt = np.where(classes[:, 2] > 0, self.min_t + (classes[:, 2] - 0.5) * self.interval, 0.0)
        return np.stack([classes[:, 0] + PITCH_OFFSET, classes[:, 1], np.maximum(dt, 0.0)], axis=1).astype("float64")


def one_hot_events(classes: np.ndarray) -> np.ndarray:
    """``(events, 229)`` float32: the three one-hot codes of each event side by side."""
    classes = np.asarray(classes)
    out = np.zeros((len(classes), EVENT_SIZE), dtype="float32")
    rows = np.arange(len(classes))
    out[rows, classes[:, 0]] = 1
    out[rows, PITCH_CLASSES + classes[:, 1]] = 1
    out[rows, PITCH_CLASSES + VELOCITY_CLASSES + classes[:, 2]] = 1
    return out


def event_windows(classes: np.ndarray, window: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """The book's examples: each ``window`` consecutive one-hot events ``(n, window, 229)`` and the
    classes of the event after them ``(n, 3)``, ``n = events - window``, in order."""
    if len(classes) <= window:
        raise ValueError(f"{len(classes)} events make no window of {window} with a next event")
    codes = one_hot_events(classes)
    starts = np.arange(len(classes) - window)
    return codes[starts[:, None] + np.arange(window)], np.asarray(classes)[starts + window]


def events_to_notes(events: np.ndarray, hold: float = 0.5) -> list[Note]:
    """Notes from ``(pitch, velocity, Δt)`` events: a positive velocity starts a note, a zero one (or
    the next start of the same pitch) ends it; notes never ended last ``hold`` seconds."""
    now, sounding, notes = 0.0, {}, []
    for pitch, velocity, dt in np.asarray(events):
        now += float(dt)
        pitch = int(pitch)
        if pitch in sounding:
            notes.append(Note(pitch, sounding[pitch], now - sounding.pop(pitch)))
        if velocity > 0:
            sounding[pitch] = now
    notes.extend(Note(pitch, start, hold) for pitch, start in sounding.items())
    return sorted((n for n in notes if n.duration > 0), key=lambda n: (n.start, n.pitch))
