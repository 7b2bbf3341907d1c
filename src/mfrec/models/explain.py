"""Explanations: which of a user's rated items pushed a recommended item up ("because you liked X").

Used by :meth:`Recommender.explain` and ``recommend(..., explain=True)`` (:mod:`mfrec.models.topn`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mfrec.models.base import Recommender


def explain_rows(
    model: Recommender, item_rows: np.ndarray, rated_rows: np.ndarray, rated_values: np.ndarray, n: int
) -> list[list[tuple[int, float, float]]]:
    """For each of ``item_rows``: up to ``n`` (rated row, similarity, contribution), largest contribution first.

    A rated item contributes (cosine similarity of the two items' factors) x (how much
    the user liked it). For rating models that is the rating minus the user's own mean
    rating (``rated_values`` are all of the user's ratings), so only items rated above
    what the user usually gives can be reasons, never their low ratings; a user whose
    ratings are all the same (one rating, say) has no "usual" to stand out from, so theirs
    are measured against the model's global mean instead. For implicit models it is the
    interaction's value, and values below the model's ``threshold`` (seen but not liked)
    are never reasons. Only positive contributions count; the list can be empty.
    """
    _, Q = model._factors()
    if Q.shape[1] == 0 or rated_rows.size == 0:
        return [[] for _ in item_rows]
    norms = np.linalg.norm(Q, axis=1)
    norms[norms == 0] = 1.0
    if model.predicts_ratings:
        # Centred on the user's own mean, every rating of a one-rating user would read as "indifferent".
        centre = rated_values.mean() if np.ptp(rated_values) > 0 else model.global_mean_
        liked = rated_values - centre
    else:
        threshold = getattr(model, "threshold", None)
        liked = np.where(rated_values >= threshold, rated_values, 0.0) if threshold is not None else rated_values
    similarity = (Q[item_rows] @ Q[rated_rows].T) / (norms[item_rows, None] * norms[None, rated_rows])
    # Only items the user liked and that resemble the recommendation are reasons.
    contribution = np.where((similarity > 0) & (liked[None, :] > 0), similarity * liked[None, :], 0.0)
    out = []
    for row in range(len(item_rows)):
        order = np.argsort(-contribution[row], kind="stable")[:n]
        out.append(
            [
                (int(rated_rows[j]), float(similarity[row, j]), float(contribution[row, j]))
                for j in order
                if contribution[row, j] > 0 and rated_rows[j] != item_rows[row]
            ]
        )
    return out
