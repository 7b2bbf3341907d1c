"""Cold start of a process: import, `mfrec --version`, and `mfrec train` with an empty vs a filled kernel cache.

usage: python benchmarks/bench_startup.py [--ml100k DIR] [--rounds 2] [--update-results]

A first run after an install compiles the numba kernels; later runs load them from the disk
cache. Each round runs every case once (interleaved), the first `train` of a round in a fresh,
empty NUMBA_CACHE_DIR, the second in the cache the first one filled. `fit s` is the fit time
`mfrec train --json` reports: it excludes the compile, which runs first on a tiny set (issue 12 #9).
Results go to benchmarks/runs/; RESULTS.md only with --update-results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ML100K, machine, write_section

parser = argparse.ArgumentParser()
parser.add_argument("--ml100k", default=str(ML100K))
parser.add_argument("--rounds", type=int, default=2)
args = parser.parse_args()
SRC = Path(__file__).resolve().parents[1] / "src"


def timed(command: list[str], cache: str) -> tuple[float, str, str]:
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": cache,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout, done.stderr


rows: dict[str, list[float]] = {}
fits: dict[str, list[float]] = {}
notices: dict[str, list[bool]] = {}
for _ in range(args.rounds):
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        cases = [
            ("import mfrec", [sys.executable, "-c", "import mfrec"]),
            ("mfrec --version", [sys.executable, "-m", "mfrec", "--version"]),
        ]
        train = [sys.executable, "-m", "mfrec", "train", args.ml100k, "-m", "sgd", "-o", out, "--json"]
        cases += [("mfrec train sgd, empty kernel cache", train), ("mfrec train sgd, filled kernel cache", train)]
        for name, command in cases:
            seconds, stdout, stderr = timed(command, cache)
            rows.setdefault(name, []).append(seconds)
            if "train" in name:
                fits.setdefault(name, []).append(json.loads(stdout[stdout.index("{") :])["fit_seconds"])
                notices.setdefault(name, []).append("compiling kernels (first run only)" in stderr)

lines = [
    "## Start-up: a process's first seconds",
    "",
    (
        f"`python benchmarks/bench_startup.py --rounds {args.rounds}` — {machine()}. Median wall seconds over "
        f"{args.rounds} interleaved rounds on a shared machine (compare the ratio, not the seconds). `mfrec train` "
        "is ml-100k, default SGD; `fit s` is the fit time it reports."
    ),
    "",
    '| process | wall s | fit s | said "compiling kernels" |',
    "|---|---|---|---|",
]
for name, values in rows.items():
    fit = f"{statistics.median(fits[name]):.2f}" if name in fits else ""
    said = ("yes" if all(notices[name]) else "no" if not any(notices[name]) else "sometimes") if name in notices else ""
    lines.append(f"| {name} | {statistics.median(values):.2f} | {fit} | {said} |")
empty, filled = (statistics.median(rows[f"mfrec train sgd, {c} kernel cache"]) for c in ("empty", "filled"))
fit_empty, fit_filled = (statistics.median(fits[f"mfrec train sgd, {c} kernel cache"]) for c in ("empty", "filled"))
lines += [
    "",
    (
        f"The first run after an install takes {empty / filled:.1f}x the wall time of a later one, and the "
        f"extra {empty - filled:.0f} s is compiling: the fit it reports takes {fit_empty:.2f} s vs "
        f"{fit_filled:.2f} s, because the kernels are compiled on a tiny set before the timed fit."
    ),
]
write_section("startup", "\n".join(lines))
print("\n".join(lines))
