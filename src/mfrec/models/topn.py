"""Recommending: ids, candidate selection, the unknown-user policy and explanations around a model's scorer.

Mixed into :class:`~mfrec.models.base.Recommender`; the top-N itself is :mod:`mfrec.ranking`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mfrec import ranking
from mfrec._validation import check_choice, check_int
from mfrec.exceptions import ParameterError
from mfrec.ranking.pick import uses_ranker

#: What ``because`` says when none of the user's liked items resembles the recommendation (never an empty cell):
#: the user has no ratings, so the list is the popularity chart (or it is the Popularity baseline);
BECAUSE_POPULAR = "(popular with everyone: no ratings of yours to go on)"
#: the user has only attributes (:meth:`fit_attributes`), no ratings;
BECAUSE_ATTRIBUTES = "(liked by users with attributes like yours)"
#: a rating model whose item bias for it is positive: the item's ratings are above the global mean;
BECAUSE_WELL_RATED = "(rated above average by most users)"
#: otherwise: the user's factors, solved from all their ratings, and no one rated item stands out.
BECAUSE_OVERALL = "(your ratings as a whole: no single rated item stands out)"


class TopN:
    """Mixin: ``recommend`` and ``explain`` (ids in, DataFrames out) over ``score_items`` and :mod:`mfrec.ranking`."""

    def seen_items(self, user: Any) -> pd.Series:
        """The items ``user`` rated in training, with the ratings (interaction values for implicit data).

        A float Series indexed by item id; an unknown user raises :class:`UnknownIdError`.

        Examples
        --------
        >>> model.seen_items("alice").to_dict()  # doctest: +SKIP
        {'Inception': 5.0, 'Dark Knight': 4.0, 'Interstellar': 5.0}
        """
        self._require_fitted()
        row = int(self.user_map_.lookup(user, what="user")[0])
        lo, hi = self.seen_indptr_[row], self.seen_indptr_[row + 1]
        return pd.Series(
            self.seen_ratings_[lo:hi].astype(np.float64),
            name="rating",
            index=pd.Index(self.item_map_.to_ids(self.seen_indices_[lo:hi]), name="item"),
        )

    def recommend(
        self,
        users: Any = None,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        items: Sequence[Any] | None = None,
        exclude_items: Sequence[Any] | None = None,
        new_user_ratings: Any = None,
        user_attributes: Any = None,
        unknown: str = "error",
        explain: bool = False,
    ) -> pd.DataFrame:
        """Top-``n`` items for one user or many, best first.

        Parameters
        ----------
        users : id or list of ids
            Users known to the model. For a user not in the training data, pass
            ``new_user_ratings`` (``users`` is then only the label of the rows).
        n : int, default=10
        exclude_seen : bool, default=True
            Leave out items the user rated in training. A user with fewer than
            ``n`` unseen items gets fewer rows, never seen ones.
        items : list of item ids, optional
            Only recommend among these (an allow-list).
        exclude_items : list of item ids, optional
            Never recommend these (a deny-list).
        new_user_ratings : dict, Series, DataFrame or list, optional
            A new user's ratings ({item: rating}, or items alone for implicit
            data): the user is folded in (see :meth:`fold_in`), no retraining.
        user_attributes : dict, optional
            The new user's attributes, used when :meth:`fit_attributes` has run.
        unknown : {"error", "fallback"}, default="error"
            What an unknown id in ``users`` gets: an :class:`UnknownIdError`, or
            the most popular items.
        explain : bool, default=False
            Add a ``because`` column: the user's rated items that pushed each
            recommendation up most (see :meth:`explain`), joined by "; ". When no
            liked item resembles it, a reason in parentheses instead (never an empty
            cell): the item is rated above average by most users, the list is the
            popularity chart or the attribute prior, or the user's ratings as a whole
            (``BECAUSE_*`` in :mod:`mfrec.models.topn`).

        Returns
        -------
        DataFrame with columns ``user, item, score, rank`` (rank 1 is best),
        ``source`` (which path answered: "model", "fold-in", "attributes" or
        "popularity") and ``score_kind`` (what ``score`` is on that row), plus
        ``title`` when the training data had titles. ``score_kind`` is "rating"
        for rating models: the predicted rating clipped to the scale, as
        :meth:`predict` gives it. Rating models order their lists by "will pick" x
        "will like" (``rank_by="pick-like"``, the default: see :mod:`mfrec.ranking.pick`),
        so a less likely pick with a higher predicted rating can come later; with
        ``rank_by="rating"`` they order by the unclipped predicted rating (ties at
        the top of the scale keep their order). "preference" for implicit models (an
        unbounded ranking score); "popularity" for the popularity fallback and
        the Popularity baseline (the item's number of training interactions).

        Examples
        --------
        >>> model.recommend("alice", n=3)  # doctest: +SKIP
        >>> model.recommend(new_user_ratings={"Inception": 5, "Frozen": 1}, n=3)  # doctest: +SKIP
        """
        self._require_fitted()
        n = check_int("n", n, 1)
        check_choice("unknown", unknown, ("error", "fallback"))
        allowed = self._allowed_mask(items, exclude_items)
        if new_user_ratings is not None or user_attributes is not None:
            folded = self.fold_in(new_user_ratings, attributes=user_attributes)
            label = "new-user" if users is None else users
            return self._recommend_folded(folded, label, n, exclude_seen, allowed, explain)
        if users is None:
            raise ParameterError("give users, or new_user_ratings= for a user who is not in the training data")
        user_rows = self.user_map_.lookup(users, what="user", missing="negative" if unknown == "fallback" else "error")
        known = user_rows >= 0
        item_rows, scores, counts = self._recommend_rows(
            user_rows[known], n, exclude_seen=exclude_seen, allowed=allowed
        )
        keep = np.arange(item_rows.shape[1])[None, :] < counts[:, None]
        if uses_ranker(self):  # ordered by pick x like; the score shown is still the predicted rating
            scores[keep] = self._predict_rows(np.repeat(user_rows[known], counts).astype(np.int32), item_rows[keep])
        frame = pd.DataFrame(
            {
                "user": np.repeat(self.user_map_.to_ids(user_rows[known]), counts),
                "item": self.item_map_.to_ids(item_rows[keep]),
                "score": self._shown_scores(scores[keep], self.score_kind),
                "rank": np.concatenate([np.arange(1, c + 1) for c in counts]) if counts.sum() else np.zeros(0, int),
                "source": "model",
                "score_kind": self.score_kind,
            }
        )
        if explain:
            frame["because"] = self._because(item_rows[keep], user_rows[known], counts)
        if self.item_labels_ is not None:
            frame["title"] = self.item_labels_[item_rows[keep]]
        if known.all():
            return frame
        # Unknown users get the popularity fallback, in the order the users were given.
        labels = np.atleast_1d(np.asarray(users, dtype=object))
        popular = self._recommend_folded(self.fold_in([]), None, n, False, allowed, explain)
        missing = np.flatnonzero(~known)
        fallback = pd.concat([popular] * missing.size, ignore_index=True)
        fallback["user"] = np.repeat(labels[missing], len(popular))
        position = np.concatenate([np.repeat(np.flatnonzero(known), counts), np.repeat(missing, len(popular))])
        merged = pd.concat([frame, fallback], ignore_index=True)
        return merged.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)

    def _recommend_folded(
        self, folded: Any, label: Any, n: int, exclude_seen: bool, allowed: np.ndarray, explain: bool
    ) -> pd.DataFrame:
        rows, scores = self._top_of(
            ranking.rank_scores_folded(self, folded), folded.item_rows if exclude_seen else None, n, allowed
        )
        if uses_ranker(self) and folded.source != "popularity":
            scores = ranking.score_folded(self, folded)[rows]
        kind = "popularity" if folded.source == "popularity" else self.score_kind
        frame = pd.DataFrame(
            {
                "user": [label] * rows.size,
                "item": self.item_map_.to_ids(rows),
                "score": self._shown_scores(scores, kind),
                "rank": np.arange(1, rows.size + 1),
                "source": folded.source,
                "score_kind": kind,
            }
        )
        if explain:
            frame["because"] = self._because_rows(rows, folded.item_rows, folded.values, folded.source)
        if self.item_labels_ is not None:
            frame["title"] = self.item_labels_[rows]
        return frame

    def _top_of(
        self, scores: np.ndarray, exclude: np.ndarray | None, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return ranking.top_of_scores(self, scores, n, exclude=exclude, allowed=allowed)

    def _shown_scores(self, scores: np.ndarray, kind: str) -> np.ndarray:
        """Ranking scores as ``recommend`` shows them: predicted ratings are clipped like :meth:`predict`."""
        return np.clip(scores, *self.rating_scale_) if kind == "rating" else scores

    def _because(self, item_rows: np.ndarray, user_rows: np.ndarray, counts: np.ndarray) -> list[str]:
        """The ``because`` text of each recommended item row (grouped by user, ``counts`` per user)."""
        out: list[str] = []
        start = 0
        for row, count in zip(user_rows, counts):
            lo, hi = self.seen_indptr_[row], self.seen_indptr_[row + 1]
            rated, values = self.seen_indices_[lo:hi], self.seen_ratings_[lo:hi]
            out += self._because_rows(item_rows[start : start + count], rated, values)
            start += count
        return out

    def _because_rows(
        self, item_rows: np.ndarray, rated: np.ndarray, values: np.ndarray, source: str = "model"
    ) -> list[str]:
        from mfrec.models.explain import explain_rows

        names = self.item_labels_ if self.item_labels_ is not None else self.item_map_.ids
        reasons = explain_rows(self, item_rows, rated, values, 3)
        return [
            "; ".join(str(names[r]) for r, _, _ in reason) if reason else self._no_single_reason(row, rated, source)
            for row, reason in zip(item_rows.tolist(), reasons)
        ]

    def _no_single_reason(self, item_row: int, rated: np.ndarray, source: str) -> str:
        """The ``because`` of an item no liked item resembles: what the score rests on instead."""
        if source == "attributes":
            return BECAUSE_ATTRIBUTES
        if rated.size == 0 or self.score_kind == "popularity":
            return BECAUSE_POPULAR
        if self.predicts_ratings and self.item_bias_[item_row] > 0:
            return BECAUSE_WELL_RATED
        return BECAUSE_OVERALL

    def explain(self, user: Any, item: Any, n: int = 3) -> pd.DataFrame:
        """The user's rated items that pushed ``item``'s score up most: "because you liked X".

        Each rated item j contributes (cosine similarity of the factors of ``item`` and
        j) x (how much the user liked j: the rating minus what the user usually gives,
        their mean pulled towards the global mean by a few ratings
        (:func:`mfrec.models.explain.usual_rating`), or for implicit models the
        interaction's value, zero below ``threshold``); the ``n`` largest positive
        contributions are returned, largest first. An item rated below the user's usual
        is never a reason, and a 4 beside a lone 5 is one. The frame is empty when no liked
        item resembles ``item``; ``recommend(..., explain=True)`` then says why in words.

        Examples
        --------
        >>> model.explain("alice", "Interstellar")  # doctest: +SKIP
        """
        from mfrec.models.explain import explain_rows

        self._require_factors("explain")
        row = int(self.user_map_.lookup(user, what="user")[0])
        item_row = self.item_map_.lookup(item, what="item")
        lo, hi = self.seen_indptr_[row], self.seen_indptr_[row + 1]
        reasons = explain_rows(
            self, item_row, self.seen_indices_[lo:hi], self.seen_ratings_[lo:hi], check_int("n", n, 1)
        )[0]
        rated = np.array([r for r, _, _ in reasons], dtype=np.int64)
        ratings = dict(zip(self.seen_indices_[lo:hi].tolist(), self.seen_ratings_[lo:hi].tolist()))
        frame = pd.DataFrame(
            {
                "because_item": self.item_map_.to_ids(rated),
                "rating": [ratings[r] for r in rated.tolist()],
                "similarity": [s for _, s, _ in reasons],
                "contribution": [c for _, _, c in reasons],
            }
        )
        if self.item_labels_ is not None:
            frame["title"] = self.item_labels_[rated]
        return frame

    def _allowed_mask(self, items: Sequence[Any] | None, exclude_items: Sequence[Any] | None) -> np.ndarray:
        return ranking.candidate_mask(self, items, exclude_items)

    def _recommend_rows(
        self,
        user_rows: np.ndarray,
        n: int,
        *,
        exclude_seen: bool = True,
        allowed: np.ndarray | None = None,
        n_threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-n by rows; see :func:`mfrec.ranking.top_n_rows`."""
        return ranking.top_n_rows(self, user_rows, n, exclude_seen=exclude_seen, allowed=allowed, n_threads=n_threads)
