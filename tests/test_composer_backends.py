"""dlbook.music.composer on every backend (tests/test_backends.py runs this file under the other two):
the frame-NLL loss and the one-step-at-a-time LSTM that composing relies on."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import dlbook
from dlbook.music import composer, pianoroll

TINY = dict(units=8, layers=1, dropout=0.0, input_dropout=0.0, transpose=1, batch_size=64, learning_rate=1e-2,
            epochs=1, patience=1, bucket=32, seed=0)


@pytest.fixture
def fast():
    dlbook.setup(mode="fast", verbose=False)


def _toy_rolls(count=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((int(n), 88)) < 0.05).astype("float32") for n in rng.integers(5, 40, count)]


def test_the_keras_loss_is_the_frame_nll_over_real_frames():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.99, (2, 4, 88)).astype("float32")
    y = (rng.random((2, 4, 88)) < 0.1).astype("float32")
    weights = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], "float32")
    loss = float(composer.FrameNLL()(y, p, sample_weight=weights))
    assert loss == pytest.approx(pianoroll.frame_nll([p[0], p[1, :2]], [y[0], y[1, :2]]), rel=1e-5)



def test_stepwise_sampling_is_the_model_run_on_the_whole_piece(fast):
    keras.utils.set_random_seed(1)
    model = composer.chorale_model(dict(TINY, layers=2))
    piece = np.stack(_toy_rolls(3, seed=2)[:1] * 2)[:, :12]  # two copies of one 12-frame roll
    stepped = composer.sample_rolls(model, piece[:, 0], 12, teacher=piece)
    assert stepped.shape == (2, 11, 88)
    assert np.allclose(stepped, model.predict(piece[:, :-1], verbose=0), atol=1e-5)

    first = np.zeros((3, 88), "float32")
    first[:, [27, 34, 43, 51]] = 1
    rolls = composer.sample_rolls(model, first, 20, temperature=1.0, seed=7)
    assert rolls.shape == (3, 20, 88) and set(np.unique(rolls)) <= {0.0, 1.0}
    assert np.array_equal(rolls[:, 0], first)
    assert np.array_equal(rolls, composer.sample_rolls(model, first, 20, temperature=1.0, seed=7))
    assert not np.array_equal(rolls, composer.sample_rolls(model, first, 20, temperature=1.0, seed=8))
    # A model sure of itself: four keys likely (logit +3), the others unlikely (logit -3).
    kernel, bias = model.get_layer("next_frame").get_weights()
    bias[:] = -3.0
    bias[[27, 34, 43, 51]] = 3.0
    model.get_layer("next_frame").set_weights([kernel * 0.01, bias])
    # Near zero temperature sampling is deterministic: every seed plays exactly the likely keys.
    cold = [composer.sample_rolls(model, first, 20, temperature=0.01, seed=s) for s in (1, 2)]
    assert np.array_equal(*cold) and (cold[0][:, 1:].sum(-1) == 4).all()
    assert (cold[0][:, 1:, [27, 34, 43, 51]] == 1).all()
    # At T = 1 about 4 + 84·σ(-3) ≈ 8 keys a frame; hot sampling plays many more.
    assert 6 < composer.sample_rolls(model, first, 200, seed=1)[:, 1:].sum(-1).mean() < 10
    assert composer.sample_rolls(model, first, 20, temperature=5.0, seed=1)[:, 1:].sum(-1).mean() > 20
