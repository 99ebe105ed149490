"""Counting with recurrent networks (chapter 10): strings 0ⁿ1ⁿ, tiny RNN and LSTM models, gate traces.

A network reads ``0…01…1`` symbol by symbol and predicts the next symbol: ``0``, ``1`` or the end.
While it reads zeros it cannot know when the ones begin, but once it has seen the first 1 every
next symbol is determined: exactly as many ones as there were zeros, then the end. Predicting
those positions right for every n requires counting, which an LSTM's cell state can do and a
small RNN's squashed state cannot (Gers and Schmidhuber 2001).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import layers, ops

from dlbook.config import compile_options

SYMBOLS = ("0", "1", "end")


@dataclasses.dataclass
class CountingData:
    """Strings 0ⁿ1ⁿ for next-symbol prediction, padded to one length ``L``.

    ``x`` ``(strings, L, 2)``: the one-hot input symbols (0 or 1; padding all zero); ``y`` ``(strings,
    L)``: the index in :data:`SYMBOLS` of the symbol after each input symbol; ``weights``: 1 on real
    positions; ``scored``: True where the next symbol is determined (the input is a 1).
    """

    n: np.ndarray
    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    scored: np.ndarray


def counting_strings(ns, length: int | None = None) -> CountingData:
    """The strings 0ⁿ1ⁿ for each n in ``ns`` (n ≥ 1), as :class:`CountingData` padded to ``length``
    positions (default 2·max(n); a string of n reads 2n symbols)."""
    ns = np.asarray(list(ns), dtype=int)
    if len(ns) == 0 or ns.min() < 1:
        raise ValueError("each n must be at least 1")
    length = length or 2 * int(ns.max())
    if length < 2 * ns.max():
        raise ValueError(f"length {length} is shorter than the longest string ({2 * ns.max()} symbols)")
    x = np.zeros((len(ns), length, 2), dtype="float32")
    y = np.zeros((len(ns), length), dtype="int32")
    weights = np.zeros((len(ns), length), dtype="float32")
    for i, n in enumerate(ns):
        x[i, :n, 0] = 1
        x[i, n:2 * n, 1] = 1
        y[i, n - 1:2 * n - 1] = 1          # after the last 0 and every 1 but the last: a 1
        y[i, 2 * n - 1] = 2                # after the last 1: the end
        weights[i, :2 * n] = 1
    return CountingData(ns, x, y, weights, x[..., 1] == 1)


def counting_model(kind: str, units: int) -> keras.Model:
    """``"rnn"`` (a SimpleRNN, tanh) or ``"lstm"`` with ``units`` units, then a softmax over
    :data:`SYMBOLS` at every position (float32)."""
    recurrent = {"rnn": layers.SimpleRNN, "lstm": layers.LSTM}
    if kind not in recurrent:
        raise ValueError(f"unknown kind {kind!r}: choose 'rnn' or 'lstm'")
    inputs = keras.Input((None, 2), name="symbols")
    # float32 under a mixed policy too (cuDNN on a TensorFlow GPU refuses bfloat16; a count needs the precision)
    states = recurrent[kind](units, return_sequences=True, dtype="float32", name="recurrent")(inputs)
    outputs = layers.Dense(len(SYMBOLS), activation="softmax", dtype="float32", name="next")(states)
    return keras.Model(inputs, outputs, name=f"counting_{kind}")


def hand_counter(step: float = 0.5, reading_ones: float = 0.3) -> keras.Model:
    """A 1-unit LSTM whose weights are set by hand so that it counts, for any n.

    Input and forget gates stay open (bias 16: σ = 1 − 10⁻⁷), so the cell adds the candidate g at
    every step: g = +``step`` on a 0 and −``step`` on a 1, and after k zeros and j ones c = (k − j)·step.
    The output gate is open on a 0 and at ``reading_ones`` on a 1, so h = o·tanh(c) falls in three
    bands, read by the softmax: large while reading zeros ("0"), between 0.3·tanh(step) and 0.3 while
    ones remain ("1"), and 0 when the count is back to zero ("end").
    """
    model = counting_model("lstm", 1)
    a = float(np.arctanh(step))
    kernel = np.array([[0.0, 0.0, a, 10.0],                                     # a 0: i, f, g, o
                       [0.0, 0.0, -a, float(np.log(reading_ones / (1 - reading_ones)))]])  # a 1
    low, high = 0.5 * reading_ones * np.tanh(step), 0.5 * (reading_ones + np.tanh(step))
    # Logits of "0", "1", "end" as lines in h: "end" below `low`, "1" between, "0" above `high`.
    dense = np.array([[200.0, 100.0, 0.0]]), np.array([-100 * high - 100 * low, -100 * low, 0.0])
    model.get_layer("recurrent").set_weights([kernel, np.zeros((1, 4)), np.array([16.0, 16.0, 0.0, 0.0])])
    model.get_layer("next").set_weights(list(dense))
    return model


def counting_correct(model: keras.Model, data: CountingData) -> np.ndarray:
    """Per string, whether the model's likeliest next symbol is right at every determined position."""
    predicted = model.predict(data.x, verbose=0).argmax(-1)
    return np.all((predicted == data.y) | ~data.scored, axis=1)


