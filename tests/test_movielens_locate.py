"""Locating MovieLens: explicit path, $MFREC_DATA, cache, then a verified download."""

import hashlib
import io
import urllib.error
import zipfile

import pytest

from mfrec.data import movielens
from mfrec.exceptions import DataError, DatasetNotFoundError


def make_ml100k(folder):
    folder.mkdir(parents=True)
    (folder / "u.data").write_text("1\t1\t5\t874965758\n")
    return folder


def test_explicit_path_wins(tmp_path):
    folder = make_ml100k(tmp_path / "mine")
    assert movielens.locate("ml-100k", folder) == folder
    with pytest.raises(DatasetNotFoundError, match="no such folder"):
        movielens.locate("ml-100k", tmp_path / "absent")


def test_env_then_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MFREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MFREC_DATA", str(tmp_path / "data"))
    with pytest.raises(DatasetNotFoundError):
        movielens.locate("ml-100k", download=False)
    cached = make_ml100k(tmp_path / "cache" / "ml-100k")
    assert movielens.locate("ml-100k", download=False) == cached
    env = make_ml100k(tmp_path / "data" / "ml-100k")
    assert movielens.locate("ml-100k", download=False) == env


def test_offline_download_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MFREC_CACHE", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(movielens.urllib.request, "urlopen", offline)
    with pytest.raises(DatasetNotFoundError, match=r"could not download ml-100k .*are you offline\?"):
        movielens.fetch("ml-100k")
    assert not list(tmp_path.iterdir())  # no partial file left behind


def _fake_zip(ratings: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("ml-100k/u.data", ratings)
    return buffer.getvalue()


class FakeResponse(io.BytesIO):
    headers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_rejects_a_bad_checksum(tmp_path, monkeypatch):
    monkeypatch.setenv("MFREC_CACHE", str(tmp_path))
    monkeypatch.setattr(movielens.urllib.request, "urlopen", lambda *a, **k: FakeResponse(_fake_zip(b"1\t1\t5\t1\n")))
    with pytest.raises(DataError, match="checksum mismatch for ml-100k: md5"):
        movielens.fetch("ml-100k")
    assert not (tmp_path / "ml-100k").exists()


def test_download_unpacks_and_verifies(tmp_path, monkeypatch):
    payload = _fake_zip(b"1\t1\t5\t1\n")
    release = movielens.RELEASES["ml-100k"]
    fake = movielens.MovieLensRelease(
        "ml-100k",
        release.url,
        "ml-100k",
        hashlib.md5(payload).hexdigest(),
        "u.data",
        hashlib.sha256(b"1\t1\t5\t1\n").hexdigest(),
    )
    monkeypatch.setitem(movielens.RELEASES, "ml-100k", fake)
    monkeypatch.setenv("MFREC_CACHE", str(tmp_path))
    monkeypatch.setattr(movielens.urllib.request, "urlopen", lambda *a, **k: FakeResponse(payload))
    folder = movielens.fetch("ml-100k")
    assert (folder / "u.data").read_bytes() == b"1\t1\t5\t1\n"
    assert not (tmp_path / "ml-100k.zip").exists()


def test_unknown_release():
    with pytest.raises(DataError, match="unknown dataset 'ml-7k'"):
        movielens.fetch("ml-7k")
