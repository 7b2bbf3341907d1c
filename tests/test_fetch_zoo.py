"""The zoo recipe's round-four check logs: read from other repositories, other scales, never used for defaults."""

from __future__ import annotations

import io
import zipfile

import pytest
from benchmark_scripts import load_script


@pytest.fixture
def fetch(monkeypatch):
    return load_script(monkeypatch, "zoo/fetch_zoo.py", "fetch_zoo_round_four")


def test_zoo_check_logs_are_pinned_outside_caserec_and_marked_check_only(fetch, monkeypatch):
    for name in ("x-wines", "boardgames"):
        spec = fetch.REAL[name]
        assert spec["repo"] != fetch.CASEREC and len(spec["commit"]) == 40
        assert spec["use"].startswith("check only: not used to choose defaults")
        assert spec.get("kind", "explicit") == "explicit"
        assert name in fetch.read_checksums()
    assert fetch.liked_level(1.0, 5.0, 0.5) == 4.0  # x-wines: 1-5 in halves
    assert fetch.liked_level(1.0, 10.0, None) == 8.0  # boardgames: continuous 1-10, whole point as on 1-10 logs
    zoo = load_script(monkeypatch, "bench_zoo.py", "bench_zoo_round_four")
    assert {"x-wines", "boardgames"} <= set(zoo.REAL_FIRST)


def test_zoo_named_columns_read_dates_as_unix_seconds_in_file_order(fetch):
    text = "RatingID,UserID,WineID,Vintage,Rating,Date\r\n1,7,100,2001,4.5,1970-01-02 00:00:00\r\n"
    text += "2,7,100,2002,3.0,1970-01-01 00:01:00\r\n3,8,101,2003,5.0,2021-12-31 23:58:52\r\n"
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as archive:
        archive.writestr("ratings.csv", text)
    spec = dict(fetch.REAL["x-wines"], member="ratings.csv")
    frame = fetch.real_frame(spec, blob.getvalue())
    assert list(frame.columns) == ["user", "item", "rating", "timestamp"]
    assert frame["user"].tolist() == ["7", "7", "8"] and frame["item"].tolist() == ["100", "100", "101"]
    assert frame["rating"].tolist() == [4.5, 3.0, 5.0]  # the duplicate pair is kept: bench_zoo keeps the last
    assert frame["timestamp"].tolist() == [86_400, 60, 1_640_995_132]


def test_zoo_mirror_of_finds_snapshot_or_clone(fetch, tmp_path):
    spec = fetch.REAL["boardgames"]
    assert fetch.mirror_of(fetch.REAL["anime"], tmp_path / "caserec", tmp_path) == tmp_path / "caserec"
    assert fetch.mirror_of(spec, tmp_path / "caserec", tmp_path) == tmp_path / "maxmccord+pdx-data-science"
    (tmp_path / "maxmccord+pdx-data-science" / "repo").mkdir(parents=True)
    assert fetch.mirror_of(spec, tmp_path / "caserec", tmp_path) == tmp_path / "maxmccord+pdx-data-science" / "repo"
