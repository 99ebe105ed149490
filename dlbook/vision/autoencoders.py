"""The autoencoders of chapter 08: a plain one with a small code, and the variational one (VAE).

Both share one shape, so the chapter compares like with like: an encoder from the 28×28 image
through a dense layer of 256 to a code of ``code_size`` numbers, and a decoder from the code
through a dense layer of 256 to 784 pixels in [0, 1]. The plain autoencoder maps each image to one
code; the VAE's encoder gives a Gaussian (mean and log-variance) from which :class:`Sampling` draws
the code, and adds the Kullback-Leibler divergence from N(0, I) to the loss. Codes, pixels and
losses compute in float32 under every dtype policy.
"""

from __future__ import annotations

import keras
from keras import layers, ops


def decoder(code_size: int = 2, name: str = "decoder") -> keras.Model:
    """A code of ``code_size`` numbers to a (28, 28, 1) image in [0, 1] (a float32 sigmoid)."""
    code = keras.Input(shape=(code_size,), name="code")
    hidden = layers.Dense(256, activation="relu")(code)
    pixels = layers.Dense(28 * 28, activation="sigmoid", dtype="float32", name="pixels")(hidden)
    return keras.Model(code, layers.Reshape((28, 28, 1), dtype="float32")(pixels), name=name)


def _encoder_hidden(image):
    return layers.Dense(256, activation="relu")(layers.Flatten()(image))


def autoencoder(code_size: int = 2) -> tuple[keras.Model, keras.Model, keras.Model]:
    """A plain autoencoder: ``(autoencoder, encoder, decoder)``. The encoder maps an image to its
    code (float32); the autoencoder is the decoder applied to the encoder's code, trained to give
    back its input (e.g. with :func:`reconstruction_loss`)."""
    image = keras.Input(shape=(28, 28, 1), name="image")
    code = layers.Dense(code_size, dtype="float32", name="code")(_encoder_hidden(image))
    encoder = keras.Model(image, code, name="encoder")
    decode = decoder(code_size)
    return keras.Model(image, decode(code), name="autoencoder"), encoder, decode


@keras.saving.register_keras_serializable(package="dlbook")
class Sampling(layers.Layer):
    """``z = mean + exp(log_var / 2) * epsilon``, ``epsilon ~ N(0, I)`` (the reparameterisation),
    adding the batch's mean KL divergence from N(0, I) to the model's losses. In float32."""

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, mean, log_var):
        mean, log_var = ops.cast(mean, "float32"), ops.cast(log_var, "float32")
        kl = -0.5 * ops.sum(1 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)
        self.add_loss(ops.mean(kl))
        epsilon = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * epsilon

    def compute_output_shape(self, mean_shape, log_var_shape=None):
        return mean_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def variational_autoencoder(code_size: int = 2, seed: int | None = None) -> tuple[keras.Model, keras.Model, keras.Model]:
    """A VAE: ``(vae, encoder, decoder)``. The encoder maps an image to the mean of its code's
    Gaussian (the code used to draw the code space); the VAE samples a code with :class:`Sampling`
    (seeded by ``seed``) and decodes it. Train it with :func:`reconstruction_loss`: the KL term is
    added by the sampling layer."""
    image = keras.Input(shape=(28, 28, 1), name="image")
    hidden = _encoder_hidden(image)
    mean = layers.Dense(code_size, dtype="float32", name="code_mean")(hidden)
    log_var = layers.Dense(code_size, dtype="float32", name="code_log_var")(hidden)
    code = Sampling(seed=seed, dtype="float32", name="sampling")(mean, log_var)
    decode = decoder(code_size)
    return keras.Model(image, decode(code), name="vae"), keras.Model(image, mean, name="encoder"), decode


def reconstruction_loss(x, x_decoded):
    """Binary cross-entropy summed over the 784 pixels, averaged over the batch's images (in float32).

    Summed, not averaged, over pixels, so that it is on the scale of the VAE's KL term (a sum over
    the code's dimensions): per image, in nats."""
    x, x_decoded = (ops.reshape(ops.cast(t, "float32"), (-1, 28 * 28)) for t in (x, x_decoded))
    return 28 * 28 * keras.losses.binary_crossentropy(x, x_decoded)
