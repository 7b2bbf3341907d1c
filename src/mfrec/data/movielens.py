"""MovieLens: readers for the published layouts, locating a local copy, and a verified download.

The data is never shipped with mfrec (its licence forbids redistribution).
Lookup order for a dataset NAME: an explicit path, ``$MFREC_DATA`` (the folder
itself or ``$MFREC_DATA/NAME``), the cache ``~/.cache/mfrec/NAME``, then download.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mfrec.data.interactions import Interactions, from_arrays
from mfrec.exceptions import DataError, DatasetNotFoundError

ML100K_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]


@dataclass(frozen=True)
class MovieLensRelease:
    name: str
    url: str
    folder: str  # the folder the archive unpacks to
    md5: str | None  # GroupLens publishes an .md5 beside each stable archive
    ratings_file: str
    ratings_sha256: str | None = None  # pinned hash of the unpacked ratings file
    rating_scale: tuple[float, float] = (1.0, 5.0)


_BASE = "https://files.grouplens.org/datasets/movielens"
RELEASES = {
    r.name: r
    for r in [
        MovieLensRelease(
            "ml-100k",
            f"{_BASE}/ml-100k.zip",
            "ml-100k",
            "0e33842e24a9c977be4e0107933c0723",
            "u.data",
            "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        ),
        MovieLensRelease("ml-1m", f"{_BASE}/ml-1m.zip", "ml-1m", "c4d9eecfca2ab87c1945afe126590906", "ratings.dat"),
        MovieLensRelease(
            "ml-10m",
            f"{_BASE}/ml-10m.zip",
            "ml-10M100K",
            "ce571fd55effeba0271552578f2648bd",
            "ratings.dat",
            rating_scale=(0.5, 5.0),
        ),
        MovieLensRelease(
            "ml-20m",
            f"{_BASE}/ml-20m.zip",
            "ml-20m",
            "cd245b17a1ae2cc31bb14903e1204af3",
            "ratings.csv",
            rating_scale=(0.5, 5.0),
        ),
        MovieLensRelease(
            "ml-25m",
            f"{_BASE}/ml-25m.zip",
            "ml-25m",
            "6b51fb2759a8657d3bfcbfc42b592ada",
            "ratings.csv",
            rating_scale=(0.5, 5.0),
        ),
        # The "latest" archives are rebuilt from time to time, so no fixed checksum exists.
        MovieLensRelease(
            "ml-latest-small",
            f"{_BASE}/ml-latest-small.zip",
            "ml-latest-small",
            None,
            "ratings.csv",
            rating_scale=(0.5, 5.0),
        ),
        MovieLensRelease(
            "ml-latest", f"{_BASE}/ml-latest.zip", "ml-latest", None, "ratings.csv", rating_scale=(0.5, 5.0)
        ),
    ]
}


# --------------------------------------------------------------------------- layouts


def detect_layout(path: Path) -> str:
    """'ml-100k', 'ml-1m' (also ml-10m) or 'ml-latest' (also ml-20m/25m) from the files present."""
    if (path / "u.data").is_file():
        return "ml-100k"
    if (path / "ratings.dat").is_file():
        return "ml-1m"
    if (path / "ratings.csv").is_file():
        return "ml-latest"
    raise DataError(f"{path} is not a MovieLens folder: expected u.data, ratings.dat or ratings.csv in it")


def _read_ml100k_items(path: Path) -> pd.DataFrame | None:
    file = path / "u.item"
    if not file.is_file():
        return None
    columns = ["item", "title", "release_date", "video_release_date", "url", *ML100K_GENRES]
    items = pd.read_csv(file, sep="|", header=None, names=columns, encoding="latin-1")
    flags = items[ML100K_GENRES].to_numpy(dtype=bool)
    items["genres"] = ["|".join(g for g, on in zip(ML100K_GENRES, row) if on) for row in flags]
    return items.set_index("item")[["title", "release_date", "genres", *ML100K_GENRES]]


def _read_ml100k_users(path: Path) -> pd.DataFrame | None:
    file = path / "u.user"
    if not file.is_file():
        return None
    users = pd.read_csv(file, sep="|", header=None, names=["user", "age", "gender", "occupation", "zip"])
    return users.set_index("user")


def _read_dat(file: Path, names: list[str]) -> pd.DataFrame:
    text = file.read_text(encoding="latin-1").replace("::", "\x1f")
    return pd.read_csv(io.StringIO(text), sep="\x1f", header=None, names=names)


def _read_ml100k_ratings(file: Path, **kwargs: Any) -> Interactions:
    frame = pd.read_csv(file, sep="\t", header=None, names=["user", "item", "rating", "timestamp"])
    return from_arrays(frame["user"], frame["item"], frame["rating"], frame["timestamp"], **kwargs)


def load_movielens(path: str | Path, *, ratings_file: str | None = None, **kwargs: Any) -> Interactions:
    """Read a MovieLens folder in any published layout, with titles/genres and user attributes.

    ``item_info`` holds ``title`` and ``genres`` (pipe-separated); ml-100k also
    gives one boolean column per genre, and ``user_info`` age, gender, occupation, zip.

    Examples
    --------
    >>> data = load_movielens("../shared/data/ml-100k")  # doctest: +SKIP
    >>> data.n_users, data.n_items, len(data)  # doctest: +SKIP
    (943, 1682, 100000)
    """
    path = Path(path).expanduser()
    layout = detect_layout(path)
    kwargs.setdefault("name", path.name)
    if layout == "ml-100k":
        kwargs.setdefault("rating_scale", (1.0, 5.0))
        return _read_ml100k_ratings(
            path / (ratings_file or "u.data"),
            item_info=_read_ml100k_items(path),
            user_info=_read_ml100k_users(path),
            **kwargs,
        )
    if layout == "ml-1m":
        ratings = _read_dat(path / (ratings_file or "ratings.dat"), ["user", "item", "rating", "timestamp"])
        items = users = None
        if (path / "movies.dat").is_file():
            items = _read_dat(path / "movies.dat", ["item", "title", "genres"]).set_index("item")
        if (path / "users.dat").is_file():
            users = _read_dat(path / "users.dat", ["user", "gender", "age", "occupation", "zip"]).set_index("user")
        kwargs.setdefault("rating_scale", (0.5, 5.0) if "10M" in path.name.upper() else (1.0, 5.0))
        return from_arrays(
            ratings["user"],
            ratings["item"],
            ratings["rating"],
            ratings["timestamp"],
            item_info=items,
            user_info=users,
            **kwargs,
        )
    ratings = pd.read_csv(
        path / (ratings_file or "ratings.csv"),
        dtype={"userId": np.int32, "movieId": np.int32, "rating": np.float32, "timestamp": np.int64},
    )
    items = None
    if (path / "movies.csv").is_file():
        items = pd.read_csv(path / "movies.csv").rename(columns={"movieId": "item"}).set_index("item")
    kwargs.setdefault("rating_scale", (0.5, 5.0))
    return from_arrays(
        ratings["userId"],
        ratings["movieId"],
        ratings["rating"],
        ratings["timestamp"],
        columns=("userId", "movieId", "rating", "timestamp"),
        item_info=items,
        **kwargs,
    )


PREDEFINED_FOLDS = {
    "u": [(f"u{k}.base", f"u{k}.test") for k in range(1, 6)],
    "ua": [("ua.base", "ua.test")],
    "ub": [("ub.base", "ub.test")],
}


def predefined_folds(path: str | Path, which: str = "u") -> list[tuple[Interactions, Interactions]]:
    """ml-100k's published splits: ``"u"`` gives the five folds u1..u5, ``"ua"``/``"ub"`` one split each."""
    path = Path(path).expanduser()
    if which not in PREDEFINED_FOLDS:
        raise DataError(f"unknown predefined folds {which!r}; choose one of {sorted(PREDEFINED_FOLDS)}")
    items, users = _read_ml100k_items(path), _read_ml100k_users(path)
    folds = []
    for base, test in PREDEFINED_FOLDS[which]:
        if not (path / base).is_file():
            raise DataError(f"{path} has no {base}: predefined folds need the ml-100k folder")
        info = {"item_info": items, "user_info": users, "rating_scale": (1.0, 5.0)}
        folds.append(
            (_read_ml100k_ratings(path / base, name=base, **info), _read_ml100k_ratings(path / test, name=test, **info))
        )
    return folds


