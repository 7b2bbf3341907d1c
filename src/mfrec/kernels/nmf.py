"""Multiplicative updates for non-negative MF on the observed ratings only (Lee & Seung, masked)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def nmf_half_step(
    indptr, indices, data, X, Y, reg, const=0.0, prior=None, x_bias=None, y_bias=None, mu=0.0, bias_const=0.0
):
    """Update every row of X with Y fixed: x_f *= (sum_j y_jf t+_j + w x0_f) / (sum_j y_jf (x.y_j + t-_j) + w x_f).

    indptr int64[n+1], indices int32[nnz], data float32[nnz]: the rows' ratings.
    X float32[n, k] (updated in place, stays >= 0 when it starts >= 0), Y float32[m, k].
    w = reg n + const is the row's weight of the penalty w |x - x0|^2 towards ``prior`` x0 float32[k] (>= 0; None:
    towards zero, the plain L2 penalty).

    The target t_j is the rating, or with biases (``x_bias`` float32[n], ``y_bias`` float32[m], both given) what
    the biases leave of it, t_j = r_j - mu - b_x - b_y; then the row's bias is first set to its exact minimiser
    with the factors fixed, b_x = sum_j (r_j - mu - b_y - x.y_j) / (n + bias_const) (the Biases baseline's step
    plus the factor term). A target can then be negative: t = t+ - t- with both parts >= 0, t- joins the
    denominator (the gradient's positive part), so the update is still a ratio of non-negative sums.
    """
    k = X.shape[1]
    for u in prange(X.shape[0]):
        start, end = indptr[u], indptr[u + 1]
        if end == start:
            continue
        num = np.zeros(k, dtype=np.float64)
        den = np.zeros(k, dtype=np.float64)
        x = X[u]
        offset = 0.0
        if x_bias is not None and y_bias is not None:
            residual = 0.0
            for j in range(start, end):
                y = Y[indices[j]]
                est = 0.0
                for f in range(k):
                    est += x[f] * y[f]
                residual += data[j] - mu - y_bias[indices[j]] - est
            x_bias[u] = residual / (end - start + bias_const)
            offset = mu + x_bias[u]
        for j in range(start, end):
            y = Y[indices[j]]
            est = 0.0
            for f in range(k):
                est += x[f] * y[f]
            target = data[j] - offset
            if y_bias is not None:
                target -= y_bias[indices[j]]
            above, below = max(target, 0.0), max(-target, 0.0)
            for f in range(k):
                num[f] += y[f] * above
                den[f] += y[f] * (est + below)
        w = reg * (end - start) + const
        for f in range(k):
            numerator = num[f]
            if prior is not None:
                numerator += w * prior[f]
            denominator = den[f] + w * x[f]
            if denominator > 0.0:
                x[f] = x[f] * numerator / denominator
