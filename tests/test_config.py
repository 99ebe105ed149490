"""dlbook.setup and dlbook.pick."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import dlbook
from dlbook import config


@pytest.fixture(autouse=True)
def restore_policy():
    yield
    keras.config.set_dtype_policy("float32")


def test_setup_defaults_follow_the_device(monkeypatch, capsys):
    """Fast float32 on a CPU; full mixed_bfloat16 on an accelerator (whichever this machine has)."""
    monkeypatch.delenv("DLBOOK_MODE", raising=False)
    monkeypatch.delenv("DLBOOK_PRECISION", raising=False)
    chosen = dlbook.setup(seed=3)
    expected = ("full", "mixed_bfloat16") if chosen.accelerator else ("fast", "float32")
    assert (chosen.mode, chosen.precision) == expected
    assert chosen.backend == keras.backend.backend()
    assert chosen.device.startswith("CPU") != chosen.accelerator
    line = capsys.readouterr().out.strip()
    assert line == chosen.summary() and f"backend={chosen.backend}" in line and f"mode={chosen.mode}" in line
    assert dlbook.current() is chosen


def test_mode_and_precision_from_the_environment(monkeypatch):
    monkeypatch.setenv("DLBOOK_MODE", "full")
    monkeypatch.setenv("DLBOOK_PRECISION", "mixed_bfloat16")
    chosen = dlbook.setup(verbose=False)
    assert (chosen.mode, chosen.precision) == ("full", "mixed_bfloat16")
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert dlbook.pick(fast=1, full=20) == 20


def test_arguments_override_the_environment(monkeypatch):
    monkeypatch.setenv("DLBOOK_MODE", "full")
    assert dlbook.setup(mode="fast", verbose=False).mode == "fast"
    assert dlbook.pick(fast="small", full="large") == "small"


def test_invalid_mode_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DLBOOK_MODE", "quick")
    with pytest.raises(ValueError, match=r"\$DLBOOK_MODE is 'quick'; expected one of fast, full"):
        dlbook.setup()
    with pytest.raises(ValueError, match="the argument is 'half'"):
        dlbook.setup(mode="fast", precision="half")


def test_setup_seeds_numpy_and_keras():
    dlbook.setup(seed=7, verbose=False)
    first = (np.random.rand(), keras.ops.convert_to_numpy(keras.random.uniform((3,))))
    dlbook.setup(seed=7, verbose=False)
    second = (np.random.rand(), keras.ops.convert_to_numpy(keras.random.uniform((3,))))
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])


def test_detect_device_describes_the_cpu():
    description, accelerator = config.detect_device()
    assert description.startswith("CPU (") and accelerator is False


def test_seed_from_the_environment(monkeypatch):
    monkeypatch.setenv("DLBOOK_SEED", "5")
    assert dlbook.setup(verbose=False).seed == 5
    assert dlbook.setup(seed=9, verbose=False).seed == 9
    monkeypatch.setenv("DLBOOK_SEED", "five")
    with pytest.raises(ValueError, match=r"\$DLBOOK_SEED is 'five'; expected an integer"):
        dlbook.setup(verbose=False)
