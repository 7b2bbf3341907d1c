"""SVD++: the kernel against its NumPy twin, what the implicit term does, fold-in, persistence, parameters."""

import numpy as np
import pytest
from reference import svdpp_pass

from mfrec.data import from_arrays, random_split
from mfrec.exceptions import ParameterError
from mfrec.kernels.svdpp import implicit_sums, svdpp_epoch
from mfrec.models import MatrixFactorization, SVDpp, make_model
from mfrec.models.persistence import load_model

FAST = {"n_factors": 8, "n_epochs": 10}


@pytest.fixture(scope="module")
def model(planted):
    return SVDpp(**FAST).fit(planted)


def test_kernel_matches_the_numpy_twin(rng):
    n_users, n_items, k = 7, 9, 4
    R = (rng.random((n_users, n_items)) < 0.5) * rng.integers(1, 6, (n_users, n_items))
    R[3] = 0  # a user without ratings is skipped
    data = from_arrays(*np.nonzero(R), R[np.nonzero(R)].astype(float))
    indptr, indices, values = (a.copy() for a in data.user_csr())
    order = rng.permutation(data.n_users).astype(np.int32)
    counts = np.maximum(np.bincount(indices, minlength=data.n_items), 1).astype(np.float32)
    start = [rng.normal(0, 0.3, (n, k)).astype(np.float32) for n in (data.n_users, data.n_items, data.n_items)]
    start += [rng.normal(0, 0.2, data.n_users).astype(np.float32), rng.normal(0, 0.2, data.n_items).astype(np.float32)]
    fast = [a.copy() for a in start]
    slow = [a.astype(np.float64) for a in start]
    settings = (0.05, 0.03, 0.1, 0.02, 0.01, 2.0, 5.0, 3.0)
    for _ in range(3):
        sq_fast = svdpp_epoch(
            indptr, indices, values, order, *fast, counts, np.float32(3.5), *(np.float32(s) for s in settings)
        )
        sq_slow = svdpp_pass(indptr, indices, values, order, *slow, counts, 3.5, *settings)
        assert sq_fast == pytest.approx(sq_slow, rel=1e-4)
    for got, expected in zip(fast, slow):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(fast[2], 0)  # the y_j moved
    sums = np.empty((data.n_users, k), np.float32)
    implicit_sums(indptr, indices, fast[2], sums)
    for u in range(data.n_users):
        rows = indices[indptr[u] : indptr[u + 1]]
        expected = fast[2][rows].sum(axis=0) / np.sqrt(len(rows)) if len(rows) else np.zeros(k)
        np.testing.assert_allclose(sums[u], expected, rtol=1e-5, atol=1e-6)


def test_the_implicit_term_places_users_by_what_they_rated(model, planted):
    """Two new users who rated their items exactly as the biases predict differ only by *which* items."""
    items_a, items_b = planted.item_ids.ids[:6], planted.item_ids.ids[6:12]

    def neutral(items):  # ratings with no explicit signal beyond the biases
        rows = model.item_map_.lookup(items)
        return dict(zip(items, model.global_mean_ + model.item_bias_[rows]))

    a, b = model.fold_in(neutral(items_a)), model.fold_in(neutral(items_b))
    centre_a, _ = model._fold_in_center(model.item_map_.lookup(items_a))
    assert np.linalg.norm(centre_a) > 1e-3
    assert np.linalg.norm(a.factors - b.factors) > 1e-3
    # The solve is pulled towards the implicit sum: with a huge penalty it is the implicit sum itself.
    np.testing.assert_allclose(model.fold_in(neutral(items_a), regularization=1e9).factors, centre_a, atol=1e-5)
    others = planted.item_ids.ids[20:60]
    assert not np.allclose(model.predict_new_user(a, others), model.predict_new_user(b, others))
    # Plain SGD MF has no such term: the same neutral ratings give (almost) nothing.
    sgd = MatrixFactorization(n_factors=8, n_epochs=10).fit(planted)
    assert np.linalg.norm(sgd.fold_in(neutral(items_a)).factors) < np.linalg.norm(a.factors)


def test_implicit_factors_learn_and_move_predictions(planted):
    train, test = random_split(planted, 0.2, seed=0)
    fitted = SVDpp(n_factors=8, n_epochs=15).fit(train, validation=test)
    assert np.abs(fitted.implicit_factors_).max() > 1e-3
    # With a penalty that wipes y at every user (only the last user's step remains) the fit differs: y is used.
    frozen = SVDpp(n_factors=8, n_epochs=15, implicit_regularization=1 / 0.007).fit(train, validation=test)
    assert np.abs(frozen.implicit_factors_).max() < 0.1 * np.abs(fitted.implicit_factors_).max()
    users, items = test.user_ids.to_ids(test.user_idx), test.item_ids.to_ids(test.item_idx)
    assert np.abs(fitted.predict(users, items) - frozen.predict(users, items)).max() > 1e-3


