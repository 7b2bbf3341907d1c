"""Accuracy on the ml-100k folds u1..u5: mfrec's models next to Surprise, in one run.

usage: python benchmarks/bench_accuracy.py [ML100K_FOLDER]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _common import ML100K, last_json, machine, require_peers, write_section

from mfrec.evaluation import evaluate, make_splits
from mfrec.models import make_model

folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ML100K
_, splits = make_splits(folder, "ml100k-folds")
rows = {}
for name in ("sgd", "als", "bayesian", "adam", "nmf", "svd", "baseline", "popularity", "global-mean"):
    result = evaluate(lambda name=name: make_model(name), splits)
    rows[f"mfrec {name}"] = result
    print(f"mfrec {name}: rmse {result['rmse']:.4f} mae {result['mae']:.4f} ndcg@10 {result['ndcg@10']:.4f}", flush=True)
peers = last_json(subprocess.run([str(require_peers()), str(Path(__file__).parent / "peers/surprise_folds.py"), str(folder)],
                                 capture_output=True, text=True, check=True).stdout)  # fmt: skip
rows.update(peers)

lines = [
    "## Accuracy: ml-100k folds u1..u5 (mean), defaults",
    "",
    f"`python benchmarks/bench_accuracy.py` — {machine()}",
    "",
    "| model | RMSE | MAE | NDCG@10 | P@10 | R@10 | fit s (per fold) |",
    "|---|---|---|---|---|---|---|",
]
for name, r in rows.items():
    ranking = [f"{r[m]:.4f}" if m in r else "—" for m in ("ndcg@10", "precision@10", "recall@10")]
    lines.append(f"| {name} | {r['rmse']:.4f} | {r['mae']:.4f} | {' | '.join(ranking)} | {r['fit_seconds']:.2f} |")
sgd, svd = rows["mfrec sgd"], rows["surprise-svd"]
lines += ["", f"mfrec sgd vs Surprise SVD: RMSE {sgd['rmse'] - svd['rmse']:+.4f}, MAE {sgd['mae'] - svd['mae']:+.4f}.",
          "Ranking protocol: candidates = items unrated in train, relevant = test rating >= 4 (README)."]  # fmt: skip
write_section("accuracy", "\n".join(lines))
print("\n".join(lines))
