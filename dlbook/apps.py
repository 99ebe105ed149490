"""The apps of the book: six functions that put a chapter's trained model to use, and one error type.

=========  ================================================  =====================================
app        what it does                                      returns
=========  ================================================  =====================================
sentiment  P(positive) of Chinese reviews (chapter 04)       a list of floats, one per text
similar    the nearest words in 红楼梦's vectors (chapter 09)  a list of ``(word, cosine)``
translate  Chinese → English (chapters 11 and 13)            a list of strings, one per sentence
stylize    a photo in a painting's style (chapter 07)        :class:`Stylized`
compose    a new chorale as MIDI, and WAV (chapter 10)       :class:`Composition`
play       the DQN plays Flappy Bird, and a GIF (chapter 12)  :class:`Games`
=========  ================================================  =====================================

They share one shape. Their keyword arguments are named as the ``dlbook`` subcommands name their
options. Every argument is checked before any model is loaded or trained, and a bad one raises
:class:`InvalidInput`, whose message says what is wrong in the argument's own words (no
command-line flags). Progress, and which cached model an app uses (its mode, backend, recipe and
the headline metric it scored, see :func:`dlbook.cache.load_for_app`), go to stderr only, so
stdout carries results. Output files follow one rule: a known extension, in a folder that exists
and is writable; they are written atomically, and a failed write raises InvalidInput and leaves
nothing behind. ``dlbook/cli.py`` maps flags to these functions and turns InvalidInput into one
line, ``dlbook: error: …``, and exit status 2.

This module loads no framework when imported: each app imports what it needs when called.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Iterator, Sequence

TRANSLATORS = ("rnn", "transformer")
DEFAULT_TRANSLATOR = "transformer"
"""The translator with the higher test BLEU in full mode (README, results)."""
PAINTINGS = ("starry_night", "the_scream", "shipwreck", "the_great_wave_off_kanagawa")
LIMITS = {
    "top": (1, 100),             # similar: neighbours
    "beam": (1, 20),             # translate: beam width
    "size": (32, 1024),          # stylize: longer side in pixels (memory grows with its square)
    "steps": (1, 2000),          # stylize: L-BFGS iterations
    "seconds": (0.6, 600.0),     # compose: one quarter note to ten minutes
    "temperature": (0.05, 10.0),  # compose: sampling temperature
    "episodes": (1, 100),        # play: games
}
MAX_SEED = 2**32 - 1


class InvalidInput(ValueError):
    """An app's argument is unusable (a missing file, a number out of range, an unwritable output),
    or its result could not be written. The message says what is wrong and what to do."""


# --- Checks, shared by every app -------------------------------------------------------------

def _whole(value, name: str) -> int:
    low, high = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}, got {value}")
    return value


def _number(value, name: str) -> float:
    low, high = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return float(value)


def _seed(seed) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    return seed


def _choice(value, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _texts(values, what: str) -> list[str]:
    """A list of strings from one string or a sequence of them (at least one)."""
    values = [values] if isinstance(values, str) else list(values)
    if not values:
        raise InvalidInput(f"give at least one {what}")
    for value in values:
        if not isinstance(value, str):
            raise InvalidInput(f"each {what} must be text, got {value!r}")
    return values


def read_lines(path, what: str = "text") -> list[str]:
    """The lines of a UTF-8 file, one ``what`` each (empty lines included), for an app's input file.
    A missing or empty file, a folder or a file that is not UTF-8 raises InvalidInput."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder; give a text file with one {what} per line")
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file; give a text file with one {what} per line")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"{path} is not UTF-8 text ({error.reason} at byte {error.start}); "
                           "save it as UTF-8 and try again") from None
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    lines = text.splitlines()
    if not lines:
        raise InvalidInput(f"{path} is empty; give a text file with one {what} per line")
    return lines


