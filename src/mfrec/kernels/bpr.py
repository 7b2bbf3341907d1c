"""Bayesian personalised ranking (Rendle et al. 2009) by stochastic gradient ascent.

A sample is a user u, an item i the user interacted with and an item j the user
did not; the step raises sigma(x_uij), x_uij = b_i - b_j + p_u . (q_i - q_j).

Parallel schedule: FPSG blocks (:mod:`mfrec.models.blocking`), user groups fixed
for the fit and item groups **drawn again every epoch** (:func:`regroup_cells`).
A block (user group b, item group g) visits each of its interactions (u, i) once
and draws the negative j from item group g, so the B blocks of a sub-epoch share
no user and no item row: threads never write the same row and the group's item
rows stay in L2. Because the item groups are re-drawn each epoch, the items a
positive can meet change every epoch: over the fit each negative is a uniform (or
popularity-weighted) draw from the whole catalogue, and within one epoch from the
positive's group, a random 1/B of it. (Groups fixed for the whole fit, as before
issue 30, kept each positive to the same 1/B of the catalogue for ever.) Each
block owns a random stream seeded from (seed, epoch, block), and the groups are
drawn in Python from the model's seed, so the result is identical for any number
of threads.
"""

from __future__ import annotations

import numpy as np
from numba import literally, njit, prange

from mfrec.kernels._config import FAST
from mfrec.kernels.branchless import select
from mfrec.kernels.prefetch import PREFETCH_AHEAD, prefetch_lines, prefetch_value

_MULT = np.uint64(2685821657736338717)
_MAX_TRIES = 16  # redraws of a negative that turns out to be a positive

#: The row width compiled with the width as a constant (k = 64, the default); others read it at run time.
SPECIALISED_WIDTH = 64

# sigma(-x) = 1 / (1 + e^x) tabulated at 1/128 steps on [-16, 16] and read with linear interpolation
# (word2vec's trick): libm's expf and the division cost ~15% of a sample, the table half as much (5-9% of
# an epoch saved, RESULTS.md). Its error is below 1e-6; beyond +-16 the clamped value is within 1.2e-7.
_SIGMOID_STEPS = 128
_SIGMOID_RANGE = 16
_SIGMOID_X = np.arange(-_SIGMOID_RANGE * _SIGMOID_STEPS, _SIGMOID_RANGE * _SIGMOID_STEPS + 1) / _SIGMOID_STEPS
_SIGMOID_TABLE = (1.0 / (1.0 + np.exp(_SIGMOID_X))).astype(np.float32)


@njit(cache=True, nogil=True, inline="always")
def _xorshift(state):
    """xorshift64*: next state and a 64-bit output."""
    state ^= state >> np.uint64(12)
    state ^= state << np.uint64(25)
    state ^= state >> np.uint64(27)
    return state, state * _MULT


