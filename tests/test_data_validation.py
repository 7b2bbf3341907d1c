"""Every bad input is refused at the boundary with a message naming the column, row and value."""

import numpy as np
import pandas as pd
import pytest

from mfrec.data import from_arrays, from_frame, load
from mfrec.exceptions import DataError, DuplicateRatingsWarning, ParameterError


def frame(**columns):
    base = {"user": [1, 1, 2], "item": [10, 20, 10], "rating": [4.0, 3.0, 5.0]}
    base.update(columns)
    return pd.DataFrame(base)


def test_missing_column_names_it_and_suggests_the_option():
    with pytest.raises(DataError, match=r"missing column 'item'.*\['user', 'movie', 'rating'\].*item_col"):
        from_frame(frame().rename(columns={"item": "movie"}))


def test_renamed_columns_are_accepted():
    data = from_frame(frame().rename(columns={"item": "movie"}), item_col="movie")
    assert data.n_items == 2


def test_missing_rating_names_its_row():
    with pytest.raises(DataError, match=r"column 'rating' has 1 missing \(empty\) values \(first at row 1\)"):
        from_frame(frame(rating=[4.0, np.nan, 5.0]))


def test_inf_rating_is_refused():
    with pytest.raises(DataError, match=r"infinite values \(first at row 2: inf\)"):
        from_frame(frame(rating=[4.0, 3.0, np.inf]))


def test_a_file_with_blank_lines_names_the_line_of_a_bad_row(tmp_path):
    """pandas skips blank lines; a missing rating after one was reported a line too early."""
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\n1,1,4\n\n2,1,5\n\n\n3,2,\n4,2,3\n")
    with pytest.raises(DataError, match=r"column 'rating' has 1 missing \(empty\) values \(first at line 7\)"):
        load(path)
    path.write_text("user,item,rating\n1,1,4\n\n2,1,5\n\n3,2,9\n4,2,3\n")
    with pytest.raises(DataError, match=r"outside the rating scale \[1, 5\] \(first at line 6: 9\)"):
        load(path, rating_scale=(1, 5))
    path.write_text("user,item,rating\n1,1,4\n\n2,1,5\n\n3,2,2\n")
    assert len(load(path)) == 3  # the blank lines are no rows


def test_non_numeric_rating_names_value():
    with pytest.raises(DataError, match=r"non-numeric values \(first at row 2: 'five'\)"):
        from_frame(frame(rating=["4", "3", "five"]))


def test_numeric_strings_are_parsed():
    assert from_frame(frame(rating=["4", "3", "5"])).ratings.tolist() == [4.0, 3.0, 5.0]


def test_rating_outside_declared_scale():
    with pytest.raises(DataError, match=r"1 values outside the rating scale \[1, 5\] \(first at row 0: 7\)"):
        from_frame(frame(rating=[7.0, 3.0, 5.0]), rating_scale=(1, 5))


def test_scale_inferred_when_not_declared():
    assert from_frame(frame()).rating_scale == (1.0, 5.0)  # the common scale holding 3..5, never (min, max)


def test_bad_scale_parameter():
    with pytest.raises(ParameterError, match="low < high"):
        from_frame(frame(), rating_scale=(5, 1))


def test_empty_input():
    with pytest.raises(DataError, match="0 rows"):
        from_frame(frame().iloc[:0])


def test_missing_user_id_names_row():
    with pytest.raises(DataError, match=r"column 'user' has 1 missing ids \(first at row 1"):
        from_frame(frame(user=["a", None, "b"]))


def test_misaligned_arrays():
    with pytest.raises(DataError, match="column 'item' has 2 values but column 'user' has 3"):
        from_arrays([1, 2, 3], [1, 2], [1.0, 2.0, 3.0])


def test_duplicates_last_wins_and_is_reported():
    with pytest.warns(DuplicateRatingsWarning, match=r"merged 1 duplicate.*\(1, 10\) at rows 0 and 2"):
        data = from_arrays([1, 2, 1], [10, 10, 10], [2.0, 4.0, 5.0])
    assert data.n_duplicates == 1 and len(data) == 2
    assert data.to_frame().query("user == 1")["rating"].tolist() == [5.0]


