"""Splits are seeded, disjoint, complete, and keep their promises about users and time."""

import numpy as np
import pytest

from mfrec.data import from_arrays, kfold, leave_last_n, predefined_folds, random_split, temporal_split
from mfrec.exceptions import DataError, ParameterError


def keys(data):
    frame = data.to_frame()
    return set(zip(frame.user, frame.item))


@pytest.fixture
def timed(planted):
    return planted


def test_random_split_sizes_disjoint_and_seeded(planted):
    train, test = random_split(planted, 0.25, seed=1)
    assert len(test) == 10_000 and len(train) == 30_000
    assert not keys(train) & keys(test)
    assert keys(random_split(planted, 0.25, seed=1)[1]) == keys(test)
    assert keys(random_split(planted, 0.25, seed=2)[1]) != keys(test)
    with pytest.raises(ParameterError, match="test_fraction"):
        random_split(planted, 1.5)


def test_split_id_maps_are_compact(planted):
    train, test = random_split(planted, 0.2, seed=0)
    assert train.n_items == np.unique(train.item_idx).size
    assert test.n_users == np.unique(test.user_idx).size


def test_temporal_split_respects_the_cutoff(planted):
    train, test = temporal_split(planted, test_fraction=0.2)
    assert train.timestamps.max() < test.timestamps.min()
    assert abs(len(test) / len(planted) - 0.2) < 0.01
    cut = int(np.median(planted.timestamps))
    train, test = temporal_split(planted, cutoff=cut)
    assert train.timestamps.max() < cut <= test.timestamps.min()
    with pytest.raises(ParameterError, match="exactly one"):
        temporal_split(planted)


def test_temporal_split_needs_timestamps():
    with pytest.raises(DataError, match="timestamp"):
        temporal_split(from_arrays([1, 2], [1, 1], [1.0, 2.0]), test_fraction=0.5)


def test_leave_last_n_takes_each_users_latest(planted):
    train, test = leave_last_n(planted, 2)
    tr, te = train.to_frame(), test.to_frame()
    assert (te.groupby("user").size() == 2).all()
    latest_train = tr.groupby("user")["timestamp"].max()
    earliest_test = te.groupby("user")["timestamp"].min()
    assert (latest_train.loc[earliest_test.index] <= earliest_test).all()


def test_leave_last_keeps_users_with_too_few_ratings_in_train():
    data = from_arrays([1, 1, 2, 2, 2], [1, 2, 1, 2, 3], [1.0] * 5, [1, 2, 1, 2, 3])
    train, test = leave_last_n(data, 2)
    assert test.to_frame()["user"].unique().tolist() == [2]
    assert sorted(test.to_frame()["item"]) == [2, 3]


def test_kfold_tests_every_rating_once(planted):
    folds = list(kfold(planted, 4, seed=0))
    tested = [keys(test) for _, test in folds]
    assert sum(map(len, tested)) == len(planted)
    assert set().union(*tested) == keys(planted)
    with pytest.raises(ParameterError, match="k must be an int >= 2"):
        list(kfold(planted, 1))


@pytest.mark.realdata
def test_ml100k_predefined_folds(ml100k_path):
    folds = predefined_folds(ml100k_path)
    assert len(folds) == 5
    assert all(len(train) == 80_000 and len(test) == 20_000 for train, test in folds)
    assert len(predefined_folds(ml100k_path, "ua")[0][1]) == 9_430
    with pytest.raises(DataError, match="unknown predefined folds"):
        predefined_folds(ml100k_path, "u9")
