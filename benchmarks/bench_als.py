"""Explicit ALS: seconds per full iteration (users + items) and peak memory, mfrec next to cmfrec.

usage: python benchmarks/bench_als.py [--ratings N] [--users N] [--items N] [--factors K] [--threads T] [--rounds R]
Needs the synthetic file bench_throughput.py makes (generated here if missing). Every engine gets the same
statistic (_common.STATISTIC): per-iteration time is the slope (fit(4) - fit(1)) / 3, median over interleaved rounds.
"""

from __future__ import annotations

import argparse
import statistics

from _common import (
    HERE,
    SLOPE_EPOCHS,
    STATISTIC,
    engine_environment,
    last_json,
    machine,
    mfrec_slope,
    require_peers,
    run_measured,
    synthetic_arguments,
    synthetic_file,
    write_section,
)

parser = synthetic_arguments(argparse.ArgumentParser())
args = parser.parse_args()
peers_python = require_peers()
data = synthetic_file(args.users, args.items, args.ratings)


def cmfrec_iteration(solver: str, cg_steps: int = 3) -> tuple[float, float]:
    command = [
        peers_python,
        HERE / "peers/als_iteration.py",
        data,
        args.factors,
        args.threads,
        solver,
        SLOPE_EPOCHS,
        cg_steps,
    ]
    stdout, peak = run_measured(command, engine_environment(args.threads))
    return last_json(stdout)["iteration_seconds"], peak


engines = {
    # `mfrec train --model als` as a user runs it: solver="auto" resolves to CG (2 steps a row) at k >= 32.
    "mfrec defaults (auto = cg, 2 steps)": lambda: mfrec_slope(data, "als", args.factors, args.threads),
    "cmfrec cg, 2 steps": lambda: cmfrec_iteration("cg", 2),
    "mfrec cg, 3 steps": lambda: mfrec_slope(data, "als", args.factors, args.threads, "-p", "cg_steps=3"),
    "cmfrec cg, 3 steps (its default)": lambda: cmfrec_iteration("cg", 3),
    "mfrec cholesky": lambda: mfrec_slope(data, "als", args.factors, args.threads, "-p", "solver=cholesky"),
}
runs: dict[str, list[tuple[float, float]]] = {name: [] for name in engines}
for round_ in range(args.rounds):
    for name, measure in engines.items():
        runs[name].append(measure())
    print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1][0]:.3f} s" for k, v in runs.items()), flush=True)

n = args.ratings
median = {name: (statistics.median(r[0] for r in rows), max(r[1] for r in rows)) for name, rows in runs.items()}
lines = [
    (
        f"## Explicit ALS: synthetic {n / 1e6:.0f}M ratings ({args.users:,} x {args.items:,}), k = {args.factors}, "
        f"{args.threads} threads"
    ),
    "",
    (
        f"`python benchmarks/bench_als.py --rounds {args.rounds}` — {machine()}. One iteration = users + items. "
        f"CG warm-started, steps per row as named. {STATISTIC} ({args.rounds} rounds)."
    ),
    "",
    "| engine | s / iteration (median) | M ratings / s | peak RSS MB | per round s |",
    "|---|---|---|---|---|",
]
for name, (seconds, peak) in median.items():
    rounds_text = ", ".join(f"{r[0]:.3f}" for r in runs[name])
    lines.append(f"| {name} | {seconds:.3f} | {n / seconds / 1e6:.1f} | {peak:,.0f} | {rounds_text} |")
ratio2 = median["cmfrec cg, 2 steps"][0] / median["mfrec defaults (auto = cg, 2 steps)"][0]
ratio3 = median["cmfrec cg, 3 steps (its default)"][0] / median["mfrec cg, 3 steps"][0]
lines += [
    "",
    f"Ratio of medians (same run, same steps): mfrec ALS-CG is **{ratio2:.2f}x** cmfrec's ALS-CG speed at 2 steps "
    f"and **{ratio3:.2f}x** at 3.",
]
write_section("als", "\n".join(lines))
print("\n".join(lines))
