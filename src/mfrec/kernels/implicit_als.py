"""Weighted ALS for implicit feedback (Hu, Koren & Volinsky 2008).

Every cell of the user x item matrix has a preference (1 where observed, 0
elsewhere) and a confidence (1 + w where observed, 1 elsewhere). A half-step
solves, for each row u with the other side Y fixed,

    (Y^T Y + sum_{i in R(u)} w_ui y_i y_i^T + lam I) x_u = sum_{i in R(u)} (1 + w_ui) y_i

The Gram matrix Y^T Y is shared by all rows, so the zeros are never visited one
by one: each row costs O(|R(u)| k) per CG step (plus k^2 for the Gram product),
or O(|R(u)| k^2 + k^3) for the exact Cholesky solve. Rows are independent, so
``prange`` over them gives the same result for any number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mfrec.kernels._config import FAST, SCRATCH_PAD
from mfrec.kernels.linalg import cholesky_solve
from mfrec.kernels.prefetch import PREFETCH_AHEAD, prefetch_row


@njit(cache=True, nogil=True, fastmath=FAST)
def _gram_times(YtY, v, out, lam):
    """out = (YtY + lam I) v (v and out may be longer than k: padded scratch rows)."""
    k = YtY.shape[0]
    for a in range(k):
        row = YtY[a]
        s = lam * v[a]
        for c in range(k):
            s += row[c] * v[c]
        out[a] = s


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def implicit_cg_step(indptr, indices, weights, Y, YtY, X, reg, cg_steps, chunks, row_loss):
    """``cg_steps`` of conjugate gradient per row, warm-started at the current ``X[u]``.

    indptr int64[n+1], indices int32[nnz], weights float32[nnz]: the observed cells of
    the rows being solved, with w = confidence - 1. Y float32[m, k]: the fixed side;
    YtY float32[k, k] = Y^T Y. X float32[n, k]: read (warm start) and written.
    chunks int64[c+1]: row boundaries balanced by cell count, one scratch buffer each.
    row_loss float64[n] or empty: when not empty, receives each row's share of the
    weighted loss at the new solution, minus the regulariser:
    x^T YtY x + sum_obs [(1 + w)(1 - d)^2 - d^2] with d = x . y (the full-matrix loss
    rewritten so that only observed cells are visited). The predictions d are kept
    up to date from the CG steps' dot products, so this costs one k^2 product.

    Returns the number of rows whose CG stopped on a non-positive (or NaN) curvature p^T A p:
    A is positive definite for reg > 0, so any such row means the fit diverged.
    """
    k = Y.shape[1]
    want_loss = row_loss.shape[0] > 0
    breakdowns = np.zeros(chunks.shape[0] - 1, dtype=np.int64)
    for c in prange(chunks.shape[0] - 1):
        first, last = chunks[c], chunks[c + 1]
        longest = 1
        for u in range(first, last):
            longest = max(longest, indptr[u + 1] - indptr[u])
        G = np.empty((longest, k), dtype=np.float32)
        w = np.empty(longest, dtype=np.float32)
        pred = np.empty(longest, dtype=np.float32)
        dots = np.empty(longest, dtype=np.float32)
        vectors = np.empty((4, k + SCRATCH_PAD), dtype=np.float32)  # one padded block: see SCRATCH_PAD
        x = vectors[0]
        r = vectors[1]
        p = vectors[2]
        Ap = vectors[3]
        for u in range(first, last):
            start = indptr[u]
            n = indptr[u + 1] - start
            xu = X[u]
            if n == 0:  # (YtY + lam I) x = 0
                xu[:] = 0.0
                if want_loss:
                    row_loss[u] = 0.0
                continue
            for a in range(k):
                x[a] = xu[a]
            for jj in range(n):
                if jj + PREFETCH_AHEAD < n:
                    prefetch_row(Y, np.intp(indices[start + jj + PREFETCH_AHEAD]))
                y = Y[indices[start + jj]]
                g = G[jj]
                for a in range(k):
                    g[a] = y[a]
                w[jj] = weights[start + jj]
            # r = b - A x = sum (1 + w - w d) g - (YtY + lam I) x
            _gram_times(YtY, x, r, reg)
            for a in range(k):
                r[a] = -r[a]
            jj = 0
            while jj + 1 < n:  # two neighbours at a time: two independent dot products in flight
                g0 = G[jj]
                g1 = G[jj + 1]
                d0 = np.float32(0.0)
                d1 = np.float32(0.0)
                for a in range(k):
                    d0 += g0[a] * x[a]
                    d1 += g1[a] * x[a]
                c0 = 1.0 + w[jj] - w[jj] * d0
                c1 = 1.0 + w[jj + 1] - w[jj + 1] * d1
                for a in range(k):
                    r[a] += c0 * g0[a] + c1 * g1[a]
                pred[jj] = d0
                pred[jj + 1] = d1
                jj += 2
            if jj < n:
                g0 = G[jj]
                d0 = np.float32(0.0)
                for a in range(k):
                    d0 += g0[a] * x[a]
                c0 = 1.0 + w[jj] - w[jj] * d0
                for a in range(k):
                    r[a] += c0 * g0[a]
                pred[jj] = d0
            rs_old = np.float32(0.0)
            for a in range(k):
                p[a] = r[a]
                rs_old += r[a] * r[a]
            for _ in range(cg_steps):
                if rs_old < 1e-20:
                    break
                _gram_times(YtY, p, Ap, reg)
                jj = 0
                while jj + 1 < n:
                    g0 = G[jj]
                    g1 = G[jj + 1]
                    d0 = np.float32(0.0)
                    d1 = np.float32(0.0)
                    for a in range(k):
                        d0 += g0[a] * p[a]
                        d1 += g1[a] * p[a]
                    dots[jj] = d0
                    dots[jj + 1] = d1
                    d0 *= w[jj]
                    d1 *= w[jj + 1]
                    for a in range(k):
                        Ap[a] += d0 * g0[a] + d1 * g1[a]
                    jj += 2
                if jj < n:
                    g0 = G[jj]
                    d0 = np.float32(0.0)
                    for a in range(k):
                        d0 += g0[a] * p[a]
                    dots[jj] = d0
                    d0 *= w[jj]
                    for a in range(k):
                        Ap[a] += d0 * g0[a]
                pAp = np.float32(0.0)
                for a in range(k):
                    pAp += p[a] * Ap[a]
                if not pAp > 0.0:
                    breakdowns[c] += 1
                    break
                alpha = rs_old / pAp
                if want_loss:  # x moves by alpha p, so each prediction moves by alpha (g . p)
                    for jj in range(n):
                        pred[jj] += alpha * dots[jj]
                rs_new = np.float32(0.0)
                for a in range(k):
                    x[a] += alpha * p[a]
                    r[a] -= alpha * Ap[a]
                    rs_new += r[a] * r[a]
                beta = rs_new / rs_old
                for a in range(k):
                    p[a] = r[a] + beta * p[a]
                rs_old = rs_new
            for a in range(k):
                xu[a] = x[a]
            if want_loss:
                _gram_times(YtY, x, Ap, np.float32(0.0))
                loss = 0.0
                for a in range(k):
                    loss += x[a] * Ap[a]
                for jj in range(n):
                    d = pred[jj]
                    loss += (1.0 + w[jj]) * (1.0 - d) * (1.0 - d) - d * d
                row_loss[u] = loss
    return breakdowns.sum()


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def implicit_cholesky_step(indptr, indices, weights, Y, YtY, X, reg, status):
    """Exact half-step: build YtY + sum w y y^T + lam I per row and solve by Cholesky.

    Arguments as :func:`implicit_cg_step`; status int8[n] is set to 1 for a row
    whose system is not positive definite.
    """
    k = Y.shape[1]
    for u in prange(X.shape[0]):
        start, end = indptr[u], indptr[u + 1]
        if end == start:
            X[u, :] = 0.0
            continue
        A = np.empty((k, k), dtype=np.float64)
        for a in range(k):
            for c in range(k):
                A[a, c] = YtY[a, c]
            A[a, a] += reg
        b = np.zeros(k, dtype=np.float64)
        for j in range(start, end):
            if j + PREFETCH_AHEAD < end:
                prefetch_row(Y, np.intp(indices[j + PREFETCH_AHEAD]))
            y = Y[indices[j]]
            wj = weights[j]
            for a in range(k):
                ya = y[a]
                b[a] += (1.0 + wj) * ya
                wya = wj * ya
                for c in range(a + 1):
                    A[a, c] += wya * y[c]
        x = np.empty(k, dtype=np.float64)
        if not cholesky_solve(A, b, x):
            status[u] = 1
            continue
        for a in range(k):
            X[u, a] = x[a]


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def implicit_loss(indptr, indices, weights, X, Y, YtY):
    """The weighted loss without the regulariser, summed per row (thread-count independent)."""
    k = X.shape[1]
    per_row = np.zeros(X.shape[0], dtype=np.float64)
    for u in prange(X.shape[0]):
        x = X[u]
        s = 0.0
        for a in range(k):
            t = np.float32(0.0)
            for c in range(k):
                t += YtY[a, c] * x[c]
            s += x[a] * t
        for j in range(indptr[u], indptr[u + 1]):
            y = Y[indices[j]]
            d = np.float32(0.0)
            for a in range(k):
                d += x[a] * y[a]
            s += (1.0 + weights[j]) * (1.0 - d) * (1.0 - d) - d * d
        per_row[u] = s
    return per_row.sum()


def gram(Y: np.ndarray, block: int = 16_384) -> np.ndarray:
    """Y^T Y in float32, summed over row blocks in float64 so a long side does not lose precision."""
    total = np.zeros((Y.shape[1], Y.shape[1]), dtype=np.float64)
    for start in range(0, Y.shape[0], block):
        part = Y[start : start + block]
        total += part.T @ part
    return total.astype(np.float32)
