"""Where an ALS iteration's time goes as the data grow: each half-step against its gathers alone.

usage: PYTHONPATH=src python benchmarks/bench_als_memory.py [--sizes 20M,100M] [--rounds 5] [--factors 64]
       [--threads 2] [--data-dir /tmp/mfrec-scale] [--update-results]

Every size is read once and both rating matrices are built as ``ALS.fit`` builds them, all in one process.
Each round then times, per (size, side), in rotating order:

- ``half-step``: the shipped CG half-step (``kernels/als.py::als_cg_step``, 2 CG steps, the item side also
  measuring the training error, as ``fit`` calls it);
- ``gathers``: one pass that reads every neighbour's factor row once, with the half-step's prefetches and
  nothing else (``kernels/als.py::squared_error``): the random reads a half-step makes, which no blocking
  can share out (each row's CG passes then read its gathered copy from L1/L2);
- ``rest = half-step - gathers``: the CG arithmetic on the gathered rows.

Then it draws the machine's gather-cost curve: nanoseconds to read one random 64-float row, with the same
prefetches, from tables of 1 MB to 256 MB. The factor tables the half-steps read from (Q: 12.8 MB at 20M,
51 MB at 100M; P: 51 MB and 256 MB) sit on that curve.
"""

from __future__ import annotations

import functools
import statistics
import time
from pathlib import Path

import _common  # noqa: F401  (takes --update-results out of sys.argv)
import numpy as np
from bench_scale import in_process_arguments, in_process_conditions, rotating_rounds

SIDES = ("user", "item")  # the user half reads Q's rows, the item half P's
CURVE_MB = (1, 4, 8, 16, 32, 64, 128, 256)
_CURVE_GATHERS = 8_000_000


def prepare(path: Path, factors: int) -> dict:
    from mfrec.data.chunked import read_chunked
    from mfrec.kernels.als import balanced_chunks
    from mfrec.kernels.sparse import csr_by_user
    from mfrec.models.solvers import init_factors

    data = read_chunked(path, order="user", with_timestamps=False)
    rng = np.random.default_rng(0)
    P = init_factors(rng, 0.1, data.n_users, factors, aligned=True)
    Q = init_factors(rng, 0.1, data.n_items, factors, aligned=True)
    b_u, b_i = np.zeros(data.n_users, np.float32), np.zeros(data.n_items, np.float32)
    by_user = data.user_csr()
    by_item = csr_by_user(data.item_idx, data.user_idx, data.ratings, data.n_items)
    mu = np.float32(data.ratings.mean())
    n_chunks = 16 * 2  # as fit: 16 chunks a thread
    return {
        "ratings": len(data),
        "mu": mu,
        "user": (by_user, P, b_u, Q, b_i, balanced_chunks(by_user[0], n_chunks), np.empty(0, np.float64)),
        "item": (by_item, Q, b_i, P, b_u, balanced_chunks(by_item[0], n_chunks), np.zeros(data.n_items)),
    }


def half_step(setup: dict, side: str) -> float:
    import numba

    from mfrec.kernels.als import als_cg_step

    csr, X, x_bias, Y, y_bias, chunks, errors = setup[side]
    f = np.float32
    started = time.perf_counter()
    with numba.parallel_chunksize(1):
        als_cg_step(*csr, Y, y_bias, setup["mu"], X, x_bias, f(0.05), f(0.01), True, True, 2, chunks, errors)
    return time.perf_counter() - started


def gathers(setup: dict, side: str) -> float:
    from mfrec.kernels.als import squared_error

    csr, X, x_bias, Y, y_bias, _, _ = setup[side]
    started = time.perf_counter()
    squared_error(*csr, X, x_bias, Y, y_bias, setup["mu"], True)
    return time.perf_counter() - started


def gather_curve(factors: int, rounds: int) -> dict[int, float]:
    """Median ns per random row read, per table size in MB (rounds interleaved over the sizes)."""
    from numba import njit, prange

    from mfrec.kernels.prefetch import PREFETCH_AHEAD, prefetch_row

    @njit(parallel=True, fastmath=True)
    def read_rows(rows, Y, n_chunks):
        per = rows.shape[0] // n_chunks
        sums = np.zeros(n_chunks)
        for c in prange(n_chunks):
            s = np.float32(0.0)
            end = (c + 1) * per
            for j in range(c * per, end):
                if j + PREFETCH_AHEAD < end:
                    prefetch_row(Y, np.intp(rows[j + PREFETCH_AHEAD]))
                y = Y[rows[j]]
                for a in range(Y.shape[1]):
                    s += y[a]
            sums[c] = s
        return sums.sum()

    rng = np.random.default_rng(0)
    tables = {}
    for mb in CURVE_MB:
        n_rows = (mb << 20) // (4 * factors)
        tables[mb] = (rng.integers(0, n_rows, _CURVE_GATHERS).astype(np.int32), np.ones((n_rows, factors), np.float32))
        read_rows(*tables[mb], 64)  # compile, first touch
    times: dict[int, list[float]] = {mb: [] for mb in CURVE_MB}
    for _ in range(rounds):
        for mb in CURVE_MB:
            started = time.perf_counter()
            read_rows(*tables[mb], 64)
            times[mb].append((time.perf_counter() - started) / _CURVE_GATHERS * 1e9)
    return {mb: statistics.median(t) for mb, t in times.items()}


