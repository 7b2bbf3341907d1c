"""ALS, NMF, truncated SVD, Adam embeddings and Bayesian MF: each against an exact or known answer."""

import numpy as np
import pytest

from mfrec.data import from_arrays, random_split, synthetic
from mfrec.evaluation import score
from mfrec.exceptions import ParameterError, TrainingError
from mfrec.kernels.als import als_cholesky_step
from mfrec.kernels.nmf import nmf_half_step
from mfrec.models import ALS, NMF, BayesianMF, Biases, EmbeddingAdam, MatrixFactorization, TruncatedSVD


def rmse_on(model, train, test):
    return score(model, train, test)["rmse"]


@pytest.fixture(scope="module")
def split(planted):
    return random_split(planted, 0.2, seed=0)


# ------------------------------------------------------------------ ALS


def test_als_half_step_is_the_exact_ridge_solution(rng):
    n_users, n_items, k = 6, 9, 3
    R = (rng.random((n_users, n_items)) < 0.6) * rng.integers(1, 6, (n_users, n_items))
    users, items = np.nonzero(R)
    data = from_arrays(users, items, R[users, items].astype(float))
    indptr, indices, values = data.user_csr()
    Y = rng.normal(size=(n_items, k)).astype(np.float32)
    y_bias = rng.normal(size=n_items).astype(np.float32)
    X, x_bias = np.zeros((n_users, k), np.float32), np.zeros(n_users, np.float32)
    reg, reg_b, mu = 0.3, 0.1, np.float32(3.0)
    status = np.zeros(n_users, np.int8)
    als_cholesky_step(
        indptr, indices, values, Y, y_bias, mu, X, x_bias, np.float32(reg), np.float32(reg_b), True, True, status
    )
    for u in range(n_users):
        rows = indices[indptr[u] : indptr[u + 1]]
        Z = np.column_stack([Y[rows], np.ones(len(rows))]).astype(np.float64)
        t = values[indptr[u] : indptr[u + 1]] - mu - y_bias[rows]
        n = len(rows)
        A = Z.T @ Z + np.diag([reg * n] * k + [reg_b * n])
        expected = np.linalg.solve(A, Z.T @ t)
        np.testing.assert_allclose(np.append(X[u], x_bias[u]), expected, rtol=2e-4, atol=2e-5)


def test_als_cg_approaches_cholesky(split):
    train, test = split
    exact = ALS(n_factors=8, n_epochs=8).fit(train)
    cg = ALS(n_factors=8, n_epochs=8, solver="cg", cg_steps=4).fit(train)
    assert abs(rmse_on(exact, train, test) - rmse_on(cg, train, test)) < 0.01
    assert cg.history_[-1]["train_rmse"] < cg.history_[0]["train_rmse"]


def test_als_cg_on_padded_rows_returns_factors_of_the_asked_width(split):
    # k = 10 runs on rows padded to 16 floats (kernels/rows.py); the padding must neither leak nor change the fit.
    train, test = split
    cg = ALS(n_factors=10, n_epochs=8, solver="cg", cg_steps=4).fit(train)
    exact = ALS(n_factors=10, n_epochs=8, solver="cholesky").fit(train)
    assert cg.user_factors_.shape == (train.n_users, 10) and cg.item_factors_.shape == (train.n_items, 10)
    assert cg.user_factors_.flags.c_contiguous and cg.item_factors_.flags.c_contiguous
    assert abs(rmse_on(exact, train, test) - rmse_on(cg, train, test)) < 0.01


def test_als_weighted_regularisation_changes_the_model(planted):
    users = planted.user_ids.ids[:100]
    items = planted.item_ids.ids[:100]
    a = ALS(n_factors=4, n_epochs=2).fit(planted).predict(users, items)
    b = ALS(n_factors=4, n_epochs=2, weighted_regularization=False).fit(planted).predict(users, items)
    assert not np.allclose(a, b)


def test_als_failed_solve_names_the_row_and_the_fix():
    # No regularisation and fewer ratings than unknowns: the user's system is singular.
    data = from_arrays([1, 1, 2, 2, 3], [1, 2, 1, 2, 1], [5.0, 3.0, 4.0, 2.0, 1.0])
    with pytest.raises(
        TrainingError, match=r"ALS solve failed for user 1 \(row 0\).*increase regularization \(now 0.0\)"
    ):
        ALS(
            n_factors=4,
            n_epochs=1,
            regularization=0.0,
            bias_regularization=0.0,
            constant_regularization=0.0,
            constant_bias_regularization=0.0,
        ).fit(data)


