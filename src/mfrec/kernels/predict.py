"""Scoring kernel: predicted ratings of (user, item) pairs (top-k selection is in :mod:`mfrec.kernels.topk`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def score_pairs(users, items, P, Q, user_bias, item_bias, global_mean, out):
    """``out[r] = mu + b_u + b_i + p_u.q_i`` with an unknown side (index -1) contributing nothing.

    users, items : int32[n] (-1 = unknown). P : float32[n_users, k] or [0, k] for
    bias-only models. out : float32[n], written.
    """
    k = P.shape[1]
    for r in prange(users.shape[0]):
        u = users[r]
        i = items[r]
        s = global_mean
        if u >= 0:
            s += user_bias[u]
        if i >= 0:
            s += item_bias[i]
        if u >= 0 and i >= 0 and k > 0:
            p = P[u]
            q = Q[i]
            dot = np.float32(0.0)
            for f in range(k):
                dot += p[f] * q[f]
            s += dot
        out[r] = s
