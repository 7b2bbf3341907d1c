"""The synthetic generator: sizes, determinism, structure, chunked Parquet."""

import numpy as np
import pytest

from mfrec.data import read_parquet, synthetic
from mfrec.data.synthetic import SyntheticSpec, iter_chunks, movies, write_parquet
from mfrec.exceptions import ParameterError


def test_exact_size_no_duplicates_and_scale():
    data = synthetic(500, 300, 12_000, seed=1)
    assert len(data) == 12_000 and data.n_users == 500
    pairs = data.user_idx.astype(np.int64) * data.n_items + data.item_idx
    assert np.unique(pairs).size == len(data)
    assert set(np.unique(data.ratings)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert np.bincount(data.user_idx).min() >= 5


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = synthetic(300, 100, 5_000, seed=7), synthetic(300, 100, 5_000, seed=7), synthetic(300, 100, 5_000, seed=8)
    assert np.array_equal(a.ratings, b.ratings) and np.array_equal(a.item_idx, b.item_idx)
    assert not np.array_equal(a.item_idx, c.item_idx)


def test_popularity_has_a_long_tail():
    data = synthetic(2_000, 1_000, 60_000, seed=0)
    counts = np.sort(np.bincount(data.item_idx))[::-1]
    assert counts[:100].sum() / counts.sum() > 0.3  # top 10% of items take > 30% of ratings


def test_ratings_carry_low_rank_signal():
    """Biased MF must beat the bias-only model on held-out synthetic ratings: there is taste to learn."""
    from mfrec.data import random_split
    from mfrec.evaluation import score
    from mfrec.models import Biases, MatrixFactorization

    train, test = random_split(synthetic(1_000, 300, 60_000, seed=2, noise=0.3), seed=0)
    mf = MatrixFactorization(n_factors=16, n_epochs=30, learning_rate=0.01, regularization=0.05).fit(train)
    assert score(mf, train, test)["rmse"] < score(Biases().fit(train), train, test)["rmse"] - 0.03


def test_parquet_in_chunks_equals_in_memory(tmp_path):
    spec = SyntheticSpec(n_users=400, n_items=200, n_ratings=8_000, seed=4)
    path = write_parquet(tmp_path / "s.parquet", spec, chunk_ratings=1_000)
    from_file = read_parquet(path).to_frame()
    in_memory = synthetic(400, 200, 8_000, seed=4).to_frame()
    key = ["user", "item"]
    merged = from_file.sort_values(key).reset_index(drop=True)
    expected = in_memory.sort_values(key).reset_index(drop=True)
    # Chunk boundaries change which random stream a user draws from, so compare structure, not values.
    assert len(merged) == len(expected) == 8_000
    assert merged.groupby("user").size().equals(expected.groupby("user").size())
    assert len(list(iter_chunks(spec, chunk_ratings=1_000))) >= 7


def test_impossible_sizes_are_refused():
    with pytest.raises(ParameterError, match="more than half the matrix"):
        synthetic(10, 10, 1_000)
    with pytest.raises(ParameterError, match="n_users must be a positive int"):
        synthetic(0, 10, 10)


def test_movies_has_titles_and_genres():
    data = movies()
    assert len(data) == 100_000 and data.n_users == 943
    assert data.item_titles(data.item_ids.ids[:1])[0].startswith("The ")
    assert data.item_info["genres"].str.split("|").explode().nunique() == 8
