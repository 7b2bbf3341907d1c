"""Small dense solvers used per row inside parallel kernels (no LAPACK calls, no exceptions)."""

from __future__ import annotations

import numpy as np
from numba import njit

from mfrec.kernels._config import FAST

__all__ = ["FAST", "cholesky_factor", "cholesky_solve", "dot", "solve_lower", "solve_upper_t"]


@njit(cache=True, nogil=True, fastmath=FAST)
def cholesky_factor(A):
    """Overwrite the lower triangle of symmetric ``A`` (d x d) with L, A = L L^T.

    Only the lower triangle is read, so callers build just that half. Returns
    False when a pivot is not positive (A is not positive definite).
    """
    d = A.shape[0]
    for j in range(d):
        s = A[j, j]
        for m in range(j):
            s -= A[j, m] * A[j, m]
        if not s > 0.0:
            return False
        s = np.sqrt(s)
        A[j, j] = s
        for r in range(j + 1, d):
            t = A[r, j]
            for m in range(j):
                t -= A[r, m] * A[j, m]
            A[r, j] = t / s
    return True


@njit(cache=True, nogil=True, fastmath=FAST)
def solve_lower(L, b, x):
    """x = L^-1 b for lower-triangular L."""
    for r in range(L.shape[0]):
        t = b[r]
        for m in range(r):
            t -= L[r, m] * x[m]
        x[r] = t / L[r, r]


@njit(cache=True, nogil=True, fastmath=FAST)
def solve_upper_t(L, b, x):
    """x = L^-T b for lower-triangular L (back substitution with L transposed)."""
    for r in range(L.shape[0] - 1, -1, -1):
        t = b[r]
        for m in range(r + 1, L.shape[0]):
            t -= L[m, r] * x[m]
        x[r] = t / L[r, r]


@njit(cache=True, nogil=True, fastmath=FAST)
def cholesky_solve(A, b, x):
    """Solve ``A x = b`` for symmetric positive definite ``A`` (lower triangle read), overwriting it with its factor.

    Returns False (leaving ``x`` untouched) when A is not positive definite; the
    caller turns that into an error naming the row.
    """
    if not cholesky_factor(A):
        return False
    y = np.empty_like(x)
    solve_lower(A, b, y)
    solve_upper_t(A, y, x)
    return True


@njit(cache=True, nogil=True, fastmath=FAST)
def dot(a, b, d):
    """sum a[:d] * b[:d] in float32, vectorised (FAST's reassoc) in a function of its own.

    Kept out of line on purpose: compiled alone, its code (and so its summation order) is the same in a
    process that compiles it and one that loads it from the numba cache, which is not true of reductions
    vectorised inside the large parallel CG kernel (see _config.EXACT_SUM).
    """
    s = np.float32(0.0)
    for i in range(d):
        s += a[i] * b[i]
    return s
