"""Chunked reading (mfrec.data.chunked): tiny chunks give exactly what reading at once gives."""

import numpy as np
import pandas as pd
import pytest

from mfrec.data import load, read_csv, read_parquet
from mfrec.data.chunked import read_chunked
from mfrec.data.synthetic import SyntheticSpec, write_parquet
from mfrec.exceptions import DataError, DuplicateRatingsWarning, ParameterError
from mfrec.models import MatrixFactorization

SPEC = SyntheticSpec(n_users=400, n_items=150, n_ratings=6_000, seed=4)


@pytest.fixture(scope="module")
def parquet_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("chunked") / "ratings.parquet"
    return write_parquet(path, SPEC, chunk_ratings=1_000)  # several row groups


def assert_same(a, b):
    for field in ("user_idx", "item_idx", "ratings", "timestamps"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert np.array_equal(a.user_ids.ids, b.user_ids.ids)
    assert np.array_equal(a.item_ids.ids, b.item_ids.ids)
    assert a.user_ids.is_integer == b.user_ids.is_integer
    assert (a.rating_scale, a.n_duplicates, a.name) == (b.rating_scale, b.n_duplicates, b.name)


@pytest.mark.parametrize("chunk_rows", [1, 333, 100_000])
def test_parquet_in_chunks_equals_reading_at_once(parquet_file, chunk_rows):
    assert_same(read_chunked(parquet_file, chunk_rows=chunk_rows), read_parquet(parquet_file))


def test_csv_in_blocks_equals_read_csv_string_ids_and_no_header(tmp_path, parquet_file):
    frame = pd.read_parquet(parquet_file)
    frame["user"] = "u" + frame["user"].astype(str)  # sorted as strings: u1, u10, u100, ...
    with_header = tmp_path / "r.csv"
    frame.to_csv(with_header, index=False)
    assert_same(read_chunked(with_header, chunk_rows=10), read_csv(with_header))
    bare = tmp_path / "r.tsv"
    frame.to_csv(bare, index=False, header=False, sep="\t")
    chunked = read_chunked(bare, chunk_rows=10)
    assert_same(chunked, read_csv(bare))
    assert chunked.user_ids.ids[:3].tolist() == ["u1", "u10", "u100"]


def test_order_user_groups_rows_and_shares_them_with_the_csr(parquet_file):
    at_once = read_parquet(parquet_file)
    grouped = read_chunked(parquet_file, chunk_rows=500, order="user")
    assert np.all(np.diff(grouped.user_idx) >= 0)
    for a, b in zip(at_once.user_csr(), grouped.user_csr()):
        assert np.array_equal(a, b)
    _, indices, data = grouped.user_csr()
    assert np.shares_memory(indices, grouped.item_idx) and np.shares_memory(data, grouped.ratings)  # one copy
    # Same rows, timestamps regrouped along with them.
    key = ["user", "item"]
    left = at_once.to_frame().sort_values(key).reset_index(drop=True)
    right = grouped.to_frame().sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)


def test_model_from_chunks_equals_model_from_memory(parquet_file):
    params = {"n_factors": 8, "n_epochs": 3, "n_threads": 1, "random_state": 0}
    reference = MatrixFactorization(**params).fit(read_parquet(parquet_file))
    same = MatrixFactorization(**params).fit(read_chunked(parquet_file, chunk_rows=700))
    assert np.array_equal(reference.user_factors_, same.user_factors_)
    grouped = MatrixFactorization(**params).fit(load(parquet_file, order="user", chunk_rows=700))
    # Only the float32 sum behind the global mean runs in another order.
    np.testing.assert_allclose(reference.user_factors_, grouped.user_factors_, atol=1e-5)
    assert reference.recommend(5, n=5)["item"].tolist() == grouped.recommend(5, n=5)["item"].tolist()


@pytest.mark.parametrize("policy", ["last", "mean"])
@pytest.mark.parametrize("order", ["file", "user"])
def test_duplicates_merge_like_from_arrays(tmp_path, policy, order):
    path = tmp_path / "d.parquet"
    rows = pd.DataFrame({"user": [1, 2, 1, 1, 2], "item": [7, 7, 8, 7, 7], "rating": [1.0, 2.0, 3.0, 5.0, 4.0]})
    rows.to_parquet(path)
    with pytest.warns(DuplicateRatingsWarning):
        expected = read_parquet(path, duplicates=policy)
    with pytest.warns(DuplicateRatingsWarning, match="merged 2 duplicate"):
        got = read_chunked(path, chunk_rows=2, duplicates=policy, order=order)
    assert got.n_duplicates == expected.n_duplicates == 2
    key = ["user", "item"]
    pd.testing.assert_frame_equal(
        got.to_frame().sort_values(key).reset_index(drop=True),
        expected.to_frame().sort_values(key).reset_index(drop=True),
    )
    with pytest.raises(DataError, match=r"2 duplicate \(user, item\) pairs; the first is \(1, 7\)"):
        read_chunked(path, chunk_rows=2, duplicates="error")


def test_bad_input_names_column_and_file_row(tmp_path):
    path = tmp_path / "bad.parquet"
    pd.DataFrame({"user": [1, 2, 3, None], "item": [1, 2, 3, 4], "rating": [1.0, 2, 3, 4]}).to_parquet(path)
    with pytest.raises(DataError, match=r"column 'user' has 1 missing ids .*row 3"):
        read_chunked(path, chunk_rows=2)
    pd.DataFrame({"user": [1, 2, 3, 4], "item": [1, 2, 3, 4], "rating": [1.0, 2, 3, np.nan]}).to_parquet(path)
    with pytest.raises(DataError, match=r"column 'rating' has missing \(empty\) values \(first at row 3"):
        read_chunked(path, chunk_rows=2)
    with pytest.raises(DataError, match=r"outside the rating scale \[1, 3\] \(first at row 3: 4\)"):
        pd.DataFrame({"user": [1, 2, 3, 4], "item": [1, 2, 3, 4], "rating": [1.0, 2, 3, 4]}).to_parquet(path)
        read_chunked(path, chunk_rows=2, rating_scale=(1, 3))
    with pytest.raises(DataError, match="missing column 'score'"):
        read_chunked(path, rating_col="score")
    csv = tmp_path / "bad.csv"
    csv.write_text("user,item,rating\n1,1,4\n2,1,x\n")
    with pytest.raises(DataError, match=r"column 'rating' has non-numeric values \(first at row 1: 'x'\)"):
        read_chunked(csv)
    with pytest.raises(ParameterError, match="order must be"):
        read_chunked(path, order="item")


def test_implicit_and_multi_character_separator(tmp_path):
    path = tmp_path / "ratings.dat"
    path.write_text("1::10::4::100\n1::20::3::200\n2::10::5::300\n")
    data = read_chunked(path, chunk_rows=1, rating_col=None)  # "::" falls back to the in-memory reader
    assert data.ratings.tolist() == [1.0, 1.0, 1.0] and data.timestamps.tolist() == [100, 200, 300]
