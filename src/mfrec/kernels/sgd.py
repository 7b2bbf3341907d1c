"""Stochastic gradient descent for biased matrix factorization, blocked for threads (FPSG).

The rating matrix is cut into B x B blocks (users into B groups, items into B
groups, each holding about the same number of ratings). A *sub-epoch* runs B
blocks that share no user and no item, one per user group, in parallel; B
sub-epochs cover every block once. Threads therefore never write the same row,
and the result does not depend on how many threads run the blocks. Inside a
block ratings are ordered by user, so ``P[u]`` stays in L1 while the block's
slice of ``Q`` stays in L2.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mfrec.kernels.sparse import group_rows

# No 'nnan'/'ninf': divergence must stay visible as inf/nan for the caller's check.
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}


@njit(cache=True, nogil=True)
def blocked_order(users, items, n_users, user_block, item_block, n_blocks):
    """Order of rows grouped by block (``user_block*B + item_block``), by user inside a block.

    Returns ``block_ptr`` int64[B*B+1] and ``order`` int64[n].
    """
    _, by_user = group_rows(users, n_users)
    n_cells = n_blocks * n_blocks
    block_ptr = np.zeros(n_cells + 1, dtype=np.int64)
    for r in range(users.shape[0]):
        block_ptr[user_block[users[r]] * n_blocks + item_block[items[r]] + 1] += 1
    for c in range(n_cells):
        block_ptr[c + 1] += block_ptr[c]
    cursor = block_ptr[:-1].copy()
    order = np.empty(users.shape[0], dtype=np.int64)
    for p in range(by_user.shape[0]):
        r = by_user[p]
        c = user_block[users[r]] * n_blocks + item_block[items[r]]
        order[cursor[c]] = r
        cursor[c] += 1
    return block_ptr, order


@njit(cache=True, nogil=True, fastmath=FAST)
def sgd_block(start, end, users, items, ratings, P, Q, user_bias, item_bias, global_mean,
              lr, lr_bias, reg_user, reg_item, reg_user_bias, reg_item_bias, biased):  # fmt: skip
    """One pass over rows ``start:end``; updates P, Q and the biases in place.

    Returns the sum of squared errors measured before each update.
    """
    k = P.shape[1]
    sq_error = 0.0
    for idx in range(start, end):
        u = users[idx]
        i = items[idx]
        p = P[u]
        q = Q[i]
        dot = np.float32(0.0)
        for f in range(k):
            dot += p[f] * q[f]
        if biased:
            err = ratings[idx] - (global_mean + user_bias[u] + item_bias[i] + dot)
            user_bias[u] += lr_bias * (err - reg_user_bias * user_bias[u])
            item_bias[i] += lr_bias * (err - reg_item_bias * item_bias[i])
        else:
            err = ratings[idx] - dot
        sq_error += err * err
        for f in range(k):
            pf = p[f]
            qf = q[f]
            p[f] = pf + lr * (err * qf - reg_user * pf)
            q[f] = qf + lr * (err * pf - reg_item * qf)
    return sq_error


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def sgd_epoch(users, items, ratings, block_ptr, schedule, P, Q, user_bias, item_bias, global_mean,
              lr, lr_bias, reg_user, reg_item, reg_user_bias, reg_item_bias, biased, block_error):  # fmt: skip
    """One epoch over every block.

    users, items : int32[n]; ratings : float32[n], in ``blocked_order``.
    block_ptr : int64[B*B+1]. schedule : int64[B, B]; in sub-epoch ``s`` user
    group ``b`` works on item group ``schedule[s, b]`` (each row a permutation).
    P : float32[n_users, k], Q : float32[n_items, k], biases float32; mutated.
    block_error : float64[B*B] receives each block's squared error (summed by
    the caller, so the total does not depend on thread timing).
    """
    n_blocks = schedule.shape[1]
    for s in range(schedule.shape[0]):
        for b in prange(n_blocks):
            cell = b * n_blocks + schedule[s, b]
            block_error[cell] = sgd_block(
                block_ptr[cell], block_ptr[cell + 1], users, items, ratings, P, Q, user_bias, item_bias,
                global_mean, lr, lr_bias, reg_user, reg_item, reg_user_bias, reg_item_bias, biased,
            )  # fmt: skip
