"""tests/scheduling.py: how the test run is split between pytest-xdist's workers."""

from __future__ import annotations

import os
import types

from tests import scheduling


def test_each_slow_test_is_a_unit_of_its_own_and_other_tests_go_by_file():
    assert scheduling.work_unit("tests/test_backends.py::test_helpers_on_backend[jax]") == (
        "tests/test_backends.py::test_helpers_on_backend[jax]")
    assert scheduling.work_unit("tests/test_backends.py::test_a_model_cached_under_this_backend_loads_under_another[jax]") == (
        "tests/test_backends.py")
    assert scheduling.work_unit("chapters/05_mnist_cnn.md::Cell 3") == "chapters/05_mnist_cnn.md"
    sched = scheduling.SlowTestsApartScheduling.__new__(scheduling.SlowTestsApartScheduling)
    assert sched._split_scope("tests/test_vision.py::test_chapter_05_model_trains[float32]").endswith("[float32]")


def test_chapter_05_then_slow_tests_then_notebooks_then_the_rest_in_collection_order():
    ids = ["tests/test_config.py::test_a", "tests/test_vision.py::test_load_digits",
           "tests/test_vision.py::test_chapter_05_model_trains[float32]", "chapters/02_x.md::Cell 0",
           "chapters/02_x.md::Cell 1", "chapters/06_y.md::Cell 0", "tests/test_backends.py::test_helpers_on_backend[torch]",
           "chapters/05_mnist_cnn.md::Cell 0", "chapters/05_mnist_cnn.md::Cell 1"]
    items = [types.SimpleNamespace(nodeid=nodeid) for nodeid in ids]
    scheduling.pytest_collection_modifyitems(config=None, items=items)
    assert [item.nodeid for item in items] == [ids[7], ids[8], ids[2], ids[6], ids[3], ids[4], ids[5], ids[0], ids[1]]


def test_workers_share_the_cores():
    assert scheduling.thread_settings(cores=8, workers=1) == {}
    two_of_two = scheduling.thread_settings(cores=2, workers=2)
    assert {two_of_two[name] for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")} == {"1"}
    assert "intra_op_parallelism_threads=1" in two_of_two["XLA_FLAGS"]
    eight_of_two = scheduling.thread_settings(cores=8, workers=2)
    assert eight_of_two["OMP_NUM_THREADS"] == "4" and "XLA_FLAGS" not in eight_of_two


def test_this_run_gives_its_workers_their_share(monkeypatch):
    """Under xdist (as `make test` runs) the worker's environment, which chapter kernels inherit,
    holds the worker's share; a variable the user set is left alone."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    scheduling.pytest_configure(config=None)
    assert os.environ["OMP_NUM_THREADS"] == "7"
    expected = scheduling.thread_settings(scheduling.usable_cores(), workers).get("TF_NUM_INTRAOP_THREADS")
    assert os.environ.get("TF_NUM_INTRAOP_THREADS") == expected


def test_auto_starts_a_worker_per_core_and_one_more(monkeypatch):
    assert [scheduling.workers_for(cores) for cores in (1, 2, 8)] == [2, 3, 9]
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    assert scheduling.pytest_xdist_auto_num_workers(config=None) == scheduling.usable_cores() + 1
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "5")  # xdist's own setting wins
    assert scheduling.pytest_xdist_auto_num_workers(config=None) is None


def test_three_workers_on_two_cores_get_a_thread_each():
    assert scheduling.thread_settings(cores=2, workers=3)["TF_NUM_INTRAOP_THREADS"] == "1"
