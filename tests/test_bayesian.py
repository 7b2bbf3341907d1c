"""Bayesian MF with SVD++ implicit terms, the "flipped" twin and time biases: kernels, model, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import require_ml100k

from mfrec.data import from_frame
from mfrec.exceptions import ParameterError
from mfrec.kernels.bpmf import implicit_precisions, sample_implicit, sample_rows
from mfrec.models import BayesianMF, Biases
from mfrec.models.persistence import load_model

# ------------------------------------------------------------------ kernels against slow twins


def _tiny(seed: int = 0, n_users: int = 6, n_items: int = 5, k: int = 2):
    rng = np.random.default_rng(seed)
    cells = [(u, i) for u in range(n_users) for i in range(n_items) if rng.random() < 0.6]
    users = np.array([c[0] for c in cells], np.int64)
    items = np.array([c[1] for c in cells], np.int32)
    indptr = np.zeros(n_users + 1, np.int64)
    np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
    return rng, users, items, indptr, rng.normal(size=len(cells)), rng.normal(size=(n_items, k))


def test_sample_rows_with_zero_noise_is_the_ridge_solution_and_leaves_the_gram():
    rng, users, items, indptr, targets, Y = _tiny()
    n, k, alpha, bias_precision = len(indptr) - 1, Y.shape[1], 1.7, 0.4
    prior_mean, prior_precision = np.array([0.3, -0.2, 0.25]), np.array([[2.0, 0.3], [0.3, 1.5]])
    X, xb = np.zeros((n, k)), np.zeros(n)
    gram, status = np.zeros((n, k + 1, k + 1)), np.zeros(n, np.int8)
    sample_rows(indptr, items, targets, Y, prior_mean, prior_precision, bias_precision, alpha,
                np.zeros((n, k + 1)), X, xb, gram, status)  # fmt: skip
    for u in range(n):
        rows = slice(indptr[u], indptr[u + 1])
        Z = np.hstack([Y[items[rows]], np.ones((indptr[u + 1] - indptr[u], 1))])
        A = np.zeros((k + 1, k + 1))
        A[:k, :k], A[k, k] = prior_precision, bias_precision
        want = np.linalg.solve(A + alpha * Z.T @ Z, A @ prior_mean + alpha * Z.T @ targets[rows])
        np.testing.assert_allclose(np.append(X[u], xb[u]), want, rtol=1e-10)
        np.testing.assert_allclose(gram[u], Z.T @ Z, rtol=1e-12)
    assert not status.any()


def test_sample_implicit_with_zero_noise_is_exact_gauss_seidel_on_the_conditionals():
    """Each implicit feature's draw is its exact conditional mean given the features drawn before it."""
    rng, users, items, indptr, ratings, Y = _tiny(seed=3)
    n_users, n_items, k = len(indptr) - 1, Y.shape[0], Y.shape[1]
    alpha, weight_precision = 2.0, 0.7
    prior_mean, prior_precision = np.array([0.1, 0.2, -0.3]), np.array([[1.2, 0.1], [0.1, 0.9]])
    counts = np.diff(indptr).astype(float)
    coef = np.where(counts > 0, 1 / np.sqrt(np.maximum(counts, 1)), 0.0)
    theta = rng.normal(size=(n_items, k + 1))  # the users' implicit embeddings (+ weight), one per item
    Z = np.hstack([Y[items], np.ones((len(items), 1))])  # each rating's design row [q_i, 1]

    def implicit_term(th):
        sums = np.zeros((n_users, k + 1))
        np.add.at(sums, users, th[items])  # sum over the items each user rated
        return coef[users] * np.einsum("rd,rd->r", sums[users], Z)

    gram = np.zeros((n_users, k + 1, k + 1))
    h = np.zeros((n_users, k + 1))
    residual = ratings - implicit_term(theta)
    for u in range(n_users):
        rows = slice(indptr[u], indptr[u + 1])
        gram[u], h[u] = Z[rows].T @ Z[rows], Z[rows].T @ residual[rows]
    order = np.argsort(items, kind="stable")
    holders_ptr = np.zeros(n_items + 1, np.int64)
    np.cumsum(np.bincount(items, minlength=n_items), out=holders_ptr[1:])
    holders = users[order].astype(np.int32)
    A = np.zeros((n_items, k + 1, k + 1))
    implicit_precisions(holders_ptr, holders, coef, gram, prior_precision, weight_precision, alpha, A)
    drawn = theta.copy()
    failed = sample_implicit(holders_ptr, holders, coef, gram, h, drawn, prior_mean, prior_precision,
                             weight_precision, alpha, A, np.zeros_like(theta))  # fmt: skip
    assert failed == -1
    expect = theta.copy()
    for j in range(n_items):  # the conditional of theta_j given everything else, by brute force
        design = np.zeros((len(items), k + 1))
        mask = np.isin(users, np.unique(users[items == j]))
        design[mask] = coef[users[mask], None] * Z[mask]
        others = expect.copy()
        others[j] = 0.0
        target = ratings - implicit_term(others)
        P = np.zeros((k + 1, k + 1))
        P[:k, :k], P[k, k] = prior_precision, weight_precision
        expect[j] = np.linalg.solve(P + alpha * design.T @ design, P @ prior_mean + alpha * design.T @ target)
    np.testing.assert_allclose(drawn, expect, rtol=1e-8, atol=1e-10)


