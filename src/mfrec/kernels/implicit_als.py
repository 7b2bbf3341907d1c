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
from numba import get_num_threads, njit, prange

from mfrec.kernels._config import FAST, gather_tile
from mfrec.kernels.cg import cg_rows
from mfrec.kernels.normal_equations import cholesky_rows

_NONE = np.zeros(0, dtype=np.float32)


def implicit_cg_step(indptr, indices, weights, Y, YtY, X, reg, cg_steps, chunks, row_loss, tile=None):
    """``cg_steps`` of conjugate gradient per row, warm-started at the current ``X[u]`` (see :mod:`mfrec.kernels.cg`).

    indptr int64[n+1], indices int32[nnz], weights float32[nnz]: the observed cells of
    the rows being solved, with w = confidence - 1. Y float32[m, k]: the fixed side;
    YtY float32[k, k] = Y^T Y. X float32[n, k]: read (warm start) and written.
    chunks int64[c+1]: row boundaries balanced by cell count, one scratch buffer each.
    row_loss float64[n] or empty: when not empty, receives each row's share of the
    weighted loss at the new solution, minus the regulariser:
    x^T YtY x + sum_obs [(1 + w)(1 - d)^2 - d^2] with d = x . y.
    tile: neighbours per gather buffer (default: _config.gather_tile for the data and threads).

    Returns the number of rows whose CG stopped on a non-positive (or NaN) curvature p^T A p:
    A is positive definite for reg > 0, so any such row means the fit diverged.
    """
    tile = gather_tile(Y.shape[1], indices.shape[0], get_num_threads()) if tile is None else tile
    return int(
        cg_rows(
            indptr,
            indices,
            weights,
            Y,
            _NONE,
            np.float32(0.0),
            YtY,
            X,
            _NONE,
            np.float32(reg),
            np.float32(0.0),
            False,
            True,
            False,
            int(cg_steps),
            np.float32(0.0),
            np.float32(0.0),
            chunks,
            int(tile),
            row_loss,
            get_num_threads(),
        )
    )


def implicit_cholesky_step(indptr, indices, weights, Y, YtY, X, reg, status):
    """Exact half-step: build YtY + sum w y y^T + lam I per row and solve by Cholesky.

    Arguments as :func:`implicit_cg_step`; status int8[n] is set to 1 for a row
    whose system is not positive definite.
    """
    cholesky_rows(
        indptr,
        indices,
        weights,
        Y,
        _NONE,
        np.float32(0.0),
        YtY,
        X,
        _NONE,
        np.float32(reg),
        np.float32(0.0),
        False,
        True,
        False,
        status,
    )


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
