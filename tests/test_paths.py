"""dlbook.paths: where things go, and the environment overrides."""

from __future__ import annotations

import os
import threading
import time

from dlbook import paths
from tests.conftest import ROOT


def test_defaults_in_a_checkout(monkeypatch):
    for name in paths.PATH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert paths.project_root() == ROOT
    assert paths.data_dir() == ROOT / "data" and paths.models_dir() == ROOT / "data" / "models"
    assert paths.build_dir() == ROOT / "build" and paths.chapters_dir() == ROOT / "chapters"


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("DLBOOK_BUILD", str(tmp_path / "b"))
    assert paths.data_dir() == tmp_path / "d" and paths.models_dir() == tmp_path / "d" / "models"
    assert paths.build_dir() == tmp_path / "b"
    monkeypatch.setenv("DLBOOK_MODELS", str(tmp_path / "m"))
    assert paths.models_dir() == tmp_path / "m"


def test_absolutize_path_variables(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLBOOK_MIRROR", "../shared/data")
    monkeypatch.delenv("DLBOOK_DATA", raising=False)
    paths.absolutize_path_variables()
    assert os.environ["DLBOOK_MIRROR"] == str((tmp_path / ".." / "shared" / "data").resolve())
    assert "DLBOOK_DATA" not in os.environ


def test_locked_excludes_a_second_holder(tmp_path):
    target = tmp_path / "results.json"
    events = []

    def second():
        with paths.locked(target):
            events.append("second")

    with paths.locked(target):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.2)
        events.append("first done")
    thread.join(timeout=5)
    assert events == ["first done", "second"]
    assert (tmp_path / ".results.json.lock").exists()


def test_atomic_path_replaces_on_success_and_cleans_up_on_error(tmp_path):
    import pytest

    target = tmp_path / "out" / "file.json"
    with paths.atomic_path(target, suffix=".json") as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".json" and tmp != target
        tmp.write_text("new")
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError):
        with paths.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "new" and sorted(p.name for p in target.parent.iterdir()) == ["file.json"]
