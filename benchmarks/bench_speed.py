"""The one speed harness (issue 30 #2): every engine, mfrec's and the peers', timed the same way.

usage: python benchmarks/bench_speed.py [--ratings N] [--users N] [--items N] [--factors K] [--threads T]
       [--rounds R] [--epochs E | sgd=31,als=6,implicit-als=6,bpr=16] [--pairs sgd,als,implicit-als,bpr]

Same for every engine:
- process model: a fit of n epochs (iterations) is one process that loads the synthetic Parquet file (LibMF's
  ``mf-train``: the same ratings as its text file), fits and exits; the harness times the whole process from
  outside: wall clock, and CPU seconds of all its threads (GNU time);
- environment: ``_common.engine_environment`` (``OMP_WAIT_POLICY=PASSIVE``, OpenMP and numba threads = T,
  BLAS 1 thread) for every process;
- statistic: per-epoch time = (process with E epochs - process with 1 epoch) / (E - 1), so loading, set-up and
  exit cancel (E the same for both engines of a pair; more for the fast pairs, so the epochs outweigh the
  noise of starting a process); one such slope per engine per round; rounds interleave the engines (the order rotates every
  round, after one uncounted warm-up fit each), and the table gives the median and the range over rounds. Each ratio is the median of the per-round
  ratios (the two engines of a round ran back to back, under the same background load), with its range.
Rating models run with ``rank_by=rating``: their fit also trains the top-N ranker, a constant the slope
cancels but whose noise would swamp an epoch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    ENGINE_SETTINGS,
    HERE,
    MFREC,
    PEERS_PYTHON,
    engine_environment,
    machine,
    require_peers,
    run_process,
    synthetic_arguments,
    synthetic_file,
    write_section,
)

parser = synthetic_arguments(argparse.ArgumentParser())
parser.add_argument(
    "--epochs",
    default="sgd=31,als=6,implicit-als=6,bpr=16",
    help="the longer fit's epochs (the shorter has 1): one number, or per pair (both engines of a pair alike)",
)
parser.add_argument("--pairs", default="sgd,als,implicit-als,bpr")
args = parser.parse_args()
peers_python = require_peers()
data = synthetic_file(args.users, args.items, args.ratings)
K, T = args.factors, args.threads
EPOCHS = (
    {name: int(n) for name, n in (pair.split("=") for pair in args.epochs.split(","))}
    if "=" in args.epochs
    else dict.fromkeys(args.pairs.split(","), int(args.epochs))
)
ENV = engine_environment(T)
MF_TRAIN = PEERS_PYTHON.parents[1] / "mf-train"


@dataclass
class Engine:
    name: str
    build: str
    argv: object  # epochs -> command line
    epochs: int = 0  # the longer fit's (set per pair)
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    peak: float = 0.0

    def measure(self) -> None:
        E = self.epochs
        (_, _, cpu_1, wall_1), (_, peak, cpu_e, wall_e) = (run_process(self.argv(n), ENV) for n in (1, E))
        self.walls.append((wall_e - wall_1) / (E - 1))
        self.cpus.append((cpu_e - cpu_1) / (E - 1))
        self.peak = max(self.peak, peak)


def mfrec(model: str, *params: str) -> object:
    # The epoch is timed (slope of fit(E) - fit(1)): per-fit work of the rating models (the pick ranker, the bias
    # choice's 49 bias-only fits, about 2 s here) is off, since its noise, not its cost, would land in the slope.
    extra = (
        [] if model in ("implicit-als", "bpr") else ["-p", "rank_by=rating", "-p", "choose_bias_regularization=false"]
    )
    for param in params:
        extra += ["-p", param]
    out = tempfile.mkdtemp()
    return lambda n: [MFREC, "train", data, "-m", model, "-k", K, "--epochs", n, "--threads", T, *extra,
                      "--quiet", "-o", out]  # fmt: skip


def peer(engine: str, *extra: object) -> object:
    return lambda n: [peers_python, HERE / "peers/fit_once.py", engine, data, K, T, n, *extra]


def mf_train() -> object:
    text = data.with_suffix(".libmf.txt")
    if not text.exists():
        run_process([peers_python, HERE / "peers/fit_once.py", "text", data, text], ENV)
    model = Path(tempfile.mkdtemp()) / "model.txt"
    return lambda n: [MF_TRAIN, "-k", K, "-t", n, "-s", T, "-r", "0.05", "--quiet", text, model]


mfrec_build = "numba, this tree"
mf_train_build = (MF_TRAIN.parent / "mf-train.build").read_text().strip() if MF_TRAIN.exists() else ""
PAIRS = {
    "sgd": (
        Engine("mfrec sgd", mfrec_build, mfrec("sgd")),
        Engine("LibMF mf-train", f"{mf_train_build} (benchmarks/build_libmf_cli.sh)", mf_train()),
    ),
    "als": (
        Engine("mfrec als (defaults: CG, 2 steps)", mfrec_build, mfrec("als")),
        Engine("cmfrec ALS-CG, 2 steps", "PyPI wheel", peer("cmfrec-cg", 2)),
    ),
    "implicit-als": (
        Engine("mfrec implicit-als (CG, 3 steps)", mfrec_build, mfrec("implicit-als")),
        Engine("implicit ALS-CG (3 steps), binary", "PyPI wheel", peer("implicit-als")),
    ),
    "bpr": (
        Engine("mfrec bpr (whole-catalogue negatives)", mfrec_build, mfrec("bpr")),
        Engine("implicit BPR (its sampler, whole catalogue)", "PyPI wheel", peer("implicit-bpr")),
    ),
}
pairs = {name: PAIRS[name] for name in args.pairs.split(",")}
for name, pair in pairs.items():
    for engine in pair:
        engine.epochs = EPOCHS[name]
engines = [engine for pair in pairs.values() for engine in pair]
for engine in engines:  # warm-up, not counted: numba's cache, the page cache, mf-train's text file
    run_process(engine.argv(1), ENV)
loads = []
for round_ in range(args.rounds):
    shift = round_ % len(engines)
    for engine in engines[shift:] + engines[:shift]:
        engine.measure()
    loads.append(os.getloadavg()[0])
    print(f"round {round_ + 1}: " + ", ".join(f"{e.name} {e.walls[-1]:.3f} s" for e in engines), flush=True)


def spread(values: list[float], digits: int = 3) -> str:
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


n = args.ratings
ENVIRONMENT = f"one process per fit; OMP_WAIT_POLICY=PASSIVE, OMP/numba {T} threads, BLAS 1"
settings = ", ".join(f"{key}={value}" for key, value in ENGINE_SETTINGS.items())
lines = [
    f"## Speed, one harness: synthetic {n / 1e6:g}M ratings ({args.users:,} x {args.items:,}), k = {K}, {T} threads",
    "",
    (
        f"`python benchmarks/bench_speed.py --ratings {n} --users {args.users} --items {args.items} --rounds "
        f"{args.rounds} --epochs {args.epochs}` — {machine()}; {os.cpu_count()} cores shared with other work, "
        f"1-min load average {min(loads):.1f}-{max(loads):.1f} over the rounds. Every engine: one process per fit, "
        f"timed from outside; s / epoch = (process with E epochs - process with 1) / (E - 1), E the same for both "
        f"engines of a pair ({args.epochs}); median over {args.rounds} interleaved rounds (range in brackets). "
        f"Environment of every process: {settings}, OMP_NUM_THREADS=NUMBA_NUM_THREADS={T}."
    ),
    "",
    "| engine | build | threads | environment | E | rounds | s / epoch, median [range] | CPU s / epoch, median [range] "
    "| peak RSS MB |",
    "|---|---|---|---|---|---|---|---|---|",
]
for e in engines:
    lines.append(
        f"| {e.name} | {e.build} | {T} | {ENVIRONMENT} | {e.epochs} | {len(e.walls)} | {statistics.median(e.walls):.3f} [{spread(e.walls)}] "
        f"| {statistics.median(e.cpus):.3f} [{spread(e.cpus)}] | {e.peak:,.0f} |"
    )
lines += ["", "| pair | ratio, wall: median of per-round ratios [range] | ratio, CPU [range] |", "|---|---|---|"]
for ours, theirs in pairs.values():
    walls = [b / a for a, b in zip(ours.walls, theirs.walls)]
    cpus = [b / a for a, b in zip(ours.cpus, theirs.cpus)]
    lines.append(
        f"| {theirs.name} / {ours.name} | **{statistics.median(walls):.2f}x** [{spread(walls, 2)}] "
        f"| {statistics.median(cpus):.2f}x [{spread(cpus, 2)}] |"
    )
write_section(f"speed-{n / 1e6:g}m", "\n".join(lines))
print("\n".join(lines))
