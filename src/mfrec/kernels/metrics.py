"""Per-user ranking metrics over a batch of top-k lists."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def ranking_metrics(rec_items, rec_count, rel_indptr, rel_indices, k, out):
    """Precision, recall, NDCG, AP and hit at ``k`` for each user.

    rec_items int32[U, >=k] (best first), rec_count int32[U] valid entries.
    rel_indptr int64[U+1], rel_indices int32[nnz]: each user's relevant items
    (-1 stands for a relevant item the model cannot rank; it counts as a miss).
    out float64[U, 5] receives (precision, recall, ndcg, ap, hit); binary relevance,
    precision divides by k, recall by |relevant|, NDCG and AP by their ideal at
    min(|relevant|, k).
    """
    for u in prange(rec_items.shape[0]):
        start = rel_indptr[u]
        n_rel = rel_indptr[u + 1] - start
        hits = 0
        dcg = 0.0
        ap = 0.0
        depth = min(k, rec_count[u])
        for r in range(depth):
            item = rec_items[u, r]
            found = False
            for p in range(start, start + n_rel):
                if rel_indices[p] == item:
                    found = True
                    break
            if found:
                hits += 1
                dcg += 1.0 / np.log2(r + 2.0)
                ap += hits / (r + 1.0)
        ideal = min(n_rel, k)
        idcg = 0.0
        for r in range(ideal):
            idcg += 1.0 / np.log2(r + 2.0)
        out[u, 0] = hits / k
        out[u, 1] = hits / n_rel if n_rel > 0 else 0.0
        out[u, 2] = dcg / idcg if idcg > 0 else 0.0
        out[u, 3] = ap / ideal if ideal > 0 else 0.0
        out[u, 4] = 1.0 if hits > 0 else 0.0
