"""Bayesian MF with SVD++ implicit terms, the "flipped" twin and time biases: kernels, model, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import require_ml100k

from mfrec.data import from_frame
from mfrec.exceptions import ParameterError
from mfrec.kernels.bpmf import sample_implicit, sample_rows
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


def test_sample_rows_with_zero_noise_is_the_ridge_solution_and_leaves_the_gram_and_residual_sums():
    rng, users, items, indptr, values, Y = _tiny()
    n, k, alpha, bias_precision = len(indptr) - 1, Y.shape[1], 1.7, 0.4
    prior_mean, prior_precision = np.array([0.3, -0.2, 0.25]), np.array([[2.0, 0.3], [0.3, 1.5]])
    offset, other_bias, own_implicit = rng.normal(size=n), rng.normal(size=Y.shape[0]), rng.normal(size=(n, k))
    targets = values - offset[users] - other_bias[items] - np.einsum("rk,rk->r", own_implicit[users], Y[items])
    X, xb = np.zeros((n, k)), np.zeros(n)
    gram, sums, status = np.zeros((n, k + 1, k + 1)), np.zeros((n, k + 1)), np.zeros(n, np.int8)
    sample_rows(indptr, items, values, offset, other_bias, own_implicit, Y, prior_mean, prior_precision,
                bias_precision, alpha, np.zeros((n, k + 1)), X, xb, gram, sums, status)  # fmt: skip
    for u in range(n):
        rows = slice(indptr[u], indptr[u + 1])
        Z = np.hstack([Y[items[rows]], np.ones((indptr[u + 1] - indptr[u], 1))])
        A = np.zeros((k + 1, k + 1))
        A[:k, :k], A[k, k] = prior_precision, bias_precision
        want = np.linalg.solve(A + alpha * Z.T @ Z, A @ prior_mean + alpha * Z.T @ targets[rows])
        np.testing.assert_allclose(np.append(X[u], xb[u]), want, rtol=1e-10)
        np.testing.assert_allclose(gram[u], Z.T @ Z, rtol=1e-12)
        np.testing.assert_allclose(sums[u], Z.T @ (targets[rows] - Z @ want), rtol=1e-9, atol=1e-12)
    assert not status.any()


def _implicit_problem(seed: int = 3):
    """A tiny users' implicit step: one embedding + weight per item, the holders of item j the users who rated it."""
    rng, users, items, indptr, ratings, Y = _tiny(seed=seed)
    n_users, n_items, k = len(indptr) - 1, Y.shape[0], Y.shape[1]
    counts = np.diff(indptr).astype(float)
    coef = np.where(counts > 0, 1 / np.sqrt(np.maximum(counts, 1)), 0.0)
    Z = np.hstack([Y[items], np.ones((len(items), 1))])  # each rating's design row [q_i, 1]
    order = np.argsort(items, kind="stable")
    holders_ptr = np.zeros(n_items + 1, np.int64)
    np.cumsum(np.bincount(items, minlength=n_items), out=holders_ptr[1:])
    holders = users[order].astype(np.int32)
    prior_mean, prior_precision = np.array([0.1, 0.2, -0.3]), np.array([[1.2, 0.1], [0.1, 0.9]])
    P = np.zeros((k + 1, k + 1))
    P[:k, :k], P[k, k] = prior_precision, 0.7
    # theta enters rating r linearly: coef[u] sum_{j in N(u)} theta_j . z_r, i.e. design @ theta.ravel()
    rated = np.zeros((n_users, n_items))
    rated[users, items] = 1.0
    design = np.einsum("rj,rd->rjd", coef[users, None] * rated[users], Z).reshape(len(items), -1)

    def state(theta):
        """(gram, h) of the residuals ratings - design @ theta, as the row step and residual_sums leave them."""
        residual = ratings - design @ theta.ravel()
        gram, h = np.zeros((n_users, k + 1, k + 1)), np.zeros((n_users, k + 1))
        for u in range(n_users):
            rows = slice(indptr[u], indptr[u + 1])
            gram[u], h[u] = Z[rows].T @ Z[rows], Z[rows].T @ residual[rows]
        return gram, h

    def draw(theta, noise, alpha=2.0):
        gram, h = state(theta)
        failed = sample_implicit(holders_ptr, holders, coef, gram, h, theta, prior_mean, prior_precision, P[k, k],
                                 alpha, noise)  # fmt: skip
        assert failed == -1
        np.testing.assert_allclose(h, state(theta)[1], rtol=1e-9, atol=1e-11)  # h follows the draws
        return theta

    return rng, ratings, design, P, prior_mean, draw


