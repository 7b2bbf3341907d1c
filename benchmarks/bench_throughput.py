"""SGD training throughput and peak memory on synthetic data, mfrec next to LibMF and Surprise.

usage: python benchmarks/bench_throughput.py [--ratings N] [--users N] [--items N] [--factors K]
       [--threads T] [--rounds R] [--surprise-ratings N]

Every engine gets the same statistic (_common.STATISTIC): per-epoch time is the slope
(fit(4 epochs) - fit(1 epoch)) / 3, and the table shows its median over rounds. Engines run
interleaved in each round (mfrec, LibMF, ...) so background load hits all alike. LibMF is
measured in its fastest build, AVX + OpenMP (setup_peers.sh): its own CLI ``mf-train`` when
built, and the library through its Python binding. Surprise is single-threaded and needs
~350 bytes a rating, so it runs on the first --surprise-ratings ratings; its 20M row is
extrapolated from that rate and labelled so.
"""

from __future__ import annotations

import argparse
import statistics

from _common import (
    HERE,
    PEERS_PYTHON,
    SLOPE_EPOCHS,
    STATISTIC,
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
parser.add_argument("--surprise-ratings", type=int, default=2_000_000)
args = parser.parse_args()
peers_python = require_peers()
data = synthetic_file(args.users, args.items, args.ratings)
has_cli = (PEERS_PYTHON.parents[1] / "mf-train").exists()


def peer_epoch(engine: str, threads: int, limit: int | None = None) -> tuple[float, float, int]:
    command = [peers_python, HERE / "peers/sgd_epoch.py", engine, data, args.factors, threads, SLOPE_EPOCHS]
    stdout, peak = run_measured(command + ([limit] if limit else []))
    result = last_json(stdout)
    return result["epoch_seconds"], peak, result["ratings"]


engines = {
    ("mfrec sgd", args.threads): lambda: mfrec_slope(data, "sgd", args.factors, args.threads),
    ("mfrec sgd", 1): lambda: mfrec_slope(data, "sgd", args.factors, 1),
    ("LibMF library, AVX + OpenMP build", args.threads): lambda: peer_epoch("libmf", args.threads)[:2],
}
if has_cli:
    engines["LibMF CLI mf-train, AVX + OpenMP build", args.threads] = lambda: peer_epoch("libmf-cli", args.threads)[:2]
runs: dict[tuple[str, int], list[tuple[float, float]]] = {key: [] for key in engines}
for round_ in range(args.rounds):
    for key, measure in engines.items():
        runs[key].append(measure())
    print(f"round {round_ + 1}: " + ", ".join(f"{name} ({t}) {r[-1][0]:.3f} s" for (name, t), r in runs.items()),
          flush=True)  # fmt: skip
surprise_seconds, _, surprise_n = peer_epoch("surprise", 1, args.surprise_ratings)

n = args.ratings
median = {key: (statistics.median(r[0] for r in rs), max(r[1] for r in rs)) for key, rs in runs.items()}
surprise_rate = surprise_n / surprise_seconds
lines = [
    f"## SGD throughput: synthetic {n / 1e6:.0f}M ratings ({args.users:,} users x {args.items:,} items), k = {args.factors}",
    "",
    f"`python benchmarks/bench_throughput.py --rounds {args.rounds}` — {machine()}.",
    (f"{STATISTIC} ({args.rounds} rounds). Peak RSS is the whole process of the {SLOPE_EPOCHS}-epoch fit "
     "(`mfrec train` from Parquet to saved model; LibMF's script loads with pyarrow)."),
    "",
    "| engine | threads | s / epoch (median) | M ratings / s | M ratings / s / thread | peak RSS MB | per round s |",
    "|---|---|---|---|---|---|---|",
]
for (name, threads), (seconds, peak) in median.items():
    rounds_text = ", ".join(f"{r[0]:.3f}" for r in runs[name, threads])
    lines.append(f"| {name} | {threads} | {seconds:.3f} | {n / seconds / 1e6:.1f} | {n / seconds / threads / 1e6:.1f} "
                 f"| {peak:,.0f} | {rounds_text} |")  # fmt: skip
lines.append(f"| Surprise SVD, measured on {surprise_n / 1e6:.0f}M ratings, extrapolated to {n / 1e6:.0f}M | 1 "
             f"| {n / surprise_rate:.3f} | {surprise_rate / 1e6:.1f} | {surprise_rate / 1e6:.1f} | — | one run |")  # fmt: skip
mfrec_s = median["mfrec sgd", args.threads][0]
ratios = [f"{name} {median[name, t][0] / mfrec_s:.2f}x" for name, t in median if not name.startswith("mfrec")]
lines += [
    "",
    f"Speed ratios, other engine's s / epoch over mfrec's ({args.threads} threads, medians of the same run): "
    + "; ".join(ratios)
    + f"; Surprise (per rating) {(n / mfrec_s) / surprise_rate:.0f}x. "
    f"mfrec {args.threads} threads vs 1: {median['mfrec sgd', 1][0] / mfrec_s:.2f}x.",
]
write_section("throughput", "\n".join(lines))
print("\n".join(lines))
