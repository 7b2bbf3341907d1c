"""Distributed tuning: each candidate of a search is one Spark task, fitted with one thread."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mfrec.data.split import Split
from mfrec.evaluation.selection import LOWER_IS_BETTER, SearchResult, sample_candidates, score_candidate
from mfrec.exceptions import ParameterError
from mfrec.models import MODELS


def tune(
    spark: Any,
    name: str,
    splits: Sequence[Split],
    *,
    candidates: Sequence[dict[str, Any]] | None = None,
    n_candidates: int = 8,
    metric: str = "rmse",
    k: int = 10,
    threshold: float = 4.0,
    seed: int = 0,
) -> SearchResult:
    """Score ``candidates`` (default: the model's defaults and ``n_candidates - 1`` random draws from
    its search space, as ``mfrec tune`` samples them) on ``splits``, one Spark task per candidate.

    The splits are broadcast once; each task cross-validates one candidate with
    ``n_threads=1``, so a cluster with C cores scores C candidates at a time.
    Returns the same :class:`~mfrec.evaluation.selection.SearchResult` as ``mfrec tune``.

    Examples
    --------
    >>> result = tune(spark, "als", list(kfold(data, 3)), n_candidates=16)  # doctest: +SKIP
    >>> result.best_params  # doctest: +SKIP
    """
    if name not in MODELS:
        raise ParameterError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    if metric in LOWER_IS_BETTER and not MODELS[name].predicts_ratings:
        raise ParameterError(f"{name} scores preferences, not ratings, so {metric} does not apply; use ndcg@{k}")
    todo = list(candidates) if candidates is not None else sample_candidates(name, n_candidates, seed=seed)
    if not todo:
        raise ParameterError("no candidates to score")
    single = "n_threads" in MODELS[name]().get_params()
    shared = spark.sparkContext.broadcast(list(splits))

    def run(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], float]:
        scores, seconds = score_candidate(
            name, {**params, "n_threads": 1} if single else params, shared.value, k=k, threshold=threshold
        )
        return params, scores, seconds

    result = SearchResult(metric)
    for params, scores, seconds in spark.sparkContext.parallelize(todo, len(todo)).map(run).collect():
        if metric not in scores:
            raise ParameterError(f"unknown metric {metric!r}; choose one of {sorted(k for k in scores if k != 'std')}")
        result.add(params, scores, seconds)
    return result
