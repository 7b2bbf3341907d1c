"""Scoring kernels: pairs of (user, item) and top-k selection over all items."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def score_pairs(users, items, P, Q, user_bias, item_bias, global_mean, out):
    """``out[r] = mu + b_u + b_i + p_u.q_i`` with an unknown side (index -1) contributing nothing.

    users, items : int32[n] (-1 = unknown). P : float32[n_users, k] or [0, k] for
    bias-only models. out : float32[n], written.
    """
    k = P.shape[1]
    for r in prange(users.shape[0]):
        u = users[r]
        i = items[r]
        s = global_mean
        if u >= 0:
            s += user_bias[u]
        if i >= 0:
            s += item_bias[i]
        if u >= 0 and i >= 0 and k > 0:
            p = P[u]
            q = Q[i]
            dot = np.float32(0.0)
            for f in range(k):
                dot += p[f] * q[f]
            s += dot
        out[r] = s


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
