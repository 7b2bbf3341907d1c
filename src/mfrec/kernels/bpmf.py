"""Gibbs sampling kernels for Bayesian MF with SVD++ implicit terms ("flipped") and bias groups.

The sampler works on one side at a time. For the side being drawn, every rating is reduced to a
target ``t`` (the rating minus every term that does not involve the row) and a design vector
``z = [y_i, 1]`` (the other side's effective factors and a one for the bias), so each row's
conditional is a (k + 1)-dimensional Gaussian. The implicit embeddings enter through per-row Gram
matrices that the row step leaves behind (see :func:`sample_rows`' ``gram``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mfrec.kernels.linalg import FAST, cholesky_factor, solve_lower, solve_upper_t


@njit(cache=True, nogil=True, fastmath=FAST)
def _draw(A, b, noise, out):
    """out = A^-1 b + L^-T noise with A = L L^T (a draw from N(A^-1 b, A^-1)); A's lower triangle is overwritten.

    Returns False when A is not positive definite (out untouched).
    """
    d = A.shape[0]
    if not cholesky_factor(A):
        return False
    half = np.empty(d, dtype=np.float64)
    mean = np.empty(d, dtype=np.float64)
    spread = np.empty(d, dtype=np.float64)
    solve_lower(A, b, half)
    solve_upper_t(A, half, mean)
    solve_upper_t(A, noise, spread)
    for a in range(d):
        out[a] = mean[a] + spread[a]
    return True


@njit(cache=True, nogil=True, fastmath=FAST)
def _prior(prior_mean, prior_precision, bias_precision, A, b):
    """A = blockdiag(prior_precision, bias_precision) (lower triangle), b = A @ prior_mean.

    prior_mean float64[k + 1]: the factors' prior mean, then the bias's.
    """
    k = prior_mean.shape[0] - 1
    for a in range(k):
        s = 0.0
        for c in range(k):
            s += prior_precision[a, c] * prior_mean[c]
        b[a] = s
        for c in range(a + 1):
            A[a, c] = prior_precision[a, c]
    A[k, k] = bias_precision
    b[k] = bias_precision * prior_mean[k]


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def sample_rows(
    indptr, indices, targets, Y, prior_mean, prior_precision, bias_precision, alpha, noise, X, x_bias, gram, status
):
    """Draw every row's (x_u, b_u) from its Gaussian conditional given the other side.

    With design vectors z_i = [Y_i, 1] and the targets t (CSR order), P = blockdiag(prior_precision,
    bias_precision) and prior_mean float64[k + 1] (factors' then bias's):
    precision A = P + alpha sum z z^T, mean A^-1 (P prior_mean + alpha sum z t), sample = mean + L^-T noise_u.

    indptr int64[n+1], indices int32[nnz], targets float64[nnz]; Y float64[m, k].
    noise float64[n, k+1]: standard normals from the caller's seeded generator, so the draw does not
    depend on thread scheduling. Written: X float64[n, k], x_bias float64[n], status int8[n] (1 where A was
    not positive definite), and, when ``gram`` has n rows, gram[u] = sum z z^T (full, float64[n, k+1, k+1]):
    the implicit terms' step needs exactly this matrix.
    """
    k = Y.shape[1]
    d = k + 1
    keep = gram.shape[0] == X.shape[0]
    for u in prange(X.shape[0]):
        G = np.zeros((d, d), dtype=np.float64)
        s = np.zeros(d, dtype=np.float64)
        for j in range(indptr[u], indptr[u + 1]):
            y = Y[indices[j]]
            t = targets[j]
            for a in range(k):
                ya = y[a]
                s[a] += t * ya
                for c in range(a + 1):
                    G[a, c] += ya * y[c]
                G[k, a] += ya
            s[k] += t
            G[k, k] += 1.0
        if keep:
            for a in range(d):
                for c in range(a + 1):
                    gram[u, a, c] = G[a, c]
                    gram[u, c, a] = G[a, c]
        A = np.zeros((d, d), dtype=np.float64)
        b = np.zeros(d, dtype=np.float64)
        _prior(prior_mean, prior_precision, bias_precision, A, b)
        for a in range(d):
            b[a] += alpha * s[a]
            for c in range(a + 1):
                A[a, c] += alpha * G[a, c]
        out = np.empty(d, dtype=np.float64)
        if not _draw(A, b, noise[u], out):
            status[u] = 1
            continue
        for a in range(k):
            X[u, a] = out[a]
        x_bias[u] = out[k]


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def row_targets(indptr, indices, values, offset, other_bias, own_implicit, other, out):
    """out[j] = values[j] - offset[u] - other_bias[i] - own_implicit[u] . other[i] for each rating j = (u, i).

    ``values`` holds the ratings minus the global mean and any time terms (CSR order). With the row's own
    implicit bias and implicit sum as ``offset`` / ``own_implicit`` it is what is left of a rating for the
    row's own (factor, bias); with its effective bias and factors, the full residual.
    """
    k = other.shape[1]
    for u in prange(indptr.shape[0] - 1):
        for j in range(indptr[u], indptr[u + 1]):
            i = indices[j]
            s = 0.0
            for f in range(k):
                s += own_implicit[u, f] * other[i, f]
            out[j] = values[j] - offset[u] - other_bias[i] - s


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def residual_sums(indptr, indices, values, own_bias, other_bias, own, other, h):
    """h[u] = sum over u's ratings of [other_i, 1] * e_ui, e the full residual; returns the squared error.

    ``values``: ratings minus the global mean and time terms (CSR order); ``own``/``other``: effective
    factors (explicit + implicit), ``own_bias``/``other_bias``: effective biases.
    """
    k = other.shape[1]
    n = indptr.shape[0] - 1
    sse = np.zeros(n, dtype=np.float64)
    for u in prange(n):
        hu = h[u]
        for a in range(k + 1):
            hu[a] = 0.0
        for j in range(indptr[u], indptr[u + 1]):
            i = indices[j]
            y = other[i]
            s = 0.0
            for f in range(k):
                s += own[u, f] * y[f]
            e = values[j] - own_bias[u] - other_bias[i] - s
            for a in range(k):
                hu[a] += y[a] * e
            hu[k] += e
            sse[u] += e * e
    return sse.sum()


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def implicit_precisions(holders_ptr, holders, coef, gram, prior_precision, bias_precision, alpha, A):
    """A[j] = blockdiag(prior_precision, bias_precision) + alpha sum_{u holds j} coef[u]^2 gram[u] (lower triangle).

    The conditional precision of implicit feature j's (embedding, weight): it depends only on the
    Grams, so every feature's is formed in parallel before the serial draws of :func:`sample_implicit`.
    """
    d = gram.shape[1]
    k = d - 1
    for j in prange(holders_ptr.shape[0] - 1):
        Aj = A[j]
        for a in range(d):
            for c in range(a + 1):
                Aj[a, c] = 0.0
        for p in range(holders_ptr[j], holders_ptr[j + 1]):
            u = holders[p]
            w = coef[u] * coef[u]
            G = gram[u]
            for a in range(d):
                for c in range(a + 1):
                    Aj[a, c] += w * G[a, c]
        for a in range(d):
            for c in range(a + 1):
                Aj[a, c] *= alpha
        for a in range(k):
            for c in range(a + 1):
                Aj[a, c] += prior_precision[a, c]
        Aj[k, k] += bias_precision


@njit(cache=True, nogil=True, fastmath=FAST)
def sample_implicit(
    holders_ptr, holders, coef, gram, h, theta, prior_mean, prior_precision, bias_precision, alpha, A, noise
):
    """Gibbs-draw each implicit feature j's theta[j] = (embedding, weight) in turn; returns -1, or the failing j.

    Feature j (an item in the users' implicit sums, or a user in the items' "flipped" sums) adds
    coef[u] * theta[j] . [y_i, 1] to every rating of each holder u. Given the holders' Grams
    (``gram[u]`` = sum z z^T over u's ratings) and residual sums ``h[u]`` = sum z e, its conditional is
    Gaussian with precision A[j] (from :func:`implicit_precisions`) and
    b = P prior_mean + alpha sum_u coef[u] h[u] + (A[j] - P) theta_old, P = blockdiag(prior_precision,
    bias_precision) and prior_mean float64[k + 1] (the embeddings' mean, then the weights').
    After the draw every holder's h moves by -coef[u] gram[u] delta, which is why the draws are serial
    (features share holders); the result is an exact Gibbs sweep and does not depend on threads.
    theta float64[n_features, k+1] and h float64[n_holders, k+1] are written; A is overwritten.
    """
    d = theta.shape[1]
    k = d - 1
    base = np.zeros(d, dtype=np.float64)
    for a in range(k):
        s = 0.0
        for c in range(k):
            s += prior_precision[a, c] * prior_mean[c]
        base[a] = s
    base[k] = bias_precision * prior_mean[k]
    b = np.empty(d, dtype=np.float64)
    data_part = np.empty((d, d), dtype=np.float64)
    out = np.empty(d, dtype=np.float64)
    delta = np.empty(d, dtype=np.float64)
    for j in range(theta.shape[0]):
        Aj = A[j]
        th = theta[j]
        for a in range(d):
            for c in range(a + 1):
                v = Aj[a, c]
                if a < k:
                    v -= prior_precision[a, c]
                data_part[a, c] = v
                data_part[c, a] = v
        data_part[k, k] -= bias_precision
        for a in range(d):
            s = base[a]
            for c in range(d):
                s += data_part[a, c] * th[c]
            b[a] = s
        for p in range(holders_ptr[j], holders_ptr[j + 1]):
            u = holders[p]
            w = alpha * coef[u]
            hu = h[u]
            for a in range(d):
                b[a] += w * hu[a]
        if not _draw(Aj, b, noise[j], out):
            return j
        for a in range(d):
            delta[a] = out[a] - th[a]
            th[a] = out[a]
        for p in range(holders_ptr[j], holders_ptr[j + 1]):
            u = holders[p]
            cu = coef[u]
            G = gram[u]
            hu = h[u]
            for a in range(d):
                s = 0.0
                for c in range(d):
                    s += G[a, c] * delta[c]
                hu[a] -= cu * s
    return -1


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def implicit_sums(indptr, indices, coef, theta, out, out_bias):
    """out[u] = coef[u] sum_{j in row u} theta[j, :k], out_bias[u] = coef[u] sum theta[j, k]."""
    k = out.shape[1]
    for u in prange(indptr.shape[0] - 1):
        acc = np.zeros(k + 1, dtype=np.float64)
        for p in range(indptr[u], indptr[u + 1]):
            t = theta[indices[p]]
            for f in range(k + 1):
                acc[f] += t[f]
        for f in range(k):
            out[u, f] = coef[u] * acc[f]
        out_bias[u] = coef[u] * acc[k]


@njit(cache=True, nogil=True, fastmath=FAST)
def group_sums(residuals, group, n_groups):
    """(sum of residuals, count) per group index: the sufficient statistics of a bias group's conditional."""
    sums = np.zeros(n_groups, dtype=np.float64)
    counts = np.zeros(n_groups, dtype=np.float64)
    for r in range(residuals.shape[0]):
        g = group[r]
        sums[g] += residuals[r]
        counts[g] += 1.0
    return sums, counts