def test_als_beats_the_baseline_on_planted_structure(split):
    train, test = split
    assert (
        rmse_on(ALS(n_factors=8, n_epochs=10).fit(train), train, test)
        < rmse_on(Biases().fit(train), train, test) - 0.02
    )


# ------------------------------------------------------------------ NMF


def test_nmf_factors_stay_non_negative_after_every_update(rng, planted):
    P = rng.random((planted.n_users, 5)).astype(np.float32)
    Q = rng.random((planted.n_items, 5)).astype(np.float32)
    by_user = planted.user_csr()
    from mfrec.kernels.sparse import csr_by_user

    by_item = csr_by_user(planted.item_idx, planted.user_idx, planted.ratings, planted.n_items)
    for _ in range(10):
        nmf_half_step(*by_user, P, Q, np.float32(0.1))
        assert (P >= 0).all()
        nmf_half_step(*by_item, Q, P, np.float32(0.1))
        assert (Q >= 0).all()


def test_nmf_learns_and_refuses_negative_ratings(split):
    train, test = split
    model = NMF(n_factors=5, n_epochs=30).fit(train)
    assert (model.user_factors_ >= 0).all() and (model.item_factors_ >= 0).all()
    rmse = [row["train_rmse"] for row in model.history_]
    assert rmse[-1] < rmse[0]
    from mfrec.exceptions import DataError

    with pytest.raises(DataError, match="non-negative ratings"):
        NMF().fit(from_arrays([1, 2], [1, 1], [-1.0, 2.0]))


def test_nmf_row_penalty_is_reg_times_count_plus_constant():
    """The fixed point of one row (k=1, every y=1, every target t) is n t / (n + w): w = reg n + const grows with n."""
    reg, const, t = 0.06, 6.0, 2.0
    for n in (1, 10, 100):
        indptr = np.array([0, n], np.int64)
        indices, data = np.arange(n, dtype=np.int32), np.full(n, t, np.float32)
        X, Y = np.ones((1, 1), np.float32), np.ones((n, 1), np.float32)
        for _ in range(3000):
            nmf_half_step(indptr, indices, data, X, Y, np.float32(reg), np.float32(const))
        assert float(X[0, 0]) == pytest.approx(n * t / (n + reg * n + const), rel=1e-4)


def test_nmf_biased_kernel_sets_the_exact_bias_and_zeroes_factors_a_row_cannot_use():
    """Targets below the biases: the factors (which can only add) go to 0, the bias fits the mean exactly."""
    n = 8
    indptr, indices = np.array([0, n], np.int64), np.arange(n, dtype=np.int32)
    data = np.linspace(1.0, 2.0, n).astype(np.float32)
    X, Y = np.full((1, 3), 0.3, np.float32), np.full((n, 3), 0.3, np.float32)
    x_bias, y_bias, mu = np.zeros(1, np.float32), np.zeros(n, np.float32), np.float32(3.0)
    for _ in range(200):
        nmf_half_step(indptr, indices, data, X, Y, np.float32(0.06), np.float32(6.0), None, x_bias, y_bias, mu, 5.0)
    assert (X >= 0).all() and float(X.max()) < 1e-6
    assert float(x_bias[0]) == pytest.approx((data - 3.0).sum() / (n + 5.0), rel=1e-5)


def test_default_nmf_is_the_bias_baseline_on_thin_rows_and_beats_it_with_evidence(planted):
    """Sparse (12 ratings a user, 6 an item): no worse than Biases; planted (20 a user, 100 an item): better."""

    def gap(model, train, test):  # RMSE over the bias baseline's
        return rmse_on(model.fit(train), train, test) - rmse_on(Biases().fit(train), train, test)

    train, test = random_split(synthetic(1_000, 2_000, 12_000, seed=4), 0.2, seed=0)
    assert gap(NMF(rank_by="rating"), train, test) <= 0.0
    # The former default (no biases, shrunk to the average row) lost to Biases there.
    old = NMF(biased=False, regularization=0.12, constant_regularization=5.0, shrink_to_mean=True, init_high=1.0)
    assert gap(old.set_params(rank_by="rating"), train, test) > 0.005
    assert gap(NMF(rank_by="rating"), *random_split(planted, 0.2, seed=0)) < -0.003


