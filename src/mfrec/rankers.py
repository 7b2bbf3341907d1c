"""How a rating model's top-N lists are ordered: "will pick" x "will like" (``rank_by="pick-like"``).

A model fitted to observed ratings only is never told *which* items a user would
choose, and rarely-rated items with extreme ratings get extreme predictions, so
ranking by predicted rating alone fills every list with obscure items (on ML-100k
folds its NDCG@10 is below a most-popular chart). The ranker composed here around
any rating model's scorer orders candidates by

.. math:: s_{ui} = \\big(\\max(0,\\ x_u \\cdot y_i) + \\epsilon\\big) \\times
          \\operatorname{clip}\\big((\\hat r_{ui} - r_{min}) / (r_{max} - r_{min}),\\ 0,\\ 1\\big)

where :math:`x_u \\cdot y_i` is the preference of a small implicit model (weighted ALS,
Hu, Koren & Volinsky 2008, :class:`~mfrec.models.ImplicitALS`, 32 factors)
fitted during ``fit`` on the *same* log, every rating read as "the user picked this
item", and :math:`\\hat r_{ui}` is the model's own predicted rating: the list shows
items the user is likely to pick, ordered within them by how much the model says
they will like them. ``predict`` and RMSE are untouched (the rating model is not
refitted), and a folded-in user gets the implicit part from the same revealed items
(one weighted least-squares solve), so fold-in, the service and the cold-start
protocol rank the same way. ``rank_by="rating"`` restores ranking by predicted rating.

Chosen by measuring the alternatives on ML-100k folds u1-u5 (``benchmarks/bench_ranking.py
--candidates``): a lower confidence bound on the rating, a minimum-support filter and
popularity x rating stayed below a most-popular chart (NDCG@10 0.198) or barely above it
(0.204-0.228) for every model; "pick" alone (0.383) was below "pick x like" (0.397-0.415)
for every model.

Examples
--------
>>> from mfrec.data import synthetic
>>> from mfrec.models import Biases
>>> model = Biases().fit(synthetic(60, 40, 1_000, seed=0))
>>> model.rank_by, model.pick_item_factors_.shape
('pick-like', (40, 32))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mfrec._validation import check_choice

if TYPE_CHECKING:
    from mfrec.models.base import Recommender

#: The ways a rating model can order its lists: by the pick x like score (default) or by predicted rating.
RANK_BY = ("pick-like", "rating")
#: The implicit "will pick" model: weighted ALS (ImplicitALS's regularization and alpha, binary confidence),
#: smaller than implicit-als's defaults: on ML-100k folds (sgd) 32 factors x 10 epochs rank at NDCG@10 0.412
#: against 0.415 for 64 x 15, in under half the fit time (16 x 10: 0.403; 32 x 6: 0.404).
PICK_FACTORS = 32
PICK_EPOCHS = 10
PICK_REGULARIZATION = 30.0
PICK_ALPHA = 2.0
#: ImplicitALS's defaults for the rest: "cg" (its choice at 32 factors) with 3 steps, init N(0, 0.01^2), seed 0.
PICK_CG_STEPS = 3
PICK_INIT_STD = 0.01
#: Keeps the rating order among items whose pick score is zero (brand-new items, users with no history).
EPSILON = 1e-4
PICK_ARRAYS = ("pick_user_factors_", "pick_item_factors_")
#: What a reader of a pick x like list needs told: it is not sorted by the number beside each item.
PICK_LIKE_NOTE = (
    "ranked by how likely they are to pick it x how much they would like it; the number beside it is the rating "
    "they would give"
)


def uses_ranker(model: Recommender) -> bool:
    """Whether ``model`` orders its lists by pick x like: a rating model with ``rank_by="pick-like"``, fitted."""
    return (
        getattr(model, "rank_by", "rating") == "pick-like"
        and model.predicts_ratings
        and getattr(model, "pick_item_factors_", None) is not None
    )


def check_rank_by(value: Any) -> str:
    """``value`` if it names a ranking method (:data:`RANK_BY`), else a :class:`ParameterError`."""
    return check_choice("rank_by", value, RANK_BY)


def fit_ranker(model: Recommender) -> None:
    """Fit the "will pick" part on the model's seen ratings (every rating a pick); no-op for ``rank_by="rating"``.

    Called by :meth:`Recommender.fit` before the rating model is fitted, so per-epoch ranking
    metrics (``track_ndcg``) already measure the lists users will get.
    """
    for name in PICK_ARRAYS:
        model.__dict__.pop(name, None)
    rank_by = getattr(model, "rank_by", "rating")
    if check_rank_by(rank_by) != "pick-like" or not model.predicts_ratings:
        return
    from mfrec._threads import num_threads, resolve_threads
    from mfrec.kernels.rows import unpadded
    from mfrec.models.implicit import WeightedALS, constant_weights, transpose_pattern
    from mfrec.models.iterative import init_factors

    # Straight from the seen-item CSR the model keeps: no (user, item) copies, no id maps, one shared
    # weight; only the item-side pattern (4 bytes a rating) is new, and it is freed on return,
    # before the rating model builds its own layout (at 100M ratings the old route peaked at 7 GB).
    indptr, indices = model.seen_indptr_, model.seen_indices_
    n_users, n_items = len(model.user_map_), len(model.item_map_)
    weights = constant_weights(PICK_ALPHA, indices.shape[0])
    by_item = (*transpose_pattern(indptr, indices, n_items), weights)
    rng = np.random.default_rng(0)
    X = init_factors(rng, PICK_INIT_STD, n_users, PICK_FACTORS, aligned=True)  # rows on cache lines for CG
    Y = init_factors(rng, PICK_INIT_STD, n_items, PICK_FACTORS, aligned=True)
    n_threads = getattr(model, "n_threads", None)
    sweep = WeightedALS(
        (indptr, indices, weights), by_item, PICK_REGULARIZATION, "cg", PICK_CG_STEPS, resolve_threads(n_threads)
    )
    with num_threads(n_threads):
        for _ in range(PICK_EPOCHS):
            sweep.epoch(X, Y, loss=False)
    # Users and items never picked have no pick preference (zero, so epsilon x like orders them).
    X[np.diff(indptr) == 0] = 0.0
    Y[np.diff(by_item[0]) == 0] = 0.0
    model.pick_user_factors_ = unpadded(X, PICK_FACTORS)
    model.pick_item_factors_ = unpadded(Y, PICK_FACTORS)


def solve_pick(model: Recommender, item_rows: np.ndarray) -> np.ndarray:
    """The "will pick" vector of a user who picked ``item_rows``: one weighted least-squares solve, items fixed.

    The user step of weighted ALS: (Y'Y + alpha sum_i y_i y_i' + lambda I) x = (1 + alpha) sum_i y_i.
    """
    Y = model.pick_item_factors_.astype(np.float64)
    picked = Y[np.unique(np.asarray(item_rows, dtype=np.int64))]
    A = Y.T @ Y + PICK_ALPHA * (picked.T @ picked) + PICK_REGULARIZATION * np.eye(Y.shape[1])
    return np.linalg.solve(A, (1.0 + PICK_ALPHA) * picked.sum(axis=0)).astype(np.float32)


def refresh_users(model: Recommender, user_rows: np.ndarray) -> None:
    """Re-solve the pick vectors of ``user_rows`` from their seen items (after ``partial_fit`` added ratings)."""
    if not uses_ranker(model):
        return
    n_users = len(model.user_map_)
    X = model.pick_user_factors_
    if X.shape[0] < n_users:
        X = np.vstack([X, np.zeros((n_users - X.shape[0], X.shape[1]), np.float32)])
    for row in np.unique(np.asarray(user_rows, dtype=np.int64)):
        seen = model.seen_indices_[model.seen_indptr_[row] : model.seen_indptr_[row + 1]]
        X[row] = solve_pick(model, seen) if seen.size else 0.0
    model.pick_user_factors_ = X


def extend(model: Recommender, extra_users: int, extra_items: int) -> None:
    """Zero pick rows for users and items appended by ``add_items`` / ``partial_fit`` (never picked until seen)."""
    if getattr(model, "pick_item_factors_", None) is None:
        return
    k = model.pick_item_factors_.shape[1]
    model.pick_user_factors_ = np.vstack([model.pick_user_factors_, np.zeros((extra_users, k), np.float32)])
    model.pick_item_factors_ = np.vstack([model.pick_item_factors_, np.zeros((extra_items, k), np.float32)])


def combine(model: Recommender, pick: np.ndarray, ratings: np.ndarray) -> np.ndarray:
    """(max(0, pick) + epsilon) x like, like = the predicted rating scaled to [0, 1] on the rating scale."""
    low, high = model.rating_scale_
    like = (ratings - np.float32(low)) / np.float32(high - low) if high > low else np.ones_like(ratings)
    np.clip(like, 0.0, 1.0, out=like)
    np.maximum(pick, 0.0, out=pick)
    pick += np.float32(EPSILON)
    return (pick * like).astype(np.float32, copy=False)


def rank_user_rows(model: Recommender, user_rows: np.ndarray, ratings: np.ndarray) -> np.ndarray:
    """Ranking scores float32[users, items] of known users from their predicted ratings ``ratings``."""
    if not uses_ranker(model):
        return ratings
    pick = model.pick_user_factors_[user_rows] @ model.pick_item_factors_.T
    return combine(model, pick.astype(np.float32, copy=False), np.asarray(ratings, dtype=np.float32))


def rank_folded(model: Recommender, item_rows: np.ndarray, ratings: np.ndarray) -> np.ndarray:
    """Ranking scores float32[items] of a folded-in user who revealed ``item_rows``, from predicted ``ratings``.

    A user placed by attributes alone (no revealed item) gets the mean pick vector of the trained users.
    """
    if not uses_ranker(model):
        return ratings
    # With no revealed item (attributes alone) the average user's picks stand in: popular items that fit.
    user = solve_pick(model, item_rows) if np.asarray(item_rows).size else model.pick_user_factors_.mean(axis=0)
    pick = model.pick_item_factors_ @ user
    return combine(model, pick.astype(np.float32, copy=False), np.asarray(ratings, dtype=np.float32))
