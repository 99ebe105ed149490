"""Every model dlbook builds compiles with XLA: no layer in it has ``supports_jit = False``.

Keras quietly falls back to op-by-op execution for a model containing such a layer (it runs the
whole model without XLA on JAX, for example). test_backends.py runs this file under every backend.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import dlbook
from dlbook.music import composer, counting
from dlbook.rl import flappy
from dlbook.text import language_models, sentiment, word_vectors
from dlbook.translation import rnn, transformer
from dlbook.vision import autoencoders, cnn, resnet
from dlbook.vision.gan import GAN


def _tiny_gan():
    z = keras.Input(shape=(4,))
    generator = keras.Model(z, keras.layers.Reshape((2, 2, 1))(keras.layers.Dense(4, activation="tanh")(z)))
    image = keras.Input(shape=(2, 2, 1))
    discriminator = keras.Model(image, keras.layers.Dense(1)(keras.layers.Flatten()(image)))
    return GAN(generator, discriminator, latent_dim=4, seed=0)


BUILDERS = {
    "digit_trunk": cnn.digit_trunk,
    "digit_classifier": cnn.digit_classifier,
    "gan": _tiny_gan,
    "plain_cnn": lambda: resnet.deep_cnn(20),
    "residual_cnn": lambda: resnet.deep_cnn(20, residual=True),
    "autoencoder": lambda: autoencoders.autoencoder(2)[0],
    "vae": lambda: autoencoders.variational_autoencoder(2, seed=0)[0],
    "counting_rnn": lambda: counting.counting_model("rnn", 2),
    "counting_lstm": lambda: counting.counting_model("lstm", 1),
    "event_model": composer.event_model,
    "chorale_model": lambda: composer.chorale_model(composer.chorale_recipe()),
    "feature_q_network": flappy.feature_q_network,
    "pixel_q_network": flappy.pixel_q_network,
    "rnn_translator": lambda: rnn.rnn_translator(20, 30, attention="additive", embedding=8, units=8),
    "rnn_translator_dot": lambda: rnn.rnn_translator(20, 30, attention="dot", embedding=8, units=8),
    "rnn_translator_no_attention": lambda: rnn.rnn_translator(20, 30, attention=None, embedding=8, units=8),
    "transformer_translator": lambda: transformer.transformer_translator(20, 30, depth=8, heads=2, hidden=16, blocks=1),
    "book_bag_of_words": lambda: sentiment.book_bag_of_words_model(50),
    "book_rnn": lambda: sentiment.book_rnn_model(50),
    "book_lstm": lambda: sentiment.book_lstm_model(50),
    "ngram_embeddings": lambda: sentiment.ngram_embedding_model(50, dim=8),
    "neural_ngram_language_model": lambda: language_models.neural_ngram_model(50, dim=8, hidden=16),
    "skipgram": lambda: word_vectors.skipgram_model(50, dim=8, negatives=5),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_model_compiles_with_xla(name):
    model = BUILDERS[name]()
    model.compile(optimizer="adam", loss=None if name == "gan" else "mse", jit_compile=True)
    assert model.jit_compile is True, f"{name}: a layer without XLA support made Keras drop jit_compile"


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_default_compile_uses_xla_on_jax(name):
    """Keras's jit_compile="auto" is True on JAX (if every layer supports XLA), False on a CPU otherwise."""
    model = BUILDERS[name]()
    model.compile(optimizer="adam", loss=None if name == "gan" else "mse")
    dlbook.setup(mode="fast", verbose=False)
    backend = keras.backend.backend()
    expected = backend == "jax" or (backend == "tensorflow" and dlbook.current().accelerator)
    assert model.jit_compile is expected


def test_compile_options_follow_the_backend():
    dlbook.setup(mode="fast", verbose=False)
    options = dlbook.compile_options()
    backend = keras.backend.backend()
    accelerator = dlbook.current().accelerator
    assert options["jit_compile"] == (backend == "jax" or (backend == "tensorflow" and accelerator))
    # 32 steps per call on TensorFlow everywhere and on JAX with an accelerator; PyTorch allows one.
    assert options["steps_per_execution"] == (32 if backend == "tensorflow" or (accelerator and backend == "jax") else 1)
    model = cnn.digit_classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", **options)
    assert model.jit_compile == options["jit_compile"]


def _train_small_model(steps_per_call):
    """Two epochs of a small dropout network on fixed data; returns (loss history, weights)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(90, 6)).astype("float32"), rng.integers(0, 3, size=90)
    dlbook.setup(seed=7, mode="fast", verbose=False)
    inputs = keras.Input(shape=(6,))
    hidden = keras.layers.Dropout(0.3)(keras.layers.Dense(8, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", steps_per_execution=steps_per_call,
                  jit_compile=dlbook.compile_options()["jit_compile"])
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=True, verbose=0)  # 12 steps an epoch, 3 calls of 4
    return history.history["loss"], model.get_weights()


def test_steps_per_call_leave_the_arithmetic_unchanged():
    """Many steps per call (dlbook's TensorFlow default on a CPU) train exactly as one step per call:
    the same batches in the same order, dropout's random masks included, give the same weights.
    Keras's PyTorch trainer refuses more than one step per call, which is why compile_options()
    asks it for one (test_compile_options_follow_the_backend); should that change, this test says so."""
    if keras.backend.backend() == "torch":
        with pytest.raises(ValueError, match="steps_per_execution"):
            _train_small_model(steps_per_call=4)
        return
    results = [_train_small_model(steps_per_call) for steps_per_call in (1, 4)]
    (loss_one, weights_one), (loss_many, weights_many) = results
    np.testing.assert_allclose(loss_many, loss_one, rtol=1e-6)
    for one, many in zip(weights_one, weights_many):
        np.testing.assert_allclose(many, one, rtol=1e-6, atol=1e-7)
