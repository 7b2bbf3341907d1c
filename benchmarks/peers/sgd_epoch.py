"""Seconds per SGD epoch of LibMF or Surprise on a Parquet ratings file (run with the peers' Python).

usage: sgd_epoch.py libmf|surprise FILE K THREADS [MAX_RATINGS]
Per-epoch time = (fit with N epochs - fit with 1 epoch) / (N - 1), so loading and
set-up are excluded, as they are from mfrec's per-epoch figure. Prints JSON.
"""

import json
import sys
import time

import numpy as np
import pyarrow.parquet as pq

engine, path, k, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
limit = int(sys.argv[5]) if len(sys.argv) > 5 else None
table = pq.read_table(path, columns=["user", "item", "rating"])
users = table.column("user").to_numpy()[:limit]
items = table.column("item").to_numpy()[:limit]
ratings = table.column("rating").to_numpy()[:limit]
del table


def timed(fit):
    started = time.perf_counter()
    fit()
    return time.perf_counter() - started


if engine == "libmf":
    import contextlib
    import io
    import os
    from pathlib import Path

    avx_build = Path(sys.executable).parents[1] / "libmf-avx.so"  # made by setup_peers.sh
    if avx_build.exists():
        os.environ.setdefault("LIBMF_OBJ", str(avx_build))
    with contextlib.redirect_stdout(io.StringIO()):  # the binding prints which .so it loaded
        from libmf import mf

    matrix = np.column_stack([users - 1, items - 1, ratings]).astype(np.float32)
    del users, items, ratings

    def fit(epochs):
        return timed(lambda: mf.MF(k=k, nr_threads=threads, nr_iters=epochs, quiet=True, eta=0.05).fit(matrix))

    one, many, epochs = fit(1), fit(6), 6
else:
    import pandas as pd
    from surprise import SVD, Dataset, Reader

    frame = pd.DataFrame({"user": users, "item": items, "rating": ratings})
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()

    def fit(epochs):
        return timed(lambda: SVD(n_factors=k, n_epochs=epochs, random_state=0).fit(trainset))

    one, many, epochs = fit(1), fit(3), 3
n = len(matrix) if engine == "libmf" else trainset.n_ratings
per_epoch = (many - one) / (epochs - 1)
print(json.dumps({"engine": engine, "ratings": int(n), "epoch_seconds": per_epoch, "ratings_per_second": n / per_epoch}))
