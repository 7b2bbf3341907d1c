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
from mfrec.kernels.prefetch import PREFETCH_AHEAD, prefetch_row, prefetch_value

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
            if j + PREFETCH_AHEAD < end:
                prefetch_row(Y, np.intp(indices[j + PREFETCH_AHEAD]))
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
        x = np.empty(d, dtype=np.float64)
        if not cholesky_solve(A, b, x):
            status[u] = 1
            continue
        for a in range(k):
            X[u, a] = x[a]
        x_bias[u] = x[k] if biased else 0.0


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def als_cg_step(indptr, indices, data, Y, y_bias, mu, X, x_bias, reg, reg_bias, weighted, biased, cg_steps,
                chunks, row_error):  # fmt: skip
    """Approximate half-step: ``cg_steps`` of conjugate gradient per row, warm-started at the current row.

    Never forms the (k+1)^2 matrix: each step costs O(|R(u)| k) instead of O(|R(u)| k^2),
    which is what makes ALS fast at large k (Takacs, Pilaszy & Tikk 2011). Each
    row's neighbour factors are gathered once into a contiguous buffer, so the
    residual, the CG steps and the final error run from cache: the other side's
    factors are read from memory once per half-step, not once per pass. The bias
    is the (k+1)-th unknown, handled as a scalar so the vector loops stay k wide.

    chunks int64[c+1]: row boundaries (balanced by ratings), one scratch buffer each.
    row_error float64[n] or empty: when not empty, receives each row's squared
    training error after its solve, updated from the CG steps' dot products
    (e_j -= alpha g_j . p) rather than by another pass over the buffer.
    Other arguments as ``als_cholesky_step``; X and x_bias are read (warm start) and written.
    """
    k = Y.shape[1]
    want_error = row_error.shape[0] > 0
    for c in prange(chunks.shape[0] - 1):
        first, last = chunks[c], chunks[c + 1]
        longest = 1
        for u in range(first, last):
            longest = max(longest, indptr[u + 1] - indptr[u])
        G = np.empty((longest, k), dtype=np.float32)
        t = np.empty(longest, dtype=np.float32)
        err = np.empty(longest, dtype=np.float32)  # each neighbour's current prediction error
        dots = np.empty(longest, dtype=np.float32)  # g_j . p of the current CG direction
        x = np.empty(k, dtype=np.float32)
        r = np.empty(k, dtype=np.float32)
        p = np.empty(k, dtype=np.float32)
        Ap = np.empty(k, dtype=np.float32)
        for u in range(first, last):
            start = indptr[u]
            n = indptr[u + 1] - start
            if n == 0:
                X[u, :] = 0.0
                x_bias[u] = 0.0
                if want_error:
                    row_error[u] = 0.0
                continue
            scale = np.float32(n) if weighted else np.float32(1.0)
            lam = reg * scale
            lam_b = reg_bias * scale
            xu = X[u]
            for a in range(k):
                x[a] = xu[a]
            xb = x_bias[u] if biased else np.float32(0.0)
            # Gather first (loads independent of each other, so many stay in flight), then the
            # residual r = G^T (t - G x) - lam x from cache; the bias row of G is all ones.
            for jj in range(n):
                if jj + PREFETCH_AHEAD < n:
                    ahead = np.intp(indices[start + jj + PREFETCH_AHEAD])
                    prefetch_row(Y, ahead)
                    if biased:
                        prefetch_value(y_bias, ahead)
                i = indices[start + jj]
                y = Y[i]
                g = G[jj]
                for a in range(k):
                    g[a] = y[a]
                t[jj] = data[start + jj] - mu - y_bias[i] if biased else data[start + jj]
            for a in range(k):
                r[a] = -lam * x[a]
            rb = -lam_b * xb
            jj = 0
            while jj + 1 < n:  # two neighbours at a time, as in the CG loop below
                g0 = G[jj]
                g1 = G[jj + 1]
                e0 = t[jj] - xb
                e1 = t[jj + 1] - xb
                for a in range(k):
                    e0 -= g0[a] * x[a]
                    e1 -= g1[a] * x[a]
                for a in range(k):
                    r[a] += e0 * g0[a] + e1 * g1[a]
                rb += e0 + e1
                err[jj] = e0
                err[jj + 1] = e1
                jj += 2
            if jj < n:
                g0 = G[jj]
                e0 = t[jj] - xb
                for a in range(k):
                    e0 -= g0[a] * x[a]
                for a in range(k):
                    r[a] += e0 * g0[a]
                rb += e0
                err[jj] = e0
            if not biased:
                rb = np.float32(0.0)
            rs_old = rb * rb
            for a in range(k):
                p[a] = r[a]
                rs_old += r[a] * r[a]
            pb = rb
            for _ in range(cg_steps):
                if rs_old < 1e-20:
                    break
                for a in range(k):
                    Ap[a] = lam * p[a]
                Apb = lam_b * pb
                # Two neighbours per iteration: two independent dot products in flight.
                jj = 0
                while jj + 1 < n:
                    g0 = G[jj]
                    g1 = G[jj + 1]
                    d0 = pb
                    d1 = pb
                    for a in range(k):
                        d0 += g0[a] * p[a]
                        d1 += g1[a] * p[a]
                    for a in range(k):
                        Ap[a] += d0 * g0[a] + d1 * g1[a]
                    Apb += d0 + d1
                    dots[jj] = d0
                    dots[jj + 1] = d1
                    jj += 2
                if jj < n:
                    g0 = G[jj]
                    d0 = pb
                    for a in range(k):
                        d0 += g0[a] * p[a]
                    for a in range(k):
                        Ap[a] += d0 * g0[a]
                    Apb += d0
                    dots[jj] = d0
                if not biased:
                    Apb = np.float32(0.0)
                pAp = pb * Apb
                for a in range(k):
                    pAp += p[a] * Ap[a]
                if not pAp > 0.0:
                    break
                alpha = rs_old / pAp
                if want_error:  # x moves by alpha p, so each prediction moves by alpha (g_j . p)
                    for jj in range(n):
                        err[jj] -= alpha * dots[jj]
                xb += alpha * pb
                rb -= alpha * Apb
                rs_new = rb * rb
                for a in range(k):
                    x[a] += alpha * p[a]
                    r[a] -= alpha * Ap[a]
                    rs_new += r[a] * r[a]
                beta = rs_new / rs_old
                for a in range(k):
                    p[a] = r[a] + beta * p[a]
                pb = rb + beta * pb
                rs_old = rs_new
            for a in range(k):
                xu[a] = x[a]
            x_bias[u] = xb if biased else 0.0
            if want_error:
                sq = 0.0
                for jj in range(n):
                    sq += err[jj] * err[jj]
                row_error[u] = sq


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def squared_error(indptr, indices, data, X, x_bias, Y, y_bias, mu, biased):
    """Sum over the ratings of (r - prediction)^2, per row then summed (thread-count independent)."""
    per_row = np.zeros(X.shape[0], dtype=np.float64)
    k = X.shape[1]
    for u in prange(X.shape[0]):
        x = X[u]
        s = 0.0
        end = indptr[u + 1]
        for j in range(indptr[u], end):
            if j + PREFETCH_AHEAD < end:
                prefetch_row(Y, np.intp(indices[j + PREFETCH_AHEAD]))
            i = indices[j]
            y = Y[i]
            pred = np.float32(0.0)
            for a in range(k):
                pred += x[a] * y[a]
            if biased:
                pred += mu + x_bias[u] + y_bias[i]
            e = data[j] - pred
            s += e * e
        per_row[u] = s
    return per_row.sum()


def balanced_chunks(indptr: np.ndarray, n_chunks: int) -> np.ndarray:
    """Row boundaries splitting a CSR matrix into ``n_chunks`` runs of about equal rating counts."""
    targets = np.linspace(0, indptr[-1], n_chunks + 1)
    bounds = np.searchsorted(indptr, targets, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, indptr.shape[0] - 1
    return np.unique(bounds)
