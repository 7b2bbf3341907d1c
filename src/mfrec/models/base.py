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
from mfrec._validation import check_int
from mfrec.data.idmap import IdMap
from mfrec.data.interactions import Interactions
from mfrec.data.readers import load
from mfrec.exceptions import NotFittedError, ParameterError
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
            indptr, indices, _ = train.user_csr()
        else:
            users = self.user_map_.lookup(seen.user_ids.to_ids(seen.user_idx), missing="negative")
            items = self.item_map_.lookup(seen.item_ids.to_ids(seen.item_idx), missing="negative")
            known = (users >= 0) & (items >= 0)
            indptr, indices, _ = csr_by_user(users[known], items[known], seen.ratings[known], len(self.user_map_))
        self.seen_indptr_ = indptr
        self.seen_indices_ = indices
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
        return np.clip(out, *self.rating_scale_)

    def _score_items(self, user_rows: np.ndarray) -> np.ndarray:
        """Scores of every item for each user row, float32[len(user_rows), n_items] (for ranking)."""
        P, Q = self._factors()
        scores = P[user_rows] @ Q.T if P.shape[1] else np.zeros((len(user_rows), Q.shape[0]), np.float32)
        scores += self.item_bias_[None, :]
        scores += (self.global_mean_ + self.user_bias_[user_rows])[:, None]
        return scores.astype(np.float32, copy=False)

    # ------------------------------------------------------------------ public inference

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Predicted ratings for aligned ``users`` and ``items``, clipped to the rating scale.

        An unknown user or item falls back to the known biases (or the global mean);
        :meth:`predict_frame` says which predictions did.

        Examples
        --------
        >>> model.predict(["alice", "bob"], ["Inception", "Frozen"])  # doctest: +SKIP
        array([4.8, 4.3], dtype=float32)
        """
        self._require_fitted()
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
        users: Any,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        items: Sequence[Any] | None = None,
        exclude_items: Sequence[Any] | None = None,
    ) -> pd.DataFrame:
        """Top-``n`` items for one user or many, best first.

        Parameters
        ----------
        users : id or list of ids
            Users known to the model (an unknown id raises :class:`UnknownIdError`).
        n : int, default=10
        exclude_seen : bool, default=True
            Leave out items the user rated in training. A user with fewer than
            ``n`` unseen items gets fewer rows, never seen ones.
        items : list of item ids, optional
            Only recommend among these (an allow-list).
        exclude_items : list of item ids, optional
            Never recommend these (a deny-list).

        Returns
        -------
        DataFrame with columns ``user, item, score, rank`` (rank 1 is best), plus
        ``title`` when the training data had titles. ``score`` is the model's raw
        score (the unclipped predicted rating for rating models).

        Examples
        --------
        >>> model.recommend("alice", n=3)  # doctest: +SKIP
        """
        self._require_fitted()
        n = check_int("n", n, 1)
        user_rows = self.user_map_.lookup(users, what="user")
        item_rows, scores, counts = self._recommend_rows(
            user_rows, n, exclude_seen=exclude_seen, allowed=self._allowed_mask(items, exclude_items)
        )
        keep = np.arange(item_rows.shape[1])[None, :] < counts[:, None]
        user_out = np.repeat(self.user_map_.to_ids(user_rows), counts)
        frame = pd.DataFrame(
            {
                "user": user_out,
                "item": self.item_map_.to_ids(item_rows[keep]),
                "score": scores[keep],
                "rank": np.concatenate([np.arange(1, c + 1) for c in counts]) if counts.sum() else np.zeros(0, int),
            }
        )
        if self.item_labels_ is not None:
            frame["title"] = self.item_labels_[item_rows[keep]]
        return frame

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
