"""Seconds per iteration of the `implicit` library's ALS (CG) and BPR on a Parquet file (run with the peers' Python).

usage: implicit_iteration.py FILE K THREADS als|bpr ITERATIONS
Every row is an interaction (binary). Per-iteration time = (fit with ITERATIONS iterations - fit with 1) / (ITERATIONS - 1), the statistic every
engine gets (benchmarks/_common.py), so set-up
(matrix conversion, thread start) is excluded. Prints JSON.
"""

import json
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

path, k, threads, which = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
n_iterations = int(sys.argv[5])
table = pq.read_table(path, columns=["user", "item"])
users = table.column("user").to_numpy()
items = table.column("item").to_numpy()
_, user_rows = np.unique(users, return_inverse=True)
_, item_rows = np.unique(items, return_inverse=True)
user_items = sp.csr_matrix((np.ones(len(users), np.float32), (user_rows, item_rows)))
del table, users, items

from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking


def fit(iterations: int) -> float:
    if which == "als":
        model = AlternatingLeastSquares(
            factors=k,
            regularization=1.0,
            alpha=1.0,
            iterations=iterations,
            use_cg=True,
            num_threads=threads,
            random_state=0,
        )
    else:
        model = BayesianPersonalizedRanking(factors=k, iterations=iterations, num_threads=threads, random_state=0)
    started = time.perf_counter()
    with threadpool_limits(1, "blas"):
        model.fit(user_items, show_progress=False)
    return time.perf_counter() - started


one, many = fit(1), fit(n_iterations)
print(
    json.dumps(
        {
            "engine": f"implicit-{which}",
            "interactions": int(user_items.nnz),
            "iteration_seconds": (many - one) / (n_iterations - 1),
        }
    )
)
