"""Readers: separators, headers, column names, Parquet, MovieLens layouts, and load()'s dispatch."""

import numpy as np
import pandas as pd
import pytest

from mfrec.data import from_arrays, load, read_csv, read_parquet
from mfrec.data.movielens import detect_layout, load_movielens
from mfrec.exceptions import DataError

ROWS = [(1, 10, 4.0, 100), (1, 20, 3.0, 200), (2, 10, 5.0, 300)]


@pytest.mark.parametrize("sep", ["::", "\t", ",", ";", "|"])
@pytest.mark.parametrize("header", [True, False])
def test_csv_separators_and_headers_are_detected(tmp_path, sep, header):
    lines = [sep.join(map(str, row)) for row in ROWS]
    if header:
        lines.insert(0, sep.join(["user", "item", "rating", "timestamp"]))
    path = tmp_path / "ratings.txt"
    path.write_text("\n".join(lines) + "\n")
    data = read_csv(path)
    assert (data.n_users, data.n_items, len(data)) == (2, 2, 3)
    assert data.timestamps.tolist() == [100, 200, 300]
    assert sorted(data.to_frame()["rating"]) == [3.0, 4.0, 5.0]


def test_csv_with_custom_column_names(tmp_path):
    path = tmp_path / "r.csv"
    pd.DataFrame({"uid": ["a", "b"], "sku": ["x", "y"], "stars": [1, 2]}).to_csv(path, index=False)
    data = read_csv(path, user_col="uid", item_col="sku", rating_col="stars")
    assert data.user_ids.ids.tolist() == ["a", "b"]


def test_csv_missing_column_error(tmp_path):
    path = tmp_path / "r.csv"
    pd.DataFrame({"person": [1], "item": [2], "rating": [3]}).to_csv(path, index=False)
    with pytest.raises(DataError, match="missing column 'user'.*user_col"):
        read_csv(path)


def test_csv_empty_and_missing(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_csv(tmp_path / "empty.csv")
    with pytest.raises(DataError, match="file not found"):
        read_csv(tmp_path / "nope.csv")


def test_parquet_round_trip_and_without_timestamps(tmp_path):
    path = tmp_path / "r.parquet"
    pd.DataFrame(ROWS, columns=["user", "item", "rating", "timestamp"]).to_parquet(path)
    data = read_parquet(path)
    assert data.timestamps is not None and len(data) == 3
    assert read_parquet(path, with_timestamps=False).timestamps is None
    with pytest.raises(DataError, match="missing column 'score'"):
        read_parquet(path, rating_col="score")


def test_load_dispatches_on_the_kind_of_source(tmp_path):
    frame = pd.DataFrame(ROWS, columns=["user", "item", "rating", "timestamp"])
    assert len(load(frame)) == 3
    assert len(load((frame.user, frame.item, frame.rating))) == 3
    data = from_arrays(frame.user, frame.item, frame.rating)
    assert load(data) is data
    with pytest.raises(DataError, match="cannot read interactions from int"):
        load(42)
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "missing.csv")