# ------------------------------------------------------------------ the model


def _fold(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = require_ml100k()
    cols = ["user", "item", "rating", "timestamp"]
    read = lambda part: pd.read_csv(folder / f"{name}.{part}", sep="\t", names=cols)  # noqa: E731
    return read("base"), read("test")


def _rmse(model, test: pd.DataFrame, with_time: bool = False) -> float:
    times = test["timestamp"].to_numpy() if with_time else None
    predicted = model.predict(test["user"].to_numpy(), test["item"].to_numpy(), timestamps=times)
    return float(np.sqrt(np.mean((predicted - test["rating"].to_numpy()) ** 2)))


@pytest.fixture(scope="module")
def u1_models():
    train, test = _fold("u1")
    short = dict(n_factors=6, n_epochs=40, burn_in=10, rank_by="rating")
    fits = {name: BayesianMF(implicit=name, time_effects=False, **short).fit(train) for name in ("none", "flipped")}
    fits["timed"] = BayesianMF(implicit="flipped", time_effects=True, **short).fit(train)
    return train, test, fits


@pytest.mark.realdata
def test_implicit_terms_and_time_biases_each_lower_the_error_on_ml100k_u1(u1_models):
    train, test, fits = u1_models
    plain, flipped, timed = _rmse(fits["none"], test), _rmse(fits["flipped"], test), _rmse(fits["timed"], test, True)
    assert flipped < plain - 0.008  # the implicit sums: about 0.016 lower on u1 with these settings
    assert timed < flipped - 0.002  # the (user, day) biases, given the day of each test rating
    assert plain < _rmse(Biases().fit(train), test) - 0.02


@pytest.mark.realdata
def test_time_effects_need_timestamps_and_are_saved(u1_models, tmp_path):
    train, test, fits = u1_models
    timed = fits["timed"]
    assert timed.time_grid_[2] == 30 and timed.item_time_bias_.shape == (timed.item_bias_.size, 30)
    assert not hasattr(fits["flipped"], "time_grid_")
    users, items, times = test["user"].to_numpy()[:50], test["item"].to_numpy()[:50], test["timestamp"].to_numpy()[:50]
    at_time = timed.predict(users, items, timestamps=times)
    assert not np.allclose(at_time, timed.predict(users, items))
    # A model without time effects ignores timestamps.
    np.testing.assert_array_equal(
        fits["none"].predict(users, items, timestamps=times), fits["none"].predict(users, items)
    )
    timed.save(tmp_path / "m")
    back = load_model(tmp_path / "m")
    np.testing.assert_array_equal(back.predict(users, items, timestamps=times), at_time)
    np.testing.assert_array_equal(back.predict(users, items), timed.predict(users, items))
    with pytest.raises(ParameterError, match="one value per prediction"):
        timed.predict(users, items, timestamps=times[:3])


@pytest.mark.realdata
def test_fold_in_is_centred_on_the_implicit_sum_of_the_revealed_items(u1_models):
    _, _, fits = u1_models
    model = fits["flipped"]
    revealed = {1: 5.0, 50: 4.0, 181: 5.0, 100: 3.0}
    rows = model.item_map_.lookup(list(revealed))
    centre, bias = model._fold_in_center(rows)
    np.testing.assert_allclose(centre, model.implicit_item_factors_[rows].sum(axis=0) / 2, rtol=1e-5)
    stiff = model.fold_in(revealed, regularization=1e9)  # the data cannot move it: it stays at the centre
    np.testing.assert_allclose(stiff.factors, centre, atol=1e-4)
    assert abs(stiff.bias - bias) < 1e-4
    assert fits["none"]._fold_in_center(rows) is None


def test_a_refit_without_timestamps_drops_the_time_arrays(planted):
    frame = planted.to_frame()[["user", "item", "rating"]]
    timed = frame.assign(timestamp=1_600_000_000 + np.arange(len(frame)) * 3_600)
    model = BayesianMF(n_factors=3, n_epochs=4, burn_in=2, time_effects=True, rank_by="rating").fit(from_frame(timed))
    assert hasattr(model, "time_grid_") and hasattr(model, "implicit_item_factors_")
    model.set_params(implicit="none").fit(from_frame(frame))
    assert not hasattr(model, "time_grid_") and not hasattr(model, "implicit_item_factors_")


def test_implicit_choice_is_checked():
    with pytest.raises(ParameterError, match="implicit must be one of"):
        BayesianMF(implicit="both")