# ------------------------------------------------------------------ truncated SVD


@pytest.mark.parametrize("impute", ["item", "user"])
def test_svd_equals_the_dense_computation(rng, impute):
    n_users, n_items, k = 12, 9, 3
    mask = rng.random((n_users, n_items)) < 0.5
    mask[np.arange(n_users), np.arange(n_users) % n_items] = True  # every user and item rated
    mask[np.arange(n_items) % n_users, np.arange(n_items)] = True
    R = rng.integers(1, 6, (n_users, n_items)).astype(float)
    users, items = np.nonzero(mask)
    model = TruncatedSVD(n_factors=k, impute=impute).fit(from_arrays(users, items, R[users, items]))
    dense = np.where(mask, R, np.nan)
    user_mean, item_mean = np.nanmean(dense, axis=1), np.nanmean(dense, axis=0)
    filled = np.where(mask, R, item_mean[None, :] if impute == "item" else user_mean[:, None])
    centre = user_mean[:, None] if impute == "item" else item_mean[None, :]
    U, s, Vt = np.linalg.svd(filled - centre)
    expected = centre + (U[:, :k] * s[:k]) @ Vt[:k]
    got = model.predict(np.repeat(np.arange(n_users), n_items), np.tile(np.arange(n_items), n_users))
    np.testing.assert_allclose(got, np.clip(expected, 1, 5).ravel(), atol=1e-4)
    np.testing.assert_allclose(model.singular_values_, s[:k], rtol=1e-5)


def test_svd_rank_must_fit(tutorial):
    with pytest.raises(ParameterError, match=r"n_factors must be < min\(users, items\) = 5"):
        TruncatedSVD(n_factors=5).fit(tutorial)


# ------------------------------------------------------------------ Adam embeddings


def test_adam_learns_and_stops_early_on_a_held_out_fraction(split):
    train, test = split
    model = EmbeddingAdam(
        n_factors=8, n_epochs=40, learning_rate=0.02, regularization=0.0, early_stopping=True, patience=2
    ).fit(train)
    assert model.n_epochs_run_ < 40  # it overfits without regularisation, so validation turns
    val = [row["val_rmse"] for row in model.history_]
    assert model.best_epoch_ == int(np.argmin(val)) + 1
    assert rmse_on(model, train, test) < rmse_on(Biases().fit(train), train, test) + 0.05


def test_adam_is_deterministic(planted):
    a = EmbeddingAdam(n_factors=4, n_epochs=2, random_state=5).fit(planted)
    b = EmbeddingAdam(n_factors=4, n_epochs=2, random_state=5).fit(planted)
    assert np.array_equal(a.user_factors_, b.user_factors_)


# ------------------------------------------------------------------ Bayesian MF


def test_bayesian_prediction_is_the_average_over_samples(planted):
    model = BayesianMF(n_factors=3, n_epochs=9, burn_in=3, thin=2, n_chains=1).fit(planted)
    assert model.n_samples_ == 3 and model.user_factors_.shape == (planted.n_users, 9)
    # Averaging dot products equals the dot product of concatenated samples / sqrt(S).
    P = model.user_factors_ * np.sqrt(3)
    Q = model.item_factors_ * np.sqrt(3)
    per_sample = [P[:5, s * 3 : (s + 1) * 3] @ Q[:5, s * 3 : (s + 1) * 3].T for s in range(3)]
    np.testing.assert_allclose(
        np.mean(per_sample, axis=0), model.user_factors_[:5] @ model.item_factors_[:5].T, rtol=1e-4, atol=1e-5
    )
    assert model.noise_precision_ > 0


def test_bayesian_beats_the_baseline_and_tracks_validation(split):
    train, test = split
    # 100 sweeps: one prior for both sides' factors starts them small and takes ~50 sweeps to grow them here
    # (0.006 below the baseline after 40 sweeps, 0.038 after 100, 0.056 with the defaults' 200).
    model = BayesianMF(n_factors=8, n_epochs=100, burn_in=25).fit(train, validation=test)
    assert rmse_on(model, train, test) < rmse_on(Biases().fit(train), train, test) - 0.02
    assert "val_rmse" in model.history_[-1] and "val_rmse" not in model.history_[0]


