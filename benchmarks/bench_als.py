"""Explicit ALS: seconds per full iteration (users + items) and peak memory, mfrec next to cmfrec.

usage: python benchmarks/bench_als.py [--ratings N] [--users N] [--items N] [--factors K] [--threads T]
Needs the synthetic file bench_throughput.py makes (generated here if missing).
"""

from __future__ import annotations

import argparse
import tempfile

from _common import (
    HERE,
    MFREC,
    last_json,
    machine,
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


def mfrec_iteration(solver: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as out:
        stdout, peak = run_measured([MFREC, "train", data, "-m", "als", "-k", args.factors, "--epochs", 4,
                                     "--threads", args.threads, "-p", f"solver={solver}", "--json", "--quiet",
                                     "-o", out])  # fmt: skip
    return min(last_json(stdout)["epoch_seconds"][1:]), peak


def cmfrec_iteration(solver: str) -> tuple[float, float]:
    stdout, peak = run_measured([peers_python, HERE / "peers/als_iteration.py", data, args.factors, args.threads, solver])
    return last_json(stdout)["iteration_seconds"], peak


runs: dict[str, list[tuple[float, float]]] = {"mfrec cg": [], "cmfrec cg": []}
for round_ in range(args.rounds):
    runs["mfrec cg"].append(mfrec_iteration("cg"))
    runs["cmfrec cg"].append(cmfrec_iteration("cg"))
    print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1][0]:.3f} s" for k, v in runs.items()), flush=True)
runs["mfrec cholesky"] = [mfrec_iteration("cholesky")]

n = args.ratings
lines = [
    f"## Explicit ALS: synthetic {n / 1e6:.0f}M ratings ({args.users:,} x {args.items:,}), k = {args.factors}, "
    f"{args.threads} threads",
    "",
    f"`python benchmarks/bench_als.py` — {machine()}; best of {args.rounds} interleaved rounds, one full iteration "
    "(users + items), set-up excluded. CG: 3 steps per row, warm-started.",
    "",
    "| engine | s / iteration | M ratings / s | peak RSS MB |",
    "|---|---|---|---|",
]
best = {name: (min(r[0] for r in rows), max(r[1] for r in rows)) for name, rows in runs.items()}
for name, (seconds, peak) in best.items():
    lines.append(f"| {name} | {seconds:.3f} | {n / seconds / 1e6:.1f} | {peak:,.0f} |")
ratio = best["cmfrec cg"][0] / best["mfrec cg"][0]
lines += ["", f"Ratio (same run): mfrec ALS-CG is **{ratio:.2f}x** cmfrec's ALS-CG speed."]
write_section("als", "\n".join(lines))
print("\n".join(lines))
