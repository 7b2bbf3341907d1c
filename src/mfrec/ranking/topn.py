"""Top-N ranking over any fitted model: the one path evaluation, the CLI, the service and Spark share.

A model only has to score (``model.score_items(user_rows)``: float32[users, items]; the
:class:`~mfrec.ranking.scorer.Scorer` protocol lists what is read);
the ranker (:mod:`mfrec.ranking.pick`: for rating models "will pick" x "will like" unless
``rank_by="rating"``), candidate selection (exclude seen items, allow- and deny-lists),
the finite-score check and the top-N selection are composed around it here, once:

* :func:`rank_scores` / :func:`rank_scores_folded` are the scores every list is ordered
  by (known users / a folded-in user): callers that rank themselves use these, never
  ``score_items``;

* :func:`top_n` speaks original ids and returns a DataFrame (what
  :meth:`Recommender.recommend` returns for known users);
* :func:`top_n_rows` speaks internal rows and returns arrays, for bulk callers
  (evaluation over thousands of users, Spark partitions, ``recommend --all``); factor
  models are scored there tile by tile (:mod:`mfrec.ranking.tiles`), other scorers a block of
  users x all items at a time, with the same lists;
* :func:`top_of_scores` ranks one score vector the caller built (a folded-in user,
  a cold-start protocol);
* :func:`ndcg` is the per-epoch ranking metric ``fit(track_ndcg=K)`` records.

Examples
--------
>>> from mfrec.data import synthetic
>>> from mfrec.models import Biases
>>> model = Biases().fit(synthetic(50, 40, 800, seed=0))
>>> top_n(model, [1, 2], k=3)["rank"].tolist()
[1, 2, 3, 1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mfrec._threads import num_threads
from mfrec._validation import check_int
from mfrec.kernels.metrics import ranking_metrics
from mfrec.kernels.sparse import group_rows
from mfrec.kernels.topk import top_k
from mfrec.ranking.pick import rank_folded, rank_user_rows
from mfrec.ranking.scorer import Scorer
from mfrec.ranking.tiles import factor_scorer, nonfinite_error, top_n_tiled

if TYPE_CHECKING:
    from mfrec.data.interactions import Interactions

# Score blocks of users x all items are built this many cells at a time (64 MB of float32), for models
# with their own scorer (the Popularity baseline).
SCORE_BLOCK_CELLS = 1 << 24


def rank_scores(model: Scorer, user_rows: np.ndarray) -> np.ndarray:
    """The scores lists are ordered by, float32[len(user_rows), n_items], for known users' internal rows.

    ``model.score_items`` passed through the model's ranker: for a rating model with
    ``rank_by="pick-like"`` (the default) the pick x like score of :mod:`mfrec.ranking.pick`,
    otherwise the model's own scores.
    """
    rows = np.asarray(user_rows, dtype=np.int32)
    return rank_user_rows(model, rows, model.score_items(rows))


def rank_scores_folded(model: Scorer, folded: Any) -> np.ndarray:
    """The scores a folded-in user's list is ordered by, float32[n_items] (the same ranker as :func:`rank_scores`).

    ``folded`` is what :meth:`Recommender.fold_in` returns; the popularity fallback ranks by counts.
    """
    scores = score_folded(model, folded)
    return scores if folded.source == "popularity" else rank_folded(model, folded.item_rows, scores)


def score_folded(model: Scorer, folded: Any) -> np.ndarray:
    """Scores of every item for a folded-in user, float32[n_items] (popularity counts for the fallback).

    What a folded-in user's list shows (the predicted rating, or the counts); :func:`rank_scores_folded`
    is what it is ordered by. ``folded`` carries the user's ``factors``, ``bias`` and ``source``.
    """
    if folded.source == "popularity" or model.score_kind == "popularity":
        return model.item_counts_.astype(np.float32)
    Q = model._factors()[1]
    scores = Q @ folded.factors if Q.shape[1] else np.zeros(Q.shape[0], np.float32)
    return (scores + model.item_bias_ + (model.global_mean_ + folded.bias)).astype(np.float32)


def candidate_mask(
    model: Scorer, items: Sequence[Any] | None = None, exclude_items: Sequence[Any] | None = None
) -> np.ndarray:
    """bool[n_items]: the items that may be recommended (``items`` allow-list minus ``exclude_items``).

    An unknown id in the allow-list is an :class:`UnknownIdError`; in the deny-list it is ignored.
    """
    n_items = len(model.item_map_)
    if items is not None:
        allowed = np.zeros(n_items, dtype=bool)
        allowed[model.item_map_.lookup(items, what="item")] = True
    else:
        allowed = np.ones(n_items, dtype=bool)
    if exclude_items is not None:
        rows = model.item_map_.lookup(exclude_items, missing="negative")
        allowed[rows[rows >= 0]] = False
    return allowed


def check_finite(model: Scorer, scores: np.ndarray) -> None:
    """Raise :class:`TrainingError` when a diverged model scores NaN or infinity (top-N would skip them)."""
    if not np.isfinite(scores).all():
        raise nonfinite_error(model, int((~np.isfinite(scores)).sum()))


def top_n_rows(
    model: Scorer,
    user_rows: np.ndarray,
    k: int,
    *,
    exclude_seen: bool = True,
    allowed: np.ndarray | None = None,
    n_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-``k`` by internal rows: (item rows int32[U, k], raw scores float32[U, k], valid counts int32[U]).

    Scores are the ranking scores of :func:`rank_scores` (unclipped). A user with fewer than ``k``
    candidates gets fewer valid entries (``counts``); the rest are -1 / NaN.
    """
    n_items = len(model.item_map_)
    if allowed is None:
        allowed = np.ones(n_items, dtype=bool)
    k = min(k, n_items)
    out_items = np.full((len(user_rows), k), -1, dtype=np.int32)
    out_scores = np.full((len(user_rows), k), np.nan, dtype=np.float32)
    out_count = np.zeros(len(user_rows), dtype=np.int32)
    rows = np.ascontiguousarray(user_rows, dtype=np.int32)
    allowed = np.ascontiguousarray(allowed, dtype=bool)
    if k == 0 or rows.size == 0:
        return out_items, out_scores, out_count
    with num_threads(n_threads) as threads:
        if factor_scorer(model):
            top_n_tiled(model, rows, k, exclude_seen, allowed, out_items, out_scores, out_count, threads)
        else:
            _top_n_scored(model, rows, k, exclude_seen, allowed, out_items, out_scores, out_count)
    return out_items, out_scores, out_count


