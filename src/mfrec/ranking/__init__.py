"""Top-N ranking: every list mfrec hands out is made here, for known users, folded-in users and all users at once.

``recommend`` and fold-in (through the model's methods), ``recommend --all`` and Spark (:mod:`.batch`),
evaluation, the report's diagnostics and the HTTP service all reach top-N through this package:

* :mod:`.topn`: the scores lists are ordered by, candidate selection, the finite check, top-N by
  internal rows (:func:`top_n_rows`) or of one score vector (:func:`top_of_scores`), :func:`top_n` by
  original ids, and :func:`ndcg`, the per-epoch ranking metric;
* :mod:`.pick`: the "will pick" x "will like" ranker of rating models (``rank_by="pick-like"``);
* :mod:`.tiles`: the fast path of :func:`top_n_rows` for factor models (item tiles, per-user heaps);
* :mod:`.batch`: top-N for every user, a block at a time, streamed to Parquet;
* :mod:`.scorer`: the :class:`Scorer` protocol, what ranking reads of a model.

The package sits below :mod:`mfrec.models` (models call it; it never imports them) and above
:mod:`mfrec.data` and :mod:`mfrec.kernels`; docs/ARCHITECTURE.md says why.
"""

from mfrec.ranking.batch import recommend_all, recommendation_batches, write_recommendations
from mfrec.ranking.pick import PICK_LIKE_NOTE, RANK_BY, uses_ranker
from mfrec.ranking.scorer import Scorer
from mfrec.ranking.topn import (
    candidate_mask,
    check_finite,
    ndcg,
    rank,
    rank_scores,
    rank_scores_folded,
    sampled_top_items,
    score_folded,
    top_n,
    top_n_rows,
    top_of_scores,
)

__all__ = [
    "PICK_LIKE_NOTE",
    "RANK_BY",
    "Scorer",
    "candidate_mask",
    "check_finite",
    "ndcg",
    "rank",
    "rank_scores",
    "rank_scores_folded",
    "recommend_all",
    "recommendation_batches",
    "sampled_top_items",
    "score_folded",
    "top_n",
    "top_n_rows",
    "top_of_scores",
    "uses_ranker",
    "write_recommendations",
]
