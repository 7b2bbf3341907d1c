"""Explanations: which of a user's rated items pushed a recommended item up ("because you liked X").

Used by :meth:`Recommender.explain` and ``recommend(..., explain=True)`` (:mod:`mfrec.models.topn`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mfrec.models.base import Recommender

# Ratings at the catalogue's mean that a user's mean is pulled towards before it says what they usually give.
# Centred on their own mean alone, a user who gave a 5 and a 4 liked only the 5 (the 4 is below their mean) and a
# one-rating user liked nothing: a fold-in of Star Wars 5 and Return of the Jedi 4 was explained by Star Wars in
# 9 of its 10 rows. With many ratings the user's own mean dominates.
MEAN_PRIOR_RATINGS = 5.0


def usual_rating(model: Recommender, rated_values: np.ndarray) -> float:
    """What a user usually gives: their mean rating, pulled towards the model's global mean by a few ratings.

    Models without a global mean (unbiased ones store 0) use the middle of the rating scale.

    >>> from types import SimpleNamespace
    >>> round(usual_rating(SimpleNamespace(global_mean_=3.5, rating_scale_=(1.0, 5.0)), np.array([5.0, 4.0])), 4)
    3.7857
    """
    anchor = float(model.global_mean_) or float(np.mean(model.rating_scale_))
    return (float(rated_values.sum()) + MEAN_PRIOR_RATINGS * anchor) / (rated_values.size + MEAN_PRIOR_RATINGS)


def explain_rows(
    model: Recommender, item_rows: np.ndarray, rated_rows: np.ndarray, rated_values: np.ndarray, n: int
) -> list[list[tuple[int, float, float]]]:
    """For each of ``item_rows``: up to ``n`` (rated row, similarity, contribution), largest contribution first.

    A rated item contributes (cosine similarity of the two items' factors) x (how much
    the user liked it). For rating models that is the rating minus what the user usually
    gives (:func:`usual_rating`; ``rated_values`` are all of the user's ratings), so only
    items rated above it can be reasons, never their low ratings. For implicit models it is the
    interaction's value, and values below the model's ``threshold`` (seen but not liked)
    are never reasons. Only positive contributions count; the list can be empty.
    """
    _, Q = model._factors()
    if Q.shape[1] == 0 or rated_rows.size == 0:
        return [[] for _ in item_rows]
    norms = np.linalg.norm(Q, axis=1)
    norms[norms == 0] = 1.0
    if model.predicts_ratings:
        liked = rated_values - usual_rating(model, rated_values)
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
