"""Accuracy and ranking metrics.

Ranking metrics use binary relevance. For one user with recommended list
``rec`` (best first) and relevant set ``rel``:

* precision@k = |rec[:k] & rel| / k
* recall@k    = |rec[:k] & rel| / |rel|
* NDCG@k      = sum over hits at rank r (1-based) of 1/log2(r+1), divided by the
  same sum for a perfect list of min(|rel|, k) hits
* AP@k        = sum over hits at rank r of precision@r, divided by min(|rel|, k)
* hit@k       = 1 if any of rec[:k] is relevant
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from mfrec.exceptions import ParameterError


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise ParameterError(f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}")
    if t.size == 0:
        raise ParameterError("cannot compute an error over 0 ratings")
    return t, p


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error.

    >>> rmse([1, 2, 3], [1, 2, 5])
    1.1547005383792515
    """
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error.

    >>> mae([1, 2, 3], [1, 2, 5])
    0.6666666666666666
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def _hits(recommended: Sequence[Any], relevant: Iterable[Any], k: int) -> tuple[list[bool], int]:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be a positive int, got {k!r}")
    relevant = set(relevant)
    return [item in relevant for item in list(recommended)[:k]], len(relevant)


def precision_at_k(recommended: Sequence[Any], relevant: Iterable[Any], k: int = 10) -> float:
    """Share of the first ``k`` recommendations that are relevant (divides by k).

    >>> precision_at_k(["a", "b", "c"], {"a", "c", "z"}, k=2)
    0.5
    """
    hits, _ = _hits(recommended, relevant, k)
    return sum(hits) / k


def recall_at_k(recommended: Sequence[Any], relevant: Iterable[Any], k: int = 10) -> float:
    """Share of the relevant items found in the first ``k``.

    >>> recall_at_k(["a", "b", "c"], {"a", "c", "z"}, k=3)
    0.6666666666666666
    """
    hits, n_rel = _hits(recommended, relevant, k)
    return sum(hits) / n_rel if n_rel else 0.0


def ndcg_at_k(recommended: Sequence[Any], relevant: Iterable[Any], k: int = 10) -> float:
    """Normalised discounted cumulative gain with binary relevance: mfrec's one NDCG definition.

    DCG sums 1/log2(rank + 1) over the relevant items among the first ``k``
    (rank 1-based); it is divided by the DCG of a perfect list of
    min(|relevant|, k) hits. Relevant items that cannot be recommended (unknown
    to the model) stay in ``relevant`` and count as misses. The main protocol
    (:func:`mfrec.evaluation.score`, through its batched numba twin
    ``kernels.metrics.ranking_metrics``, tested equal) and the cold-start
    protocol both use this definition.

    >>> round(ndcg_at_k(["x", "a"], {"a"}, k=2), 4)
    0.6309
    """
    hits, n_rel = _hits(recommended, relevant, k)
    dcg = sum(1.0 / np.log2(r + 2) for r, hit in enumerate(hits) if hit)
    idcg = sum(1.0 / np.log2(r + 2) for r in range(min(n_rel, k)))
    return float(dcg / idcg) if idcg else 0.0


def average_precision_at_k(recommended: Sequence[Any], relevant: Iterable[Any], k: int = 10) -> float:
    """AP@k: mean of precision at each hit, over min(|relevant|, k). MAP@k is its mean over users.

    >>> average_precision_at_k(["a", "x", "b"], {"a", "b"}, k=3)
    0.8333333333333333
    """
    hits, n_rel = _hits(recommended, relevant, k)
    found, total = 0, 0.0
    for r, hit in enumerate(hits):
        if hit:
            found += 1
            total += found / (r + 1)
    return total / min(n_rel, k) if n_rel else 0.0


def hit_rate_at_k(recommended: Sequence[Any], relevant: Iterable[Any], k: int = 10) -> float:
    """1.0 if any of the first ``k`` is relevant, else 0.0."""
    hits, _ = _hits(recommended, relevant, k)
    return float(any(hits))


def catalogue_coverage(recommended_lists: Iterable[Sequence[Any]], n_items: int) -> float:
    """Share of the catalogue that appears in at least one list.

    >>> catalogue_coverage([["a", "b"], ["b", "c"]], n_items=6)
    0.5
    """
    if n_items < 1:
        raise ParameterError(f"n_items must be positive, got {n_items!r}")
    seen = set()
    for items in recommended_lists:
        seen.update(items)
    return len(seen) / n_items


def mean_popularity(item_rows: Any, item_counts: Any) -> float:
    """Average popularity of recommended items: the mean number of training ratings of ``item_rows``.

    A most-popular chart scores high, a list of obscure items low; compare with the catalogue's
    mean (``item_counts.mean()``).

    >>> mean_popularity([0, 1, 1], [10, 4, 0])
    6.0
    """
    rows = np.asarray(item_rows, dtype=np.int64).ravel()
    return float(np.asarray(item_counts, dtype=np.float64)[rows].mean()) if rows.size else float("nan")


def novelty(item_rows: Any, item_counts: Any, n_users: int) -> float:
    """Mean self-information of recommended items, -log2(share of training users who rated the item), in bits.

    An item every user rated carries 0 bits; one rated by a single user of 1024 carries 10.
    Items with no training rating count as rated once.

    >>> novelty([0, 1], [512, 1], 1024)
    5.5
    """
    if n_users < 1:
        raise ParameterError(f"n_users must be positive, got {n_users!r}")
    rows = np.asarray(item_rows, dtype=np.int64).ravel()
    if not rows.size:
        return float("nan")
    counts = np.maximum(np.asarray(item_counts, dtype=np.float64)[rows], 1.0)
    return float(np.mean(-np.log2(counts / n_users)))
