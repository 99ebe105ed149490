"""The backend-specific helpers' tests, run once more under each other Keras backend.

Keras fixes its backend when it is first imported, so each backend gets its own pytest process.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import keras
import pytest

from tests.conftest import ROOT
from tests.scheduling import thread_settings

BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
PER_BACKEND_TESTS = ["tests/test_autodiff.py", "tests/test_composer_backends.py", "tests/test_gan.py", "tests/test_gpu_path.py",
                     "tests/test_rl.py", "tests/test_style_backends.py", "tests/test_vision.py", "tests/test_xla.py"]


# This process's backend runs those tests directly; the other two each get a subprocess.
OTHER_BACKENDS = sorted(set(BACKEND_MODULES) - {keras.backend.backend()})

# pytest runs at least as many workers as there are cores, and each framework starts a thread per
# core in every process: a subprocess here then fights the other workers for the cores. Measured
# on this 2-core machine, two workers: in a whole test run the per-backend run took 1 136 s on JAX
# and 1 157 s on PyTorch (285 s of it a bfloat16 training that now runs on JAX only); the two side
# by side with one thread each, 350 s and 102 s.
ONE_THREAD = thread_settings(cores=2, workers=2)  # one thread per framework


def subprocess_env(**settings: str) -> dict:
    """This process's environment with ``settings``, each framework limited to one thread, and
    without the options given to this run through PYTEST_ADDOPTS: ``-n 3`` there would spread
    a notebook's cells over three kernels."""
    env = {**os.environ, **ONE_THREAD, **settings}
    env.pop("PYTEST_ADDOPTS", None)
    return env


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_helpers_on_backend(backend):
    if importlib.util.find_spec(BACKEND_MODULES[backend]) is None:
        pytest.fail(f"{backend} is not installed; install the extras with `pip install -e '.[all]'`")
    env = subprocess_env(KERAS_BACKEND=backend)
    command = [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider", *PER_BACKEND_TESTS]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, f"{backend}:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    summary = run.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary) and "failed" not in summary, summary


def test_a_chapter_in_the_gpu_configuration(tmp_path):
    """Chapter 03 in fast mode under JAX and mixed_bfloat16, the configuration a GPU runs, here on the CPU.

    (`make test-gpu-config` runs every chapter so; this keeps one of them, a quick one whose
    models end in float32 regression outputs, in every test run. Its results and notebook go to a
    folder of their own: in build/ they would stand for chapter 03 on the book's website.)
    """
    env = subprocess_env(KERAS_BACKEND="jax", DLBOOK_PRECISION="mixed_bfloat16", DLBOOK_MODE="fast",
                         DLBOOK_BUILD=str(tmp_path))
    env.pop("DLBOOK_SAVE_EXECUTED", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
               "addopts=-p tests.chapter_plugin --nbval-lax --nbval-current-env", "chapters/03_bike_sharing.md"]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, f"{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    assert re.search(r"\b\d+ passed\b", run.stdout.strip().splitlines()[-1])


LOAD_CACHED_MODEL = """
import sys
import numpy as np
from pathlib import Path
from dlbook import cache

model = cache.load_keras_model(Path(sys.argv[1]))
print(model.predict(np.ones((2, 3), dtype="float32"), verbose=0).ravel().tolist())
"""


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_a_model_cached_under_this_backend_loads_under_another(backend, tmp_path):
    """A cached model carries its compile settings (e.g. steps_per_execution=32, as saved on a
    GPU), which PyTorch refuses; the cache loads models uncompiled, so any backend can use any file."""
    import json

    import numpy as np

    from dlbook import cache

    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer="adam", loss="mse", steps_per_execution=1 if keras.backend.backend() == "torch" else 32)
    path = tmp_path / "entry"
    path.mkdir()
    cache.save_keras_model(model, path)
    env = {**os.environ, "KERAS_BACKEND": backend}
    run = subprocess.run([sys.executable, "-c", LOAD_CACHED_MODEL, str(path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    loaded = np.array(json.loads(run.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(loaded, model.predict(np.ones((2, 3), dtype="float32"), verbose=0).ravel(), rtol=1e-5)
