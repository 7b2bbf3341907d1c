"""Minibatch training of the "embedding + dot product" model with Adam."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _adam_rows(rows, n_rows, W, grad, m, v, lr_t, beta1, beta2, eps):
    """Adam on the touched rows of W only (lazy Adam), then clear their gradients."""
    for t in range(n_rows):
        r = rows[t]
        for f in range(W.shape[1]):
            g = grad[r, f]
            m[r, f] = beta1 * m[r, f] + (1.0 - beta1) * g
            v[r, f] = beta2 * v[r, f] + (1.0 - beta2) * g * g
            W[r, f] -= lr_t * m[r, f] / (np.sqrt(v[r, f]) + eps)
            grad[r, f] = 0.0


@njit(cache=True, nogil=True)
def adam_epoch(
    users,
    items,
    ratings,
    order,
    batch_size,
    P,
    Q,
    bu,
    bi,
    mu,
    state,
    step,
    lr,
    reg,
    reg_bias,
    beta1,
    beta2,
    eps,
    biased,
    user_inverse=None,
    item_inverse=None,
    constants=None,
):
    """One epoch of minibatch Adam on mean squared error + L2 on the rows each batch uses.

    users, items int32[n], ratings float32[n]; order int64[n] is this epoch's shuffle.
    P float32[n_users, k], Q float32[n_items, k]; bu, bi float32[., 1] (biases as 1-wide
    matrices so one Adam routine serves all four). state: tuple of gradient and moment
    buffers shaped like them. step: Adam's step count before this epoch.
    user_inverse / item_inverse float32[rows] (1 / the row's rating count) and constants float32[3] (factor,
    user-bias, item-bias): each occurrence adds constant / count to the L2 weight, so a row's total is
    reg * n + constant (None: no constant terms).
    Returns (sum of squared errors, step after the epoch).
    """
    gP, gQ, gbu, gbi, mP, vP, mQ, vQ, mbu, vbu, mbi, vbi = state
    k = P.shape[1]
    touched_u = np.empty(batch_size, dtype=np.int64)
    touched_i = np.empty(batch_size, dtype=np.int64)
    mark_u = np.full(P.shape[0], -1, dtype=np.int64)
    mark_i = np.full(Q.shape[0], -1, dtype=np.int64)
    sq = 0.0
    n = order.shape[0]
    for start in range(0, n, batch_size):
        end = min(start + batch_size, n)
        scale = 2.0 / (end - start)  # d/dw of the batch mean of e^2
        nu = 0
        ni = 0
        for s in range(start, end):
            r = order[s]
            u, i = users[r], items[r]
            if mark_u[u] != start:
                mark_u[u] = start
                touched_u[nu] = u
                nu += 1
            if mark_i[i] != start:
                mark_i[i] = start
                touched_i[ni] = i
                ni += 1
            pred = 0.0
            for f in range(k):
                pred += P[u, f] * Q[i, f]
            if biased:
                pred += mu + bu[u, 0] + bi[i, 0]
            e = ratings[r] - pred
            sq += e * e
            ru, ri, rbu, rbi = reg, reg, reg_bias, reg_bias
            if user_inverse is not None:
                ru += constants[0] * user_inverse[u]
                ri += constants[0] * item_inverse[i]
                rbu += constants[1] * user_inverse[u]
                rbi += constants[2] * item_inverse[i]
            for f in range(k):
                gP[u, f] += scale * (-e * Q[i, f] + ru * P[u, f])
                gQ[i, f] += scale * (-e * P[u, f] + ri * Q[i, f])
            if biased:
                gbu[u, 0] += scale * (-e + rbu * bu[u, 0])
                gbi[i, 0] += scale * (-e + rbi * bi[i, 0])
        step += 1
        lr_t = lr * np.sqrt(1.0 - beta2**step) / (1.0 - beta1**step)
        _adam_rows(touched_u, nu, P, gP, mP, vP, lr_t, beta1, beta2, eps)
        _adam_rows(touched_i, ni, Q, gQ, mQ, vQ, lr_t, beta1, beta2, eps)
        if biased:
            _adam_rows(touched_u, nu, bu, gbu, mbu, vbu, lr_t, beta1, beta2, eps)
            _adam_rows(touched_i, ni, bi, gbi, mbi, vbi, lr_t, beta1, beta2, eps)
    return sq, step
