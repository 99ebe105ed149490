"""Chapter 10's composers: the book's note-event LSTM, the chorale LSTM, sampling.

* The book's model (:func:`event_model`) reads 30 one-hot events of ``krebs.mid`` and predicts the
  next event's pitch, velocity and Δt with three softmax heads; :func:`event_baselines` gives the
  trivial rules it must be compared with.
* The chorale model (:func:`chorale_model`) reads a piano roll frame by frame and gives, for each
  of the 88 keys, the probability that it sounds in the next frame (independent sigmoids). It trains
  on whole chorales (:class:`ChoraleBatches`, bucketed by length, randomly transposed) with the
  frame NLL as its loss (:class:`FrameNLL`) and is scored by :func:`chorale_nll`.
* :func:`sample_rolls` composes by sampling frame after frame at a temperature; :func:`compose_roll`
  writes a new piece from an opening chord, which the app ``dlbook.apps.compose`` turns into MIDI
  (and WAV) with the chapter's model from the model cache (:data:`CHORALE_LSTM`).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from dlbook import cache
from dlbook.config import compile_options, current, pick
from dlbook.music import events, midi, pianoroll

# Every LSTM here is built with dtype="float32": under a mixed policy (mixed_bfloat16, the GPU
# default of full mode) it still computes in float32, which cuDNN requires on a TensorFlow GPU and
# which keeps its cell state exact over long pieces. Its inputs are cast to float32 automatically;
# the layers after it go back to the policy. The output heads are float32 too (losses, softmax).

# --- The book's event model -------------------------------------------------------------------


def event_model(window: int = 30, units: int = 128, dropout: float = 0.2) -> keras.Model:
    """The book's network: an LSTM over ``window`` one-hot events (229 wide), dropout, and one
    softmax head each for the next event's pitch (89), velocity (128) and Δt (12), in float32."""
    inputs = keras.Input((window, events.EVENT_SIZE), name="events")
    state = layers.Dropout(dropout)(layers.LSTM(units, dtype="float32", name="lstm")(inputs))
    sizes = (events.PITCH_CLASSES, events.VELOCITY_CLASSES, events.TIME_CLASSES)
    outputs = [layers.Dense(size, activation="softmax", dtype="float32", name=name)(state)
               for name, size in zip(events.HEADS, sizes)]
    return keras.Model(inputs, outputs, name="book_event_lstm")


