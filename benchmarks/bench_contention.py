"""Training with 1 and 2 threads next to a CPU hog (issue 11 #18): 2 threads must not be much slower than 1.

usage: python benchmarks/bench_contention.py [--ratings N] [--rounds R] [--models sgd,bpr] [--hog-seconds S]

A busy-loop process (one core, bounded to --hog-seconds and killed at the end in any case) runs
while each model is fitted with 1 thread and with 2 threads, alternately, on the same synthetic
log (seed 0). Statistic, the same for both thread counts: the median over rounds of the wall time
of ``fit`` (compiled kernels warmed first), and the median of the per-round ratio 2-thread / 1-thread.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _common import machine, write_section

from mfrec.data.synthetic import synthetic
from mfrec.models import make_model

parser = argparse.ArgumentParser()
parser.add_argument("--ratings", type=int, default=100_000)
parser.add_argument("--rounds", type=int, default=5)
parser.add_argument("--models", default="sgd,bpr")
parser.add_argument("--hog-seconds", type=float, default=300.0)
args = parser.parse_args()
data = synthetic(n_users=args.ratings // 100, n_items=args.ratings // 200, n_ratings=args.ratings, seed=0)


def fit_seconds(model: str, threads: int) -> float:
    estimator = make_model(model, n_threads=threads, random_state=0)
    started = time.perf_counter()
    estimator.fit(data)
    return time.perf_counter() - started


models = args.models.split(",")
for model in models:  # compile and warm both thread counts before the hog starts
    fit_seconds(model, 1), fit_seconds(model, 2)
hog_code = f"import time\nend = time.monotonic() + {args.hog_seconds}\nwhile time.monotonic() < end: pass"
hog = subprocess.Popen([sys.executable, "-c", hog_code])
times: dict[tuple[str, int], list[float]] = {(m, t): [] for m in models for t in (1, 2)}
try:
    for round_ in range(args.rounds):
        for model in models:
            for threads in (1, 2) if round_ % 2 == 0 else (2, 1):  # alternate which goes first
                times[model, threads].append(fit_seconds(model, threads))
            print(
                f"round {round_ + 1} {model}: 1 thread {times[model, 1][-1]:.3f} s, "
                f"2 threads {times[model, 2][-1]:.3f} s",
                flush=True,
            )
finally:
    hog.kill()
    hog.wait()

lines = [
    f"## Contention: 1 vs 2 threads next to a busy-loop process, synthetic {args.ratings:,} ratings",
    "",
    (
        f"`python benchmarks/bench_contention.py` — {machine()}; {args.rounds} interleaved rounds. Statistic: median "
        "over rounds of the wall time of `fit` (warm kernels), and median of the per-round ratio 2-thread / 1-thread. "
        "Bar (issue 11 #18): ratio <= 1.5."
    ),
    "",
    "| model | 1 thread s (median) | 2 threads s (median) | ratio 2 / 1 (median of rounds) | ratios per round |",
    "|---|---|---|---|---|",
]
for model in models:
    ratios = [two / one for one, two in zip(times[model, 1], times[model, 2])]
    lines.append(
        f"| mfrec {model} | {statistics.median(times[model, 1]):.3f} | {statistics.median(times[model, 2]):.3f} "
        f"| **{statistics.median(ratios):.2f}** | {', '.join(f'{r:.2f}' for r in ratios)} |"
    )
write_section("contention", "\n".join(lines))
print("\n".join(lines))
