"""Implicit feedback, side by side with the `implicit` library: ranking accuracy on ml-100k, speed at 20M.

usage: python benchmarks/bench_implicit.py [--ml100k DIR] [--rounds N] [--skip-speed]

Accuracy: the ml-100k folds u1..u5 read as implicit feedback (every training rating is an interaction;
candidates are the items not in the user's training set; relevant = test rating >= 4). Both libraries'
top-10 lists are scored by mfrec's own metric code. Speed: the synthetic 20M file (200k x 50k), k = 64,
2 threads, every row an interaction; seconds per ALS iteration / BPR epoch, set-up excluded.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile

import numpy as np
from _common import (
    HERE,
    MFREC,
    ML100K,
    last_json,
    machine,
    require_peers,
    run_measured,
    synthetic_file,
    write_section,
)

from mfrec.data.movielens import predefined_folds
from mfrec.evaluation import evaluate
from mfrec.evaluation.metrics import ndcg_at_k
from mfrec.models import make_model

parser = argparse.ArgumentParser()
parser.add_argument("--ml100k", default=str(ML100K))
parser.add_argument("--rounds", type=int, default=2)
parser.add_argument("--skip-speed", action="store_true")
args = parser.parse_args()
peers_python = require_peers()
folds = predefined_folds(args.ml100k, "u")


def peer_ndcg(recs_per_fold: list[dict[str, list[int]]]) -> float:
    """Mean NDCG@10 over user-folds, exactly as mfrec.evaluation.score counts them."""
    scores = []
    for (train, test), recs in zip(folds, recs_per_fold):
        users = test.user_ids.to_ids(test.user_idx)
        items = test.item_ids.to_ids(test.item_idx)
        relevant: dict[str, set[int]] = {}
        for user, item, rating in zip(users, items, test.ratings):
            if rating >= 4:
                relevant.setdefault(str(user), set()).add(int(item))
        scores += [ndcg_at_k(recs.get(user, []), rel, 10) for user, rel in relevant.items()]
    return float(np.mean(scores))


rows: list[tuple[str, float, float]] = []
for label, name, params in [
    ("mfrec implicit-als (defaults: 64 f, reg 30, alpha 2, 15 it)", "implicit-als", {}),
    ("mfrec implicit-als at implicit's best (32 f, reg 1, alpha 0 = implicit's 1)", "implicit-als",
     {"n_factors": 32, "regularization": 1.0, "alpha": 0.0}),
    ("mfrec implicit-als at 64 f, reg 1, alpha 0", "implicit-als", {"n_factors": 64, "regularization": 1.0, "alpha": 0.0}),
    ("mfrec bpr (defaults: 64 f, 60 epochs)", "bpr", {}),
    ("mfrec popularity", "popularity", {}),
]:  # fmt: skip
    result = evaluate(lambda name=name, params=params: make_model(name, **params), folds)
    rows.append((label, result["ndcg@10"], result["precision@10"]))
    print(f"{label}: NDCG@10 {result['ndcg@10']:.4f}", flush=True)
peer = json.loads(subprocess.run([str(peers_python), str(HERE / "peers/implicit_folds.py"), args.ml100k],
                                 capture_output=True, text=True, check=True).stdout)  # fmt: skip
for label, recs in peer.items():
    rows.append((label, peer_ndcg(recs), float("nan")))
    print(f"{label}: NDCG@10 {rows[-1][1]:.4f}", flush=True)

lines = [
    "## Implicit feedback: ml-100k folds u1..u5 read as interactions",
    "",
    (f"`python benchmarks/bench_implicit.py` — {machine()}. Every training rating is an interaction; candidates "
     "are the items not in the user's training set; relevant = test rating >= 4; mean over user-folds. Both "
     "libraries' top-10 lists are scored by mfrec's metric code."),
    "",
    "| model | NDCG@10 | P@10 |",
    "|---|---|---|",
]
lines += [f"| {label} | {ndcg:.4f} | {'' if np.isnan(p) else f'{p:.4f}'} |" for label, ndcg, p in rows]

if not args.skip_speed:
    data = synthetic_file(200_000, 50_000, 20_000_000)

    def mfrec_epoch(model: str) -> tuple[float, float]:
        with tempfile.TemporaryDirectory() as out:
            stdout, peak = run_measured([MFREC, "train", data, "-m", model, "-k", 64, "--epochs", 4, "--threads", 2,
                                         "--json", "--quiet", "-o", out])  # fmt: skip
        return min(last_json(stdout)["epoch_seconds"][1:]), peak

    def implicit_epoch(which: str) -> tuple[float, float]:
        stdout, peak = run_measured([peers_python, HERE / "peers/implicit_iteration.py", data, 64, 2, which])
        return last_json(stdout)["iteration_seconds"], peak

    runs: dict[str, list[tuple[float, float]]] = {"mfrec implicit-als (CG, 3 steps)": [], "implicit ALS (CG)": [],
                                                  "mfrec bpr": [], "implicit BPR": []}  # fmt: skip
    for round_ in range(args.rounds):
        runs["mfrec implicit-als (CG, 3 steps)"].append(mfrec_epoch("implicit-als"))
        runs["implicit ALS (CG)"].append(implicit_epoch("als"))
        runs["mfrec bpr"].append(mfrec_epoch("bpr"))
        runs["implicit BPR"].append(implicit_epoch("bpr"))
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1][0]:.3f} s" for k, v in runs.items()), flush=True)
    best = {name: (min(r[0] for r in rs), max(r[1] for r in rs)) for name, rs in runs.items()}
    lines += [
        "",
        (f"Synthetic 20M interactions (200,000 x 50,000), k = 64, 2 threads; best of {args.rounds} interleaved "
         "rounds; one ALS iteration (users + items) or one BPR epoch (20M samples), set-up excluded."),
        "",
        "| engine | s / iteration | M interactions / s | peak RSS MB |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {s:.3f} | {20 / s:.1f} | {peak:,.0f} |" for name, (s, peak) in best.items()]
    als_ratio = best["implicit ALS (CG)"][0] / best["mfrec implicit-als (CG, 3 steps)"][0]
    bpr_ratio = best["implicit BPR"][0] / best["mfrec bpr"][0]
    lines += ["", (f"Ratios (same run): mfrec ALS is **{als_ratio:.2f}x** implicit's ALS speed, mfrec BPR "
                   f"**{bpr_ratio:.2f}x** implicit's BPR speed.")]  # fmt: skip
write_section("implicit", "\n".join(lines))
print("\n".join(lines))
