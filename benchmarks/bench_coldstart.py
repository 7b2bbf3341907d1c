"""Cold start and incremental updates on ml-100k: fold-in latency, the cold-start curve, partial_fit vs refit.

usage: python benchmarks/bench_coldstart.py [--ml100k DIR] [--update-results]

Results go to benchmarks/runs/<UTC time>-coldstart/ (and the curve as curve.json there);
RESULTS.md is rewritten only with --update-results.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _common import ML100K, machine, write_section

from mfrec.data import load
from mfrec.evaluation.coldstart import cold_start_curve
from mfrec.evaluation.metrics import rmse
from mfrec.models import MatrixFactorization

parser = argparse.ArgumentParser()
parser.add_argument("--ml100k", default=str(ML100K))
args = parser.parse_args()
data = load(args.ml100k)
lines = [
    "## Cold start and incremental updates (ml-100k)",
    "",
    f"`python benchmarks/bench_coldstart.py` — {machine()}.",
    "",
]

# Fold-in latency: k = 64, 1,000 new users with 10 ratings each, one call each.
model = MatrixFactorization(n_factors=64).fit(data)
rng = np.random.default_rng(0)
picks = [
    dict(zip(rng.choice(data.item_ids.ids, 10, replace=False), rng.integers(1, 6, 10).astype(float)))
    for _ in range(1_000)
]
model.fold_in(picks[0])
latencies = []
for ratings in picks:
    started = time.perf_counter()
    model.fold_in(ratings)
    latencies.append(time.perf_counter() - started)
lines += [
    f"Fold-in, k = 64, 10 ratings: median **{np.median(latencies) * 1e3:.3f} ms**, "
    f"p99 {np.percentile(latencies, 99) * 1e3:.3f} ms over 1,000 users.",
    "",
]

# The cold-start curve with the default SGD model.
curve = cold_start_curve(data, MatrixFactorization, n_users=200, seed=0)
lines += [
    "Cold-start protocol (`mfrec evaluate ml-100k --protocol cold-start`), 200 held-out users, seed 0:",
    "",
    "| method | revealed | RMSE | NDCG@10 |",
    "|---|---|---|---|",
]
lines += [f"| {r['method']} | {r['revealed']} | {r['rmse']:.4f} | {r['ndcg@10']:.3f} |" for r in curve]
at = {(r["method"], r["revealed"]): r for r in curve}
fold, retrain = at[("fold-in", 10)], at[("retrain", 10)]
lines += [
    "",
    f"At 10 revealed: fold-in NDCG@10 / retrain = {fold['ndcg@10'] / retrain['ndcg@10']:.2f}, RMSE gap "
    f"{fold['rmse'] - retrain['rmse']:+.4f}. At 0: side-info RMSE {at[('side-info', 0)]['rmse']:.4f} vs "
    f"popularity {at[('popularity', 0)]['rmse']:.4f}.",
    "",
]

# partial_fit with the next 1% of ratings (time order) against a full refit; RMSE on everything after.
order = np.argsort(data.timestamps, kind="stable")
cut, new_end = int(len(data) * 0.90), int(len(data) * 0.91)


def part(rows: np.ndarray):
    mask = np.zeros(len(data), bool)
    mask[rows] = True
    return data.subset(mask)


base, new, both, later = part(order[:cut]), part(order[cut:new_end]), part(order[:new_end]), part(order[new_end:])


def later_rmse(m) -> float:
    return rmse(later.ratings, m.predict(later.user_ids.to_ids(later.user_idx), later.item_ids.to_ids(later.item_idx)))


MatrixFactorization().fit(base).partial_fit(part(order[cut : cut + 10]))  # compile once
rows = []
for _ in range(3):
    updated = MatrixFactorization().fit(base)
    started = time.perf_counter()
    updated.partial_fit(new)
    partial_seconds = time.perf_counter() - started
    started = time.perf_counter()
    full = MatrixFactorization().fit(both)
    full_seconds = time.perf_counter() - started
    rows.append((partial_seconds, full_seconds, later_rmse(updated), later_rmse(full)))
partial_seconds, full_seconds = min(r[0] for r in rows), min(r[1] for r in rows)
lines += [
    f"partial_fit with the next 1% of ratings ({len(new):,}) vs a full refit on the 91%, RMSE on the "
    f"remaining 9% ({len(later):,}), best of 3: partial_fit {partial_seconds * 1e3:.1f} ms, refit "
    f"{full_seconds * 1e3:.0f} ms (**{full_seconds / partial_seconds:.1f}x** faster); RMSE "
    f"{rows[0][2]:.4f} vs {rows[0][3]:.4f} (gap {rows[0][2] - rows[0][3]:+.4f})."
]
run = write_section("coldstart", "\n".join(lines))
(run / "curve.json").write_text(json.dumps(curve, indent=2))
print("\n".join(lines))
