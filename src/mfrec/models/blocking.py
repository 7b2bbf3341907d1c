"""The FPSG block layout shared by the SGD-style models (explicit SGD, BPR).

Users and items are split into B groups of about equal interaction counts and
renumbered so each group is a contiguous run of training rows; interactions are
laid out block by block (user group x item group), by user inside a block. A
sub-epoch then runs B blocks that share no user and no item, one per thread,
so threads never write the same row (LibMF's scheme, Zhuang et al. 2013).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfrec.kernels.sgd import blocked_layout, interleave_user_runs

# Keep one item block's factors (n_items/B rows x k floats) inside a 512 KiB L2,
# with at least 8 blocks for load balance and at most 64 to bound the barriers per epoch.
_L2_BUDGET_BYTES = 512 * 1024
_MIN_BLOCKS, _MAX_BLOCKS = 8, 64
# ... and at most (ratings per user) / 4 blocks: a block loads each of its users' P rows once, so with
# fewer than ~4 ratings a user per block P streams from DRAM B times an epoch. At 100M ratings (1M users
# x 200k items, k = 64) the L2 rule asks for 98 (capped at 64): B = 16-32 took 2.61-2.63 CPU s / epoch,
# 48 took 3.03 and 64 took 3.22; at 20M (B = 12-32) it made no difference (0.455-0.480).
_RATINGS_PER_USER_BLOCK = 4


def grid_size(n_items: int, n_factors: int, requested: int | None = None, ratings_per_user: float | None = None) -> int:
    """The number of user (and item) groups B: ``requested``, or sized for the L2 cache and the users' ratings.

    >>> grid_size(200_000, 64), grid_size(200_000, 64, ratings_per_user=100), grid_size(1_682, 64)
    (64, 24, 8)
    """
    if requested is not None:
        return requested
    needed = int(np.ceil(n_items * n_factors * 4 / _L2_BUDGET_BYTES))
    high = _MAX_BLOCKS
    if ratings_per_user is not None:
        high = min(high, int(ratings_per_user // _RATINGS_PER_USER_BLOCK))
    # Even: a sub-epoch's B blocks then split evenly over 2 threads (25 blocks ran as 13 + 12, 4% idle).
    needed = min(needed + needed % 2, high - high % 2)
    return int(max(needed, _MIN_BLOCKS))


def balanced_groups(counts: np.ndarray, n_groups: int, rng: np.random.Generator) -> np.ndarray:
    """Assign rows to ``n_groups`` groups of about equal total ``counts``, in random order."""
    order = rng.permutation(counts.shape[0])
    cumulative = np.cumsum(counts[order]) - counts[order]
    total = max(1, int(counts.sum()))
    groups = np.empty(counts.shape[0], dtype=np.int32)
    groups[order] = np.minimum(cumulative * n_groups // total, n_groups - 1)
    return groups


@dataclass
class BlockLayout:
    """Interactions in block order, in training rows.

    ``user_row[u]`` / ``item_row[i]``: the training row of original row u / i, so
    ``P_train[user_row]`` is P in the original order. ``block_ptr`` int64[B*B+1]:
    block (b, g) holds cells ``block_ptr[b*B+g]:block_ptr[b*B+g+1]`` of ``users``,
    ``items``, ``values``. ``item_starts`` int64[B+1]: item group g is training rows
    ``item_starts[g]:item_starts[g+1]``.
    """

    n_blocks: int
    user_row: np.ndarray
    item_row: np.ndarray
    block_ptr: np.ndarray
    users: np.ndarray
    items: np.ndarray
    values: np.ndarray
    item_starts: np.ndarray

    def schedule(self, rng: np.random.Generator) -> np.ndarray:
        """int64[B, B]: in sub-epoch s, user group b works on item group schedule[s, b]."""
        shifts = rng.permutation(self.n_blocks)
        return (np.arange(self.n_blocks)[None, :] + shifts[:, None]) % self.n_blocks


def block_layout(
    csr: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_items: int,
    n_blocks: int,
    rng: np.random.Generator,
    *,
    interleave: int = 1,
) -> BlockLayout:
    """Lay out the CSR interactions (by user) in ``n_blocks`` x ``n_blocks`` blocks; ``rng`` picks the groups.

    ``interleave`` > 1 takes that many users' interactions in turn inside a block
    (:func:`~mfrec.kernels.sgd.interleave_user_runs`); 1 keeps each user's as one run, which BPR's kernel needs.
    """
    indptr, indices, data = csr
    n_users = indptr.shape[0] - 1
    user_block = balanced_groups(np.diff(indptr), n_blocks, rng)
    item_block = balanced_groups(np.bincount(indices, minlength=n_items), n_blocks, rng)
    user_order = np.argsort(user_block, kind="stable").astype(np.int32)
    item_order = np.argsort(item_block, kind="stable").astype(np.int32)
    user_row = np.empty(n_users, np.int32)
    user_row[user_order] = np.arange(n_users, dtype=np.int32)
    item_row = np.empty(n_items, np.int32)
    item_row[item_order] = np.arange(n_items, dtype=np.int32)
    block_ptr, users, items, values = blocked_layout(
        indptr, indices, data, user_order, user_block, item_row, item_block, n_blocks
    )
    if interleave > 1:
        interleave_user_runs(block_ptr, users, items, values, interleave)
    item_starts = np.concatenate([[0], np.cumsum(np.bincount(item_block, minlength=n_blocks))]).astype(np.int64)
    return BlockLayout(n_blocks, user_row, item_row, block_ptr, users, items, values, item_starts)
