"""Issue 28: ids and scales are the user's, exactly; the usual column names are read; counts are kept."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mfrec.cli import app
from mfrec.data import from_frame, load
from mfrec.data.scales import infer_rating_scale
from mfrec.exceptions import DataError, IdSpellingWarning
from mfrec.models import MatrixFactorization


def test_ids_spelled_differently_stay_different_and_leading_zeros_stay(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n007,a,5\n7,a,4\n0042,b,3\n8,b,2\n9,c,1\n")
    with pytest.warns(IdSpellingWarning, match="'007', '7'"):
        data = load(path)
    assert data.n_users == 5
    assert sorted(data.user_ids.ids.tolist()) == ["0042", "007", "7", "8", "9"]
    model = MatrixFactorization(n_factors=2, n_epochs=2).fit(data)
    assert model.user_map_.lookup(["007", "7"]).tolist() != model.user_map_.lookup(["7", "7"]).tolist()
    assert "0042" in model.user_map_ and 42 not in model.user_map_


def test_canonical_integer_ids_stay_integers_over_the_whole_int64_range(tmp_path):
    path = tmp_path / "r.csv"
    big = 9_223_372_036_854_775_807
    path.write_text(f"user,item,rating\n{big},1,5\n1234567890123456789,2,4\n-5,1,3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdSpellingWarning)
        data = load(path)
    assert data.user_ids.is_integer
    assert data.user_ids.lookup([str(big), big, "1234567890123456789"]).tolist() == [2, 2, 1]


@pytest.mark.parametrize(
    ("ratings", "scale"),
    [
        ([2, 3, 4, 5], (1.0, 5.0)),  # no 1-star rating: still 1-5
        ([1.5, 2.0, 4.5], (0.5, 5.0)),
        ([1.5, 2.0, 3.5], (0.5, 4.0)),
        ([1, 2, 7, 9], (1.0, 10.0)),
        ([1, 2.5, 7, 10], (1.0, 10.0)),  # 1-10 in halves (a book site), never 0-10
        ([0, 3, 10], (0.0, 10.0)),
        ([0, 3.5, 10], (0.0, 10.0)),
        ([0, 1, 1], (0.0, 1.0)),
        ([1, 1, 1], (0.0, 1.0)),
    ],
)
def test_the_rating_scale_is_a_common_scale_never_the_min_and_max(ratings, scale):
    assert infer_rating_scale(np.asarray(ratings, np.float32)) == scale


def test_a_log_without_one_star_is_on_1_to_5_and_a_declared_scale_is_kept(tmp_path):
    frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [1, 2, 1, 3, 2], "rating": [2, 5, 3, 4, 5]})
    data = from_frame(frame)
    assert data.rating_scale == (1.0, 5.0) and data.scale_source == "inferred: 1-5"
    declared = from_frame(frame, rating_scale=(2, 5))
    assert declared.rating_scale == (2.0, 5.0) and declared.scale_source == "declared"
    frame.to_csv(tmp_path / "r.csv", index=False)
    info = CliRunner().invoke(app, ["datasets", "info", str(tmp_path / "r.csv")])
    assert info.exit_code == 0 and "(1.0, 5.0)" in info.output.replace("[", "(").replace("]", ")")
    assert "inferred: 1-5" in info.output
    model = MatrixFactorization(n_factors=2, n_epochs=2).fit(data)
    assert model.rating_scale_ == (1.0, 5.0)
    model.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "model.json").read_text())["rating_scale_source"] == "inferred: 1-5"


@pytest.mark.parametrize(
    ("header", "used"),
    [
        ("userId,movieId,rating", "user=userId, item=movieId, rating=rating"),
        ("User-ID,ISBN,Book-Rating", "user=User-ID, item=ISBN, rating=Book-Rating"),
        ("userID,artistID,weight", "user=userID, item=artistID, rating=weight"),
        ("reviewerID,asin,stars,unixReviewTime", "user=reviewerID, item=asin"),
    ],
)
def test_the_usual_column_spellings_are_read_and_named(tmp_path, header, used):
    path = tmp_path / "r.csv"
    width = header.count(",") + 1
    rows = ["1,10,4,1000", "2,10,5,1001", "2,11,3,1002"]
    path.write_text(header + "\n" + "\n".join(",".join(r.split(",")[:width]) for r in rows) + "\n")
    data = load(path)
    assert data.n_users == 2 and data.n_items == 2
    result = CliRunner().invoke(app, ["datasets", "info", str(path)])
    assert result.exit_code == 0, result.output
    assert used in result.output


def test_a_click_log_sums_repeats_by_default_and_duplicates_still_chooses():
    frame = pd.DataFrame({"user": [1, 1, 1, 2], "item": ["a", "a", "b", "a"]})
    with pytest.warns(UserWarning, match="policy 'sum'"):
        counted = from_frame(frame, rating_col=None)
    assert counted.duplicates == "sum"
    assert dict(zip(counted.to_frame()["item"], counted.to_frame()["rating"], strict=False))["a"] in (2.0, 1.0)
    assert sorted(counted.ratings.tolist()) == [1.0, 1.0, 2.0]
    with pytest.warns(UserWarning, match="policy 'last'"):
        last = from_frame(frame, rating_col=None, duplicates="last")
    assert sorted(last.ratings.tolist()) == [1.0, 1.0, 1.0]
    rated = pd.DataFrame({"user": [1, 1], "item": ["a", "a"], "rating": [2.0, 5.0]})
    with pytest.warns(UserWarning, match="policy 'last'"):
        assert from_frame(rated).ratings.tolist() == [5.0]


def test_the_chunked_reader_keeps_spellings_and_usual_column_names_too(tmp_path):
    from mfrec.data.chunked import read_chunked

    path = tmp_path / "big.csv"
    path.write_text("userId,movieId,rating\n007,1,5\n7,1,4\n0042,2,3\n8,2,2\n9,3,1\n")
    with pytest.warns(IdSpellingWarning, match="'007', '7'"):
        data = read_chunked(path, chunk_rows=2)
    assert sorted(data.user_ids.ids.tolist()) == ["0042", "007", "7", "8", "9"]
    assert data.item_ids.is_integer and data.read_columns[:3] == ("userId", "movieId", "rating")
    plain = tmp_path / "plain.csv"
    plain.write_text("user,item,rating\n7,1,5\n9223372036854775807,2,4\n")
    assert read_chunked(plain, chunk_rows=1).user_ids.ids.tolist() == [7, 9223372036854775807]


def test_a_stray_rating_does_not_move_the_scale_and_is_left_out_with_a_warning():
    """One 11 in a 3,000-rating 1-10 log: the scale stays 1-10 (it was 0..11) and the 11 is named and left out."""
    from mfrec.exceptions import StrayRatingsWarning

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"user": rng.integers(0, 300, 3_000), "item": rng.integers(0, 400, 3_000), "rating": rng.integers(1, 11, 3_000)}
    ).drop_duplicates(["user", "item"])
    frame.iloc[5, 2] = 11
    with pytest.warns(StrayRatingsWarning, match=r"left out 1 of \d+ ratings outside the 1-10 scale .* row 5: 11"):
        data = from_frame(frame)
    assert data.rating_scale == (1.0, 10.0) and len(data) == len(frame) - 1
    with pytest.raises(DataError, match="outside the rating scale"):
        from_frame(frame, rating_scale=(1, 10))  # declared: refused, as before
    small = frame.head(500)  # too few ratings to call one value a stray: the scale grows instead
    assert from_frame(small).rating_scale == (0.0, 11.0)
    halves = frame.assign(rating=frame["rating"].where(frame.index % 3 > 0, frame["rating"] - 0.5).clip(lower=1))
    halves.iloc[5, 2] = 11  # the same stray on 1-10 in halves
    with pytest.warns(StrayRatingsWarning, match="outside the 1-10 scale"):
        assert from_frame(halves).rating_scale == (1.0, 10.0)
