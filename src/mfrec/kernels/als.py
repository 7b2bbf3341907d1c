"""Alternating least squares for explicit ratings with biases.

One half-step solves, for every row u of one side with the other side fixed,

    min_{p, b}  sum_{i in R(u)} (r_ui - mu - b_i - b - p . q_i)^2 + lam_u |p|^2 + lam_b,u b^2

a ridge regression on the augmented vectors [q_i, 1]. Rows are independent, so
``prange`` over them gives the same result for any number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from mfrec.kernels._config import FAST, gather_tile
from mfrec.kernels.cg import cg_rows
from mfrec.kernels.normal_equations import cholesky_rows
from mfrec.kernels.prefetch import PREFETCH_AHEAD, prefetch_row

_NO_BASE = np.zeros((0, 0), dtype=np.float32)


def als_cholesky_step(
    indptr,
    indices,
    data,
    Y,
    y_bias,
    mu,
    X,
    x_bias,
    reg,
    reg_bias,
    weighted,
    biased,
    status,
    reg_const=0.0,
    reg_bias_const=0.0,
):
    """Exact half-step: build the (k+1)^2 normal equations per row and solve by Cholesky.

    indptr int64[n+1], indices int32[nnz], data float32[nnz]: ratings of the rows being solved.
    Y float32[m, k], y_bias float32[m]: the fixed side. X float32[n, k], x_bias float32[n]: written.
    weighted: scale both regularisers by the row's rating count (ALS-WR); reg_const / reg_bias_const are added
    after the scaling (a floor, in pseudo-ratings, for rows with few ratings).
    status int8[n]: set to 1 for a row whose system is not positive definite.
    """
    cholesky_rows(
        indptr,
        indices,
        data,
        Y,
        y_bias,
        np.float32(mu),
        _NO_BASE,
        X,
        x_bias,
        np.float32(reg),
        np.float32(reg_bias),
        bool(weighted),
        False,
        bool(biased),
        status,
        np.float32(reg_const),
        np.float32(reg_bias_const),
    )


def als_cg_step(
    indptr,
    indices,
    data,
    Y,
    y_bias,
    mu,
    X,
    x_bias,
    reg,
    reg_bias,
    weighted,
    biased,
    cg_steps,
    chunks,
    row_error,
    tile=None,
    reg_const=0.0,
    reg_bias_const=0.0,
):
    """Approximate half-step: ``cg_steps`` of conjugate gradient per row, warm-started at the current row.

    See :mod:`mfrec.kernels.cg`; the bias is the (k+1)-th unknown. chunks int64[c+1]: row boundaries
    (balanced by ratings). row_error float64[n] or empty: when not empty, receives each row's squared
    training error after its solve. tile: neighbours per gather buffer (default: ``_config.gather_tile`` for
    the data and the threads).
    Other arguments as :func:`als_cholesky_step`; X and x_bias are read (warm start) and written.
    Returns the number of rows whose CG met a non-positive or NaN curvature (a diverged fit).
    """
    tile = gather_tile(Y.shape[1], indices.shape[0], get_num_threads()) if tile is None else tile
    return int(
        cg_rows(
            indptr,
            indices,
            data,
            Y,
            y_bias,
            np.float32(mu),
            _NO_BASE,
            X,
            x_bias,
            np.float32(reg),
            np.float32(reg_bias),
            bool(weighted),
            False,
            bool(biased),
            int(cg_steps),
            np.float32(reg_const),
            np.float32(reg_bias_const),
            chunks,
            int(tile),
            row_error,
            get_num_threads(),
        )
    )


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
