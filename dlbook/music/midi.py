"""Notes, MIDI files and sound (chapter 10), in NumPy and the pure-Python ``mido``.

A piece is a list of **notes** ``Note(pitch, start, duration)`` in seconds, what MIDI files and the
synthesiser speak, or a **piano roll**, an array ``(frames, 88)`` of 0/1, one column per piano key
(key 0 is MIDI pitch 21, A0), one row per time step. :func:`roll_to_notes` and
:func:`notes_to_roll` convert, :func:`notes_to_midi` / :func:`midi_to_notes` write and read MIDI
files, and :func:`synthesize` renders notes as sound.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from dlbook.paths import atomic_path

KEYS = 88
LOWEST_PITCH = 21
"""MIDI pitch of key 0 (A0); key 87 is pitch 108 (C8)."""
SECONDS_PER_QUARTER = 0.6
"""Playback speed of a JSB frame (a quarter note): 100 beats a minute."""


class Note(NamedTuple):
    """A sounding note: MIDI pitch (0–127), start and duration in seconds."""

    pitch: int
    start: float
    duration: float



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


TEMPO = round(SECONDS_PER_QUARTER * 1_000_000)
"""The MIDI tempo of the music, microseconds a beat: 600 000, 100 beats a minute (a quarter note a beat)."""


def notes_to_midi(notes: Sequence[Note], path: Path | str | None = None, velocity: int = 80, program: int = 0,
                  ticks_per_beat: int = 480, tempo: int = TEMPO, time_signature: tuple[int, int] = (4, 4)):
    """A one-track ``mido.MidiFile`` playing ``notes`` (instrument ``program``, 0 = piano) at the
    music's ``tempo`` (microseconds a beat; 100 beats a minute, so a JSB quarter note of 0.6 s
    is one beat and the notes sit on a score editor's beat grid) in ``time_signature``; saved to
    ``path`` if given, atomically."""
    import mido

    messages = []  # (tick, order, message): note-offs before note-ons at the same tick
    for note in notes:
        start = round(mido.second2tick(note.start, ticks_per_beat, tempo))
        end = max(start + 1, round(mido.second2tick(note.start + note.duration, ticks_per_beat, tempo)))
        messages.append((start, 1, mido.Message("note_on", note=int(note.pitch), velocity=velocity)))
        messages.append((end, 0, mido.Message("note_off", note=int(note.pitch), velocity=0)))
    numerator, denominator = time_signature
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0),
                            mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0),
                            mido.Message("program_change", program=program, time=0)])
    now = 0
    for tick, _, message in sorted(messages, key=lambda m: (m[0], m[1], m[2].note)):
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat, tracks=[track])
    if path is not None:
        with atomic_path(Path(path), suffix=Path(path).suffix) as tmp:
            midi.save(str(tmp))
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
    """Write mono float samples in [-1, 1] as a 16-bit PCM WAV file, atomically."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with atomic_path(Path(path), suffix=".wav") as tmp, wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return Path(path)

