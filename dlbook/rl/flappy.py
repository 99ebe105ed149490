"""Chapter 12's game: Flappy Bird for a DQN, its recipes, the model cache, the evaluation protocol, GIFs.

The game is ``flappy_bird_gymnasium`` (MIT), headless. :class:`Flappy` wraps it to give either
the 12 features of the game's state (positions of the next pipes, the bird's height, speed and
rotation) or, as in the book, 4 stacked 80×80 binary frames (:func:`preprocess`), and to save and
restore a game in progress (for resumable training). :func:`recipe` is the chapter's training
recipe, :func:`train_agent` trains with it (resuming from a checkpoint in the model cache),
:func:`evaluate` plays greedy games in lockstep, and :func:`play_frames` and :func:`save_gif` make
an animation (the app ``dlbook.apps.play`` uses them with the cached agent, :func:`cached_agent`).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame's banner, printed when it is imported
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # headless: no window, no sound device
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import gymnasium  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from flappy_bird_gymnasium import FlappyBirdEnv  # noqa: E402
from flappy_bird_gymnasium.envs import constants as game_rules  # noqa: E402
from keras import layers  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from dlbook import cache
from dlbook.config import current, pick  # noqa: E402
from dlbook.paths import atomic_path  # noqa: E402
from dlbook.rl import (
    dqn,
    training,  # noqa: E402
)

FRAME_SIZE = 80
STACK = 4
PLAYFIELD = 404  # rows of the 512-pixel screen above the ground (int(512 * 0.79))
EVAL_SEED = 0  # evaluation games use seeds 0, 1, ...; training games start at 1 000 000
VALIDATION_SEED = 10_000  # games that pick the best weights during training
RESCORE_SEED = 20_000  # games that score the best candidates again at the end of training
EVAL_EPISODES = 50
SCORE_LIMIT = 1000
# The game attributes that make up a game in progress (besides its random generator).
GAME_STATE = ("_player_x", "_player_y", "_player_vel_y", "_player_rot", "_player_idx", "_loop_iter", "_score",
              "_upper_pipes", "_lower_pipes", "_ground", "_player_flapped")


def preprocess(frame: np.ndarray) -> np.ndarray:
    """A rendered frame (512, 288, 3) → the book's 80×80 binary image: True where not background.

    The ground is cut off, the playfield sampled down to 80×80 (nearest pixel), and every pixel
    that differs from the plain background (the game drawn without its scenery) becomes True.
    """
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[0] < PLAYFIELD or frame.shape[2] != 3:
        raise ValueError(f"expected a rendered frame of shape (512, 288, 3), got {frame.shape}")
    rows = ((np.arange(FRAME_SIZE) + 0.5) * PLAYFIELD / FRAME_SIZE).astype(int)
    columns = ((np.arange(FRAME_SIZE) + 0.5) * frame.shape[1] / FRAME_SIZE).astype(int)
    return np.any(frame[rows][:, columns] != np.array(game_rules.FILL_BACKGROUND_COLOR, np.uint8), axis=-1)


def _plain(value):
    """``value`` with NumPy scalars made Python numbers, so that it is JSON-able."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


class _WingCycle:
    """The bird's wing animation (sprites 0, 1, 2, 1, ...) as an iterator whose position can be saved;
    the game's own ``itertools.cycle`` cannot be, and it runs on from one game into the next."""

    SEQUENCE = (0, 1, 2, 1)

    def __init__(self, position: int = 0):
        self.position = position

    def __iter__(self):
        return self

    def __next__(self) -> int:
        self.position += 1
        return self.SEQUENCE[(self.position - 1) % len(self.SEQUENCE)]