def test_sample_implicit_with_zero_noise_is_exact_coordinate_gauss_seidel():
    """Each coordinate's draw is its exact conditional mean given every other coordinate's current value."""
    rng, ratings, design, P, prior_mean, draw = _implicit_problem()
    n_items, d = design.shape[1] // P.shape[0], P.shape[0]
    theta = rng.normal(size=(n_items, d))
    expect = theta.ravel().copy()
    precision = np.kron(np.eye(n_items), P) + 2.0 * design.T @ design
    linear = np.tile(P @ prior_mean, n_items) + 2.0 * design.T @ ratings
    for f in range(d):  # coordinates outer, features inner
        for j in range(n_items):
            c = j * d + f
            expect[c] = (linear[c] - precision[c] @ expect + precision[c, c] * expect[c]) / precision[c, c]
    np.testing.assert_allclose(draw(theta, np.zeros_like(theta)).ravel(), expect, rtol=1e-8, atol=1e-10)


def test_sample_implicit_draws_from_the_joint_conditional_of_the_embeddings():
    """Many sweeps from a seeded generator: their mean and covariance are the exact Gaussian conditional's."""
    rng, ratings, design, P, prior_mean, draw = _implicit_problem(seed=5)
    n_items, d = design.shape[1] // P.shape[0], P.shape[0]
    precision = np.kron(np.eye(n_items), P) + 2.0 * design.T @ design
    cov = np.linalg.inv(precision)
    mean = cov @ (np.tile(P @ prior_mean, n_items) + 2.0 * design.T @ ratings)
    theta, noise = np.zeros((n_items, d)), np.random.default_rng(0)
    samples = np.array([draw(theta, noise.standard_normal(theta.shape)).ravel().copy() for _ in range(6000)])[500:]
    sd = np.sqrt(np.diag(cov))
    assert np.max(np.abs(samples.mean(axis=0) - mean) / sd) < 0.12
    np.testing.assert_allclose(np.cov(samples.T), cov, atol=0.1 * sd.max() ** 2)
    np.testing.assert_allclose(np.sqrt(np.diag(np.cov(samples.T))) / sd, 1.0, atol=0.1)


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


def _by_hand(model, user, item) -> float:
    """The prediction with the pair counted in N(u) and M(i), from the fitted arrays (the slow twin)."""
    u, i = int(model.user_map_.lookup([user])[0]), int(model.item_map_.lookup([item])[0])
    n, m = model.user_implicit_counts_[u], model.item_implicit_counts_[i]
    keep_u, add_u, keep_i, add_i = np.sqrt(n / (n + 1)), 1 / np.sqrt(n + 1), np.sqrt(m / (m + 1)), 1 / np.sqrt(m + 1)
    E = model.user_factors_[u] - (1 - keep_u) * model.user_implicit_sums_[u] + add_u * model.implicit_item_factors_[i]
    F = model.item_factors_[i] - (1 - keep_i) * model.item_implicit_sums_[i] + add_i * model.implicit_user_factors_[u]
    bias = model.user_bias_[u] - (1 - keep_u) * model.user_implicit_bias_[u] + add_u * model.implicit_item_weights_[i]
    bias += model.item_bias_[i] - (1 - keep_i) * model.item_implicit_bias_[i] + add_i * model.implicit_user_weights_[u]
    return float(model.global_mean_ + bias + E.astype(np.float64) @ F)


