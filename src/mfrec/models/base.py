"""The estimator contract every mfrec model follows.

A model stores its hyper-parameters in ``__init__`` (checked against its
``param_spec``; nothing else happens there), learns in ``fit`` and keeps what it
learned in attributes ending in ``_``. Callers speak original ids; rows are an
internal detail.

Every model predicts ``mu + b_u + b_i (+ p_u . q_i)``; models without one of the
terms keep it at zero. An unknown user or item therefore falls back to the
terms that are known, which is Surprise's cold-start behaviour.

Here: the scorer core (fit, fitted arrays, ``score_items``, ``predict``); recommending,
updates and the latent space are mixins (models/topn, updates, latent; docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mfrec._validation import check_choice, check_int
from mfrec.data.columns import timestamps_column
from mfrec.data.idmap import IdMap
from mfrec.data.interactions import Interactions
from mfrec.data.sources import load
from mfrec.exceptions import NotFittedError, ParameterError, warn_user
from mfrec.kernels.predict import score_pairs
from mfrec.kernels.sparse import csr_by_user
from mfrec.models.latent import Latent
from mfrec.models.params import Parametrized
from mfrec.models.pick import fit_ranker
from mfrec.models.topn import TopN
from mfrec.models.updates import Updates

EpochCallback = Callable[[dict[str, Any]], None]


class Recommender(Parametrized, TopN, Updates, Latent):
    """Base class: fit / predict / recommend / similar_items / embeddings / save / load.

    Subclasses declare their hyper-parameters in ``param_spec`` (models/params.py),
    implement ``_fit(train, validation, callback)`` and set
    ``global_mean_``, ``user_bias_``, ``item_bias_`` and, for factor models,
    ``user_factors_`` and ``item_factors_``.
    """

    #: Names of the fitted arrays written by ``save`` besides the common ones.
    _saved_arrays: ClassVar[tuple[str, ...]] = ()
    #: Fitted arrays written by ``save`` when the fit made them (time effects need timestamps, say).
    _optional_saved_arrays: ClassVar[tuple[str, ...]] = ()
    #: False for implicit-feedback models, whose scores are preferences: rating metrics do not apply.
    predicts_ratings: ClassVar[bool] = True
    #: What ``recommend``'s ``score`` column holds for this model's rows: "rating" (the predicted
    #: rating, clipped to the scale), "preference" (an implicit model's unbounded ranking score) or
    #: "popularity" (the number of training interactions of the item).
    score_kind: ClassVar[str] = "rating"
    #: Whether :meth:`partial_fit` matches this model's objective (regularised squared error with
    #: biases, or the implicit-ALS objective); the others refuse it rather than silently change the model.
    supports_partial_fit: ClassVar[bool] = False

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        data: Any,
        *,
        validation: Any = None,
        callback: EpochCallback | None = None,
        track_ndcg: int | None = None,
        auto_budget: float | None = None,
        auto_progress: Callable[[int, float, dict[str, Any]], None] | None = None,
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
        auto_budget, auto_progress : optional
            With ``auto=True`` (models/auto.py): the seconds the search may take (default: about 4 default
            fits) and a function called after every trial with (trial, best validation RMSE, its values).

        A fit that holds out part of ``data`` (``auto``, early stopping) keeps the held-out scores of the model,
        the bias baseline and popularity in ``held_out_`` and warns when the model does not beat them.
        """
        self.check_params()
        if track_ndcg is not None:
            check_int("track_ndcg", track_ndcg, 1)
        self._track_ndcg = track_ndcg
        train = load(data, **read_options)
        valid = None if validation is None else load(validation, **read_options)
        given = train
        self._warn_if_nothing_to_learn(train)
        started = time.perf_counter()
        tuned = None
        if getattr(self, "auto", False):
            from mfrec.models.auto import tune

            tuned = tune(self, train, budget_seconds=auto_budget, progress=auto_progress)
            self.set_params(**tuned["params"])
        train, valid = self._prepare_validation(train, valid)
        self._remember(train, seen=given)
        fit_ranker(self, given)  # first, so per-epoch ranking metrics measure the lists users get
        self._fit(train, valid, callback)
        self._average_cache = None  # the average user and item of the new factors
        self.fit_seconds_ = time.perf_counter() - started
        self.held_out_ = None
        if tuned is not None:
            self.auto_params_, self.auto_result_ = tuned["params"], tuned
            self.held_out_ = tuned.get("held_out")
        elif train is not given and valid is not None and validation is None:
            from mfrec.models.auto import held_out_report

            self.held_out_ = held_out_report(self, train, valid)
        return self

    def _warn_if_nothing_to_learn(self, train: Interactions) -> None:
        """Warn when a rating model gets one rating value throughout (implicit data read without a rating column)."""
        if self.score_kind != "rating" or len(train) == 0:
            return
        low, high = float(train.ratings.min()), float(train.ratings.max())
        if low != high and train.is_implicit:  # counts of repeated interactions, read without a rating column
            warn_user(
                f"the training data are interaction counts (no rating column), not ratings: {type(self).__name__} "
                "will predict counts; for clicks, plays or purchases use an implicit-feedback model "
                "(implicit-als or bpr)"
            )
        if low == high:
            warn_user(
                f"every rating in the training data is {low:g} (implicit data, or no rating column?): "
                f"{type(self).__name__} predicts ratings and has nothing to learn from; for clicks, plays or "
                "purchases use an implicit-feedback model (implicit-als or bpr)"
            )

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
        self.ratings_log_id_: int | None = seen.ratings_log_id  # saved: the service folds in after it
        self.rating_scale_ = tuple(float(v) for v in train.rating_scale)
        self.rating_scale_source_: str | None = getattr(seen, "scale_source", None)
        if seen is train:
            indptr, indices, ratings = train.user_csr()
        else:
            users, items = self._validation_rows(seen)
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

    def _base_scorer(self) -> bool:
        """Whether the scores are the base ``mu + b_u + b_i + p_u . q_i``: no scorer hook is overridden, by the
        class or on the instance, so :mod:`mfrec.ranking` may form them tile by tile from the factors."""
        hooks = ("score_items", "_score_items", "_factors")
        return not any(
            name in vars(self) or getattr(type(self), name) is not getattr(Recommender, name) for name in hooks
        )

    def _factors(self) -> tuple[np.ndarray, np.ndarray]:
        """User and item factor matrices; (n, 0) arrays for models without factors."""
        P = getattr(self, "user_factors_", None)
        if P is None:
            return (np.zeros((len(self.user_map_), 0), np.float32), np.zeros((len(self.item_map_), 0), np.float32))
        return P, self.item_factors_

    def _predict_rows(self, user_rows: np.ndarray, item_rows: np.ndarray, timestamps: Any = None) -> np.ndarray:
        P, Q = self._factors()
        out = np.empty(user_rows.shape[0], dtype=np.float32)
        score_pairs(user_rows, item_rows, P, Q, self.user_bias_, self.item_bias_, np.float32(self.global_mean_), out)
        pair_terms = self._pair_terms(user_rows, item_rows)
        if pair_terms is not None:
            out += pair_terms
        if self.predicts_ratings:
            self._add_average_rows(user_rows, item_rows, P, Q, out)
        if timestamps is not None:
            terms = self._time_terms(user_rows, item_rows, timestamps)
            if terms is not None:
                out += terms.astype(np.float32)
        self._fill_fallback(user_rows, item_rows, out)
        return np.clip(out, *self.rating_scale_) if self.predicts_ratings else out

    def _add_average_rows(
        self, user_rows: np.ndarray, item_rows: np.ndarray, P: np.ndarray, Q: np.ndarray, out: np.ndarray
    ) -> None:
        """An unknown user is answered as the average known user (mean factors and bias), an unknown item alike.

        The means are not zero (a Bayesian model samples them; any fit can drift), so ``mu + b_i`` alone is
        not the average user's rating: on ml-100k split by time, where most test users are new, it cost
        bayesian 0.04 RMSE (1.0598 against 1.0202) and sgd 0.007.
        """
        new_user, new_item = user_rows < 0, item_rows < 0
        if not (new_user.any() or new_item.any()) or len(self.user_bias_) == 0 or len(self.item_bias_) == 0:
            return
        p_bar, bu_bar, q_bar, bi_bar = self.average_rows()
        only_user, only_item, both = new_user & ~new_item, new_item & ~new_user, new_user & new_item
        out[only_user] += bu_bar + Q[item_rows[only_user]] @ p_bar
        out[only_item] += bi_bar + P[user_rows[only_item]] @ q_bar
        out[both] += bu_bar + bi_bar + float(p_bar @ q_bar)

    def average_rows(self) -> tuple[np.ndarray, float, np.ndarray, float]:
        """(mean user factors, mean user bias, mean item factors, mean item bias): the fallback's average user
        and item (cached until the factors change)."""
        cache = getattr(self, "_average_cache", None)
        if cache is None:
            P, Q = self._factors()
            cache = self._average_cache = (
                P.mean(axis=0, dtype=np.float64), float(np.mean(self.user_bias_, dtype=np.float64)),
                Q.mean(axis=0, dtype=np.float64), float(np.mean(self.item_bias_, dtype=np.float64)),
            )  # fmt: skip
        return cache

    def _fill_fallback(self, user_rows: np.ndarray, item_rows: np.ndarray, out: np.ndarray) -> None:
        """Hook for models whose fallback is not the known bias terms (NMF has none: it uses the mean rating)."""

    def _pair_terms(self, user_rows: np.ndarray, item_rows: np.ndarray) -> np.ndarray | None:
        """Hook: what a model adds to a predicted rating beyond ``mu + b_u + b_i + p_u . q_i`` (None: nothing)."""
        return None

    def _time_terms(self, user_rows: np.ndarray, item_rows: np.ndarray, timestamps: Any) -> np.ndarray | None:
        """Hook: what time effects add to each prediction at ``timestamps`` (None: the model has none)."""
        return None

    def score_items(self, user_rows: np.ndarray) -> np.ndarray:
        """Ranking scores of every item for each internal user row, float32[len(user_rows), n_items].

        The scorer core :mod:`mfrec.ranking` composes candidate selection and top-N around.
        """
        return self._score_items(np.asarray(user_rows, dtype=np.int32))

    def _score_items(self, user_rows: np.ndarray) -> np.ndarray:
        """Scores of every item for each user row (subclasses override this hook)."""
        P, Q = self._factors()
        scores = P[user_rows] @ Q.T if P.shape[1] else np.zeros((len(user_rows), Q.shape[0]), np.float32)
        scores += self.item_bias_[None, :]
        scores += (self.global_mean_ + self.user_bias_[user_rows])[:, None]
        return scores.astype(np.float32, copy=False)

    def predict(self, users: Any, items: Any, *, unknown: str = "fallback", timestamps: Any = None) -> np.ndarray:
        """Predicted ratings for aligned ``users`` and ``items``, clipped to the rating scale.

        ``timestamps`` (unix seconds, aligned): when each rating would be given, for models with time
        effects (``BayesianMF`` fitted on timestamped data); the others ignore it. Without it such a
        model predicts for "now".

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
        return self._predict_rows(user_rows, item_rows, _aligned_times(timestamps, user_rows))

    def predict_rows(self, user_rows: np.ndarray, item_rows: np.ndarray, *, timestamps: Any = None) -> np.ndarray:
        """:meth:`predict` by internal rows (-1: unknown, the fallback answers), for callers that mapped ids once."""
        self._require_fitted()
        user_rows = np.asarray(user_rows, dtype=np.int32)
        item_rows = np.asarray(item_rows, dtype=np.int32)
        return self._predict_rows(user_rows, item_rows, _aligned_times(timestamps, user_rows))

    def predict_frame(
        self, users: Any, items: Any, *, unknown: str = "fallback", timestamps: Any = None
    ) -> pd.DataFrame:
        """Predictions as a DataFrame with ``known_user``, ``known_item`` and a ``fallback`` flag.

        ``unknown`` and ``timestamps`` are :meth:`predict`'s: ``"fallback"`` answers an unknown user or
        item with the fallback and sets ``fallback=True`` on its row; ``"error"`` raises
        :class:`UnknownIdError` naming the id.

        Examples
        --------
        >>> model.predict_frame(["Alice", "ghost"], ["Titanic", "Titanic"])  # doctest: +SKIP
            user     item  prediction  known_user  known_item  fallback
        0  Alice  Titanic    2.1         True        True     False
        1  ghost  Titanic    3.6        False        True      True
        """
        self._require_fitted()
        check_choice("unknown", unknown, ("error", "fallback"))
        if unknown == "error":
            self.user_map_.lookup(users, what="user")
            self.item_map_.lookup(items, what="item")
        user_rows, item_rows = self._pair_rows(users, items)
        frame = pd.DataFrame(
            {
                "user": np.asarray(users) if not np.isscalar(users) else [users],
                "item": np.asarray(items) if not np.isscalar(items) else [items],
                "prediction": self._predict_rows(user_rows, item_rows, _aligned_times(timestamps, user_rows)),
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
            raise ParameterError(
                f"users and items must have the same length, got {len(user_rows)} and {len(item_rows)}"
            )
        return user_rows, item_rows


def _aligned_times(timestamps: Any, rows: np.ndarray) -> np.ndarray | None:
    """``timestamps`` as int64 unix seconds, one per prediction (a single value applies to all); None passes."""
    if timestamps is None:
        return None
    values = np.atleast_1d(np.asarray(timestamps))
    if values.size == 1 and rows.size != 1:
        values = np.repeat(values, rows.size)
    if values.shape != rows.shape:
        raise ParameterError(f"timestamps must have one value per prediction ({rows.size}), got {values.size}")
    return timestamps_column(values, "timestamps")
