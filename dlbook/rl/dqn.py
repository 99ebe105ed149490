"""Chapter 12: the pieces of a Double DQN.

A :class:`ReplayBuffer`, the Bellman targets (:func:`bellman_targets`, Double DQN by default), the
Huber loss on the chosen action's Q-value, and a :class:`DQNAgent` (online and target networks,
ε-greedy acting whose random actions may favour one action, :func:`epsilon_at` its schedule).
:mod:`dlbook.rl.training` trains an agent with checkpoints; the tabular version of the idea is
:mod:`dlbook.rl.tabular_q`.

Targets are computed in NumPy and the update goes through ``train_on_batch``, so the same code
runs on TensorFlow, JAX and PyTorch.
"""


from __future__ import annotations

import dataclasses
from typing import Callable

import keras
import numpy as np
from keras import ops

from dlbook.config import compile_options


@dataclasses.dataclass
class Batch:
    """A sample of transitions: observations, actions, rewards, next observations, terminal flags."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    dones: np.ndarray


class ReplayBuffer:
    """The last ``capacity`` transitions in preallocated arrays; the oldest are overwritten first.

    Boolean observations (binary frames) are stored 8 to a byte. ``dones`` marks transitions into
    a terminal state (a crash), not episodes cut short by a limit, whose next state has a value.
    """

    FIELDS = ("observations", "actions", "rewards", "next_observations", "dones")

    def __init__(self, capacity: int, observation_shape: tuple, observation_dtype="float32"):
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = int(capacity)
        self.observation_shape = tuple(observation_shape)
        self.packed = np.dtype(observation_dtype) == np.bool_
        size = int(np.prod(self.observation_shape))
        stored = ((size + 7) // 8,) if self.packed else self.observation_shape
        dtype = np.uint8 if self.packed else np.dtype(observation_dtype)
        self.observations = np.zeros((capacity, *stored), dtype)
        self.next_observations = np.zeros((capacity, *stored), dtype)
        self.actions = np.zeros(capacity, np.int32)
        self.rewards = np.zeros(capacity, np.float32)
        self.dones = np.zeros(capacity, np.bool_)
        self.position = 0  # where the next transition goes
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def _pack(self, observations):
        observations = np.asarray(observations)
        return np.packbits(observations.reshape(len(observations), -1), axis=1) if self.packed else observations

    def _unpack(self, stored):
        if not self.packed:
            return stored
        size = int(np.prod(self.observation_shape))
        return np.unpackbits(stored, axis=1, count=size).astype(bool).reshape(len(stored), *self.observation_shape)

    def add(self, observations, actions, rewards, next_observations, dones) -> None:
        """Store a batch of transitions (one per row), wrapping around when the buffer is full."""
        rows = (self.position + np.arange(len(actions))) % self.capacity
        self.observations[rows] = self._pack(observations)
        self.next_observations[rows] = self._pack(next_observations)
        self.actions[rows], self.rewards[rows], self.dones[rows] = actions, rewards, dones
        self.position = int((self.position + len(actions)) % self.capacity)
        self.size = int(min(self.size + len(actions), self.capacity))

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """``batch_size`` stored transitions drawn uniformly, with replacement."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        rows = rng.integers(0, self.size, batch_size)
        return Batch(self._unpack(self.observations[rows]), self.actions[rows], self.rewards[rows],
                     self._unpack(self.next_observations[rows]), self.dones[rows])

    def state(self) -> tuple[dict, dict]:
        """``(meta, arrays)`` for a checkpoint; :meth:`restore` puts them back."""
        return {"position": self.position, "size": self.size}, {f: getattr(self, f) for f in self.FIELDS}

    def restore(self, meta: dict, arrays: dict) -> None:
        for field in self.FIELDS:
            getattr(self, field)[...] = arrays[field]
        self.position, self.size = meta["position"], meta["size"]


def bellman_targets(rewards, dones, next_q_target, gamma: float, next_q_online=None) -> np.ndarray:
    """``r + γ Q_target(s', a*)`` (just ``r`` where ``s'`` is terminal), in float32.

    With ``next_q_online`` (Double DQN), ``a*`` is the online network's best action in ``s'``
    and the target network only values it; without, ``a* = argmax Q_target(s')`` (plain DQN,
    which overestimates: the max of noisy estimates is biased upwards).
    """
    next_q_target = np.asarray(next_q_target, np.float32)
    chooser = next_q_target if next_q_online is None else np.asarray(next_q_online, np.float32)
    best = chooser.argmax(axis=1)
    values = next_q_target[np.arange(len(best)), best]
    return (np.asarray(rewards, np.float32) + gamma * (1.0 - np.asarray(dones, np.float32)) * values).astype(np.float32)


def chosen_action_huber(y_true, y_pred):
    """Huber loss (δ = 1) between the chosen action's Q-value and its target, per sample, in float32.

    ``y_true`` is ``(batch, 2)``: the action taken and the Bellman target; ``y_pred`` the
    network's Q-values ``(batch, actions)``. Other actions' Q-values get no gradient.
    """
    y_true = ops.cast(y_true, "float32")
    q_values = ops.cast(y_pred, "float32")
    chosen = ops.one_hot(ops.cast(y_true[:, 0], "int32"), ops.shape(q_values)[1], dtype="float32")
    error = ops.abs(ops.sum(q_values * chosen, axis=1) - y_true[:, 1])
    return ops.where(error < 1.0, 0.5 * ops.square(error), error - 0.5)


