"""The "will pick" part of a rating model: fitted during ``fit``, kept current by ``partial_fit`` and ``add_items``.

The ranker itself (its settings, how it combines "will pick" with "will like", the folded-in
user's solve) is :mod:`mfrec.ranking.pick`; this module fits and updates the arrays it reads,
``pick_user_factors_`` and ``pick_item_factors_`` (saved with the model).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from mfrec._threads import num_threads, resolve_threads
from mfrec.kernels.rows import unpadded
from mfrec.models.solvers import WeightedALS, constant_weights, init_factors, transpose_pattern
from mfrec.ranking.pick import (
    EPSILON,
    PICK_ALPHA,
    PICK_ARRAYS,
    PICK_CG_STEPS,
    PICK_EPOCHS,
    PICK_FACTORS,
    PICK_INIT_STD,
    PICK_REGULARIZATION,
    PICK_REGULARIZATIONS,
    PICK_SELECT_CHART_SE,
    PICK_SELECT_EPOCHS,
    PICK_SELECT_MAX_RATINGS,
    PICK_SELECT_MIN_PICKS,
    PICK_SELECT_PLAIN_SE,
    PICK_SELECT_RANDOM_SHARE,
    PICK_SELECT_TIE,
    PICK_SELECT_USERS,
    check_rank_by,
    solve_pick,
    uses_ranker,
)

if TYPE_CHECKING:
    from mfrec.data.interactions import Interactions
    from mfrec.models.base import Recommender


def fit_ranker(model: Recommender, seen: Interactions | None = None) -> None:
    """Fit the "will pick" part on the model's seen ratings (every rating a pick); no-op for ``rank_by="rating"``.

    Called by :meth:`Recommender.fit` before the rating model is fitted, so per-epoch ranking
    metrics (``track_ndcg``) already measure the lists users will get. ``seen``: what ``fit`` was given; with
    timestamps, the regularization is chosen on each user's latest pick.
    """
    for name in (*PICK_ARRAYS, "pick_like_"):
        model.__dict__.pop(name, None)
    rank_by = getattr(model, "rank_by", "rating")
    if check_rank_by(rank_by) != "pick-like" or not model.predicts_ratings:
        return
    # Straight from the seen-item CSR the model keeps: no (user, item) copies, no id maps, one shared
    # weight; only the item-side pattern (4 bytes a rating) is new, and it is freed on return,
    # before the rating model builds its own layout (at 100M ratings the old route peaked at 7 GB).
    indptr, indices = model.seen_indptr_, model.seen_indices_
    n_items = len(model.item_map_)
    n_threads = getattr(model, "n_threads", None)
    with num_threads(n_threads):
        low, high = model.rating_scale_
        liked = model.seen_ratings_ >= round(low + 0.75 * (high - low))  # 4 on 1-5, 3 on 0.5-4, 8 on 1-10
        regularization, with_like = choose_regularization(
            indptr,
            indices,
            n_items,
            n_threads,
            liked,
            _seen_times(model, seen),
            model.seen_ratings_,
            model.rating_scale_,
        )
        model.pick_regularization_ = regularization
        model.pick_like_ = with_like
        if regularization is None:  # popularity beat every pick model on the held-out picks: rank by it
            counts = np.bincount(indices, minlength=n_items).astype(np.float32)
            model.pick_user_factors_ = (np.diff(indptr) > 0).astype(np.float32)[:, None]
            # Squared, so that the chart dominates the "will like" factor it is multiplied by.
            model.pick_item_factors_ = np.square(counts / max(1.0, float(counts.max())))[:, None]
            return
        X, Y = _fit_picks(indptr, indices, n_items, regularization, PICK_EPOCHS, n_threads)
    model.pick_user_factors_ = unpadded(X, PICK_FACTORS)
    model.pick_item_factors_ = unpadded(Y, PICK_FACTORS)


def _seen_times(model: Recommender, seen: Interactions | None) -> np.ndarray | None:
    """The timestamps of ``model.seen_indices_`` (in its order), from ``seen``; None without them.

    The seen CSR keeps each user's ratings in input order, which a stable sort by user row reproduces.
    Only the "will pick" selection reads them, so only a pick-ranking fit pays their 16 bytes a rating.
    """
    if seen is None or seen.timestamps is None:
        return None
    users, items = model._validation_rows(seen)  # the rows _remember built the seen CSR from
    known = (users >= 0) & (items >= 0)
    return seen.timestamps[known][np.argsort(users[known], kind="stable")]


def _fit_picks(
    indptr: np.ndarray, indices: np.ndarray, n_items: int, regularization: float, epochs: int, n_threads: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted ALS on the pattern (every cell a pick): padded X, Y, zero for users and items never picked."""
    n_users = indptr.shape[0] - 1
    weights = constant_weights(PICK_ALPHA, indices.shape[0])
    by_item = (*transpose_pattern(indptr, indices, n_items), weights)
    rng = np.random.default_rng(0)
    X = init_factors(rng, PICK_INIT_STD, n_users, PICK_FACTORS, aligned=True)  # rows on cache lines for CG
    Y = init_factors(rng, PICK_INIT_STD, n_items, PICK_FACTORS, aligned=True)
    sweep = WeightedALS(
        (indptr, indices, weights), by_item, regularization, "cg", PICK_CG_STEPS, resolve_threads(n_threads)
    )
    for _ in range(epochs):
        sweep.epoch(X, Y, loss=False)
    # Users and items never picked have no pick preference (zero, so epsilon x like orders them).
    X[np.diff(indptr) == 0] = 0.0
    Y[np.diff(by_item[0]) == 0] = 0.0
    return X, Y


