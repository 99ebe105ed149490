"""The GPU configuration (full mode, mixed_bfloat16), checked on the CPU where no GPU can be.

On a GPU, full mode computes under ``mixed_bfloat16``. Three things must hold there that a CPU run
in float32 never exercises:

* every recurrent layer (LSTM, GRU, SimpleRNN) computes in float32: on a TensorFlow GPU, Keras
  sends LSTMs and GRUs to cuDNN, which rejects bfloat16 with a TypeError Keras does not catch;
* the Q-networks of chapter 12 compute in float32: bfloat16 rounds Q ≈ 10 to steps of 0.04, the
  size of the differences between actions the network must learn;
* every output that feeds a loss is float32.

Each builder of tests/test_xla.py is built here under ``mixed_bfloat16`` and its layers' compute
dtypes are read (test_backends.py runs this file under every backend).
"""

from __future__ import annotations

import keras
import pytest

from tests.test_xla import BUILDERS

RECURRENT = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN, keras.layers.RNN)
FLOAT32_THROUGHOUT = ("feature_q_network", "pixel_q_network")


@pytest.fixture
def mixed_bfloat16():
    keras.config.set_dtype_policy("mixed_bfloat16")
    yield
    keras.config.set_dtype_policy("float32")


def all_layers(model):
    """Every layer of ``model``, nested models and wrapped layers (Bidirectional, TimeDistributed) included."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        yield layer
        for inner in ("forward_layer", "backward_layer", "layer"):
            if isinstance(getattr(layer, inner, None), keras.layers.Layer):
                yield getattr(layer, inner)


def test_the_builders_include_recurrent_models():
    """The check below means something only if recurrent models are among the builders."""
    with_recurrent = [name for name, build in BUILDERS.items()
                      if any(isinstance(layer, RECURRENT) for layer in all_layers(build()))]
    assert len(with_recurrent) >= 4, with_recurrent


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_recurrent_layers_compute_in_float32_under_mixed_bfloat16(name, mixed_bfloat16):
    model = BUILDERS[name]()
    recurrent = [layer for layer in all_layers(model) if isinstance(layer, RECURRENT)]
    wrong = [f"{layer.name} ({layer.compute_dtype})" for layer in recurrent if layer.compute_dtype != "float32"]
    assert not wrong, f"{name}: recurrent layers computing in bfloat16 would crash cuDNN: {wrong}"


@pytest.mark.parametrize("name", FLOAT32_THROUGHOUT)
def test_q_networks_compute_in_float32_under_mixed_bfloat16(name, mixed_bfloat16):
    model = BUILDERS[name]()
    wrong = [layer.name for layer in all_layers(model)  # an input layer computes nothing
             if not isinstance(layer, keras.layers.InputLayer) and getattr(layer, "compute_dtype", "float32") != "float32"]
    assert not wrong, f"{name}: layers computing Q-values in bfloat16: {wrong}"


# The GAN's builder returns the pair's container and digit_trunk is a feature extractor: neither feeds a loss.
@pytest.mark.parametrize("name", sorted(set(BUILDERS) - {"gan", "digit_trunk"}))
def test_outputs_are_float32_under_mixed_bfloat16(name, mixed_bfloat16):
    model = BUILDERS[name]()
    outputs = model.outputs if isinstance(model.outputs, list) else [model.outputs]
    assert all(keras.backend.standardize_dtype(o.dtype) == "float32" for o in outputs), (
        f"{name}: outputs {[o.dtype for o in outputs]}")
