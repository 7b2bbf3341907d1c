"""Fit-and-score: rating and ranking metrics of a model on (train, test) splits, baselines alongside.

Ranking protocol (documented in the README):

* candidates: every item the model knows that the user did not rate in train;
* relevant: the user's test items rated >= ``threshold`` (items absent from train
  stay relevant and count as misses: the model could not have found them);
* users with no relevant test item, and test users absent from train, are
  skipped and counted (``users_skipped``, ``users_cold``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from mfrec.data.interactions import Interactions
from mfrec.data.split import Split
from mfrec.evaluation.metrics import mae, rmse
from mfrec.kernels.ranking import ranking_metrics
from mfrec.kernels.sparse import group_rows
from mfrec.models.base import Recommender
from mfrec.ranking import top_n_rows

ModelFactory = Callable[[], Recommender]

#: The baselines an evaluation reports next to the model, by CLI name.
BASELINES = ("baseline", "popularity", "global-mean")


def score(model: Recommender, train: Interactions, test: Interactions, *, k: int = 10, threshold: float = 4.0) -> dict[str, Any]:
    """Metrics of a model already fitted on ``train``, measured on ``test``.

    Models that do not predict ratings (``predicts_ratings`` False) get ranking metrics only.
    """
    test_users = test.user_ids.to_ids(test.user_idx)
    test_items = test.item_ids.to_ids(test.item_idx)
    result: dict[str, Any] = {}
    if model.predicts_ratings:  # an implicit model's scores are preferences: RMSE would be meaningless
        predictions = model.predict(test_users, test_items)
        result.update(rmse=rmse(test.ratings, predictions), mae=mae(test.ratings, predictions))

    # Relevant items per test user, in the model's rows (-1: unknown to the model).
    user_rows_all = model.user_map_.lookup(test.user_ids.ids, missing="negative")
    item_rows = model.item_map_.lookup(test_items, missing="negative")
    relevant = test.ratings >= threshold
    indptr, order = group_rows(test.user_idx[relevant], test.n_users)
    counts = np.diff(indptr)
    evaluable = (counts > 0) & (user_rows_all >= 0)
    users = np.flatnonzero(evaluable)
    rel_counts = counts[users]
    rel_indptr = np.concatenate([[0], np.cumsum(rel_counts)]).astype(np.int64)
    # order groups the relevant rows by test user; keep the groups of evaluable users.
    grouped_users = test.user_idx[relevant][order]
    rel_indices = item_rows[relevant][order][evaluable[grouped_users]].astype(np.int32)

    recs, _, rec_count = top_n_rows(model, user_rows_all[users].astype(np.int32), k, exclude_seen=True)
    per_user = np.zeros((users.size, 5), dtype=np.float64)
    if users.size:
        ranking_metrics(recs, rec_count, rel_indptr, rel_indices, k, per_user)
    means = per_user.mean(axis=0) if users.size else np.full(5, np.nan)
    for j, name in enumerate(("precision", "recall", "ndcg", "map", "hit_rate")):
        result[f"{name}@{k}"] = float(means[j])
    valid = recs[np.arange(recs.shape[1])[None, :] < rec_count[:, None]]
    result[f"coverage@{k}"] = float(np.unique(valid).size / max(1, len(model.item_map_)))
    result["users_evaluated"] = int(users.size)
    result["users_skipped"] = int(((counts == 0) & (user_rows_all >= 0)).sum())
    result["users_cold"] = int((user_rows_all < 0).sum())
    return result


def evaluate(
    factory: ModelFactory,
    splits: list[Split],
    *,
    k: int = 10,
    threshold: float = 4.0,
    on_fold: Callable[[int, dict[str, Any]], None] | None = None,
    keep_first_model: bool = False,
) -> dict[str, Any]:
    """Fit a fresh model from ``factory`` on each split's train and score it on its test.

    Returns the mean of every metric over folds, their standard deviation under
    ``std``, the per-fold results under ``per_fold`` and the total fit time; with
    ``keep_first_model`` the model fitted on the first split is under ``first_model``.
    """
    per_fold = []
    first_model = None
    for fold, (train, test) in enumerate(splits):
        model = factory()
        started = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - started
        result = score(model, train, test, k=k, threshold=threshold)
        result["fit_seconds"] = fit_seconds
        per_fold.append(result)
        if keep_first_model and first_model is None:
            first_model = model
        if on_fold:
            on_fold(fold, result)
    keys = [key for key, value in per_fold[0].items() if isinstance(value, float)]
    summary: dict[str, Any] = {key: float(np.mean([r[key] for r in per_fold])) for key in keys}
    for key in ("users_evaluated", "users_skipped", "users_cold"):
        summary[key] = int(sum(r[key] for r in per_fold))
    summary["std"] = {key: float(np.std([r[key] for r in per_fold])) for key in keys}
    summary["folds"] = len(per_fold)
    summary["per_fold"] = per_fold
    if keep_first_model:
        summary["first_model"] = first_model
    return summary
