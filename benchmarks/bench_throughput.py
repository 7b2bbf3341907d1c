"""SGD training throughput and peak memory on synthetic data, mfrec next to LibMF and Surprise.

usage: python benchmarks/bench_throughput.py [--ratings N] [--users N] [--items N] [--factors K]
       [--threads T] [--rounds R] [--surprise-ratings N] [--bpr] [--bpr-only] [--baseline MFREC] [--no-single-thread]

Every engine gets the same statistic (_common.STATISTIC): per-epoch time is the slope
(fit(4 epochs) - fit(1 epoch)) / 3, and the table shows its median over rounds. Engines run
interleaved in each round (mfrec, LibMF, ...) so background load hits all alike. LibMF is
measured in its fastest build, AVX + OpenMP (setup_peers.sh): its own CLI ``mf-train`` when
built, and the library through its Python binding. Surprise is single-threaded and needs
~350 bytes a rating, so it runs on the first --surprise-ratings ratings; its 20M row is
extrapolated from that rate and labelled so (``--surprise-ratings 0`` skips it).

``--bpr`` also times ``mfrec train -m bpr`` by the same statistic; ``--bpr-only`` times only BPR (and the
baseline's BPR), a few minutes, into its own RESULTS section ("bpr-throughput"). ``--baseline MFREC`` runs another
build's ``mfrec`` executable (e.g. the code before a change) as extra engines in the same rounds, so a
before/after ratio comes from the same background load (issue 17). Next to the wall-clock slope every
engine also gets the slope of its CPU seconds (all threads, user + system): on a machine shared with
other work the wall clock measures the neighbours as much as the engine, CPU seconds much less.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable

from _common import (
    HERE,
    PEERS_PYTHON,
    SLOPE_EPOCHS,
    STATISTIC,
    engine_environment,
    last_json,
    machine,
    mfrec_slopes,
    require_peers,
    run_timed,
    synthetic_arguments,
    synthetic_file,
    write_section,
)

parser = synthetic_arguments(argparse.ArgumentParser())
parser.add_argument("--surprise-ratings", type=int, default=2_000_000, help="0 skips Surprise")
parser.add_argument("--bpr", action="store_true", help="also time BPR epochs")
parser.add_argument("--bpr-only", action="store_true", help="time BPR epochs only (and the baseline's)")
parser.add_argument("--baseline", help="another build's mfrec executable, timed alongside")
parser.add_argument("--no-single-thread", action="store_true", help="skip the 1-thread mfrec run")
args = parser.parse_args()
peers_python = require_peers()
data = synthetic_file(args.users, args.items, args.ratings)
has_cli = (PEERS_PYTHON.parents[1] / "mf-train").exists()
Timing = tuple[float, float, float]  # wall s / epoch, CPU s / epoch, peak RSS MB


def peer_epoch(engine: str, threads: int, limit: int | None = None) -> tuple[Timing, int]:
    command = [peers_python, HERE / "peers/sgd_epoch.py", engine, data, args.factors, threads, SLOPE_EPOCHS]
    stdout, peak, _ = run_timed(command + ([limit] if limit else []), engine_environment(threads))
    result = last_json(stdout)
    return (result["epoch_seconds"], result["epoch_cpu_seconds"], peak), result["ratings"]


def mfrec(model: str, threads: int, executable: str | None = None) -> Timing:
    return mfrec_slopes(data, model, args.factors, threads, executable=executable)


T = args.threads
engines: dict[tuple[str, int], Callable[[], Timing]] = {}
if not args.bpr_only:
    engines["mfrec sgd", T] = lambda: mfrec("sgd", T)
    if not args.no_single_thread:
        engines["mfrec sgd", 1] = lambda: mfrec("sgd", 1)
    engines["LibMF library, AVX + OpenMP build", T] = lambda: peer_epoch("libmf", T)[0]
    if has_cli:
        engines["LibMF CLI mf-train, AVX + OpenMP build", T] = lambda: peer_epoch("libmf-cli", T)[0]
    if args.baseline:
        engines["baseline build: mfrec sgd", T] = lambda: mfrec("sgd", T, args.baseline)
if args.bpr or args.bpr_only:
    engines["mfrec bpr", T] = lambda: mfrec("bpr", T)
    if args.baseline:
        engines["baseline build: mfrec bpr", T] = lambda: mfrec("bpr", T, args.baseline)
runs: dict[tuple[str, int], list[Timing]] = {key: [] for key in engines}
for round_ in range(args.rounds):
    for key, measure in engines.items():
        runs[key].append(measure())
    print(
        f"round {round_ + 1}: "
        + ", ".join(f"{name} ({t}) {r[-1][0]:.3f} s, {r[-1][1]:.3f} CPU s" for (name, t), r in runs.items()),
        flush=True,
    )
surprise = peer_epoch("surprise", 1, args.surprise_ratings) if args.surprise_ratings and not args.bpr_only else None

n = args.ratings
median = {
    key: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs), max(r[2] for r in rs))
    for key, rs in runs.items()
}
load = os.getloadavg()[0]
flags = " --bpr-only" if args.bpr_only else " --bpr" if args.bpr else ""
flags += " --baseline <build before the change>" if args.baseline else ""
lines = [
    f"## {'BPR' if args.bpr_only else 'SGD'} throughput: synthetic {n / 1e6:.0f}M ratings "
    f"({args.users:,} users x {args.items:,} items), k = {args.factors}",
    "",
    (
        f"`python benchmarks/bench_throughput.py --rounds {args.rounds}{flags}` — {machine()}; "
        f"load average at the end {load:.1f} on {os.cpu_count()} cores."
    ),
    (
        f"{STATISTIC} ({args.rounds} rounds); CPU s / epoch is the same slope of the process's CPU seconds (all "
        f"threads). Peak RSS is the whole process of the {SLOPE_EPOCHS}-epoch fit "
        "(`mfrec train` from Parquet to saved model; LibMF's script loads with pyarrow)."
    ),
    "",
    "| engine | threads | s / epoch (median) | M ratings / s | CPU s / epoch (median) | peak RSS MB | per round s | per round CPU s |",
    "|---|---|---|---|---|---|---|---|",
]
for (name, threads), (seconds, cpu, peak) in median.items():
    walls = ", ".join(f"{r[0]:.3f}" for r in runs[name, threads])
    cpus = ", ".join(f"{r[1]:.3f}" for r in runs[name, threads])
    lines.append(
        f"| {name} | {threads} | {seconds:.3f} | {n / seconds / 1e6:.1f} | {cpu:.3f} | {peak:,.0f} | {walls} | {cpus} |"
    )
if surprise:
    (surprise_s, _, _), surprise_n = surprise
    surprise_rate = surprise_n / surprise_s
    lines.append(
        f"| Surprise SVD, measured on {surprise_n / 1e6:.0f}M ratings, extrapolated to {n / 1e6:.0f}M | 1 "
        f"| {n / surprise_rate:.3f} | {surprise_rate / 1e6:.1f} | — | — | one run | — |"
    )


def ratio(other: tuple[str, int], ours: tuple[str, int]) -> str:
    return f"{median[other][0] / median[ours][0]:.2f}x wall, {median[other][1] / median[ours][1]:.2f}x CPU"


sgd = ("mfrec sgd", T)
ratios = [f"{name} {ratio((name, t), sgd)}" for name, t in median if not name.startswith("mfrec") and "bpr" not in name]
if (args.bpr or args.bpr_only) and args.baseline:
    ratios.append(f"BPR, baseline build over this one: {ratio(('baseline build: mfrec bpr', T), ('mfrec bpr', T))}")
if surprise:
    ratios.append(f"Surprise (per rating) {(n / median[sgd][0]) / surprise_rate:.0f}x")
if ("mfrec sgd", 1) in median:
    ratios.append(f"mfrec {T} threads vs 1: {median['mfrec sgd', 1][0] / median[sgd][0]:.2f}x")
if ratios:
    lines += [
        "",
        f"Speed ratios, other engine's s / epoch over mfrec's ({T} threads, medians of the same run): "
        + "; ".join(ratios)
        + ".",
    ]
write_section("bpr-throughput" if args.bpr_only else "throughput", "\n".join(lines))
print("\n".join(lines))
