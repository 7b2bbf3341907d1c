"""Metrics, protocols and the fit-and-score loop."""

from mfrec.evaluation.evaluate import BASELINES, evaluate, score
from mfrec.evaluation.metrics import (
    average_precision_at_k,
    catalogue_coverage,
    hit_rate_at_k,
    mae,
    mean_popularity,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
    rmse,
)
from mfrec.evaluation.protocols import PROTOCOLS, make_splits
from mfrec.evaluation.relevance import refuse_no_users, relevance_threshold
from mfrec.evaluation.selection import (
    SEARCH_SPACES,
    SearchResult,
    clone,
    cross_validate,
    grid_search,
    random_search,
)

__all__ = [
    "evaluate",
    "relevance_threshold",
    "refuse_no_users",
    "score",
    "make_splits",
    "cross_validate",
    "grid_search",
    "random_search",
    "clone",
    "SearchResult",
    "SEARCH_SPACES",
    "PROTOCOLS",
    "BASELINES",
    "rmse",
    "mae",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "average_precision_at_k",
    "hit_rate_at_k",
    "catalogue_coverage",
    "mean_popularity",
    "novelty",
]