class Flappy(gymnasium.Wrapper):
    """Flappy Bird with 12 float32 features (``pixels=False``) or 4 stacked 80×80 binary frames.

    ``score_limit`` ends a game (truncated) after that many pipes; ``scenery=True`` draws the
    day background for :meth:`render` (for watching; the frames of ``pixels=True`` have none).
    Rewards: +0.1 a frame alive, +1 a pipe, −1 a crash, −0.5 above the screen. With ``frame_skip``
    k > 1, the agent decides every k-th frame (flap or not, then k − 1 frames without flapping).
    """

    def __init__(self, pixels: bool = False, score_limit: int | None = None, render: bool = False,
                 scenery: bool = False, frame_skip: int = 1):
        if frame_skip < 1:
            raise ValueError(f"frame_skip must be at least 1, got {frame_skip}")
        rendering = pixels or render
        super().__init__(FlappyBirdEnv(use_lidar=False, render_mode="rgb_array" if rendering else None,
                                       background="day" if scenery else None, score_limit=score_limit))
        self.pixels, self.frame_skip = pixels, frame_skip
        self._stack = None
        if pixels:
            self.observation_space = gymnasium.spaces.Box(0, 1, (FRAME_SIZE, FRAME_SIZE, STACK), np.bool_)

    def _frame(self) -> np.ndarray:
        return preprocess(self.env.render())

    def reset(self, *, seed=None, options=None):
        self.env.unwrapped._player_idx_gen = _WingCycle()  # each game's frames depend on its seed only
        observation, info = self.env.reset(seed=seed, options=options)
        if not self.pixels:
            return observation.astype(np.float32), info
        self._stack = np.repeat(self._frame()[..., None], STACK, axis=-1)
        return self._stack.copy(), info

    def step(self, action):
        """One decision: ``action`` in the first of ``frame_skip`` frames, no flap in the others; the
        rewards of those frames are summed, and the game may end in any of them."""
        reward = 0.0
        for frame in range(self.frame_skip):
            observation, frame_reward, terminated, truncated, info = self.env.step(action if frame == 0 else 0)
            reward += frame_reward
            if terminated or truncated:
                break
        if not self.pixels:
            return observation.astype(np.float32), reward, terminated, truncated, info
        self._stack = np.concatenate([self._stack[..., 1:], self._frame()[..., None]], axis=-1)
        return self._stack.copy(), reward, terminated, truncated, info

    def get_state(self) -> dict:
        """The game in progress as JSON-able data (its random generator included)."""
        game = self.env.unwrapped
        return {"game": _plain({name: getattr(game, name) for name in GAME_STATE}),
                "wings": game._player_idx_gen.position, "random": game.np_random.bit_generator.state}

    def set_state(self, state: dict, observation: np.ndarray) -> None:
        """Continue the game saved by :meth:`get_state`, whose last observation was ``observation``."""
        game = self.env.unwrapped
        for name, value in state["game"].items():
            setattr(game, name, value)
        game._player_idx_gen = _WingCycle(state["wings"])
        game.np_random.bit_generator.state = state["random"]
        if self.pixels:
            self._stack = np.array(observation, np.bool_)


def first_pipe_frames(seed: int = 0) -> tuple[int, int]:
    """The frames in which the first pipe reaches the bird (their boxes overlap) and in which the
    bird passes it (a point), for a bird held in the middle of the gap."""
    game = FlappyBirdEnv()
    game.reset(seed=seed)
    reaches = None
    for frame in range(1, 200):
        gap_top, gap_bottom = game._upper_pipes[0]["y"] + game_rules.PIPE_HEIGHT, game._lower_pipes[0]["y"]
        game._player_y, game._player_vel_y = (gap_top + gap_bottom - game_rules.PLAYER_HEIGHT) / 2, 0
        game.step(0)
        if reaches is None and game._upper_pipes[0]["x"] < game._player_x + game_rules.PLAYER_WIDTH:
            reaches = frame
        if game._score:
            return reaches, frame
    raise RuntimeError("the bird held in the gap never passed the first pipe")


# --- Networks and recipes ------------------------------------------------------------------


