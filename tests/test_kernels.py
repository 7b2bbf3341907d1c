"""numba kernels against their slow Python twins in reference.py."""

import numpy as np
import pytest
from reference import sgd_pass
from reference import top_k as top_k_reference

from mfrec.evaluation import average_precision_at_k, hit_rate_at_k, ndcg_at_k, precision_at_k, recall_at_k
from mfrec.kernels.metrics import ranking_metrics
from mfrec.kernels.predict import score_pairs
from mfrec.kernels.sgd import blocked_layout, interleave_user_runs, sgd_block
from mfrec.kernels.sparse import count_duplicates, csr_by_user, group_rows, merge_duplicates
from mfrec.kernels.topk import top_k

f32 = np.float32


@pytest.mark.parametrize("biased", [True, False])
def test_sgd_block_matches_reference(rng, biased):
    n_users, n_items, k, n = 30, 20, 8, 400
    users = rng.integers(0, n_users, n).astype(np.int32)
    items = rng.integers(0, n_items, n).astype(np.int32)
    ratings = rng.integers(1, 6, n).astype(np.float32)
    P = rng.normal(0, 0.1, (n_users, k)).astype(np.float32)
    Q = rng.normal(0, 0.1, (n_items, k)).astype(np.float32)
    bu, bi = np.zeros(n_users, np.float32), np.zeros(n_items, np.float32)
    P2, Q2, bu2, bi2 = (P.astype(np.float64), Q.astype(np.float64), bu.astype(np.float64), bi.astype(np.float64))
    sq = sgd_block(
        0,
        n,
        users,
        items,
        ratings,
        P,
        Q,
        bu,
        bi,
        f32(3.5),
        f32(0.02),
        f32(0.02),
        f32(0.05),
        f32(0.05),
        f32(0.1),
        f32(0.1),
        biased,
    )
    sq2 = sgd_pass(users, items, ratings, P2, Q2, bu2, bi2, 3.5, 0.02, 0.05, 0.1, biased)
    np.testing.assert_allclose(P, P2, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(Q, Q2, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bu, bu2, rtol=1e-4, atol=1e-5)
    assert sq == pytest.approx(sq2, rel=1e-4)
    if not biased:
        assert not bu.any() and not bi.any()


def test_blocked_layout_groups_blocks_and_keeps_every_rating(rng):
    n_users, n_items, B = 50, 40, 4
    users = rng.integers(0, n_users, 600).astype(np.int32)
    items = rng.integers(0, n_items, 600).astype(np.int32)
    ratings = rng.random(600).astype(np.float32)
    indptr, indices, data = csr_by_user(users, items, ratings, n_users)
    user_block = (np.arange(n_users) % B).astype(np.int32)
    item_block = (np.arange(n_items) % B).astype(np.int32)
    user_order = np.argsort(user_block, kind="stable").astype(np.int32)
    item_order = np.argsort(item_block, kind="stable").astype(np.int32)
    item_row = np.empty(n_items, np.int32)
    item_row[item_order] = np.arange(n_items)
    ptr, u, i, r = blocked_layout(indptr, indices, data, user_order, user_block, item_row, item_block, B)
    assert ptr[-1] == 600
    # Back in original ids, the multiset of (user, item, rating) is unchanged.
    original = sorted(zip(users.tolist(), items.tolist(), ratings.tolist()))
    assert sorted(zip(user_order[u].tolist(), item_order[i].tolist(), r.tolist())) == original
    for cell in range(B * B):
        rows = slice(ptr[cell], ptr[cell + 1])
        assert set(user_block[user_order[u[rows]]]) <= {cell // B}
        assert set(item_block[item_order[i[rows]]]) <= {cell % B}
        assert np.all(np.diff(u[rows]) >= 0)  # by user inside a block


def test_score_pairs_handles_unknown_sides():
    P = np.array([[1, 0], [0, 2]], np.float32)
    Q = np.array([[3, 1]], np.float32)
    bu, bi = np.array([0.5, -0.5], np.float32), np.array([0.25], np.float32)
    out = np.empty(4, np.float32)
    score_pairs(np.array([0, 1, -1, 0], np.int32), np.array([0, 0, 0, -1], np.int32), P, Q, bu, bi, f32(3), out)
    np.testing.assert_allclose(out, [3 + 0.5 + 0.25 + 3, 3 - 0.5 + 0.25 + 2, 3 + 0.25, 3 + 0.5])


def test_top_k_matches_reference(rng):
    n_users, n_items, k = 6, 50, 7
    scores = rng.normal(size=(n_users, n_items)).astype(np.float32)
    scores[0, :10] = 1.0  # ties resolve to the lower index
    seen = [set(rng.choice(n_items, 5, replace=False).tolist()) for _ in range(n_users)]
    seen[3] = set(range(n_items - 3))  # only 3 candidates left: fewer than k
    indptr = np.concatenate([[0], np.cumsum([len(s) for s in seen])]).astype(np.int64)
    indices = np.concatenate([sorted(s) for s in seen]).astype(np.int32)
    allowed = np.ones(n_items, bool)
    allowed[[5, 11]] = False
    out_i = np.full((n_users, k), -1, np.int32)
    out_s = np.zeros((n_users, k), np.float32)
    count = np.zeros(n_users, np.int32)
    top_k(scores.copy(), np.arange(n_users, dtype=np.int32), indptr, indices, True, allowed, k, out_i, out_s, count)
    for u in range(n_users):
        expected = top_k_reference(scores[u], seen[u], allowed, k)
        assert out_i[u, : count[u]].tolist() == expected
    assert count[3] == 3


def test_ranking_kernel_agrees_with_the_reference_metrics(rng):
    k, n_items = 5, 30
    recs = [rng.choice(n_items, k, replace=False) for _ in range(20)]
    rels = [set(rng.choice(n_items, rng.integers(1, 8), replace=False).tolist()) for _ in range(20)]
    rels[0].add(-1)  # a relevant item the model cannot rank
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rels])]).astype(np.int64)
    indices = np.concatenate([sorted(r) for r in rels]).astype(np.int32)
    out = np.zeros((20, 5))
    ranking_metrics(np.array(recs, np.int32), np.full(20, k, np.int32), indptr, indices, k, out)
    for u in range(20):
        expected = [
            f(list(recs[u]), rels[u], k)
            for f in (precision_at_k, recall_at_k, ndcg_at_k, average_precision_at_k, hit_rate_at_k)
        ]
        np.testing.assert_allclose(out[u], expected, rtol=1e-12)