def test_duplicates_mean():
    with pytest.warns(DuplicateRatingsWarning):
        data = from_arrays([1, 1, 1, 2], [10, 10, 10, 10], [1.0, 2.0, 6.0, 4.0], duplicates="mean")
    assert data.to_frame().query("user == 1")["rating"].tolist() == [3.0]


def test_duplicates_error_names_the_pair():
    with pytest.raises(DataError, match=r"1 duplicate \(user, item\) pairs; the first is \('a', 'x'\) at rows 0 and 2"):
        from_arrays(["a", "b", "a"], ["x", "x", "x"], [1.0, 2.0, 3.0], duplicates="error")


def test_unknown_duplicate_policy():
    with pytest.raises(ParameterError, match="duplicates must be one of"):
        from_frame(frame(), duplicates="first")


def test_string_and_integer_ids_round_trip():
    data = from_arrays(["b", "a", "b"], [3, 1, 1], [1.0, 2.0, 3.0])
    out = data.to_frame()
    assert sorted(zip(out.user, out.item, out.rating)) == [("a", 1, 2.0), ("b", 1, 3.0), ("b", 3, 1.0)]
    assert data.user_ids.ids.tolist() == ["a", "b"]


def test_float_ids_that_are_whole_become_ints():
    data = from_arrays(np.array([1.0, 2.0]), np.array([5.0, 6.0]), [1.0, 2.0])
    assert data.user_ids.is_integer and data.item_ids.ids.tolist() == [5, 6]


def test_sparse_ids_use_the_general_encoder():
    data = from_arrays([10**12, 5, 10**12], [1, 2, 2], [1.0, 2.0, 3.0])
    assert data.user_ids.ids.tolist() == [5, 10**12]
    assert data.to_frame()["user"].tolist() == [10**12, 5, 10**12]


def test_implicit_data_without_ratings():
    data = from_arrays([1, 2], [1, 1])
    assert data.ratings.tolist() == [1.0, 1.0]


def test_dense_refuses_large_matrices(planted):
    with pytest.raises(ParameterError, match="cells"):
        planted.to_dense(max_cells=1000)


@pytest.mark.parametrize("header", [True, False])
def test_a_file_s_bad_value_is_named_by_its_line_in_the_file(tmp_path, header):
    from mfrec.data import read_csv

    rows = [f"{u},{u % 7},4" for u in range(60)]
    rows[49] = "49,3,five"  # the 50th data row
    path = tmp_path / "ratings.csv"
    path.write_text(("user,item,rating\n" if header else "") + "\n".join(rows) + "\n")
    line = 51 if header else 50
    with pytest.raises(DataError, match=rf"non-numeric values \(first at line {line}: 'five'\)"):
        read_csv(path)
    rows[49] = "0,0,4"  # repeats the first row: lines 2 and 51 (1 and 50 without a header)
    path.write_text(("user,item,rating\n" if header else "") + "\n".join(rows) + "\n")
    with pytest.warns(DuplicateRatingsWarning, match=rf"\(0, 0\) at lines {line - 49} and {line}\)"):
        read_csv(path)


def test_warnings_point_at_the_users_line_whatever_the_path(tmp_path):
    """A fixed stacklevel pointed the duplicate warning at mfrec's reader when the data came from a file."""
    import warnings

    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\n1,1,4\n1,1,5\n2,1,3\n")
    frame = pd.DataFrame({"user": [1, 1, 2], "item": [1, 1, 1], "rating": [4.0, 5.0, 3.0]})
    for read in (lambda: load(path), lambda: from_frame(frame), lambda: from_arrays([1, 1, 2], [1, 1, 1], [4, 5, 3])):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read()
        assert [w.category for w in caught] == [DuplicateRatingsWarning]
        assert caught[0].filename == __file__, caught[0].filename
