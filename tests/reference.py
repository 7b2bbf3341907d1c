"""Slow, obvious Python versions of the kernels, used only to check the fast ones."""

import numpy as np


def sgd_pass(users, items, ratings, P, Q, bu, bi, mu, lr, reg, reg_bias, biased=True):
    """One in-order SGD pass, rating by rating, exactly as the docstring of MatrixFactorization states."""
    sq = 0.0
    for u, i, r in zip(users, items, ratings):
        pred = P[u] @ Q[i] + ((mu + bu[u] + bi[i]) if biased else 0.0)
        e = r - pred
        sq += e * e
        if biased:
            bu[u] += lr * (e - reg_bias * bu[u])
            bi[i] += lr * (e - reg_bias * bi[i])
        pu = P[u].copy()
        P[u] += lr * (e * Q[i] - reg * P[u])
        Q[i] += lr * (e * pu - reg * Q[i])
    return sq


def top_k(scores, seen, allowed, k):
    """Best k allowed, unseen items of one score row, ties to the lower index."""
    candidates = [i for i in range(len(scores)) if allowed[i] and i not in seen]
    return sorted(candidates, key=lambda i: (-scores[i], i))[:k]


def svdpp_pass(
    indptr,
    indices,
    ratings,
    order,
    P,
    Q,
    Y,
    bu,
    bi,
    item_count,
    mu,
    lr,
    lr_bias,
    reg,
    reg_y,
    reg_b,
    shrink,
    shrink_bu,
    shrink_bi,
):
    """One SVD++ epoch as kernels/svdpp.py::svdpp_epoch states it, user by user, in float64 NumPy."""
    sq = 0.0
    for u in order:
        rows = indices[indptr[u] : indptr[u + 1]]
        n = len(rows)
        if n == 0:
            continue
        z = Y[rows].sum(axis=0) / np.sqrt(n)
        acc = np.zeros(P.shape[1])
        for i, r in zip(rows, ratings[indptr[u] : indptr[u + 1]]):
            e = r - (mu + bu[u] + bi[i] + Q[i] @ (P[u] + z))
            sq += e * e
            bu[u] += lr_bias * (e - (reg_b + shrink_bu / n) * bu[u])
            bi[i] += lr_bias * (e - (reg_b + shrink_bi / item_count[i]) * bi[i])
            acc += e * Q[i]
            pu = P[u].copy()
            P[u] += lr * (e * Q[i] - (reg + shrink / n) * P[u])
            Q[i] += lr * (e * (pu + z) - (reg + shrink / item_count[i]) * Q[i])
        Y[rows] = Y[rows] * (1 - lr * reg_y) ** n + lr / np.sqrt(n) * acc
    return sq
