"""BPR's epoch kernel against another version of it, interleaved in one process (issue 17).

usage: python benchmarks/bench_bpr_kernel.py [--ratings N] [--users N] [--items N] [--factors K]
       [--threads T] [--rounds R] [--baseline-kernel PATH/TO/kernels/bpr.py]

Builds the block layout ``BPR.fit`` builds on the synthetic set (default 20M interactions, k = 64; since
issue 30 the item groups are drawn again every epoch, timed here as "regroup"), then runs ``bpr_epoch`` of
this tree and, with ``--baseline-kernel``, of another version's ``kernels/bpr.py`` with the same signature
(the signature changed in issue 30: ``item_starts`` went) one epoch each in turn, each on its own copy of the
same starting factors. It prints per kernel the
median and best of the process's CPU seconds per epoch (all threads) and of the wall clock: on a
shared machine the CPU seconds are what the neighbours distort least. Round 0 compiles and is not
counted. Prints only; RESULTS.md figures from it are copied by hand.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import sys
import time

import numba
import numpy as np
from _common import synthetic_arguments, synthetic_file

from mfrec.data import load
from mfrec.kernels import bpr as this_kernel
from mfrec.kernels.rows import aligned_rows
from mfrec.kernels.sparse import csr_by_user
from mfrec.models import BPR
from mfrec.models.blocking import grid_size
from mfrec.models.bpr import _EpochCells

parser = synthetic_arguments(argparse.ArgumentParser())
parser.add_argument("--baseline-kernel", help="another version's kernels/bpr.py, timed alongside")
args = parser.parse_args()
numba.set_num_threads(args.threads)

train = load(synthetic_file(args.users, args.items, args.ratings))
model = BPR(n_factors=args.factors)
rng = np.random.default_rng(0)
users, items, weights = model._positives(train)
n_blocks = grid_size(train.n_items, args.factors)
layout = _EpochCells(csr_by_user(users, items, weights, train.n_users), train.n_items, n_blocks, rng, False)

kernels = {"this tree": this_kernel.bpr_epoch}
if args.baseline_kernel:
    spec = importlib.util.spec_from_file_location("bpr_baseline_kernel", args.baseline_kernel)
    baseline = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = baseline  # numba's cache finds the module again by name
    spec.loader.exec_module(baseline)
    kernels["baseline kernel"] = baseline.bpr_epoch

P0 = aligned_rows((rng.standard_normal((train.n_users, args.factors)) * 0.1).astype(np.float32))
Q0 = aligned_rows((rng.standard_normal((train.n_items, args.factors)) * 0.1).astype(np.float32))
state = {name: (P0.copy(), Q0.copy(), np.zeros(train.n_items, np.float32)) for name in kernels}
rates = (np.float32(model.learning_rate), np.float32(model.regularization), np.float32(model.regularization))
bias_reg = np.float32(model.bias_regularization)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


timings: dict[str, list[tuple[float, float]]] = {name: [] for name in ["regroup", *kernels]}
for round_ in range(args.rounds + 1):
    wall, cpu = time.perf_counter(), cpu_seconds()
    pool, pool_ptr = layout.regroup(np.random.default_rng(round_))
    if round_:
        timings["regroup"].append((cpu_seconds() - cpu, time.perf_counter() - wall))
    schedule = layout.schedule(np.random.default_rng(round_))
    for name, epoch in kernels.items():
        P, Q, item_bias = state[name]
        correct = np.zeros(n_blocks * n_blocks, np.int64)
        wall, cpu = time.perf_counter(), cpu_seconds()
        epoch(layout.users, layout.items, layout.block_ptr, schedule, pool, pool_ptr, P, Q,
              item_bias, *rates, bias_reg, True, 0, round_, correct)  # fmt: skip
        if round_:
            timings[name].append((cpu_seconds() - cpu, time.perf_counter() - wall))

print(
    f"BPR epochs, {layout.items.shape[0]:,} interactions, k = {args.factors}, {args.threads} threads, {args.rounds} rounds"
)
for name, rows in timings.items():
    cpus, walls = [r[0] for r in rows], [r[1] for r in rows]
    print(
        f"{name:16s} CPU s / epoch median {statistics.median(cpus):.3f} best {min(cpus):.3f}; "
        f"wall median {statistics.median(walls):.3f} best {min(walls):.3f}"
    )
