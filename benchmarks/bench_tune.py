"""`mfrec tune` with a time budget on the ml-100k folds; the best CV score goes into RESULTS.md.

usage: python benchmarks/bench_tune.py [--model sgd] [--budget MINUTES] [ML100K_FOLDER]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from _common import MFREC, ML100K, machine, write_section

parser = argparse.ArgumentParser()
parser.add_argument("folder", nargs="?", default=str(ML100K))
parser.add_argument("--model", default="sgd")
parser.add_argument("--budget", type=float, default=10.0)
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()
with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp) / "best.json"
    subprocess.run(
        [
            MFREC,
            "tune",
            args.folder,
            "--protocol",
            "ml100k-folds",
            "--model",
            args.model,
            "--budget",
            str(args.budget),
            "--seed",
            str(args.seed),
            "-o",
            str(out),
            "--quiet",
        ],
        check=True,
    )
    result = json.loads(out.read_text())
ranked = sorted(result["candidates"], key=lambda c: c["score"])
defaults = next(c for c in result["candidates"] if c["params"] == {})
lines = [
    f"## Tuning: `mfrec tune --model {args.model} --budget {args.budget:g}` on the ml-100k folds",
    "",
    f"`python benchmarks/bench_tune.py --model {args.model} --budget {args.budget:g}` — {machine()}",
    "",
    f"{len(result['candidates'])} candidates (random exploration then local search around the best, 2 single-threaded workers). Best mean RMSE over u1..u5: "
    f"**{result['best_score']:.4f}** ± {result['best_std']:.4f}; the defaults scored {defaults['score']:.4f}.",
    "",
    "| RMSE | MAE | parameters |",
    "|---|---|---|",
]
for candidate in ranked[:5]:
    shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in candidate["params"].items()} or "defaults"
    lines.append(f"| {candidate['score']:.4f} | {candidate['mae']:.4f} | `{shown}` |")
write_section(f"tune-{args.model}", "\n".join(lines))
print("\n".join(lines))
