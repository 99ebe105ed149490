"""dlbook.paths: where things go, and the environment overrides."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

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


def _lock_waiter(target, purpose=None):
    """A second process that waits for ``paths.locked(target)`` and prints ``acquired`` once it holds it."""
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from dlbook import paths\n"
            f"with paths.locked(Path({str(target)!r}), purpose={purpose!r}):\n"
            "    print('acquired', flush=True)\n")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _first_stderr_line(process, patience_s=60):
    """The first line the process writes to stderr (empty if it writes none within ``patience_s``)."""
    import select

    ready, _, _ = select.select([process.stderr], [], [], patience_s)
    return process.stderr.readline() if ready else ""


def test_locked_says_what_a_second_process_waits_for(tmp_path):
    target = tmp_path / "results.json"
    with paths.locked(target):
        waiter = _lock_waiter(target, purpose="e.g. a chapter training the digit classifier")
        message = _first_stderr_line(waiter)
        assert message == (f"dlbook: waiting for {target} (another process holds its lock; "
                           "e.g. a chapter training the digit classifier) ...\n")
        assert waiter.poll() is None, "the second process must wait while the lock is held"
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0 and out == "acquired\n" and err == ""


def test_locked_guesses_the_holder_of_a_model_cache_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_MODELS", str(tmp_path / "models"))
    cached_model = tmp_path / "models" / "digit_classifier_fast.keras"
    with paths.locked(cached_model):
        waiter = _lock_waiter(cached_model)
        message = _first_stderr_line(waiter)
    waiter.communicate(timeout=60)
    assert message == (f"dlbook: waiting for {cached_model} (another process holds its lock; "
                       "e.g. a chapter training the model cached there) ...\n")
    assert waiter.returncode == 0


def test_locked_is_silent_when_nobody_holds_the_lock(tmp_path, capsys):
    with paths.locked(tmp_path / "results.json"):
        pass
    assert capsys.readouterr().err == ""


def test_atomic_path_gives_the_file_a_new_files_permissions(tmp_path):
    target = tmp_path / "out.txt"
    with paths.atomic_path(target) as tmp:
        tmp.write_text("x")
    assert target.stat().st_mode & 0o777 == paths.new_file_mode()
    old = os.umask(0o027)
    try:
        assert paths.new_file_mode() == 0o640
    finally:
        os.umask(old)


def test_can_write_in_tries_a_real_file(tmp_path):
    assert paths.can_write_in(tmp_path) and not list(tmp_path.iterdir())
    assert not paths.can_write_in(tmp_path / "missing")
    assert not paths.can_write_in(Path("/proc"))  # os.access says yes here to root
