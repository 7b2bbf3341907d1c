"""Metrics against answers worked out by hand."""

import math

import pytest

from mfrec.evaluation import (
    average_precision_at_k,
    catalogue_coverage,
    hit_rate_at_k,
    mae,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)
from mfrec.exceptions import ParameterError

REC = ["a", "b", "c", "d"]
REL = {"b", "d", "z"}


def test_rmse_and_mae():
    assert rmse([3, 4, 5], [3, 4, 5]) == 0
    assert rmse([1, 2], [2, 4]) == pytest.approx(math.sqrt(2.5))
    assert mae([1, 2], [2, 4]) == 1.5
    with pytest.raises(ParameterError, match="same shape"):
        rmse([1, 2], [1])
    with pytest.raises(ParameterError, match="0 ratings"):
        mae([], [])


def test_precision_recall_hit():
    assert precision_at_k(REC, REL, 4) == 0.5  # b, d of 4
    assert precision_at_k(REC, REL, 2) == 0.5  # b of 2
    assert recall_at_k(REC, REL, 4) == pytest.approx(2 / 3)
    assert hit_rate_at_k(REC, REL, 1) == 0.0 and hit_rate_at_k(REC, REL, 2) == 1.0
    assert precision_at_k(["a"], REL, 10) == 0.0  # short lists still divide by k


def test_ndcg_by_hand():
    dcg = 1 / math.log2(3) + 1 / math.log2(5)  # hits at ranks 2 and 4
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # three relevant, k=4
    assert ndcg_at_k(REC, REL, 4) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["b", "d", "z"], REL, 3) == pytest.approx(1.0)
    assert ndcg_at_k(REC, set(), 4) == 0.0


def test_average_precision_by_hand():
    assert average_precision_at_k(REC, REL, 4) == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert average_precision_at_k(REC, {"a"}, 4) == 1.0


def test_coverage():
    assert catalogue_coverage([["a", "b"], ["b"]], 4) == 0.5
    with pytest.raises(ParameterError):
        catalogue_coverage([], 0)


def test_bad_k():
    with pytest.raises(ParameterError, match="k must be a positive int"):
        ndcg_at_k(REC, REL, 0)


def test_one_ndcg_definition_in_the_batched_kernel():
    """The main protocol's numba kernel and ndcg_at_k agree, unknown (-1) relevant items counting as misses."""
    import numpy as np

    from mfrec.kernels.metrics import ranking_metrics

    rng = np.random.default_rng(0)
    recs = np.array([rng.permutation(20)[:5] for _ in range(30)], dtype=np.int32)
    relevant = [rng.choice(np.arange(-1, 20), size=int(rng.integers(1, 8)), replace=False) for _ in range(30)]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in relevant])]).astype(np.int64)
    out = np.zeros((30, 5))
    ranking_metrics(recs, np.full(30, 5, np.int32), indptr, np.concatenate(relevant).astype(np.int32), 5, out)
    for u in range(30):
        assert out[u, 2] == pytest.approx(ndcg_at_k(recs[u].tolist(), set(relevant[u].tolist()), 5))
