"""Chapter 12: training a :class:`dlbook.rl.dqn.DQNAgent`, resumably.

An :class:`EnvPool` steps several games in lockstep; :func:`train_dqn` trains an agent on them
and checkpoints everything (weights, optimiser state, replay memory, random states, the games
mid-play) with :func:`save_checkpoint`, atomically, so that an interrupted run, started again,
continues exactly where it stopped. :class:`History` holds the learning curves.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from dlbook.paths import atomic_path
from dlbook.rl.dqn import DQNAgent, ReplayBuffer, epsilon_at

# --- Environments in lockstep ---------------------------------------------------------------


class EnvPool:
    """``count`` environments stepped together; a finished episode restarts at once with the next seed.

    Episode ``k`` of the pool starts with seed ``seed + k``. The environments must offer
    ``get_state()`` and ``set_state(state, observation)`` (see :class:`dlbook.rl.flappy.Flappy`), so
    that the pool, games in progress included, can be checkpointed and restored exactly.
    """

    def __init__(self, make_env: Callable, count: int, seed: int):
        self.envs = [make_env() for _ in range(count)]
        self.next_seed = seed
        self.observations = np.stack([self._reset(env) for env in self.envs])
        self.returns = np.zeros(count)
        self.lengths = np.zeros(count, np.int64)

    def _reset(self, env):
        observation, _ = env.reset(seed=self.next_seed)
        self.next_seed += 1
        return observation

    def step(self, actions) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        """Step each environment; returns ``(next observations, rewards, terminated, finished)``.

        The next observations are the true ones, also for a game that just ended (the pool's
        ``observations`` then hold the new game's first one); ``finished`` lists each ended
        game's ``score``, ``return`` and ``length``.
        """
        next_observations = np.empty_like(self.observations)
        rewards = np.zeros(len(self.envs), np.float32)
        terminated = np.zeros(len(self.envs), np.bool_)
        finished = []
        for i, (env, action) in enumerate(zip(self.envs, actions)):
            observation, reward, term, trunc, info = env.step(int(action))
            next_observations[i], rewards[i], terminated[i] = observation, reward, term
            self.returns[i] += reward
            self.lengths[i] += 1
            if term or trunc:
                finished.append({"score": int(info["score"]), "return": float(self.returns[i]),
                                 "length": int(self.lengths[i])})
                self.returns[i], self.lengths[i] = 0.0, 0
                observation = self._reset(env)
            self.observations[i] = observation
        return next_observations, rewards, terminated, finished

    def state(self) -> tuple[dict, dict]:
        meta = {"next_seed": self.next_seed, "envs": [env.get_state() for env in self.envs]}
        return meta, {"pool_observations": self.observations, "pool_returns": self.returns,
                      "pool_lengths": self.lengths}

    def restore(self, meta: dict, arrays: dict) -> None:
        self.next_seed = meta["next_seed"]
        self.observations[...] = arrays["pool_observations"]
        self.returns[...], self.lengths[...] = arrays["pool_returns"], arrays["pool_lengths"]
        for env, state, observation in zip(self.envs, meta["envs"], self.observations):
            env.set_state(state, observation)


# --- Training with checkpoints -------------------------------------------------------------


@dataclasses.dataclass
class History:
    """The learning curves: one row per finished game, one per ``log_every`` updates, and one per
    validation of the greedy policy; ``step``: the environment steps done."""

    step: int = 0
    episodes: dict = dataclasses.field(default_factory=lambda: {"step": [], "score": [], "return": [], "length": []})
    updates: dict = dataclasses.field(default_factory=lambda: {"step": [], "loss": [], "mean_q": []})
    validations: dict = dataclasses.field(default_factory=lambda: {"step": [], "score": []})
    candidates: dict = dataclasses.field(default_factory=lambda: {"step": [], "validation": [], "rescore": []})
    """The best validated networks at the end: their step, validation score and score on the second
    seed set (see :func:`train_dqn`); the one kept is :attr:`chosen`."""

    TABLES = ("episodes", "updates", "validations", "candidates")

    @property
    def chosen(self) -> int | None:
        """The index in :attr:`candidates` of the network the agent holds at the end (None: none validated)."""
        table = self.candidates
        if not table["step"]:
            return None
        means = [(v + r) / 2 if r == r else v for v, r in zip(table["validation"], table["rescore"])]  # r == r: not NaN
        return max(range(len(means)), key=lambda i: (means[i], table["step"][i]))

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"{table}_{k}": np.asarray(v, np.float64)
                for table in self.TABLES for k, v in getattr(self, table).items()}

    @classmethod
    def from_arrays(cls, arrays: dict) -> "History":
        history = cls()
        for table in cls.TABLES:
            for key in getattr(history, table):
                getattr(history, table)[key] = arrays[f"{table}_{key}"].tolist()
        history.candidates["step"] = [int(step) for step in history.candidates["step"]]
        return history


@dataclasses.dataclass
class Progress:
    """Where a training run stands: env steps, updates, and the loss being averaged for the log."""

    step: int = 0
    updates: int = 0
    loss_sum: float = 0.0
    q_sum: float = 0.0
    logged: int = 0  # updates in the current log window
    validated_at: int = 0  # the step of the last validation
    kept: list = dataclasses.field(default_factory=list)  # [score, step] of the best validations (weights: kept_*)
    rescored: list | None = None  # their scores on the second seed set, once the run is finished


def save_checkpoint(path: Path, meta: dict, arrays: dict) -> None:
    """Write ``arrays`` and the JSON-able ``meta`` to one ``.npz`` file, atomically."""
    with atomic_path(Path(path), suffix=".npz") as tmp:
        np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)


def load_checkpoint(path: Path) -> tuple[dict, dict]:
    """``(meta, arrays)`` of a checkpoint written by :func:`save_checkpoint` (no pickles)."""
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    return json.loads(str(arrays.pop("meta"))), arrays


def train_dqn(agent: DQNAgent, make_env: Callable, settings: dict, checkpoint: Path | None = None,
              until: int | None = None, progress: bool = True, validate: Callable | None = None,
              rescore: Callable | None = None) -> History:
    """Train ``agent`` for ``settings["steps"]`` environment steps; returns the learning curves.

    ``settings`` holds ``envs`` (games in lockstep), ``buffer_size``, ``batch_size``, ``warmup``
    (steps before the first update), ``target_every`` (updates between target syncs),
    ``epsilon_start``/``epsilon_end``/``epsilon_decay`` (steps), ``random_flap`` (the random
    action's probability of flapping), ``log_every`` (updates), ``checkpoint_every`` (steps) and
    ``seed``. Every iteration steps each game once and then makes one update (from ``warmup`` steps on).

    With ``checkpoint``, the state is saved there every ``checkpoint_every`` steps and at the end,
    and a run that finds a checkpoint continues from it: the same updates, games and random
    numbers as a run that was never interrupted. ``until`` stops (with a checkpoint) once that
    many steps are done, to train in instalments.

    With ``validate`` (a function from the online network to a score, such as the mean of greedy
    games on seeds of their own) and ``settings["validate_every"]`` (steps), the greedy policy is
    scored that often and the weights of the ``settings["candidates"]`` (default 1) best scores so
    far are kept (in the checkpoint too): DQN's play can get worse again as training goes on. The
    best of many noisy scores is an optimistic one, so when the run is finished ``rescore`` (the
    same games on other seeds) scores those candidates again, and the agent's online network holds
    the candidate with the best mean of its two scores (:attr:`History.chosen`; without
    ``rescore``, the best validation).
    """
    total = settings["steps"] if until is None else min(until, settings["steps"])
    pool = EnvPool(make_env, settings["envs"], seed=1_000_000 * (1 + settings["seed"]))
    buffer = ReplayBuffer(settings["buffer_size"], pool.observations.shape[1:], pool.observations.dtype)
    rng = np.random.default_rng(settings["seed"])
    history, state = History(), Progress()
    kept = []  # the online weights of the kept validations, in the order of state.kept
    if checkpoint is not None and Path(checkpoint).is_file():
        meta, arrays = load_checkpoint(checkpoint)
        if meta["settings"] != json.loads(json.dumps(settings)):
            raise ValueError(f"{checkpoint} was written by another recipe; delete it to start afresh.")
        agent.restore(arrays)
        buffer.restore(meta["buffer"], arrays)
        pool.restore(meta["pool"], arrays)
        rng.bit_generator.state = meta["rng"]
        history, state = History.from_arrays(arrays), Progress(**meta["progress"])
        kept = [[arrays[f"kept_{j}_{i}"] for i in range(len(agent.online.weights))] for j in range(len(state.kept))]

    def save():
        if checkpoint is not None:
            buffer_meta, buffer_arrays = buffer.state()
            pool_meta, pool_arrays = pool.state()
            meta = {"settings": settings, "buffer": buffer_meta, "pool": pool_meta,
                    "rng": rng.bit_generator.state, "progress": dataclasses.asdict(state)}
            kept_arrays = {f"kept_{j}_{i}": w for j, weights in enumerate(kept) for i, w in enumerate(weights)}
            save_checkpoint(checkpoint, meta, {**agent.state(), **buffer_arrays, **pool_arrays, **history.arrays(),
                                               **kept_arrays})

    def keep(score: float) -> None:
        """Add the online network to the kept candidates if its score is among the best (ties: the later)."""
        entries = sorted(zip(state.kept + [[score, state.step]], kept + [agent.online.get_weights()]),
                         key=lambda entry: (-entry[0][0], -entry[0][1]))[:settings.get("candidates", 1)]
        state.kept, kept[:] = [entry[0] for entry in entries], [entry[1] for entry in entries]

    saved_at = state.step
    bar = tqdm(total=settings["steps"], initial=state.step, desc="DQN", unit="step", disable=not progress,
               leave=False, mininterval=2.0)
    while state.step < total:
        epsilon = epsilon_at(state.step, settings["epsilon_start"], settings["epsilon_end"], settings["epsilon_decay"])
        observations = pool.observations.copy()
        count = len(observations)
        # The batch of this iteration's update is drawn first, so that one call of the networks
        # gives both the Q-values to act on and those of the batch's next states.
        updating = state.step + count >= settings["warmup"] and len(buffer) > 0
        batch = buffer.sample(settings["batch_size"], rng) if updating else None
        rows = observations if batch is None else np.concatenate([observations, batch.next_observations])
        online_q, target_q = agent.both_q_values(rows)
        actions = agent.epsilon_greedy(online_q[:count], epsilon, rng, settings["random_flap"])
        next_observations, rewards, terminated, finished = pool.step(actions)
        buffer.add(observations, actions, rewards, next_observations, terminated)
        state.step += count
        for game in finished:
            for key, value in (("step", state.step), *game.items()):
                history.episodes[key].append(value)
        if batch is not None:
            loss, mean_q = agent.update(batch, (online_q[count:], target_q[count:]))
            state.updates += 1
            state.loss_sum, state.q_sum, state.logged = state.loss_sum + loss, state.q_sum + mean_q, state.logged + 1
            if state.updates % settings["target_every"] == 0:
                agent.sync_target()
            if state.logged == settings["log_every"]:
                for key, value in (("step", state.step), ("loss", state.loss_sum / state.logged),
                                   ("mean_q", state.q_sum / state.logged)):
                    history.updates[key].append(value)
                state.loss_sum, state.q_sum, state.logged = 0.0, 0.0, 0
        bar.update(len(actions))
        if finished and progress:
            recent = history.episodes["score"][-100:]
            bar.set_postfix(score=f"{np.mean(recent):.1f}", epsilon=f"{epsilon:.3f}", refresh=False)
        every = settings.get("validate_every", 0) if validate is not None else 0
        if every and (state.step - state.validated_at >= every or state.step >= settings["steps"]):
            score = float(validate(agent.online))
            history.validations["step"].append(state.step)
            history.validations["score"].append(score)
            keep(score)
            state.validated_at = state.step
            if progress:
                bar.write(f"step {state.step:,}: validation score {score:.1f} (best {state.kept[0][0]:.1f})")
        if state.step - saved_at >= settings["checkpoint_every"]:
            save()
            saved_at = state.step
    bar.close()
    history.step = state.step
    finished_now = state.step >= settings["steps"] and kept and state.rescored is None
    if finished_now:
        state.rescored = [float(rescore(_with_weights(agent.online, w))) if rescore else float("nan") for w in kept]
        history.candidates = {"step": [int(step) for _, step in state.kept],
                              "validation": [float(score) for score, _ in state.kept], "rescore": state.rescored}
    if finished_now or state.step != saved_at or not (checkpoint and Path(checkpoint).is_file()):
        save()
    if kept and state.step >= settings["steps"]:
        agent.online.set_weights(kept[history.chosen])
    return history


def _with_weights(model, weights):
    """``model`` holding ``weights`` (set in place: the caller sets the weights it keeps afterwards)."""
    model.set_weights(weights)
    return model