def check_output(path, suffixes: Sequence[str], what: str) -> Path:
    """``path`` as a Path, after checking that a ``what`` can be written there: it ends in one of
    ``suffixes``, is not a folder, and its folder exists and is writable (no folder is created)."""
    from dlbook.paths import can_write_in

    if path is None or str(path) == "":
        raise InvalidInput(f"give the {what} file to write")
    path = Path(path).expanduser()
    if path.suffix.lower() not in suffixes:
        raise InvalidInput(f"the {what} file {path} should end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise InvalidInput(f"the {what} file {path} is a folder; give a file name such as {path / ('out' + suffixes[0])}")
    folder = path.parent
    if not folder.is_dir():
        raise InvalidInput(f"cannot write {path}: the folder {folder} does not exist; create it first")
    if not can_write_in(folder):
        raise InvalidInput(f"cannot write {path}: the folder {folder} is not writable; choose another place")
    return path


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn a failed write of ``path`` (disk full, permissions changed) into InvalidInput."""
    try:
        yield
    except OSError as error:
        raise InvalidInput(f"could not write {path}: {error.strerror or error}") from None


@contextlib.contextmanager
def _reporting(progress: bool) -> Iterator[None]:
    """Keep stdout for results: what a model's loading or training prints (Keras's progress bars)
    goes to stderr, or nowhere without ``progress``. The frameworks' C++ start-up lines, which
    they print while they are first imported, are hidden."""
    from dlbook import _import_frameworks_quietly

    _import_frameworks_quietly()
    target = sys.stderr if progress else io.StringIO()
    with contextlib.redirect_stdout(target):
        if progress:
            yield
        else:
            with contextlib.redirect_stderr(target):
                yield


# --- The apps --------------------------------------------------------------------------------

def sentiment(texts: str | Sequence[str], progress: bool = True) -> list[float]:
    """P(positive) of each Chinese review by chapter 04's classifier (cached; trained first if
    missing). An empty, punctuation-only or non-Chinese text gets a probability too: the model
    has seen none of its words, so it answers what it answers for no evidence."""
    texts = _texts(texts, "review")
    with _reporting(progress):
        from dlbook import cache
        from dlbook.text import sentiment as chapter

        classifier, _ = cache.load_for_app(chapter.CLASSIFIER, progress=progress)
        return [float(p) for p in classifier.predict(texts)]


def similar(word: str, top: int = 10, progress: bool = True) -> list[tuple[str, float]]:
    """The ``top`` words of 红楼梦 nearest to ``word`` by the cosine of chapter 09's word vectors
    (cached; trained first if missing), nearest first, as ``(word, cosine)``."""
    if not isinstance(word, str) or not word.strip() or any(character.isspace() for character in word):
        raise InvalidInput(f"word must be one word of the novel, e.g. 宝玉, got {word!r}")
    top = _whole(top, "top")
    with _reporting(progress):
        from dlbook import cache
        from dlbook.text import word_vectors as chapter

        if cache.best_entry(chapter.VECTORS) is None:  # check the word before training for minutes
            known = set(chapter.novel_vocabulary(min_count=chapter.recipe()["min_count"]).tokens)
            if word not in known - {"<pad>", "<unk>"}:
                raise InvalidInput(f"{word!r} is not among the words of 红楼梦 that get vectors (those seen at least "
                                   f"{chapter.recipe()['min_count']} times); try another word, e.g. 宝玉 or 黛玉")
        vectors, entry = cache.load_for_app(chapter.VECTORS, progress=progress, announce=False)
        try:
            neighbours = vectors.most_similar(word, k=top)
        except ValueError as error:  # not among the words: the message suggests near ones
            raise InvalidInput(str(error)) from None
        if progress:
            cache.announce_entry(entry)
        return neighbours


def translate(sentences: str | Sequence[str], model: str = DEFAULT_TRANSLATOR, beam: int = 5,
              progress: bool = True) -> list[str]:
    """English translations of Chinese sentences by chapter 13's Transformer (``model="transformer"``)
    or chapter 11's GRU with attention (``"rnn"``), beam search of width ``beam`` (1 is greedy).
    One line per sentence: an empty sentence gives an empty line; very long ones are cut to 100
    characters; characters never seen in training are read as unknown."""
    sentences = _texts(sentences, "sentence")
    model = _choice(model, "model", TRANSLATORS)
    beam = _whole(beam, "beam")
    with _reporting(progress):
        from dlbook import cache
        from dlbook.translation import recipes

        translator, _ = cache.load_for_app(recipes.cached_translator(model), progress=progress)
        return translator.translate(sentences, beam=beam)


@dataclasses.dataclass(frozen=True)
class Stylized:
    """What :func:`stylize` wrote: the picture's path and size, the L-BFGS iterations run (fewer
    than asked when the optimiser stopped early, with its reason), and the picture's style and
    content ratios (see :func:`dlbook.vision.style.evaluate`)."""

    output: Path
    width: int
    height: int
    iterations: int
    stop_reason: str
    style_ratio: float
    content_ratio: float


def stylize(content, style, output, size: int = 384, steps: int = 300, progress: bool = True) -> Stylized:
    """Paint the photo ``content`` (an image file) in ``style`` (a bundled painting's name, see
    :data:`PAINTINGS`, or an image file) and write the picture to ``output`` (.png or .jpg).
    ``size`` is the longer side in pixels, ``steps`` the L-BFGS iterations. Style transfer needs
    no trained model: it optimises the picture on VGG16's features (chapter 07). If the optimiser
    stops before ``steps`` (it found no better step), the picture is written and a warning says so."""
    size, steps = _whole(size, "size"), _whole(steps, "steps")
    output = check_output(output, (".png", ".jpg", ".jpeg"), "picture")
    from dlbook.vision import images

    try:
        photo = images.load_image(content, size=size)
        style_path = _style_file(style)
        painting = images.load_image(style_path, size=max(photo.shape[:2]))
    except (ValueError, FileNotFoundError) as error:
        raise InvalidInput(str(error)) from None
    with _reporting(progress):
        from dlbook.vision import style as chapter

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", chapter.StoppedEarly)  # said below, in the app's words
            result = chapter.transfer(photo, painting, steps, progress=progress, label="stylize")
        ratios = chapter.evaluate(result.image, photo, painting)
    iterations = result.iterations
    if result.stopped_early:
        print(f"dlbook: warning: L-BFGS stopped after {iterations} of {steps} iterations ({result.message}); "
              "the picture is what it reached", file=sys.stderr)
    with _writing(output):
        images.save_image(result.image, output)
    return Stylized(output, photo.shape[1], photo.shape[0], iterations, result.message,
                    ratios["style_ratio"], ratios["content_ratio"])


def _style_file(style) -> Path:
    if str(style) in PAINTINGS:
        from dlbook.data import fetch

        return fetch("style_images_pd", f"{style}.jpg")
    path = Path(style).expanduser()
    if not path.exists():
        raise InvalidInput(f"style {str(style)!r} is neither a bundled painting ({', '.join(PAINTINGS)}) nor an "
                           "image file")
    return path


@dataclasses.dataclass(frozen=True)
class Composition:
    """What :func:`compose` wrote: the MIDI file (and WAV file, or None), the piece's frames
    (quarter notes), notes and length in seconds."""

    midi: Path
    wav: Path | None
    frames: int
    notes: int
    seconds: float


def compose(output, seconds: float = 30.0, temperature: float = 0.8, seed: int | None = None, wav=None,
            progress: bool = True) -> Composition:
    """A new chorale by chapter 10's LSTM (cached; trained first if missing), written to the MIDI
    file ``output`` at the music's tempo (100 beats a minute, 4/4) and, with ``wav``, rendered to a
    WAV file. ``seconds`` of music start from a C major chord moved to a random key and continue
    by sampling at ``temperature`` (lower is safer, higher bolder); ``seed`` repeats a piece
    (None: a new one each time)."""
    seconds, temperature = _number(seconds, "seconds"), _number(temperature, "temperature")
    seed = _seed(seed)
    output = check_output(output, (".mid", ".midi"), "MIDI")
    if wav is not None:
        wav = check_output(wav, (".wav",), "WAV")
        if wav.resolve() == output.resolve():
            raise InvalidInput("the MIDI and WAV files must differ")
    with _reporting(progress):
        import numpy as np

        from dlbook import cache
        from dlbook.music import composer, midi

        model, _ = cache.load_for_app(composer.CHORALE_LSTM, progress=progress)
        roll = composer.compose_roll(model, seconds, temperature, np.random.default_rng(seed))
    notes = midi.roll_to_notes(roll)
    with _writing(output):
        midi.notes_to_midi(notes, output)
    if wav is not None:
        with _writing(wav):
            midi.write_wav(midi.synthesize(notes), wav)
    return Composition(output, wav, len(roll), len(notes), len(roll) * midi.SECONDS_PER_QUARTER)


@dataclasses.dataclass(frozen=True)
class Games:
    """What :func:`play` did: the pipes passed in each game, and the GIF written (or None)."""

    scores: list[int]
    gif: Path | None


def play(episodes: int = 5, gif=None, seed: int | None = None, progress: bool = True) -> Games:
    """Chapter 12's DQN (cached; trained first if missing) plays ``episodes`` greedy games of Flappy
    Bird with seeds ``seed, seed + 1, …`` (None: a random first seed), at most 1 000 pipes each.
    With ``gif``, the first game's first 20 seconds are written there as an animated GIF."""
    episodes, seed = _whole(episodes, "episodes"), _seed(seed)
    gif = None if gif is None else check_output(gif, (".gif",), "GIF")
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little") % (MAX_SEED - LIMITS["episodes"][1])
    elif seed + episodes - 1 > MAX_SEED:
        raise InvalidInput(f"seed + episodes - 1 must be at most {MAX_SEED}")
    with _reporting(progress):
        from dlbook import cache
        from dlbook.rl import flappy

        model, _ = cache.load_for_app(flappy.cached_agent(), progress=progress)
        frame_skip = flappy.recipe()["frame_skip"]
        scores = flappy.evaluate(model, episodes=episodes, seed=seed, frame_skip=frame_skip, progress=progress)
        frames = flappy.play_frames(model, seed=seed, frame_skip=frame_skip)[0] if gif is not None else None
    if gif is not None:
        with _writing(gif):
            flappy.save_gif(frames, gif)
    return Games([int(s) for s in scores], gif)
