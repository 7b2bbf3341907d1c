"""SGD training throughput and peak memory on synthetic data, mfrec next to LibMF and Surprise.

usage: python benchmarks/bench_throughput.py [--ratings N] [--users N] [--items N] [--factors K]
       [--threads T] [--rounds R] [--surprise-ratings N]

Engines run one after the other in rounds (mfrec, LibMF, mfrec, LibMF, ...) and the
best epoch of each is kept, so background noise hits both alike. Surprise is
single-threaded and needs ~350 bytes a rating, so it runs on the first
--surprise-ratings ratings and is compared per rating.
"""

from __future__ import annotations

import argparse
import statistics
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
parser.add_argument("--surprise-ratings", type=int, default=2_000_000)
args = parser.parse_args()
peers_python = require_peers()
data = synthetic_file(args.users, args.items, args.ratings)


def mfrec_epoch(threads: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as out:
        stdout, peak = run_measured([MFREC, "train", data, "-k", args.factors, "--epochs", 6, "--threads", threads,
                                     "--json", "--quiet", "-o", out])  # fmt: skip
    epochs = last_json(stdout)["epoch_seconds"][1:]  # the first epoch also pays for page faults
    return min(epochs), peak


def peer_epoch(engine: str, threads: int, limit: int | None = None) -> tuple[float, float, int]:
    command = [peers_python, HERE / "peers/sgd_epoch.py", engine, data, args.factors, threads]
    stdout, peak = run_measured(command + ([limit] if limit else []))
    result = last_json(stdout)
    return result["epoch_seconds"], peak, result["ratings"]


mfrec_runs, libmf_runs = [], []
for round_ in range(args.rounds):
    mfrec_runs.append(mfrec_epoch(args.threads))
    libmf_runs.append(peer_epoch("libmf", args.threads))
    print(f"round {round_ + 1}: mfrec {mfrec_runs[-1][0]:.3f} s/epoch, LibMF {libmf_runs[-1][0]:.3f} s/epoch", flush=True)
single = mfrec_epoch(1)
surprise_seconds, _, surprise_n = peer_epoch("surprise", 1, args.surprise_ratings)

n = args.ratings
mfrec_s, mfrec_peak = min(r[0] for r in mfrec_runs), max(r[1] for r in mfrec_runs)
libmf_s, libmf_peak = min(r[0] for r in libmf_runs), max(r[1] for r in libmf_runs)
surprise_rate = surprise_n / surprise_seconds
rows = [
    ("mfrec sgd", args.threads, mfrec_s, n / mfrec_s, mfrec_peak),
    ("mfrec sgd", 1, single[0], n / single[0], single[1]),
    ("LibMF", args.threads, libmf_s, n / libmf_s, libmf_peak),
    (f"Surprise SVD (on {surprise_n / 1e6:.0f}M, scaled)", 1, n / surprise_rate, surprise_rate, None),
]
lines = [
    f"## SGD throughput: synthetic {n / 1e6:.0f}M ratings ({args.users:,} users x {args.items:,} items), k = {args.factors}",
    "",
    f"`python benchmarks/bench_throughput.py` — {machine()}; best epoch of {args.rounds} interleaved rounds.",
    "Peak RSS is the whole process (`mfrec train` from Parquet to saved model; LibMF's script loads with pyarrow).",
    "",
    "| engine | threads | s / epoch | M ratings / s | M ratings / s / thread | peak RSS MB |",
    "|---|---|---|---|---|---|",
]
for name, threads, seconds, rate, peak in rows:
    peak_text = f"{peak:,.0f}" if peak else "—"
    lines.append(f"| {name} | {threads} | {seconds:.3f} | {rate / 1e6:.1f} | {rate / threads / 1e6:.1f} | {peak_text} |")
lines += [
    "",
    f"Ratios (same run): mfrec is **{libmf_s / mfrec_s:.2f}x** LibMF's speed and **{(n / mfrec_s) / surprise_rate:.0f}x** "
    f"Surprise's; two threads give {single[0] / mfrec_s:.2f}x one thread; peak memory {mfrec_peak / libmf_peak:.2f}x LibMF's.",
    f"mfrec epochs across rounds: {', '.join(f'{r[0]:.3f}' for r in mfrec_runs)} s (median {statistics.median(r[0] for r in mfrec_runs):.3f}).",
]
write_section("throughput", "\n".join(lines))
print("\n".join(lines))
