"""The "will pick" part of a rating model: fitted during ``fit``, kept current by ``partial_fit`` and ``add_items``.

The ranker itself (its settings, how it combines "will pick" with "will like", the folded-in
user's solve) is :mod:`mfrec.ranking.pick`; this module fits and updates the arrays it reads,
``pick_user_factors_`` and ``pick_item_factors_`` (saved with the model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mfrec._threads import num_threads, resolve_threads
from mfrec.kernels.rows import unpadded
from mfrec.models.solvers import WeightedALS, constant_weights, init_factors, transpose_pattern
from mfrec.ranking.pick import (
    PICK_ALPHA,
    PICK_ARRAYS,
    PICK_CG_STEPS,
    PICK_EPOCHS,
    PICK_FACTORS,
    PICK_INIT_STD,
    PICK_REGULARIZATION,
    check_rank_by,
    solve_pick,
    uses_ranker,
)

if TYPE_CHECKING:
    from mfrec.models.base import Recommender


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
