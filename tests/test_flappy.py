"""Chapter 12's game: the Flappy Bird wrapper, the evaluation protocol, GIFs and the app `dlbook play`."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from dlbook import apps, cache
from dlbook.config import setup
from dlbook.rl import flappy


@pytest.fixture(autouse=True)
def fast_mode():
    setup(mode="fast", precision="float32", verbose=False)


@pytest.fixture
def empty_cache(isolated, monkeypatch):
    """An empty model cache under tmp_path, whatever $DLBOOK_MODELS says."""
    monkeypatch.setenv("DLBOOK_MODELS", str(isolated / "models"))
    return isolated


def steering(observations):
    """A hand-written controller for the 12 features: flap when the bird sinks below the gap of the
    pipe ahead. It passes a dozen pipes or more, enough to test what happens when games go on."""
    actions = []
    for o in np.atleast_2d(observations):
        ahead = int(np.argmax(o[[0, 3, 6]] > 5 / 288))  # the first pipe whose end is right of the bird
        bottom = o[3 * ahead + 2] if o[3 * ahead + 2] < 1.0 else 0.6  # no pipe on screen yet: aim mid-screen
        actions.append(int(o[9] + 24 / 512 > bottom - 0.04 and o[10] > -0.2))
    return np.array(actions)


def never_flap(observations):
    return np.zeros(len(observations), np.int64)


def test_features_and_rewards():
    env = flappy.Flappy()
    observation, info = env.reset(seed=0)
    assert observation.shape == (12,) and observation.dtype == np.float32 and info["score"] == 0
    rewards, terminated, steps = [], False, 0
    while not terminated:  # never flapping: the bird falls to the ground
        observation, reward, terminated, truncated, info = env.step(0)
        rewards.append(reward)
        steps += 1
    assert steps == 31 and not truncated
    assert rewards[:-1] == [0.1] * 30 and rewards[-1] == -1


def test_preprocess_makes_binary_frames():
    env = flappy.Flappy(render=True)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (512, 288, 3)
    binary = flappy.preprocess(frame)
    assert binary.shape == (80, 80) and binary.dtype == np.bool_
    assert 0 < binary.mean() < 0.2  # the bird (and later the pipes) on an empty background
    with pytest.raises(ValueError, match="rendered frame"):
        flappy.preprocess(np.zeros((80, 80)))


def test_pixel_observations_stack_four_frames():
    env = flappy.Flappy(pixels=True)
    observation, _ = env.reset(seed=0)
    assert observation.shape == (80, 80, 4) and observation.dtype == np.bool_
    assert all((observation[..., i] == observation[..., 0]).all() for i in range(4))  # the first frame, 4 times
    following, *_ = env.step(1)
    np.testing.assert_array_equal(following[..., :3], observation[..., 1:])
    assert not (following[..., 3] == following[..., 2]).all()  # the bird moved


@pytest.mark.parametrize("pixels", [False, True])
def test_a_saved_game_continues_identically(pixels):
    actions = [1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]
    env = flappy.Flappy(pixels=pixels)
    observation, _ = env.reset(seed=5)
    for action in actions[:8]:
        observation, *_ = env.step(action)
    state = env.get_state()
    straight = [env.step(action)[0] for action in actions[8:]]
    other = flappy.Flappy(pixels=pixels)
    other.reset(seed=99)
    other.set_state(state, observation)
    continued = [other.step(action)[0] for action in actions[8:]]
    np.testing.assert_array_equal(np.array(continued), np.array(straight))


def test_evaluation_protocol_fixed_seeds_and_score_limit():
    limited = flappy.evaluate(steering, episodes=4, score_limit=3, progress=False)
    assert limited.tolist() == [3, 3, 3, 3]  # each game cut off at 3 pipes
    again = flappy.evaluate(steering, episodes=4, seed=0, score_limit=50, progress=False)
    np.testing.assert_array_equal(again, flappy.evaluate(steering, episodes=4, seed=0, score_limit=50,
                                                         progress=False))  # fixed seeds: the same games
    assert again.max() > 3 and len(set(again.tolist())) > 1  # different seeds, different games
    assert flappy.evaluate(never_flap, episodes=3, progress=False).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="at least 1"):
        flappy.evaluate(never_flap, episodes=0)


def test_evaluation_of_a_q_network_over_fifty_games():
    model = flappy.feature_q_network((8,))
    scores = flappy.evaluate(model, score_limit=flappy.SCORE_LIMIT, progress=False)
    assert scores.shape == (flappy.EVAL_EPISODES,) == (50,)
    summary = flappy.summarize(scores)
    assert set(summary) == {"mean", "median", "min", "max"}
    assert summary["min"] <= summary["median"] <= summary["max"] and summary["mean"] == scores.mean()
    assert flappy.summarize([1, 2, 3, 10]) == {"mean": 4.0, "median": 2.5, "min": 1.0, "max": 10.0}
    with pytest.raises(ValueError):
        flappy.summarize([])


def test_bootstrap_interval_of_the_mean():
    rng = np.random.default_rng(0)
    scores = rng.geometric(1 / 60, 50)  # like a DQN's pipes: many short games, a few long ones
    low, high = flappy.bootstrap_interval(scores)
    assert low < scores.mean() < high
    standard_error = scores.std(ddof=1) / np.sqrt(len(scores))
    assert high - low == pytest.approx(2 * 1.96 * standard_error, rel=0.2)  # about ±2 standard errors
    assert flappy.bootstrap_interval(scores) == (low, high)  # seeded: the same interval each time
    assert flappy.bootstrap_interval([3, 3, 3]) == (3.0, 3.0)
    with pytest.raises(ValueError, match="at least 2"):
        flappy.bootstrap_interval([5])


def test_the_first_pipe_reaches_the_bird_in_frame_50_and_is_passed_in_frame_61():
    # The first pipe starts at the screen's right edge (x = 288) and moves 4 pixels a frame; the
    # bird's box spans x = 57..91, its middle is at 74, and a pipe (52 wide) scores when its middle
    # passes the bird's, checked before the pipes move.
    assert flappy.first_pipe_frames(seed=0) == flappy.first_pipe_frames(seed=3) == (50, 61)
    # Random birds get no further: they crash into that first pipe (or the ground before it).
    rng = np.random.default_rng(0)
    ends = []
    for seed in range(5):
        env = flappy.Flappy()
        env.reset(seed=seed)
        frame, done = 0, False
        while not done:
            _, _, done, _, info = env.step(int(rng.random() < 0.1))
            frame += 1
        ends.append((frame, info["score"]))
    assert all(score == 0 and frame <= 61 for frame, score in ends)


def test_recipes_differ_by_mode():
    fast = flappy.recipe()
    setup(mode="full", precision="float32", verbose=False)
    full = flappy.recipe()
    assert full["steps"] > fast["steps"] and not full["pixels"]
    assert flappy.recipe(pixels=True)["pixels"]
    assert flappy.build(flappy.recipe(pixels=True)).output_shape == (None, 2)
    assert cache.entry_for(flappy.cached_agent(full)) != cache.entry_for(flappy.cached_agent(fast))
    assert flappy.recipe(mode="fast") == fast and cache.entry_for(flappy.cached_agent()).mode == "full"


def test_train_agent_resumes_from_its_checkpoint(empty_cache):
    settings = dict(flappy.recipe(), units=[8], envs=4, buffer_size=400, batch_size=8, warmup=40,
                    target_every=10, epsilon_decay=100, steps=160, checkpoint_every=10_000)
    entry = cache.entry_for(flappy.cached_agent(settings))
    _, history = flappy.train_agent(settings, until=80, progress=False)
    assert history.step == 80 and (cache.work_folder(entry) / "checkpoint.npz").is_file() and not entry.exists()
    agent, history = flappy.train_agent(settings, progress=False)
    assert history.step == 160 and entry.exists()  # finished: the Q-network is cached for the app
    assert int(agent.online.optimizer.iterations) == (160 - 40) // 4 + 1


def test_gif_is_animated_and_written_atomically(tmp_path):
    frames, score = flappy.play_frames(steering, seconds=2.0, every=3)
    assert len(frames) == 20 and frames[0].shape == (256, 144, 3) and score == 0
    path = flappy.save_gif(frames, tmp_path / "game.gif")
    with Image.open(path) as image:
        assert image.n_frames == 20 and image.info["loop"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["game.gif"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # like any new file, not 0600
    with pytest.raises(ValueError, match="no frames"):
        flappy.save_gif([], tmp_path / "empty.gif")
    assert not (tmp_path / "empty.gif").exists()


def test_play_rejects_bad_input_before_any_work(empty_cache):
    isolated = empty_cache
    for kwargs, message in ((dict(episodes=0), "episodes must be between 1 and 100, got 0"),
                            (dict(episodes=1000), "episodes must be between 1 and 100, got 1000"),
                            (dict(seed=-1), "seed must be a whole number from 0"),
                            (dict(gif=isolated / "game.png"), r"should end in \.gif"),
                            (dict(gif=isolated / "missing" / "game.gif"), "does not exist; create it first")):
        with pytest.raises(apps.InvalidInput, match=message):
            apps.play(**kwargs)
    (isolated / "folder.gif").mkdir()
    with pytest.raises(apps.InvalidInput, match="is a folder"):
        apps.play(gif=isolated / "folder.gif")
    assert cache.list_entries() == []  # nothing was trained


def test_play_command_with_a_cached_agent(empty_cache, capsys):
    from dlbook.cli import main

    isolated = empty_cache
    cache.save(flappy.cached_agent(), flappy.feature_q_network(flappy.recipe()["units"]))  # untrained
    gif = isolated / "out.gif"
    assert main(["play", "--episodes", "2", "--gif", str(gif), "--seed", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("episode 1\t") and out[1].startswith("episode 2\t") and out[2] == str(gif)
    with Image.open(gif) as image:
        assert image.n_frames > 1
    assert main(["play", "--episodes", "0"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0  # one line, no traceback