def _top_n_scored(
    model: Scorer,
    user_rows: np.ndarray,
    k: int,
    exclude_seen: bool,
    allowed: np.ndarray,
    out_items: np.ndarray,
    out_scores: np.ndarray,
    out_count: np.ndarray,
) -> None:
    """:func:`top_n_rows` for any scorer: :func:`rank_scores` of a block of users x all items, then :func:`top_k`."""
    n_items = len(model.item_map_)
    batch = max(1, SCORE_BLOCK_CELLS // max(1, n_items))
    for start in range(0, len(user_rows), batch):
        rows = user_rows[start : start + batch]
        scores = np.ascontiguousarray(rank_scores(model, rows), dtype=np.float32)
        check_finite(model, scores)
        sl = slice(start, start + len(rows))
        top_k(
            scores,
            rows,
            model.seen_indptr_,
            model.seen_indices_,
            exclude_seen,
            allowed,
            k,
            out_items[sl],
            out_scores[sl],
            out_count[sl],
        )


def sampled_top_items(model: Scorer, k: int = 10, *, n_users: int = 2000, seed: int = 0) -> tuple[np.ndarray, int]:
    """The item rows in the top-``k`` lists of a seeded sample of at most ``n_users`` users, one entry per
    filled slot, and the number of users drawn: what the popularity diagnostics and charts look at."""
    n_all = len(model.user_map_)
    rng = np.random.default_rng(seed)
    users = np.arange(n_all) if n_all <= n_users else np.sort(rng.choice(n_all, n_users, replace=False))
    items, _, counts = top_n_rows(model, users.astype(np.int32), k)
    return items[np.arange(items.shape[1])[None, :] < counts[:, None]], int(len(users))


def top_of_scores(
    model: Scorer,
    scores: np.ndarray,
    k: int,
    *,
    exclude: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` item rows and scores of one score vector float32[n_items], leaving out the item rows ``exclude``."""
    n_items = len(model.item_map_)
    k = min(k, n_items)
    out_items = np.full((1, k), -1, np.int32)
    out_scores = np.full((1, k), np.nan, np.float32)
    count = np.zeros(1, np.int32)
    seen = np.zeros(0, np.int32) if exclude is None else np.ascontiguousarray(exclude, dtype=np.int32)
    check_finite(model, scores)
    top_k(
        np.ascontiguousarray(scores, dtype=np.float32)[None, :],
        np.zeros(1, np.int32),
        np.array([0, seen.size], np.int64),
        seen,
        exclude is not None,
        np.ones(n_items, bool) if allowed is None else allowed,
        k,
        out_items,
        out_scores,
        count,
    )
    return out_items[0, : count[0]], out_scores[0, : count[0]]


def top_n(
    model: Scorer,
    users: Any,
    k: int = 10,
    *,
    candidates: Sequence[Any] | None = None,
    exclude: Sequence[Any] | None = None,
    exclude_seen: bool = True,
    unknown: str = "error",
) -> pd.DataFrame:
    """Top-``k`` items for known users by original ids: :meth:`Recommender.recommend` without fold-in.

    ``candidates`` is an allow-list, ``exclude`` a deny-list; ``unknown="fallback"``
    answers an unknown user with the most popular items (``source`` "popularity").

    Examples
    --------
    >>> top_n(model, ["alice", "bob"], k=5, exclude=["Titanic"])  # doctest: +SKIP
    """
    return model.recommend(
        users, check_int("k", k, 1), exclude_seen=exclude_seen, items=candidates, exclude_items=exclude, unknown=unknown
    )


#: :func:`rank` is :func:`top_n` (the name LensKit and the service use).
rank = top_n


def ndcg(model: Scorer, test: Interactions, k: int = 10, *, threshold: float = 4.0) -> float:
    """Mean NDCG@k over ``test`` users known to ``model`` with a relevant (>= ``threshold``) test item.

    The protocol of :func:`mfrec.evaluation.score` (seen items excluded; relevant
    items unknown to the model count as misses).
    """
    user_rows_all = model.user_map_.lookup(test.user_ids.ids, missing="negative")
    item_rows = model.item_map_.lookup(test.item_ids.to_ids(test.item_idx), missing="negative")
    relevant = test.ratings >= threshold
    indptr, order = group_rows(test.user_idx[relevant], test.n_users)
    counts = np.diff(indptr)
    evaluable = (counts > 0) & (user_rows_all >= 0)
    users = np.flatnonzero(evaluable)
    if users.size == 0:
        return float("nan")
    rel_indptr = np.concatenate([[0], np.cumsum(counts[users])]).astype(np.int64)
    grouped_users = test.user_idx[relevant][order]
    rel_indices = item_rows[relevant][order][evaluable[grouped_users]].astype(np.int32)
    recs, _, rec_count = top_n_rows(model, user_rows_all[users].astype(np.int32), k)
    per_user = np.zeros((users.size, 5), dtype=np.float64)
    ranking_metrics(recs, rec_count, rel_indptr, rel_indices, k, per_user)
    return float(per_user[:, 2].mean())
