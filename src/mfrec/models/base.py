"""The estimator contract every mfrec model follows.

A model stores its hyper-parameters in ``__init__`` (nothing else happens
there), learns in ``fit`` and keeps what it learned in attributes ending in
``_``. Callers speak original ids; rows are an internal detail.

Every model predicts ``mu + b_u + b_i (+ p_u . q_i)``; models without one of the
terms keep it at zero. An unknown user or item therefore falls back to the
terms that are known, which is Surprise's cold-start behaviour.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mfrec._threads import num_threads
from mfrec._validation import check_choice, check_float, check_int
from mfrec.data.idmap import IdMap
from mfrec.data.interactions import Interactions
from mfrec.data.readers import load
from mfrec.exceptions import NotFittedError, ParameterError, TrainingError
from mfrec.kernels.predict import score_pairs, top_k
from mfrec.kernels.sparse import csr_by_user

EpochCallback = Callable[[dict[str, Any]], None]

# Score blocks of users x all items are built this many cells at a time (64 MB of float32).
_SCORE_BLOCK_CELLS = 1 << 24


class Recommender:
    """Base class: fit / predict / recommend / similar_items / embeddings / save / load.

    Subclasses implement ``_fit(train, validation, callback)`` and set
    ``global_mean_``, ``user_bias_``, ``item_bias_`` and, for factor models,
    ``user_factors_`` and ``item_factors_``.
    """

    #: Names of the fitted arrays written by ``save`` besides the common ones.
    _saved_arrays: ClassVar[tuple[str, ...]] = ()
    #: False for implicit-feedback models, whose scores are preferences: rating metrics do not apply.
    predicts_ratings: ClassVar[bool] = True
    #: What ``recommend``'s ``score`` column holds for this model's rows: "rating" (the predicted
    #: rating, clipped to the scale), "preference" (an implicit model's unbounded ranking score) or
    #: "popularity" (the number of training interactions of the item).
    score_kind: ClassVar[str] = "rating"
    #: Whether :meth:`partial_fit` matches this model's objective (regularised squared error with
    #: biases, or the implicit-ALS objective); the others refuse it rather than silently change the model.
    supports_partial_fit: ClassVar[bool] = False

    # ------------------------------------------------------------------ parameters

    @classmethod
    def _param_names(cls) -> list[str]:
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        parameters = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in parameters if p.name != "self" and p.kind in kinds]

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Recommender:
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ParameterError(f"{type(self).__name__} has no parameter {name!r}; valid: {sorted(valid)}")
            setattr(self, name, value)
        return self

    def _check_params(self) -> None:
        """Raise ParameterError for an invalid hyper-parameter (subclasses extend)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        data: Any,
        *,
        validation: Any = None,
        callback: EpochCallback | None = None,
        track_ndcg: int | None = None,
        **read_options: Any,
    ) -> Recommender:
        """Learn from ``data`` and return ``self``.

        Parameters
        ----------
        data : Interactions, DataFrame, path or (users, items, ratings)
            Anything :func:`mfrec.data.load` reads; ``read_options`` go to it
            (``user_col=``, ``rating_scale=``, ``duplicates=`` ...).
        validation : same kinds, optional
            Held-out ratings whose RMSE is recorded per epoch in ``history_``.
        callback : callable, optional
            Called after every epoch with that epoch's ``history_`` row.
        track_ndcg : int, optional
            With a validation set, also record ``val_ndcg@K`` for K = ``track_ndcg``
            after every epoch of an iterative model (a ranking pass per epoch: slower).
        """
        self._check_params()
        if track_ndcg is not None:
            check_int("track_ndcg", track_ndcg, 1)
        self._track_ndcg = track_ndcg
        train = load(data, **read_options)
        valid = None if validation is None else load(validation, **read_options)
        given = train
        train, valid = self._prepare_validation(train, valid)
        self._remember(train, seen=given)
        started = time.perf_counter()
        self._fit(train, valid, callback)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        raise NotImplementedError

    def _prepare_validation(
        self, train: Interactions, validation: Interactions | None
    ) -> tuple[Interactions, Interactions | None]:
        """Hook for models that hold out part of ``train`` for early stopping."""
        return train, validation

    def _validation_rows(self, validation: Interactions) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the validation pairs in this model's maps (-1 where unknown)."""
        users = self.user_map_.lookup(validation.user_ids.to_ids(validation.user_idx), missing="negative")
        items = self.item_map_.lookup(validation.item_ids.to_ids(validation.item_idx), missing="negative")
        return users, items

    def _remember(self, train: Interactions, seen: Interactions) -> None:
        """Keep what every model needs at prediction time: id maps, scale, seen items, popularity.

        ``seen`` is everything given to ``fit``; it differs from ``train`` when part was
        held out for early stopping, and those held-out ratings must not be recommended.
        """
        self.user_map_: IdMap = train.user_ids
        self.item_map_: IdMap = train.item_ids
        self.rating_scale_ = tuple(float(v) for v in train.rating_scale)
        if seen is train:
            indptr, indices, ratings = train.user_csr()
        else:
            users = self.user_map_.lookup(seen.user_ids.to_ids(seen.user_idx), missing="negative")
            items = self.item_map_.lookup(seen.item_ids.to_ids(seen.item_idx), missing="negative")
            known = (users >= 0) & (items >= 0)
            indptr, indices, ratings = csr_by_user(users[known], items[known], seen.ratings[known], len(self.user_map_))
        self.seen_indptr_ = indptr
        self.seen_indices_ = indices
        # The ratings themselves: explanations weigh by them, partial_fit re-solves from them.
        self.seen_ratings_ = ratings
        self.item_counts_ = np.bincount(train.item_idx, minlength=train.n_items).astype(np.int64)
        titles = train.item_titles(train.item_ids.ids)
        self.item_labels_ = None if titles is None else np.asarray(titles, dtype=str)
        self.history_: list[dict[str, Any]] = []

    def _require_fitted(self) -> None:
        if not hasattr(self, "global_mean_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    # ------------------------------------------------------------------ scoring hooks

    @property
    def n_factors_(self) -> int:
        return 0 if getattr(self, "user_factors_", None) is None else int(self.user_factors_.shape[1])

    def _factors(self) -> tuple[np.ndarray, np.ndarray]:
        """User and item factor matrices; (n, 0) arrays for models without factors."""
        P = getattr(self, "user_factors_", None)
        if P is None:
            return (np.zeros((len(self.user_map_), 0), np.float32), np.zeros((len(self.item_map_), 0), np.float32))
        return P, self.item_factors_

    def _predict_rows(self, user_rows: np.ndarray, item_rows: np.ndarray) -> np.ndarray:
        P, Q = self._factors()
        out = np.empty(user_rows.shape[0], dtype=np.float32)
        score_pairs(user_rows, item_rows, P, Q, self.user_bias_, self.item_bias_, np.float32(self.global_mean_), out)
        self._fill_fallback(user_rows, item_rows, out)
        return np.clip(out, *self.rating_scale_) if self.predicts_ratings else out

    def _fill_fallback(self, user_rows: np.ndarray, item_rows: np.ndarray, out: np.ndarray) -> None:
        """Hook for models whose fallback is not the known bias terms (NMF has none: it uses the mean rating)."""

    def _score_items(self, user_rows: np.ndarray) -> np.ndarray:
        """Scores of every item for each user row, float32[len(user_rows), n_items] (for ranking)."""
        P, Q = self._factors()
        scores = P[user_rows] @ Q.T if P.shape[1] else np.zeros((len(user_rows), Q.shape[0]), np.float32)
        scores += self.item_bias_[None, :]
        scores += (self.global_mean_ + self.user_bias_[user_rows])[:, None]
        return scores.astype(np.float32, copy=False)

    # ------------------------------------------------------------------ public inference

    def predict(self, users: Any, items: Any, *, unknown: str = "fallback") -> np.ndarray:
        """Predicted ratings for aligned ``users`` and ``items``, clipped to the rating scale.

        ``unknown="fallback"``: an unknown user or item falls back to the known biases
        (or the global mean), and :meth:`predict_frame` says which predictions did;
        ``unknown="error"`` raises :class:`UnknownIdError` instead.

        Examples
        --------
        >>> model.predict(["alice", "bob"], ["Inception", "Frozen"])  # doctest: +SKIP
        array([4.8, 4.3], dtype=float32)
        """
        self._require_fitted()
        check_choice("unknown", unknown, ("error", "fallback"))
        if unknown == "error":
            self.user_map_.lookup(users, what="user")
            self.item_map_.lookup(items, what="item")
        user_rows, item_rows = self._pair_rows(users, items)
        return self._predict_rows(user_rows, item_rows)

    def predict_frame(self, users: Any, items: Any) -> pd.DataFrame:
        """Predictions as a DataFrame with ``known_user``, ``known_item`` and a ``fallback`` flag."""
        self._require_fitted()
        user_rows, item_rows = self._pair_rows(users, items)
        frame = pd.DataFrame(
            {
                "user": np.asarray(users) if not np.isscalar(users) else [users],
                "item": np.asarray(items) if not np.isscalar(items) else [items],
                "prediction": self._predict_rows(user_rows, item_rows),
                "known_user": user_rows >= 0,
                "known_item": item_rows >= 0,
            }
        )
        frame["fallback"] = ~(frame["known_user"] & frame["known_item"])
        return frame

    def _pair_rows(self, users: Any, items: Any) -> tuple[np.ndarray, np.ndarray]:
        user_rows = self.user_map_.lookup(users, missing="negative")
        item_rows = self.item_map_.lookup(items, missing="negative")
        if user_rows.shape != item_rows.shape:
            raise ParameterError(f"users and items must have the same length, got {len(user_rows)} and {len(item_rows)}")
        return user_rows, item_rows

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
            recommendation up most (see :meth:`explain`).

        Returns
        -------
        DataFrame with columns ``user, item, score, rank`` (rank 1 is best),
        ``source`` (which path answered: "model", "fold-in", "attributes" or
        "popularity") and ``score_kind`` (what ``score`` is on that row), plus
        ``title`` when the training data had titles. ``score_kind`` is "rating"
        for rating models: the predicted rating clipped to the scale, as
        :meth:`predict` gives it (ranking uses the unclipped value, so ties at the
        top of the scale keep their order); "preference" for implicit models (an
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
        item_rows, scores, counts = self._recommend_rows(user_rows[known], n, exclude_seen=exclude_seen, allowed=allowed)
        keep = np.arange(item_rows.shape[1])[None, :] < counts[:, None]
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

    def _recommend_folded(self, folded: Any, label: Any, n: int, exclude_seen: bool, allowed: np.ndarray,
                          explain: bool) -> pd.DataFrame:  # fmt: skip
        from mfrec.models.coldstart import score_folded

        rows, scores = self._top_of(score_folded(self, folded), folded.item_rows if exclude_seen else None, n, allowed)
        kind = "popularity" if folded.source == "popularity" else self.score_kind
        frame = pd.DataFrame({"user": [label] * rows.size, "item": self.item_map_.to_ids(rows),
                              "score": self._shown_scores(scores, kind), "rank": np.arange(1, rows.size + 1),
                              "source": folded.source, "score_kind": kind})  # fmt: skip
        if explain:
            frame["because"] = self._because_rows(rows, folded.item_rows, folded.values)
        if self.item_labels_ is not None:
            frame["title"] = self.item_labels_[rows]
        return frame

    def _top_of(self, scores: np.ndarray, exclude: np.ndarray | None, n: int,
                allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Top-``n`` item rows and scores of one user's score vector, leaving out the rows ``exclude``."""
        k = min(n, len(self.item_map_))
        out_items = np.full((1, k), -1, np.int32)
        out_scores = np.full((1, k), np.nan, np.float32)
        count = np.zeros(1, np.int32)
        seen = np.zeros(0, np.int32) if exclude is None else np.ascontiguousarray(exclude, dtype=np.int32)
        self._check_finite(scores)
        top_k(np.ascontiguousarray(scores, dtype=np.float32)[None, :], np.zeros(1, np.int32),
              np.array([0, seen.size], np.int64), seen, exclude is not None,
              np.ones(len(self.item_map_), bool) if allowed is None else allowed, k, out_items, out_scores, count)  # fmt: skip
        return out_items[0, : count[0]], out_scores[0, : count[0]]

    def _shown_scores(self, scores: np.ndarray, kind: str) -> np.ndarray:
        """Ranking scores as ``recommend`` shows them: predicted ratings are clipped like :meth:`predict`."""
        return np.clip(scores, *self.rating_scale_) if kind == "rating" else scores

    def _check_finite(self, scores: np.ndarray) -> None:
        """A diverged model must not answer with silently shortened top-N lists (top_k skips NaN and -inf)."""
        if not np.isfinite(scores).all():
            raise TrainingError(
                f"{type(self).__name__} produced non-finite scores ({int((~np.isfinite(scores)).sum())} NaN or "
                "infinite values): the model diverged; refit it with a lower learning rate or more regularization"
            )

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

    def _because_rows(self, item_rows: np.ndarray, rated: np.ndarray, values: np.ndarray) -> list[str]:
        from mfrec.models.coldstart import explain_rows

        names = self.item_labels_ if self.item_labels_ is not None else self.item_map_.ids
        reasons = explain_rows(self, item_rows, rated, values, 3)
        return ["; ".join(str(names[r]) for r, _, _ in reason) for reason in reasons]

    def explain(self, user: Any, item: Any, n: int = 3) -> pd.DataFrame:
        """The user's rated items that pushed ``item``'s score up most: "because you liked X".

        Each rated item j contributes (cosine similarity of the factors of ``item`` and
        j) x (how much the user liked j: the rating minus the user's own mean rating,
        or for implicit models the interaction's value, zero below ``threshold``);
        the ``n`` largest positive contributions are returned, largest first. An item
        the user rated below their mean is never a reason.

        Examples
        --------
        >>> model.explain("alice", "Interstellar")  # doctest: +SKIP
        """
        from mfrec.models.coldstart import explain_rows

        self._require_factors("explain")
        row = int(self.user_map_.lookup(user, what="user")[0])
        item_row = self.item_map_.lookup(item, what="item")
        lo, hi = self.seen_indptr_[row], self.seen_indptr_[row + 1]
        reasons = explain_rows(self, item_row, self.seen_indices_[lo:hi], self.seen_ratings_[lo:hi],
                               check_int("n", n, 1))[0]  # fmt: skip
        rated = np.array([r for r, _, _ in reasons], dtype=np.int64)
        ratings = dict(zip(self.seen_indices_[lo:hi].tolist(), self.seen_ratings_[lo:hi].tolist()))
        frame = pd.DataFrame({"because_item": self.item_map_.to_ids(rated),
                              "rating": [ratings[r] for r in rated.tolist()],
                              "similarity": [s for _, s, _ in reasons],
                              "contribution": [c for _, _, c in reasons]})  # fmt: skip
        if self.item_labels_ is not None:
            frame["title"] = self.item_labels_[rated]
        return frame

    # ------------------------------------------------------------------ cold start, updates

    def fold_in(self, ratings: Any, *, attributes: Any = None, regularization: float | None = None) -> Any:
        """Place a user who was not in the training data, from a handful of ratings; no retraining.

        Solves the user's factors and bias by regularised least squares with the
        items fixed (the ALS user step for one row; for implicit models, the
        weighted implicit objective). With ``attributes`` (after
        :meth:`fit_attributes`) the solve is pulled towards the attribute prior,
        and with no rating the prior alone answers; with neither, the result says
        "popularity". Ratings are checked like ``fit`` checks them (finite, and on
        the model's rating scale for rating models: a :class:`DataError`
        otherwise). Items the model does not know are left out with an
        :class:`~mfrec.models.coldstart.UnknownItemsWarning` naming them, and
        listed in the result's ``ignored_items``.

        Parameters
        ----------
        ratings : dict, Series, DataFrame (item, rating), list of (item, rating) or list of items
        attributes : dict, optional
        regularization : float, optional
            Overrides the model's own (per rating) regularisation for this solve.

        Returns
        -------
        FoldedUser with ``factors``, ``bias``, ``source``, ``ignored`` and ``ignored_items``; pass it
        to :meth:`predict_new_user`, or use ``recommend(new_user_ratings=...)``.

        Examples
        --------
        >>> user = model.fold_in({"Inception": 5, "Titanic": 2})  # doctest: +SKIP
        >>> user.source  # doctest: +SKIP
        'fold-in'
        """
        from mfrec.models.coldstart import fold_in

        return fold_in(self, ratings, attributes=attributes, regularization=regularization)

    def predict_new_user(self, folded: Any, items: Any) -> np.ndarray:
        """Predicted ratings (or scores) of ``items`` for a user returned by :meth:`fold_in`."""
        from mfrec.models.coldstart import predict_folded

        return predict_folded(self, folded, items)

    def fit_attributes(self, user_attributes: pd.DataFrame | None = None, item_attributes: pd.DataFrame | None = None,
                       *, regularization: float = 10.0) -> Recommender:  # fmt: skip
        """Learn how attributes map into the latent space, so users and items with no rating get an estimate.

        ``user_attributes`` / ``item_attributes``: tables indexed by the original ids
        (numeric, categorical and ``|``-separated multi-valued columns; see
        :mod:`mfrec.data.attributes`). A ridge regression from the encoded
        attributes to each trained row's (factors, bias) is fitted; then
        ``fold_in(..., attributes=...)``, ``recommend(user_attributes=...)`` and
        :meth:`add_items` use it.

        Examples
        --------
        >>> data = load("ml-100k")  # doctest: +SKIP
        >>> model.fit(data).fit_attributes(data.user_info[["age", "gender", "occupation"]])  # doctest: +SKIP
        """
        from mfrec.models.coldstart import fit_attributes

        check_float("regularization", regularization, 0.0)
        fit_attributes(self, user_attributes, item_attributes, regularization)
        return self

    def add_items(self, attributes: pd.DataFrame, titles: Sequence[Any] | None = None) -> Recommender:
        """Add brand-new items (the index of ``attributes``), placed by the item attribute map."""
        from mfrec.models.coldstart import add_items

        self._require_fitted()
        add_items(self, attributes, titles)
        return self

    def partial_fit(self, data: Any, *, passes: int = 1, **read_options: Any) -> Recommender:
        """Fold new ratings (of known or new users and items) into the model without a full refit.

        The new ratings are merged with the ones the model was trained on, then
        ``passes`` rounds of least-squares updates run over the affected users and
        then the affected items only, every other row fixed. Each update is an
        approximation: a few warm-started conjugate-gradient steps towards the
        row's exact regularised least-squares solution (new rows start at zero),
        not the solve itself. Implicit models apply their ``threshold`` as ``fit``
        does. Only models whose objective this update belongs to support it
        (``supports_partial_fit``: sgd, als, adam, implicit-als); the others (NMF's
        non-negative factors, BPR's ranking objective, the Bayesian posterior,
        truncated SVD, the baselines) raise :class:`ParameterError`: refit them. That is what a
        daily batch needs; a full refit is still due when the new data is a large
        share of the whole, or when tastes drift for users who did not rate again
        (their rows are never revisited), e.g. weekly.

        Examples
        --------
        >>> model.partial_fit(todays_ratings)  # doctest: +SKIP
        """
        from mfrec.models.coldstart import partial_fit

        if not self.supports_partial_fit:
            raise ParameterError(f"{type(self).__name__} does not support partial_fit (its objective is not the "
                                 "least-squares update partial_fit runs); refit it on all the data instead")  # fmt: skip
        check_int("passes", passes, 1)
        partial_fit(self, data, passes, **read_options)
        return self

    def _fold_in_regularization(self) -> tuple[float, float]:
        """(factor, bias) regularisation per rating for fold-in and partial_fit solves."""
        reg = getattr(self, "regularization", None)
        reg = 0.1 if reg is None else float(reg)
        bias_reg = getattr(self, "bias_regularization", None)
        return reg, reg if bias_reg is None else float(bias_reg)

    def _fits_user_bias(self) -> bool:
        return bool(getattr(self, "biased", True)) and self.predicts_ratings

    def _item_gram(self) -> np.ndarray:
        """Q^T Q, cached: the implicit fold-in needs it on every call."""
        from mfrec.kernels.implicit_als import gram

        if getattr(self, "_gram_cache", None) is None:
            self._gram_cache = gram(self._factors()[1])
        return self._gram_cache

    def _invalidate_caches(self) -> None:
        self._gram_cache = None

    @property
    def _attribute_encoders(self) -> dict[str, Any]:
        if "_encoders" not in self.__dict__:
            self._encoders: dict[str, Any] = {}
        return self._encoders

    def _allowed_mask(self, items: Sequence[Any] | None, exclude_items: Sequence[Any] | None) -> np.ndarray:
        n_items = len(self.item_map_)
        if items is not None:
            allowed = np.zeros(n_items, dtype=bool)
            allowed[self.item_map_.lookup(items, what="item")] = True
        else:
            allowed = np.ones(n_items, dtype=bool)
        if exclude_items is not None:
            rows = self.item_map_.lookup(exclude_items, missing="negative")
            allowed[rows[rows >= 0]] = False
        return allowed

    def _recommend_rows(
        self,
        user_rows: np.ndarray,
        n: int,
        *,
        exclude_seen: bool = True,
        allowed: np.ndarray | None = None,
        n_threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-n by rows: (item rows int32[U, n], scores float32[U, n], valid counts int32[U])."""
        n_items = len(self.item_map_)
        if allowed is None:
            allowed = np.ones(n_items, dtype=bool)
        k = min(n, n_items)
        out_items = np.full((len(user_rows), k), -1, dtype=np.int32)
        out_scores = np.full((len(user_rows), k), np.nan, dtype=np.float32)
        out_count = np.zeros(len(user_rows), dtype=np.int32)
        batch = max(1, _SCORE_BLOCK_CELLS // max(1, n_items))
        with num_threads(n_threads):
            for start in range(0, len(user_rows), batch):
                rows = np.ascontiguousarray(user_rows[start : start + batch], dtype=np.int32)
                scores = np.ascontiguousarray(self._score_items(rows), dtype=np.float32)
                self._check_finite(scores)
                sl = slice(start, start + len(rows))
                top_k(scores, rows, self.seen_indptr_, self.seen_indices_, exclude_seen, allowed, k,
                      out_items[sl], out_scores[sl], out_count[sl])  # fmt: skip
        return out_items, out_scores, out_count

    # ------------------------------------------------------------------ latent space

    def _require_factors(self, what: str) -> None:
        self._require_fitted()
        if self.n_factors_ == 0:
            raise ParameterError(f"{type(self).__name__} has no latent factors, so {what} is not defined for it")

    def _similar(self, vectors: np.ndarray, row: int, n: int) -> tuple[np.ndarray, np.ndarray, int]:
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        cosine = (vectors @ vectors[row]) / (norms * norms[row])
        allowed = np.ones(vectors.shape[0], dtype=bool)
        allowed[row] = False
        k = min(n, vectors.shape[0])
        items = np.empty((1, k), np.int32)
        scores = np.empty((1, k), np.float32)
        count = np.zeros(1, np.int32)
        empty_ptr = np.zeros(2, np.int64)
        top_k(cosine[None, :].astype(np.float32), np.zeros(1, np.int32), empty_ptr, np.zeros(0, np.int32), False,
              allowed, k, items, scores, count)  # fmt: skip
        return items[0, : count[0]], scores[0, : count[0]], int(count[0])

    def similar_items(self, item: Any, n: int = 10) -> pd.DataFrame:
        """The ``n`` items closest to ``item`` by cosine similarity of their factors.

        Examples
        --------
        >>> model.similar_items("Inception", n=2)  # doctest: +SKIP
        """
        self._require_factors("similar_items")
        row = int(self.item_map_.lookup(item, what="item")[0])
        rows, sims, _ = self._similar(self.item_factors_, row, check_int("n", n, 1))
        frame = pd.DataFrame({"item": np.repeat(self.item_map_.to_ids([row]), len(rows)),
                              "similar_item": self.item_map_.to_ids(rows), "similarity": sims})  # fmt: skip
        if self.item_labels_ is not None:
            frame["title"] = self.item_labels_[rows]
        return frame

    def similar_users(self, user: Any, n: int = 10) -> pd.DataFrame:
        """The ``n`` users closest to ``user`` by cosine similarity of their factors."""
        self._require_factors("similar_users")
        row = int(self.user_map_.lookup(user, what="user")[0])
        rows, sims, _ = self._similar(self.user_factors_, row, check_int("n", n, 1))
        return pd.DataFrame({"user": np.repeat(self.user_map_.to_ids([row]), len(rows)),
                             "similar_user": self.user_map_.to_ids(rows), "similarity": sims})  # fmt: skip

    def embeddings(self, side: str = "item") -> pd.DataFrame:
        """Factors of ``side`` ("user" or "item") as a DataFrame indexed by the original ids."""
        self._require_factors("embeddings")
        if side not in ("user", "item"):
            raise ParameterError(f"side must be 'user' or 'item', got {side!r}")
        factors, id_map = (self.user_factors_, self.user_map_) if side == "user" else (self.item_factors_, self.item_map_)
        return pd.DataFrame(factors, index=pd.Index(id_map.ids, name=side),
                            columns=[f"f{j}" for j in range(factors.shape[1])])  # fmt: skip

    def history_frame(self) -> pd.DataFrame:
        """``history_`` as a DataFrame, one row per epoch."""
        return pd.DataFrame(self.history_)

    # ------------------------------------------------------------------ persistence

    def save(self, path: Any) -> Any:
        """Write the model to the folder ``path`` (arrays + JSON, no pickle); return the path."""
        from mfrec.persistence import save_model

        return save_model(self, path)

    @classmethod
    def load(cls, path: Any) -> Recommender:
        """Read a model written by :meth:`save`."""
        from mfrec.persistence import load_model

        model = load_model(path)
        if not isinstance(model, cls):
            raise ParameterError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model