def test_ml1m_layout(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::10::5::978300760\n2::10::3::978302109\n")
    (tmp_path / "movies.dat").write_text("10::GoldenEye (1995)::Action|Adventure|Thriller\n", encoding="latin-1")
    (tmp_path / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    assert detect_layout(tmp_path) == "ml-1m"
    data = load_movielens(tmp_path)
    assert data.rating_scale == (1.0, 5.0)
    assert data.item_titles([10]) == ["GoldenEye (1995)"]
    assert data.user_info.loc[2, "age"] == 56


def test_ml_latest_layout(tmp_path):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.5,964982703\n2,1,0.5,964982224\n")
    (tmp_path / "movies.csv").write_text('movieId,title,genres\n1,"Toy Story (1995)",Adventure|Animation\n')
    data = load(tmp_path)
    assert data.rating_scale == (0.5, 5.0)
    assert data.item_info.loc[1, "genres"] == "Adventure|Animation"


def test_not_a_movielens_folder(tmp_path):
    with pytest.raises(DataError, match="not a MovieLens folder"):
        load(tmp_path)


@pytest.mark.realdata
def test_ml100k_reader(ml100k_path):
    data = load(ml100k_path)
    assert (data.n_users, data.n_items, len(data)) == (943, 1682, 100_000)
    assert data.item_titles([1]) == ["Toy Story (1995)"]
    assert data.item_info.loc[1, "genres"] == "Animation|Children's|Comedy"
    assert data.user_info.loc[1, "occupation"] == "technician"
    assert np.isclose(data.ratings.mean(), 3.52986, atol=1e-5)


# ------------------------------------------------------------------ reading failures and encodings (issue 11 #11)


def test_ragged_row_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("user,item,rating\n1,2,3\n2,3,4\n3,4,5,6\n")
    with pytest.raises(DataError, match=r"ragged\.csv: line 4 has 4 fields where the lines above have 3"):
        read_csv(path)


def test_latin1_file_is_sniffed_with_a_warning_or_read_as_told(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("user,item,rating\nJosé,Café,3\nZoë,Crème,4\n".encode("latin-1"))
    with pytest.warns(UserWarning, match=r"latin\.csv: line 2 is not UTF-8; reading the file as latin-1"):
        data = read_csv(path)
    assert sorted(data.user_ids.ids.tolist()) == ["José", "Zoë"]
    assert sorted(read_csv(path, encoding="latin-1").item_ids.ids.tolist()) == ["Café", "Crème"]
    with pytest.raises(DataError, match=r"latin\.csv: line 2 is not valid utf-8; pass encoding='latin-1'"):
        read_csv(path, encoding="utf-8")
    with pytest.raises(DataError, match="unknown encoding 'klingon'"):
        read_csv(path, encoding="klingon")


def test_undecodable_bytes_far_into_the_file_are_found_on_their_line(tmp_path):
    path = tmp_path / "late.csv"
    rows = "".join(f"{u},{u % 7},3\n" for u in range(20_000))  # > the 64 KB sniffing sample
    path.write_bytes(b"user,item,rating\n" + rows.encode() + "Zoë,1,4\n".encode("latin-1"))
    with pytest.warns(UserWarning, match="line 20002 is not UTF-8"):
        assert len(read_csv(path)) == 20_001
    with pytest.raises(DataError, match="line 20002 is not valid utf-8"):
        read_csv(path, encoding="utf-8")


def test_utf8_bom_is_not_part_of_the_first_column(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfuser,item,rating\n1,2,3\n")
    assert read_csv(path).n_users == 1


# ------------------------------------------------------------------ two-column logs (issue 12 #5)


def test_two_column_log_header_is_never_an_interaction(tmp_path):
    path = tmp_path / "plays.csv"
    path.write_text("uid,song\n1,17\n2,18\n2,17\n")
    data = read_csv(path, user_col="uid", item_col="song", rating_col=None)
    assert len(data) == 3 and sorted(data.user_ids.ids.tolist()) == [1, 2]
    assert data.ratings.tolist() == [1.0, 1.0, 1.0]
    headerless = tmp_path / "plain.csv"
    headerless.write_text("a,x\nb,y\n")
    assert sorted(read_csv(headerless, rating_col=None).user_ids.ids.tolist()) == ["a", "b"]


def test_two_column_file_without_rating_col_none_says_how(tmp_path):
    path = tmp_path / "plays.csv"
    path.write_text("user,item\n1,17\n")
    with pytest.raises(DataError, match="missing column 'rating'.*rating_col=None"):
        read_csv(path)


# ------------------------------------------------------------------ dataset names (issue 12 #6)


@pytest.mark.realdata
def test_a_dataset_name_works_wherever_a_path_does(ml100k_path, monkeypatch):
    from mfrec.evaluation import make_splits

    monkeypatch.setenv("MFREC_DATA", str(ml100k_path.parent))
    assert len(load("ml-100k")) == 100_000
    assert len(make_splits("ml-100k", "ml100k-ua")[1]) == 1
    with pytest.raises(DataError, match="no such file or folder: nothing-here.*nor a dataset name"):
        load("nothing-here")


def test_files_that_are_not_delimited_text_say_what_they_are(tmp_path):
    parquet = tmp_path / "real.parquet"
    pd.DataFrame({"user": [1], "item": [2], "rating": [3.0]}).to_parquet(parquet)
    disguised = tmp_path / "ratings.csv"
    disguised.write_bytes(parquet.read_bytes())
    with pytest.raises(DataError, match=r"ratings\.csv is a Parquet file; give it a \.parquet name"):
        load(disguised)
    broken = tmp_path / "broken.parquet"
    broken.write_text("user,item,rating\n1,2,3\n")
    with pytest.raises(DataError, match=r"broken\.parquet: not a readable Parquet file .*\.csv"):
        load(broken)
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"user,item\x00\x01\x02")
    with pytest.raises(DataError, match="binary"):
        load(binary)
    header_only = tmp_path / "header.csv"
    header_only.write_text("user,item,rating\n")
    with pytest.raises(DataError, match=r"header\.csv has no rows"):
        load(header_only)
