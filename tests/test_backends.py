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

BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
PER_BACKEND_TESTS = ["tests/test_autodiff.py", "tests/test_gan.py", "tests/test_vision.py", "tests/test_xla.py"]


# This process's backend runs those tests directly; the other two each get a subprocess.
OTHER_BACKENDS = sorted(set(BACKEND_MODULES) - {keras.backend.backend()})


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_helpers_on_backend(backend):
    if importlib.util.find_spec(BACKEND_MODULES[backend]) is None:
        pytest.fail(f"{backend} is not installed; install the extras with `pip install -e '.[all]'`")
    env = {**os.environ, "KERAS_BACKEND": backend}
    command = [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider", *PER_BACKEND_TESTS]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, f"{backend}:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    summary = run.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary) and "failed" not in summary, summary


def test_a_chapter_in_the_gpu_configuration():
    """Chapter 03 in fast mode under JAX and mixed_bfloat16, the configuration a GPU runs, here on the CPU.

    (`make test-gpu-config` runs every chapter so; this keeps one of them, a quick one whose
    models end in float32 regression outputs, in every test run.)
    """
    env = {**os.environ, "KERAS_BACKEND": "jax", "DLBOOK_PRECISION": "mixed_bfloat16", "DLBOOK_MODE": "fast"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
               "addopts=-p tests.chapter_plugin --nbval-lax --nbval-current-env", "chapters/03_bike_sharing.md"]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, f"{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    assert re.search(r"\b\d+ passed\b", run.stdout.strip().splitlines()[-1])
