"""Holding out a seeded fraction of the ratings for validation (early stopping, ``auto``), no user or item lost."""

from __future__ import annotations

import warnings

import numpy as np

from mfrec.data.interactions import Interactions

__all__ = ["hold_out"]


def hold_out(data: Interactions, fraction: float, rng: np.random.Generator) -> tuple[Interactions, Interactions | None]:
    """(train, held out): a random ``fraction`` of the ratings, keeping one rating of every user and item in train."""
    order = rng.permutation(len(data))
    held = np.zeros(len(data), dtype=bool)
    held[order[: int(round(len(data) * fraction))]] = True
    # The first rating of each user and of each item in the random order stays in train.
    for rows in (data.user_idx, data.item_idx):
        _, first = np.unique(rows[order], return_index=True)
        held[order[first]] = False
    if not held.any():
        warnings.warn(
            f"early stopping cannot hold out any of {len(data)} ratings while keeping every user and item in "
            f"training; training for all epochs on all of them (pass validation= to stop early)",
            stacklevel=4,
        )
        return data, None
    return data.subset(~held, name=f"{data.name}:train"), data.subset(held, name=f"{data.name}:validation")
