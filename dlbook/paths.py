"""Where dlbook keeps things: the checkout, the dataset cache, the build folder.

Each location can be overridden with an environment variable, so that the same code works in a
checkout of the book, in an installed package, and in CI.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path

import platformdirs

try:
    import fcntl
except ImportError:  # Windows: no locking; writes stay atomic.
    fcntl = None


def is_checkout_root(folder: Path) -> bool:
    """Whether ``folder`` is the root of a dlbook checkout: the chapters, and the pyproject.toml
    of the project named dlbook (the marker; no count of levels above this file)."""
    pyproject = folder / "pyproject.toml"
    if not (pyproject.is_file() and (folder / "chapters").is_dir()):
        return False
    return re.search(r'^name\s*=\s*"dlbook"', pyproject.read_text(encoding="utf-8"), re.M) is not None


def project_root() -> Path | None:
    """The root of the dlbook checkout this package was imported from, or None if installed.

    Found by walking up from this file to the first folder that :func:`is_checkout_root`, so
    moving a module deeper into the package changes nothing.
    """
    for folder in Path(__file__).resolve().parents:
        if is_checkout_root(folder):
            return folder
    return None


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else None


def data_dir() -> Path:
    """The dataset cache: ``$DLBOOK_DATA``, else ``data/`` of the checkout, else a user cache dir."""
    root = project_root()
    return (
        _from_env("DLBOOK_DATA")
        or (root / "data" if root else None)
        or Path(platformdirs.user_cache_dir("dlbook")) / "data"
    )


def models_dir() -> Path:
    """The model cache, where chapters save checkpoints that later chapters reuse."""
    return _from_env("DLBOOK_MODELS") or data_dir() / "models"


def build_dir() -> Path:
    """Where executed notebooks and ``results.json`` go: ``$DLBOOK_BUILD``, else ``build/``."""
    root = project_root()
    return _from_env("DLBOOK_BUILD") or (root or Path.cwd()) / "build"


def chapters_dir() -> Path:
    """The folder of chapter notebooks (only in a checkout)."""
    root = project_root()
    if root is None:
        raise FileNotFoundError(
            "The chapters live in a checkout of the dlbook repository; this dlbook is installed "
            "without one. Clone the repository and run `pip install -e .` from it."
        )
    return root / "chapters"


PATH_VARIABLES = ("DLBOOK_MIRROR", "DLBOOK_DATA", "DLBOOK_MODELS", "DLBOOK_BUILD")


def absolutize_path_variables() -> None:
    """Make the ``DLBOOK_*`` path variables absolute, resolved against the current directory.

    Chapters run in kernels whose working directory is ``chapters/``; a relative
    ``DLBOOK_MIRROR=../shared/data`` given at the project root must keep meaning the same folder
    there. The test plugin and the book runner call this before they start kernels.
    """
    for name in PATH_VARIABLES:
        if os.environ.get(name):
            os.environ[name] = str(Path(os.environ[name]).expanduser().resolve())


@contextlib.contextmanager
def locked(path: Path, *, purpose: str | None = None, label: str | None = None):
    """Hold an exclusive lock on ``path`` (a hidden ``.NAME.lock`` beside it) for the block.

    Chapters run in parallel under pytest-xdist; this keeps them from writing one file at once.
    If another process holds the lock, print one line to stderr saying what this process waits
    for, then wait, so that a chapter that seems stuck is visibly waiting, not hung. ``purpose``
    says who probably holds it (``"e.g. a chapter training the digit classifier"``); without it
    the line gives a generic hint; ``label`` names the file in it (default: its path).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        if fcntl:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                in_model_cache = path.resolve().is_relative_to(models_dir())
                holder = purpose or ("e.g. a chapter training the model cached there" if in_model_cache
                                     else "e.g. another chapter writing it")
                print(f"dlbook: waiting for {label or path} (another process holds its lock; {holder}) ...",
                      file=sys.stderr, flush=True)
                fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _umask() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def new_file_mode() -> int:
    """The permissions a newly created file gets here: 0o666 less the process's umask."""
    return 0o666 & ~_umask()


def new_folder_mode() -> int:
    """The permissions a newly created folder gets here: 0o777 less the process's umask."""
    return 0o777 & ~_umask()


def can_write_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder``, found by creating (and removing) one.

    ``os.access`` alone is not enough: as root it says yes even where writing fails (``/proc``).
    """
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str = ""):
    """Yield a temporary path beside ``path``; move it onto ``path`` if the block succeeds.

    If the block raises, the temporary file is removed and ``path`` is left as it was, so readers
    never see a partial file. ``suffix`` keeps an extension that a writer insists on (``.keras``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.chmod(new_file_mode())  # mkstemp makes it 0600; the finished file gets a new file's permissions
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
