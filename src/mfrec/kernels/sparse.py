"""Grouping and de-duplication of COO interactions, in O(n) counting sorts."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def row_pointers(keys, n_keys):
    """CSR ``indptr`` (int64[n_keys+1]) of entries grouped by ``keys`` (values in ``0..n_keys-1``)."""
    indptr = np.zeros(n_keys + 1, dtype=np.int64)
    for r in range(keys.shape[0]):
        indptr[keys[r] + 1] += 1
    for k in range(n_keys):
        indptr[k + 1] += indptr[k]
    return indptr


@njit(cache=True, nogil=True)
def group_rows(keys, n_keys):
    """Stable counting sort of rows by ``keys``.

    keys : int32[n], values in ``0..n_keys-1``.
    Returns ``indptr`` int64[n_keys+1] and ``order`` int64[n]: rows of key ``k`` are
    ``order[indptr[k]:indptr[k+1]]``, in their original order.
    """
    indptr = row_pointers(keys, n_keys)
    cursor = indptr[:-1].copy()
    order = np.empty(keys.shape[0], dtype=np.int64)
    for r in range(keys.shape[0]):
        k = keys[r]
        order[cursor[k]] = r
        cursor[k] += 1
    return indptr, order


@njit(cache=True, nogil=True)
def merge_duplicates(user_idx, item_idx, ratings, merged, n_users, n_items, summed=False):
    """Find repeated (user, item) pairs and choose which row survives.

    The last row of each pair survives (so later rows win). ``merged`` is either
    empty, or a float32[n] copy of ratings in which the surviving row of each
    pair receives the mean of the pair's ratings (their sum with ``summed``).

    Returns ``keep`` bool[n], the number of dropped rows, and the first
    duplicated pair's two row numbers (-1, -1 when there is none).
    """
    average = merged.shape[0] > 0
    n = user_idx.shape[0]
    indptr, order = group_rows(user_idx, n_users)
    keep = np.ones(n, dtype=np.bool_)
    owner = np.full(n_items, -1, dtype=np.int32)  # last user seen for each item
    kept_row = np.empty(n_items, dtype=np.int64)  # that user's surviving row
    count = np.zeros(n_items, dtype=np.int32)
    total = np.zeros(n_items, dtype=np.float64)
    dropped = 0
    first_a = -1
    first_b = -1
    for u in range(n_users):
        for p in range(indptr[u], indptr[u + 1]):
            r = order[p]
            i = item_idx[r]
            if owner[i] == u:
                prev = kept_row[i]
                keep[prev] = False
                dropped += 1
                if first_a < 0 or prev < first_a:
                    first_a = prev
                    first_b = r
                count[i] += 1
                total[i] += ratings[r]
                if average:
                    merged[r] = total[i] if summed else total[i] / count[i]
            else:
                owner[i] = u
                count[i] = 1
                total[i] = ratings[r]
            kept_row[i] = r
    return keep, dropped, first_a, first_b


@njit(cache=True, nogil=True)
def csr_by_user(user_idx, item_idx, values, n_users):
    """CSR (indptr int64, indices int32, data float32) of the interactions, rows in input order.

    Scatters directly (no int64 permutation), so the only memory used is the output.
    """
    indptr = row_pointers(user_idx, n_users)
    cursor = indptr[:-1].copy()
    indices = np.empty(user_idx.shape[0], dtype=np.int32)
    data = np.empty(user_idx.shape[0], dtype=np.float32)
    for r in range(user_idx.shape[0]):
        u = user_idx[r]
        dest = cursor[u]
        indices[dest] = item_idx[r]
        data[dest] = values[r]
        cursor[u] = dest + 1
    return indptr, indices, data


@njit(cache=True, nogil=True)
def count_duplicates(indptr, indices, n_items):
    """Number of repeated items within the rows of a CSR matrix (0 means no duplicate pairs)."""
    owner = np.full(n_items, -1, dtype=np.int64)
    repeats = 0
    for u in range(indptr.shape[0] - 1):
        for j in range(indptr[u], indptr[u + 1]):
            i = indices[j]
            if owner[i] == u:
                repeats += 1
            owner[i] = u
    return repeats


@njit(cache=True, nogil=True)
def regroup(keys, indptr, values):
    """``values`` reordered stably by ``keys`` into the groups of ``indptr`` (one new array, no int64 permutation)."""
    cursor = indptr[:-1].copy()
    out = np.empty_like(values)
    for r in range(keys.shape[0]):
        k = keys[r]
        out[cursor[k]] = values[r]
        cursor[k] += 1
    return out


@njit(cache=True, nogil=True)
def fill_rows(indptr, out):
    """Write ``k`` into ``out[indptr[k]:indptr[k+1]]`` for every group ``k``, in place."""
    for k in range(indptr.shape[0] - 1):
        for p in range(indptr[k], indptr[k + 1]):
            out[p] = k


@njit(cache=True, nogil=True)
def scatter_transpose(indptr, indices, out_indptr, out_indices):
    """Fill ``out_indices`` with the row numbers of the CSR pattern (indptr, indices) grouped by column.

    ``out_indptr`` int64[n_cols+1] holds the column counts' prefix sums; rows come out ascending.
    """
    cursor = out_indptr[:-1].copy()
    for r in range(indptr.shape[0] - 1):
        for p in range(indptr[r], indptr[r + 1]):
            c = indices[p]
            out_indices[cursor[c]] = r
            cursor[c] += 1
