"""Seconds per SGD epoch of LibMF or Surprise on a Parquet ratings file (run with the peers' Python).

usage: sgd_epoch.py libmf|libmf-cli|surprise FILE K THREADS EPOCHS [MAX_RATINGS]
Per-epoch time = (fit with EPOCHS epochs - fit with 1 epoch) / (EPOCHS - 1), the statistic every engine
gets (benchmarks/_common.py), so loading and set-up are excluded. ``libmf`` is LibMF's library through its
Python binding, loading setup_peers.sh's AVX + OpenMP build; ``libmf-cli`` is LibMF's own ``mf-train``
built with the same flags, fed a text file (each fit is one ``mf-train`` run). Prints JSON; ``epoch_cpu_seconds``
is the same slope of CPU seconds (all threads, user + system), the figure a crowded machine distorts least.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

engine, path, k, threads, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
limit = int(sys.argv[6]) if len(sys.argv) > 6 else None
table = pq.read_table(path, columns=["user", "item", "rating"])
users = table.column("user").to_numpy()[:limit]
items = table.column("item").to_numpy()[:limit]
ratings = table.column("rating").to_numpy()[:limit]
del table
n = len(ratings)
peers = Path(sys.executable).parents[1]  # setup_peers.sh puts its builds beside the venv's bin/


def cpu_seconds():
    """CPU seconds of this process and its finished children, all threads, user + system."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fit):
    """Wall seconds of ``fit()``; its CPU seconds go to ``cpu_used``."""
    started, cpu = time.perf_counter(), cpu_seconds()
    fit()
    cpu_used.append(cpu_seconds() - cpu)
    return time.perf_counter() - started


cpu_used = []


if engine == "libmf":
    import contextlib
    import io

    avx_build = peers / "libmf-avx.so"
    if avx_build.exists():
        os.environ.setdefault("LIBMF_OBJ", str(avx_build))
    with contextlib.redirect_stdout(io.StringIO()):  # the binding prints which .so it loaded
        from libmf import mf

    matrix = np.column_stack([users - 1, items - 1, ratings]).astype(np.float32)
    del users, items, ratings

    def fit(n_epochs):
        return timed(lambda: mf.MF(k=k, nr_threads=threads, nr_iters=n_epochs, quiet=True, eta=0.05).fit(matrix))

elif engine == "libmf-cli":
    workdir = tempfile.mkdtemp()
    train_file = os.path.join(workdir, "train.txt")
    np.savetxt(train_file, np.column_stack([users - 1, items - 1, ratings]), fmt=["%d", "%d", "%.0f"], delimiter=" ")
    del users, items, ratings

    def fit(n_epochs):
        command = [
            str(peers / "mf-train"),
            "-k",
            str(k),
            "-t",
            str(n_epochs),
            "-s",
            str(threads),
            "-r",
            "0.05",
            "--quiet",
            train_file,
            os.path.join(workdir, "model.txt"),
        ]
        return timed(lambda: subprocess.run(command, check=True, stdout=subprocess.DEVNULL))

else:
    import pandas as pd
    from surprise import SVD, Dataset, Reader

    frame = pd.DataFrame({"user": users, "item": items, "rating": ratings})
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()

    def fit(n_epochs):
        return timed(lambda: SVD(n_factors=k, n_epochs=n_epochs, random_state=0).fit(trainset))


one, many = fit(1), fit(epochs)
per_epoch = (many - one) / (epochs - 1)
cpu_per_epoch = (cpu_used[1] - cpu_used[0]) / (epochs - 1)
print(
    json.dumps(
        {
            "engine": engine,
            "ratings": int(n),
            "epoch_seconds": per_epoch,
            "ratings_per_second": n / per_epoch,
            "epoch_cpu_seconds": cpu_per_epoch,
        }
    )
)
