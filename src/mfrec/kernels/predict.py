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


@njit(cache=True, nogil=True, parallel=True)
def implicit_self_terms(
    users, items, E, F, user_sums, item_sums, Y, Z, user_weights, item_weights, user_ibias, item_ibias,
    user_counts, item_counts, seen_indptr, seen_indices, out,
):  # fmt: skip
    """What counting the pair itself in the implicit sums adds to ``mu + b_u + b_i + E_u . F_i``.

    Implicit models (SVD++ and its "flipped" twin) are fitted with every training pair (u, i) inside
    N(u) and M(i); a pair asked about later is in neither. This writes, per pair, the change from
    the fitted sums to N(u) + {i} and M(i) + {u}:
    E_u -> E_u - (1 - a_u) S_u + b_u Y_i with a_u = sqrt(n/(n+1)), b_u = 1/sqrt(n+1), n = |N(u)|, and
    the item side alike with (S_i, Z_u, m = |M(i)|); the implicit weights (w, x) move the same way.

    E, F : float32[n, W] effective factors; user_sums / item_sums : float32[n, W] the implicit sums in them;
    Y : float32[n_items, W] and Z : float32[n_users, W] the embeddings (width 0 when that side has none);
    user_weights / item_weights : float32 implicit weights of items (w) / users (x) (size 0 alike);
    user_ibias / item_ibias : their fitted sums; user_counts / item_counts : float32 |N(u)| / |M(i)| at fit,
    -1 for a row re-solved since. A pair with an unknown or re-solved side, or already in the user's seen
    items (CSR ``seen_indptr``/``seen_indices``), gets 0.
    """
    width = E.shape[1]
    has_y = Y.shape[1] > 0
    has_z = Z.shape[1] > 0
    for r in prange(users.shape[0]):
        u = users[r]
        i = items[r]
        out[r] = 0.0
        if u < 0 or i < 0 or u >= user_counts.shape[0] or i >= item_counts.shape[0]:
            continue
        n = user_counts[u]
        m = item_counts[i]
        if n < 0 or m < 0:
            continue
        seen = False
        for e in range(seen_indptr[u], seen_indptr[u + 1]):
            if seen_indices[e] == i:
                seen = True
                break
        if seen:
            continue
        keep_u, add_u, keep_i, add_i = 1.0, 0.0, 1.0, 0.0
        total = 0.0
        if has_y:
            keep_u, add_u = np.sqrt(n / (n + 1.0)), 1.0 / np.sqrt(n + 1.0)
            total += add_u * user_weights[i] - (1.0 - keep_u) * user_ibias[u]
        if has_z:
            keep_i, add_i = np.sqrt(m / (m + 1.0)), 1.0 / np.sqrt(m + 1.0)
            total += add_i * item_weights[u] - (1.0 - keep_i) * item_ibias[i]
        e_u, f_i = E[u], F[i]
        for f in range(width):
            du = 0.0
            di = 0.0
            if has_y:
                du = add_u * Y[i, f] - (1.0 - keep_u) * user_sums[u, f]
            if has_z:
                di = add_i * Z[u, f] - (1.0 - keep_i) * item_sums[i, f]
            total += e_u[f] * di + du * f_i[f] + du * di
        out[r] = total
