"""BPR's negative sampling (issue 30 #1): NDCG@10 on the ml-100k splits, sampled three ways, next to `implicit`'s BPR.

usage: python benchmarks/bench_bpr_sampling.py [--ml100k DIR] [--baseline-src DIR] [--seeds N]

Rows (each mfrec row with its defaults, ``random_state`` 0..N-1, the NDCG@10 the mean over seeds):
- this build: item groups drawn again every epoch (each positive meets the whole catalogue over the fit);
- this build with ``n_blocks=1``: one block, so every negative is a uniform draw from the whole catalogue
  (a global sampler, one thread): the reference the grouped schedule should match;
- ``--baseline-src``: another build's ``src`` (e.g. ``git archive 7d83350 src | tar x -C /tmp/old``), whose
  item groups were fixed for the whole fit (each positive met the same 1/B of the catalogue);
- `implicit`'s BPR with its defaults and with mfrec's factors, epochs, learning rate and regularisation
  (its own sampler: uniform over the whole catalogue, Hogwild threads).
Every list is scored by ``_common.ranked_scores`` (the function bench_implicit.py uses): every training rating is
an interaction, relevant = test rating >= 4, per user, then the mean over splits.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np
from _common import HERE, ML100K, machine, ranked_scores, require_peers, write_section

parser = argparse.ArgumentParser()
parser.add_argument("--ml100k", default=str(ML100K))
parser.add_argument("--baseline-src", help="another build's src folder (groups fixed per fit)")
parser.add_argument("--seeds", type=int, default=3)
parser.add_argument("--lists", help=argparse.SUPPRESS)  # internal: print one variant's lists as JSON
args = parser.parse_args()
SPLITS = ["u1", "u2", "u3", "u4", "u5", "ua", "ub"]


def mfrec_lists(params: dict) -> list[dict[str, list[int]]]:
    from mfrec.data.movielens import predefined_folds
    from mfrec.models import make_model

    out = []
    for split in SPLITS:
        train, test = predefined_folds(args.ml100k, split[:2] if split in ("ua", "ub") else "u")[
            0 if split in ("ua", "ub") else int(split[1]) - 1
        ]
        model = make_model("bpr", n_threads=2, **params).fit(train)
        known = set(train.user_ids.ids)
        users = [u for u in np.unique(test.user_ids.to_ids(test.user_idx)).tolist() if u in known]
        recs = model.recommend(users, n=10)
        out.append({str(u): g["item"].astype(int).tolist() for u, g in recs.groupby("user", sort=False)})
    return out


if args.lists:
    print(json.dumps(mfrec_lists(json.loads(args.lists))))
    sys.exit(0)

from mfrec.data.movielens import predefined_folds  # noqa: E402

tests = [predefined_folds(args.ml100k, "u")[i][1] for i in range(5)]
tests += [predefined_folds(args.ml100k, s)[0][1] for s in ("ua", "ub")]


def lists_of(params: dict, src: str | None = None) -> list[dict[str, list[int]]]:
    env = {**os.environ, "PYTHONPATH": src or str(HERE.parent / "src")}
    command = [sys.executable, __file__, "--ml100k", args.ml100k, "--lists", json.dumps(params)]
    return json.loads(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)


def scores(lists: list[dict]) -> tuple[float, float]:
    return ranked_scores(tests[:5], lists[:5])[0], ranked_scores(tests[5:], lists[5:])[0]


variants: dict[str, tuple[dict, str | None]] = {
    "mfrec bpr, item groups drawn again every epoch (this build)": ({}, None),
    "mfrec bpr, n_blocks=1: one block, global uniform sampler": ({"n_blocks": 1}, None),
}
if args.baseline_src:
    variants["mfrec bpr, item groups fixed for the fit (before issue 30)"] = ({}, args.baseline_src)
rows = []
for label, (params, src) in variants.items():
    per_seed = [scores(lists_of({**params, "random_state": seed}, src)) for seed in range(args.seeds)]
    u, ab = np.mean([p[0] for p in per_seed]), np.mean([p[1] for p in per_seed])
    spread = f"{min(p[0] for p in per_seed):.4f}-{max(p[0] for p in per_seed):.4f}"
    rows.append((label, u, spread, ab))
    print(f"{label}: u1..u5 {u:.4f} ({spread}), ua/ub {ab:.4f}", flush=True)
peers = require_peers()
configs = {
    "implicit BPR, defaults (its own global sampler)": {"model": "bpr"},
    "implicit BPR, mfrec's settings (factors 64, 60 iterations, lr 0.03, reg 0.015)": {
        "model": "bpr",
        "factors": 64,
        "iterations": 60,
        "learning_rate": 0.03,
        "regularization": 0.015,
    },
}
command = [str(peers), str(HERE / "peers/implicit_folds.py"), args.ml100k, ",".join(SPLITS), json.dumps(configs)]
peer = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
for label in configs:
    u, ab = scores(peer[label])
    rows.append((label, u, "one run (Hogwild threads: not deterministic)", ab))
    print(f"{label}: u1..u5 {u:.4f}, ua/ub {ab:.4f}", flush=True)

lines = [
    "## BPR: where the negatives come from (issue 30)",
    "",
    (
        f"`python benchmarks/bench_bpr_sampling.py --seeds {args.seeds}"
        f"{' --baseline-src <src of 7d83350>' if args.baseline_src else ''}` — {machine()}. ml-100k read as "
        "interactions (every training rating), relevant = test rating >= 4, NDCG@10 by `_common.ranked_scores`; "
        f"mfrec rows: defaults, mean over random_state 0..{args.seeds - 1} (range over seeds in brackets)."
    ),
    "",
    "| sampler | NDCG@10 u1..u5 | (seeds) | NDCG@10 ua/ub |",
    "|---|---|---|---|",
]
lines += [f"| {label} | {u:.4f} | {spread} | {ab:.4f} |" for label, u, spread, ab in rows]
write_section("bpr-sampling", "\n".join(lines))
print("\n".join(lines))
