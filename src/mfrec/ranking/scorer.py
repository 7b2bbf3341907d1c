"""What ranking needs of a model: the :class:`Scorer` protocol (every :class:`~mfrec.models.base.Recommender` is one).

The ranking layer sits below the models (docs/ARCHITECTURE.md), so it never imports them: it
types the model it ranks for by the attributes and methods it reads, listed here once.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from mfrec.data.idmap import IdMap


class Scorer(Protocol):
    """A fitted model as ranking sees it: id maps, seen items, the scoring terms and the scorer hooks.

    A rating model ranked by pick x like also has ``rank_by``, ``pick_user_factors_`` and
    ``pick_item_factors_`` (read with ``getattr``: models without them rank by their own scores).
    """

    user_map_: IdMap
    item_map_: IdMap
    seen_indptr_: np.ndarray
    seen_indices_: np.ndarray
    item_counts_: np.ndarray
    global_mean_: float
    user_bias_: np.ndarray
    item_bias_: np.ndarray
    rating_scale_: tuple[float, float]
    predicts_ratings: bool
    score_kind: str

    def score_items(self, user_rows: np.ndarray) -> np.ndarray:
        """float32[len(user_rows), n_items]: the model's scores of every item for known users' rows."""
        ...

    def _factors(self) -> tuple[np.ndarray, np.ndarray]:
        """User and item factors ((n, 0) arrays for models without factors)."""
        ...

    def _base_scorer(self) -> bool:
        """Whether the scores are ``mu + b_u + b_i + p_u . q_i`` (no scorer hook overridden): tiles may form them."""
        ...

    def recommend(self, users: Any = None, n: int = 10, **options: Any) -> Any:
        """Top-``n`` lists by original ids (a DataFrame ``user, item, score, rank, ...``)."""
        ...
