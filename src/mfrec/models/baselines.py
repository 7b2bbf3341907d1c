"""Baselines every evaluation reports next to the model: global mean, biases, popularity."""

from __future__ import annotations

from typing import Any

import numpy as np

from mfrec.data.interactions import Interactions
from mfrec.models.auto import AUTO
from mfrec.models.base import EpochCallback, Recommender
from mfrec.models.params import N_EPOCHS, RANK_BY, Param
from mfrec.models.registry import registered

#: Rows per chunk of the bias sums: bounds the float64 temporaries (0.6 GB each for 80M ratings in one piece).
_CHUNK_ROWS = 1 << 22


def _rmse(model: Recommender, data: Interactions) -> float:
    # Each distinct id looked up once, then indexed by row: no per-rating copies of the ids.
    rows_u = model.user_map_.lookup(data.user_ids.ids, missing="negative")[data.user_idx]
    rows_i = model.item_map_.lookup(data.item_ids.ids, missing="negative")[data.item_idx]
    return float(np.sqrt(np.mean((model._predict_rows(rows_u, rows_i) - data.ratings) ** 2)))


def _bias_sums(keys: np.ndarray, others: np.ndarray, ratings: np.ndarray, mu: float, other_bias: np.ndarray, n: int):
    """Per key, the sum of (rating - mu - other_bias[other]) over its ratings, in row chunks."""
    total = np.zeros(n)
    for start in range(0, keys.shape[0], _CHUNK_ROWS):
        part = slice(start, start + _CHUNK_ROWS)
        total += np.bincount(keys[part], ratings[part].astype(np.float64) - mu - other_bias[others[part]], n)
    return total


def bias_start(
    train: Interactions, user_regularization: float = 5.0, item_regularization: float = 3.0, n_epochs: int = 10
) -> tuple[float, np.ndarray, np.ndarray]:
    """(mu, user biases, item biases) of the :class:`Biases` baseline: a starting point for gradient-fitted models."""
    mu = float(train.ratings.mean())
    b_u, b_i = fit_biases(
        train.user_idx,
        train.item_idx,
        train.ratings,
        mu,
        (train.n_users, train.n_items),
        (user_regularization, item_regularization),
        n_epochs,
    )
    return mu, b_u.astype(np.float32), b_i.astype(np.float32)


