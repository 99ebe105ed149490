"""Chapter 12's first idea: tabular Q-learning on a corridor small enough to print its Q-table.

``Corridor`` is the environment, :func:`q_learning` learns its Q-table by trial and error, and
:func:`optimal_q` computes the table it should reach (value iteration), for comparison.
"""


from __future__ import annotations

import numpy as np


class Corridor:
    """A row of ``length`` cells: a pit at the left end (reward −1), treasure at the right (+1).

    The walker starts at ``start`` (default: the middle) and moves left (action 0) or right (1);
    entering either end gives its reward and ends the episode, every other move gives 0.
    """

    actions = ("left", "right")

    def __init__(self, length: int = 7, start: int | None = None):
        if length < 3:
            raise ValueError(f"a corridor needs at least 3 cells (pit, floor, treasure), got {length}")
        self.length = length
        self.start = length // 2 if start is None else start
        if not 0 < self.start < length - 1:
            raise ValueError(f"start must be a floor cell, 1 to {length - 2}, got {self.start}")

    def terminal(self, state: int) -> bool:
        return state in (0, self.length - 1)

    def step(self, state: int, action: int) -> tuple[int, float, bool]:
        """``(next state, reward, done)`` after ``action`` in ``state``."""
        following = state + (1 if action == 1 else -1)
        reward = 1.0 if following == self.length - 1 else -1.0 if following == 0 else 0.0
        return following, reward, self.terminal(following)


def optimal_q(env: Corridor, gamma: float = 0.9, sweeps: int = 100) -> np.ndarray:
    """Q* by value iteration, ``(cells, 2)``: the Bellman optimality equation applied ``sweeps`` times."""
    q = np.zeros((env.length, 2))
    for _ in range(sweeps):
        for state in range(env.length):
            if env.terminal(state):
                continue
            for action in (0, 1):
                following, reward, done = env.step(state, action)
                q[state, action] = reward + (0.0 if done else gamma * q[following].max())
    return q


def q_learning(env: Corridor, episodes: int = 200, alpha: float = 0.5, gamma: float = 0.9,
               epsilon: float = 0.2, seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """Tabular Q-learning: the Q-table ``(cells, 2)`` and each episode's return.

    At each step, ε-greedy: a random action with probability ``epsilon`` (and when the two
    Q-values tie), else the best; then ``Q[s, a] += alpha * (r + gamma * max Q[s'] - Q[s, a])``.
    """
    rng = np.random.default_rng(seed)
    q = np.zeros((env.length, 2))
    returns = []
    for _ in range(episodes):
        state, done, total = env.start, False, 0.0
        while not done:
            explore = rng.random() < epsilon or q[state, 0] == q[state, 1]
            action = int(rng.integers(2)) if explore else int(q[state].argmax())
            following, reward, done = env.step(state, action)
            target = reward + (0.0 if done else gamma * q[following].max())
            q[state, action] += alpha * (target - q[state, action])
            state, total = following, total + reward
        returns.append(total)
    return q, returns

