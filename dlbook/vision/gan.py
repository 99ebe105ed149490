"""A GAN that trains with ``fit()`` on every Keras backend.

Keras 3 has no backend-agnostic API for a training step with two networks and two losses, so
:class:`GAN` has one small ``train_step`` per backend. All three do the same thing each batch:

1. draw noise ``z`` and generate ``fake = G(z[, labels])``;
2. score ``D(real)`` and ``D(fake)`` once, and form the non-saturating losses
   ``d_loss = BCE(1, D(real)) + BCE(0, D(fake))`` and ``g_loss = BCE(1, D(fake))``;
3. take the gradient of ``d_loss`` for the discriminator's weights and of ``g_loss`` for the
   generator's, and apply both with one optimizer.

One optimizer is enough: Adam keeps separate moments for every weight, so it behaves exactly like
one Adam per network with the same settings.

Simultaneous, not alternating, updates. The original GAN algorithm alternates: a discriminator
step, then a generator step on fresh noise against the *updated* discriminator. Here both
networks update at once from the same batch and the same fake images, so the generator's gradient
is taken against the discriminator as it was before this step (as in TensorFlow's DCGAN
tutorial). We chose this because one forward pass of ``G`` and two of ``D`` serve both losses
(alternating needs another forward pass of both on fresh fakes), because it is a single
optimizer update, which is what JAX's stateless trainer expects (one optimizer state in,
one out), and because its exact update is easy to state and test. The price is small at the
DCGAN learning rate of 2e-4: one step changes ``D`` little, so the gradient ``G`` gets from the
old ``D`` is close to the one it would get from the new ``D``. Chapter 08 shows that it trains.

Mixed precision. Under the ``mixed_float16`` policy ``compile()`` wraps the optimizer in a
:class:`keras.optimizers.LossScaleOptimizer`, whose ``apply`` divides the gradients by its
current loss scale (initially 2**15) and skips steps with non-finite gradients. Each step
therefore multiplies both losses by ``optimizer.scale_loss`` before differentiating, as Keras's
own trainers do; on JAX the scale is read from the step's optimizer-variable values. With any
other optimizer ``scale_loss`` is the identity (or its ``loss_scale_factor``, which ``apply``
also undoes). The logged losses are the unscaled ones.

With ``num_classes`` set the GAN is conditional: ``fit(images, labels)``, and both networks take
the labels as a second input.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def _pair_of_losses(real_logits, fake_logits):
    bce = keras.losses.binary_crossentropy
    real_logits = ops.cast(real_logits, "float32")
    fake_logits = ops.cast(fake_logits, "float32")
    d_loss = ops.mean(bce(ops.ones_like(real_logits), real_logits, from_logits=True)) + ops.mean(
        bce(ops.zeros_like(fake_logits), fake_logits, from_logits=True)
    )
    g_loss = ops.mean(bce(ops.ones_like(fake_logits), fake_logits, from_logits=True))
    return d_loss, g_loss


def _values_after(scope, variables, values):
    """The variables' values as a StatelessScope left them (unchanged ones as given)."""
    return [value if scope.get_current_value(v) is None else scope.get_current_value(v) for v, value in zip(variables, values)]


