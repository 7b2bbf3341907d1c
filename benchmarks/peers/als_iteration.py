"""Seconds per explicit-ALS iteration of cmfrec on a Parquet ratings file (run with the peers' Python).

usage: als_iteration.py FILE K THREADS cg|cholesky ITERATIONS [CG_STEPS]
Per-iteration time = (fit with ITERATIONS iterations - fit with 1) / (ITERATIONS - 1), the statistic every
engine gets (benchmarks/_common.py), so set-up is excluded. Prints JSON.
"""

import json
import sys
import time

import pyarrow.parquet as pq
from cmfrec import CMF

path, k, threads, solver = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
iterations = int(sys.argv[5])
cg_steps = int(sys.argv[6]) if len(sys.argv) > 6 else 3  # cmfrec's default max_cg_steps
frame = pq.read_table(path, columns=["user", "item", "rating"]).to_pandas()
frame.columns = ["UserId", "ItemId", "Rating"]


def fit(n_iterations: int) -> float:
    model = CMF(
        method="als",
        k=k,
        lambda_=1.0,
        niter=n_iterations,
        use_cg=solver == "cg",
        max_cg_steps=cg_steps,
        finalize_chol=False,
        nthreads=threads,
        verbose=False,
        precompute_for_predictions=False,
    )
    started = time.perf_counter()
    model.fit(frame)
    return time.perf_counter() - started


one, many = fit(1), fit(iterations)
print(
    json.dumps(
        {"engine": f"cmfrec-{solver}", "ratings": len(frame), "iteration_seconds": (many - one) / (iterations - 1)}
    )
)