def choose_regularization(
    indptr: np.ndarray,
    indices: np.ndarray,
    n_items: int,
    n_threads: int | None,
    liked: np.ndarray,
    times: np.ndarray | None,
    ratings: np.ndarray,
    scale: tuple[float, float],
) -> tuple[float | None, bool]:
    """(The "will pick" regularization that ranks a held-out pick of each user best, or None for popularity;
    whether lists multiply it by "will like").

    One liked pick of up to :data:`PICK_SELECT_USERS` users with at least :data:`PICK_SELECT_MIN_PICKS` is
    held out (liked: ``liked[j]`` of the pick, the rating at or above the scale's liked level, which is what the
    lists are judged by): a seeded random one, or, when ``times`` (of each pick) are given, for a random
    :data:`PICK_SELECT_RANDOM_SHARE` of the users the latest, since lists are asked both for what comes next
    (time-split logs) and for what is missing (random folds). The latest alone chose 10-14 on ML-100k's random
    folds u1-u5, where 20 ranks better (sgd 0.4094 at 14, 0.4142 at 20), and the half-and-half choice (20, 20, 20,
    14, 14) costs one time-split log of the zoo 0.005 (ML-100k long tail: 20 instead of 14); each of
    :data:`PICK_REGULARIZATIONS` is fitted on the rest (:data:`PICK_SELECT_EPOCHS` epochs) and scored by NDCG@10 of
    the held-out picks, against a most-picked chart. A fixed constant
    (30, chosen on ML-100k) collapsed or lost to popularity on sparse logs whose picks follow popularity.

    Every candidate is scored the way lists are ranked, "will pick" x "will like" (``ratings`` of each pick, on
    ``scale``, give the like part: a damped bias model's prediction): scored alone, the pick models lost to the
    chart on jester (100 jokes, 74% rated), where the lists they rank with "will like" beat it by 0.05 NDCG@10.
    The chart is then chosen unless the best pick model beats it by :data:`PICK_SELECT_CHART_SE` standard errors
    of the paired per-user difference: a tie means the picks follow popularity, and the chart's list is the one
    that cannot lose to it (a 0.04%-dense synthetic log: 0.1380 with the pick model, 0.1387 with the chart,
    popularity's own 0.1386).

    The chart itself comes in two forms: squared and multiplied by "will like" (synth-dense of the zoo: NDCG@10
    0.295 against popularity's 0.285), or alone, popularity's own list, which replaces the first only when it
    beats it by :data:`PICK_SELECT_PLAIN_SE` standard errors; the pick models must beat both forms by
    :data:`PICK_SELECT_CHART_SE`. "chart x like" tied popularity to the fifth decimal on two zoo logs and fell
    below it there (ml-100k keeping 10%, 0.02141 vs 0.02142; synth-mnar), where the plain chart led it on the
    held-out picks by 2.3 and 1.9 standard errors: keep10 gets the plain chart, synth-mnar keeps "chart x like".
    """
    rng = np.random.default_rng(0)
    if indices.shape[0] > PICK_SELECT_MAX_RATINGS:  # a seeded sample of whole users: the memory stays bounded
        indptr, indices, liked, times, ratings = _user_sample(
            indptr, indices, liked, times, ratings, PICK_SELECT_MAX_RATINGS, rng
        )
    counts = np.diff(indptr)
    # Held out: one liked pick (rating >= the scale's liked level; any pick without ratings) of each scored user.
    n_liked = np.add.reduceat(liked.astype(np.int64), indptr[:-1]) * (counts > 0) if indices.size else counts
    eligible = np.flatnonzero((counts >= PICK_SELECT_MIN_PICKS) & (n_liked > 0))
    if eligible.size < 50:
        return PICK_REGULARIZATION, True
    users = eligible if eligible.size <= PICK_SELECT_USERS else np.sort(rng.choice(eligible, PICK_SELECT_USERS, False))
    positions = np.array(
        [indptr[u] + _held_pick(liked[indptr[u] : indptr[u + 1]], times, indptr[u], rng) for u in users]
    )
    target = indices[positions]
    train_indices = np.delete(indices, positions)
    lost = np.zeros(counts.shape[0], np.int64)
    lost[users] = 1
    train_indptr = np.concatenate([[0], np.cumsum(counts - lost)]).astype(np.int64)
    item_counts = np.bincount(train_indices, minlength=n_items).astype(np.float32)
    mu, user_bias, item_bias = _like_proxy(train_indptr, train_indices, np.delete(ratings, positions), n_items)
    block = max(1, (1 << 22) // max(1, n_items))  # users scored at a time: 16 MB of scores

    def score(user_scores: Callable[[np.ndarray], np.ndarray], with_like: bool = True) -> np.ndarray:
        gains = []
        for first in range(0, users.size, block):
            rows = users[first : first + block]
            scores = user_scores(rows)
            # (max(0, pick) + epsilon) x like, as mfrec.ranking.pick.combine ranks; in place
            np.maximum(scores, 0.0, out=scores)
            scores += np.float32(EPSILON)
            if with_like:
                liking = item_bias[None, :] + (np.float32(mu - scale[0]) + user_bias[rows, None])
                liking /= np.float32(max(scale[1] - scale[0], 1e-9))
                np.clip(liking, 0.0, 1.0, out=liking)
                scores *= liking
            for row, user in enumerate(rows):  # a user's training picks are not candidates
                scores[row, train_indices[train_indptr[user] : train_indptr[user + 1]]] = -np.inf
            hit = scores[np.arange(rows.size), target[first : first + block]]
            rank = (scores > hit[:, None]).sum(axis=1)
            gains.append(np.where(rank < 10, 1.0 / np.log2(rank + 2.0), 0.0))
        return np.concatenate(gains)  # each held-out user's NDCG@10

    chart = np.square(item_counts / max(1.0, float(item_counts.max())))  # what fit_ranker ranks by for None
    charted = score(lambda rows: np.broadcast_to(chart, (rows.size, n_items)).copy())
    plain = score(lambda rows: np.broadcast_to(chart, (rows.size, n_items)).copy(), with_like=False)
    gains = {}
    for regularization in PICK_REGULARIZATIONS:
        X, Y = _fit_picks(train_indptr, train_indices, n_items, regularization, PICK_SELECT_EPOCHS, n_threads)
        gains[regularization] = score(lambda rows, X=X, Y=Y: X[rows] @ Y.T)
    # The best list (the smoothest of those within PICK_SELECT_TIE of it), unless it does not beat both charts by
    # PICK_SELECT_CHART_SE standard errors.
    top = max(float(gain.mean()) for gain in gains.values())
    best = max(regularization for regularization, gain in gains.items() if gain.mean() >= top / PICK_SELECT_TIE)
    leader = gains[max(gains, key=lambda regularization: float(gains[regularization].mean()))]
    if _leads(leader, charted) and _leads(leader, plain):
        return best, True
    return None, not _leads(plain, charted, PICK_SELECT_PLAIN_SE)


def _leads(gains: np.ndarray, reference: np.ndarray, margin: float = PICK_SELECT_CHART_SE) -> bool:
    """Whether per-user ``gains`` beat ``reference``'s (the same users) by ``margin`` standard errors of the paired
    difference."""
    lead = gains - reference
    standard_error = float(lead.std(ddof=1)) / np.sqrt(lead.size)
    return bool(float(lead.mean()) > margin * standard_error)


def _like_proxy(
    indptr: np.ndarray, indices: np.ndarray, ratings: np.ndarray, n_items: int
) -> tuple[float, np.ndarray, np.ndarray]:
    """(mu, user biases, item biases): the bias baseline's damped means (3 and 5 pseudo-ratings), one pass each.

    float32 temporaries and per-user segment sums (no per-rating user index): about 16 bytes a rating at the peak.
    """
    counts = np.diff(indptr)
    mu = float(ratings.mean(dtype=np.float64)) if ratings.size else 0.0
    residual = ratings.astype(np.float32) - np.float32(mu)
    item_bias = (np.bincount(indices, residual, n_items) / (np.bincount(indices, minlength=n_items) + 3.0)).astype(
        np.float32
    )
    residual -= item_bias[indices]
    sums = np.add.reduceat(residual, indptr[:-1]) if residual.size else np.zeros(counts.shape[0], np.float32)
    user_bias = np.where(counts > 0, sums, 0.0) / (counts + 5.0)  # reduceat repeats the next row's value for empty rows
    return mu, user_bias.astype(np.float32), item_bias


def _held_pick(liked: np.ndarray, times: np.ndarray | None, start: int, rng: np.random.Generator) -> int:
    """Position in its row of the pick a user holds out: a random liked one, or (with times, every other user on
    average) the latest liked one (the last of equal times)."""
    candidates = np.flatnonzero(liked)
    if times is None or rng.random() < PICK_SELECT_RANDOM_SHARE:
        return int(rng.choice(candidates))
    when = times[start + candidates]
    return int(candidates[np.flatnonzero(when == when.max())[-1]])


def _user_sample(
    indptr: np.ndarray,
    indices: np.ndarray,
    liked: np.ndarray,
    times: np.ndarray | None,
    ratings: np.ndarray,
    limit: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """The CSR (with liked flags, times, ratings) of a seeded random set of whole users holding at most ``limit``."""
    counts = np.diff(indptr)
    order = rng.permutation(counts.shape[0])
    chosen = np.sort(order[: max(1, int(np.searchsorted(np.cumsum(counts[order]), limit, side="right")))])
    sub_indptr = np.concatenate([[0], np.cumsum(counts[chosen])]).astype(np.int64)
    rows = [slice(indptr[u], indptr[u + 1]) for u in chosen]
    sub_times = None if times is None else np.concatenate([times[r] for r in rows])
    sub_ratings = np.concatenate([ratings[r] for r in rows])
    sub_indices, sub_liked = np.concatenate([indices[r] for r in rows]), np.concatenate([liked[r] for r in rows])
    return sub_indptr, sub_indices, sub_liked, sub_times, sub_ratings


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
