"""Bayesian samplers side by side: mfrec ``bayesian`` against myFM, per Gibbs sweep and per whole fit.

usage: python benchmarks/bench_bayesian.py [--rounds 3] [--sizes ml-100k,1M] [--update-results]

One statistic for every engine: each fit runs in a process of its own, with the same thread settings;
the per-sweep time is the slope (fit with ``--long`` sweeps - fit with ``--short`` sweeps) / difference,
so start-up, data loading and compilation cancel; the whole fit is a default fit (mfrec: 200 sweeps and
its pick model for top-N lists; myFM: 200 sweeps, 150 kept). Rounds interleave the engines, and the
median over rounds is reported with the range. Same model terms on both sides: plain MF, and SVD++
"flipped" (the items a user rated and the users who rated an item, normalised by 1/sqrt(n)), k = 10.
myFM runs one thread (it has no other); mfrec runs 1 and 2.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import ML100K, machine, require_peers, write_section

parser = argparse.ArgumentParser()
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--sizes", default="ml-100k,1M")
parser.add_argument("--short", type=int, default=10)
parser.add_argument("--long", type=int, default=40)
parser.add_argument("--update-results", action="store_true")
args = parser.parse_args()
peers_python = require_peers()

MFREC_FIT = """
import sys, time, pandas as pd
from mfrec.models import BayesianMF
frame = pd.read_csv(sys.argv[1], sep="\\t", names=["user", "item", "rating"])
sweeps, implicit, rank_by = int(sys.argv[2]), sys.argv[3], sys.argv[4]
# The whole fit (rank_by="pick-like") is the default fit, held-out chains included; a sweep is timed without them,
# whose length (burn-in + 25) would otherwise differ between the short and the long fit and enter the slope.
whole = rank_by == "pick-like"
model = BayesianMF(
    n_epochs=sweeps, burn_in=min(50, sweeps // 4), implicit=implicit, rank_by=rank_by, blend=whole,
    init_std=None if whole else 0.1,
)
model.fit(frame.head(2000), rating_scale=(1, 5))  # compiles the kernels: not part of the timed fit
started = time.perf_counter()
model.fit(frame, rating_scale=(1, 5))
print(time.perf_counter() - started)
"""

MYFM_FIT = """
import sys, time, numpy as np, pandas as pd, scipy.sparse as sps, myfm
frame = pd.read_csv(sys.argv[1], sep="\\t", names=["user", "item", "rating"])
sweeps, implicit = int(sys.argv[2]), sys.argv[3]
started = time.perf_counter()
u = pd.factorize(frame["user"])[0]; i = pd.factorize(frame["item"])[0]
n_u, n_i = u.max() + 1, i.max() + 1
rated = sps.csr_matrix((np.ones(len(u)), (u, i)), shape=(n_u, n_i))
def normalize(m):
    norms = np.sqrt(np.asarray(m.multiply(m).sum(1)).ravel())
    return sps.diags(1.0 / np.maximum(norms, 1e-12)) @ m
if implicit == "flipped":
    ub = sps.hstack([sps.identity(n_u), normalize(rated)], format="csr")
    ib = sps.hstack([sps.identity(n_i), normalize(rated.T.tocsr())], format="csr")
    shapes = [n_u, n_i, n_i, n_u]
else:
    ub, ib, shapes = sps.identity(n_u, format="csr"), sps.identity(n_i, format="csr"), [n_u, n_i]
blocks = [myfm.RelationBlock(u.tolist(), ub), myfm.RelationBlock(i.tolist(), ib)]
model = myfm.MyFMRegressor(rank=10, random_seed=0)
model.fit(sps.csr_matrix((len(u), 0)), frame["rating"].to_numpy(float), X_rel=blocks, n_iter=sweeps,
          n_kept_samples=max(1, min(150, sweeps - 1)), group_shapes=shapes)
print(time.perf_counter() - started)
"""


def timed(engine: str, path: Path, sweeps: int, implicit: str, threads: int, rank_by: str = "rating") -> float:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1")
    if engine == "mfrec":
        command = [sys.executable, "-c", MFREC_FIT, str(path), str(sweeps), implicit, rank_by]
    else:
        command = [str(peers_python), "-c", MYFM_FIT, str(path), str(sweeps), implicit]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def data_file(size: str, folder: Path) -> Path:
    path = folder / f"{size}.tsv"
    if size == "ml-100k":
        frame = __import__("pandas").read_csv(Path(ML100K) / "u1.base", sep="\t", names=["u", "i", "r", "t"])
        frame[["u", "i", "r"]].to_csv(path, sep="\t", header=False, index=False)
    else:  # the ML-1M shape: 6,040 users x 3,706 items, 1M ratings
        from mfrec.data import synthetic

        frame = synthetic(6_040, 3_706, 1_000_000, seed=0).to_frame()
        frame["rating"] = frame["rating"].round().clip(1, 5)
        frame[["user", "item", "rating"]].to_csv(path, sep="\t", header=False, index=False)
    return path


ENGINES = [("mfrec", 1), ("mfrec", 2), ("myfm", 1)]
results: dict[str, list[float]] = {}
with tempfile.TemporaryDirectory() as tmp:
    for size in args.sizes.split(","):
        path = data_file(size, Path(tmp))
        for round_ in range(args.rounds):
            for implicit in ("none", "flipped"):
                for engine, threads in ENGINES:
                    short = timed(engine, path, args.short, implicit, threads)
                    long = timed(engine, path, args.long, implicit, threads)
                    key = f"{size}|{implicit}|{engine}|{threads}|sweep"
                    results.setdefault(key, []).append((long - short) / (args.long - args.short))
                    if size == "ml-100k" and threads == (1 if engine == "myfm" else 2):
                        whole = timed(engine, path, 200, implicit, threads, rank_by="pick-like")
                        results.setdefault(f"{size}|{implicit}|{engine}|{threads}|fit", []).append(whole)
                    print(round_, key, results[key][-1], flush=True)

lines = [
    "## Bayesian samplers: mfrec `bayesian` and myFM, per sweep and per fit",
    "",
    f"`python benchmarks/bench_bayesian.py --rounds {args.rounds}` — {machine()}",
    "",
    f"Per sweep: (fit with {args.long} sweeps − fit with {args.short}) / {args.long - args.short}, each fit in its own "
    "process, mfrec without its held-out chains; whole fit: 200 sweeps (mfrec's default fit: with its held-out "
    "chains, which choose the start and the blend, and its pick model for top-N, none of which myFM has). Median of "
    f"{args.rounds} interleaved rounds [min–max]. k = 10, same terms on both sides.",
    "",
    "| data | terms | engine | threads | s / sweep | s / whole fit | myFM ÷ mfrec per sweep |",
    "|---|---|---|---|---|---|---|",
]
for size in args.sizes.split(","):
    for implicit in ("none", "flipped"):
        base = np.median(results[f"{size}|{implicit}|myfm|1|sweep"])
        for engine, threads in ENGINES:
            sweep = results[f"{size}|{implicit}|{engine}|{threads}|sweep"]
            fit = results.get(f"{size}|{implicit}|{engine}|{threads}|fit")
            fit_cell = f"{np.median(fit):.2f} [{min(fit):.2f}–{max(fit):.2f}]" if fit else ""
            ratio = f"{base / np.median(sweep):.2f}×" if engine == "mfrec" else ""
            lines.append(
                f"| {size} | {'SVD++ flipped' if implicit == 'flipped' else 'MF'} | {engine} | {threads} | "
                f"{np.median(sweep) * 1000:.1f} ms [{min(sweep) * 1000:.1f}–{max(sweep) * 1000:.1f}] | {fit_cell} | {ratio} |"
            )
text = "\n".join(lines)
print(text)
write_section("bayesian", text)
print(json.dumps(results))