def train_counting_model(kind: str, units: int, train_ns=range(1, 11), epochs: int = 100, copies: int = 16,
                         batch_size: int = 32, learning_rate: float = 0.02, tries: int = 3, seed: int = 0, verbose=0):
    """Train :func:`counting_model` on the strings of ``train_ns`` (``copies`` of each, shuffled,
    Adam). Tiny networks sometimes stall in a poor start, so up to ``tries`` seeds are tried and the
    first that gets every training string right is kept (else the last). Returns ``(model, history,
    tries used)``."""
    data = counting_strings(np.repeat(list(train_ns), copies))
    for attempt in range(1, tries + 1):
        keras.utils.set_random_seed(seed + attempt - 1)
        model = counting_model(kind, units)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                      **compile_options())
        history = model.fit(data.x, data.y, sample_weight=data.weights, batch_size=batch_size, epochs=epochs,
                            verbose=verbose)
        if counting_correct(model, data).all():
            break
    return model, history, attempt


def recurrent_states(model: keras.Model, x) -> np.ndarray:
    """The recurrent layer's output (hidden state) at every position, ``(strings, L, units)``."""
    probe = keras.Model(model.inputs, model.get_layer("recurrent").output)
    return np.asarray(probe.predict(x, verbose=0), dtype="float64")


def lstm_trace(model: keras.Model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Everything inside the LSTM of a counting model as it reads one string ``x`` ``(L, 2)``,
    recomputed in NumPy from its weights (Keras's gate order is i, f, c, o):

    ``input``/``forget``/``output`` gates, ``candidate`` g, ``cell`` c and ``hidden`` h, each ``(L, units)``:
    i, f, o = σ(W x + U h + b) per gate, g = tanh(…), c ← f·c + i·g, h = o·tanh(c).
    """
    cell = model.get_layer("recurrent").cell
    kernel, recurrent, bias = (np.asarray(ops.convert_to_numpy(w), dtype="float64")
                               for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    units = recurrent.shape[0]
    h, c = np.zeros(units), np.zeros(units)
    trace = {k: [] for k in ("input", "forget", "candidate", "output", "cell", "hidden")}
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for step in np.asarray(x, dtype="float64"):
        z = step @ kernel + h @ recurrent + bias
        i, f, g, o = sigmoid(z[:units]), sigmoid(z[units:2 * units]), np.tanh(z[2 * units:3 * units]), sigmoid(z[3 * units:])
        c = f * c + i * g
        h = o * np.tanh(c)
        for name, value in zip(trace, (i, f, g, o, c, h)):
            trace[name].append(value)
    return {name: np.array(values) for name, values in trace.items()}
