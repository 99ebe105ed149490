"""tests/scheduling.py: how the test run is split between pytest-xdist's workers."""

from __future__ import annotations

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


def test_slow_tests_come_first_then_notebooks_then_the_rest_in_collection_order():
    ids = ["tests/test_config.py::test_a", "tests/test_vision.py::test_load_digits",
           "tests/test_vision.py::test_chapter_05_model_trains[float32]", "chapters/02_x.md::Cell 0",
           "chapters/02_x.md::Cell 1", "chapters/05_y.md::Cell 0", "tests/test_backends.py::test_helpers_on_backend[torch]"]
    items = [types.SimpleNamespace(nodeid=nodeid) for nodeid in ids]
    scheduling.pytest_collection_modifyitems(config=None, items=items)
    assert [item.nodeid for item in items] == [ids[2], ids[6], ids[3], ids[4], ids[5], ids[0], ids[1]]
