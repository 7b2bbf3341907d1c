"""Top-k selection: over one full score matrix (:func:`top_k`), and over item tiles kept in per-user heaps.

:func:`top_k` picks each user's best ``k`` of a users x items score block, leaving out seen and
disallowed items. The tile kernels merge one (users x items) tile of factor scores into per-user heaps kept
across tiles.

The caller computes the dot products of a tile with BLAS (``P[block] @ Q[tile].T``, and the pick
model's for pick x like) and hands them here; :func:`merge_tile` finishes each score the way
``Recommender._score_items`` and :func:`mfrec.ranking.pick.combine` do, counts non-finite scores,
leaves out seen and disallowed items and pushes the rest into the user's heap. Tiles come in
increasing item order, so ties go to the lower item index as in :func:`top_k`.

:func:`merge_pick_tile` does the same for pick x like from the pick products alone, forming a
predicted rating only for the items that can still enter the list.

The scores are bit for bit those of the full-matrix path when the GEMM rounds alike: OpenBLAS's
sgemm kernels form each element as one FMA chain in factor order whatever the tile (edge kernels on
tiny tiles may differ in the last bit), and :func:`blas_dots` forms the pruned candidates' ratings
the same way. Another BLAS may round differently in the last bit; the lists then differ only
where two scores tie to within that bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def _sift_down(values, index, size, pos):
    # Min-heap on (value, -index): among equal scores the higher item index is evicted first.
    while True:
        child = 2 * pos + 1
        if child >= size:
            return
        if child + 1 < size and (
            values[child + 1] < values[child]
            or (values[child + 1] == values[child] and index[child + 1] > index[child])
        ):
            child += 1
        if values[child] < values[pos] or (values[child] == values[pos] and index[child] > index[pos]):
            values[child], values[pos] = values[pos], values[child]
            index[child], index[pos] = index[pos], index[child]
            pos = child
        else:
            return


@njit(cache=True, nogil=True)
def heap_push(heap_v, heap_i, size, v, i):
    """Offer (v, i) to a min-heap of ``size`` entries (capacity len(heap_v)); return the new size."""
    if size < heap_v.shape[0]:
        pos = size
        heap_v[pos] = v
        heap_i[pos] = i
        while pos > 0:
            parent = (pos - 1) // 2
            if heap_v[pos] < heap_v[parent] or (heap_v[pos] == heap_v[parent] and heap_i[pos] > heap_i[parent]):
                heap_v[pos], heap_v[parent] = heap_v[parent], heap_v[pos]
                heap_i[pos], heap_i[parent] = heap_i[parent], heap_i[pos]
                pos = parent
            else:
                break
        return size + 1
    # Callers offer items in increasing index order: an equal score never displaces an earlier item.
    if v > heap_v[0]:
        heap_v[0] = v
        heap_i[0] = i
        _sift_down(heap_v, heap_i, size, 0)
    return size


@njit(cache=True, nogil=True)
def heap_drain(heap_v, heap_i, size, out_items, out_scores):
    """Pop a min-heap of ``size`` entries from the worst end into out_items / out_scores, best first."""
    for slot in range(size - 1, -1, -1):
        out_items[slot] = heap_i[0]
        out_scores[slot] = heap_v[0]
        heap_v[0] = heap_v[size - 1]
        heap_i[0] = heap_i[size - 1]
        size -= 1
        _sift_down(heap_v, heap_i, size, 0)


@njit(cache=True, nogil=True, parallel=True)
def top_k(scores, rows, seen_indptr, seen_indices, exclude_seen, allowed, k, out_items, out_scores, out_count):
    """Best ``k`` allowed items per row of ``scores``, highest first, ties to the lower item index.

    scores : float32[b, n_items], overwritten (seen items set to -inf).
    rows : int32[b], the user row of each score row (for the seen-items CSR).
    seen_indptr int64[n_users+1], seen_indices int32[nnz]: items each user rated.
    allowed : bool[n_items]; items set False are never returned.
    out_items int32[b, k], out_scores float32[b, k], out_count int32[b] (how many are valid:
    fewer than k when fewer items are left), written.
    """
    n_items = scores.shape[1]
    for j in prange(scores.shape[0]):
        row = scores[j]
        if exclude_seen:
            u = rows[j]
            for p in range(seen_indptr[u], seen_indptr[u + 1]):
                row[seen_indices[p]] = -np.inf
        heap_v = np.empty(k, dtype=np.float32)
        heap_i = np.empty(k, dtype=np.int32)
        size = 0
        for i in range(n_items):
            v = row[i]
            if not allowed[i] or v == -np.inf or v != v:
                continue
            size = heap_push(heap_v, heap_i, size, v, i)
        out_count[j] = size
        heap_drain(heap_v, heap_i, size, out_items[j], out_scores[j])


@njit(cache=True, nogil=True)
def _finish_scores(dots, picks, item_bias, offset, use_ranker, low, span, epsilon, out):
    """One user's scores into ``out`` (a scratch row that stays in cache; the tile itself is only read),
    from the dot products ``dots`` and, for pick x like, the pick parts ``picks``; item_bias from 0.

    Branch-free loops, so LLVM vectorizes them: this pass touches every (user, item) pair.
    """
    zero = np.float32(0.0)
    one = np.float32(1.0)
    n = dots.shape[0]
    if not use_ranker:
        for c in range(n):
            out[c] = np.float32(np.float32(dots[c] + item_bias[c]) + offset)
    elif span > zero:
        for c in range(n):
            s = np.float32(np.float32(dots[c] + item_bias[c]) + offset)
            like = (s - low) / span
            like = zero if like < zero else like
            like = one if like > one else like
            pick = picks[c]
            pick = zero if pick < zero else pick
            out[c] = (pick + epsilon) * like
    else:  # like = 1 (a one-value scale, or the plain chart), but a non-finite rating still spoils the score
        for c in range(n):
            s = np.float32(np.float32(dots[c] + item_bias[c]) + offset)
            pick = picks[c]
            pick = zero if pick < zero else pick
            out[c] = (pick + epsilon) * (one + zero * s)


@njit(cache=True, nogil=True)
def _count_nonfinite(row):
    bad = 0
    for c in range(row.shape[0]):
        bad += (row[c] - row[c]) != 0  # NaN for NaN and +-inf
    return bad


@njit(cache=True, nogil=True)
def _mark_seen(row, u, first, seen_indptr, seen_indices):
    """Seen items of user row ``u`` in this tile become -inf (after the non-finite count)."""
    n = row.shape[0]
    for p in range(seen_indptr[u], seen_indptr[u + 1]):
        c = seen_indices[p] - first
        if 0 <= c < n:
            row[c] = -np.inf


@njit(cache=True, nogil=True)
def _chunk(b, n_chunks, t):
    """Rows [lo, hi) of chunk t of ``b`` rows cut into ``n_chunks``."""
    return t * b // n_chunks, (t + 1) * b // n_chunks


@njit(cache=True, nogil=True, parallel=True)
def merge_tile(
    dots,
    picks,
    first,
    item_bias,
    user_offset,
    use_ranker,
    low,
    span,
    epsilon,
    rows,
    seen_indptr,
    seen_indices,
    exclude_seen,
    allowed,
    heap_v,
    heap_i,
    heap_n,
    nonfinite,
    n_chunks,
):
    """Finish the scores of items ``first .. first + t`` for ``b`` users and merge them into their heaps.

    dots : float32[b, t], p_u . q_i (read only). picks : float32[b, t], the pick
    model's x_u . y_i (read only when ``use_ranker``). item_bias [n_items] and user_offset [b] (mu + b_u
    as numpy computes it) in the model's dtypes: float32 adds, or float64 ones rounded once as numpy does.
    ``span`` > 0: like = clip((rating - low) / span, 0, 1), else like = 1. rows int32[b]: the users' rows
    in the seen-items CSR. heap_v float32[b, k], heap_i int32[b, k], heap_n int32[b]: the heaps, updated.
    nonfinite int64[b]: NaN or infinite scores met, incremented. Rows are split into ``n_chunks`` (a few per
    thread), each with its own scratch row.
    """
    n_cols = dots.shape[1]
    k = heap_v.shape[1]
    b = dots.shape[0]
    item_bias = item_bias[first : first + n_cols]  # slices index from 0: no wraparound checks in the loops
    allow = allowed[first : first + n_cols]
    for t in prange(n_chunks):
        row = np.empty(n_cols, np.float32)
        lo, hi = _chunk(b, n_chunks, t)
        for j in range(lo, hi):
            _finish_scores(
                dots[j],
                picks[j] if use_ranker else dots[j],
                item_bias,
                user_offset[j],
                use_ranker,
                low,
                span,
                epsilon,
                row,
            )
            nonfinite[j] += _count_nonfinite(row)
            if exclude_seen:
                _mark_seen(row, rows[j], first, seen_indptr, seen_indices)
            size = heap_n[j]
            hv = heap_v[j]
            hi_ = heap_i[j]
            # Most items lose to the heap's worst at once; NaN and -inf (seen) fail every comparison here.
            bound = hv[0] if size == k else -np.inf
            for c in range(n_cols):
                v = row[c]
                if not v > bound or not allow[c]:
                    continue
                size = heap_push(hv, hi_, size, v, np.int32(first + c))
                bound = hv[0] if size == k else -np.inf
            heap_n[j] = size


@njit(cache=True, nogil=True, parallel=True)
def drain_heaps(heap_v, heap_i, heap_n, out_items, out_scores, out_count):
    """Write each heap best-first into out_items int32[b, k] / out_scores float32[b, k]; out_count = its size."""
    for j in prange(heap_v.shape[0]):
        out_count[j] = heap_n[j]
        heap_drain(heap_v[j], heap_i[j], heap_n[j], out_items[j], out_scores[j])


#: Candidates whose ratings are formed together: independent FMA chains overlap, and the heap's bound
#: is refreshed after every group.
CANDIDATE_GROUP = 32


@njit(cache=True, nogil=True, fastmath={"contract"})
def blas_dots(p, Q, items, count, out):
    """out[t] = p . Q[items[t]] for t < count, each as OpenBLAS's sgemm kernels form an element: one FMA chain
    in factor order, so the values are bit for bit those of ``P @ Q.T`` (checked in the tests)."""
    for t in range(count):
        out[t] = np.float32(0.0)
    for f in range(p.shape[0]):
        pf = p[f]
        for t in range(count):
            out[t] = out[t] + pf * Q[items[t], f]


@njit(cache=True, nogil=True)
def _push_group(group, count, dots, p_u, Q, item_bias, offset, low, span, pick_parts, first, heap_v, heap_i, size):
    """Push candidates group[:count] with score pick part x like, their ratings formed together; return the size."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    if span > zero:
        blas_dots(p_u, Q, group, count, dots)
    for g in range(count):
        i = group[g]
        like = one
        if span > zero:
            s = np.float32(np.float32(dots[g] + item_bias[i]) + offset)
            like = (s - low) / span
            like = zero if like < zero else like
            like = one if like > one else like
        size = heap_push(heap_v, heap_i, size, pick_parts[i - first] * like, np.int32(i))
    return size


