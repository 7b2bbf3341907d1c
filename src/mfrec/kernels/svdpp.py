"""SGD for SVD++ (Koren 2008): biased MF whose user vector adds the normalised sum of implicit item factors.

The model predicts ``mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)``, N(u) the items the
user rated. Updating every ``y_j`` after every rating (Surprise's loop) costs O(|N(u)| k) per rating.
Here a user's ratings are taken together: the implicit sum ``z`` is formed once, the y gradient
``sum_i e_ui q_i`` is accumulated over the user's ratings and applied to each ``y_j`` once, so an
epoch costs O(nnz k) (about 3 passes of plain SGD) instead of O(sum_u |N(u)|^2 k).

Users are visited serially, in an order the caller draws per epoch, so a seed gives the same
factors on any machine and thread count. The y_j of one user's items are shared with every other
user who rated them, so users cannot run in parallel without races or a change of algorithm.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mfrec.kernels._config import FAST


@njit(cache=True, nogil=True, fastmath=FAST)
def svdpp_epoch(
    indptr,
    indices,
    ratings,
    user_order,
    P,
    Q,
    Y,
    user_bias,
    item_bias,
    item_count,
    global_mean,
    lr,
    lr_bias,
    reg,
    reg_implicit,
    reg_bias,
    shrink,
    shrink_user_bias,
    shrink_item_bias,
):
    """One SGD epoch of SVD++, user by user; returns the sum of squared errors (measured before each update).

    indptr int64[n_users+1], indices int32[nnz], ratings float32[nnz]: the ratings by user (CSR); a
    user's items are also their N(u). user_order int32[n_users]: the order users are visited.
    P float32[n_users, k], Q and Y float32[n_items, k], biases float32: mutated in place.
    item_count float32[n_items]: ratings of each item (at least 1 where the item has any).

    Regularisation scales with a row's evidence: a step on a row with n ratings uses
    ``reg + shrink / n`` for its factors and ``reg_bias + shrink_*_bias / n`` for its bias, so over an
    epoch the row is penalised ``reg n + shrink`` (``reg_bias n + shrink_*_bias``): per rating as in Koren 2008
    plus a fixed number of pseudo-ratings, the damped means of the bias baseline.

    For a user with n ratings, z = n^-1/2 sum_j Y[j] is fixed while their ratings are visited; each
    rating updates b_u, b_i, P[u], Q[i] as in biased SGD with p_u + z in place of p_u and adds
    e * Q[i] to the y gradient. Then every Y[j] of the user is decayed by (1 - lr reg_implicit)^n
    (the n per-rating penalty steps) and moved by lr n^-1/2 times the accumulated gradient.
    """
    k = P.shape[1]
    z = np.zeros(k, dtype=np.float32)
    acc = np.zeros(k, dtype=np.float32)
    sq_error = 0.0
    for t in range(user_order.shape[0]):
        u = user_order[t]
        start, end = indptr[u], indptr[u + 1]
        n = end - start
        if n == 0:
            continue
        norm = np.float32(1.0 / np.sqrt(n))
        reg_p = reg + shrink / np.float32(n)
        reg_bu = reg_bias + shrink_user_bias / np.float32(n)
        z[:] = 0.0
        acc[:] = 0.0
        for idx in range(start, end):
            y = Y[indices[idx]]
            for f in range(k):
                z[f] += y[f]
        for f in range(k):
            z[f] *= norm
        p = P[u]
        for idx in range(start, end):
            i = indices[idx]
            q = Q[i]
            dot = np.float32(0.0)
            for f in range(k):
                dot += (p[f] + z[f]) * q[f]
            err = ratings[idx] - (global_mean + user_bias[u] + item_bias[i] + dot)
            sq_error += err * err
            inv_count = np.float32(1.0) / item_count[i]
            reg_q = reg + shrink * inv_count
            user_bias[u] += lr_bias * (err - reg_bu * user_bias[u])
            item_bias[i] += lr_bias * (err - (reg_bias + shrink_item_bias * inv_count) * item_bias[i])
            for f in range(k):
                pf = p[f]
                qf = q[f]
                acc[f] += err * qf
                p[f] = pf + lr * (err * qf - reg_p * pf)
                q[f] = qf + lr * (err * (pf + z[f]) - reg_q * qf)
        decay = np.float32((1.0 - lr * reg_implicit) ** n)
        step = lr * norm
        for idx in range(start, end):
            y = Y[indices[idx]]
            for f in range(k):
                y[f] = y[f] * decay + step * acc[f]
    return sq_error


@njit(cache=True, nogil=True, parallel=True, fastmath=FAST)
def implicit_sums(indptr, indices, Y, out):
    """out[u] = |N(u)|^-1/2 sum_{j in N(u)} Y[j] for every user (zero for a user with no items); parallel over users.

    indptr int64[n_users+1], indices int32[nnz]; Y float32[n_items, k]; out float32[n_users, k], overwritten.
    """
    k = Y.shape[1]
    for u in prange(indptr.shape[0] - 1):
        row = out[u]
        for f in range(k):
            row[f] = 0.0
        start, end = indptr[u], indptr[u + 1]
        if end == start:
            continue
        for idx in range(start, end):
            y = Y[indices[idx]]
            for f in range(k):
                row[f] += y[f]
        norm = np.float32(1.0 / np.sqrt(end - start))
        for f in range(k):
            row[f] *= norm
