"""Cold start and updates as model methods: fold-in, attribute priors, new items, partial_fit.

The numerics live in :mod:`mfrec.models.coldstart`; this mixin is the public face.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mfrec._validation import check_float, check_int
from mfrec.exceptions import ParameterError
from mfrec.models.pick import extend, refresh_users
from mfrec.models.solvers import bias_constants

if TYPE_CHECKING:
    from mfrec.models.base import Recommender


class Updates:
    """Mixin: ``fold_in``, ``predict_new_user``, ``fit_attributes``, ``add_items``, ``partial_fit``."""

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
        ratings : dict, Series, DataFrame (item, rating), list of (item, rating), (n, 2) array, or
            (implicit models only: a rating model refuses it) a list of items, each read as 1
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

    def fit_attributes(
        self,
        user_attributes: pd.DataFrame | None = None,
        item_attributes: pd.DataFrame | None = None,
        *,
        regularization: float = 10.0,
    ) -> Recommender:
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

        The first call after an install compiles its numba kernels (several seconds, once:
        they are cached on disk); each compilation is logged at INFO on the ``mfrec`` logger.

        Examples
        --------
        >>> model.partial_fit(todays_ratings)  # doctest: +SKIP
        """
        from mfrec.models.coldstart import partial_fit

        if not self.supports_partial_fit:
            raise ParameterError(
                f"{type(self).__name__} does not support partial_fit (its objective is not the "
                "least-squares update partial_fit runs); refit it on all the data"
            )
        check_int("passes", passes, 1)
        before = np.diff(self.seen_indptr_)
        partial_fit(self, data, passes, **read_options)
        after = np.diff(self.seen_indptr_)
        changed = np.flatnonzero(after[: before.size] != before)
        refresh_users(self, np.concatenate([changed, np.arange(before.size, after.size)]))  # their picks changed
        return self

    def _fold_in_regularization(self) -> tuple[float, float]:
        """(factor, bias) regularisation per rating for fold-in and partial_fit solves."""
        reg = getattr(self, "regularization", None)
        reg = 0.1 if reg is None else float(reg)
        bias_reg = getattr(self, "bias_regularization", None)
        return reg, reg if bias_reg is None else float(bias_reg)

    def _fold_in_constants(self) -> tuple[float, float]:
        """The per-row constant regularisation (factors, user bias) of fold-in solves, 0 for models without it."""
        return float(getattr(self, "constant_regularization", 0.0)), bias_constants(self)[0]

    def _fold_in_center(self, item_rows: np.ndarray) -> tuple[np.ndarray, float] | None:
        """Where a new user's (factors, bias) solve is centred given their revealed items (None: the origin).

        SVD++-style models answer with the implicit sum of those items, which is part of the user.
        """
        return None

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
        self._average_cache = None

    @property
    def _attribute_encoders(self) -> dict[str, Any]:
        if "_encoders" not in self.__dict__:
            self._encoders: dict[str, Any] = {}
        return self._encoders

    # The model's own state changes that fold-in, attributes and updates need (coldstart computes, the model stores).

    def _add_ids(
        self,
        user_ids: Any = (),
        item_ids: Any = (),
        *,
        item_factors: np.ndarray | None = None,
        item_bias: np.ndarray | None = None,
        item_labels: Any = None,
    ) -> None:
        """Append users and items not known yet: zero factors and biases, or the given item rows (in order)."""
        n_users_old, n_items_old = len(self.user_map_), len(self.item_map_)
        self.user_map_ = self.user_map_.extend(np.asarray(user_ids))
        self.item_map_ = self.item_map_.extend(np.asarray(item_ids))
        extra_users, extra_items = len(self.user_map_) - n_users_old, len(self.item_map_) - n_items_old
        k = self.n_factors_
        new_bias = np.zeros(extra_items, np.float32) if item_bias is None else item_bias
        self.user_bias_ = np.concatenate([self.user_bias_, np.zeros(extra_users, np.float32)]).astype(np.float32)
        self.item_bias_ = np.concatenate([self.item_bias_, new_bias]).astype(np.float32)
        if k:
            new_factors = np.zeros((extra_items, k), np.float32) if item_factors is None else item_factors
            self.user_factors_ = np.vstack([self.user_factors_, np.zeros((extra_users, k), np.float32)])
            self.item_factors_ = np.vstack([self.item_factors_, new_factors]).astype(np.float32)
        self.item_counts_ = np.concatenate([self.item_counts_, np.zeros(extra_items, np.int64)])
        extend(self, extra_users, extra_items)
        if self.item_labels_ is not None and extra_items:
            labels = item_labels
            if labels is None:
                labels = self.item_map_.to_ids(np.arange(n_items_old, len(self.item_map_)))
            self.item_labels_ = np.concatenate([self.item_labels_.astype(str), np.asarray(labels).astype(str)])
        self._invalidate_caches()

    def _set_seen(self, indptr: np.ndarray, indices: np.ndarray, ratings: np.ndarray) -> None:
        """Replace the seen ratings (CSR by user) and the item counts derived from them."""
        self.seen_indptr_, self.seen_indices_, self.seen_ratings_ = indptr, indices, ratings
        self.item_counts_ = np.bincount(indices, minlength=len(self.item_map_)).astype(np.int64)
        self._invalidate_caches()

    def _set_rows(self, side: str, rows: np.ndarray, factors: np.ndarray, bias: np.ndarray) -> None:
        """Overwrite the factors and biases of some users (``side="user"``) or items."""
        getattr(self, f"{side}_factors_")[rows] = factors
        getattr(self, f"{side}_bias_")[rows] = bias
        self._invalidate_caches()

    def _set_attribute_map(self, side: str, encoder: Any, weights: np.ndarray) -> None:
        setattr(self, f"{side}_attribute_weights_", weights)
        self._attribute_encoders[side] = encoder