def table(setups: list[dict], times: dict, curve: dict[int, float], conditions: str, rounds: int, k: int) -> str:
    sizes = [f"{s['ratings'] / 1e6:g}M" for s in setups]
    pair = len(setups) == 2
    lines = [
        "## ALS iteration: where the time goes as the data grow",
        "",
        f"`python benchmarks/bench_als_memory.py --rounds {rounds} --update-results` — {conditions}. One process;"
        " each cell timed once a round, cells in rotating order; seconds are medians over rounds, ratios the"
        " median of the per-round ratios.",
        "",
        "| half-step (reads rows of) | part | "
        + " | ".join(f"{n} s" for n in sizes)
        + (" | ratio |" if pair else " |"),
        "|---|---|" + "---|" * len(setups) + ("---|" if pair else ""),
    ]
    for side in SIDES:
        table_of = "Q" if side == "user" else "P"
        for part in ("half-step", "gathers", "rest"):
            cells = [f"{statistics.median(times[n][side][part]):.3f}" for n in sizes]
            if pair:
                ratios = [b / a for a, b in zip(times[sizes[0]][side][part], times[sizes[1]][side][part], strict=True)]
                cells.append(f"{statistics.median(ratios):.2f}x")
            lines.append(f"| {side} ({table_of}) | {part} | " + " | ".join(cells) + " |")
    mb = {f"Q {n}": s["user"][3].nbytes / 2**20 for n, s in zip(sizes, setups, strict=True)}
    mb.update({f"P {n}": s["item"][3].nbytes / 2**20 for n, s in zip(sizes, setups, strict=True)})
    lines += [
        "",
        f"Gather cost on this machine: ns to read one random {k}-float row (with the kernels' prefetches, "
        f"{_CURVE_GATHERS / 1e6:g}M reads a table size, {rounds} rounds). The half-steps' tables: "
        + ", ".join(f"{name} {size:.0f} MB" for name, size in mb.items())
        + ".",
        "",
        "| table MB | " + " | ".join(str(m) for m in curve) + " |",
        "|---|" + "---|" * len(curve),
        "| ns / row | " + " | ".join(f"{ns:.1f}" for ns in curve.values()) + " |",
        "",
        "How to read it: `rest` is the arithmetic, and grows with the ratings; `gathers` grows with the ratings"
        " times the cost of one read, which rises with the table (the curve). CG prefetches the next rows'"
        " neighbours while it computes (kernels/cg.py::RUN_AHEAD), so part of the reads overlaps the arithmetic"
        " and `rest` understates it a little. The analysis is in the notes of the `Scale: als` section.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    args = in_process_arguments(__doc__, rounds=5)
    from mfrec._threads import num_threads

    setups = [prepare(path, args.factors) for path in args.files]
    names = [f"{s['ratings'] / 1e6:g}M" for s in setups]
    timer = {"half-step": half_step, "gathers": gathers}
    cells = {
        f"{name} {side} {kind}": functools.partial(timer[kind], setup, side)
        for name, setup in zip(names, setups, strict=True)
        for side in SIDES
        for kind in timer
    }
    with num_threads(args.threads):
        measured, loads = rotating_rounds(cells, args.rounds)
        curve = gather_curve(args.factors, args.rounds)
    raw = {tuple(label.split(" ", 2)): seconds for label, seconds in measured.items()}
    times = {
        n: {
            side: {
                "half-step": raw[n, side, "half-step"],
                "gathers": raw[n, side, "gathers"],
                "rest": [h - g for h, g in zip(raw[n, side, "half-step"], raw[n, side, "gathers"], strict=True)],
            }
            for side in SIDES
        }
        for n in names
    }
    from _common import UPDATE_RESULTS, write_section

    conditions = in_process_conditions(args, loads)
    text = table(setups, times, curve, conditions, args.rounds, args.factors)
    print(text)
    write_section("als-memory", text, update_results=UPDATE_RESULTS)


if __name__ == "__main__":
    main()
