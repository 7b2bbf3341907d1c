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

This module defines the ranker (its settings, scores and the folded-in user's solve); the
model fits and keeps its arrays (:mod:`mfrec.models.pick`): ranking reads fitted arrays, it
never fits.

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
>>> model.rank_by, model.pick_regularization_  # the generator's picks follow popularity: the chart is chosen
('pick-like', None)
>>> model.pick_item_factors_.shape  # one column: each item's squared share of the most-picked count
(40, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mfrec._validation import check_choice
from mfrec.ranking.scorer import Scorer

#: The ways a rating model can order its lists: by the pick x like score (default) or by predicted rating.
RANK_BY = ("pick-like", "rating")
#: The implicit "will pick" model: weighted ALS (ImplicitALS's regularization and alpha, binary confidence),
#: smaller than implicit-als's defaults: on ML-100k folds (sgd) 32 factors x 10 epochs rank at NDCG@10 0.412
#: against 0.415 for 64 x 15, in under half the fit time (16 x 10: 0.403; 32 x 6: 0.404).
PICK_FACTORS = 32
PICK_EPOCHS = 10
PICK_REGULARIZATION = 30.0
#: The regularizations fit tries on a held-out pick of each user (models/pick.py::choose_regularization), scored
#: against a most-picked chart, which wins when none beats it; PICK_REGULARIZATION stays the one for tiny logs.
#: Steps of about 1.5: with (10, 30, 100) ML-100k's optimum (14-20 on its time splits and folds) was never tried.
PICK_REGULARIZATIONS = (10.0, 14.0, 20.0, 30.0, 45.0, 70.0, 100.0)
#: Candidates whose held-out score is within this factor of the best are ties, and the most regularized of them is
#: chosen: neighbouring steps differ by less than one user's pick in a thousand, and the smoother model is the one
#: that held up on the tests (ML-100k folds: 14-20 where the raw best was 10 on three folds of five).
PICK_SELECT_TIE = 1.01
#: The chart is chosen unless the best pick model beats it by this many standard errors of the paired per-user
#: difference (the one-standard-error rule, the simpler list winning): on ML-100k keeping 10% of each user's
#: ratings the pick model led the chart by 0.6 standard errors on the held-out picks and lost to popularity on
#: the later ratings (0.0195 vs 0.0214 NDCG@10; the chart 0.0215).
PICK_SELECT_CHART_SE = 1.0
#: Where the chart is chosen, the plain chart (popularity's own list) replaces "chart x like" only when it beats
#: it by this many standard errors on the held-out picks. The "like" those picks are scored with is a damped bias
#: model's, blind to what the rating model personalises: on a log whose picks are random and whose ratings follow
#: taste groups, the plain chart led by 1.8 standard errors while "chart x like" with the model's own ratings gave
#: each group its items. (The opposite rule, "chart x like" only when it leads by one standard error, gave up the
#: zoo's synth-dense, where it led by 0.9 and ranks at 0.295 against the plain chart's 0.285.)
PICK_SELECT_PLAIN_SE = 2.0
#: With timestamps, the share of users whose held-out pick is a random liked one rather than their latest.
PICK_SELECT_RANDOM_SHARE = 0.5
PICK_SELECT_EPOCHS, PICK_SELECT_MIN_PICKS, PICK_SELECT_USERS = 5, 3, 1_000
#: Above this many ratings the choice is made on a seeded sample of whole users (bounded memory and time).
PICK_SELECT_MAX_RATINGS = 2_000_000
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


def uses_ranker(model: Scorer) -> bool:
    """Whether ``model`` orders its lists by pick x like: a rating model with ``rank_by="pick-like"``, fitted."""
    return (
        getattr(model, "rank_by", "rating") == "pick-like"
        and model.predicts_ratings
        and getattr(model, "pick_item_factors_", None) is not None
    )


def check_rank_by(value: Any) -> str:
    """``value`` if it names a ranking method (:data:`RANK_BY`), else a :class:`ParameterError`."""
    return check_choice("rank_by", value, RANK_BY)


def solve_pick(model: Scorer, item_rows: np.ndarray) -> np.ndarray:
    """The "will pick" vector of a user who picked ``item_rows``: one weighted least-squares solve, items fixed.

    The user step of weighted ALS: (Y'Y + alpha sum_i y_i y_i' + lambda I) x = (1 + alpha) sum_i y_i.
    """
    Y = model.pick_item_factors_.astype(np.float64)
    picked = Y[np.unique(np.asarray(item_rows, dtype=np.int64))]
    regularization = getattr(model, "pick_regularization_", None) or PICK_REGULARIZATION
    A = Y.T @ Y + PICK_ALPHA * (picked.T @ picked) + regularization * np.eye(Y.shape[1])
    return np.linalg.solve(A, (1.0 + PICK_ALPHA) * picked.sum(axis=0)).astype(np.float32)


def like_span(model: Scorer) -> float:
    """The width of the scale "will like" divides by; 0 when lists ignore it (like = 1): a scale of one value, or
    the plain most-picked chart the held-out picks chose (``pick_like_`` False: popularity's own list)."""
    low, high = model.rating_scale_
    return float(high - low) if high > low and getattr(model, "pick_like_", True) else 0.0


def combine(model: Scorer, pick: np.ndarray, ratings: np.ndarray) -> np.ndarray:
    """(max(0, pick) + epsilon) x like, like = the predicted rating scaled to [0, 1] on the rating scale."""
    low, span = model.rating_scale_[0], like_span(model)
    # like = 1 when the span is 0, yet NaN where the rating is not finite: a diverged model is caught either way.
    like = (ratings - np.float32(low)) / np.float32(span) if span > 0 else 1.0 + 0.0 * ratings
    np.clip(like, 0.0, 1.0, out=like)
    np.maximum(pick, 0.0, out=pick)
    pick += np.float32(EPSILON)
    return (pick * like).astype(np.float32, copy=False)


def rank_user_rows(model: Scorer, user_rows: np.ndarray, ratings: np.ndarray) -> np.ndarray:
    """Ranking scores float32[users, items] of known users from their predicted ratings ``ratings``."""
    if not uses_ranker(model):
        return ratings
    pick = model.pick_user_factors_[user_rows] @ model.pick_item_factors_.T
    return combine(model, pick.astype(np.float32, copy=False), np.asarray(ratings, dtype=np.float32))


def rank_folded(model: Scorer, item_rows: np.ndarray, ratings: np.ndarray) -> np.ndarray:
    """Ranking scores float32[items] of a folded-in user who revealed ``item_rows``, from predicted ``ratings``.

    A user placed by attributes alone (no revealed item) gets the mean pick vector of the trained users.
    """
    if not uses_ranker(model):
        return ratings
    # With no revealed item (attributes alone) the average user's picks stand in: popular items that fit.
    user = solve_pick(model, item_rows) if np.asarray(item_rows).size else model.pick_user_factors_.mean(axis=0)
    pick = model.pick_item_factors_ @ user
    return combine(model, pick.astype(np.float32, copy=False), np.asarray(ratings, dtype=np.float32))