def test_fold_in_recovers_a_training_user(model):
    row = 11
    lo, hi = model.seen_indptr_[row], model.seen_indptr_[row + 1]
    ratings = dict(zip(model.item_map_.to_ids(model.seen_indices_[lo:hi]), model.seen_ratings_[lo:hi]))
    folded = model.fold_in(ratings)
    items = model.item_map_.ids[:200]
    trained = model.predict([model.user_map_.ids[row]] * len(items), items)
    again = model.predict_new_user(folded, items)
    assert np.corrcoef(trained, again)[0, 1] > 0.9
    assert np.abs(trained - again).mean() < 0.2


def test_save_load_keeps_the_implicit_factors(model, planted, tmp_path):
    loaded = load_model(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.implicit_factors_, model.implicit_factors_)
    ratings = dict(zip(planted.item_ids.ids[:5], [5.0, 1.0, 4.0, 2.0, 3.0]))
    np.testing.assert_array_equal(loaded.fold_in(ratings).factors, model.fold_in(ratings).factors)


def test_same_seed_same_model_whatever_the_threads(planted):
    one = SVDpp(**FAST, n_threads=1, random_state=5).fit(planted)
    two = SVDpp(**FAST, n_threads=2, random_state=5).fit(planted)
    np.testing.assert_array_equal(one.user_factors_, two.user_factors_)
    np.testing.assert_array_equal(one.implicit_factors_, two.implicit_factors_)
    other = SVDpp(**FAST, random_state=6).fit(planted)
    assert not np.array_equal(one.user_factors_, other.user_factors_)


def test_a_rescaled_log_gives_rescaled_predictions(planted):
    """Training runs in units of a 1-5 scale's width, so 1-10 ratings (affinely mapped) give the mapped model."""
    users, items = planted.user_ids.to_ids(planted.user_idx), planted.item_ids.to_ids(planted.item_idx)
    five = SVDpp(**FAST).fit(from_arrays(users, items, planted.ratings, rating_scale=(1, 5)))
    ten = SVDpp(**FAST).fit(from_arrays(users, items, 1 + (planted.ratings - 1) * 9 / 4, rating_scale=(1, 10)))
    probe_u, probe_i = users[:300], items[:300]
    expected = 1 + (five.predict(probe_u, probe_i) - 1) * 9 / 4
    np.testing.assert_allclose(ten.predict(probe_u, probe_i), expected, atol=2e-3)


def test_early_stopping_records_validation(planted):
    train, test = random_split(planted, 0.2, seed=1)
    fitted = SVDpp(n_factors=8, n_epochs=40, learning_rate=0.05, early_stopping=True, patience=2).fit(
        train, validation=test
    )
    val = [row["val_rmse"] for row in fitted.history_]
    assert fitted.n_epochs_run_ < 40 and fitted.best_epoch_ == int(np.argmin(val)) + 1


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_factors": 0}, "n_factors must be an int >= 1, got 0"),
        ({"learning_rate": 0.0}, "learning_rate must be a finite number > 0, got 0.0"),
        ({"factor_shrinkage": -1.0}, "factor_shrinkage must be a finite number >= 0, got -1.0"),
        ({"implicit_regularization": float("nan")}, "implicit_regularization must be a finite number >= 0"),
        ({"lr_decay": 1.5}, "lr_decay must be a finite number > 0 and <= 1, got 1.5"),
    ],
)
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SVDpp(**params)
    with pytest.raises(ParameterError, match="n_epochs"):
        make_model("svdpp", n_epochs=-3)


def test_the_service_serves_it_and_folds_in_a_walk_in_user(model, planted, tmp_path):
    from fastapi.testclient import TestClient

    from mfrec.service import create_app

    with TestClient(create_app(model.save(tmp_path / "m"), tmp_path / "ratings.sqlite")) as client:
        known = planted.user_ids.ids[0]
        answer = client.get(f"/users/{known}/recommendations", params={"n": 3}).json()
        assert answer["source"] == "model" and len(answer["items"]) == 3
        rating = {"ratings": [{"item": int(planted.item_ids.ids[0]), "rating": 5}], "request_id": "r-1"}
        assert client.post("/users/walk-in/ratings", json=rating).status_code < 300
        assert client.get("/users/walk-in/recommendations").json()["source"] == "fold-in"
