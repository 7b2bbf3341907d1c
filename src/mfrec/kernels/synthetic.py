"""Sampling kernels for the synthetic interaction generator."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _sample_distinct(cdf, weights, n_wanted, stamp, tag, out):
    """Draw ``n_wanted`` distinct items with probability ~ weights into ``out``.

    Light users: inverse-CDF draws with rejection of repeats (``stamp`` marks taken
    items with ``tag``). Heavy users, for whom rejection would stall on the tail:
    Efraimidis-Spirakis keys log(u)/w and the largest ``n_wanted`` of them.
    """
    n_items = cdf.shape[0]
    if n_wanted * 20 <= n_items:
        got = 0
        while got < n_wanted:
            i = np.searchsorted(cdf, np.random.random() * cdf[-1], side="right")
            if i >= n_items:
                i = n_items - 1
            if stamp[i] != tag:
                stamp[i] = tag
                out[got] = i
                got += 1
    else:
        keys = np.empty(n_items, dtype=np.float64)
        for i in range(n_items):
            keys[i] = np.log(np.random.random() + 1e-300) / weights[i]
        order = np.argsort(-keys)
        for j in range(n_wanted):
            out[j] = order[j]


@njit(cache=True, nogil=True)
def generate_chunk(
    seed,
    first_user,
    counts,
    user_factors,
    user_bias,
    item_factors,
    item_bias,
    global_mean,
    noise,
    cdf,
    weights,
    low,
    high,
    step,
    t_start,
    t_span,
    stamp,
):
    """Interactions of users ``first_user + j`` (j < len(counts)), ``counts[j]`` each.

    rating = clip(round_to_step(mu + b_u + b_i + p_u.q_i + N(0, noise)), low, high);
    timestamps spread over each user's own active window inside [t_start, t_start + t_span).
    """
    np.random.seed(seed)
    total = 0
    for j in range(counts.shape[0]):
        total += counts[j]
    users = np.empty(total, dtype=np.int32)
    items = np.empty(total, dtype=np.int32)
    ratings = np.empty(total, dtype=np.float32)
    times = np.empty(total, dtype=np.int64)
    picked = np.empty(cdf.shape[0], dtype=np.int64)
    pos = 0
    k = item_factors.shape[1]
    for j in range(counts.shape[0]):
        u = first_user + j
        n = counts[j]
        _sample_distinct(cdf, weights, n, stamp, u, picked)
        window = t_span * (0.05 + 0.95 * np.random.random())
        begin = t_start + (t_span - window) * np.random.random()
        p = user_factors[j]
        for m in range(n):
            i = picked[m]
            dot = 0.0
            for f in range(k):
                dot += p[f] * item_factors[i, f]
            value = global_mean + user_bias[j] + item_bias[i] + dot + noise * np.random.standard_normal()
            value = low + np.round((value - low) / step) * step
            users[pos] = u
            items[pos] = i
            ratings[pos] = min(max(value, low), high)
            times[pos] = np.int64(begin + window * np.random.random())
            pos += 1
    return users, items, ratings, times
