"""Helpers shared by the benchmark scripts: peers' Python, peak memory, and RESULTS.md sections."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
#: Each benchmark run writes its results under here (git-ignored); RESULTS.md changes only on request.
RUNS = HERE / "runs"
#: ``--update-results`` on any benchmark's command line: also rewrite its RESULTS.md section. Taken out of
#: sys.argv here, before the scripts parse their own options, so every benchmark accepts it.
UPDATE_RESULTS = "--update-results" in sys.argv
while "--update-results" in sys.argv:
    sys.argv.remove("--update-results")
PEERS_PYTHON = HERE / ".peers" / "bin" / "python"
MFREC = Path(sys.executable).with_name("mfrec")
#: This tree's sources: every mfrec process a benchmark starts imports mfrec from here, not from wherever the
#: ``mfrec`` executable was installed from.
SRC = HERE.parent / "src"
#: The MovieLens 100k folder beside the repository (never committed: its licence forbids it).
ML100K = HERE.parent.parent / "shared" / "data" / "ml-100k"


def synthetic_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every speed benchmark on the synthetic set shares: its shape, k, threads, rounds."""
    parser.add_argument("--ratings", type=int, default=20_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    return parser


#: Every engine's per-epoch (per-iteration) time is the slope of its fit time over this many epochs (issue 11 #1).
SLOPE_EPOCHS = 4
#: The one timing statistic, printed by every speed benchmark.
STATISTIC = (
    f"Statistic, the same for every engine: per-epoch time = (fit with {SLOPE_EPOCHS} epochs − fit with 1 epoch) "
    f"/ {SLOPE_EPOCHS - 1}, each fit timed inside its own process so loading and set-up cancel; "
    "median over interleaved rounds"
)


def mfrec_slope(
    data: Path, model: str, factors: int, threads: int, *extra: str, executable: str | Path | None = None
) -> tuple[float, float]:
    """mfrec's per-epoch time by the shared statistic (``mfrec train``'s fit_seconds at 1 and at
    ``SLOPE_EPOCHS`` epochs), and the peak RSS MB of the longer run. ``executable``: another build's mfrec."""
    wall, _, peak = mfrec_slopes(data, model, factors, threads, *extra, executable=executable)
    return wall, peak


def mfrec_slopes(
    data: Path, model: str, factors: int, threads: int, *extra: str, executable: str | Path | None = None
) -> tuple[float, float, float]:
    """Like :func:`mfrec_slope`, plus the slope of the process's CPU seconds (user + system, all threads):
    (wall s / epoch, CPU s / epoch, peak RSS MB). CPU time is what a crowded machine distorts least."""
    fits, cpus = [], []
    # A rating model's fit also trains its top-N ranker (a fixed-size implicit model): a constant that the
    # slope would cancel in expectation but whose noise swamps an epoch, so speed runs time the epochs alone.
    if model not in ("implicit-als", "bpr"):
        extra = (*extra, "-p", "rank_by=rating")
    for epochs in (1, SLOPE_EPOCHS):
        with tempfile.TemporaryDirectory() as out:
            stdout, peak, cpu = run_timed(
                [
                    executable or MFREC,
                    "train",
                    data,
                    "-m",
                    model,
                    "-k",
                    factors,
                    "--epochs",
                    epochs,
                    "--threads",
                    threads,
                    *extra,
                    "--json",
                    "--quiet",
                    "-o",
                    out,
                ],
                engine_environment(threads),
            )
        fits.append(last_json(stdout)["fit_seconds"])
        cpus.append(cpu)
    return (fits[1] - fits[0]) / (SLOPE_EPOCHS - 1), (cpus[1] - cpus[0]) / (SLOPE_EPOCHS - 1), peak


def grid(**values: list) -> list[dict]:
    """Every combination of the given parameter values, in a fixed order: ``grid(a=[1, 2], b=[3])``."""
    return [dict(zip(values, combo)) for combo in itertools.product(*values.values())]


def ranked_scores(
    tests: list, lists: list[dict[str, list]], k: int = 10, threshold: float = 4.0
) -> tuple[float, float]:
    """Mean NDCG@k and P@k of top-k lists, one function for every engine's lists (issue 11 #3).

    ``tests[s]`` is split s's test Interactions, ``lists[s]`` maps a user id (as str) to that user's ranked item
    ids. Scored: every test user with a relevant test item (rating >= threshold) who has a list, i.e. who was
    known in train. Mean over users within a split, then the mean of the split means.
    """
    from mfrec.evaluation.metrics import ndcg_at_k, precision_at_k

    ndcg, precision = [], []
    for test, recs in zip(tests, lists):
        relevant: dict[str, set[int]] = {}
        users, items = test.user_ids.to_ids(test.user_idx), test.item_ids.to_ids(test.item_idx)
        for user, item, rating in zip(users, items, test.ratings):
            if rating >= threshold:
                relevant.setdefault(str(user), set()).add(int(item))
        scored = [user for user in relevant if user in recs]
        ndcg.append(sum(ndcg_at_k(recs[u], relevant[u], k) for u in scored) / max(1, len(scored)))
        precision.append(sum(precision_at_k(recs[u], relevant[u], k) for u in scored) / max(1, len(scored)))
    return sum(ndcg) / len(ndcg), sum(precision) / len(precision)


def require_peers() -> Path:
    if not PEERS_PYTHON.exists():
        sys.exit(f"peers not installed: run {HERE / 'setup_peers.sh'} first")
    return PEERS_PYTHON


def synthetic_file(users: int, items: int, ratings: int) -> Path:
    """The benchmark's synthetic Parquet file (seed 0), generated with ``mfrec datasets synth`` if missing."""
    path = HERE / ".data" / f"synth-{users}x{items}-{ratings}.parquet"
    if not path.exists():
        subprocess.run(
            [
                str(MFREC),
                "datasets",
                "synth",
                "--users",
                str(users),
                "--items",
                str(items),
                "--ratings",
                str(ratings),
                "--seed",
                "0",
                "-o",
                str(path),
                "--quiet",
            ],
            check=True,
        )
    return path


def run_measured(command: list[str], env: dict[str, str] | None = None) -> tuple[str, float]:
    """Run ``command``; return its stdout and its peak RSS in MB (GNU time's %M)."""
    stdout, peak, _ = run_timed(command, env)
    return stdout, peak


def run_timed(command: list[str], env: dict[str, str] | None = None) -> tuple[str, float, float]:
    """Run ``command``; return its stdout, peak RSS in MB and CPU seconds, user + system (GNU time)."""
    stdout, peak, cpu, _ = run_process(command, env)
    return stdout, peak, cpu


def run_process(command: list, env: dict[str, str] | None = None) -> tuple[str, float, float, float]:
    """Run ``command``; return its stdout, peak RSS in MB, CPU seconds (user + system, all threads, GNU time)
    and wall seconds of the whole process."""
    time_binary = shutil.which("time") or "/usr/bin/time"
    started = time.perf_counter()
    completed = subprocess.run(
        [time_binary, "-f", "%M %U %S", *map(str, command)], capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed:\n{completed.stderr[-2000:]}")
    peak_kb, user, system = completed.stderr.strip().splitlines()[-1].split()
    return completed.stdout, int(peak_kb) / 1024, float(user) + float(system), wall


def engine_environment(threads: int) -> dict[str, str]:
    """The environment every engine's process runs in, mfrec's and the peers' alike (issue 30 #2).

    OpenMP threads wait passively (mfrec set ``OMP_WAIT_POLICY=PASSIVE`` for itself on import; LibMF, cmfrec
    and implicit spun), OpenMP and numba get ``threads`` threads, BLAS one thread (the engines parallelise
    over rows themselves; implicit warns otherwise), and ``mfrec`` imports this tree's sources.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OMP_", "NUMBA_", "MKL_"))}
    env.update(ENGINE_SETTINGS)
    env.update(OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads), PYTHONPATH=str(SRC))
    return env


#: The settings ``engine_environment`` gives every engine, as the speed tables print them.
ENGINE_SETTINGS = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def last_json(text: str) -> dict:
    return json.loads(text[text.index("{") :])


def machine() -> str:
    cpu = "unknown cpu"
    try:
        match = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = match.group(1) if match else cpu
    except OSError:
        pass
    return f"{cpu}, Python {platform.python_version()}, {date.today().isoformat()}"


def write_section(name: str, body: str, *, update_results: bool | None = None) -> Path:
    """Write the ``name`` section to a run folder; with ``--update-results``, also into RESULTS.md.

    Every run leaves ``benchmarks/runs/<UTC time>-<name>/section.md`` (untracked), so reproducing a
    figure never dirties the tree; RESULTS.md's section (between marker comments) is replaced, or
    appended, only when asked (issue 12 #13). Returns the run folder.
    """
    update = UPDATE_RESULTS if update_results is None else update_results
    run = RUNS / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{name}"
    run.mkdir(parents=True, exist_ok=True)
    (run / "section.md").write_text(body.strip() + "\n")
    where = f"{RESULTS} updated" if update else "RESULTS.md untouched (pass --update-results to update it)"
    print(f"results written to {run / 'section.md'}; {where}", file=sys.stderr)
    if update:
        _replace_section(name, body)
    return run


def _replace_section(name: str, body: str) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if start in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