@njit(cache=True, nogil=True, inline="always")
def _below(value, n):
    """Map a 64-bit random value to 0..n-1 (n < 2^32) by multiply-shift, no division."""
    return np.int64(((value >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@njit(cache=True, nogil=True)
def stream_seed(seed, epoch, block):
    """splitmix64 of (seed, epoch, block): independent, never-zero starting states."""
    z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(epoch) * np.uint64(0xBF58476D1CE4E5B9)
    z += np.uint64(block) * np.uint64(0x94D049BB133111EB) + np.uint64(0x2545F4914F6CDD1D)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z if z != np.uint64(0) else np.uint64(1)


@njit(cache=True, nogil=True, fastmath=FAST)
def sigmoid_of_minus(x):
    """1 / (1 + e^x) for a float32 ``x``, from the table (absolute error below 1e-6).

    >>> float(sigmoid_of_minus(np.float32(0.0)))
    0.5
    """
    last = _SIGMOID_TABLE.shape[0] - 1
    t = min(max((x + np.float32(_SIGMOID_RANGE)) * np.float32(_SIGMOID_STEPS), np.float32(0.0)), np.float32(last))
    n = min(max(np.int64(t), 0), last - 1)  # clamped again as an integer: a NaN x must still read inside the table
    low = _SIGMOID_TABLE[n]
    return low + (t - np.float32(n)) * (_SIGMOID_TABLE[n + 1] - low)


@njit(cache=True, nogil=True)
def _contains(sorted_items, lo, hi, item):
    """Whether ``item`` is in sorted_items[lo:hi]: a binary search whose steps are cmovs, not branches.

    A branch per step goes either way at random; in BPR's loop its mispredictions cost ~15% of a
    sample. The step count depends only on hi - lo, so for the samples of one user's run the loop's
    own branch repeats and is predicted. Not ``inline="always"``: numba's IR inliner would split the
    caller's blocks and leave atomic refcount updates of its row views in the loop; LLVM inlines it.
    """
    n = hi - lo
    if n <= 0:
        return False
    while n > 1:
        half = n >> 1
        lo = select(sorted_items[np.uint64(lo + half)] <= item, lo + half, lo)
        n -= half
    return sorted_items[np.uint64(lo)] == item


@njit(cache=True, nogil=True, fastmath=FAST)
def bpr_block(
    start,
    end,
    users,
    items,
    group_lo,
    group_hi,
    pool,
    pool_lo,
    pool_hi,
    P,
    Q,
    item_bias,
    learning_rate,
    reg_user,
    reg_item,
    reg_bias,
    verify,
    state,
    width,
):
    """Visit cells ``start:end`` (one block, by user, items sorted within each user's run).

    Negatives come from pool[pool_lo:pool_hi] when ``pool_hi > pool_lo`` (what
    :func:`bpr_epoch` passes: the group's items once each, or once per interaction
    for popularity), else from item rows group_lo:group_hi. Returns the count of
    samples with x_uij > 0.

    Each negative is drawn ``PREFETCH_AHEAD`` samples before its use, so its row
    (random, like the positive's) is on its way from L2 while earlier samples
    compute; a draw that turns out to be one of the user's positives is redrawn
    at use (``verify``), as before. P, Q may be zero-padded (``aligned_rows``).

    ``width`` is P's row width as a compile-time constant (``numba.literally``:
    one compiled kernel per value), or 0 to read it at run time. A constant
    width gives the k loops fixed trip counts: no dispatch on k, no remainder
    loops, the prefetches four plain instructions (4-8% less CPU per sample at
    k = 64, RESULTS.md). :func:`bpr_epoch` passes it as a literal, so the
    literal dispatch happens when bpr_epoch compiles; a call from Python pays
    numba's literal dispatch (tens of ms) on every call.

    The draw is written out here: a helper taking an array inlined by numba
    (``inline="always"``) left an atomic incref/decref of the array's refcount,
    shared by both threads' cores, in the loop, and that cost more than the math.
    The membership test, ``_contains``, is a plain call that LLVM inlines
    (``inspect_asm``: no refcount traffic in the loop).
    """
    k = literally(width)
    if k == 0:
        k = P.shape[1]
    n_group = group_hi - group_lo
    n_pool = pool_hi - pool_lo
    correct = 0
    run_start = start
    run_end = start
    lr = learning_rate
    pending = np.empty(PREFETCH_AHEAD, np.int64)  # negatives of samples idx .. idx + PREFETCH_AHEAD - 1
    for slot in range(min(PREFETCH_AHEAD, end - start)):
        state, v = _xorshift(state)
        pending[slot] = pool[pool_lo + _below(v, n_pool)] if n_pool > 0 else group_lo + _below(v, n_group)
        prefetch_lines(Q, pending[slot], k)
    for idx in range(start, end):
        slot = (idx - start) % PREFETCH_AHEAD
        j = pending[slot]
        ahead = idx + PREFETCH_AHEAD
        if ahead < end:
            state, v = _xorshift(state)
            drawn = np.int64(pool[pool_lo + _below(v, n_pool)] if n_pool > 0 else group_lo + _below(v, n_group))
            pending[slot] = drawn
            prefetch_lines(Q, drawn, k)
            prefetch_value(item_bias, drawn)
            prefetch_lines(Q, np.uint64(items[ahead]), k)
            prefetch_lines(P, np.uint64(users[ahead]), k)
        u = np.uint64(users[idx])
        if idx >= run_end:  # a new user: find the run of its cells (its positives in this group)
            run_start = idx
            run_end = idx + 1
            while run_end < end and users[run_end] == users[idx]:
                run_end += 1
        i = np.int64(items[idx])
        tries = 1
        while verify and tries < _MAX_TRIES:
            if not _contains(items, run_start, run_end, j):  # the user's positives in this block, sorted
                break
            state, v = _xorshift(state)
            j = np.int64(pool[pool_lo + _below(v, n_pool)] if n_pool > 0 else group_lo + _below(v, n_group))
            tries += 1
        if j == i:
            continue
        pu = P[u]
        qi = Q[np.uint64(i)]  # unsigned rows: no negative-index wrap-around on the accesses
        qj = Q[np.uint64(j)]
        x = item_bias[i] - item_bias[j]
        for a in range(k):
            x += pu[a] * (qi[a] - qj[a])
        correct += x > 0.0  # no branch: it would go either way on 1 sample in 6
        gz = lr * sigmoid_of_minus(x)  # learning rate x sigma(-x), the gradient of log sigma(x)
        for a in range(k):
            u_a = pu[a]
            i_a = qi[a]
            j_a = qj[a]
            pu[a] = u_a + gz * (i_a - j_a) - lr * reg_user * u_a
            qi[a] = i_a + gz * u_a - lr * reg_item * i_a
            qj[a] = j_a - gz * u_a - lr * reg_item * j_a
        item_bias[i] += gz - lr * reg_bias * item_bias[i]
        item_bias[j] += -gz - lr * reg_bias * item_bias[j]
    return correct


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def bpr_epoch(
    users,
    items,
    block_ptr,
    schedule,
    pool,
    pool_ptr,
    P,
    Q,
    item_bias,
    learning_rate,
    reg_user,
    reg_item,
    reg_bias,
    verify,
    seed,
    epoch,
    block_correct,
):
    """One epoch: every interaction once, with one sampled negative each.

    users, items int32[nnz], block_ptr int64[B*B+1]: this epoch's cells
    (:func:`regroup_cells`; items sorted within each user's run of a block, for
    ``verify``). schedule int64[B, B]: user group b works on item group
    schedule[s, b] in sub-epoch s. pool int32[p], pool_ptr int64[B+1]: negatives of
    item group g are drawn from pool[pool_ptr[g]:pool_ptr[g+1]] (the group's items
    once each: uniform; once per interaction: by popularity).
    P, Q, item_bias: updated in place. block_correct int64[B*B]: per block, the
    samples ranked right before their update (the training AUC's numerator).
    Rows of :data:`SPECIALISED_WIDTH` floats run the kernel compiled for that width.
    """
    specialised = P.shape[1] == SPECIALISED_WIDTH
    n_blocks = schedule.shape[1]
    for s in range(schedule.shape[0]):
        for b in prange(n_blocks):
            g = schedule[s, b]
            cell = b * n_blocks + g
            pool_lo = pool_ptr[g]
            pool_hi = pool_ptr[g + 1]
            if specialised:
                block_correct[cell] = bpr_block(
                    block_ptr[cell],
                    block_ptr[cell + 1],
                    users,
                    items,
                    0,
                    0,
                    pool,
                    pool_lo,
                    pool_hi,
                    P,
                    Q,
                    item_bias,
                    learning_rate,
                    reg_user,
                    reg_item,
                    reg_bias,
                    verify,
                    stream_seed(seed, epoch, cell),
                    64,  # SPECIALISED_WIDTH, as a literal
                )
            else:
                block_correct[cell] = bpr_block(
                    block_ptr[cell],
                    block_ptr[cell + 1],
                    users,
                    items,
                    0,
                    0,
                    pool,
                    pool_lo,
                    pool_hi,
                    P,
                    Q,
                    item_bias,
                    learning_rate,
                    reg_user,
                    reg_item,
                    reg_bias,
                    verify,
                    stream_seed(seed, epoch, cell),
                    0,
                )


@njit(cache=True, nogil=True, parallel=True)
def regroup_cells(indptr, indices, user_starts, item_group, block_ptr, users, items):
    """Lay the interactions out block by block for one epoch's item groups (in place).

    indptr int64[n_users+1], indices int32[nnz]: the interactions by training user
    row, items sorted within each row; user group b is rows
    ``user_starts[b]:user_starts[b+1]`` (int64[B+1]). item_group int32[n_items]: this
    epoch's group of each item. Fills block_ptr int64[B*B+1] and users, items
    int32[nnz]: block (b, g) is ``block_ptr[b*B+g]:block_ptr[b*B+g+1]``, by user,
    each user's items one sorted run (what :func:`bpr_block` needs). A user group's
    blocks fill the same span its rows hold in the CSR, so each thread writes only
    its own span, and the result does not depend on the thread count.
    """
    n_blocks = user_starts.shape[0] - 1
    counts = np.zeros((n_blocks, n_blocks), np.int64)
    for b in prange(n_blocks):
        for u in range(user_starts[b], user_starts[b + 1]):
            for p in range(indptr[u], indptr[u + 1]):
                counts[b, item_group[indices[p]]] += 1
    block_ptr[0] = 0
    for b in range(n_blocks):
        for g in range(n_blocks):
            cell = b * n_blocks + g
            block_ptr[cell + 1] = block_ptr[cell] + counts[b, g]
    for b in prange(n_blocks):
        cursor = block_ptr[b * n_blocks : (b + 1) * n_blocks].copy()
        for u in range(user_starts[b], user_starts[b + 1]):
            for p in range(indptr[u], indptr[u + 1]):
                i = indices[p]
                g = item_group[i]
                dest = cursor[g]
                users[dest] = u
                items[dest] = i
                cursor[g] = dest + 1


@njit(cache=True, nogil=True, parallel=True)
def rows_in_order(indptr, indices, order):
    """The CSR rows ``order[0], order[1], ...`` (int64 indptr, int32 indices), each row's items sorted."""
    new_indptr = np.zeros(order.shape[0] + 1, np.int64)
    for r in range(order.shape[0]):
        new_indptr[r + 1] = new_indptr[r] + indptr[order[r] + 1] - indptr[order[r]]
    new_indices = np.empty(indices.shape[0], np.int32)
    for r in prange(order.shape[0]):
        lo, hi = indptr[order[r]], indptr[order[r] + 1]
        new_indices[new_indptr[r] : new_indptr[r + 1]] = np.sort(indices[lo:hi])
    return new_indptr, new_indices


@njit(cache=True, nogil=True, parallel=True)
def sort_user_runs(block_ptr, users, items):
    """Sort the items of each user's run inside each block (for binary-search verification)."""
    for cell in prange(block_ptr.shape[0] - 1):
        start, end = block_ptr[cell], block_ptr[cell + 1]
        run = start
        while run < end:
            stop = run + 1
            while stop < end and users[stop] == users[run]:
                stop += 1
            if stop - run > 1:
                items[run:stop] = np.sort(items[run:stop])
            run = stop
