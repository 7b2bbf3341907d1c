"""Issue 17: BPR's per-sample work made cheaper (branch-free negative check) without changing what it computes."""

import numpy as np
from numba import njit

from mfrec.kernels.bpr import _contains
from mfrec.kernels.branchless import select


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
