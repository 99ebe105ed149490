"""pytest plugin: spread a run over pytest-xdist's workers so that the long tests overlap.

Under ``--dist loadfile`` xdist sends each file to one worker as one unit of work, so the
minutes-long tests that share a file (the per-backend runs of ``test_backends.py``) ran one after
another while the other worker idled. This plugin refines ``loadfile``: each test of
:data:`SLOW_TESTS` is a unit of its own, and every other file (each chapter notebook included,
whose cells must run in order in one kernel) stays one unit. Units go out in collection order,
which this plugin sets: chapter 05 first (it trains and caches the digit classifier that 06 and
08 load: started first, it has cached it before they ask; in chapter order, chapter 06 once
started first and its loading cell waited 56 s for 05's training), then the slow tests, then the
other notebooks in chapter order, then the other test files, so the longest work starts early
and short units fill the end (``--no-loadscope-reorder`` keeps that order; xdist would otherwise
put the units with the most tests first).

The workers also share the cores instead of fighting over them: each framework starts a thread
per core in every process, so two workers on two cores ran four busy threads. Each worker, and
every chapter kernel and subprocess it starts, gets its share of the cores, at least one thread
(:func:`thread_settings`, set unless the environment already says otherwise). Measured on this
2-core machine, chapters 04 and 13 side by side took 136 s with one thread each and 154 s with
two. There is one worker more than there are cores (:func:`workers_for`, which ``-n auto``
asks). Loaded with ``-p tests.scheduling`` (see ``pyproject.toml``).
"""

from __future__ import annotations

import os

import pytest
from xdist.scheduler import LoadFileScheduling

from dlbook.machine import usable_cores

# The notebook that runs before everything else (the others that need its model wait for it).
FIRST = "chapters/05_mnist_cnn.md"

# Tests that take minutes each (their parameters included), by file::name.
SLOW_TESTS = (
    "tests/test_backends.py::test_helpers_on_backend",
    "tests/test_backends.py::test_a_chapter_in_the_gpu_configuration",
    "tests/test_vision.py::test_chapter_05_model_trains",
)


def is_slow(nodeid: str) -> bool:
    return nodeid.split("[", 1)[0] in SLOW_TESTS


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: itself if it is slow, else its file."""
    return nodeid if is_slow(nodeid) else nodeid.split("::", 1)[0]


class SlowTestsApartScheduling(LoadFileScheduling):
    """xdist's ``loadfile`` scheduling, with each slow test a unit of its own."""

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") == "loadfile":
        return SlowTestsApartScheduling(config, log)
    return None


def _rank(nodeid: str) -> int:
    path = nodeid.split("::", 1)[0]
    if path == FIRST:
        return 0
    if is_slow(nodeid):
        return 1
    return 2 if path.endswith(".md") else 3


def pytest_collection_modifyitems(config, items):
    # A stable sort: within a rank, the collection order stays (and so does each file's test order).
    items.sort(key=lambda item: _rank(item.nodeid))


def workers_for(cores: int) -> int:
    """How many workers ``-n auto`` starts on ``cores`` cores: one more than the cores.

    With a worker per core, a core stood idle whenever its worker waited (a chapter kernel
    starting or answering, a subprocess importing its framework, files), about a tenth of the
    run; a spare worker fills those gaps. Measured on this 2-core machine, a fresh clone's tests
    (pytest alone): 2 workers 762, 799 and 836 s in three runs, 3 workers 593 s, 4 workers 605 s.
    """
    return cores + 1


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config):
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    return workers_for(usable_cores())


def thread_settings(cores: int, workers: int) -> dict[str, str]:
    """Environment variables giving each of ``workers`` processes its share of ``cores`` threads
    in TensorFlow, OpenMP/oneDNN, MKL, PyTorch and (on one thread) JAX's XLA; none for one worker."""
    if workers < 2:
        return {}
    threads = str(max(1, cores // workers))
    settings = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
                "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads}
    if threads == "1":
        settings["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return settings


def pytest_configure(config):
    # In each xdist worker (xdist tells it how many there are), before any framework starts a thread.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    for name, value in thread_settings(usable_cores(), workers).items():
        os.environ.setdefault(name, value)
