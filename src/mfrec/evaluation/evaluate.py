"""Fit-and-score: rating and ranking metrics of a model on (train, test) splits, baselines alongside.

Ranking protocol (documented in the README):

* candidates: every item the model knows that the user did not rate in train;
* relevant: the user's test items rated >= ``threshold``, by default set by the data
  (:func:`~mfrec.evaluation.relevance.relevance_threshold`; items absent from train
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
from mfrec.evaluation.metrics import mae, mean_popularity, novelty, rmse
from mfrec.evaluation.relevance import relevance_threshold, warn_unknown
from mfrec.kernels.metrics import ranking_metrics
from mfrec.kernels.sparse import group_rows
from mfrec.models.base import Recommender
from mfrec.ranking import top_n_rows

ModelFactory = Callable[[], Recommender]

#: The baselines an evaluation reports next to the model, by CLI name.
BASELINES = ("baseline", "popularity", "global-mean")


def score(
    model: Recommender,
    train: Interactions,
    test: Interactions,
    *,
    k: int = 10,
    threshold: float | None = None,
    max_users: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of a model already fitted on ``train``, measured on ``test``.

    Ranking scores every item for each test user, so on large data ``max_users`` ranks a
    seeded uniform sample of that many of the evaluable users (``users_evaluated`` is the
    sample, ``users_eligible`` how many there were); rating metrics always use every test rating.

    Models that do not predict ratings (``predicts_ratings`` False) get ranking metrics only.
    Besides accuracy, the lists are described: ``coverage@k`` (share of the catalogue in any
    list), ``popularity@k`` (mean training ratings of a recommended item; the catalogue's mean
    is ``catalogue_popularity``) and ``novelty@k`` (mean self-information in bits, see
    :func:`~mfrec.evaluation.metrics.novelty`).
    Rating metrics are also split by who answered: ``warm`` test ratings (user and item both
    seen in train, answered by the model) and ``cold`` ones (answered by the fallback), with
    their counts ``ratings_warm`` / ``ratings_cold`` (NaN metrics when a group is empty).
    """
    # The test's ids in the model's rows (-1: unknown to the model), looked up once per distinct id:
    # at 100M ratings, looking up each of the 20M test pairs' ids cost ~2 GB of temporaries.
    user_rows_all = model.user_map_.lookup(test.user_ids.ids, missing="negative")
    item_rows = model.item_map_.lookup(test.item_ids.ids, missing="negative")[test.item_idx]
    warn_unknown(model, test, user_rows_all, item_rows)
    rule = "given"
    if threshold is None:
        threshold, rule = relevance_threshold(train)
    result: dict[str, Any] = {"threshold": float(threshold), "threshold_rule": rule}
    if model.predicts_ratings:  # an implicit model's scores are preferences: RMSE would be meaningless
        user_rows = user_rows_all[test.user_idx]
        predictions = model.predict_rows(user_rows, item_rows, timestamps=test.timestamps)
        result.update(rmse=rmse(test.ratings, predictions), mae=mae(test.ratings, predictions))
        result.update(_warm_and_cold(test, (user_rows >= 0) & (item_rows >= 0), predictions))
        del user_rows, predictions

    # Relevant items per test user, in the model's rows.
    relevant = test.ratings >= threshold
    indptr, order = group_rows(test.user_idx[relevant], test.n_users)
    counts = np.diff(indptr)
    evaluable = (counts > 0) & (user_rows_all >= 0)
    users = np.flatnonzero(evaluable)
    eligible = int(users.size)
    if max_users is not None and users.size > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
        evaluable = np.zeros_like(evaluable)
        evaluable[users] = True
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
    # What the lists look like, next to the catalogue: ratings per recommended item, and how surprising they are.
    result[f"popularity@{k}"] = mean_popularity(valid, model.item_counts_)
    result[f"novelty@{k}"] = novelty(valid, model.item_counts_, max(1, len(model.user_map_)))
    result["catalogue_popularity"] = float(model.item_counts_.mean()) if len(model.item_counts_) else float("nan")
    result["users_evaluated"] = int(users.size)
    result["users_eligible"] = eligible
    result["users_skipped"] = int(((counts == 0) & (user_rows_all >= 0)).sum())
    result["users_cold"] = int((user_rows_all < 0).sum())
    return result


def _mean(values: list[float]) -> float:
    """The mean over folds, ignoring folds where a metric is undefined (e.g. no cold test ratings)."""
    defined = [v for v in values if not np.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


def _warm_and_cold(test: Interactions, warm: np.ndarray, predictions: np.ndarray) -> dict[str, Any]:
    """RMSE/MAE and counts of the test ratings the model answered (``warm``) and the fallback answered (cold)."""
    out: dict[str, Any] = {}
    for name, rows in (("warm", warm), ("cold", ~warm)):
        out[f"ratings_{name}"] = int(rows.sum())
        empty = not rows.any()
        out[f"rmse_{name}"] = float("nan") if empty else rmse(test.ratings[rows], predictions[rows])
        out[f"mae_{name}"] = float("nan") if empty else mae(test.ratings[rows], predictions[rows])
    return out


def evaluate(
    factory: ModelFactory,
    splits: list[Split],
    *,
    k: int = 10,
    threshold: float | None = None,
    on_fold: Callable[[int, dict[str, Any]], None] | None = None,
    keep_first_model: bool = False,
    max_users: int | None = None,
) -> dict[str, Any]:
    """Fit a fresh model from ``factory`` on each split's train and score it on its test.

    Returns the mean of every metric over folds, their standard deviation under
    ``std``, the per-fold results under ``per_fold`` and the total fit time; with
    ``keep_first_model`` the model fitted on the first split is under ``first_model``;
    ``max_users`` samples the users ranked per split (see :func:`score`).
    """
    per_fold = []
    first_model = None
    for fold, (train, test) in enumerate(splits):
        started = time.perf_counter()
        model = factory().fit(train)  # fit returns the fitted model (ModelChooser: the one it chose)
        fit_seconds = time.perf_counter() - started
        result = score(model, train, test, k=k, threshold=threshold, max_users=max_users, seed=fold)
        result["fit_seconds"] = fit_seconds
        if chosen := (getattr(model, "held_out_", None) or {}).get("chosen"):
            result["chosen"] = chosen  # a ModelChooser's choice on this split
        per_fold.append(result)
        if keep_first_model and first_model is None:
            first_model = model
        if on_fold:
            on_fold(fold, result)
    keys = [key for key, value in per_fold[0].items() if isinstance(value, float)]
    summary: dict[str, Any] = {key: _mean([r[key] for r in per_fold]) for key in keys}
    for key in ("users_evaluated", "users_eligible", "users_skipped", "users_cold", "ratings_warm", "ratings_cold"):
        if key in per_fold[0]:
            summary[key] = int(sum(r[key] for r in per_fold))
    summary["std"] = {key: float(np.std([r[key] for r in per_fold])) for key in keys}
    summary["folds"] = len(per_fold)
    if any("chosen" in r for r in per_fold):
        summary["chosen"] = [r.get("chosen") for r in per_fold]
    summary["threshold"], summary["threshold_rule"] = per_fold[0]["threshold"], per_fold[0]["threshold_rule"]
    summary["per_fold"] = per_fold
    if keep_first_model:
        summary["first_model"] = first_model
    return summary
