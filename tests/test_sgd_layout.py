"""Issue 17: the SGD/BPR kernels' factor layout (padded, cache-line aligned rows) and prefetching change speed only."""

import numpy as np
import pandas as pd
import pytest

from mfrec.kernels.rows import aligned_rows, padded_width
from mfrec.kernels.sgd import sgd_block
from mfrec.models import MatrixFactorization

f32 = np.float32


@pytest.mark.parametrize(
    ("k", "width"), [(1, 1), (2, 2), (3, 4), (8, 8), (9, 16), (16, 16), (50, 64), (64, 64), (100, 112)]
)
def test_padded_width_is_whole_vectors_or_a_power_of_two(k, width):
    assert padded_width(k) == width


@pytest.mark.parametrize("k", [5, 50, 64])
def test_aligned_rows_start_on_cache_lines_and_pad_with_zeros(rng, k):
    values = rng.normal(size=(37, k)).astype(np.float32)
    rows = aligned_rows(values)
    assert rows.dtype == np.float32 and rows.flags.c_contiguous
    assert rows.ctypes.data % 64 == 0 and (rows.strides[0] % 64 == 0 or rows.shape[1] < 16)
    np.testing.assert_array_equal(rows[:, :k], values)
    assert not rows[:, k:].any()


@pytest.mark.parametrize("k", [10, 20, 50])
def test_sgd_block_on_padded_rows_matches_unpadded_and_keeps_padding_zero(rng, k):
    n_users, n_items, n = 40, 30, 2000
    users = np.sort(rng.integers(0, n_users, n)).astype(np.int32)
    items = rng.integers(0, n_items, n).astype(np.int32)
    ratings = rng.integers(1, 6, n).astype(np.float32)
    P = rng.normal(0, 0.1, (n_users, k)).astype(np.float32)
    Q = rng.normal(0, 0.1, (n_items, k)).astype(np.float32)
    Pp, Qp = aligned_rows(P), aligned_rows(Q)
    assert Pp.shape[1] > k
    biases = [np.zeros(n_users, np.float32), np.zeros(n_items, np.float32)]
    biases_p = [b.copy() for b in biases]
    args = (f32(3.5), f32(0.02), f32(0.02), f32(0.05), f32(0.05), f32(0.1), f32(0.1), True)
    sq = sgd_block(0, n, users, items, ratings, P, Q, *biases, *args)
    sq_p = sgd_block(0, n, users, items, ratings, Pp, Qp, *biases_p, *args)
    assert sq_p == pytest.approx(sq, rel=1e-5)
    np.testing.assert_allclose(Pp[:, :k], P, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(Qp[:, :k], Q, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(biases_p[0], biases[0], rtol=1e-4, atol=1e-6)
    assert not Pp[:, k:].any() and not Qp[:, k:].any()


def _ratings(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "user": rng.integers(0, 60, 3000),
            "item": rng.integers(0, 40, 3000),
            "rating": rng.integers(1, 6, 3000).astype(float),
        }
    )
    return frame.drop_duplicates(["user", "item"])


def test_sgd_fit_on_a_fixed_seed_is_unchanged_by_the_new_layout(monkeypatch):
    # k = 16 needs no padding: with each user's ratings in one run (the order before users were taken in
    # turn) the arithmetic is the one before issue 17, so the numbers are the old ones.
    monkeypatch.setattr("mfrec.models.mf.SGD_INTERLEAVE", 1)
    # The penalties of that time too: issue 27 added the constant per-row terms and moved the defaults.
    old_penalties = dict(
        regularization=0.1, bias_regularization=0.02, constant_regularization=0.0, constant_bias_regularization=0.0
    )
    # And biases from zero, as then (they now start at the bias baseline's optimum).
    monkeypatch.setattr(
        "mfrec.models.mf.bias_start", lambda train, *_: (0.0, np.zeros(train.n_users), np.zeros(train.n_items))
    )
    model = MatrixFactorization(
        n_factors=16, n_epochs=5, learning_rate=0.01, random_state=3, n_threads=2, **old_penalties
    )
    model.fit(_ratings(), rating_scale=(1, 5))
    expected = [3.008049, 3.381772, 2.811165, 2.855579]  # measured on the code before issue 17
    np.testing.assert_allclose(model.predict([0, 5, 17, 59], [0, 3, 22, 39]), expected, atol=2e-6)
    # Round six writes the same step as keep * p + step * q (kernels/sgd.py): float32 rounding moves this sum
    # by 2e-6 of itself (36.567642); the arithmetic is otherwise the old one.
    assert float(np.abs(model.user_factors_).sum()) == pytest.approx(36.567566, rel=5e-6)


def test_taking_users_in_turn_moves_predictions_by_the_order_of_updates_only(monkeypatch):
    def fit() -> MatrixFactorization:
        return MatrixFactorization(n_factors=16, n_epochs=5, learning_rate=0.01, random_state=3, n_threads=2).fit(
            _ratings(), rating_scale=(1, 5)
        )

    interleaved = fit()
    monkeypatch.setattr("mfrec.models.mf.SGD_INTERLEAVE", 1)
    in_runs = fit()
    users, items = [0, 5, 17, 59], [0, 3, 22, 39]
    # Same ratings, same blocks, same epochs: only the order inside a block differs.
    np.testing.assert_allclose(interleaved.predict(users, items), in_runs.predict(users, items), atol=5e-3)
    assert not np.array_equal(interleaved.user_factors_, in_runs.user_factors_)


def test_padded_fit_publishes_unpadded_factors_that_predict_like_the_model():
    model = MatrixFactorization(n_factors=10, n_epochs=3, random_state=0).fit(_ratings(), rating_scale=(1, 5))
    assert model.user_factors_.shape[1] == 10 and model.item_factors_.shape[1] == 10
    users, items = model.user_map_.lookup([0, 5]), model.item_map_.lookup([0, 3])
    by_hand = (
        model.global_mean_
        + model.user_bias_[users]
        + model.item_bias_[items]
        + np.einsum("ij,ij->i", model.user_factors_[users], model.item_factors_[items])
    )
    np.testing.assert_allclose(model.predict([0, 5], [0, 3]), np.clip(by_hand, 1, 5), rtol=1e-5)


def test_bpr_block_on_padded_rows_matches_unpadded_and_draws_only_negatives(rng):
    from mfrec.kernels.bpr import bpr_block

    n_users, n_items, k, n = 30, 80, 10, 150
    users = np.sort(rng.integers(0, n_users, n)).astype(np.int32)
    items = rng.integers(0, n_items, n).astype(np.int32)
    keep = np.unique(users.astype(np.int64) * n_items + items)  # one cell per (user, item), items sorted per user
    users, items = (keep // n_items).astype(np.int32), (keep % n_items).astype(np.int32)
    P = rng.normal(0, 0.1, (n_users, k)).astype(np.float32)
    Q = rng.normal(0, 0.1, (n_items, k)).astype(np.float32)
    Pp, Qp = aligned_rows(P), aligned_rows(Q)
    bias, bias_p = np.zeros(n_items, np.float32), np.zeros(n_items, np.float32)
    pool = np.empty(0, np.int32)
    args = (f32(0.05), f32(0.01), f32(0.01), f32(0.01), True, np.uint64(12345))
    Q_before = Q.copy()
    correct = bpr_block(0, len(users), users, items, 0, n_items, pool, 0, 0, P, Q, bias, *args, 0)
    correct_p = bpr_block(0, len(users), users, items, 0, n_items, pool, 0, 0, Pp, Qp, bias_p, *args, 0)
    assert correct_p == correct and 0 < correct < len(users)
    np.testing.assert_allclose(Pp[:, :k], P, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(Qp[:, :k], Q, rtol=1e-4, atol=1e-6)
    assert not Pp[:, k:].any() and not Qp[:, k:].any()
    # An item none of the users has is only ever a negative: its bias can only go down.
    never = np.setdiff1d(np.arange(n_items), items)
    assert never.size and (bias[never] <= 0).all() and (Q[never] != Q_before[never]).any()