class GAN(keras.Model):
    """Generator + discriminator, trained adversarially by ``fit()``.

    ``generator``: ``z`` (or ``[z, labels]``) to images. ``discriminator``: images (or
    ``[images, labels]``) to one logit per image. ``latent_dim``: the size of ``z``.
    """

    def __init__(self, generator, discriminator, latent_dim: int, num_classes: int | None = None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        # Both networks are built models, so the GAN is too (Keras need not trace call() on data).
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def call(self, inputs, training=False):
        """Generate: ``inputs`` is ``z``, or ``[z, labels]`` for a conditional GAN."""
        return self.generator(inputs, training=training)

    def generate(self, n: int | None = None, labels=None, noise=None, seed=None):
        """Images from the generator in inference mode, as a NumPy array.

        Give ``n`` (unconditional), or ``labels`` (one image per label); ``noise`` fixes ``z``
        (shape ``(n, latent_dim)``), otherwise it is drawn with ``seed``.
        """
        if labels is not None:
            labels = ops.convert_to_tensor(labels, dtype="int32")
            n = ops.shape(labels)[0]
        elif noise is not None:
            n = len(noise)
        z = ops.convert_to_tensor(noise, dtype="float32") if noise is not None else keras.random.normal((n, self.latent_dim), seed=seed)
        return ops.convert_to_numpy(self.generator(self._g_inputs(z, labels), training=False))

    def _g_inputs(self, z, labels):
        return z if self.num_classes is None else [z, labels]

    def _d_inputs(self, images, labels):
        return images if self.num_classes is None else [images, labels]

    def _unpack(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if self.num_classes is not None and y is None:
            raise ValueError("A conditional GAN trains on (images, labels): call fit(images, labels).")
        return x, (ops.cast(y, "int32") if y is not None else None)

    def _noise(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def _record(self, d_loss, g_loss):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, *args):
        backend = keras.backend.backend()
        if backend == "jax":
            return self._jax_train_step(*args)
        if backend == "tensorflow":
            return self._tensorflow_train_step(*args)
        if backend == "torch":
            return self._torch_train_step(*args)
        raise NotImplementedError(f"GAN.train_step supports tensorflow, jax and torch, not {backend!r}.")

    # TensorFlow: one persistent tape, two gradients.
    def _tensorflow_train_step(self, data):
        import tensorflow as tf

        real, labels = self._unpack(data)
        z = self._noise(ops.shape(real)[0])
        with tf.GradientTape(persistent=True) as tape:
            fake = self.generator(self._g_inputs(z, labels), training=True)
            real_logits = self.discriminator(self._d_inputs(real, labels), training=True)
            fake_logits = self.discriminator(self._d_inputs(fake, labels), training=True)
            d_loss, g_loss = _pair_of_losses(real_logits, fake_logits)
            scaled_d_loss, scaled_g_loss = self.optimizer.scale_loss(d_loss), self.optimizer.scale_loss(g_loss)
        d_weights, g_weights = self.discriminator.trainable_variables, self.generator.trainable_variables
        d_grads = tape.gradient(scaled_d_loss, d_weights)
        g_grads = tape.gradient(scaled_g_loss, g_weights)
        del tape
        self.optimizer.apply(d_grads + g_grads, d_weights + g_weights)
        return self._record(d_loss, g_loss)

    # PyTorch: one graph, two autograd.grad calls.
    def _torch_train_step(self, data):
        import torch

        real, labels = self._unpack(data)
        z = self._noise(ops.shape(real)[0])
        fake = self.generator(self._g_inputs(z, labels), training=True)
        real_logits = self.discriminator(self._d_inputs(real, labels), training=True)
        fake_logits = self.discriminator(self._d_inputs(fake, labels), training=True)
        d_loss, g_loss = _pair_of_losses(real_logits, fake_logits)
        d_weights, g_weights = self.discriminator.trainable_variables, self.generator.trainable_variables
        scaled_d_loss, scaled_g_loss = self.optimizer.scale_loss(d_loss), self.optimizer.scale_loss(g_loss)
        d_grads = torch.autograd.grad(scaled_d_loss, [w.value for w in d_weights], retain_graph=True)
        g_grads = torch.autograd.grad(scaled_g_loss, [w.value for w in g_weights])
        with torch.no_grad():
            self.optimizer.apply(list(d_grads) + list(g_grads), d_weights + g_weights)
        return self._record(d_loss.detach(), g_loss.detach())

    # JAX: stateless. The trainer passes every variable's value in `state` and expects new ones.
    def _positions(self, attribute, model):
        index = {id(v): i for i, v in enumerate(getattr(self, attribute))}
        return [index[id(v)] for v in getattr(model, attribute)]

    def _jax_train_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_variables, metrics_variables = state
        trainable, non_trainable = list(trainable), list(non_trainable)
        real, labels = self._unpack(data)

        with keras.StatelessScope(state_mapping=list(zip(self.non_trainable_variables, non_trainable))) as scope:
            z = self._noise(ops.shape(real)[0])  # advances the seed generator's state in `scope`
        non_trainable = _values_after(scope, self.non_trainable_variables, non_trainable)
        g_at, d_at = self._positions("trainable_variables", self.generator), self._positions("trainable_variables", self.discriminator)
        g_nt_at = self._positions("non_trainable_variables", self.generator)
        d_nt_at = self._positions("non_trainable_variables", self.discriminator)

        def scaled(loss):
            # The loss scale of a LossScaleOptimizer is one of its variables: read this step's value.
            with keras.StatelessScope(state_mapping=list(zip(self.optimizer.variables, optimizer_variables))):
                return self.optimizer.scale_loss(loss)

        def losses(g_weights, d_weights):
            g_state = [non_trainable[i] for i in g_nt_at]
            d_state = [non_trainable[i] for i in d_nt_at]
            fake, g_state = self.generator.stateless_call(g_weights, g_state, self._g_inputs(z, labels), training=True)
            real_logits, d_state = self.discriminator.stateless_call(d_weights, d_state, self._d_inputs(real, labels), training=True)
            fake_logits, d_state = self.discriminator.stateless_call(d_weights, d_state, self._d_inputs(fake, labels), training=True)
            d_loss, g_loss = _pair_of_losses(real_logits, fake_logits)
            return (scaled(d_loss), scaled(g_loss)), (d_loss, g_loss, g_state, d_state)

        g_weights, d_weights = [trainable[i] for i in g_at], [trainable[i] for i in d_at]
        (scaled_d_loss, _), backward, (d_loss, g_loss, g_state, d_state) = jax.vjp(losses, g_weights, d_weights, has_aux=True)
        one, zero = ops.ones_like(scaled_d_loss), ops.zeros_like(scaled_d_loss)
        _, d_grads = backward((one, zero))
        g_grads, _ = backward((zero, one))

        grads = [None] * len(trainable)
        for positions, values in ((g_at, g_grads), (d_at, d_grads)):
            for i, value in zip(positions, values):
                grads[i] = value
        for positions, values in ((g_nt_at, g_state), (d_nt_at, d_state)):
            for i, value in zip(positions, values):
                non_trainable[i] = value
        trainable, optimizer_variables = self.optimizer.stateless_apply(optimizer_variables, grads, trainable)

        with keras.StatelessScope(state_mapping=list(zip(self.metrics_variables, metrics_variables))) as scope:
            logs = self._record(d_loss, g_loss)
        metrics_variables = _values_after(scope, self.metrics_variables, metrics_variables)
        return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)


class SnapshotCallback(keras.callbacks.Callback):
    """Generates the same samples (fixed noise and labels) after every ``every`` epochs.

    ``snapshots`` holds ``(epoch, images)`` pairs, to show how samples evolve during training.
    """

    def __init__(self, n: int = 10, labels=None, every: int = 1, seed: int = 0):
        super().__init__()
        self.labels = None if labels is None else np.asarray(labels, dtype="int32")
        self.n = len(self.labels) if self.labels is not None else n
        self.every = every
        self.seed = seed
        self.snapshots: list[tuple[int, np.ndarray]] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            noise = np.random.default_rng(self.seed).normal(size=(self.n, self.model.latent_dim)).astype("float32")
            self.snapshots.append((epoch + 1, self.model.generate(labels=self.labels, noise=noise)))
