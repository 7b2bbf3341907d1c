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

#: Rows per parallel task of the row steps (they share one set of work arrays).
ROW_BLOCK = 64


@njit(cache=True, nogil=True, fastmath=FAST)
def _draw(A, b, noise, out, half, mean, spread):
    """out = A^-1 b + L^-T noise with A = L L^T (a draw from N(A^-1 b, A^-1)); A's lower triangle is overwritten.

    half, mean, spread: work arrays of A's size. Returns False when A is not positive definite (out untouched).
    """
    if not cholesky_factor(A):
        return False
    solve_lower(A, b, half)
    solve_upper_t(A, half, mean)
    solve_upper_t(A, noise, spread)
    for a in range(A.shape[0]):
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
    n = X.shape[0]
    keep = gram.shape[0] == n
    longest = 0
    for u in range(n):
        longest = max(longest, indptr[u + 1] - indptr[u])
    P = np.zeros((d, d), dtype=np.float64)
    prior_b = np.zeros(d, dtype=np.float64)
    _prior(prior_mean, prior_precision, bias_precision, P, prior_b)
    # A block of rows shares one set of work arrays: ten allocations per row were a fifth of this step on ml-100k.
    for block in prange((n + ROW_BLOCK - 1) // ROW_BLOCK):
        Z = np.empty((d, longest), dtype=np.float64)  # a row's design vectors as columns: each sum below is one dot
        t = np.empty(longest, dtype=np.float64)
        G = np.empty((d, d), dtype=np.float64)
        s = np.empty(d, dtype=np.float64)
        A = np.empty((d, d), dtype=np.float64)
        b = np.empty(d, dtype=np.float64)
        out = np.empty(d, dtype=np.float64)
        half = np.empty(d, dtype=np.float64)
        mean = np.empty(d, dtype=np.float64)
        spread = np.empty(d, dtype=np.float64)
        for u in range(block * ROW_BLOCK, min(n, (block + 1) * ROW_BLOCK)):
            start, m = indptr[u], indptr[u + 1] - indptr[u]
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
            for a in range(d):
                b[a] = prior_b[a] + alpha * s[a]
                for c in range(a + 1):
                    A[a, c] = P[a, c] + alpha * G[a, c]
            if not _draw(A, b, noise[u], out, half, mean, spread):
                status[u] = 1
                continue
            for a in range(k):
                X[u, a] = out[a]
            x_bias[u] = out[k]
            if keep:
                for a in range(d):
                    for c in range(a + 1):
                        gram[u, a, c] = G[a, c]
                        gram[u, c, a] = G[a, c]
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
    sum of changes is read off how far its f-th sum moved during the draws). That is O((k + 1) nnz) serial work
    per sweep where a joint (k + 1)-block draw of each feature needs O((k + 1)^2 nnz); both are exact Gibbs
    sweeps of the same posterior. Draws within a coordinate are serial (features share holders), so the result does not
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
    # Per row, side by side: coef[u] h[u, f] kept current through the draws, weight[u, f] (its change per unit of
    # a held feature's change) and the value it started the coordinate with; the serial draws touch one pair of
    # doubles per (feature, holder), and the row's total change is read off the difference afterwards.
    state = np.zeros((n_rows, 2), dtype=np.float64)
    start = np.empty(n_rows, dtype=np.float64)
    for u in prange(n_rows):
        state[u, 0] = coef[u] * h[u, 0]
        state[u, 1] = weight[u, 0]
        start[u] = state[u, 0]
    lin = np.empty(n_features, dtype=np.float64)
    for f in range(d):
        own_precision = prior_precision[f, f] if f < k else bias_precision
        # The prior's pull on theta[j, f] involves only j's other coordinates, which this coordinate's draws
        # do not move: computed for every feature at once, off the serial path.
        for j in prange(n_features):
            pull = own_precision * prior_mean[f]
            if f < k:
                for c in range(k):
                    if c != f:
                        pull -= prior_precision[f, c] * (theta[j, c] - prior_mean[c])
            lin[j] = pull
        for j in range(n_features):
            s = 0.0
            for p in range(holders_ptr[j], holders_ptr[j + 1]):
                s += state[holders[p], 0]
            a = own_precision + alpha * data[j, f]
            if not a > 0.0:
                return j
            old = theta[j, f]
            new = (lin[j] + alpha * (s + data[j, f] * old)) / a + noise[j, f] / np.sqrt(a)
            change = new - old
            theta[j, f] = new
            for p in range(holders_ptr[j], holders_ptr[j + 1]):
                st = state[holders[p]]
                st[0] -= st[1] * change
        for u in prange(n_rows):
            st = state[u]
            # st[0] moved by -weight * (sum of the row's features' changes); the residual sums move by
            # -coef * that sum * gram[u, f, :]. A row whose weight is 0 has gram[u, f, :] = 0: nothing moves.
            if st[1] > 0.0:
                shift = coef[u] * (start[u] - st[0]) / st[1]
                G = gram[u]
                hu = h[u]
                for c in range(d):
                    hu[c] -= shift * G[f, c]
            if f < k:  # the next coordinate's
                st[0] = coef[u] * h[u, f + 1]
                st[1] = weight[u, f + 1]
                start[u] = st[0]
    return -1


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def implicit_sums(indptr, indices, coef, theta, out, out_bias):
    """out[u] = coef[u] sum_{j in row u} theta[j, :k], out_bias[u] = coef[u] sum theta[j, k]."""
    k = out.shape[1]
    n = indptr.shape[0] - 1
    for block in prange((n + ROW_BLOCK - 1) // ROW_BLOCK):
        acc = np.empty(k + 1, dtype=np.float64)
        for u in range(block * ROW_BLOCK, min(n, (block + 1) * ROW_BLOCK)):
            for f in range(k + 1):
                acc[f] = 0.0
            for p in range(indptr[u], indptr[u + 1]):
                t = theta[indices[p]]
                for f in range(k + 1):
                    acc[f] += t[f]
            for f in range(k):
                out[u, f] = coef[u] * acc[f]
            out_bias[u] = coef[u] * acc[k]


@njit(cache=True, nogil=True, fastmath=FAST)
def _add_rows(X, k, out):
    for r in range(X.shape[0]):
        x = X[r]
        for a in range(k):
            out[a] += x[a]


@njit(cache=True, nogil=True, fastmath=FAST)
def _add_scatter(X, k, mean, out):
    centred = np.empty(k, dtype=np.float64)
    for r in range(X.shape[0]):
        x = X[r]
        for a in range(k):
            centred[a] = x[a] - mean[a]
        for a in range(k):
            ca = centred[a]
            row = out[a]
            for c in range(k):  # the full square, not the triangle: a loop of k vectorises
                row[c] += ca * centred[c]


@njit(cache=True, nogil=True, fastmath=FAST)
def row_moments(first, second, k):
    """(mean, scatter) of the first k columns of the rows of ``first`` and ``second`` together: the mean row and
    sum (x - mean)(x - mean)^T, float64[k] and float64[k, k] (a Normal-Wishart draw's statistics).

    Two arrays because the factor prior is shared by users and items (no stacked copy is made); either may
    have no rows.
    """
    n = first.shape[0] + second.shape[0]
    mean = np.zeros(k, dtype=np.float64)
    scatter = np.zeros((k, k), dtype=np.float64)
    if n == 0:
        return mean, scatter
    _add_rows(first, k, mean)
    _add_rows(second, k, mean)
    for a in range(k):
        mean[a] /= n
    _add_scatter(first, k, mean, scatter)
    _add_scatter(second, k, mean, scatter)
    return mean, scatter


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
