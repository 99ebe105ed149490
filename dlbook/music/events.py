"""The book's note events (chapter 10): channel 0's ``note_on`` messages of a MIDI file as
``(pitch, velocity, Δt)``, one-hot encoded in 89 + 128 + 12 = 229 dimensions (:class:`EventCoding`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from dlbook.data import fetch
from dlbook.music.midi import Note

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
        """The classes of ``events``' Δt range. Fit it on the training part only (see
        :func:`window_events`): the held-out part's Δt must not shape the classes it is scored on."""
        positive = events[events[:, 2] > 0, 2]
        if not len(positive):
            raise ValueError("no event with a positive Δt to fit the time classes on")
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


def window_events(starts, window: int = 30) -> np.ndarray:
    """The indices of the events that the windows starting at ``starts`` read or predict (events
    ``start … start + window``), sorted: the training part of a split of :func:`event_windows`."""
    starts = np.asarray(starts, dtype=int).reshape(-1)
    return np.unique(starts[:, None] + np.arange(window + 1))


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
