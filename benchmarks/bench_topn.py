"""Top-N for many users (``mfrec recommend --all``): the tiled path against the full-matrix path it replaced.

usage: PYTHONPATH=src python benchmarks/bench_topn.py [--users 20000] [--wide-users 2000] [--rounds 2]
       [--threads 2] [--epochs 2] [--no-ml100k] [--update-results]

Fits ``sgd`` (k = 64, ``--epochs`` epochs: the scores' cost does not depend on how well they fit) on the
20M synthetic set, on a 200k-item synthetic set (the 100M set's items; "every user" there means its
1M users) and on ML-100k, then times, in one process and in interleaved rounds (old, new, old,
new ...), the top-10 of a seeded sample of ``--users`` users through :func:`mfrec.ranking.top_n_rows`:

* old: the full-matrix path (``rank_scores`` of SCORE_BLOCK_CELLS / n_items users x all items, the
  finite check, ``top_k``), which every model took before and models with their own scorer still take;
* new: the tiled path (one BLAS GEMM per tile, one numba pass, pick x like pruning).

Both for the default ranking (pick x like) and ``rank_by="rating"``, and end to end through
:func:`mfrec.ranking.batch.recommend_all` (what ``mfrec recommend --all -o recs.parquet`` runs) for the default.
Every round checks that both paths return the same items and reports the largest score difference.
Wall and CPU seconds (user + system of the process, all threads) are medians over rounds; the full
``--all`` time at 20M is the 200k users at the measured rate.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from _common import ML100K, machine, synthetic_file, write_section

from mfrec import ranking
from mfrec.data import synthetic
from mfrec.models import Recommender, make_model
from mfrec.ranking import recommend_all, topn

K = 10


@contextmanager
def full_matrix_path():
    """``top_n_rows`` as it was before tiling: every model through the full-matrix path."""
    saved = topn.factor_scorer
    topn.factor_scorer = lambda model: False
    try:
        yield
    finally:
        topn.factor_scorer = saved


def timed(run: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def compare(model: Recommender, rows: np.ndarray, rounds: int, threads: int) -> dict[str, Any]:
    """Interleaved rounds of old and new ``top_n_rows`` on ``rows``: median wall / CPU s and agreement."""
    ranking.top_n_rows(model, rows[:200], K, n_threads=threads)  # compile both paths outside the timing
    with full_matrix_path():
        ranking.top_n_rows(model, rows[:200], K, n_threads=threads)
    times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    same, diff = True, 0.0
    for _ in range(rounds):
        with full_matrix_path():
            wall, cpu, old = timed(lambda: ranking.top_n_rows(model, rows, K, n_threads=threads))
        times["old"].append((wall, cpu))
        wall, cpu, new = timed(lambda: ranking.top_n_rows(model, rows, K, n_threads=threads))
        times["new"].append((wall, cpu))
        same &= bool((old[0] == new[0]).all() and (old[2] == new[2]).all())
        valid = np.arange(K)[None, :] < old[2][:, None]
        scale = np.maximum(np.abs(old[1][valid]), 1e-30)
        diff = max(diff, float((np.abs(old[1][valid] - new[1][valid]) / scale).max(initial=0.0)))
    return summary(times, len(rows), same, diff)


def compare_recommend_all(model: Recommender, rows: np.ndarray, rounds: int) -> dict[str, Any]:
    """Interleaved rounds of ``recommend_all`` to Parquet for the users ``rows``, old and new top-N inside."""
    ids = model.user_map_.to_ids(rows)
    times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    same = True
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):
            outputs = {}
            for path in ("old", "new"):
                output = Path(folder) / f"{path}.parquet"
                write = partial(recommend_all, model, output, n=K, users=ids)
                if path == "old":
                    with full_matrix_path():
                        wall, cpu, _ = timed(write)
                else:
                    wall, cpu, _ = timed(write)
                times[path].append((wall, cpu))
                outputs[path] = output.read_bytes()
            same &= outputs["old"] == outputs["new"]
    return summary(times, len(rows), same, 0.0)


def summary(times: dict[str, list[tuple[float, float]]], n: int, same: bool, diff: float) -> dict[str, Any]:
    out: dict[str, Any] = {"users": n, "same": same, "diff": diff}
    for path, values in times.items():
        out[f"{path}_wall"] = statistics.median(w for w, _ in values)
        out[f"{path}_cpu"] = statistics.median(c for _, c in values)
    out["ratio"] = out["old_wall"] / out["new_wall"]
    out["cpu_ratio"] = out["old_cpu"] / out["new_cpu"]
    return out


def sample(model: Recommender, n: int) -> np.ndarray:
    n_users = len(model.user_map_)
    rng = np.random.default_rng(0)
    return np.sort(rng.choice(n_users, min(n, n_users), replace=False)).astype(np.int32)


def row(data: str, what: str, result: dict[str, Any], all_users: int) -> str:
    rate_old = result["users"] / result["old_wall"]
    rate_new = result["users"] / result["new_wall"]
    agree = "identical" if result["same"] else "DIFFERENT"
    if what != "recommend_all → Parquet":
        agree += f", max rel. score diff {result['diff']:.1e}"
    return (
        f"| {data} | {what} | {result['users']:,} | {result['old_wall']:.2f} / {result['old_cpu']:.2f} | "
        f"{result['new_wall']:.2f} / {result['new_cpu']:.2f} | {rate_old:,.0f} → {rate_new:,.0f} | "
        f"**{result['ratio']:.2f}x** ({result['cpu_ratio']:.2f}x CPU) | "
        f"{all_users / rate_old:,.0f} s → {all_users / rate_new:,.0f} s | {agree} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000, help="sampled users timed on the 20M set")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--wide-users", type=int, default=2_000, help="sampled users timed at 200k items")
    parser.add_argument("--no-ml100k", action="store_true")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    lines = [
        "## Top-N for every user: tiled path vs full-matrix path (`benchmarks/bench_topn.py`)",
        "",
        f"{machine()}; {args.threads} threads (numba and BLAS); top-{K}; sgd k = 64 fitted {args.epochs} epochs; "
        f"median of {args.rounds} interleaved rounds in one process. Seconds are wall / CPU (user + system, "
        "all threads) for the sampled users; the last columns extrapolate to every user of the set "
        "(1M users for the 200k-item row: the 100M set).",
        "",
        "| data | path | users | old s (wall / CPU) | new s (wall / CPU) | users/s | speed-up | every user | lists |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    # (name, data, sampled users, users "every user" means): the 100M set's 200k items, without its 1M users,
    # as a small in-memory set (the per-user cost depends on the items and k, not on how many users there are).
    sets: list[tuple[str, Any, int, int | None]] = [
        ("20M synthetic", str(synthetic_file(200_000, 50_000, 20_000_000)), args.users, None),
        ("200k items (50k x 200k, 5M)", synthetic(50_000, 200_000, 5_000_000, seed=0), args.wide_users, 1_000_000),
    ]
    if not args.no_ml100k:
        sets.append(("ML-100k", str(ML100K), 10**9, None))
    with threadpool_limits(args.threads, user_api="blas"):
        for name, data, n_users, every in sets:
            started = time.perf_counter()
            model = make_model("sgd", n_factors=64, n_epochs=args.epochs, n_threads=args.threads).fit(data)
            print(f"{name}: fitted in {time.perf_counter() - started:.0f} s", flush=True)
            rows = sample(model, n_users)
            all_users = every or len(model.user_map_)
            for rank_by in ("pick-like", "rating"):
                model.rank_by = rank_by
                result = compare(model, rows, args.rounds, args.threads)
                lines.append(row(name, f"top_n_rows, rank_by={rank_by}", result, all_users))
                print(lines[-1], flush=True)
            model.rank_by = "pick-like"
            result = compare_recommend_all(model, rows, args.rounds)
            lines.append(row(name, "recommend_all → Parquet", result, all_users))
            print(lines[-1], flush=True)
            del model
    lines += [
        "",
        "old: `rank_scores` of a block of users x all items (64 MB), the finite check, then `top_k`; new: "
        "`mfrec.ranking.tiles.top_n_tiled` (tiles of TILE_USERS x TILE_ITEMS, one GEMM + one numba pass per tile; with pick "
        "x like the 64-factor rating only for items whose pick part can still enter the list). "
        "`recommend_all → Parquet`: the same users written by `mfrec.ranking.batch.recommend_all`, files compared byte "
        "for byte.",
    ]
    write_section("bench-topn", "\n".join(lines))


if __name__ == "__main__":
    main()
