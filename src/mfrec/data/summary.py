"""Dataset summary: size, sparsity, scale and the popularity long tail."""

from __future__ import annotations

from typing import Any

import numpy as np

from mfrec.data.interactions import Interactions


def summarize(data: Interactions) -> dict[str, Any]:
    """A dict of the figures a person checks before fitting anything.

    ``top_items_share`` is the share of all ratings that go to the most popular
    1%/10%/20% of items; ``gini_items`` the Gini coefficient of item popularity
    (0 = every item equally rated, 1 = one item takes everything).
    """
    per_user = np.bincount(data.user_idx, minlength=data.n_users)
    per_item = np.bincount(data.item_idx, minlength=data.n_items)
    sorted_items = np.sort(per_item)[::-1]
    cumulative = np.cumsum(sorted_items) / max(1, len(data))
    share = {f"{p}%": float(cumulative[max(0, int(np.ceil(data.n_items * p / 100)) - 1)]) for p in (1, 10, 20)}
    ascending = sorted_items[::-1].astype(np.float64)
    n = ascending.size
    gini = float((2 * np.arange(1, n + 1) - n - 1) @ ascending / (n * ascending.sum())) if ascending.sum() else 0.0
    values, counts = np.unique(data.ratings, return_counts=True)
    summary: dict[str, Any] = {
        "name": data.name,
        "users": data.n_users,
        "items": data.n_items,
        "ratings": len(data),
        "density": data.density,
        "sparsity": 1.0 - data.density,
        "rating_scale": list(data.rating_scale),
        "rating_scale_source": data.scale_source,
        "columns": dict(zip(("user", "item", "rating", "timestamp"), data.read_columns, strict=False)),
        "duplicates": {"merged": data.n_duplicates, "policy": data.duplicates},
        "rating_mean": float(data.ratings.mean()),
        "rating_std": float(data.ratings.std()),
        "ratings_per_user": {
            "min": int(per_user.min()),
            "median": float(np.median(per_user)),
            "max": int(per_user.max()),
        },
        "ratings_per_item": {
            "min": int(per_item.min()),
            "median": float(np.median(per_item)),
            "max": int(per_item.max()),
        },
        "top_items_share": share,
        "gini_items": gini,
        "duplicates_merged": data.n_duplicates,
        "has_timestamps": data.timestamps is not None,
    }
    if values.size <= 20:
        summary["rating_histogram"] = {f"{v:g}": int(c) for v, c in zip(values, counts)}
    if data.timestamps is not None:
        summary["time_range"] = [int(data.timestamps.min()), int(data.timestamps.max())]
    return summary
