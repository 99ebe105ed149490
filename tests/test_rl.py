"""Chapter 12's reinforcement-learning pieces: Q-learning, the replay buffer, the Double-DQN
targets, the agent, and training that resumes after an interruption."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dlbook.config import setup
from dlbook.rl import dqn, tabular_q, training
from dlbook.rl.flappy import Flappy, feature_q_network


@pytest.fixture(autouse=True)
def fast_mode():
    setup(mode="fast", precision="float32", verbose=False)


# --- Tabular Q-learning ------------------------------------------------------------------------


def test_corridor_rewards_and_ends():
    env = tabular_q.Corridor(5)
    assert env.start == 2
    assert env.step(2, 1) == (3, 0.0, False)
    assert env.step(3, 1) == (4, 1.0, True)
    assert env.step(1, 0) == (0, -1.0, True)
    with pytest.raises(ValueError, match="at least 3 cells"):
        tabular_q.Corridor(2)
    with pytest.raises(ValueError, match="floor cell"):
        tabular_q.Corridor(5, start=0)


def test_optimal_q_solves_the_bellman_equation():
    env, gamma = tabular_q.Corridor(5), 0.9
    q = tabular_q.optimal_q(env, gamma)
    # One step from the treasure: 1; two steps: 0.9; three: 0.81. Left from cell 1 falls in the pit.
    np.testing.assert_allclose(q[3, 1], 1.0)
    np.testing.assert_allclose(q[2, 1], 0.9)
    np.testing.assert_allclose(q[1, 1], 0.81)
    np.testing.assert_allclose(q[1, 0], -1.0)
    np.testing.assert_allclose(q[2, 0], gamma * q[1].max())


def test_q_learning_finds_the_optimal_q_values_of_the_best_actions():
    env = tabular_q.Corridor(5)
    q, returns = tabular_q.q_learning(env, episodes=300, seed=0)
    best = tabular_q.optimal_q(env)
    assert len(returns) == 300
    assert (q[1:-1].argmax(axis=1) == 1).all()  # always walk right
    np.testing.assert_allclose(q[1:-1, 1], best[1:-1, 1], atol=0.02)
    assert np.mean(returns[-50:]) > 0.7


# --- Replay buffer ----------------------------------------------------------------------------


def _transitions(start, count, shape=(3,)):
    observations = np.arange(start, start + count, dtype=np.float32)[:, None] * np.ones(shape, np.float32)
    return (observations, np.arange(start, start + count) % 2, np.arange(start, start + count, dtype=np.float32),
            observations + 0.5, np.arange(start, start + count) % 3 == 0)


def test_replay_buffer_keeps_the_latest_transitions():
    buffer = dqn.ReplayBuffer(5, (3,))
    buffer.add(*_transitions(0, 3))
    assert len(buffer) == 3 and buffer.position == 3
    buffer.add(*_transitions(3, 4))  # 7 in all: 0 and 1 are overwritten
    assert len(buffer) == 5 and buffer.position == 2
    assert sorted(buffer.rewards.tolist()) == [2, 3, 4, 5, 6]
    batch = buffer.sample(64, np.random.default_rng(0))
    assert batch.observations.shape == (64, 3) and batch.next_observations.shape == (64, 3)
    assert set(batch.rewards.tolist()) <= {2.0, 3.0, 4.0, 5.0, 6.0}
    # Every sampled row is one stored transition, its fields together.
    np.testing.assert_array_equal(batch.observations[:, 0], batch.rewards)
    np.testing.assert_array_equal(batch.next_observations[:, 0], batch.rewards + 0.5)
    np.testing.assert_array_equal(batch.actions, batch.rewards.astype(int) % 2)
    np.testing.assert_array_equal(batch.dones, batch.rewards.astype(int) % 3 == 0)


def test_replay_buffer_packs_binary_frames_and_restores_its_state():
    rng = np.random.default_rng(1)
    frames = rng.random((4, 5, 5, 2)) < 0.5
    buffer = dqn.ReplayBuffer(4, (5, 5, 2), np.bool_)
    buffer.add(frames, np.zeros(4), np.zeros(4), ~frames, np.zeros(4, bool))
    assert buffer.observations.dtype == np.uint8 and buffer.observations.shape == (4, 7)  # 50 bits in 7 bytes
    batch = buffer.sample(16, rng)
    assert batch.observations.dtype == np.bool_
    for observation, following in zip(batch.observations, batch.next_observations):
        assert any((observation == f).all() for f in frames)
        np.testing.assert_array_equal(following, ~observation)
    meta, arrays = buffer.state()
    copy = dqn.ReplayBuffer(4, (5, 5, 2), np.bool_)
    copy.restore(meta, arrays)
    assert (copy.position, copy.size) == (buffer.position, buffer.size)
    np.testing.assert_array_equal(copy.observations, buffer.observations)


def test_replay_buffer_rejects_bad_use():
    with pytest.raises(ValueError, match="capacity"):
        dqn.ReplayBuffer(0, (3,))
    with pytest.raises(ValueError, match="empty"):
        dqn.ReplayBuffer(4, (3,)).sample(2, np.random.default_rng(0))


# --- Bellman targets and the loss ---------------------------------------------------------------


def test_double_dqn_target_on_a_hand_computed_case():
    rewards = [0.1, 1.0, -1.0]
    dones = [False, False, True]
    next_q_target = [[2.0, 5.0], [4.0, 3.0], [9.0, 9.0]]
    next_q_online = [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]  # the online network prefers 0, then 1
    # Double DQN: the online network picks a*, the target network values it.
    # 0.1 + 0.5 * Q_target(s', 0) = 0.1 + 0.5 * 2 = 1.1; 1 + 0.5 * 3 = 2.5; terminal: just −1.
    double = dqn.bellman_targets(rewards, dones, next_q_target, 0.5, next_q_online)
    np.testing.assert_allclose(double, [1.1, 2.5, -1.0])
    assert double.dtype == np.float32
    # Plain DQN takes the target network's max: 0.1 + 0.5 * 5 = 2.6; 1 + 0.5 * 4 = 3.0.
    np.testing.assert_allclose(dqn.bellman_targets(rewards, dones, next_q_target, 0.5), [2.6, 3.0, -1.0])


def test_huber_loss_on_the_chosen_action_only():
    y_true = np.array([[0, 1.0], [1, 0.0], [1, 5.0]], np.float32)  # action, target
    q_values = np.array([[1.5, 100.0], [-7.0, 0.5], [0.0, 2.0]], np.float32)
    loss = keras.ops.convert_to_numpy(dqn.chosen_action_huber(y_true, q_values))
    # errors 0.5 (quadratic: 0.125), 0.5 (0.125), 3 (linear: 3 − 0.5)
    np.testing.assert_allclose(loss, [0.125, 0.125, 2.5], rtol=1e-6)


def test_epsilon_schedule():
    assert dqn.epsilon_at(0, 1.0, 0.1, 100) == 1.0
    assert dqn.epsilon_at(50, 1.0, 0.1, 100) == pytest.approx(0.55)
    assert dqn.epsilon_at(1000, 1.0, 0.1, 100) == pytest.approx(0.1)
    assert dqn.epsilon_at(5, 1.0, 0.1, 0) == pytest.approx(0.1)


# --- The agent --------------------------------------------------------------------------------


def _agent(learning_rate=1e-3):
    keras.utils.set_random_seed(0)
    return dqn.DQNAgent(feature_q_network((16,)), learning_rate, gamma=0.9)


def test_agent_acts_epsilon_greedily_with_biased_random_actions():
    agent = _agent()
    observations = np.random.default_rng(0).random((2000, 12)).astype(np.float32)
    greedy = agent.q_values(observations).argmax(axis=1)
    np.testing.assert_array_equal(agent.act(observations, 0.0, np.random.default_rng(0)), greedy)
    random_actions = agent.act(observations, 1.0, np.random.default_rng(0), random_one=0.1)
    assert 0.07 < random_actions.mean() < 0.13


def test_agent_update_moves_q_towards_the_target_and_syncs():
    agent = _agent(1e-2)
    rng = np.random.default_rng(0)
    observations = rng.random((32, 12)).astype(np.float32)
    batch = dqn.Batch(observations, np.zeros(32, np.int32), np.full(32, 1.0, np.float32), observations,
                     np.ones(32, bool))  # terminal: the target is the reward, 1
    before = np.abs(agent.q_values(observations)[:, 0] - 1.0).mean()
    losses = [agent.update(batch)[0] for _ in range(30)]
    after = np.abs(agent.q_values(observations)[:, 0] - 1.0).mean()
    assert after < before / 2 and losses[-1] < losses[0]
    assert not np.allclose(agent.target.predict_on_batch(observations), agent.q_values(observations))
    agent.sync_target()
    np.testing.assert_allclose(agent.target.predict_on_batch(observations), agent.q_values(observations))


def test_agent_state_restores_weights_and_optimizer():
    agent = _agent()
    observations = np.random.default_rng(0).random((8, 12)).astype(np.float32)
    batch = dqn.Batch(observations, np.ones(8, np.int32), np.ones(8, np.float32), observations, np.zeros(8, bool))
    agent.update(batch)
    state = agent.state()
    copy = _agent()
    copy.restore(state)
    np.testing.assert_allclose(copy.q_values(observations), agent.q_values(observations))
    assert int(copy.online.optimizer.iterations) == int(agent.online.optimizer.iterations) == 1
    # The same next step from the same state: the optimiser's moments came along.
    agent.update(batch)
    copy.update(batch)
    np.testing.assert_allclose(copy.q_values(observations), agent.q_values(observations), rtol=1e-5, atol=1e-6)


# --- Resumable training ----------------------------------------------------------------------

TINY = dict(envs=4, buffer_size=500, batch_size=16, warmup=40, target_every=10, epsilon_start=1.0,
            epsilon_end=0.1, epsilon_decay=200, random_flap=0.1, log_every=5, checkpoint_every=10_000,
            seed=3, steps=240)


def _train(path, until=None):
    agent = _agent()
    history = training.train_dqn(agent, Flappy, TINY, checkpoint=path, until=until, progress=False)
    return agent, history


def test_an_interrupted_run_continues_where_it_stopped(tmp_path):
    straight, straight_history = _train(tmp_path / "straight.npz")
    assert straight_history.step == 240
    # 4 games a step: updates at steps 40, 44, ..., 240, 51 of them, their means logged every 5.
    assert len(straight_history.updates["loss"]) == 10
    # "Interrupted" at 120 steps (the checkpoint is all that survives), then started again.
    _, first_half = _train(tmp_path / "resumed.npz", until=120)
    assert first_half.step == 120
    meta, _ = training.load_checkpoint(tmp_path / "resumed.npz")
    assert meta["progress"]["step"] == 120 and meta["progress"]["updates"] == 21
    assert dqn.epsilon_at(meta["progress"]["step"], 1.0, 0.1, 200) == pytest.approx(0.46)
    resumed, resumed_history = _train(tmp_path / "resumed.npz")
    assert resumed_history.step == 240
    assert int(resumed.online.optimizer.iterations) == int(straight.online.optimizer.iterations) == 51
    for a, b in zip(resumed.online.get_weights() + resumed.target.get_weights(),
                    straight.online.get_weights() + straight.target.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert resumed_history.episodes == straight_history.episodes
    np.testing.assert_allclose(resumed_history.updates["loss"], straight_history.updates["loss"], rtol=1e-4)
    # A finished run, started again, returns at once with its learning curves.
    again, again_history = _train(tmp_path / "resumed.npz")
    assert again_history.episodes == straight_history.episodes
    assert int(again.online.optimizer.iterations) == 51


def test_a_checkpoint_of_another_recipe_is_refused(tmp_path):
    _train(tmp_path / "run.npz", until=40)
    with pytest.raises(ValueError, match="another recipe"):
        training.train_dqn(_agent(), Flappy, dict(TINY, batch_size=8), checkpoint=tmp_path / "run.npz",
                              progress=False)


def test_checkpoints_are_written_atomically(tmp_path):
    path = tmp_path / "state.npz"
    training.save_checkpoint(path, {"step": 3}, {"w": np.arange(4)})
    with pytest.raises(RuntimeError):
        with training.atomic_path(path, suffix=".npz"):
            raise RuntimeError("killed mid-write")
    meta, arrays = training.load_checkpoint(path)
    assert meta == {"step": 3}
    np.testing.assert_array_equal(arrays["w"], np.arange(4))
    assert [p.name for p in tmp_path.iterdir()] == ["state.npz"]


def test_env_pool_restarts_finished_games_with_the_next_seed():
    pool = training.EnvPool(Flappy, 2, seed=10)
    assert pool.next_seed == 12
    finished = []
    for _ in range(40):  # never flapping, a game ends after 31 frames
        _, _, terminated, ended = pool.step(np.zeros(2, np.int32))
        finished += ended
    assert len(finished) == 2 and pool.next_seed == 14
    assert all(game["length"] == 31 and game["score"] == 0 for game in finished)


def test_validation_keeps_the_best_weights(tmp_path):
    scores = iter([3.0, 7.0, 5.0])
    seen = []

    def validate(model):
        seen.append(model.get_weights())
        return next(scores)

    settings = dict(TINY, validate_every=80)
    agent = _agent()
    history = training.train_dqn(agent, Flappy, settings, checkpoint=tmp_path / "run.npz", progress=False,
                                    validate=validate)
    assert history.validations == {"step": [80, 160, 240], "score": [3.0, 7.0, 5.0]}
    assert history.candidates["step"] == [160] and history.chosen == 0  # one candidate by default, no re-scoring
    for a, b in zip(agent.online.get_weights(), seen[1]):  # the finished agent holds the best weights
        np.testing.assert_array_equal(a, b)
    # Resumed from its checkpoint, the finished run gives the same best weights.
    again = _agent()
    training.train_dqn(again, Flappy, settings, checkpoint=tmp_path / "run.npz", progress=False, validate=validate)
    for a, b in zip(again.online.get_weights(), seen[1]):
        np.testing.assert_array_equal(a, b)


def test_the_best_candidates_are_rescored_on_other_games(tmp_path):
    validation = iter([3.0, 8.0, 5.0, 6.0])  # steps 60, 120, 180, 240: keep 120, 240, 180
    seen, rescored = {}, []

    def validate(model):
        score = next(validation)
        seen[score] = model.get_weights()
        return score

    def rescore(model):  # the lucky 8.0 does worse on other games; 6.0 holds up
        score = {8.0: 2.0, 6.0: 7.0, 5.0: 4.0}[next(k for k, w in seen.items()
                                                   if all(np.array_equal(a, b) for a, b in zip(w, model.get_weights())))]
        rescored.append(score)
        return score

    settings = dict(TINY, validate_every=60, candidates=3)
    agent = _agent()
    history = training.train_dqn(agent, Flappy, settings, checkpoint=tmp_path / "run.npz", progress=False,
                                 validate=validate, rescore=rescore)
    assert history.candidates == {"step": [120, 240, 180], "validation": [8.0, 6.0, 5.0], "rescore": [2.0, 7.0, 4.0]}
    assert history.chosen == 1  # means 5.0, 6.5, 4.5
    for a, b in zip(agent.online.get_weights(), seen[6.0]):
        np.testing.assert_array_equal(a, b)
    # A finished run started again neither trains nor re-scores; it holds the same network.
    again = _agent()
    history = training.train_dqn(again, Flappy, settings, checkpoint=tmp_path / "run.npz", progress=False,
                                 validate=validate, rescore=rescore)
    assert len(rescored) == 3 and history.chosen == 1
    for a, b in zip(again.online.get_weights(), seen[6.0]):
        np.testing.assert_array_equal(a, b)


def test_greedy_policy_in_numpy_is_the_networks_argmax():
    keras.utils.set_random_seed(0)
    network = feature_q_network((32, 16))
    observations = np.random.default_rng(0).normal(size=(500, 12)).astype(np.float32)
    q_values = network.predict_on_batch(observations)
    act = dqn.greedy_policy(network)
    np.testing.assert_array_equal(act(observations), q_values.argmax(axis=1))
    # Other networks (here a softmax head, which NumPy does not run) go through the framework.
    inputs = keras.Input((12,))
    other = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    np.testing.assert_array_equal(dqn.greedy_policy(other)(observations),
                                  other.predict_on_batch(observations).argmax(axis=1))


def test_q_networks_compute_in_float32_under_mixed_precision():
    from dlbook.rl.flappy import pixel_q_network

    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        for network in (feature_q_network((16,)), pixel_q_network()):
            assert {layer.compute_dtype for layer in network.layers[1:]} == {"float32"}, network.name
            assert {layer.variable_dtype for layer in network.layers[1:]} == {"float32"}
            assert network.outputs[0].dtype == "float32"
    finally:
        keras.config.set_dtype_policy("float32")
