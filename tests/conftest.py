"""Fixtures shared by dlbook's unit tests: isolated cache/build folders and a tiny fake dataset."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

from dlbook import hub  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


# Read once, at start-up (resolved against the directory pytest started in): the `isolated`
# fixture removes $DLBOOK_MIRROR from the environment.
_MIRROR = Path(os.environ.get("DLBOOK_MIRROR") or ROOT.parent / "shared" / "data").resolve()


def shared_mirror() -> Path | None:
    """The offline mirror CI uses: $DLBOOK_MIRROR as the run started, else ../shared/data beside
    the checkout."""
    return _MIRROR if _MIRROR.is_dir() else None


@pytest.fixture(autouse=True)
def restore_environment():
    """Undo every change a test makes to os.environ, including direct writes (``dlbook run
    --backend jax`` sets $KERAS_BACKEND), which would otherwise reach the chapter kernels that
    this pytest worker starts later: they would run under another backend."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def real_data(isolated, monkeypatch):
    """The real datasets through the hub into an isolated cache: from the offline mirror where
    there is one, else downloaded from their registered URLs (so no test skips for lack of a mirror)."""
    mirror = shared_mirror()
    if mirror is not None:
        monkeypatch.setenv("DLBOOK_MIRROR", str(mirror))
    return isolated


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Empty data cache and build folder under tmp_path; no mirror."""
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("DLBOOK_BUILD", str(tmp_path / "build"))
    monkeypatch.delenv("DLBOOK_MIRROR", raising=False)
    return tmp_path


class FakeDataset:
    """A registered one-file dataset ``toy`` with a mirror copy and a file:// URL source."""

    content = b"hello, dlbook\n" * 100

    def __init__(self, root: Path, monkeypatch):
        self.mirror = root / "mirror"
        self.upstream = root / "upstream" / "toy.txt"
        (self.mirror / "toy").mkdir(parents=True)
        self.upstream.parent.mkdir(parents=True)
        (self.mirror / "toy" / "toy.txt").write_bytes(self.content)
        self.upstream.write_bytes(self.content)
        self.sha256 = hashlib.sha256(self.content).hexdigest()
        self.remote = hub.RemoteFile("toy.txt", len(self.content), self.sha256, (self.upstream.as_uri(),))
        self.dataset = hub.Dataset("toy", "A toy dataset.", (0,), "CC0", "none", files=(self.remote,))
        monkeypatch.setitem(hub.DATA_HUB, "toy", self.dataset)
        self.cache_file = root / "cache" / "toy" / "toy.txt"

    def leftovers(self) -> list[Path]:
        """Anything in the cache folder other than a verified file: partial or temporary files."""
        folder = self.cache_file.parent
        return [p for p in folder.iterdir() if p != self.cache_file] if folder.exists() else []


@pytest.fixture
def toy(isolated, monkeypatch):
    return FakeDataset(isolated, monkeypatch)


def pytest_sessionfinish(session, exitstatus):
    """In CI (``CI`` set) a skipped test is a failure: every test must run there."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") and skipped and session.exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; every test must run in CI.", red=True)
        session.exitstatus = 1
