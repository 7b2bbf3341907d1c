"""Stochastic gradient descent for biased matrix factorization, blocked for threads (FPSG).

The rating matrix is cut into B x B blocks (users into B groups, items into B
groups, each holding about the same number of ratings). A *sub-epoch* runs B
blocks that share no user and no item, one per user group, in parallel; B
sub-epochs cover every block once. Threads therefore never write the same row,
and the result does not depend on how many threads run the blocks. Inside a
block ratings are ordered by user, four users' ratings taken in turn
(:func:`interleave_user_runs`), so their ``P[u]`` stay in L1 while the block's
slice of ``Q`` stays in L2.

Where the time goes (benchmarks/RESULTS.md, "SGD and BPR against the hardware"):
an update is ~8k flops on 2 x 4k bytes of factor rows, far below this CPU's
compute peak, so the epoch is bound by moving rows: P is streamed from DRAM once
per item group, Q gathered at random from L2. Hence the kernel asks for the rows
of the rating ``PREFETCH_AHEAD`` places ahead, and the factor matrices come from
:func:`mfrec.kernels.rows.aligned_rows` (rows on cache lines, width padded to the
vector width). The k loops compile to AVX-512 FMAs (checked with ``inspect_asm``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mfrec.kernels._config import FAST
from mfrec.kernels.prefetch import PREFETCH_AHEAD, prefetch_row


@njit(cache=True, nogil=True)
def blocked_layout(indptr, indices, data, user_order, user_block, item_row, item_block, n_blocks):
    """Ratings laid out block by block for ``sgd_epoch``, rows renumbered for locality.

    indptr int64[n_users+1], indices int32[nnz], data float32[nnz]: ratings by user (CSR).
    user_order int32[n_users]: the users in training order, grouped by block; the
    training row of ``user_order[p]`` is ``p``. user_block int32[n_users]: block of
    each user. item_row int32[n_items]: training row of each item (grouped by
    block). item_block int32[n_items].

    Returns ``block_ptr`` int64[B*B+1] and training-row ``users`` int32[nnz],
    ``items`` int32[nnz], ``ratings`` float32[nnz]; inside a block rows go by user,
    so each block touches a contiguous run of P and of Q.
    """
    n_cells = n_blocks * n_blocks
    block_ptr = np.zeros(n_cells + 1, dtype=np.int64)
    for p in range(user_order.shape[0]):
        u = user_order[p]
        base = user_block[u] * n_blocks
        for j in range(indptr[u], indptr[u + 1]):
            block_ptr[base + item_block[indices[j]] + 1] += 1
    for c in range(n_cells):
        block_ptr[c + 1] += block_ptr[c]
    cursor = block_ptr[:-1].copy()
    users = np.empty(indices.shape[0], dtype=np.int32)
    items = np.empty(indices.shape[0], dtype=np.int32)
    ratings = np.empty(indices.shape[0], dtype=np.float32)
    for p in range(user_order.shape[0]):
        u = user_order[p]
        base = user_block[u] * n_blocks
        for j in range(indptr[u], indptr[u + 1]):
            i = indices[j]
            c = base + item_block[i]
            dest = cursor[c]
            users[dest] = p
            items[dest] = item_row[i]
            ratings[dest] = data[j]
            cursor[c] = dest + 1
    return block_ptr, users, items, ratings


@njit(cache=True, nogil=True, parallel=True)
def interleave_user_runs(block_ptr, users, items, ratings, width):
    """Reorder each block of ``blocked_layout`` in place: ``width`` users' ratings at a time, taken in turn.

    A block lists each user's ratings as one run; the updates of one run form a chain (each
    reads the ``P[u]`` the previous one wrote), so the CPU cannot overlap them. Taking the first
    rating of ``width`` users, then their second, and so on lets it overlap ``width`` chains while
    their rows stay in L1. Same ratings, same blocks; only the order inside a block changes.
    """
    for cell in prange(block_ptr.shape[0] - 1):
        start = block_ptr[cell]
        end = block_ptr[cell + 1]
        if end - start < 2:
            continue
        out_users = np.empty(end - start, dtype=np.int32)
        out_items = np.empty(end - start, dtype=np.int32)
        out_ratings = np.empty(end - start, dtype=np.float32)
        bounds = np.empty(width + 1, dtype=np.int64)
        out = 0
        pos = start
        while pos < end:
            n_runs = 0
            longest = 0
            while n_runs < width and pos < end:
                bounds[n_runs] = pos
                user = users[pos]
                while pos < end and users[pos] == user:
                    pos += 1
                longest = max(longest, pos - bounds[n_runs])
                n_runs += 1
            bounds[n_runs] = pos
            for step in range(longest):
                for run in range(n_runs):
                    src = bounds[run] + step
                    if src < bounds[run + 1]:
                        out_users[out] = users[src]
                        out_items[out] = items[src]
                        out_ratings[out] = ratings[src]
                        out += 1
        users[start:end] = out_users
        items[start:end] = out_items
        ratings[start:end] = out_ratings


@njit(cache=True, nogil=True, fastmath=FAST)
def sgd_block(
    start,
    end,
    users,
    items,
    ratings,
    P,
    Q,
    user_bias,
    item_bias,
    global_mean,
    lr,
    lr_bias,
    reg_user,
    reg_item,
    reg_user_bias,
    reg_item_bias,
    biased,
    user_inverse=None,
    item_inverse=None,
    constants=None,
):
    """One pass over rows ``start:end``; updates P, Q and the biases in place.

    Returns the sum of squared errors measured before each update. P and Q may be
    zero-padded beyond the model's k (``aligned_rows``): padding stays zero.
    user_inverse / item_inverse float32[rows]: 1 / the row's rating count (or None); constants float32[3]:
    the factor, user-bias and item-bias regularisation per row, spread over its ratings (each update adds
    constant / count to the per-rating weight, so a row's total is reg * n + constant, as in ALS).
    """
    k = P.shape[1]
    sq_error = 0.0
    for idx in range(start, end):
        ahead = idx + PREFETCH_AHEAD
        if ahead < end:  # Q[i] is a random row: its load would stall the update without the hint
            prefetch_row(Q, np.uint64(items[ahead]))
            prefetch_row(P, np.uint64(users[ahead]))
        # Unsigned rows: numba then skips the negative-index wrap-around on every access.
        u = np.uint64(users[idx])
        i = np.uint64(items[idx])
        p = P[u]
        q = Q[i]
        dot = np.float32(0.0)
        for f in range(k):
            dot += p[f] * q[f]
        ru, ri, rbu, rbi = reg_user, reg_item, reg_user_bias, reg_item_bias
        if user_inverse is not None:
            ru += constants[0] * user_inverse[u]
            ri += constants[0] * item_inverse[i]
            rbu += constants[1] * user_inverse[u]
            rbi += constants[2] * item_inverse[i]
        if biased:
            err = ratings[idx] - (global_mean + user_bias[u] + item_bias[i] + dot)
            user_bias[u] += lr_bias * (err - rbu * user_bias[u])
            item_bias[i] += lr_bias * (err - rbi * item_bias[i])
        else:
            err = ratings[idx] - dot
        sq_error += err * err
        # p + lr (err q - ru p) written as keep p + step q: one multiply and one FMA per factor instead of a
        # multiply and two FMAs, 1.14x the epoch on 5M ratings (k = 64, one thread; same step, other rounding).
        step = lr * err
        keep_user = np.float32(1.0) - lr * ru
        keep_item = np.float32(1.0) - lr * ri
        for f in range(k):
            pf = p[f]
            qf = q[f]
            p[f] = keep_user * pf + step * qf
            q[f] = keep_item * qf + step * pf
    return sq_error


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def sgd_epoch(
    users,
    items,
    ratings,
    block_ptr,
    schedule,
    P,
    Q,
    user_bias,
    item_bias,
    global_mean,
    lr,
    lr_bias,
    reg_user,
    reg_item,
    reg_user_bias,
    reg_item_bias,
    biased,
    block_error,
    user_inverse=None,
    item_inverse=None,
    constants=None,
):
    """One epoch over every block.

    users, items : int32[n]; ratings : float32[n], in ``blocked_layout`` order.
    block_ptr : int64[B*B+1]. schedule : int64[B, B]; in sub-epoch ``s`` user
    group ``b`` works on item group ``schedule[s, b]`` (each row a permutation).
    P : float32[n_users, k], Q : float32[n_items, k], biases float32; mutated.
    block_error : float64[B*B] receives each block's squared error (summed by
    the caller, so the total does not depend on thread timing).
    user_inverse, item_inverse, constants : see :func:`sgd_block` (None: no constant terms).
    """
    n_blocks = schedule.shape[1]
    for s in range(schedule.shape[0]):
        for b in prange(n_blocks):
            cell = b * n_blocks + schedule[s, b]
            block_error[cell] = sgd_block(
                block_ptr[cell],
                block_ptr[cell + 1],
                users,
                items,
                ratings,
                P,
                Q,
                user_bias,
                item_bias,
                global_mean,
                lr,
                lr_bias,
                reg_user,
                reg_item,
                reg_user_bias,
                reg_item_bias,
                biased,
                user_inverse,
                item_inverse,
                constants,
            )
