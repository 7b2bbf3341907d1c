"""Shared fixtures: the SPEC tutorial matrix, planted low-rank data, and the real ML-100k folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mfrec.data import from_frame, synthetic

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"


def data_root() -> Path:
    """The folder that holds ``ml-100k/``: ``$MFREC_DATA`` when set, else ``../shared/data``."""
    return Path(os.environ["MFREC_DATA"]).expanduser() if os.environ.get("MFREC_DATA") else DEFAULT_DATA


def ml100k_folder(root: Path | None = None) -> Path:
    """``ml-100k`` under the data root; ``$MFREC_DATA`` may also name the ml-100k folder itself."""
    root = data_root() if root is None else root
    return root if (root / "u.data").is_file() else root / "ml-100k"


def require_ml100k() -> Path:
    """The ml-100k folder, or skip (outside CI) / fail (``CI=true``) saying where it was looked for."""
    folder = ml100k_folder()
    if (folder / "u.data").is_file():
        return folder
    where = f"{folder} (from $MFREC_DATA)" if os.environ.get("MFREC_DATA") else f"{folder}"
    message = (
        f"MovieLens 100k not found at {where}; it is never committed: set MFREC_DATA to the folder holding ml-100k/"
    )
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"CI=true and the real-data tests cannot run: {message}", pytrace=False)
    pytest.skip(message)


ML100K = ml100k_folder()

TUTORIAL_MOVIES = ["Inception", "Dark Knight", "Titanic", "Moana", "Frozen", "Interstellar"]
TUTORIAL_RATINGS = {
    "Alice": [5, 4, 0, 0, 0, 5],
    "Bob": [0, 0, 4, 5, 4, 0],
    "Carol": [4, 5, 0, 0, 0, 0],
    "Dave": [0, 0, 3, 0, 5, 0],
    "Eve": [2, 0, 0, 3, 0, 1],
}


@pytest.fixture
def tutorial_frame() -> pd.DataFrame:
    """The five-user, six-movie example from SPEC.md (0 = not rated, so left out)."""
    rows = [
        (user, movie, float(r))
        for user, ratings in TUTORIAL_RATINGS.items()
        for movie, r in zip(TUTORIAL_MOVIES, ratings)
        if r
    ]
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


@pytest.fixture
def tutorial(tutorial_frame):
    return from_frame(tutorial_frame, rating_scale=(1, 5))


@pytest.fixture(scope="session")
def planted():
    """2,000 users x 400 items, 40k ratings with low-rank structure (seeded)."""
    return synthetic(2_000, 400, 40_000, seed=3)


@pytest.fixture(scope="session")
def ml100k_path() -> Path:
    return require_ml100k()


@pytest.fixture
def rng():
    return np.random.default_rng(42)
