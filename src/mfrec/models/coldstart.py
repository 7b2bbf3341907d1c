"""Cold start and incremental updates for any fitted model.

* fold-in: a new user's factors and bias by one regularised least-squares solve
  with the items fixed (the ALS user step for one row), so no retraining;
* the popularity fallback for a user with nothing known;
* attribute priors: a ridge map from user attributes into the latent space,
  learned after training, which gives a brand-new user a starting point and
  pulls a fold-in with few ratings towards it;
* ``partial_fit``: new ratings merged in, then a few alternating least-squares
  passes over the affected users and items only.

Explanations (which of the user's rated items pushed an item up) are in :mod:`mfrec.models.explain`.

The functions take the model as their first argument; :class:`Recommender`
exposes them as methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mfrec.data.attributes import AttributeEncoder, ridge_map
from mfrec.data.idmap import plain
from mfrec.exceptions import DataError, ParameterError, warn_user
from mfrec.models.revealed import check_values, parse_ratings
from mfrec.models.solvers import bias_constants

if TYPE_CHECKING:
    from mfrec.models.base import Recommender

SOURCES = ("model", "fold-in", "attributes", "popularity")
#: Shrinkage of a fold-in, in ratings: the bias as in the biases baseline (Koren's
#: damped means), the factors by this many ratings' worth of the model's penalty.
#: Chosen on the ML-100k cold-start protocol (bias 2/5/10 x factors 0/5/20 ratings).
BIAS_PSEUDO = 2.0
FACTOR_PSEUDO = 5.0
#: Conjugate-gradient steps per row and pass in partial_fit (warm-started; new rows start at 0).
_CG_STEPS = 4


@dataclass(repr=False)
class FoldedUser:
    """A user who was not in the training data, placed in the model's latent space.

    ``source`` says what answered: "fold-in" (solved from the ratings given),
    "attributes" (no known rating: the attribute prior alone) or "popularity"
    (nothing known: recommendations fall back to the most popular items).
    Its repr is one line of facts, no arrays:

    >>> FoldedUser(np.zeros(64, np.float32), 0.1, np.array([3, 7], np.int32), np.array([5.0, 4.0]), "fold-in")
    FoldedUser(source='fold-in', from 2 items (mean 4.5), k=64, bias=+0.100)
    """

    factors: np.ndarray
    bias: float
    item_rows: np.ndarray
    values: np.ndarray
    source: str
    ignored: int = 0
    #: The ids of the revealed items the model does not know (left out of the solve, with a warning).
    ignored_items: tuple = ()

    def __repr__(self) -> str:
        n = self.item_rows.size
        used = f"from {n} item{'s' * (n != 1)}" + (f" (mean {self.values.mean():.3g})" if n else "")
        ignored = f", {self.ignored} unknown item{'s' * (self.ignored != 1)} ignored" if self.ignored else ""
        return f"FoldedUser(source={self.source!r}, {used}, k={self.factors.shape[0]}, bias={self.bias:+.3f}{ignored})"


class UnknownItemsWarning(UserWarning):
    """Revealed ratings named items the model does not know; they were left out (listed in ``ignored_items``)."""


def fold_in(
    model: Recommender, ratings: Any, *, attributes: Any = None, regularization: float | None = None
) -> FoldedUser:
    """See :meth:`Recommender.fold_in`."""
    model._require_fitted()
    ids, values = parse_ratings(ratings if ratings is not None else [])
    if values is None and len(ids) and model.predicts_ratings:  # ones would be 1-star ratings on a 1-5 scale
        raise DataError(
            f"{type(model).__name__} predicts ratings: give each item's rating, e.g. {{{plain(ids[0])!r}: 4}}; "
            "a list of items without ratings ('interacted with') is for implicit models (implicit-als, bpr)"
        )
    values = check_values(values, len(ids))
    if model.predicts_ratings and len(ids):
        low, high = model.rating_scale_
        bad = (values < low) | (values > high)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"new-user rating {values[j]:g} for item {plain(ids[j])!r} is outside the model's rating scale "
                f"[{low:g}, {high:g}]; give ratings on the scale the model was trained on"
            )
    rows = model.item_map_.lookup(ids, missing="negative") if len(ids) else np.zeros(0, np.int32)
    known = rows >= 0
    unknown_ids = tuple(np.asarray(ids)[~known].tolist())
    if unknown_ids:
        warn_user(
            f"{len(unknown_ids)} revealed item(s) unknown to the model were ignored: "
            f"{list(unknown_ids[:10])}{' ...' if len(unknown_ids) > 10 else ''}",
            UnknownItemsWarning,
        )
    rows, values = rows[known].astype(np.int32), values[known]
    prior = None if attributes is None else user_prior(model, attributes)
    k = model.n_factors_
    if rows.size == 0 and prior is None:
        return FoldedUser(np.zeros(k, np.float32), 0.0, rows, values, "popularity", len(unknown_ids), unknown_ids)
    factors, bias = _solve(model, rows, values, prior, regularization)
    source = "fold-in" if rows.size else "attributes"
    return FoldedUser(factors, bias, rows, values, source, len(unknown_ids), unknown_ids)


def _solve(
    model: Recommender,
    rows: np.ndarray,
    values: np.ndarray,
    prior: tuple[np.ndarray, float] | None,
    regularization: float | None,
) -> tuple[np.ndarray, float]:
    """The ridge solve for one new user (explicit or implicit objective), centred on ``prior``."""
    Q = model._factors()[1]
    k = Q.shape[1]
    p0 = np.zeros(k) if prior is None else prior[0].astype(np.float64)
    b0 = 0.0 if prior is None else float(prior[1])
    center = model._fold_in_center(rows)  # SVD++: the implicit sum of the revealed items
    if center is not None:
        p0, b0 = p0 + center[0], b0 + center[1]
    lam, lam_bias = model._fold_in_regularization()
    if regularization is not None:
        lam = lam_bias = regularization
    Y = Q[rows].astype(np.float64)
    if not model.predicts_ratings:  # implicit: (YtY + sum w y y^T + lam I) x = sum (1 + w) y + lam x0
        liked = _liked(model, values)
        Y, values = Y[liked], values[liked]
        weights = model._fold_in_weights(values)
        A = model._item_gram().astype(np.float64) + (Y * weights[:, None]).T @ Y + lam * np.eye(k)
        b = Y.T @ (1.0 + weights) + lam * p0
        return np.linalg.solve(A, b).astype(np.float32), 0.0
    n = rows.size
    targets = values - model.global_mean_ - model.item_bias_[rows]
    biased = model._fits_user_bias()
    d = k + 1 if biased else k
    G = np.hstack([Y, np.ones((rows.size, 1))]) if biased else Y
    A = G.T @ G
    b = G.T @ targets
    # Per-rating penalties (as in training) plus a few pseudo-ratings' worth, so that one or two
    # ratings do not swing the bias and factors to fit them exactly.
    lam_f = lam * n + FACTOR_PSEUDO * lam
    lam_b = lam_bias * n + BIAS_PSEUDO
    const, const_bias = _constants(model)
    if regularization is None and (const or const_bias):  # the model's own per-row constants: the training solve
        lam_f, lam_b = lam * n + const, lam_bias * n + const_bias
    if getattr(model, "nonnegative_factors", False):  # NMF: the same ridge objective, factors kept >= 0
        from scipy.optimize import nnls

        # A free bias is two non-negative columns, b = b+ - b-, with one penalty row on their difference.
        width = k + 2 if biased else k
        stacked = np.zeros((n + k + int(biased), width))
        stacked[:n, :k], stacked[n : n + k, :k] = Y, np.sqrt(lam_f) * np.eye(k)
        rhs = [targets, np.sqrt(lam_f) * np.maximum(p0, 0.0)]
        if biased:
            stacked[:n, k], stacked[:n, k + 1] = 1.0, -1.0
            stacked[-1, k], stacked[-1, k + 1] = np.sqrt(lam_b), -np.sqrt(lam_b)
            rhs.append([np.sqrt(lam_b) * b0])
        x = nnls(stacked, np.concatenate(rhs))[0]
        return x[:k].astype(np.float32), float(x[k] - x[k + 1]) if biased else 0.0
    A[np.arange(k), np.arange(k)] += lam_f
    b[:k] += lam_f * p0
    if biased:
        A[k, k] += lam_b
        b[k] += lam_b * b0
    solution = np.linalg.solve(A + 1e-9 * np.eye(d), b)
    return solution[:k].astype(np.float32), float(solution[k]) if biased else 0.0


def predict_folded(model: Recommender, folded: FoldedUser, items: Any) -> np.ndarray:
    """Predicted ratings of ``items`` for a folded user (unknown items: the global mean + the user's bias)."""
    # The popularity fallback has zero factors and bias, so this is the item's bias over the global mean.
    rows = model.item_map_.lookup(items, missing="negative")
    if folded.source == "popularity":  # nothing known about the user: the model's documented fallback
        return model._predict_rows(np.full(rows.shape, -1, np.int32), rows)
    safe = np.maximum(rows, 0)
    Q = model._factors()[1]
    dot = (Q[safe] @ folded.factors) if Q.shape[1] else np.zeros(rows.size)
    out = np.where(rows >= 0, dot + model.item_bias_[safe], 0.0) + folded.bias + model.global_mean_
    out = out.astype(np.float32)
    return np.clip(out, *model.rating_scale_) if model.predicts_ratings else out


# ---------------------------------------------------------------- attributes


def fit_attributes(
    model: Recommender,
    user_attributes: pd.DataFrame | None,
    item_attributes: pd.DataFrame | None,
    regularization: float,
) -> None:
    """Learn the ridge maps attributes -> (factors, bias) over the trained users / items that have attributes."""
    model._require_fitted()
    if user_attributes is None and item_attributes is None:
        raise ParameterError("give user_attributes, item_attributes or both")
    P, Q = model._factors()
    for side, table, id_map, factors, bias in (
        ("user", user_attributes, model.user_map_, P, model.user_bias_),
        ("item", item_attributes, model.item_map_, Q, model.item_bias_),
    ):
        if table is None:
            continue
        rows = id_map.lookup(table.index.to_numpy(), missing="negative")
        if not (rows >= 0).any():
            raise DataError(
                f"none of the {side} attribute rows matches a {side} id of the model "
                f"(index values like {table.index[:3].tolist()})"
            )
        table = table[rows >= 0]
        rows = rows[rows >= 0]
        encoder = AttributeEncoder.fit(table)
        targets = np.hstack([factors[rows], bias[rows, None]]).astype(np.float64)
        weights = ridge_map(encoder.transform(table), targets, regularization)
        model._set_attribute_map(side, encoder, weights)


def _prior(model: Recommender, side: str, attributes: Any) -> tuple[np.ndarray, np.ndarray]:
    encoder = model._attribute_encoders.get(side)
    if encoder is None:
        raise ParameterError(f"the model has no {side} attribute map; call fit_attributes({side}_attributes=...) first")
    predicted = encoder.transform(attributes) @ getattr(model, f"{side}_attribute_weights_")
    return predicted[:, :-1].astype(np.float32), predicted[:, -1].astype(np.float32)


def user_prior(model: Recommender, attributes: Any) -> tuple[np.ndarray, float]:
    """(factors, bias) predicted from one user's attributes (a dict or a one-row DataFrame)."""
    factors, bias = _prior(model, "user", attributes)
    if factors.shape[0] != 1:
        raise ParameterError(f"attributes must describe one user, got {factors.shape[0]} rows")
    return factors[0], float(bias[0])


def add_items(model: Recommender, attributes: pd.DataFrame, titles: Any = None) -> None:
    """Append brand-new items (the index of ``attributes``), placed by the item attribute map."""
    known = model.item_map_.lookup(attributes.index.to_numpy(), missing="negative")
    if (known >= 0).any():
        raise DataError(f"item {attributes.index[np.flatnonzero(known >= 0)[0]]!r} is already known to the model")
    factors, bias = _prior(model, "item", attributes)
    labels = np.asarray(titles if titles is not None else attributes.index.astype(str), dtype=str)
    model._add_ids(item_ids=attributes.index.to_numpy(), item_factors=factors, item_bias=bias, item_labels=labels)


# ---------------------------------------------------------------- incremental updates


def partial_fit(model: Recommender, data: Any, passes: int, **read_options: Any) -> None:
    """See :meth:`Recommender.partial_fit`."""
    from mfrec.data.sources import load
    from mfrec.kernels.sparse import csr_by_user

    model._require_fitted()
    if not hasattr(model, "seen_ratings_"):
        raise ParameterError(f"this {type(model).__name__} was saved without its ratings; refit it to update it")
    new = load(data, **read_options)
    user_ids = new.user_ids.to_ids(new.user_idx)
    item_ids = new.item_ids.to_ids(new.item_idx)
    model._add_ids(user_ids, item_ids)
    n_users, n_items = len(model.user_map_), len(model.item_map_)
    new_users = model.user_map_.lookup(user_ids)
    new_items = model.item_map_.lookup(item_ids)

    # Merge: old cells (minus pairs the new data re-rates) + the new cells, as a CSR by user.
    old_users = np.repeat(np.arange(len(model.seen_indptr_) - 1, dtype=np.int32), np.diff(model.seen_indptr_))
    old_items = model.seen_indices_
    touched = np.zeros(n_users, bool)
    touched[new_users] = True
    replaced = touched[old_users]  # only the new data's users can have a pair re-rated
    cells = np.flatnonzero(replaced)
    replaced[cells] = np.isin(
        old_users[cells].astype(np.int64) * n_items + old_items[cells], new_users.astype(np.int64) * n_items + new_items
    )
    users = np.concatenate([old_users[~replaced], new_users]).astype(np.int32)
    items = np.concatenate([old_items[~replaced], new_items]).astype(np.int32)
    values = np.concatenate([model.seen_ratings_[~replaced], new.ratings]).astype(np.float32)
    model._set_seen(*csr_by_user(users, items, values, n_users))

    affected_users = np.unique(new_users)
    affected_items = np.unique(new_items)
    if model.n_factors_ == 0:
        return
    for _ in range(passes):
        _resolve_rows(model, "user", affected_users, users, items, values)
        _resolve_rows(model, "item", affected_items, users, items, values)


def _liked(model: Recommender, values: np.ndarray) -> np.ndarray:
    """Which implicit values count as interactions (``threshold``, as ``fit`` applies it)."""
    threshold = getattr(model, "threshold", None)
    return np.ones(values.shape[0], bool) if threshold is None else values >= threshold


def _constants(model: Recommender) -> tuple[float, float]:
    """The model's per-row constant regularisation (factors, user biases), 0 for models without them."""
    return model._fold_in_constants()


def _resolve_rows(
    model: Recommender, side: str, rows: np.ndarray, users: np.ndarray, items: np.ndarray, values: np.ndarray
) -> None:
    """Re-solve the given users' (or items') factors and biases exactly, the other side fixed."""
    from mfrec._threads import resolve_threads
    from mfrec.kernels.als import als_cg_step, balanced_chunks
    from mfrec.kernels.implicit_als import gram, implicit_cg_step
    from mfrec.kernels.sparse import csr_by_user

    own, other = (users, items) if side == "user" else (items, users)
    X = model.user_factors_ if side == "user" else model.item_factors_
    Y = model.item_factors_ if side == "user" else model.user_factors_
    x_bias = model.user_bias_ if side == "user" else model.item_bias_
    y_bias = model.item_bias_ if side == "user" else model.user_bias_
    local = np.full(X.shape[0], -1, np.int32)
    local[rows] = np.arange(rows.size, dtype=np.int32)
    mine = local[own] >= 0
    if not model.predicts_ratings:  # as in fit: values below threshold are seen, not interactions
        mine &= _liked(model, values)
    csr = csr_by_user(local[own[mine]], other[mine], values[mine], rows.size)
    X_sub = np.ascontiguousarray(X[rows])
    bias_sub = np.ascontiguousarray(x_bias[rows])
    lam, lam_bias = model._fold_in_regularization()
    # Warm-started conjugate gradient: O(ratings x k) per step, where the exact Cholesky
    # solve costs O(ratings x k^2) and made a 1% update as slow as a full SGD refit.
    chunks = balanced_chunks(csr[0], 4 * resolve_threads(getattr(model, "n_threads", None)))
    if model.predicts_ratings:
        als_cg_step(
            *csr,
            Y,
            y_bias,
            np.float32(model.global_mean_),
            X_sub,
            bias_sub,
            np.float32(lam),
            np.float32(lam_bias),
            True,
            model._fits_user_bias(),
            _CG_STEPS,
            chunks,
            np.empty(0),
            reg_const=_constants(model)[0],
            reg_bias_const=bias_constants(model)[0 if side == "user" else 1],
        )
    else:
        weights = model._fold_in_weights(csr[2]).astype(np.float32)
        implicit_cg_step(csr[0], csr[1], weights, Y, gram(Y), X_sub, np.float32(lam), _CG_STEPS, chunks, np.empty(0))
    model._set_rows(side, rows, X_sub, bias_sub)
