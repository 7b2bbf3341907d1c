"""Slow, obvious Python versions of the kernels, used only to check the fast ones."""


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
