"""Which test ratings count as relevant, and the checks that keep a metric meaning what it says.

The relevance threshold follows the data: on implicit data (no rating column, one value
throughout, or interaction counts) every interaction is relevant; on explicit ratings it is
:data:`RELEVANT_FRACTION` of the way up the rating scale (4 on 1-5, 7.75 on 1-10, 3.875 on
0.5-5), so one verdict means the same thing on every scale.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mfrec.data.interactions import Interactions
from mfrec.exceptions import DataError, UnknownIdsWarning, warn_user

#: On explicit ratings a test rating is relevant from this fraction of the way up the scale.
RELEVANT_FRACTION = 0.75
#: Warn when more than this share of the test users (or items) is unknown to the model.
UNKNOWN_SHARE_WARNED = 0.5


def relevance_threshold(data: Interactions) -> tuple[float, str]:
    """The threshold (a test rating >= it is relevant) for ``data``, and the rule that set it, in words.

    >>> from mfrec.data import from_arrays
    >>> relevance_threshold(from_arrays([1, 2], [1, 1], [3.0, 9.0], rating_scale=(1, 10)))
    (7.75, '0.75 of the rating scale 1..10')
    """
    if data.is_implicit:  # no rating column, one value throughout, or interaction counts
        low = float(data.ratings.min()) if len(data.ratings) else 0.0
        return low, "implicit data: every interaction is relevant"
    low, high = data.rating_scale
    return low + RELEVANT_FRACTION * (high - low), f"{RELEVANT_FRACTION:g} of the rating scale {low:g}..{high:g}"


def warn_unknown(model: Any, test: Interactions, user_rows: np.ndarray, item_rows: np.ndarray) -> None:
    """Warn when most test users or items are unknown to ``model``: its scores then come from the fallback."""
    for what, rows, total in (("users", user_rows, test.n_users), ("items", item_rows, len(item_rows))):
        unknown = int((rows < 0).sum())
        if total and unknown / total > UNKNOWN_SHARE_WARNED:
            warn_user(
                f"{unknown:,} of the {total:,} test {what if what == 'users' else 'ratings'} "
                f"{'are' if what == 'users' else 'have items'} unknown to the model: was it trained on other data? "
                "Their scores are the fallback's, not the model's",
                UnknownIdsWarning,
            )


def refuse_no_users(result: dict[str, Any], what: str = "the model") -> None:
    """Refuse ranking metrics averaged over 0 users (they would be NaN) with one line saying why."""
    if result.get("users_evaluated", 1) == 0:
        threshold = result.get("threshold")
        rule = f" (relevant: rating >= {threshold:g}, {result.get('threshold_rule')})" if threshold is not None else ""
        raise DataError(
            f"no test user of {what} has a relevant test item known to the model{rule}: "
            f"{result.get('users_skipped', 0)} users without one, {result.get('users_cold', 0)} absent from train; "
            "ranking metrics over 0 users are not reported: pass --threshold, or check the split"
        )


def finite_or_none(value: Any) -> Any:
    """``value`` with non-finite floats as None, in nested dicts and lists (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
        return None
    return value
