"""Where an SGD epoch's time goes as the data grow: the same epoch with factor rows folded into cache-sized ranges.

usage: PYTHONPATH=src python benchmarks/bench_sgd_memory.py [--sizes 20M,100M] [--rounds 7] [--factors 64]
       [--threads 2] [--data-dir /tmp/mfrec-scale] [--update-results]

Every size is read and laid out once, as ``SGD.fit`` lays it out (``grid_size``, ``SGD_INTERLEAVE``), all in
one process; then one epoch of the shipped kernel (``kernels/sgd.py::sgd_epoch``) is timed per (size,
variant), the order rotating every round, so load from other machines hits every cell alike:

- ``as laid out``: the epoch ``fit`` runs;
- ``P folded``: every block's users mapped onto 256 rows of its own user group, so P's rows stay in L1/L2
  (same ratings, same number of updates and flops, same schedule; only which rows they touch differs);
- ``Q at 20M's slice``: every block's items mapped onto 2,048 rows of its own item group, the size an item
  group has in the 20M set (50k items / B = 24), so Q's slice fits L2 and all of Q fits L3;
- ``Q in L3, not L2``: item group g mapped onto the rows of group g mod 8, keeping each group's slice size but
  all of Q (8 slices) in L3: what is left is L2 misses, not DRAM;
- ``both folded``: P and Q both folded (256 rows a group each): the arithmetic and the stream of ratings alone.

Folding keeps a block inside its own group's rows, so threads never write the same row, except in ``Q in L3,
not L2``, where groups 8 apart share rows (blocks of one sub-epoch touch them, at different times): its factors
depend on thread timing; only its time is read. Factors and biases
are restored before each timed epoch, so every round runs the same arithmetic. The 100M/20M ratio of each
variant is the median of the per-round ratios (each round times both sizes back to back).
"""

from __future__ import annotations

import functools
import statistics
import time
from pathlib import Path

import _common  # noqa: F401  (takes --update-results out of sys.argv)
import numpy as np
from bench_scale import in_process_arguments, in_process_conditions, rotating_rounds

VARIANTS = ("as laid out", "P folded", "Q at 20M's slice", "Q in L3, not L2", "both folded")
_FOLDED_ROWS = 256
_SLICE_20M = 2_048
_L3_GROUPS = 8


def group_starts(block_ptr: np.ndarray, users: np.ndarray, n_blocks: int) -> np.ndarray:
    """First training row of each user group (the smallest user in its blocks)."""
    starts = np.zeros(n_blocks, np.int64)
    for b in range(n_blocks):
        lo, hi = block_ptr[b * n_blocks], block_ptr[(b + 1) * n_blocks]
        starts[b] = users[lo:hi].min() if hi > lo else 0
    return starts


