"""Gibbs sampling of one side's factors and biases for Bayesian MF."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mfrec.kernels.linalg import FAST, cholesky_factor, solve_lower, solve_upper_t


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def sample_rows(
    indptr, indices, data, Y, y_bias, mu, prior_mean, prior_precision, bias_precision, alpha, noise, X, x_bias, status
):
    """Draw every row's (x_u, b_u) from its Gaussian conditional given the other side.

    With design vectors z_i = [y_i, 1] and targets t = r - mu - b_i:
    precision A = blockdiag(prior_precision, bias_precision) + alpha sum z z^T,
    mean m = A^-1 (blockdiag(...) [prior_mean, 0] + alpha sum z t),
    sample = m + L^-T noise_u where A = L L^T.

    noise float64[n, k+1]: standard normals drawn by the caller from the seeded
    generator, so the draws do not depend on thread scheduling.
    X float32[n, k], x_bias float32[n]: written. status int8[n]: 1 where A was not PD.
    """
    k = Y.shape[1]
    d = k + 1
    for u in prange(X.shape[0]):
        A = np.zeros((d, d), dtype=np.float64)
        b = np.zeros(d, dtype=np.float64)
        for a in range(k):
            for c in range(k):
                A[a, c] = prior_precision[a, c]
        A[k, k] = bias_precision
        for a in range(k):
            s = 0.0
            for c in range(k):
                s += prior_precision[a, c] * prior_mean[c]
            b[a] = s
        for j in range(indptr[u], indptr[u + 1]):
            i = indices[j]
            y = Y[i]
            t = alpha * (data[j] - mu - y_bias[i])
            for a in range(k):
                ya = y[a]
                b[a] += t * ya
                for c in range(a + 1):
                    A[a, c] += alpha * ya * y[c]
                A[k, a] += alpha * ya
            b[k] += t
            A[k, k] += alpha
        if not cholesky_factor(A):
            status[u] = 1
            continue
        half = np.empty(d, dtype=np.float64)
        mean = np.empty(d, dtype=np.float64)
        solve_lower(A, b, half)
        solve_upper_t(A, half, mean)
        draw = np.empty(d, dtype=np.float64)
        solve_upper_t(A, noise[u], draw)
        for a in range(k):
            X[u, a] = mean[a] + draw[a]
        x_bias[u] = mean[k] + draw[k]
