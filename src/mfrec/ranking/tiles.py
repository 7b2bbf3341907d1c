"""Top-N of factor models by tiles: the fast path of :func:`mfrec.ranking.top_n_rows`.

For a model whose scores are the base ``mu + b_u + b_i + p_u . q_i`` (every model but one with its own
scorer), :func:`top_n_tiled` scores blocks of users against tiles of items: one BLAS GEMM per tile
and one numba pass (:mod:`mfrec.kernels.topk`) that finishes the scores, leaves out seen and
disallowed items, counts non-finite scores and merges the tile into per-user heaps. The lists and
scores are those of the full-matrix path (``rank_scores`` then ``top_k``), which
:func:`mfrec.ranking.top_n_rows` keeps for other scorers.

Examples
--------
>>> from mfrec.data import synthetic
>>> from mfrec.models import make_model
>>> model = make_model("sgd", n_factors=4, n_epochs=1).fit(synthetic(50, 40, 800, seed=0))
>>> factor_scorer(model), factor_scorer(make_model("popularity").fit(synthetic(50, 40, 800, seed=0)))
(True, False)
"""

from __future__ import annotations

import numpy as np

from mfrec.exceptions import TrainingError
from mfrec.kernels.topk import drain_heaps, merge_pick_tile, merge_tile
from mfrec.ranking.pick import EPSILON, like_span, uses_ranker
from mfrec.ranking.scorer import Scorer

# Factor models are scored in tiles of TILE_USERS x TILE_ITEMS (32 MB of float32 per score tile): wide
# enough that each GEMM call runs at full speed (narrower tiles measured slower on 2 cores), small
# enough that memory stays flat. The results do not depend on them (tests run 2 x 3 tiles).
TILE_USERS = 1024
TILE_ITEMS = 8192
# Pick x like pruning needs the largest |q_i| (one pass over Q per call): worth it from this many users.
PRUNE_MIN_USERS = 32


def factor_scorer(model: Scorer) -> bool:
    """Whether ``model`` scores with the base ``mu + b_u + b_i + p_u . q_i`` on float32 factors (and, when it
    ranks by pick x like, float32 pick factors): then :func:`mfrec.ranking.top_n_rows` scores it tile by tile."""
    if not model._base_scorer():
        return False
    arrays = list(model._factors())
    if uses_ranker(model):
        arrays += [model.pick_user_factors_, model.pick_item_factors_]
    return all(a.dtype == np.float32 for a in arrays)


