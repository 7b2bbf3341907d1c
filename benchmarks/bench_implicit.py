"""Implicit feedback, side by side with the `implicit` library: ranking accuracy on ml-100k, speed at 20M.

usage: python benchmarks/bench_implicit.py [--ml100k DIR] [--rounds N] [--skip-speed] [--skip-search]

Accuracy: ml-100k read as implicit feedback (every training rating is an interaction; candidates are the
items not in the user's training set; relevant = test rating >= 4). Every top-10 list, mfrec's and the peer's,
is scored by the same function (``ranked_scores``: mfrec.evaluation.metrics' ndcg_at_k / precision_at_k per
user); the mean is over users within a split, then over splits (the mean of fold means, as
``mfrec evaluate`` reports). Tuning: each library gets a grid of the same size on each model (ALS: factors x
regularization x alpha x iterations, 16 candidates; BPR: learning rate x regularization x factors, 8), selected
on the mean NDCG@10 over u1..u5 (a selection score) and reported on ua and ub, which no choice was made on.
Speed: the synthetic 20M file (200k x 50k), k = 64, 2 threads, every row an interaction; the shared statistic
(_common.STATISTIC).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess

import numpy as np
from _common import (
    HERE,
    ML100K,
    SLOPE_EPOCHS,
    STATISTIC,
    engine_environment,
    grid,
    last_json,
    machine,
    mfrec_slope,
    ranked_scores,
    require_peers,
    run_measured,
    synthetic_file,
    write_section,
)

from mfrec.data.movielens import predefined_folds
from mfrec.models import make_model

parser = argparse.ArgumentParser()
parser.add_argument("--ml100k", default=str(ML100K))
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--skip-speed", action="store_true")
parser.add_argument("--skip-accuracy", action="store_true", help="speed only, written to its own RESULTS section")
parser.add_argument("--skip-search", action="store_true", help="defaults only, no equal-budget search")
args = parser.parse_args()
peers_python = require_peers()
SELECT, REPORT = ["u1", "u2", "u3", "u4", "u5"], ["ua", "ub"]
splits = {name: predefined_folds(args.ml100k, name[:2] if name in ("ua", "ub") else "u") for name in ("u", "ua", "ub")}
split_data = {**{f"u{i + 1}": fold for i, fold in enumerate(splits["u"])}, "ua": splits["ua"][0], "ub": splits["ub"][0]}

# Same size per model for both libraries; each grid spans the library's own default region.
GRIDS = {
    ("mfrec", "als"): grid(n_factors=[32, 64], regularization=[10.0, 30.0], alpha=[2.0, 8.0], n_epochs=[15, 30]),
    ("implicit", "als"): grid(factors=[32, 64], regularization=[1.0, 10.0], alpha=[1.0, 5.0], iterations=[15, 30]),
    ("mfrec", "bpr"): grid(learning_rate=[0.03, 0.1], regularization=[0.005, 0.015], n_factors=[64, 128]),
    ("implicit", "bpr"): grid(learning_rate=[0.01, 0.05], regularization=[0.001, 0.01], factors=[64, 128]),
}
MFREC_NAME = {"als": "implicit-als", "bpr": "bpr"}


def mfrec_lists(name: str, params: dict, split_names: list[str]) -> list[dict[str, list[int]]]:
    """mfrec's top-10 per test user known in train, one dict per split."""
    lists = []
    for split in split_names:
        train, test = split_data[split]
        threads = {} if name == "popularity" else {"n_threads": 2}  # popularity has nothing to parallelise
        model = make_model(name, **threads, **params).fit(train)
        users = [u for u in np.unique(test.user_ids.to_ids(test.user_idx)).tolist() if u in set(train.user_ids.ids)]
        recs = model.recommend(users, n=10)
        lists.append({str(u): group["item"].astype(int).tolist() for u, group in recs.groupby("user", sort=False)})
    return lists


def peer_lists(configs: dict[str, dict], split_names: list[str]) -> dict[str, list[dict[str, list[int]]]]:
    command = [
        str(peers_python),
        str(HERE / "peers/implicit_folds.py"),
        args.ml100k,
        ",".join(split_names),
        json.dumps(configs),
    ]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def scored(lists: list[dict[str, list[int]]], split_names: list[str]) -> tuple[float, float]:
    return ranked_scores([split_data[s][1] for s in split_names], lists)


def describe(params: dict) -> str:
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in params.items()) or "defaults"


rows: list[tuple[str, str, float, float, float, float]] = []  # label, chosen how, u-sel ndcg, p, ua/ub ndcg, p


def add_row(label: str, how: str, select: list[dict], report: list[dict]) -> None:
    rows.append((label, how, *scored(select, SELECT), *scored(report, REPORT)))
    print(f"{label} [{how}]: u1..u5 NDCG@10 {rows[-1][2]:.4f}, ua/ub {rows[-1][4]:.4f}", flush=True)