def test_group_rows_is_a_stable_counting_sort():
    keys = np.array([2, 0, 2, 1, 0], np.int32)
    indptr, order = group_rows(keys, 3)
    assert indptr.tolist() == [0, 2, 3, 5] and order.tolist() == [1, 4, 3, 0, 2]


def test_duplicates_are_counted_and_merged():
    users = np.array([0, 0, 1, 0], np.int32)
    items = np.array([1, 2, 1, 1], np.int32)
    ratings = np.array([1, 2, 3, 5], np.float32)
    indptr, indices, _ = csr_by_user(users, items, ratings, 2)
    assert count_duplicates(indptr, indices, 3) == 1
    merged = ratings.copy()
    keep, dropped, first_a, first_b = merge_duplicates(users, items, ratings, merged, 2, 3)
    assert keep.tolist() == [False, True, True, True] and dropped == 1 and (first_a, first_b) == (0, 3)
    assert merged[3] == 3.0


def test_interleave_takes_users_in_turn_and_keeps_every_rating_in_its_block(rng):
    users = rng.integers(0, 30, 400).astype(np.int32)
    items = rng.integers(0, 20, 400).astype(np.int32)
    ratings = rng.random(400).astype(np.float32)
    indptr, indices, data = csr_by_user(users, items, ratings, 30)
    user_block = (np.arange(30) % 3).astype(np.int32)
    item_block = (np.arange(20) % 3).astype(np.int32)
    user_order = np.argsort(user_block, kind="stable").astype(np.int32)
    item_row = np.argsort(np.argsort(item_block, kind="stable")).astype(np.int32)
    ptr, u, i, r = blocked_layout(indptr, indices, data, user_order, user_block, item_row, item_block, 3)
    u2, i2, r2 = u.copy(), i.copy(), r.copy()
    interleave_user_runs(ptr, u2, i2, r2, 4)
    for cell in range(9):
        rows = slice(ptr[cell], ptr[cell + 1])
        # The same (user, item, rating) triples, and each user's ratings keep their order.
        assert sorted(zip(u[rows].tolist(), i[rows].tolist(), r[rows].tolist())) == sorted(
            zip(u2[rows].tolist(), i2[rows].tolist(), r2[rows].tolist())
        )
        for user in np.unique(u[rows]):
            assert i2[rows][u2[rows] == user].tolist() == i[rows][u[rows] == user].tolist()
        # Runs of four users go round-robin: their first ratings come first, in user order.
        runs = np.unique(u[rows])
        first = runs[:4]
        assert u2[rows][: len(first)].tolist() == first.tolist()


def test_interleave_by_hand():
    ptr = np.array([0, 7], np.int64)
    users = np.array([0, 0, 0, 1, 2, 2, 3], np.int32)
    items = np.arange(7, dtype=np.int32)
    ratings = items.astype(np.float32)
    interleave_user_runs(ptr, users, items, ratings, 2)
    assert users.tolist() == [0, 1, 0, 0, 2, 3, 2]
    assert items.tolist() == [0, 3, 1, 2, 4, 6, 5]
