"""The one normal-equation builder and the exact (Cholesky) half-step, shared by explicit and implicit ALS.

Both least-squares problems have the same shape. For a row u with neighbours j (the other side's rows
y_j, with a constant 1 appended when a bias is fitted: z_j = [y_j, 1]),

    (B + sum_j w_j z_j z_j^T + Lambda) x = sum_j c_j z_j

explicit ALS: B = 0, w_j = 1, c_j = r_uj - mu - b_j (the residual rating);
implicit ALS (Hu, Koren & Volinsky 2008): B = Y^T Y (the Gram trick: every unobserved cell at once),
w_j = confidence - 1, c_j = confidence = 1 + w_j. Lambda is the regulariser, scaled by the row's count
for ALS-WR. :mod:`mfrec.kernels.cg` solves the same system without forming it.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mfrec.kernels._config import FAST
from mfrec.kernels.linalg import cholesky_solve
from mfrec.kernels.prefetch import PREFETCH_AHEAD, prefetch_neighbour


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def neighbour_terms(value, y_bias_i, mu, implicit, biased):
    """(w_j, c_j) of one neighbour: its weight in the matrix and its coefficient on the right-hand side."""
    if implicit:
        return value, np.float32(1.0) + value
    if biased:
        return np.float32(1.0), value - mu - y_bias_i
    return np.float32(1.0), value


@njit(cache=True, nogil=True, fastmath=FAST)
def add_normal_equations(indices, values, Y, y_bias, mu, lo, hi, implicit, biased, A, b):
    """A += sum w z z^T (lower triangle only) and b += sum c z over neighbours ``lo:hi`` of one row.

    A float64[d, d], b float64[d] with d = k + 1 when ``biased`` (the bias is the last unknown).
    Streams the neighbours straight from Y: one pass, no scratch buffer whatever the row's length.
    """
    k = Y.shape[1]
    for j in range(lo, hi):
        if j + PREFETCH_AHEAD < hi:
            prefetch_neighbour(indices, Y, y_bias, j + PREFETCH_AHEAD, biased, k)
        i = indices[j]
        y = Y[i]
        w, c = neighbour_terms(values[j], y_bias[i] if biased else np.float32(0.0), mu, implicit, biased)
        for a in range(k):
            ya = y[a]
            b[a] += c * ya
            wya = w * ya
            for e in range(a + 1):
                A[a, e] += wya * y[e]
        if biased:
            b[k] += c
            for e in range(k):
                A[k, e] += w * y[e]
            A[k, k] += w


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def cholesky_rows(
    indptr,
    indices,
    values,
    Y,
    y_bias,
    mu,
    base,
    X,
    x_bias,
    reg,
    reg_bias,
    weighted,
    implicit,
    biased,
    status,
    reg_const=0.0,
    reg_bias_const=0.0,
):
    """Exact half-step: build each row's normal equations (see the module docstring) and solve by Cholesky.

    indptr int64[n+1], indices int32[nnz], values float32[nnz]: the rows being solved (ratings, or
    w = confidence - 1 when ``implicit``). Y float32[m, k], y_bias float32[m]: the fixed side.
    base float32[k, k]: B (Y^T Y) when ``implicit``, else unused. X float32[n, k] and x_bias float32[n]
    (may be empty when not ``biased``): written. reg, reg_bias: Lambda's diagonal, times the row's count
    when ``weighted``, plus reg_const / reg_bias_const (a floor for rows with few ratings). status int8[n]: set to
    1 for a row whose system is not positive definite.
    Rows are independent, so the result does not depend on the number of threads.
    """
    k = Y.shape[1]
    d = k + 1 if biased else k
    for u in prange(X.shape[0]):
        start, end = indptr[u], indptr[u + 1]
        if end == start:
            X[u, :] = 0.0
            if x_bias.shape[0] > 0:
                x_bias[u] = 0.0
            continue
        A = np.zeros((d, d), dtype=np.float64)
        if implicit:
            for a in range(k):
                for e in range(a + 1):
                    A[a, e] = base[a, e]
        b = np.zeros(d, dtype=np.float64)
        add_normal_equations(indices, values, Y, y_bias, mu, start, end, implicit, biased, A, b)
        scale = (end - start) if weighted else 1.0
        for a in range(k):
            A[a, a] += reg * scale + reg_const
        if biased:
            A[k, k] += reg_bias * scale + reg_bias_const
        x = np.empty(d, dtype=np.float64)
        if not cholesky_solve(A, b, x):
            status[u] = 1
            continue
        for a in range(k):
            X[u, a] = x[a]
        if x_bias.shape[0] > 0:
            x_bias[u] = x[k] if biased else 0.0
