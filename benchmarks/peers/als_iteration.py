"""Seconds per explicit-ALS iteration of cmfrec on a Parquet ratings file (run with the peers' Python).

usage: als_iteration.py FILE K THREADS cg|cholesky
Per-iteration time = (fit with 4 iterations - fit with 1) / 3, so set-up is excluded. Prints JSON.
"""

import json
import sys
import time

import pyarrow.parquet as pq
from cmfrec import CMF

path, k, threads, solver = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
frame = pq.read_table(path, columns=["user", "item", "rating"]).to_pandas()
frame.columns = ["UserId", "ItemId", "Rating"]


def fit(iterations: int) -> float:
    model = CMF(method="als", k=k, lambda_=1.0, niter=iterations, use_cg=solver == "cg", finalize_chol=False,
                nthreads=threads, verbose=False, precompute_for_predictions=False)  # fmt: skip
    started = time.perf_counter()
    model.fit(frame)
    return time.perf_counter() - started


one, many = fit(1), fit(4)
print(json.dumps({"engine": f"cmfrec-{solver}", "ratings": len(frame), "iteration_seconds": (many - one) / 3}))