def fit_event_model(model: keras.Model, x, y, validation=None, epochs: int = 100, batch_size: int = 30,
                    learning_rate: float = 1e-3, verbose="auto"):
    """Train the event model with the book's settings (Adam, the three cross-entropies summed);
    ``y`` and ``validation``'s targets are class arrays ``(n, 3)``."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=["sparse_categorical_crossentropy"] * 3,
                  metrics=[["accuracy"]] * 3, **compile_options())
    val = None if validation is None else (validation[0], list(np.asarray(validation[1]).T))
    return model.fit(x, list(np.asarray(y).T), validation_data=val, epochs=epochs, batch_size=batch_size,
                     verbose=verbose)


def head_accuracies(model: keras.Model, x, y) -> dict[str, float]:
    """Accuracy of each head on windows ``x`` with target classes ``y``, and their mean (the book's score)."""
    predictions = model.predict(x, verbose=0)
    scores = {h: float(np.mean(p.argmax(-1) == y[:, i])) for i, (h, p) in enumerate(zip(events.HEADS, predictions))}
    return {**scores, "mean": float(np.mean(list(scores.values())))}


def event_baselines(classes: np.ndarray, train_targets: np.ndarray, test_targets: np.ndarray) -> dict[str, dict]:
    """Accuracy of trivial rules on the events at indices ``test_targets`` of ``classes``: per head,
    ``majority`` (the commonest class among ``train_targets``), ``repeat`` (the previous event's)
    and ``alternate`` (the class of two events before)."""
    classes = np.asarray(classes)
    out = {}
    for i, head in enumerate(events.HEADS):
        truth = classes[test_targets, i]
        majority = np.bincount(classes[train_targets, i]).argmax()
        out[head] = {"majority": float(np.mean(truth == majority)),
                     "repeat": float(np.mean(truth == classes[test_targets - 1, i])),
                     "alternate": float(np.mean(truth == classes[test_targets - 2, i]))}
    return out


# --- The chorale model ------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="dlbook")
class FrameNLL(keras.losses.Loss):
    """The frame NLL as a Keras loss: binary cross-entropy summed over the 88 keys of each frame,
    averaged over the frames whose sample weight is 1 (padding gets 0). Computed in float32."""

    def __init__(self, name: str = "frame_nll", reduction: str = "mean_with_sample_weight", dtype="float32"):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        p = ops.clip(ops.cast(y_pred, "float32"), pianoroll.EPSILON, 1 - pianoroll.EPSILON)
        y = ops.cast(y_true, "float32")
        return -ops.sum(y * ops.log(p) + (1 - y) * ops.log(1 - p), axis=-1)


def chorale_recipe(mode: str | None = None, seed: int | None = None) -> dict:
    """The chapter's recipe of the chorale LSTM in the current mode or ``mode``, trained with the run's
    seed (``config.seed``) or ``seed``; the model cache keys on it, so each seed trains its own model."""
    seed = current().seed if seed is None else seed
    return pick(mode=mode,
        fast=dict(units=128, layers=1, dropout=0.3, input_dropout=0.1, transpose=0, batch_size=16,
                  learning_rate=1e-2, epochs=15, patience=15, bucket=32, seed=seed),
        full=dict(units=256, layers=1, dropout=0.3, input_dropout=0.1, transpose=0, batch_size=16,
                  learning_rate=5e-3, epochs=100, patience=8, bucket=32, seed=seed))


def chorale_model(settings: dict) -> keras.Model:
    """Piano roll in, next-frame key probabilities out: input dropout (keys of the input frames
    randomly silenced while training), ``layers`` LSTMs of ``units`` with dropout after each, and
    88 sigmoids (float32, so mixed precision leaves the probabilities exact)."""
    inputs = keras.Input((None, pianoroll.KEYS), name="roll")
    x = layers.Dropout(settings["input_dropout"], name="input_dropout")(inputs)
    for i in range(settings["layers"]):
        x = layers.LSTM(settings["units"], return_sequences=True, dtype="float32", name=f"lstm_{i}")(x)
        x = layers.Dropout(settings["dropout"], name=f"dropout_{i}")(x)
    outputs = layers.Dense(pianoroll.KEYS, activation="sigmoid", dtype="float32", name="next_frame")(x)
    return keras.Model(inputs, outputs, name="chorale_lstm")


class ChoraleBatches(keras.utils.PyDataset):
    """Batches of whole chorales for next-frame training: ``(roll[:-1], roll[1:], real-frame weights)``.

    Chorales of similar length share a batch (sorted by length with a little noise, reshuffled every
    epoch), padded with silence to a multiple of ``bucket`` frames, so few distinct shapes reach a
    compiler and little of a batch is padding. With ``transpose`` > 0 each chorale is moved by a
    random number of semitones in [-transpose, transpose] each time it is drawn.
    """

    def __init__(self, rolls, batch_size: int = 16, bucket: int = 32, transpose: int = 0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.rolls, self.batch_size, self.bucket, self.transpose = list(rolls), batch_size, bucket, transpose
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def on_epoch_end(self):
        lengths = np.array([len(r) for r in self.rolls]) + self.rng.uniform(0, self.bucket, len(self.rolls))
        order = np.argsort(lengths, kind="stable")
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        self.batches = [batches[i] for i in self.rng.permutation(len(batches))]
        # Keras infers the batches' shapes from the first two; if they differ in length, the time
        # axis is left open (None) and batches of every length may follow.
        widths = [self._width(b) for b in self.batches]
        other = next((i for i, w in enumerate(widths) if w != widths[0]), None)
        if other is not None:
            self.batches[1], self.batches[other] = self.batches[other], self.batches[1]

    def _width(self, batch) -> int:
        return self.bucket * math.ceil((max(len(self.rolls[i]) for i in batch) - 1) / self.bucket)

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        batch = self.batches[index]
        rolls = [self.rolls[i] for i in batch]
        if self.transpose:
            rolls = [pianoroll.transpose_roll(r, int(s)) for r, s in
                     zip(rolls, self.rng.integers(-self.transpose, self.transpose + 1, len(rolls)))]
        width = self._width(batch)
        x, real = pianoroll.pad_rolls([r[:-1] for r in rolls], width)
        y, _ = pianoroll.pad_rolls([r[1:] for r in rolls], width)
        return x, y, real


def validation_arrays(rolls) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, weights)`` of whole chorales padded to one length: evaluated as one batch, Keras's
    loss is then exactly the frame NLL."""
    x, real = pianoroll.pad_rolls([r[:-1] for r in rolls])
    y, _ = pianoroll.pad_rolls([r[1:] for r in rolls])
    return x, y, real


def train_chorale_model(chorales: dict, settings: dict | None = None, verbose="auto"):
    """A chorale model of ``settings`` (default: :func:`chorale_recipe`) trained on
    ``chorales["train"]``; early stopping on the validation NLL keeps the best epoch's weights.
    Returns ``(model, history)``."""
    settings = settings or chorale_recipe()
    keras.utils.set_random_seed(settings["seed"])
    model = chorale_model(settings)
    model.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"], clipnorm=1.0), loss=FrameNLL(),
                  **compile_options())
    batches = ChoraleBatches(chorales["train"], settings["batch_size"], settings["bucket"], settings["transpose"],
                             seed=settings["seed"])
    x, y, weights = validation_arrays(chorales["validation"])
    stop = keras.callbacks.EarlyStopping("val_loss", patience=settings["patience"], restore_best_weights=True)
    history = model.fit(batches, validation_data=(x, y, weights), validation_batch_size=len(x),
                        epochs=settings["epochs"], callbacks=[stop], verbose=verbose)
    return model, history


def predict_rolls(model: keras.Model, rolls, batch_size: int = 128) -> list[np.ndarray]:
    """For each roll, the model's probabilities ``(frames - 1, 88)`` for frames 1, 2, … given the frames before."""
    x, _ = pianoroll.pad_rolls([r[:-1] for r in rolls])
    p = model.predict(x, batch_size=batch_size, verbose=0)
    return [p[i, :len(r) - 1].astype("float64") for i, r in enumerate(rolls)]


def chorale_nll(model: keras.Model, rolls) -> float:
    """The frame NLL (nats) of ``model`` on ``rolls``: each roll alone, x = roll[:-1], y = roll[1:]."""
    return pianoroll.frame_nll(predict_rolls(model, rolls), [r[1:] for r in rolls])


def logistic_baseline(chorales: dict, lags: int = 2, epochs: int = 60, verbose=0):
    """Logistic regression of each key of the next frame on the last ``lags`` frames (one Dense
    layer of 88 sigmoids), trained with early stopping on the validation NLL. Returns ``(model,
    test NLL)``: what a model scores that sees the last two chords but no longer context."""
    def arrays(rolls):
        return np.concatenate([pianoroll.lagged_frames(r, lags) for r in rolls]), np.concatenate([r[1:] for r in rolls])

    inputs = keras.Input((pianoroll.KEYS * lags,))
    model = keras.Model(inputs, layers.Dense(pianoroll.KEYS, activation="sigmoid", dtype="float32")(inputs))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=FrameNLL(reduction="sum_over_batch_size"),
                  **compile_options())
    stop = keras.callbacks.EarlyStopping("val_loss", patience=5, restore_best_weights=True)
    model.fit(*arrays(chorales["train"]), validation_data=arrays(chorales["validation"]), batch_size=128,
              epochs=epochs, callbacks=[stop], verbose=verbose)
    x, y = arrays(chorales["test"])
    return model, pianoroll.frame_nll(model.predict(x, batch_size=1024, verbose=0), y)


