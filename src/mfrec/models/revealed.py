"""A new user's revealed ratings, in the shapes ``fold_in`` and ``recommend(new_user_ratings=...)`` accept.

Checked here, at the public boundary, so a malformed argument is a :class:`~mfrec.exceptions.DataError`
naming the item, value or position, never a numpy conversion error from inside the solve.

>>> parse_ratings({"Alien": 5, "Heat": 3.5})
(array(['Alien', 'Heat'], dtype='<U5'), array([5. , 3.5]))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mfrec.data.idmap import plain
from mfrec.exceptions import DataError

#: Values that make a dict of ratings a dict of columns.
_COLLECTIONS = (list, tuple, set, dict, np.ndarray, pd.Series)


def parse_ratings(ratings: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(item ids, values or None) from a dict, a Series, a DataFrame (item, rating), pairs or a list of items."""
    if isinstance(ratings, dict):
        listed = next((key for key, value in ratings.items() if isinstance(value, _COLLECTIONS)), None)
        if listed is not None:
            raise DataError(
                f"new-user ratings map each item to one rating ({{item: rating}}), but {listed!r} maps to "
                f"{type(ratings[listed]).__name__}; pass columns as a DataFrame with 'item' and 'rating'"
            )
        return _numbers(list(ratings.keys()), list(ratings.values()))
    if isinstance(ratings, pd.Series):
        return _numbers(ratings.index.to_numpy(), ratings.to_numpy())
    if isinstance(ratings, pd.DataFrame):
        if "item" not in ratings.columns:
            raise DataError(f"new-user ratings need an 'item' column, got {list(ratings.columns)}")
        value_col = next((c for c in ("rating", "value") if c in ratings.columns), None)
        if value_col is None:
            return ratings["item"].to_numpy(), None
        return _numbers(ratings["item"].to_numpy(), ratings[value_col].to_numpy())
    if isinstance(ratings, np.ndarray) and ratings.ndim > 1:
        if ratings.ndim != 2 or ratings.shape[1] != 2:
            raise DataError(f"new-user ratings as an array need shape (n, 2): (item, rating) rows, got {ratings.shape}")
        return _numbers(ratings[:, 0], ratings[:, 1])
    if isinstance(ratings, (str, bytes)) or not hasattr(ratings, "__iter__"):
        raise DataError(
            f"new-user ratings must be a dict {{item: rating}}, a Series, a DataFrame, (item, rating) pairs "
            f"or a list of items, got {type(ratings).__name__} {ratings!r}"
        )
    rows = list(ratings)
    if rows and isinstance(rows[0], (tuple, list)):
        bad = next((p for p, row in enumerate(rows) if not isinstance(row, (tuple, list)) or len(row) != 2), None)
        if bad is not None:
            raise DataError(f"new-user rating at position {bad} must be an (item, rating) pair, got {rows[bad]!r}")
        return _numbers([row[0] for row in rows], [row[1] for row in rows])
    return np.asarray(rows), None


def _numbers(items: Any, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(items, values as float64); a value that is not a number is named with its item.

    True / False are refused, not read as 1 and 0: {item: True} meant "liked", and on a 1-5 scale
    it would be a 1-star rating. For an implicit model a list of items says "interacted".
    """
    for position, (item, value) in enumerate(zip(items, values, strict=True)):
        if isinstance(value, (bool, np.bool_)):
            raise DataError(
                f"new-user rating {plain(value)!r} for item {plain(item)!r} (position {position}) is a boolean, not a "
                "rating; give numbers (for an implicit model, a list of items says 'interacted with')"
            )
    try:
        return np.asarray(items), np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        for position, (item, value) in enumerate(zip(items, values, strict=True)):
            try:
                float(value)
            except (TypeError, ValueError):
                raise DataError(
                    f"new-user rating {value!r} for item {plain(item)!r} (position {position}) is not a number"
                ) from None
        raise


def check_values(values: np.ndarray | None, n: int) -> np.ndarray:
    if values is None:
        return np.ones(n, np.float32)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataError(f"new-user rating {float(values[bad[0]])} (position {bad[0]}) is not a finite number")
    return values.astype(np.float32)
