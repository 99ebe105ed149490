"""pytest plugin: spread a run over pytest-xdist's two workers so that the long tests overlap.

Under ``--dist loadfile`` xdist sends each file to one worker as one unit of work, so the
minutes-long tests that share a file (the per-backend runs of ``test_backends.py``) ran one after
another while the other worker idled. This plugin refines ``loadfile``: each test of
:data:`SLOW_TESTS` is a unit of its own, and every other file (each chapter notebook included,
whose cells must run in order in one kernel) stays one unit. Units go out in collection order,
which this plugin sets: the slow tests first, then the notebooks in chapter order (chapter 05,
which trains and caches the digit classifier, before 06 and 08, which then wait for it rather
than train a copy), then the other test files, so the longest work starts early and short units
fill the end (``--no-loadscope-reorder`` keeps that order; xdist would otherwise put the units
with the most tests first). Loaded with ``-p tests.scheduling`` (see ``pyproject.toml``).
"""

from __future__ import annotations

import pytest
from xdist.scheduler import LoadFileScheduling

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
    if is_slow(nodeid):
        return 0
    return 1 if nodeid.split("::", 1)[0].endswith(".md") else 2


def pytest_collection_modifyitems(config, items):
    # A stable sort: within a rank, the collection order stays (and so does each file's test order).
    items.sort(key=lambda item: _rank(item.nodeid))