def fit_biases(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    mu: float,
    shape: tuple[int, int],
    regularization: tuple[float, float],
    n_epochs: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """float64 (user biases, item biases) of ``r = mu + b_u + b_i``, shrunk by (user, item) pseudo-ratings.

    Alternating exact half-steps, items first; rows without ratings stay at 0.
    """
    (n_users, n_items), (user_regularization, item_regularization) = shape, regularization
    n_user = np.bincount(users, minlength=n_users)
    n_item = np.bincount(items, minlength=n_items)
    b_u, b_i = np.zeros(n_users), np.zeros(n_items)
    for _ in range(n_epochs):
        b_i = _bias_sums(items, users, ratings, mu, b_u, n_items) / (item_regularization + n_item)
        b_u = _bias_sums(users, items, ratings, mu, b_i, n_users) / (user_regularization + n_user)
    return b_u, b_i


@registered
class GlobalMean(Recommender):
    """Predicts the mean training rating for everything; the floor any model must clear.

    Examples
    --------
    >>> from mfrec.data import from_arrays
    >>> GlobalMean().fit(from_arrays([1, 2], [1, 1], [2.0, 4.0])).predict([1], [1])
    array([3.], dtype=float32)
    """

    def __init__(self) -> None:
        pass

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        self.global_mean_ = float(train.ratings.mean())
        self.user_bias_ = np.zeros(train.n_users, np.float32)
        self.item_bias_ = np.zeros(train.n_items, np.float32)


@registered
class Biases(Recommender):
    """User and item biases, ``r = mu + b_u + b_i``, fitted by regularised alternating least squares.

    Each half-step solves ``b_u = sum(r - mu - b_i) / (user_bias_regularization + n_u)`` for all
    users at once (then the same for items), which is the exact minimiser of the
    regularised squared error with the other side fixed.

    Parameters
    ----------
    user_bias_regularization, item_bias_regularization : float, default=5.0, 3.0
        Shrinkage towards zero, in units of "pseudo-ratings" (measured on ML-100k folds);
        formerly ``reg_user`` and ``reg_item``.
    n_epochs : int, default=10
    rank_by : {"pick-like", "rating"}, default="pick-like"
        How ``recommend`` orders lists: "will pick" x "will like" (an implicit model fitted on
        the same log times the predicted rating; see :mod:`mfrec.ranking.pick`) or the predicted rating.

    Examples
    --------
    >>> from mfrec.data import from_arrays
    >>> model = Biases().fit(from_arrays([1, 1, 2], [1, 2, 1], [5.0, 3.0, 4.0]))
    >>> float(model.global_mean_)
    4.0
    """

    param_spec = (
        Param(
            "user_bias_regularization",
            float,
            "Shrinkage of user biases, in pseudo-ratings.",
            low=0.0,
            search=(0.5, 30.0, "log"),
            aliases=("reg_user",),
        ),
        Param(
            "item_bias_regularization",
            float,
            "Shrinkage of item biases, in pseudo-ratings.",
            low=0.0,
            search=(0.5, 30.0, "log"),
            aliases=("reg_item",),
        ),
        N_EPOCHS.but(doc="Alternating half-steps (items then users)."),
        RANK_BY,
        AUTO,
    )
    #: What auto=True searches (models/auto.py).
    auto_space = {"user_bias_regularization": (0.5, 50.0, "log"), "item_bias_regularization": (0.5, 50.0, "log")}

    def __init__(
        self,
        user_bias_regularization: float = 5.0,
        item_bias_regularization: float = 3.0,
        n_epochs: int = 10,
        *,
        rank_by: str = "pick-like",
        auto: bool = False,
    ) -> None:
        self.user_bias_regularization = user_bias_regularization
        self.item_bias_regularization = item_bias_regularization
        self.n_epochs = n_epochs
        self.rank_by = rank_by
        self.auto = auto

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        mu = float(train.ratings.mean())
        users, items, ratings = train.user_idx, train.item_idx, train.ratings
        n_user = np.bincount(train.user_idx, minlength=train.n_users)
        n_item = np.bincount(train.item_idx, minlength=train.n_items)
        b_u = np.zeros(train.n_users)
        b_i = np.zeros(train.n_items)
        self.global_mean_ = mu
        reg_user, reg_item = self.user_bias_regularization, self.item_bias_regularization
        for epoch in range(1, self.n_epochs + 1):
            b_i = _bias_sums(items, users, ratings, mu, b_u, train.n_items) / (reg_item + n_item)
            b_u = _bias_sums(users, items, ratings, mu, b_i, train.n_users) / (reg_user + n_user)
            self.user_bias_ = b_u.astype(np.float32)
            self.item_bias_ = b_i.astype(np.float32)
            row: dict[str, Any] = {"epoch": epoch, "train_rmse": _rmse(self, train)}
            if validation is not None:
                row["val_rmse"] = _rmse(self, validation)
            self.history_.append(row)
            if callback:
                callback(row)


@registered
class Popularity(Recommender):
    """Ranks items by how many training ratings they have; predicts the damped item mean.

    The ranking baseline: on ML-100k it beats explicit-rating MF on NDCG, which is
    why every ranking table should show it.

    Parameters
    ----------
    damping : float, default=5.0
        The item mean is shrunk towards the global mean as if each item had
        ``damping`` extra ratings equal to it.
    """

    score_kind = "popularity"

    param_spec = (
        Param(
            "damping",
            float,
            "Pseudo-ratings at the global mean added to each item's mean.",
            low=0.0,
            search=(0.0, 50.0, "float"),
        ),
    )

    def __init__(self, damping: float = 5.0) -> None:
        self.damping = damping

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        self.global_mean_ = float(train.ratings.mean())
        sums = np.bincount(train.item_idx, train.ratings - self.global_mean_, train.n_items)
        self.item_bias_ = (sums / (self.item_counts_ + self.damping)).astype(np.float32)
        self.user_bias_ = np.zeros(train.n_users, np.float32)

    def _score_items(self, user_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_counts_.astype(np.float32), (len(user_rows), len(self.item_map_))).copy()
