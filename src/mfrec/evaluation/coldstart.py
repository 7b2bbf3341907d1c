"""The cold-start protocol: how good are recommendations for a user the model has never seen?

A seeded set of users is held out of training entirely. Each held-out user's
ratings are ordered (randomly with the seed, or by time) and the first
``max(revealed)`` of them are the ones that may be revealed; the rest is the
user's test set, the same for every point of the curve. For each number of
revealed ratings N, four ways of answering are measured on the test sets:

* ``fold-in``: the trained model, the user folded in from the N ratings;
* ``side-info``: the same, pulled towards the user's attribute prior (N = 0:
  the attributes alone) — needs user attributes;
* ``popularity``: the most popular items and the damped item means;
* ``retrain``: a full refit on the training data plus every held-out user's N
  revealed ratings (the expensive reference that fold-in approximates).

RMSE is over all test ratings of the held-out users; NDCG@k ranks every item
the user has not revealed, relevant = test rating >= threshold, with the same
definition as the main protocol (:func:`mfrec.evaluation.ndcg_at_k`): a relevant
item the answering model does not know counts as a miss, so every method is
measured against the same relevant set.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mfrec._validation import check_int
from mfrec.data.interactions import Interactions
from mfrec.evaluation.metrics import ndcg_at_k
from mfrec.exceptions import DataError, ParameterError, warn_user
from mfrec.models.base import Recommender
from mfrec.models.baselines import Popularity
from mfrec.models.coldstart import UnknownItemsWarning
from mfrec.ranking import rank_scores, rank_scores_folded, top_of_scores

REVEALED = (0, 1, 3, 5, 10, 20)
METHODS = ("fold-in", "side-info", "popularity", "retrain")


def cold_start_curve(
    data: Interactions,
    factory: Callable[[], Recommender],
    *,
    n_users: int = 200,
    revealed: Sequence[int] = REVEALED,
    seed: int = 0,
    k: int = 10,
    threshold: float = 4.0,
    order: str = "random",
    user_attributes: pd.DataFrame | None = None,
    attribute_regularization: float = 10.0,
    methods: Sequence[str] = METHODS,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[dict[str, Any]]:
    """The curve as a list of ``{"method", "revealed", "rmse", "ndcg@k", "users"}`` rows.

    ``progress(done, total, note)`` is called after each step (a model fitted, a point of the
    curve measured), so a caller can show how far along the curve is.

    ``user_attributes`` defaults to ``data.user_info`` (ML-100k: age, gender,
    occupation); without attributes the ``side-info`` method is skipped.

    Examples
    --------
    >>> from mfrec.data import synthetic
    >>> from mfrec.models import Biases
    >>> curve = cold_start_curve(synthetic(400, 100, 12_000, seed=0), Biases, n_users=20, revealed=(0, 5))
    >>> sorted({row["method"] for row in curve})
    ['fold-in', 'popularity', 'retrain']
    """
    check_int("n_users", n_users, 1)
    revealed = sorted({check_int("revealed", n, 0) for n in revealed})
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ParameterError(f"unknown cold-start method(s) {sorted(unknown)}; choose from {list(METHODS)}")
    if order not in ("random", "time"):
        raise ParameterError(f"order must be 'random' or 'time', got {order!r}")
    if order == "time" and data.timestamps is None:
        raise DataError("order='time' needs timestamps, and this data has none")
    most = revealed[-1]
    counts = np.bincount(data.user_idx, minlength=data.n_users)
    eligible = np.flatnonzero(counts >= most + 5)  # every held-out user keeps >= 5 test ratings
    if eligible.size < n_users:
        raise DataError(f"only {eligible.size} users have >= {most + 5} ratings; cannot hold out {n_users}")
    rng = np.random.default_rng(seed)
    held = np.sort(rng.choice(eligible, n_users, replace=False))
    is_held = np.zeros(data.n_users, bool)
    is_held[held] = True

    # Per held-out user: cell indices in reveal order; the first `most` may be revealed.
    tiebreak = rng.random(len(data))
    key = data.timestamps if order == "time" else tiebreak
    cells = np.flatnonzero(is_held[data.user_idx])
    cells = cells[np.lexsort((tiebreak[cells], key[cells], data.user_idx[cells]))]
    bounds = np.searchsorted(data.user_idx[cells], held, side="left")
    per_user = [cells[bounds[j] : (bounds[j + 1] if j + 1 < len(held) else len(cells))] for j in range(len(held))]

    train = data.subset(~is_held[data.user_idx], name=f"{data.name}:cold-start-train")
    user_ids = data.user_ids.to_ids(held)
    item_ids = data.item_ids.ids
    attributes = data.user_info if user_attributes is None else user_attributes
    wanted = [m for m in methods if m != "side-info" or attributes is not None]
    total = 1 + len(revealed) * len(wanted) + ("retrain" in wanted) * sum(n > 0 for n in revealed)
    done = [0]

    def step(note: str) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total, note)

    base = factory().fit(train)
    if "side-info" in wanted:
        base.fit_attributes(attributes, regularization=attribute_regularization)
    popularity = Popularity().fit(train)
    step("base model fitted")

    # Each held-out user's items (original ids) and ratings in reveal order, looked up once.
    user_items = [item_ids[data.item_idx[cells_of]] for cells_of in per_user]
    user_ratings = [data.ratings[cells_of] for cells_of in per_user]

    def measure(method: str, n: int, answer: Callable[[int], tuple[Recommender, Any]]) -> dict[str, Any]:
        errors, ndcgs = [], []
        for j in range(len(held)):
            model, user = answer(j)
            rows = model.item_map_.lookup(user_items[j], missing="negative")  # in this model's item rows
            shown = rows[:n]
            test_items, test_ratings = user_items[j][most:], user_ratings[j][most:]
            if isinstance(user, (int, np.integer)):  # a user row of a retrained model
                predicted = model.predict([user_ids[j]] * len(test_items), test_items)
                scores = rank_scores(model, np.array([user], np.int32))[0]
            else:
                predicted = model.predict_new_user(user, test_items)
                scores = rank_scores_folded(model, user)
            errors.append((predicted - test_ratings) ** 2)
            liked = test_ratings >= threshold
            if liked.any():  # liked items the model does not know cannot be ranked: left out of the ideal
                top, _ = top_of_scores(model, scores, k, exclude=shown[shown >= 0])
                # The one NDCG definition (metrics.ndcg_at_k), in item ids: a liked item the model does not
                # know stays relevant and counts as a miss, as in the main protocol.
                ndcgs.append(ndcg_at_k(model.item_map_.to_ids(top).tolist(), set(test_items[liked].tolist()), k))
        step(f"{method} at {n} revealed")
        return {
            "method": method,
            "revealed": n,
            "rmse": float(np.sqrt(np.concatenate(errors).mean())),
            f"ndcg@{k}": float(np.mean(ndcgs)) if ndcgs else float("nan"),
            "users": len(held),
        }

    def revealed_ratings(j: int, n: int) -> pd.DataFrame:
        return pd.DataFrame({"item": user_items[j][:n], "rating": user_ratings[j][:n]})

    # Items rated only by held-out users are unknown to the base model and fold-in ignores them: said once
    # here rather than in a warning per folded-in user.
    shown = [items[: max(revealed, default=0)] for items in user_items]
    unknown = (
        int((base.item_map_.lookup(np.unique(np.concatenate(shown)), missing="negative") < 0).sum()) if shown else 0
    )
    if unknown and ("fold-in" in wanted or "side-info" in wanted):
        warn_user(
            f"{unknown} item(s) the held-out users reveal are rated by no training user: fold-in ignores them",
            UnknownItemsWarning,
        )
    curve: list[dict[str, Any]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownItemsWarning)
        for n in revealed:
            if "fold-in" in wanted:
                curve.append(measure("fold-in", n, lambda j, n=n: (base, base.fold_in(revealed_ratings(j, n)))))
            if "side-info" in wanted:

                def side(j: int, n: int = n) -> tuple[Recommender, Any]:
                    row = attributes.loc[[user_ids[j]]] if user_ids[j] in attributes.index else None
                    return base, base.fold_in(revealed_ratings(j, n), attributes=row)

                curve.append(measure("side-info", n, side))
            if "popularity" in wanted:
                curve.append(measure("popularity", n, lambda j, n=n: (popularity, popularity.fold_in([]))))
            if "retrain" in wanted:
                if n == 0:
                    refit = base
                else:
                    shown_cells = np.concatenate([per_user[j][:n] for j in range(len(held))])
                    keep = ~is_held[data.user_idx]
                    keep[shown_cells] = True
                    refit = factory().fit(data.subset(keep, name=f"{data.name}:retrain-{n}"))
                    step(f"retrained with {n} revealed")

                def retrained(j: int, refit: Recommender = refit) -> tuple[Recommender, Any]:
                    row = int(refit.user_map_.lookup([user_ids[j]], missing="negative")[0])
                    return refit, (row if row >= 0 else refit.fold_in([]))

                curve.append(measure("retrain", n, retrained))
    return curve
