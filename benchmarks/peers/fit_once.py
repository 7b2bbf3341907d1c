"""One peer fit as one process, for the shared speed harness (run with the peers' Python; issue 30 #2).

usage: fit_once.py ENGINE FILE K THREADS EPOCHS [CG_STEPS]
       fit_once.py text FILE OUT            (LibMF's text format, for its own mf-train)
ENGINE: libmf (the library, setup_peers.sh's AVX + OpenMP build), cmfrec-cg, implicit-als, implicit-bpr.
The process loads the Parquet file, fits EPOCHS epochs (iterations) and exits; the harness times the whole
process from outside (wall and CPU), as it times ``mfrec train`` and ``mf-train``, and takes the slope over
EPOCHS, so loading and set-up cancel. The settings: LibMF eta 0.05 and its other defaults; cmfrec ALS with
CG, CG_STEPS steps (default 2), lambda 1; implicit ALS with CG (its 3 steps), reg 1, alpha 1, binary; implicit
BPR with its defaults (its own sampler: uniform over the whole catalogue, one sample per interaction).
BLAS is held to one thread (threadpoolctl) for every engine that uses it.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

engine, path = sys.argv[1], sys.argv[2]
table = pq.read_table(path, columns=["user", "item", "rating"])
users, items = table.column("user").to_numpy(), table.column("item").to_numpy()
ratings = table.column("rating").to_numpy()
del table
if engine == "text":
    np.savetxt(sys.argv[3], np.column_stack([users - 1, items - 1, ratings]), fmt=["%d", "%d", "%.0f"], delimiter=" ")
    sys.exit(0)
k, threads, epochs = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
cg_steps = int(sys.argv[6]) if len(sys.argv) > 6 else 2
with threadpool_limits(1, "blas"):
    if engine == "libmf":
        import contextlib
        import io

        avx_build = Path(sys.executable).parents[1] / "libmf-avx.so"
        if avx_build.exists():
            os.environ.setdefault("LIBMF_OBJ", str(avx_build))
        with contextlib.redirect_stdout(io.StringIO()):  # the binding prints which .so it loaded
            from libmf import mf

        matrix = np.column_stack([users - 1, items - 1, ratings]).astype(np.float32)
        mf.MF(k=k, nr_threads=threads, nr_iters=epochs, quiet=True, eta=0.05).fit(matrix)
    elif engine == "cmfrec-cg":
        import pandas as pd
        from cmfrec import CMF

        frame = pd.DataFrame({"UserId": users, "ItemId": items, "Rating": ratings})
        CMF(method="als", k=k, lambda_=1.0, niter=epochs, use_cg=True, max_cg_steps=cg_steps, finalize_chol=False,
            nthreads=threads, verbose=False, precompute_for_predictions=False).fit(frame)  # fmt: skip
    else:
        import scipy.sparse as sp
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        _, user_rows = np.unique(users, return_inverse=True)
        _, item_rows = np.unique(items, return_inverse=True)
        user_items = sp.csr_matrix((np.ones(len(users), np.float32), (user_rows, item_rows)))
        if engine == "implicit-als":
            model = AlternatingLeastSquares(factors=k, regularization=1.0, alpha=1.0, iterations=epochs, use_cg=True,
                                            num_threads=threads, random_state=0)  # fmt: skip
        else:
            model = BayesianPersonalizedRanking(factors=k, iterations=epochs, num_threads=threads, random_state=0)
        model.fit(user_items, show_progress=False)
