"""Shared fixtures: the SPEC tutorial matrix, planted low-rank data, and the real ML-100k folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mfrec.data import from_frame, synthetic

REPO_ROOT = Path(__file__).resolve().parents[1]
ML100K = REPO_ROOT.parent / "shared" / "data" / "ml-100k"

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
    if not (ML100K / "u.data").is_file():
        pytest.skip(f"MovieLens 100k not found at {ML100K} (it is never committed; see README)")
    return ML100K


@pytest.fixture
def rng():
    return np.random.default_rng(42)
