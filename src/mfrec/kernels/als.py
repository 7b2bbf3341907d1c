"""Alternating least squares for explicit ratings with biases.

One half-step solves, for every row u of one side with the other side fixed,

    min_{p, b}  sum_{i in R(u)} (r_ui - mu - b_i - b - p . q_i)^2 + lam_u |p|^2 + lam_b,u b^2

a ridge regression on the augmented vectors [q_i, 1]. Rows are independent, so
``prange`` over them gives the same result for any number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mfrec.kernels.linalg import cholesky_solve

FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}


@njit(cache=True, nogil=True, fastmath=FAST)
def _residual(r, mu, other_bias, biased):
    return r - mu - other_bias if biased else r


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def als_cholesky_step(indptr, indices, data, Y, y_bias, mu, X, x_bias, reg, reg_bias, weighted, biased, status):
    """Exact half-step: build the (k+1)^2 normal equations per row and solve by Cholesky.

    indptr int64[n+1], indices int32[nnz], data float32[nnz]: ratings of the rows being solved.
    Y float32[m, k], y_bias float32[m]: the fixed side. X float32[n, k], x_bias float32[n]: written.
    weighted: scale both regularisers by the row's rating count (ALS-WR).
    status int8[n]: set to 1 for a row whose system is not positive definite.
    """
    k = Y.shape[1]
    d = k + 1 if biased else k
    for u in prange(X.shape[0]):
        start, end = indptr[u], indptr[u + 1]
        if end == start:
            X[u, :] = 0.0
            x_bias[u] = 0.0
            continue
        A = np.zeros((d, d), dtype=np.float64)
        b = np.zeros(d, dtype=np.float64)
        for j in range(start, end):
            i = indices[j]
            y = Y[i]
            t = _residual(data[j], mu, y_bias[i], biased)
            for a in range(k):
                ya = y[a]
                b[a] += t * ya
                for c in range(a + 1):
                    A[a, c] += ya * y[c]
            if biased:
                b[k] += t
                for c in range(k):
                    A[k, c] += y[c]
                A[k, k] += 1.0
        scale = (end - start) if weighted else 1.0
        for a in range(k):
            A[a, a] += reg * scale
        if biased:
            A[k, k] += reg_bias * scale
        for a in range(d):
            for c in range(a + 1, d):
                A[a, c] = A[c, a]
        x = np.empty(d, dtype=np.float64)
        if not cholesky_solve(A, b, x):
            status[u] = 1
            continue
        for a in range(k):
            X[u, a] = x[a]
        x_bias[u] = x[k] if biased else 0.0


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def als_cg_step(indptr, indices, data, Y, y_bias, mu, X, x_bias, reg, reg_bias, weighted, biased, cg_steps):
    """Approximate half-step: ``cg_steps`` of conjugate gradient per row, warm-started at the current row.

    Never forms the (k+1)^2 matrix: each step costs O(|R(u)| k) instead of O(|R(u)| k^2),
    which is what makes ALS fast at large k (Takacs, Pilaszy & Tikk 2011).
    Same arguments as ``als_cholesky_step``; X and x_bias are read (warm start) and written.
    """
    k = Y.shape[1]
    d = k + 1 if biased else k
    for u in prange(X.shape[0]):
        start, end = indptr[u], indptr[u + 1]
        if end == start:
            X[u, :] = 0.0
            x_bias[u] = 0.0
            continue
        scale = (end - start) if weighted else 1.0
        lam = reg * scale
        lam_b = reg_bias * scale
        x = np.empty(d, dtype=np.float32)
        for a in range(k):
            x[a] = X[u, a]
        if biased:
            x[k] = x_bias[u]
        # residual r = b - A x, computed as sum_j y_j (t_j - y_j . x) - lam x
        r = np.zeros(d, dtype=np.float32)
        for j in range(start, end):
            i = indices[j]
            y = Y[i]
            pred = np.float32(0.0)
            for a in range(k):
                pred += y[a] * x[a]
            if biased:
                pred += x[k]
            err = _residual(data[j], mu, y_bias[i], biased) - pred
            for a in range(k):
                r[a] += err * y[a]
            if biased:
                r[k] += err
        for a in range(k):
            r[a] -= lam * x[a]
        if biased:
            r[k] -= lam_b * x[k]
        p = r.copy()
        rs_old = np.float32(0.0)
        for a in range(d):
            rs_old += r[a] * r[a]
        Ap = np.empty(d, dtype=np.float32)
        for _ in range(cg_steps):
            if rs_old < 1e-20:
                break
            Ap[:] = 0.0
            for j in range(start, end):
                y = Y[indices[j]]
                dot = np.float32(0.0)
                for a in range(k):
                    dot += y[a] * p[a]
                if biased:
                    dot += p[k]
                for a in range(k):
                    Ap[a] += dot * y[a]
                if biased:
                    Ap[k] += dot
            for a in range(k):
                Ap[a] += lam * p[a]
            if biased:
                Ap[k] += lam_b * p[k]
            pAp = np.float32(0.0)
            for a in range(d):
                pAp += p[a] * Ap[a]
            if not pAp > 0.0:
                break
            alpha = rs_old / pAp
            rs_new = np.float32(0.0)
            for a in range(d):
                x[a] += alpha * p[a]
                r[a] -= alpha * Ap[a]
                rs_new += r[a] * r[a]
            beta = rs_new / rs_old
            for a in range(d):
                p[a] = r[a] + beta * p[a]
            rs_old = rs_new
        for a in range(k):
            X[u, a] = x[a]
        x_bias[u] = x[k] if biased else 0.0


@njit(cache=True, nogil=True, parallel=True)
def squared_error(indptr, indices, data, X, x_bias, Y, y_bias, mu, biased):
    """Sum over the ratings of (r - prediction)^2, per row then summed (thread-count independent)."""
    per_row = np.zeros(X.shape[0], dtype=np.float64)
    k = X.shape[1]
    for u in prange(X.shape[0]):
        s = 0.0
        for j in range(indptr[u], indptr[u + 1]):
            i = indices[j]
            pred = 0.0
            for a in range(k):
                pred += X[u, a] * Y[i, a]
            if biased:
                pred += mu + x_bias[u] + y_bias[i]
            e = data[j] - pred
            s += e * e
        per_row[u] = s
    return per_row.sum()
