"""The play-count benchmark's split and scorer, and the zoo's implicit log kept out of the rating zoo (issue 30)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from benchmark_scripts import load_script


@pytest.fixture
def playcount(monkeypatch):
    return load_script(monkeypatch, "bench_playcount.py", "bench_playcount_under_test")


def _plays(sizes: list[int]) -> pd.DataFrame:
    rows = [(f"u{u}", f"g{g}", 1.0 + g) for u, n in enumerate(sizes) for g in range(n)]
    return pd.DataFrame(rows, columns=["user", "item", "hours"])


def test_split_holds_out_a_fifth_per_user_and_keeps_one_play_in_train(playcount):
    frame = _plays([1, 2, 3, 5, 10, 47])
    for seed in range(3):
        train, test = playcount.split(frame, seed)
        assert len(train) + len(test) == len(frame)
        assert not set(zip(train.user, train.item)) & set(zip(test.user, test.item))
        held = test.groupby("user").size().reindex([f"u{u}" for u in range(6)], fill_value=0).tolist()
        assert held == [0, 1, 1, 1, 2, 9]  # round(20%), at least 1, never all: u0's single play stays in train
        assert set(train.user) == set(frame.user)
    assert not playcount.split(frame, 0)[1].equals(playcount.split(frame, 1)[1])  # the seed moves the split


def test_score_is_ndcg_and_recall_over_every_test_user(playcount):
    test = pd.DataFrame({"user": ["a", "a", "b"], "item": ["1", "2", "3"]})
    ndcg, recall = playcount.score(test, {"a": ["1", "9"], "b": ["3"]}, k=2)
    assert recall == pytest.approx((0.5 + 1.0) / 2)
    assert ndcg == pytest.approx((1.0 / (1.0 + 1.0 / np.log2(3)) + 1.0) / 2)
    assert playcount.score(test, {"a": ["1", "2"]}, k=2) == (pytest.approx(0.5), pytest.approx(0.5))  # b: no list


def test_the_implicit_log_has_no_liked_level_and_the_rating_zoo_skips_it(monkeypatch, tmp_path):
    fetch = load_script(monkeypatch, "zoo/fetch_zoo.py", "fetch_zoo_under_test")
    assert fetch.REAL["steam"]["kind"] == "implicit" and fetch.liked_level(None, None, None) is None
    assert fetch.liked_level(1.0, 10.0, 1.0) == 8.0
    zoo = load_script(monkeypatch, "bench_zoo.py", "bench_zoo_under_test")
    assert "steam" not in zoo.REAL_FIRST
    monkeypatch.setattr(zoo, "ZOO", tmp_path)
    _plays([2, 3]).rename(columns={"hours": "rating"}).to_parquet(tmp_path / "steam.parquet")
    (tmp_path / "steam.json").write_text(json.dumps({"kind": "implicit", "value": "hours", "scale": None}))
    assert zoo.load_log("steam", 100_000) is None
