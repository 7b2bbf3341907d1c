"""Issue 30 #4: "the same model for any thread count", checked where 2 threads really run.

In-process, these comparisons were 1 thread against 1 thread wherever numba's pool has one thread (a runner
with one CPU, or ``NUMBA_NUM_THREADS=1``): ``n_threads=2`` is capped at the pool. So every model is fitted in a
child process started with ``NUMBA_NUM_THREADS=2``, once with 1 thread and once with 2, and the child first
proves that a parallel loop under ``num_threads(2)`` ran on two threads.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

CHILD = r"""
import json, sys
import numba
import numpy as np
from mfrec._threads import num_threads
from mfrec.data import synthetic
from mfrec.models import ALS, BPR, BayesianMF, ImplicitALS, MatrixFactorization

@numba.njit(parallel=True)
def thread_ids(n):
    out = np.empty(n, np.int64)
    for i in numba.prange(n):
        out[i] = numba.get_thread_id()
    return out

with num_threads(2) as granted:
    seen = len(set(thread_ids(1_000).tolist()))
data = synthetic(2_000, 400, 40_000, seed=3)
models = {
    "sgd": lambda t: MatrixFactorization(n_factors=8, n_epochs=4, n_threads=t, random_state=3),
    "als": lambda t: ALS(n_factors=6, n_epochs=3, n_threads=t),
    "bayesian": lambda t: BayesianMF(n_factors=3, n_epochs=4, burn_in=2, n_threads=t),
    "implicit-als": lambda t: ImplicitALS(n_factors=8, n_epochs=3, n_threads=t),
    "bpr": lambda t: BPR(n_factors=8, n_epochs=4, n_threads=t),
}
arrays = ("user_factors_", "item_factors_", "user_bias_", "item_bias_")
same = {}
for name in sys.argv[1].split(","):
    one, two = models[name](1).fit(data), models[name](2).fit(data)
    same[name] = {a: bool(np.array_equal(getattr(one, a), getattr(two, a))) for a in arrays if hasattr(one, a)}
print(json.dumps({"pool": numba.config.NUMBA_NUM_THREADS, "granted": granted, "threads_seen": seen, "same": same}))
"""

MODELS = ["sgd", "als", "bayesian", "implicit-als", "bpr"]


@pytest.fixture(scope="module")
def two_thread_fits():
    env = {key: value for key, value in os.environ.items() if key not in ("MFREC_NUM_THREADS", "OMP_NUM_THREADS")}
    env.update(NUMBA_NUM_THREADS="2", PYTHONPATH=os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]))
    child = subprocess.run(
        [sys.executable, "-c", CHILD, ",".join(MODELS)], env=env, capture_output=True, text=True, timeout=900
    )
    assert child.returncode == 0, child.stderr[-3000:]
    return json.loads(child.stdout.strip().splitlines()[-1])


def test_the_child_really_runs_two_threads(two_thread_fits):
    assert two_thread_fits["pool"] == 2 and two_thread_fits["granted"] == 2
    assert two_thread_fits["threads_seen"] == 2


@pytest.mark.parametrize("model", MODELS)
def test_one_and_two_threads_give_the_same_model(two_thread_fits, model):
    same = two_thread_fits["same"][model]
    assert same and all(same.values()), same