@njit(cache=True, nogil=True, parallel=True)
def merge_pick_tile(
    picks,
    first,
    P_block,
    Q,
    item_bias,
    user_offset,
    low,
    span,
    epsilon,
    rows,
    seen_indptr,
    seen_indices,
    exclude_seen,
    allowed,
    heap_v,
    heap_i,
    heap_n,
    nonfinite,
    n_chunks,
):
    """:func:`merge_tile` for pick x like, forming the like part only for items that can still enter the heap.

    score = (max(0, pick) + epsilon) x like with like in [0, 1], so score <= max(0, pick) + epsilon: once a
    user's heap is full, an item whose pick part is not above the heap's worst cannot enter, and its
    predicted rating (a 64-factor dot) is never formed. The caller guarantees the ratings are finite
    (finite factors and biases too small to overflow); non-finite pick parts are counted here.
    picks float32[b, t]: x_u . y_i (read only). P_block float32[b, f], Q float32[n_items, f].
    """
    n_cols = picks.shape[1]
    k = heap_v.shape[1]
    b = picks.shape[0]
    zero = np.float32(0.0)
    allow = allowed[first : first + n_cols]
    for t in prange(n_chunks):
        row = np.empty(n_cols, np.float32)
        group = np.empty(CANDIDATE_GROUP, np.int64)
        dots = np.empty(CANDIDATE_GROUP, np.float32)
        lo, hi_rows = _chunk(b, n_chunks, t)
        for j in range(lo, hi_rows):
            pick_row = picks[j]
            for c in range(n_cols):
                pick = pick_row[c]
                pick = zero if pick < zero else pick
                row[c] = pick + epsilon
            nonfinite[j] += _count_nonfinite(row)
            if exclude_seen:
                _mark_seen(row, rows[j], first, seen_indptr, seen_indices)
            size = heap_n[j]
            hv = heap_v[j]
            hi = heap_i[j]
            p_u = P_block[j]
            offset = user_offset[j]
            # Until the heap is full every allowed item is a candidate (-inf: seen; NaN fails too).
            bound = hv[0] if size == k else -np.inf
            count = 0
            for c in range(n_cols):
                if not row[c] > bound or not allow[c]:
                    continue
                group[count] = first + c
                count += 1
                if count == CANDIDATE_GROUP:
                    size = _push_group(
                        group, count, dots, p_u, Q, item_bias, offset, low, span, row, first, hv, hi, size
                    )
                    count = 0
                    bound = hv[0] if size == k else -np.inf
            size = _push_group(group, count, dots, p_u, Q, item_bias, offset, low, span, row, first, hv, hi, size)
            heap_n[j] = size