def test_bayesian_parameters():
    with pytest.raises(ParameterError, match=r"burn_in must be an int >= 0 and < n_epochs \(10\), got 10"):
        BayesianMF(n_epochs=10, burn_in=10)


# ------------------------------------------------------------------ early stopping, every iterative model


@pytest.mark.parametrize(
    "model",
    [
        MatrixFactorization(
            n_factors=16, n_epochs=60, learning_rate=0.03, regularization=0.0, early_stopping=True, patience=2
        ),
        ALS(
            n_factors=16,
            n_epochs=30,
            regularization=0.001,
            constant_regularization=0.0,
            early_stopping=True,
            patience=1,
        ),
        NMF(
            n_factors=30,
            n_epochs=200,
            regularization=0.0,
            constant_regularization=0.0,
            shrink_to_mean=False,
            early_stopping=True,
            patience=2,
        ),
    ],
)
def test_early_stopping_restores_the_best_epoch(model, split):
    train, test = split
    model.fit(train, validation=test)
    val = [row["val_rmse"] for row in model.history_]
    assert model.n_epochs_run_ < model.n_epochs
    assert model.best_epoch_ == int(np.argmin(val)) + 1
    assert model.best_epoch_ < model.n_epochs_run_  # stopped after worse epochs, so restoring changes something
    # The fitted parameters are the best epoch's: their validation RMSE is that epoch's, not the last one's.
    full = model.predict(test.user_ids.to_ids(test.user_idx), test.item_ids.to_ids(test.item_idx))
    rmse = float(np.sqrt(np.mean((full - test.ratings) ** 2)))
    assert rmse == pytest.approx(min(val), abs=1e-5)
    assert rmse < val[-1] - 1e-5


def test_early_stopping_keeps_every_user_and_item_known(rng):
    # Half the users have a single rating: a per-rating hold-out used to drop some of them from the model.
    users = np.concatenate([np.repeat(np.arange(20), 10), np.arange(20, 60)])
    items = np.concatenate([np.tile(np.arange(10), 20), rng.integers(0, 10, 40)])
    data = from_arrays(users, items, rng.integers(1, 6, users.size).astype(float))
    for model in (
        MatrixFactorization(n_epochs=3, early_stopping=True, validation_fraction=0.5),
        ALS(n_epochs=3, early_stopping=True, validation_fraction=0.5),
    ):
        model.fit(data)
        assert len(model.user_map_) == data.n_users and len(model.item_map_) == data.n_items
        assert len(model.recommend(list(range(60)), n=2)) > 0  # no UnknownIdError for a user given to fit


def test_random_state_none_means_fresh_randomness(split):
    train, _ = split
    fits = [
        MatrixFactorization(n_factors=4, n_epochs=2, early_stopping=True, random_state=None).fit(train)
        for _ in range(2)
    ]
    assert not np.array_equal(fits[0].user_factors_, fits[1].user_factors_)
    seeded = [
        MatrixFactorization(n_factors=4, n_epochs=2, early_stopping=True, random_state=3).fit(train) for _ in range(2)
    ]
    np.testing.assert_array_equal(seeded[0].user_factors_, seeded[1].user_factors_)


def test_early_stopping_parameters_are_checked(tutorial):
    with pytest.raises(ParameterError, match="patience must be an int >= 1"):
        ALS(patience=0).fit(tutorial)
    with pytest.raises(ParameterError, match="validation_fraction must be a finite number > 0 and <= 0.9, got 0.0"):
        MatrixFactorization(validation_fraction=0.0).fit(tutorial)


@pytest.mark.parametrize("model", ["sgd", "als", "adam"])
def test_every_default_is_no_worse_than_the_bias_baseline_on_a_thin_log(model):
    """12 ratings a user, 6 an item: the zoo's sparse end, where a bias penalty growing with n lost to Biases."""
    from mfrec.models import make_model

    train, test = random_split(synthetic(1_000, 2_000, 12_000, seed=4), 0.2, seed=0)
    baseline = rmse_on(Biases().fit(train), train, test)
    assert rmse_on(make_model(model, rank_by="rating").fit(train), train, test) <= baseline