def test_a_pair_asked_about_joins_the_implicit_sums_as_every_training_pair_did(planted):
    frame = planted.to_frame()[["user", "item", "rating"]]
    model = BayesianMF(n_factors=3, n_epochs=6, burn_in=3, rank_by="rating").fit(frame)
    model.rating_scale_ = (-100.0, 100.0)  # no clipping: the raw sums are compared
    seen = set(zip(frame["user"], frame["item"]))
    unseen = [(u, i) for u in frame["user"].unique()[:5] for i in frame["item"].unique()[:40] if (u, i) not in seen]
    users, items = (np.array(side) for side in zip(*unseen[:10]))
    np.testing.assert_allclose(model.predict(users, items), [_by_hand(model, u, i) for u, i in zip(users, items)],
                               rtol=1e-4, atol=1e-4)  # fmt: skip
    # A training pair is already in its sums: nothing is added, the prediction is mu + b_u + b_i + E_u . F_i.
    u, i = frame["user"].iloc[0], frame["item"].iloc[0]
    r_u, r_i = model.user_map_.lookup([u])[0], model.item_map_.lookup([i])[0]
    plain = (
        model.global_mean_
        + model.user_bias_[r_u]
        + model.item_bias_[r_i]
        + model.user_factors_[r_u] @ model.item_factors_[r_i]
    )
    assert model.predict([u], [i])[0] == pytest.approx(plain, abs=1e-4)
    # A user re-solved since fit no longer holds the sampled sums: the plain prediction answers for them.
    r_u, r_i = model.user_map_.lookup([users[0]])[0], model.item_map_.lookup([items[0]])[0]
    model._set_rows("user", np.array([r_u]), model.user_factors_[[r_u]] * 0.5, model.user_bias_[[r_u]])
    assert model.user_implicit_counts_[r_u] == -1
    plain = (
        model.global_mean_
        + model.user_bias_[r_u]
        + model.item_bias_[r_i]
        + model.user_factors_[r_u] @ model.item_factors_[r_i]
    )
    assert model.predict([users[0]], [items[0]])[0] == pytest.approx(plain, abs=1e-4)


def test_the_pair_terms_are_saved_and_lower_the_error_on_a_sparse_log(tmp_path):
    from mfrec.data import synthetic

    data = synthetic(2_000, 1_500, 12_000, seed=3)
    frame = data.to_frame()[["user", "item", "rating"]]
    test = frame.sample(frac=0.2, random_state=0)
    train = frame.drop(test.index)
    train = train[train["item"].isin(train["item"].unique())]
    model = BayesianMF(n_factors=5, n_epochs=40, burn_in=10, rank_by="rating").fit(train)
    warm = test[test["user"].isin(set(train["user"])) & test["item"].isin(set(train["item"]))]
    users, items = warm["user"].to_numpy(), warm["item"].to_numpy()
    with_pair = model.predict(users, items)
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(load_model(tmp_path / "m").predict(users, items), with_pair)
    rows = model.user_map_.lookup(users), model.item_map_.lookup(items)
    terms = model._pair_terms(*rows)
    without = np.clip(with_pair - terms, *model.rating_scale_)
    truth = warm["rating"].to_numpy()
    rmse = lambda p: float(np.sqrt(np.mean((p - truth) ** 2)))  # noqa: E731
    assert np.abs(terms).max() > 0.01
    assert rmse(with_pair) < rmse(without)


def test_user_and_item_factors_share_one_prior_so_the_chain_does_not_drift_to_one_side():
    """150 users with 45 ratings, 3,000 items mostly rated twice: with a prior per side the users' factors grew
    13x the items' (p . q is unchanged when p grows and q shrinks) and the once-rated items were fitted exactly."""
    from mfrec.data import random_split

    rng = np.random.default_rng(0)
    n_users, n_items, per_user = 150, 3_000, 45
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    taste = rng.normal(size=(n_users, 2)) @ rng.normal(size=(2, n_items)) * 0.6
    noise = rng.normal(0, 1.0, n_users)[users] + rng.normal(0, 1.8, users.size)
    rating = np.clip(np.round(5.5 + taste[users, items] + noise), 1, 10)
    data = from_frame(pd.DataFrame({"user": users, "item": items, "rating": rating}), rating_scale=(1, 10))
    train, test = random_split(data, 0.2, seed=0)
    model = BayesianMF(implicit="none", rank_by="rating", n_epochs=120, burn_in=30).fit(train)
    ratio = np.mean(model.user_factors_**2) / np.mean(model.item_factors_**2)
    assert 1 / 3 < ratio < 3  # 12.8 with a prior per side
    assert _rmse_on(model, train, test) < _rmse_on(Biases().fit(train), train, test)


def _rmse_on(model, train, test) -> float:
    from mfrec.evaluation import score

    return score(model, train, test)["rmse"]


# ------------------------------------------------------------------ the blend with the bias baseline and the chains


