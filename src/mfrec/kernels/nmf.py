"""Multiplicative updates for non-negative MF on the observed ratings only (Lee & Seung, masked)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def nmf_half_step(indptr, indices, data, X, Y, reg, const=0.0, prior=None):
    """Update every row of X with Y fixed: x_f *= (sum_j y_jf r_j + w x0_f) / (sum_j y_jf rhat_j + w x_f).

    indptr int64[n+1], indices int32[nnz], data float32[nnz]: the rows' ratings.
    X float32[n, k] (updated in place, stays >= 0 when it starts >= 0), Y float32[m, k].
    w = reg n + const is the row's weight of the penalty w |x - x0|^2 towards ``prior`` x0 float32[k] (>= 0; None:
    towards zero, the plain L2 penalty): a row with few ratings is pulled to the average row, not to zero (which
    predicts ratings near 0, below any scale).
    """
    k = X.shape[1]
    for u in prange(X.shape[0]):
        start, end = indptr[u], indptr[u + 1]
        if end == start:
            continue
        num = np.zeros(k, dtype=np.float64)
        den = np.zeros(k, dtype=np.float64)
        x = X[u]
        for j in range(start, end):
            y = Y[indices[j]]
            est = 0.0
            for f in range(k):
                est += x[f] * y[f]
            for f in range(k):
                num[f] += y[f] * data[j]
                den[f] += y[f] * est
        w = reg * (end - start) + const
        for f in range(k):
            numerator = num[f]
            if prior is not None:
                numerator += w * prior[f]
            denominator = den[f] + w * x[f]
            if denominator > 0.0:
                x[f] = x[f] * numerator / denominator