class DQNAgent:
    """A Q-network trained by Double DQN: an online network, a target network, Adam and Huber loss.

    ``act`` is ε-greedy; a random action is ``1`` with probability ``random_one`` (in Flappy Bird
    action 1 flaps: random play that flaps half of the time flies into the ceiling and never
    reaches a pipe). ``update`` takes one gradient step on a batch and returns its loss and the
    mean of ``max_a Q(s', a)`` over the batch.
    """

    def __init__(self, network: keras.Model, learning_rate: float = 1e-4, gamma: float = 0.99,
                 double: bool = True, clipnorm: float | None = 10.0):
        self.gamma, self.double = gamma, double
        self.online = network
        self.target = keras.models.clone_model(network)
        self.target.name = f"{network.name}_target"
        self.target.set_weights(network.get_weights())
        self.online.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm),
                            loss=chosen_action_huber, **compile_options())
        inputs = keras.Input(network.input_shape[1:])
        self._both = keras.Model(inputs, [self.online(inputs), self.target(inputs)])  # one call for s'

    @staticmethod
    def _inputs(observations) -> np.ndarray:
        return np.asarray(observations, dtype="float32")

    def q_values(self, observations) -> np.ndarray:
        """The online network's Q-values ``(n, actions)`` (one compiled call, no per-call setup)."""
        return np.asarray(self.online.predict_on_batch(self._inputs(observations)), np.float32)

    def both_q_values(self, observations) -> tuple[np.ndarray, np.ndarray]:
        """The online and the target network's Q-values of the same observations, in one call."""
        online, target = self._both.predict_on_batch(self._inputs(observations))
        return np.asarray(online, np.float32), np.asarray(target, np.float32)

    @staticmethod
    def epsilon_greedy(q_values, epsilon: float, rng: np.random.Generator, random_one: float = 0.5) -> np.ndarray:
        """The best action of each row of ``q_values``, but a random one with probability ``epsilon``
        (``1`` with probability ``random_one``)."""
        greedy = np.asarray(q_values).argmax(axis=1)
        explore = rng.random(len(greedy)) < epsilon
        random_actions = (rng.random(len(greedy)) < random_one).astype(greedy.dtype)
        return np.where(explore, random_actions, greedy).astype(np.int32)

    def act(self, observations, epsilon: float, rng: np.random.Generator, random_one: float = 0.5) -> np.ndarray:
        """ε-greedy actions for a batch of observations."""
        return self.epsilon_greedy(self.q_values(observations), epsilon, rng, random_one)

    def update(self, batch: Batch, next_q: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[float, float]:
        """One gradient step towards the Bellman targets of ``batch``: ``(loss, mean max Q(s'))``.

        ``next_q``, the online and target Q-values of the batch's next observations, saves a call
        where the caller has them already (see :func:`dlbook.rl.training.train_dqn`)."""
        next_online, next_target = next_q if next_q is not None else self.both_q_values(batch.next_observations)
        targets = bellman_targets(batch.rewards, batch.dones, next_target, self.gamma,
                                  next_online if self.double else None)
        labels = np.stack([batch.actions.astype(np.float32), targets], axis=1)
        loss = self.online.train_on_batch(self._inputs(batch.observations), labels)
        return float(np.asarray(loss).ravel()[0]), float(next_online.max(axis=1).mean())

    def sync_target(self) -> None:
        """Copy the online network's weights into the target network."""
        self.target.set_weights(self.online.get_weights())

    def state(self) -> dict[str, np.ndarray]:
        """Online and target weights and the optimiser's variables, as arrays for a checkpoint."""
        optimizer = self.online.optimizer
        if not optimizer.built:
            optimizer.build(self.online.trainable_variables)
        arrays = {f"online_{i}": w for i, w in enumerate(self.online.get_weights())}
        arrays.update({f"target_{i}": w for i, w in enumerate(self.target.get_weights())})
        arrays.update({f"optimizer_{i}": ops.convert_to_numpy(v) for i, v in enumerate(optimizer.variables)})
        return arrays

    def restore(self, arrays: dict) -> None:
        for name, model in (("online", self.online), ("target", self.target)):
            model.set_weights([arrays[f"{name}_{i}"] for i in range(len(model.weights))])
        optimizer = self.online.optimizer
        if not optimizer.built:
            optimizer.build(self.online.trainable_variables)
        for i, variable in enumerate(optimizer.variables):
            variable.assign(arrays[f"optimizer_{i}"])


def epsilon_at(step: int, start: float, end: float, decay_steps: int) -> float:
    """ε decayed linearly from ``start`` to ``end`` over the first ``decay_steps`` steps, then constant."""
    fraction = min(step / decay_steps, 1.0) if decay_steps > 0 else 1.0
    return float(start + fraction * (end - start))



def greedy_policy(network: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """``network``'s greedy actions (the argmax of its Q-values) as a function of a batch of observations.

    Playing calls it once a frame, thousands of times a game. A network of float32 ``Dense`` layers
    with ReLU or no activation (the 12-feature Q-network) is run in NumPy on a copy of its weights:
    the same float32 arithmetic without a framework call per frame (one ``predict_on_batch`` costs
    about as much as playing 100 frames of the game). Any other network goes through ``predict_on_batch``.
    """
    dense = [layer for layer in network.layers if not isinstance(layer, keras.layers.InputLayer)]
    plain = all(isinstance(layer, keras.layers.Dense) and layer.compute_dtype == "float32" and layer.use_bias
                and layer.get_config()["activation"] in ("relu", "linear") for layer in dense)
    if not plain:
        return lambda observations: np.asarray(network.predict_on_batch(observations)).argmax(axis=1)
    weights = [(*(np.asarray(w, np.float32) for w in layer.get_weights()), layer.get_config()["activation"])
               for layer in dense]

    def act(observations):
        x = np.asarray(observations, np.float32)
        for kernel, bias, activation in weights:
            x = x @ kernel + bias
            if activation == "relu":
                x = np.maximum(x, 0.0)
        return x.argmax(axis=1)

    return act
