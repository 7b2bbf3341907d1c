"""SGD and BPR epochs in CPU seconds, fitted in-process: the comparison a crowded machine distorts least.

usage: python benchmarks/bench_sgd_cpu.py [--ratings N] [--users N] [--items N] [--factors K] [--threads T]
       [--rounds R] [--baseline-src DIR]

Every engine gets the statistic of bench_throughput.py, per-epoch = (fit(4 epochs) - fit(1 epoch)) / 3, here
timed around the fit call inside one process that has already loaded the data (LibMF's script does the same),
both in wall seconds and in CPU seconds of the process (all threads, user + system). On a machine whose 2
cores are shared with other work the wall clock mostly measures the neighbours; CPU seconds measure the
engine's own work (cache pollution by the neighbours still shows). ``--baseline-src`` times another
checkout's ``src/`` (e.g. the code before a change) in the same interleaved rounds. Writes the ``sgd-cpu``
section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from _common import HERE, SLOPE_EPOCHS, last_json, machine, require_peers, synthetic_arguments, synthetic_file


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(src: str, model: str, path: str, factors: int, threads: int) -> None:
    """Fit ``model`` for 1 and SLOPE_EPOCHS epochs on the Parquet file; print the two slopes as JSON."""
    sys.path.insert(0, src)
    import pyarrow.parquet as pq

    from mfrec.data.interactions import from_arrays
    from mfrec.models import make_model

    table = pq.read_table(path, columns=["user", "item", "rating"])
    columns = [table.column(c).to_numpy() for c in ("user", "item", "rating")]
    data = from_arrays(*columns)
    # Load the compiled kernels before timing: the first fit of a process would pay for it alone.
    make_model(model, n_factors=factors, n_epochs=1, n_threads=threads).fit(from_arrays(*(c[:20_000] for c in columns)))
    walls, cpus = [], []
    for epochs in (1, SLOPE_EPOCHS):
        estimator = make_model(model, n_factors=factors, n_epochs=epochs, n_threads=threads)
        wall, cpu = time.perf_counter(), cpu_seconds()
        estimator.fit(data)
        walls.append(time.perf_counter() - wall)
        cpus.append(cpu_seconds() - cpu)
    span = SLOPE_EPOCHS - 1
    print(json.dumps({"epoch_seconds": (walls[1] - walls[0]) / span, "epoch_cpu_seconds": (cpus[1] - cpus[0]) / span}))


def main() -> None:
    parser = synthetic_arguments(argparse.ArgumentParser())
    parser.add_argument("--baseline-src", help="another checkout's src/ directory, timed alongside")
    parser.set_defaults(rounds=3)
    args = parser.parse_args()
    peers_python = require_peers()
    data = synthetic_file(args.users, args.items, args.ratings)
    here_src = str(HERE.parent / "src")

    def mfrec(src: str, model: str) -> tuple[float, float]:
        command = [sys.executable, __file__, "--child", src, model, data, str(args.factors), str(args.threads)]
        result = last_json(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        return result["epoch_seconds"], result["epoch_cpu_seconds"]

    def libmf() -> tuple[float, float]:
        command = [peers_python, HERE / "peers/sgd_epoch.py", "libmf", data, args.factors, args.threads, SLOPE_EPOCHS]
        result = last_json(subprocess.run(list(map(str, command)), check=True, capture_output=True, text=True).stdout)
        return result["epoch_seconds"], result["epoch_cpu_seconds"]

    engines = {"mfrec sgd": lambda: mfrec(here_src, "sgd"), "LibMF library, AVX + OpenMP build": libmf}
    if args.baseline_src:
        engines["baseline src: mfrec sgd"] = lambda: mfrec(args.baseline_src, "sgd")
    engines["mfrec bpr"] = lambda: mfrec(here_src, "bpr")
    if args.baseline_src:
        engines["baseline src: mfrec bpr"] = lambda: mfrec(args.baseline_src, "bpr")
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in engines}
    for round_ in range(args.rounds):
        for name, measure in engines.items():
            runs[name].append(measure())
        print(
            f"round {round_ + 1}: " + ", ".join(f"{n} {r[-1][0]:.3f} s {r[-1][1]:.3f} CPU s" for n, r in runs.items()),
            flush=True,
        )
    median = {name: tuple(statistics.median(r[j] for r in rs) for j in (0, 1)) for name, rs in runs.items()}
    n, T = args.ratings, args.threads
    lines = [
        f"## SGD and BPR epochs in CPU seconds: synthetic {n / 1e6:.0f}M ratings, k = {args.factors}, {T} threads",
        "",
        (
            f"`python benchmarks/bench_sgd_cpu.py --rounds {args.rounds}` — {machine()}; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end. Per-epoch = (fit({SLOPE_EPOCHS}) − "
            f"fit(1)) / {SLOPE_EPOCHS - 1}, each fit timed in-process after loading; medians of interleaved rounds."
        ),
        "",
        "| engine | s / epoch (median) | CPU s / epoch (median) | M ratings / CPU s | per round s | per round CPU s |",
        "|---|---|---|---|---|---|",
    ]
    for name, (wall, cpu) in median.items():
        lines.append(
            f"| {name} | {wall:.3f} | {cpu:.3f} | {n / cpu / 1e6:.1f} "
            f"| {', '.join(f'{r[0]:.3f}' for r in runs[name])} | {', '.join(f'{r[1]:.3f}' for r in runs[name])} |"
        )

    def ratio(other: str, ours: str) -> str:
        return f"{median[other][0] / median[ours][0]:.2f}x wall, {median[other][1] / median[ours][1]:.2f}x CPU"

    ratios = [f"LibMF over mfrec sgd: {ratio('LibMF library, AVX + OpenMP build', 'mfrec sgd')}"]
    if args.baseline_src:
        ratios.append(f"baseline over this build, sgd: {ratio('baseline src: mfrec sgd', 'mfrec sgd')}")
        ratios.append(f"bpr: {ratio('baseline src: mfrec bpr', 'mfrec bpr')}")
    lines += ["", "Ratios (medians of the same run): " + "; ".join(ratios) + "."]
    from _common import write_section

    write_section("sgd-cpu", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