def folded_rows(layout, n_blocks: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The (users, items) arrays of every variant."""
    cell = np.repeat(np.arange(n_blocks * n_blocks, dtype=np.int32), np.diff(layout.block_ptr))
    user_group, item_group = cell // n_blocks, cell % n_blocks
    del cell
    user_base = group_starts(layout.block_ptr, layout.users, n_blocks).astype(np.int32)[user_group]
    item_base = layout.item_starts[:-1].astype(np.int32)[item_group]
    users_folded = (user_base + (layout.users - user_base) % _FOLDED_ROWS).astype(np.int32)
    local_item = layout.items - item_base
    items_20m = (item_base + local_item % _SLICE_20M).astype(np.int32)
    widest = np.int32(np.diff(layout.item_starts).max())
    items_l3 = ((item_group % _L3_GROUPS) * widest + local_item).astype(np.int32)
    items_folded = (item_base + local_item % _FOLDED_ROWS).astype(np.int32)
    return {
        "as laid out": (layout.users, layout.items),
        "P folded": (users_folded, layout.items),
        "Q at 20M's slice": (layout.users, items_20m),
        "Q in L3, not L2": (layout.users, items_l3),
        "both folded": (users_folded, items_folded),
    }


def prepare(path: Path, factors: int) -> dict:
    from mfrec.data.chunked import read_chunked
    from mfrec.models.blocking import block_layout, grid_size
    from mfrec.models.mf import SGD_INTERLEAVE
    from mfrec.models.solvers import init_factors

    data = read_chunked(path, order="user", with_timestamps=False)
    n_users, n_items = data.n_users, data.n_items
    n_blocks = grid_size(n_items, factors, ratings_per_user=len(data) / n_users)
    rng = np.random.default_rng(0)
    layout = block_layout(data.user_csr(), n_items, n_blocks, rng, interleave=SGD_INTERLEAVE)
    mu = np.float32(data.ratings.mean())
    n_ratings = len(data)
    del data
    # Q in L3 needs rows for 8 groups of the widest item group; the other variants use Q's first n_items rows.
    q_rows = max(n_items, _L3_GROUPS * int(np.diff(layout.item_starts).max()))
    start = (
        init_factors(rng, 0.1, n_users, factors, aligned=True),
        init_factors(rng, 0.1, q_rows, factors, aligned=True),
        np.zeros(n_users, np.float32),
        np.zeros(q_rows, np.float32),
    )
    return {
        "name": path.name,
        "ratings": n_ratings,
        "blocks": n_blocks,
        "layout": layout,
        "rows": folded_rows(layout, n_blocks),
        "start": start,
        "state": tuple(a.copy() for a in start),
        "mu": mu,
        "rng": rng,
    }


def epoch(setup: dict, variant: str) -> float:
    from mfrec.kernels.sgd import sgd_epoch

    for live, initial in zip(setup["state"], setup["start"], strict=True):
        np.copyto(live, initial)
    P, Q, b_u, b_i = setup["state"]
    layout, (users, items) = setup["layout"], setup["rows"][variant]
    error = np.zeros(setup["blocks"] ** 2)
    f = np.float32
    started = time.perf_counter()
    sgd_epoch(users, items, layout.values, layout.block_ptr, layout.schedule(setup["rng"]),
              P, Q, b_u, b_i, setup["mu"], f(0.005), f(0.005), f(0.02), f(0.02), f(0.02), f(0.02), True, error)  # fmt: skip
    return time.perf_counter() - started


def table(setups: list[dict], times: dict, conditions: str, rounds: int) -> str:
    names = [s["name"] for s in setups]
    lines = [
        "## SGD epoch: where the time goes as the data grow",
        "",
        f"`python benchmarks/bench_sgd_memory.py --rounds {rounds} --update-results` — {conditions}. One process, "
        "one epoch of the shipped kernel per cell, cells in rotating order each round; seconds are medians over "
        "rounds. Folding maps a block's rows onto a few rows of its own group (same ratings, updates and flops).",
        "",
        "| variant | "
        + " | ".join(f"{s['ratings'] / 1e6:g}M s (B = {s['blocks']})" for s in setups)
        + (" | ratio (median of rounds) |" if len(setups) == 2 else " |"),
        "|---|" + "---|" * len(setups) + ("---|" if len(setups) == 2 else ""),
    ]
    for variant in VARIANTS:
        cells = [f"{statistics.median(times[n][variant]):.3f}" for n in names]
        if len(setups) == 2:
            ratios = [b / a for a, b in zip(times[names[0]][variant], times[names[1]][variant], strict=True)]
            cells.append(f"{statistics.median(ratios):.2f}x")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "How to read it: `both folded` is the arithmetic and the stream of ratings alone, so the gap to `as laid out`"
        " is what the epoch waits for factor rows, and each ratio compares the two sizes with that one thing"
        " changed. The analysis is in the notes of the `Scale: sgd` section.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    args = in_process_arguments(__doc__, rounds=7)
    from mfrec._threads import num_threads

    setups = [prepare(path, args.factors) for path in args.files]
    cells = {
        f"{setup['ratings'] / 1e6:g}M {variant}": functools.partial(epoch, setup, variant)
        for setup in setups
        for variant in VARIANTS
    }
    with num_threads(args.threads):
        measured, loads = rotating_rounds(cells, args.rounds)
    times = {s["name"]: {v: measured[f"{s['ratings'] / 1e6:g}M {v}"] for v in VARIANTS} for s in setups}
    from _common import UPDATE_RESULTS, write_section

    conditions = in_process_conditions(args, loads)
    text = table(setups, times, conditions, args.rounds)
    print(text)
    write_section("sgd-memory", text, update_results=UPDATE_RESULTS)


if __name__ == "__main__":
    main()
