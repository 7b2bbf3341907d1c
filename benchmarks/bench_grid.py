"""SGD epoch time against the FPSG grid size B, at one data size, in interleaved rounds inside one process.

usage: PYTHONPATH=src python benchmarks/bench_grid.py PARQUET [--blocks 16,24,32,48,64] [--rounds 3]
       [--factors 64] [--threads 2]

Reads the file once, builds one block layout (and one P, Q) per B, then times one SGD
epoch per B in turn, rotating the order every round so background load hits every B
alike. Prints wall and process-CPU seconds per epoch (median over rounds) and each round.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--blocks", default="16,24,32,48,64")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from mfrec._threads import num_threads
    from mfrec.data.chunked import read_chunked
    from mfrec.kernels.rows import aligned_rows
    from mfrec.kernels.sgd import sgd_epoch
    from mfrec.models.blocking import block_layout, grid_size
    from mfrec.models.mf import SGD_INTERLEAVE
    from mfrec.models.solvers import init_factors

    data = read_chunked(args.path, order="user", with_timestamps=False)
    csr = data.user_csr()
    mu = np.float32(data.ratings.mean())
    n_users, n_items, k = data.n_users, data.n_items, args.factors
    blocks = [int(b) for b in args.blocks.split(",")]
    print(f"{len(data):,} ratings, {n_users:,} x {n_items:,}; default B = {grid_size(n_items, k)}", file=sys.stderr)
    setups = {}
    for b in blocks:
        started = time.perf_counter()
        rng = np.random.default_rng(0)
        layout = block_layout(csr, n_items, b, rng, interleave=SGD_INTERLEAVE)
        P = aligned_rows(init_factors(rng, 0.1, n_users, k))
        Q = aligned_rows(init_factors(rng, 0.1, n_items, k))
        state = (P, Q, np.zeros(n_users, np.float32), np.zeros(n_items, np.float32), np.zeros(b * b, np.float64))
        setups[b] = (layout, state, rng)
        print(f"B = {b}: layout {time.perf_counter() - started:.1f} s", file=sys.stderr)
    del csr

    def epoch(b: int) -> tuple[float, float]:
        layout, (P, Q, bu, bi, err), rng = setups[b]
        wall, cpu = time.perf_counter(), time.process_time()
        f = np.float32
        sgd_epoch(layout.users, layout.items, layout.values, layout.block_ptr, layout.schedule(rng),
                  P, Q, bu, bi, mu, f(0.005), f(0.005), f(0.02), f(0.02), f(0.02), f(0.02), True, err)  # fmt: skip
        return time.perf_counter() - wall, time.process_time() - cpu

    times: dict[int, list[tuple[float, float]]] = {b: [] for b in blocks}
    with num_threads(args.threads):
        for b in blocks:
            epoch(b)  # warm-up: compile, first touch of the layout
        for round_ in range(args.rounds):
            order = blocks[round_ % len(blocks) :] + blocks[: round_ % len(blocks)]
            for b in order:
                times[b].append(epoch(b))
            print(
                f"round {round_ + 1} (load {os.getloadavg()[0]:.1f}): "
                + ", ".join(f"B={b} {times[b][-1][0]:.2f} ({times[b][-1][1]:.2f})" for b in blocks),
                file=sys.stderr,
            )
    rows = {
        b: {
            "wall": statistics.median(t[0] for t in times[b]),
            "cpu": statistics.median(t[1] for t in times[b]),
            "rounds": times[b],
        }
        for b in blocks
    }
    for b, r in rows.items():
        print(f"B = {b:3d}: {r['wall']:.3f} s / epoch (CPU {r['cpu']:.3f})")
    print(json.dumps({"ratings": len(data), "users": n_users, "items": n_items, "blocks": rows}))


if __name__ == "__main__":
    main()