# --------------------------------------------------------------------------- locate and download


def cache_dir() -> Path:
    return Path(os.environ.get("MFREC_CACHE", Path.home() / ".cache" / "mfrec")).expanduser()


def _candidates(name: str) -> list[Path]:
    folder = RELEASES[name].folder if name in RELEASES else name
    found = []
    env = os.environ.get("MFREC_DATA")
    if env:
        base = Path(env).expanduser()
        found += [base / folder, base / name, base]
    found += [cache_dir() / folder]
    return found


def _is_release(path: Path, name: str) -> bool:
    release = RELEASES.get(name)
    return path.is_dir() and (path / (release.ratings_file if release else "u.data")).is_file()


def locate(name: str = "ml-100k", path: str | Path | None = None, *, download: bool = True) -> Path:
    """Folder holding MovieLens ``name``: ``path``, then ``$MFREC_DATA``, the cache, then a download."""
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_dir():
            raise DatasetNotFoundError(f"no such folder: {path}")
        detect_layout(path)
        return path
    for candidate in _candidates(name):
        if _is_release(candidate, name):
            return candidate
    if not download:
        raise DatasetNotFoundError(f"{name} not found in $MFREC_DATA or {cache_dir()}")
    return fetch(name)


def _hash(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, *, timeout: float = 15.0, progress: Any = None) -> Path:
    """Download, verify and unpack MovieLens ``name`` into the cache; return its folder.

    Archives are checked against the MD5 GroupLens publishes beside them, and
    ml-100k's ``u.data`` also against a pinned SHA-256. Offline, this raises
    :class:`DatasetNotFoundError` with one line saying so.
    """
    if name not in RELEASES:
        raise DataError(f"unknown dataset {name!r}; choose one of {sorted(RELEASES)}")
    release = RELEASES[name]
    target = cache_dir() / release.folder
    if _is_release(target, name):
        return target
    cache_dir().mkdir(parents=True, exist_ok=True)
    archive = cache_dir() / f"{name}.zip"
    partial = archive.with_suffix(".zip.part")
    try:
        with urllib.request.urlopen(release.url, timeout=timeout) as response, partial.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            while block := response.read(1 << 20):
                out.write(block)
                if progress:
                    progress(len(block), total)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DatasetNotFoundError(
            f"could not download {name} from {release.url} ({reason}); are you offline? "
            f"Put the unpacked folder in {cache_dir()} or point $MFREC_DATA at it"
        ) from None
    if release.md5 and (actual := _hash(partial, "md5")) != release.md5:
        partial.unlink(missing_ok=True)
        raise DataError(f"checksum mismatch for {name}: md5 {actual} != published {release.md5}; download again")
    partial.replace(archive)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(cache_dir())
    ratings = target / release.ratings_file
    if release.ratings_sha256 and _hash(ratings, "sha256") != release.ratings_sha256:
        shutil.rmtree(target, ignore_errors=True)
        raise DataError(f"checksum mismatch for {ratings}: the archive does not hold the published {name}")
    archive.unlink(missing_ok=True)
    return target
