"""Bias penalties chosen on held-out ratings (models/bias_choice.py) and how the rating models use them."""

import numpy as np
import pytest

import mfrec.models.bias_choice as bias_choice
from mfrec.data import from_arrays
from mfrec.models import ALS, NMF, EmbeddingAdam, MatrixFactorization
from mfrec.models.baselines import fit_biases
from mfrec.models.bias_choice import choose_bias_regularization
from mfrec.models.persistence import load_model


def _log(bias_scale: float, n_users: int = 3_000, n_items: int = 1_500, per_user: int = 6, seed: int = 0):
    """Sparse ratings = 3 + bias_scale * (b_u + b_i) + noise, with timestamps (the held-out slice is the latest)."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    items = rng.random((n_users, n_items)).argpartition(per_user, axis=1)[:, :per_user].ravel()  # distinct per user
    b_u, b_i = rng.normal(0, 1, n_users), rng.normal(0, 1, n_items)
    ratings = np.clip(3 + bias_scale * (b_u[users] + b_i[items]) + rng.normal(0, 1, users.size), 0, None)  # NMF: >= 0
    return from_arrays(users, items, ratings.astype(np.float32), rng.integers(0, 10**6, users.size))


def test_pure_noise_moves_to_the_strongest_shrinkage():
    """Biases that are all noise: the grid's largest penalties predict held-out ratings best, by far."""
    user, item = choose_bias_regularization(_log(bias_scale=0.0), (1.0, 1.0))
    assert user >= 12.0 and item >= 12.0


def test_strong_biases_keep_light_shrinkage():
    """Large true biases: a light penalty wins over the strongest, whatever the reference."""
    user, item = choose_bias_regularization(_log(bias_scale=2.0, per_user=20), (20.0, 20.0))
    assert user <= 5.0 and item <= 5.0


def test_the_reference_stays_without_clear_evidence():
    """Too few held-out ratings, or a reference as good as the best: nothing moves."""
    small = _log(bias_scale=0.5, n_users=200, n_items=100, per_user=5)  # 100 held-out ratings
    assert choose_bias_regularization(small, (4.0, 2.4)) == (4.0, 2.4)
    data = _log(bias_scale=0.0)
    best = choose_bias_regularization(data, (1.0, 1.0))
    assert choose_bias_regularization(data, best) == best  # the best pair itself: kept exactly


def test_the_choice_is_seeded_and_samples_whole_users_above_the_cap(monkeypatch):
    data = _log(bias_scale=0.0)
    first = choose_bias_regularization(data, (1.0, 1.0), random_state=3)
    assert choose_bias_regularization(data, (1.0, 1.0), random_state=3) == first
    monkeypatch.setattr(bias_choice, "MAX_RATINGS", 9_000)  # half the users
    user, item = choose_bias_regularization(data, (1.0, 1.0))
    assert user >= 8.0 and item >= 8.0


def test_fit_biases_is_the_closed_form_on_one_side():
    """One user, items without other raters: the exact ridge solution alternates to a fixed point."""
    users, items = np.array([0, 0, 0]), np.array([0, 1, 2])
    ratings = np.array([4.0, 5.0, 3.0])
    b_u, b_i = fit_biases(users, items, ratings, 3.0, (1, 3), (0.0, 1e9))
    np.testing.assert_allclose(b_u, [1.0], atol=1e-6)  # items held at 0: the user's mean residual
    np.testing.assert_allclose(b_i, 0.0, atol=1e-6)


@pytest.mark.parametrize("model_class", [MatrixFactorization, ALS, NMF, EmbeddingAdam])
def test_models_fit_with_the_chosen_pair_and_keep_it(model_class, tmp_path):
    data = _log(bias_scale=0.0)
    chosen = model_class(n_epochs=2, n_factors=4).fit(data)
    fixed = model_class(n_epochs=2, n_factors=4, choose_bias_regularization=False).fit(data)
    c = fixed.constant_bias_regularization
    np.testing.assert_allclose(fixed.bias_regularization_, [c, 0.6 * c], rtol=1e-6)
    assert chosen.bias_regularization_.min() >= 12.0
    # More shrinkage on pure-noise biases: smaller biases.
    assert np.abs(chosen.item_bias_).mean() < np.abs(fixed.item_bias_).mean()
    again = load_model(chosen.save(tmp_path / "model"))
    np.testing.assert_array_equal(again.bias_regularization_, chosen.bias_regularization_)
    assert again.fold_in({0: 5.0, 1: 4.0}).bias == pytest.approx(chosen.fold_in({0: 5.0, 1: 4.0}).bias)


def test_the_grid_is_scored_once_per_training_set(monkeypatch):
    """auto's trials fit one training set again and again, with other references: the 49 grid fits run once for
    it, each reference once more, and data that differ (a copy without timestamps) get their own."""
    import dataclasses

    fits = []
    fit = bias_choice.fit_biases
    monkeypatch.setattr(bias_choice, "fit_biases", lambda *args: fits.append(1) or fit(*args))
    data = _log(bias_scale=0.0)
    first = MatrixFactorization(n_epochs=1, n_factors=4).fit(data).bias_regularization_
    assert len(fits) == 50  # the grid and the reference
    again = MatrixFactorization(n_epochs=2, n_factors=8, constant_bias_regularization=2.0).fit(data)
    assert len(fits) == 51
    np.testing.assert_array_equal(first, again.bias_regularization_)  # the same grid pair wins
    MatrixFactorization(n_epochs=1, n_factors=4).fit(dataclasses.replace(data, timestamps=None))
    assert len(fits) == 101
