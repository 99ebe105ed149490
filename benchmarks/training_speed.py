"""Training speed of chapter 05's networks on each Keras backend and setting, against the book's loop.

A benchmark, not a test: it measures images per second over epochs of 20 000 MNIST training
images at batch size 64 with SGD (momentum 0.9), after an untimed warm-up epoch that pays for
tracing and compilation. Each configuration times several epochs and reports its fastest: on a
shared 2-core machine an epoch now and then runs up to 40 % slower for reasons outside the
program (a single epoch once made one setting look 44 % slower than another), and the fastest
epoch is the one least disturbed. Each configuration runs in its own process (Keras fixes its
backend at import).

    python benchmarks/training_speed.py                 # every configuration; prints a Markdown table
    python benchmarks/training_speed.py --only jax      # configurations whose name contains "jax"

Configurations: the book's network (``book_cnn``) and chapter 05's stronger network, with
``RandomShift`` (now) and with Keras's ``RandomTranslation`` (before; ``supports_jit = False``),
on TensorFlow, JAX and PyTorch with dlbook's settings (``dlbook.compile_options()``: on a CPU,
32 steps per call on TensorFlow, one on JAX and PyTorch), with one step per call (Keras's
default), with ``jit_compile=True``, with ``steps_per_execution=32`` and with ``mixed_bfloat16``.
``plain-torch`` is the book's own network trained the book's way, a hand-written PyTorch loop over a
``DataLoader``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import time

IMAGES, BATCH, WARMUP_EPOCHS = 20_000, 64, 1
# Epochs timed per configuration (the fastest counts): more for the book's small CNN, whose epoch is short.
TIMED_EPOCHS = {"book_cnn": 5}
DEFAULT_TIMED_EPOCHS = 3
DLBOOK = None  # compile settings: dlbook.compile_options() of the worker's backend and machine

# name: (backend, compile settings, dtype policy). "(dlbook)" rows compile with what dlbook chooses
# on this machine; the network as it was ("before") runs with them too.
SETTINGS = {
    "tensorflow (dlbook)": ("tensorflow", DLBOOK, "float32"),
    "tensorflow steps_per_execution=1": ("tensorflow", {"steps_per_execution": 1}, "float32"),
    "tensorflow jit_compile=True": ("tensorflow", {"jit_compile": True}, "float32"),
    "tensorflow steps_per_execution=32 + mixed_bfloat16": ("tensorflow", {"steps_per_execution": 32}, "mixed_bfloat16"),
    "jax (dlbook)": ("jax", DLBOOK, "float32"),
    "jax steps_per_execution=32": ("jax", {"steps_per_execution": 32}, "float32"),
    "torch (dlbook)": ("torch", DLBOOK, "float32"),
}
MODELS = ("book_cnn", "digit_classifier")
BEFORE = "digit_classifier_before"


def _keras_model(name: str):
    import keras

    from dlbook.vision import cnn

    if name == "book_cnn":
        return cnn.book_cnn()
    if name == "digit_classifier":
        return cnn.digit_classifier()
    # Chapter 05's network as it was: Keras's RandomTranslation, which keeps the model out of XLA.
    inputs = keras.Input(shape=(28, 28, 1))
    shifted = keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax", dtype="float32")(cnn.digit_trunk()(shifted))
    return keras.Model(inputs, outputs)


def fastest_epoch(train_one_epoch, epochs: int) -> float:
    """Images per second of the fastest of ``epochs`` timed calls of ``train_one_epoch()``."""
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        train_one_epoch()
        seconds.append(time.perf_counter() - start)
    return IMAGES / min(seconds)


def measure_keras(setting: str, model_name: str) -> dict:
    import keras

    import dlbook
    from dlbook.vision import datasets

    _, options, policy = SETTINGS[setting]
    dlbook.setup(mode="fast", precision=policy, verbose=False)
    options = dlbook.compile_options() if options is DLBOOK else options
    digits = datasets.load_digits(train_size=IMAGES)
    model = _keras_model(model_name)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy", **options)

    def epoch():
        model.fit(digits.x_train, digits.y_train, batch_size=BATCH, epochs=1, verbose=0)

    for _ in range(WARMUP_EPOCHS):
        epoch()
    speed = fastest_epoch(epoch, TIMED_EPOCHS.get(model_name, DEFAULT_TIMED_EPOCHS))
    return {"images_per_s": speed, "jit_compile": bool(model.jit_compile),
            "steps_per_execution": model.steps_per_execution}


def measure_plain_torch() -> dict:
    """The book's network and training loop in plain PyTorch (chapter 5 of the book)."""
    import torch
    from torch import nn

    from dlbook.vision import datasets

    torch.manual_seed(0)
    digits = datasets.load_digits(train_size=IMAGES)
    images = torch.from_numpy(digits.x_train).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(digits.y_train).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=BATCH, shuffle=True)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 8, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10),
    )
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    criterion = nn.CrossEntropyLoss()

    def epoch():
        net.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(net(x), y)
            loss.backward()
            optimizer.step()

    for _ in range(WARMUP_EPOCHS):
        epoch()
    return {"images_per_s": fastest_epoch(epoch, TIMED_EPOCHS["book_cnn"]), "jit_compile": False,
            "steps_per_execution": 1}


def _worker(args) -> None:
    result = measure_plain_torch() if args.setting == "plain-torch" else measure_keras(args.setting, args.model)
    print("RESULT " + json.dumps(result))


def _run_worker(setting: str, model: str) -> dict:
    backend = "torch" if setting == "plain-torch" else SETTINGS[setting][0]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, __file__, "--worker", "--setting", setting, "--model", model]
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    if run.returncode != 0 or not lines:
        raise RuntimeError(f"{setting} / {model} failed:\n{run.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def _machine() -> str:
    """The processor with the instruction-set flags that decide CPU settings, and the versions."""
    from importlib.metadata import version

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dlbook import machine

    versions = ", ".join(f"{p} {version(p)}" for p in ("keras", "tensorflow", "jax", "torch"))
    return f"{machine.detect().summary()}; {versions}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only configurations whose setting contains this text")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--setting", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="book_cnn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    print(f"Machine: {_machine()}")
    print(f"Epochs of {IMAGES} MNIST images, batch {BATCH}, SGD with momentum, after {WARMUP_EPOCHS} warm-up "
          f"epoch(s); the fastest of {TIMED_EPOCHS['book_cnn']} timed epochs for book_cnn, of "
          f"{DEFAULT_TIMED_EPOCHS} for the others.\n")
    print("| setting | model | images/s | × book's loop | XLA | steps per call |\n|---|---|---|---|---|---|", flush=True)
    book_speed = _run_worker("plain-torch", "book_cnn")["images_per_s"]  # the reference, always measured
    print(f"| the book's loop, plain PyTorch | book_cnn | {book_speed:,.0f} | 1.00 | no | 1 |", flush=True)
    for setting in SETTINGS:
        if args.only not in setting:
            continue
        for model in MODELS + ((BEFORE,) if "(dlbook)" in setting else ()):
            result = _run_worker(setting, model)
            ratio = f"{result['images_per_s'] / book_speed:.2f}"
            xla = "yes" if result["jit_compile"] else "no"
            steps = result["steps_per_execution"]
            print(f"| {setting} | {model} | {result['images_per_s']:,.0f} | {ratio} | {xla} | {steps} |", flush=True)


if __name__ == "__main__":
    main()