# The Q-networks compute in float32 whatever the dtype policy: under mixed_bfloat16 (full mode's GPU
# default) a Q-value near 10 would be rounded to steps of 0.0625 (bfloat16 keeps 8 significant bits),
# coarser than the differences between the two actions' values that the network must learn.
FLOAT32 = dict(dtype="float32")


def feature_q_network(units=(256, 256), features: int = 12) -> keras.Model:
    """An MLP from the 12 features to the Q-values of (idle, flap); every layer in float32."""
    inputs = keras.Input((features,), name="features")
    x = inputs
    for width in units:
        x = layers.Dense(width, activation="relu", **FLOAT32)(x)
    return keras.Model(inputs, layers.Dense(2, name="q_values", **FLOAT32)(x), name="feature_q")


def pixel_q_network() -> keras.Model:
    """The book's network: 8×8/4 32, pool, 4×4/2 64, 3×3 64 → 1600 → 256 → 2 Q-values; all in float32."""
    inputs = keras.Input((FRAME_SIZE, FRAME_SIZE, STACK), name="frames")
    x = layers.Conv2D(32, 8, strides=4, padding="same", activation="relu", **FLOAT32)(inputs)
    x = layers.MaxPooling2D(2, **FLOAT32)(x)
    x = layers.Conv2D(64, 4, strides=2, padding="same", activation="relu", **FLOAT32)(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", **FLOAT32)(x)
    x = layers.Dense(256, activation="relu", **FLOAT32)(layers.Flatten(**FLOAT32)(x))
    return keras.Model(inputs, layers.Dense(2, name="q_values", **FLOAT32)(x), name="pixel_q")


def recipe(pixels: bool = False, mode: str | None = None) -> dict:
    """The chapter's training recipe for the 12-feature agent, or the book's pixel agent, in the
    current mode (or ``mode``).

    ``steps`` counts decisions, summed over the games played in lockstep (``envs``); one update
    of ``batch_size`` transitions follows each round of ``envs`` steps. Every ``validate_every``
    steps, ``validation_games`` greedy games (at most ``validation_limit`` pipes, seeds from
    :data:`VALIDATION_SEED`) score the network; the ``candidates`` best are kept and, at the end,
    scored again on as many games with other seeds (:data:`RESCORE_SEED`); the agent keeps the one
    with the best mean of the two scores.
    """
    shared = dict(gamma=0.99, epsilon_start=1.0, log_every=100, frame_skip=1, random_flap=0.1,
                  seed=current().seed)
    if pixels:
        return dict(shared, pixels=True, learning_rate=1e-4, envs=4, buffer_size=20_000, batch_size=32,
                    warmup=1_000, target_every=500, epsilon_end=0.01, train_score_limit=100,
                    **pick(mode=mode, fast=dict(steps=2_000, epsilon_decay=1_500, checkpoint_every=2_000),
                           full=dict(steps=12_000, epsilon_decay=8_000, checkpoint_every=4_000)))
    # Fast mode needs an agent that flies through a few pipes within 200 000 frames: a small
    # network and large steps (learning rate 10⁻³, the target network copied every 250 updates),
    # whose play rises quickly but also collapses now and then. Full mode takes smaller, steadier
    # steps with a wider network. Both validate on 20 games and re-score their 3 best networks.
    return dict(shared, pixels=False, envs=8, buffer_size=100_000, warmup=5_000, batch_size=128,
                train_score_limit=SCORE_LIMIT, validation_games=20, candidates=3,
                **pick(mode=mode, fast=dict(units=[64, 64], learning_rate=1e-3, target_every=250, epsilon_end=0.001,
                                            epsilon_decay=50_000, steps=200_000, checkpoint_every=200_000,
                                            validate_every=25_000, validation_limit=100),
                       full=dict(units=[128, 128], learning_rate=2.5e-4, target_every=1_000, epsilon_end=0.01,
                                 epsilon_decay=100_000, steps=1_500_000, checkpoint_every=100_000,
                                 validate_every=50_000, validation_limit=300)))


def build(settings: dict) -> keras.Model:
    """The (untrained) Q-network of a recipe."""
    return pixel_q_network() if settings["pixels"] else feature_q_network(settings["units"])


def cached_agent(settings: dict | None = None) -> cache.CachedModel:
    """The Q-network of ``settings`` (default: the chapter's 12-feature recipe in each mode) in the
    model cache; its training checkpoint lives in the entry's work folder while it trains."""
    fixed = settings
    pixels = (settings or recipe())["pixels"]

    def settings_of(mode):
        return fixed if fixed is not None else recipe(pixels, mode=mode)

    def train_for_cache():
        return _train(settings_of(current().mode), None, progress=True)[0].online

    return cache.CachedModel(
        name="flappy_pixels" if pixels else "flappy_dqn",
        description="Flappy Bird agent (chapter 12's " + ("pixel" if pixels else "12-feature") + " recipe)",
        recipe=settings_of, architecture=lambda settings: build(settings), train=train_for_cache)


def _train(settings: dict, until: int | None, progress: bool) -> tuple[dqn.DQNAgent, training.History]:
    """Train (or resume) the agent of ``settings`` from the checkpoint in its cache entry's work folder."""
    work = cache.work_folder(cache.entry_for(cached_agent(settings)))
    work.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(settings["seed"])
    agent = dqn.DQNAgent(build(settings), settings["learning_rate"], settings["gamma"])

    def make_env():
        return Flappy(pixels=settings["pixels"], score_limit=settings["train_score_limit"],
                      frame_skip=settings["frame_skip"])

    def games(seed):  # greedy games on seeds of their own, not the evaluation's
        return lambda model: evaluate(model, episodes=settings["validation_games"], seed=seed,
                                      score_limit=settings["validation_limit"], pixels=settings["pixels"],
                                      frame_skip=settings["frame_skip"], progress=False).mean()

    validating = bool(settings.get("validate_every"))
    history = training.train_dqn(agent, make_env, settings, work / "checkpoint.npz", until=until, progress=progress,
                                 validate=games(VALIDATION_SEED) if validating else None,
                                 rescore=games(RESCORE_SEED) if validating else None)
    return agent, history


def train_agent(settings: dict | None = None, until: int | None = None,
                progress: bool = True) -> tuple[dqn.DQNAgent, training.History]:
    """Train the agent of ``settings`` (default: :func:`recipe`) and cache its Q-network.

    The checkpoint of the same recipe is resumed, so an interrupted run continues where it stopped
    and a finished one returns at once (with its learning curves). ``until`` stops early, at that
    many steps, leaving a checkpoint and caching nothing. Returns the agent and its history.
    """
    settings = settings or recipe()

    def finished_network(result):
        agent, history = result
        return agent.online if history.step >= settings["steps"] else None

    return cache.train_and_save(cached_agent(settings), lambda: _train(settings, until, progress),
                                cached=finished_network)


# --- Playing: evaluation, frames, GIFs -------------------------------------------------------


def actions_of(policy):
    """A function from a batch of observations to actions: a Keras Q-network's greedy actions
    (:func:`dlbook.rl.dqn.greedy_policy`), or whatever a plain function of the observations returns."""
    act = dqn.greedy_policy(policy) if isinstance(policy, keras.Model) else policy
    return lambda observations: np.asarray(act(observations), np.int64).reshape(len(observations))


def evaluate(policy, episodes: int = EVAL_EPISODES, seed: int = EVAL_SEED, score_limit: int = SCORE_LIMIT,
             pixels: bool = False, frame_skip: int = 1, progress: bool = True) -> np.ndarray:
    """The pipes passed in ``episodes`` greedy games with seeds ``seed, seed + 1, ...``.

    ``policy`` is a Q-network (the greedy action is its argmax) or a function from a batch of
    observations to actions. All games run in lockstep: one network call per frame for all of
    them, always on a batch of ``episodes`` rows (a finished game repeats its last observation),
    so a compiled function is traced once. Games end at a crash or at ``score_limit`` pipes.
    ``pixels`` and ``frame_skip`` must be those the policy was trained with.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    envs = [Flappy(pixels=pixels, score_limit=score_limit, frame_skip=frame_skip) for _ in range(episodes)]
    observations = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    if not pixels:
        observations = observations.astype(np.float32)
    scores = np.zeros(episodes, np.int64)
    active = np.ones(episodes, np.bool_)
    act = actions_of(policy)
    bar = tqdm(total=episodes, desc="evaluating", unit="game", disable=not progress, leave=False, mininterval=2.0)
    while active.any():
        actions = act(observations)
        for i in np.flatnonzero(active):
            observation, _, terminated, truncated, info = envs[i].step(int(actions[i]))
            observations[i] = observation
            scores[i] = info["score"]
            if terminated or truncated:
                active[i] = False
                bar.update(1)
        bar.set_postfix(best=int(scores.max()), refresh=False)
    bar.close()
    return scores


def summarize(scores) -> dict[str, float]:
    """The evaluation's numbers: mean, median, min and max of the pipes per game."""
    scores = np.asarray(scores, np.float64)
    if scores.size == 0:
        raise ValueError("no scores to summarize")
    return {"mean": float(scores.mean()), "median": float(np.median(scores)),
            "min": float(scores.min()), "max": float(scores.max())}


def bootstrap_interval(scores, level: float = 0.95, resamples: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """A bootstrap interval of the mean of ``scores``: the games resampled with replacement
    ``resamples`` times, and the central ``level`` of the resampled means (percentile method)."""
    scores = np.asarray(scores, np.float64)
    if scores.size < 2:
        raise ValueError("a bootstrap interval needs at least 2 scores")
    rng = np.random.default_rng(seed)
    means = scores[rng.integers(0, scores.size, (resamples, scores.size))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def play_frames(model, seed: int = EVAL_SEED, seconds: float = 20.0, every: int = 2, scale: float = 0.5,
                frame_skip: int = 1) -> tuple[list[np.ndarray], int]:
    """Frames (RGB, scaled by ``scale``) of the first ``seconds`` of a greedy game, every ``every``-th
    frame of the game's 30 a second; and the pipes passed by then. The policy decides every
    ``frame_skip``-th frame, as in training."""
    from PIL import Image

    env = Flappy(render=True, scenery=True, score_limit=SCORE_LIMIT)
    observation, info = env.reset(seed=seed)
    act = actions_of(model)
    frames, done, step = [], False, 0
    while not done and step < seconds * 30:
        if step % every == 0:
            image = Image.fromarray(env.render())
            size = (round(image.width * scale), round(image.height * scale))
            frames.append(np.asarray(image.resize(size, Image.BILINEAR)))
        action = act(observation[None].astype(np.float32))[0] if step % frame_skip == 0 else 0
        observation, _, terminated, truncated, info = env.step(int(action))
        done, step = terminated or truncated, step + 1
    return frames, int(info["score"])


def save_gif(frames: list[np.ndarray], path: str | Path, fps: float = 15.0) -> Path:
    """Write RGB frames as a looping animated GIF at ``path``, atomically (one shared palette)."""
    from PIL import Image

    if not frames:
        raise ValueError("no frames to write")
    path = Path(path)
    images = [Image.fromarray(np.asarray(f, np.uint8)) for f in frames]
    palette = images[len(images) // 2].quantize(colors=64)
    quantized = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
    with atomic_path(path, suffix=".gif") as tmp:
        quantized[0].save(tmp, format="GIF", save_all=True, append_images=quantized[1:],
                          duration=round(1000 / fps), loop=0)
    return path