if not args.skip_accuracy:
    for model in ("als", "bpr"):
        name = MFREC_NAME[model]
        add_row(f"mfrec {name}", "defaults", mfrec_lists(name, {}, SELECT), mfrec_lists(name, {}, REPORT))
        implicit_defaults = {"default": {"model": model}}
        peer = peer_lists(implicit_defaults, SELECT + REPORT)["default"]
        add_row(f"implicit {model.upper()}", "defaults", peer[:5], peer[5:])
        if args.skip_search:
            continue
        candidates = GRIDS["mfrec", model]
        selection = [scored(mfrec_lists(name, params, SELECT), SELECT)[0] for params in candidates]
        best = candidates[int(np.argmax(selection))]
        add_row(
            f"mfrec {name} ({describe(best)})",
            f"tuned: best of {len(candidates)} on u1..u5",
            mfrec_lists(name, best, SELECT),
            mfrec_lists(name, best, REPORT),
        )
        configs = {str(i): {"model": model, **params} for i, params in enumerate(GRIDS["implicit", model])}
        peer = peer_lists(configs, SELECT)
        selection = [scored(peer[str(i)], SELECT)[0] for i in range(len(configs))]
        best = GRIDS["implicit", model][int(np.argmax(selection))]
        report = peer_lists({"best": {"model": model, **best}}, REPORT)["best"]
        add_row(
            f"implicit {model.upper()} ({describe(best)})",
            f"tuned: best of {len(configs)} on u1..u5",
            [peer[str(int(np.argmax(selection)))][i] for i in range(5)],
            report,
        )
    popularity = mfrec_lists("popularity", {}, SELECT), mfrec_lists("popularity", {}, REPORT)
    add_row("mfrec popularity", "no parameters", *popularity)

lines: list[str] = []
if not args.skip_accuracy:
    lines += [
        "## Implicit feedback: ml-100k read as interactions",
        "",
        (
            f"`python benchmarks/bench_implicit.py` — {machine()}. Every training rating is an interaction; candidates "
            "are the items not in the user's training set; relevant = test rating >= 4. Every top-10 list (mfrec's and "
            "implicit's) is scored by the same function, `_common.ranked_scores` (mfrec.evaluation.metrics per user); "
            "mean over users within a split, then over splits. Equal tuning budget: per model, each library searches a "
            "grid of the same size (ALS: factors x regularization x alpha x iterations = 16; BPR: learning rate x "
            "regularization x factors = 8), chosen on the u1..u5 mean NDCG@10. The u1..u5 columns of tuned rows are "
            "therefore selection scores; ua/ub (mean of the two splits) were not used for any choice."
        ),
        "",
        "| model | chosen | NDCG@10 u1..u5 | P@10 u1..u5 | NDCG@10 ua/ub | P@10 ua/ub |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {label} | {how} | {a:.4f} | {b:.4f} | {c:.4f} | {d:.4f} |" for label, how, a, b, c, d in rows]

if args.skip_accuracy:
    lines += [
        "## Implicit feedback: training speed",
        "",
        f"`python benchmarks/bench_implicit.py --skip-accuracy` — {machine()}",
    ]
if not args.skip_speed:
    data = synthetic_file(200_000, 50_000, 20_000_000)

    def implicit_epoch(which: str) -> tuple[float, float]:
        command = [peers_python, HERE / "peers/implicit_iteration.py", data, 64, 2, which, SLOPE_EPOCHS]
        stdout, peak = run_measured(command, engine_environment(2))
        return last_json(stdout)["iteration_seconds"], peak

    engines = {
        "mfrec implicit-als (CG, 3 steps)": lambda: mfrec_slope(data, "implicit-als", 64, 2),
        "implicit ALS (CG)": lambda: implicit_epoch("als"),
        "mfrec bpr": lambda: mfrec_slope(data, "bpr", 64, 2),
        "implicit BPR": lambda: implicit_epoch("bpr"),
    }
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in engines}
    for round_ in range(args.rounds):
        for name, measure in engines.items():
            runs[name].append(measure())
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1][0]:.3f} s" for k, v in runs.items()), flush=True)
    median = {name: (statistics.median(r[0] for r in rs), max(r[1] for r in rs)) for name, rs in runs.items()}
    lines += [
        "",
        (
            f"Speed: synthetic 20M interactions (200,000 x 50,000), k = 64, 2 threads; one ALS iteration (users + "
            f"items) or one BPR epoch (20M samples). {STATISTIC} ({args.rounds} rounds)."
        ),
        "",
        "| engine | s / iteration (median) | M interactions / s | peak RSS MB | per round s |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {s:.3f} | {20 / s:.1f} | {peak:,.0f} | {', '.join(f'{r[0]:.3f}' for r in runs[name])} |"
        for name, (s, peak) in median.items()
    ]
    als_ratio = median["implicit ALS (CG)"][0] / median["mfrec implicit-als (CG, 3 steps)"][0]
    bpr_ratio = median["implicit BPR"][0] / median["mfrec bpr"][0]
    lines += [
        "",
        (
            f"Ratios of medians (same run): mfrec ALS is **{als_ratio:.2f}x** implicit's ALS speed, mfrec BPR "
            f"**{bpr_ratio:.2f}x** implicit's BPR speed."
        ),
    ]
write_section("implicit-speed" if args.skip_accuracy else "implicit", "\n".join(lines))
print("\n".join(lines))