def test_the_blend_predicts_exactly_the_weighted_mix_of_the_chain_and_the_bias_baseline(monkeypatch, tmp_path):
    """The blend rewrites the arrays (biases mixed, factors x sqrt(w), implicit weights x w): the model still
    scores as a factor model, and predicts w * chain + (1 - w) * baseline, for seen pairs and for new pairs (whose
    implicit pair terms scale by w too)."""
    import mfrec.models.posterior as posterior
    from mfrec.data import synthetic
    from mfrec.models.baselines import fit_biases

    data = synthetic(250, 120, 5_000, seed=4)
    params = {"n_factors": 3, "n_epochs": 30, "burn_in": 10, "n_chains": 1, "rank_by": "rating"}
    fitted = {}
    monkeypatch.setattr(posterior, "BLEND_MIN_Z", -1e9)  # whatever the held-out gain
    for weight in (1.0, 0.4):
        monkeypatch.setattr(posterior, "blend_weight", lambda truth, model, baseline, weight=weight: weight)
        fitted[weight] = BayesianMF(**params).fit(data)
    chain, blended = fitted[1.0], fitted[0.4]
    assert chain.blend_weight_ == 1.0 and blended.blend_weight_ == 0.4
    b_u, b_i = fit_biases(data.user_idx, data.item_idx, data.ratings, chain.global_mean_, (250, 120), (5.0, 3.0))
    users, items = np.repeat(np.arange(1, 251), 120), np.tile(np.arange(1, 121), 250)  # every pair, seen or not
    rows_u, rows_i = chain.user_map_.lookup(users), chain.item_map_.lookup(items)
    chain.rating_scale_ = blended.rating_scale_ = (-100.0, 100.0)  # no clipping: the mix is exact
    want = 0.4 * chain.predict(users, items) + 0.6 * (chain.global_mean_ + b_u[rows_u] + b_i[rows_i])
    np.testing.assert_allclose(blended.predict(users, items), want, atol=2e-5)
    blended.save(tmp_path / "m")
    np.testing.assert_allclose(load_model(tmp_path / "m").predict(users, items), want, atol=2e-5)


def test_the_blend_weight_is_the_least_squares_mix_within_zero_and_one():
    from mfrec.models.blend import blend_weight

    truth = np.array([1.0, 2.0, 3.0, 4.0])
    assert blend_weight(truth, truth, truth + 1.0) == 1.0
    assert blend_weight(truth, truth + 1.0, truth) == 0.0
    assert blend_weight(truth, truth + 2.0, truth - 2.0) == 0.5
    assert blend_weight(truth, truth - 3.0, truth + 1.0) == pytest.approx(0.25)
    assert blend_weight(truth, truth + 5.0, truth + 1.0) == 0.0  # the least-squares w is negative: clipped
    assert blend_weight(truth, truth - 1.0, truth - 1.0) == 1.0  # nothing to choose between


def test_the_held_out_chains_run_only_when_asked_and_possible():
    from mfrec.data import synthetic

    data = synthetic(250, 120, 5_000, seed=4)
    params = {"n_factors": 3, "n_epochs": 30, "burn_in": 10, "n_chains": 1}
    chosen = BayesianMF(**params).fit(data)  # a held-out chain per start (0.1, 0.3), then the model's
    phase = [row for row in chosen.history_ if row.get("blend_phase")]
    assert [row["start_std"] for row in phase] == [0.1] * 35 + [0.3] * 35 and len(chosen.history_) == 70 + 30
    assert chosen.n_samples_ == 20 and 0.0 <= chosen.blend_weight_ <= 1.0 and chosen.init_std_ in (0.1, 0.3)
    given = BayesianMF(**params, init_std=chosen.init_std_).fit(data)  # the blend's chain alone
    assert len(given.history_) == 35 + 30 and given.blend_weight_ == chosen.blend_weight_
    plain = BayesianMF(**params, init_std=chosen.init_std_, blend=False).fit(data)  # nothing held out
    assert plain.blend_weight_ == 1.0 and len(plain.history_) == 30 and plain.n_samples_ == 20
    # The held-out chains have generators of their own: the model's chain is the plain one, sample for sample.
    main = [row["train_rmse"] for row in plain.history_]
    assert [row["train_rmse"] for row in chosen.history_[70:]] == [row["train_rmse"] for row in given.history_[35:]]
    assert [row["train_rmse"] for row in given.history_[35:]] == main
    # blend=False still chooses the start, on the chains' own errors, with weight 1.
    unblended = BayesianMF(**params, blend=False).fit(data)
    assert unblended.blend_weight_ == 1.0 and len(unblended.history_) == 100
    # Time effects on dated data: their bins would differ between the two runs, so nothing is held out.
    dated = BayesianMF(**params, time_effects=True).fit(data)
    assert data.timestamps is not None and dated.blend_weight_ == 1.0 and len(dated.history_) == 30
    assert dated.init_std_ == 0.1
    tiny = synthetic(40, 30, 600, seed=1)  # 60 held-out ratings: too few to choose on
    small = BayesianMF(n_factors=2, n_epochs=6, burn_in=2).fit(tiny)
    assert small.blend_weight_ == 1.0 and small.init_std_ == 0.1


