"""The JSB Chorales as piano rolls (chapter 10), and the frame NLL that scores models of them.

Each chorale is a piano roll ``(frames, 88)`` of 0/1, one row per quarter note (see
:mod:`dlbook.music.midi`). :func:`frame_nll` is the standard score of polyphonic music models
(Boulanger-Lewandowski et al. 2012; Bai, Kolter and Koltun 2018): the binary cross-entropy summed
over the 88 keys, averaged over all predicted frames, in nats.
"""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from dlbook.data import fetch
from dlbook.music.midi import KEYS, LOWEST_PITCH

SPLITS = {"train": "train", "validation": "valid", "test": "test"}
"""dlbook's split names and the JSON file's."""
EPSILON = 1e-7


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


