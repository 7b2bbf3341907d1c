"""Gibbs sampling kernels for Bayesian MF with SVD++ implicit terms ("flipped") and bias groups.

The sampler works on one side at a time. For the side being drawn, every rating is reduced to a
target ``t`` (the rating minus every term that does not involve the row) and a design vector
``z = [y_i, 1]`` (the other side's effective factors and a one for the bias), so each row's
conditional is a (k + 1)-dimensional Gaussian. The implicit embeddings enter through per-row Gram
matrices that the row step leaves behind (see :func:`sample_rows`' ``gram``) and are drawn one
coordinate at a time (see :func:`sample_implicit`).
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
    indptr, indices, values, offset, other_bias, own_implicit, Y, prior_mean, prior_precision, bias_precision, alpha,
    noise, X, x_bias, gram, sums, status,
):  # fmt: skip
    """Draw every row's (x_u, b_u) from its Gaussian conditional given the other side.

    Each rating j = (u, i) is reduced to its target t_j = values[j] - offset[u] - other_bias[i] -
    own_implicit[u] . Y[i] (what :func:`row_targets` writes: the rating less every term without x_u or b_u)
    and its design vector z_i = [Y_i, 1]. With P = blockdiag(prior_precision, bias_precision) and
    prior_mean float64[k + 1] (factors' then bias's): precision A = P + alpha sum z z^T,
    mean A^-1 (P prior_mean + alpha sum z t), sample = mean + L^-T noise_u.

    indptr int64[n+1], indices int32[nnz], values float64[nnz] (CSR order); offset float64[n],
    own_implicit float64[n, k]; other_bias float64[m], Y float64[m, k].
    noise float64[n, k+1]: standard normals from the caller's seeded generator, so the draw does not
    depend on thread scheduling. Written: X float64[n, k], x_bias float64[n], status int8[n] (1 where A was
    not positive definite), and, when ``gram`` has n rows, gram[u] = sum z z^T (full, float64[n, k+1, k+1])
    and sums[u] = sum z (t - [x_u, b_u] . z) = sum z t - gram[u] [x_u, b_u] (float64[n, k+1]), the residual sums
    of the new draw: the implicit terms' step needs exactly these.
    """
    k = Y.shape[1]
    d = k + 1
    keep = gram.shape[0] == X.shape[0]
    for u in prange(X.shape[0]):
        start, m = indptr[u], indptr[u + 1] - indptr[u]
        Z = np.empty((d, m), dtype=np.float64)  # the row's design vectors as columns: each sum below is one dot
        t = np.empty(m, dtype=np.float64)
        for r in range(m):
            i = indices[start + r]
            y = Y[i]
            for a in range(k):
                Z[a, r] = y[a]
            Z[k, r] = 1.0
            t[r] = values[start + r] - offset[u] - other_bias[i]
        for a in range(k):
            w = own_implicit[u, a]
            za = Z[a]
            for r in range(m):
                t[r] -= w * za[r]
        G = np.empty((d, d), dtype=np.float64)
        s = np.empty(d, dtype=np.float64)
        for a in range(d):
            za = Z[a]
            acc = 0.0
            for r in range(m):
                acc += za[r] * t[r]
            s[a] = acc
            for c in range(a + 1):
                zc = Z[c]
                acc = 0.0
                for r in range(m):
                    acc += za[r] * zc[r]
                G[a, c] = acc
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
        if keep:
            for a in range(d):
                acc = 0.0
                for c in range(d):
                    acc += gram[u, a, c] * out[c]
                sums[u, a] = s[a] - acc


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
def sample_implicit(
    holders_ptr, holders, coef, gram, h, theta, prior_mean, prior_precision, bias_precision, alpha, noise
):
    """Gibbs-draw every implicit feature's theta[j] = (embedding, weight), one coordinate at a time.

    Returns -1, or the first feature whose conditional precision was not positive.
    Feature j (an item in the users' implicit sums, or a user in the items' "flipped" sums) adds
    coef[u] * theta[j] . z_i, z_i = [y_i, 1], to every rating (u, i) of each holder u (the rows that hold j:
    ``holders_ptr``/``holders``, the other side's CSR).
    With gram[u] = sum z z^T over u's ratings, h[u] = sum z e (e the full residual),
    P = blockdiag(prior_precision, bias_precision) and prior_mean float64[k + 1] (the embeddings' mean,
    then the weights'), coordinate f of theta[j] given everything else is Gaussian with precision
    a = P[f, f] + alpha sum_u coef[u]^2 gram[u, f, f] and
    a * mean = P[f, f] prior_mean[f] - sum_{c != f} P[f, c] (theta[j, c] - prior_mean[c])
    + alpha sum_u coef[u] (h[u, f] + coef[u] gram[u, f, f] theta[j, f]).

    Coordinates run in the outer loop, as in Bayesian factorization machines (Rendle 2013; myFM): within
    one f the features are drawn in turn and only their holders' f-th residual sums move
    (coef[u]^2 gram[u, f, f] per unit of change), O(1) per (feature, holder) pair; between coordinates
    every row's h moves by -gram[u, f, :] coef[u] sum_{j in row u} delta_j, rows in parallel (each row's
    sum of changes is accumulated during the draws). That is O((k + 1) nnz) serial work per sweep where a
    joint (k + 1)-block draw of each feature needs O((k + 1)^2 nnz); both are exact Gibbs sweeps of the
    same posterior. Draws within a coordinate are serial (features share holders), so the result does not
    depend on threads.
    Written: theta float64[n_features, k+1], and h (the residual sums of the new state on return).
    noise float64[n_features, k+1]: standard normals from the caller's seeded generator.
    """
    d = theta.shape[1]
    k = d - 1
    n_rows = h.shape[0]
    n_features = theta.shape[0]
    weight = np.empty((n_rows, d), dtype=np.float64)  # coef[u]^2 gram[u, f, f], compact: the Grams are 15 lines a row
    for u in prange(n_rows):
        for f in range(d):
            weight[u, f] = coef[u] * coef[u] * gram[u, f, f]
    data = np.empty((n_features, d), dtype=np.float64)  # sum over j's holders of weight
    for j in prange(n_features):
        dj = data[j]
        for f in range(d):
            dj[f] = 0.0
        for p in range(holders_ptr[j], holders_ptr[j + 1]):
            wu = weight[holders[p]]
            for f in range(d):
                dj[f] += wu[f]
    # Per row, in one cache line: coef[u] h[u, f] kept current through the draws, weight[u, f] (its change per
    # unit of a held feature's change), the sum of its features' changes in this coordinate; the serial draws
    # touch one line per (feature, holder).
    state = np.zeros((n_rows, 4), dtype=np.float64)
    for u in prange(n_rows):
        state[u, 0] = coef[u] * h[u, 0]
        state[u, 1] = weight[u, 0]
    for f in range(d):
        own_precision = prior_precision[f, f] if f < k else bias_precision
        for j in range(n_features):
            lin = own_precision * prior_mean[f]
            if f < k:
                for c in range(k):
                    if c != f:
                        lin -= prior_precision[f, c] * (theta[j, c] - prior_mean[c])
            s = 0.0
            for p in range(holders_ptr[j], holders_ptr[j + 1]):
                s += state[holders[p], 0]
            a = own_precision + alpha * data[j, f]
            if not a > 0.0:
                return j
            old = theta[j, f]
            new = (lin + alpha * (s + data[j, f] * old)) / a + noise[j, f] / np.sqrt(a)
            change = new - old
            theta[j, f] = new
            for p in range(holders_ptr[j], holders_ptr[j + 1]):
                st = state[holders[p]]
                st[0] -= st[1] * change
                st[2] += change
        for u in prange(n_rows):
            st = state[u]
            shift = coef[u] * st[2]
            st[2] = 0.0
            G = gram[u]
            hu = h[u]
            for c in range(d):
                hu[c] -= shift * G[f, c]
            if f < k:  # the next coordinate's
                st[0] = coef[u] * hu[f + 1]
                st[1] = weight[u, f + 1]
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
