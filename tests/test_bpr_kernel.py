"""Issue 17: BPR's per-sample work made cheaper (branch-free negative check) without changing what it computes."""

import numpy as np
from numba import njit

from mfrec.kernels.bpr import SPECIALISED_WIDTH, _contains, bpr_block, sigmoid_of_minus
from mfrec.kernels.branchless import select
from mfrec.kernels.rows import aligned_rows

f32 = np.float32


def test_select_chooses_like_a_conditional_and_stays_a_cmov():
    @njit
    def last_not_above(values, key):  # the search step _contains uses
        lo, n = 0, values.shape[0]
        while n > 1:
            half = n >> 1
            lo = select(values[lo + half] <= key, lo + half, lo)
            n -= half
        return lo

    values = np.arange(0, 60, 3, dtype=np.int32)
    assert [last_not_above(values, key) for key in (0, 2, 3, 58, 100)] == [0, 0, 1, 19, 19]
    assert njit(lambda c, a, b: select(c, a, b))(True, 1.5, 2.5) == 1.5
    assert "cmov" in next(iter(last_not_above.inspect_asm().values()))


def test_contains_agrees_with_set_membership_for_every_run_length(rng):
    for length in range(0, 40):
        run = np.sort(rng.choice(100, size=length, replace=False)).astype(np.int32)
        items = np.concatenate([[-5, 200], run, [-7]]).astype(np.int32)  # the run sits inside a longer array
        members = set(run.tolist())
        found = [bool(_contains(items, 2, 2 + length, np.int64(item))) for item in range(-8, 110)]
        assert found == [item in members for item in range(-8, 110)], length


def test_a_width_compiled_as_a_constant_trains_like_the_run_time_width(rng):
    n_users, n_items, n = 40, 90, 400
    keep = np.unique(rng.integers(0, n_users, n).astype(np.int64) * n_items + rng.integers(0, n_items, n))
    users, items = (keep // n_items).astype(np.int32), (keep % n_items).astype(np.int32)
    P = aligned_rows(rng.normal(0, 0.1, (n_users, 64)).astype(np.float32))
    Q = aligned_rows(rng.normal(0, 0.1, (n_items, 64)).astype(np.float32))
    runs = []
    for width in (0, SPECIALISED_WIDTH):
        P_w, Q_w, bias = P.copy(), Q.copy(), np.zeros(n_items, np.float32)
        args = (f32(0.05), f32(0.01), f32(0.01), f32(0.01), True, np.uint64(99), width)
        correct = bpr_block(0, len(users), users, items, 0, n_items, np.empty(0, np.int32), 0, 0, P_w, Q_w, bias, *args)
        runs.append((correct, P_w, Q_w, bias))
    (correct_0, P_0, Q_0, bias_0), (correct_64, P_64, Q_64, bias_64) = runs
    assert correct_0 == correct_64 and not np.array_equal(P_0, P)
    np.testing.assert_allclose(P_64, P_0, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(Q_64, Q_0, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bias_64, bias_0, rtol=1e-5, atol=1e-7)


def test_the_tabulated_sigmoid_is_within_1e6_of_the_exact_one_everywhere():
    @njit
    def tabulated(x):
        out = np.empty_like(x)
        for n in range(x.shape[0]):
            out[n] = sigmoid_of_minus(x[n])
        return out

    x = np.concatenate([np.linspace(-40, 40, 400_001), [-1e30, 1e30, -np.inf, np.inf]]).astype(np.float32)
    with np.errstate(over="ignore"):
        exact = 1.0 / (1.0 + np.exp(x.astype(np.float64)))
    np.testing.assert_allclose(tabulated(x), exact, rtol=0, atol=1e-6)
    assert np.isnan(tabulated(np.array([np.nan], np.float32))[0])  # NaN in, NaN out, and no read off the table