# --- Composing --------------------------------------------------------------------------------


def sharpen(probabilities, temperature: float) -> np.ndarray:
    """Bernoulli probabilities at a temperature: ``sigmoid(logit(p) / T)``. T < 1 pushes them
    towards 0 and 1 (safer music), T > 1 towards ½ (wilder); T = 1 leaves them."""
    if not temperature > 0:
        raise ValueError(f"the temperature must be positive, got {temperature}")
    p = np.clip(np.asarray(probabilities, dtype="float64"), pianoroll.EPSILON, 1 - pianoroll.EPSILON)
    return 0.5 * (1.0 + np.tanh((np.log(p) - np.log1p(-p)) / (2.0 * temperature)))  # σ(z) without overflow


def _steps(model: keras.Model):
    """The chorale model's layers for stepping one frame at a time (dropout is inactive there)."""
    parts = []
    for layer in model.layers:
        if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout, keras.layers.GaussianNoise)):
            continue
        if not isinstance(layer, (keras.layers.LSTM, keras.layers.Dense)):
            raise ValueError(f"cannot step layer {layer.name} ({type(layer).__name__}) one frame at a time")
        parts.append(layer)
    return parts


def sample_rolls(model: keras.Model, first: np.ndarray, steps: int, temperature: float = 1.0,
                 seed: int | np.random.Generator | None = None, teacher: np.ndarray | None = None) -> np.ndarray:
    """Compose: from first frames ``first`` ``(batch, 88)``, draw each next frame key by key from the
    model's probabilities at ``temperature`` and feed it back, until ``steps`` frames (the first
    included). Returns ``(batch, steps, 88)`` float32 0/1. The LSTMs run one step at a time with their
    states carried over (as fast as reading the piece once). With ``teacher`` ``(batch, steps, 88)``
    the frames fed back are the teacher's and the probabilities are returned instead (a check)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    first = np.asarray(first, dtype="float32").reshape(-1, pianoroll.KEYS)
    parts = _steps(model)
    states = {l.name: [ops.zeros((len(first), l.units), l.compute_dtype) for _ in range(2)]
              for l in parts if isinstance(l, keras.layers.LSTM)}
    frames, probabilities, frame = [first], [], first
    for t in range(1, steps):
        x = ops.convert_to_tensor(frame)
        for layer in parts:
            if isinstance(layer, keras.layers.LSTM):
                x, states[layer.name] = layer.cell(x, states[layer.name], training=False)
            else:
                x = layer(x)
        p = ops.convert_to_numpy(ops.cast(x, "float32")).astype("float64")
        probabilities.append(p)
        frame = teacher[:, t] if teacher is not None else (rng.random(p.shape) < sharpen(p, temperature))
        frames.append(np.asarray(frame, dtype="float32"))
    if teacher is not None:
        return np.stack(probabilities, axis=1)
    return np.stack(frames, axis=1)


CHORALE_LSTM = cache.CachedModel(
    name="chorale_lstm",
    description="chorale LSTM (chapter 10's recipe)",
    recipe=lambda mode: chorale_recipe(mode),
    architecture=lambda settings: chorale_model(settings),
    train=lambda: train_chorale_model(pianoroll.load_jsb_chorales(), chorale_recipe(), verbose=2)[0],
)
"""Chapter 10's chorale LSTM in the model cache (the app ``dlbook compose`` uses it)."""

OPENING = (48, 55, 64, 72)
"""The app's first chord (C major: C3 G3 E4 C5), moved to a key chosen by the seed."""


def compose_roll(model: keras.Model, seconds: float, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """A new chorale of ``seconds`` (a quarter note is 0.6 s) as a piano roll: from a C major chord
    moved to a random key, continued by :func:`sample_rolls` at ``temperature``."""
    steps = max(2, math.ceil(seconds / midi.SECONDS_PER_QUARTER))
    shift = int(rng.integers(-5, 7))
    first = pianoroll.to_piano_roll([[pitch + shift for pitch in OPENING]])
    return sample_rolls(model, first, steps, temperature, rng)[0]