def test_a_start_replaces_the_reference_only_when_it_predicts_the_held_out_ratings_better_by_two_se(monkeypatch):
    """The choice among held-out chains, given their squared errors: the reference (the first start) stays unless
    another beats it by two standard errors; blend=False compares the chains' own errors and keeps weight 1."""
    import mfrec.models.posterior as posterior

    rng = np.random.default_rng(0)
    base = rng.exponential(1.0, 2_000)
    noise = rng.normal(0.0, 0.05, 2_000)
    runs = {  # start -> (weight, chain errors, blend errors)
        0.1: (0.8, base, base * 0.99),
        0.3: (0.5, base * 0.90 + noise, base * 0.95 + noise),  # far better, blended or not
        0.2: (1.0, base * 0.999 + noise, base * 0.999 + noise),  # better by less than two SE
    }
    monkeypatch.setattr(posterior.HeldOutSet, "of", classmethod(lambda cls, model, train, held: None))
    monkeypatch.setattr(
        posterior,
        "held_out_chain",
        lambda model, data, rng, std, callback=None: posterior.HeldOut(std, *runs[std]),
    )

    class Model:
        random_state, blend, init_std = 0, True, None

    def choice(starts):
        monkeypatch.setattr(posterior, "START_STDS", starts)
        return posterior.held_out_choice(Model(), None, None)

    assert choice((0.1, 0.3)) == (0.3, 0.5)
    assert choice((0.1, 0.2)) == (0.1, 0.8)
    assert choice((0.1, 0.2, 0.3)) == (0.3, 0.5)
    assert choice((0.3, 0.1)) == (0.3, 0.5)  # the reference is the better one
    Model.blend = False
    assert choice((0.1, 0.3)) == (0.3, 1.0)
    Model.init_std = 0.1  # given: only it, and without the blend nothing is held out at all
    assert posterior.held_out_starts(Model()) == ()
    Model.blend = True
    assert posterior.held_out_starts(Model()) == (0.1,)


def test_chains_follow_the_data_size_and_keep_as_many_samples_as_one():
    from mfrec.data import synthetic

    model = BayesianMF()
    assert [model.chains_for(n) for n in (5_000, 34_000, 50_000, 51_000, 80_000, 10**7)] == [3, 2, 2, 1, 1, 1]
    assert BayesianMF(n_chains=2).chains_for(10**7) == 2
    data = synthetic(250, 120, 5_000, seed=4)
    two = BayesianMF(n_factors=3, n_epochs=30, burn_in=10, n_chains=2, blend=False, init_std=0.1).fit(data)
    one = BayesianMF(n_factors=3, n_epochs=30, burn_in=10, n_chains=1, blend=False, init_std=0.1).fit(data)
    assert two.n_samples_ == one.n_samples_ == 20 and two.user_factors_.shape == one.user_factors_.shape
    assert [row["chain"] for row in two.history_] == [1] * 30 + [2] * 30
    assert not np.allclose(two.user_factors_, one.user_factors_)  # the second chain's samples are in it


def test_the_planned_sweeps_are_the_history_rows_a_fit_writes():
    """What the command line's progress bar counts to: the blend's chain, then every chain's sweeps."""
    from mfrec.data import synthetic

    for data in (synthetic(250, 120, 5_000, seed=4), synthetic(40, 30, 600, seed=1)):
        model = BayesianMF(n_factors=2, n_epochs=12, burn_in=4)
        assert len(model.fit(data).history_) == model.planned_epochs(len(data))


def test_every_chain_keeps_its_last_sweep_however_short():
    """Thinned by the number of chains, a short chain (the command line's compile warm-up: 2 sweeps, burn-in 1,
    three chains on a tiny log) kept no sample and the fit failed; the samples are counted back from the last."""
    from mfrec.data import synthetic

    model = BayesianMF(n_factors=2, n_epochs=2, burn_in=1).fit(synthetic(30, 20, 300, seed=0))
    assert model.n_chains_ == 3 and model.n_samples_ == 3