def top_n_tiled(
    model: Scorer,
    user_rows: np.ndarray,
    k: int,
    exclude_seen: bool,
    allowed: np.ndarray,
    out_items: np.ndarray,
    out_scores: np.ndarray,
    out_count: np.ndarray,
    n_threads: int = 1,
) -> None:
    """:func:`mfrec.ranking.top_n_rows` for a factor scorer: TILE_USERS users at a time x TILE_ITEMS items.

    Per tile one GEMM (numpy's BLAS) forms the dot products and one numba pass finishes the scores
    (biases, pick x like), counts non-finite ones, drops seen and disallowed items and merges the
    rest into per-user heaps kept across tiles, where the full-matrix path made five numpy passes
    over a users x items block first. With pick x like only the 32-factor pick GEMM runs for every
    item: the 64-factor rating is formed (:func:`~mfrec.kernels.topk.merge_pick_tile`) only
    for items whose pick part still beats the user's k-th best, once the block's ratings are known
    to be finite (:func:`ratings_bounded`; otherwise the full tile is scored and checked).
    """
    P, Q = model._factors()
    ranker = uses_ranker(model)
    n_items, n_factors = Q.shape
    item_bias = np.ascontiguousarray(model.item_bias_)
    low = model.rating_scale_[0]
    span = np.float32(like_span(model)) if ranker else np.float32(0.0)
    width = min(TILE_ITEMS, n_items)
    no_picks = np.zeros((0, 0), np.float32)
    prune_call = ranker and len(user_rows) >= PRUNE_MIN_USERS
    q_norm = _max_norm(Q) if prune_call else np.inf
    # Allocated once: a fresh 32 MB tile per block costs page faults and zeroing every time.
    n_block = min(TILE_USERS, len(user_rows))
    dots_buffer = np.empty((n_block, width), np.float32)
    picks_buffer = np.empty((n_block, width), np.float32) if ranker else no_picks
    for start in range(0, len(user_rows), TILE_USERS):
        rows = user_rows[start : start + TILE_USERS]
        b = len(rows)
        P_block = P[rows]
        X_block = model.pick_user_factors_[rows] if ranker else None
        # mu + b_u exactly as numpy adds it in _score_items (float64 when the model keeps a float64 mean).
        offset = np.asarray(model.global_mean_ + model.user_bias_[rows])
        heap_v = np.empty((b, k), np.float32)
        heap_i = np.empty((b, k), np.int32)
        heap_n = np.zeros(b, np.int32)
        nonfinite = np.zeros(b, np.int64)
        n_chunks = min(b, 4 * n_threads)  # a few per thread: even work when users' seen lists differ
        prune = prune_call and ratings_bounded(P_block, q_norm, item_bias, offset)
        dots_full = dots_buffer[:b]
        picks_full = picks_buffer[:b]
        # What both tile kernels take after their own inputs: the score formula, the user's seen items and
        # allow-list, and the heaps they merge into.
        shared = (
            np.float32(low),
            span,
            np.float32(EPSILON),
            rows,
            model.seen_indptr_,
            model.seen_indices_,
            exclude_seen,
            allowed,
            heap_v,
            heap_i,
            heap_n,
            nonfinite,
            n_chunks,
        )
        for first in range(0, n_items, width):
            last = min(first + width, n_items)
            full = last - first == width
            picks = no_picks
            if ranker:
                picks = picks_full if full else np.empty((b, last - first), np.float32)
                np.matmul(X_block, model.pick_item_factors_[first:last].T, out=picks)
            if prune:
                merge_pick_tile(picks, first, P_block, Q, item_bias, offset, *shared)
                continue
            dots = dots_full if full else np.empty((b, last - first), np.float32)
            if n_factors:
                np.matmul(P_block, Q[first:last].T, out=dots)
            else:
                dots.fill(0.0)
            merge_tile(dots, picks, first, item_bias, offset, ranker, *shared)
        bad = int(nonfinite.sum())
        if bad:
            raise nonfinite_error(model, bad)
        sl = slice(start, start + b)
        drain_heaps(heap_v, heap_i, heap_n, out_items[sl], out_scores[sl], out_count[sl])


def _max_norm(A: np.ndarray) -> float:
    """The largest row norm of ``A`` (0 for no rows or no columns; inf or NaN when an entry is)."""
    return float(np.sqrt(np.einsum("ij,ij->i", A, A).max())) if A.size else 0.0


def ratings_bounded(P_block: np.ndarray, q_norm: float, item_bias: np.ndarray, offset: np.ndarray) -> bool:
    """Whether every predicted rating of these users is finite: finite factors and biases, and dot products
    that cannot overflow float32 (|p . q| <= |p| |q| by Cauchy-Schwarz, with a wide margin for rounding)."""
    limit = 1e30
    p_norm = _max_norm(P_block)
    biases = max(float(np.abs(item_bias).max(initial=0.0)), float(np.abs(offset).max(initial=0.0)))
    return bool(np.isfinite(p_norm * q_norm) and p_norm * q_norm < limit and np.isfinite(biases) and biases < limit)


def nonfinite_error(model: Scorer, count: int) -> TrainingError:
    """The error a diverged model's NaN or infinite scores raise (top-N would skip them)."""
    return TrainingError(
        f"{type(model).__name__} produced non-finite scores ({count} NaN or "
        "infinite values): the model diverged; refit it with a lower learning rate or more regularization"
    )
