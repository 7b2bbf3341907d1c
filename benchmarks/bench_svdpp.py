"""SVD++: mfrec ``svdpp`` against Surprise's ``SVDpp()`` (defaults of both) on ML-100k, accuracy and time per epoch.

usage: python benchmarks/bench_svdpp.py [--rounds N] [--update-results]

- Accuracy: u1..u5 and ua/ub; mfrec ``svdpp``, ``sgd`` and ``baseline`` fit here, Surprise ``SVDpp()``
  (random_state 0) in the peers' venv, which writes its predictions; one function scores every system
  (RMSE over all test ratings, predictions clipped to 1-5).
- Time per epoch on u1.base, one thread, interleaved rounds: (fit with 1 + E epochs - fit with 1) / E,
  so set-up and compilation cancel; Surprise's with E = 2, mfrec's with E = 20, measured before and after
  each Surprise measurement and averaged. The ratio is Surprise's over mfrec's, per round.

The zoo check (every default against the bias baseline on logs of other domains and scales) is
``benchmarks/bench_zoo.py --models baseline svdpp``.
"""

from __future__ import annotations

import os

os.environ["MFREC_NUM_THREADS"] = "1"

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import PEERS_PYTHON, machine, require_peers, write_section

from mfrec.models import Biases, MatrixFactorization, SVDpp

FOLDS = ["u1", "u2", "u3", "u4", "u5", "ua", "ub"]
SURPRISE_FOLDS = """
import sys, numpy as np, pandas as pd
from surprise import SVDpp, Dataset, Reader
root, out = sys.argv[1], sys.argv[2]
for fold in sys.argv[3:]:
    names = ["user", "item", "rating", "ts"]
    train = pd.read_csv(f"{root}/{fold}.base", sep="\\t", names=names)[names[:3]]
    test = pd.read_csv(f"{root}/{fold}.test", sep="\\t", names=names)
    algo = SVDpp(random_state=0)
    algo.fit(Dataset.load_from_df(train, Reader(rating_scale=(1, 5))).build_full_trainset())
    np.save(f"{out}/{fold}.npy", np.array([algo.predict(u, i).est for u, i in zip(test.user, test.item)]))
"""
SURPRISE_EPOCH = """
import sys, time, pandas as pd
from surprise import SVDpp, Dataset, Reader
names = ["user", "item", "rating", "ts"]
train = pd.read_csv(sys.argv[1], sep="\\t", names=names)[names[:3]]
trainset = Dataset.load_from_df(train, Reader(rating_scale=(1, 5))).build_full_trainset()
seconds = []
for n in (1, 3):
    started = time.perf_counter()
    SVDpp(n_epochs=n, random_state=0).fit(trainset)
    seconds.append(time.perf_counter() - started)
print((seconds[1] - seconds[0]) / 2)
"""


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", names=["user", "item", "rating", "ts"])[["user", "item", "rating"]]


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    """The one metric function for every system."""
    return float(np.sqrt(np.mean((np.clip(pred, 1, 5) - truth) ** 2)))


def mfrec_epoch(train: pd.DataFrame, extra: int = 20) -> float:
    seconds = []
    for n in (1, 1 + extra):
        started = time.perf_counter()
        SVDpp(n_epochs=n, n_threads=1, rank_by="rating").fit(train)
        seconds.append(time.perf_counter() - started)
    return (seconds[1] - seconds[0]) / extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ml100k", type=Path, default=Path(os.environ.get("MFREC_DATA", "../shared/data")) / "ml-100k")
    args = parser.parse_args()
    require_peers()
    root = args.ml100k
    out = Path(tempfile.mkdtemp(prefix="svdpp-"))
    surprise = subprocess.Popen([str(PEERS_PYTHON), "-c", SURPRISE_FOLDS, str(root), str(out), *FOLDS])
    systems = {"mfrec svdpp": SVDpp, "mfrec sgd": MatrixFactorization, "mfrec baseline": Biases}
    scores: dict[str, dict[str, float]] = {name: {} for name in [*systems, "Surprise SVDpp()"]}
    for fold in FOLDS:
        train, test = read(root / f"{fold}.base"), read(root / f"{fold}.test")
        for name, cls in systems.items():
            model = cls(rank_by="rating").fit(train)
            scores[name][fold] = rmse(model.predict(test.user.values, test.item.values), test.rating.values)
    if surprise.wait() != 0:
        raise SystemExit("Surprise SVDpp failed in the peers' venv")
    for fold in FOLDS:
        scores["Surprise SVDpp()"][fold] = rmse(np.load(out / f"{fold}.npy"), read(root / f"{fold}.test").rating.values)

    u1 = read(root / "u1.base")
    mfrec_epoch(u1, 2)  # compiled and warm before the first measurement
    rounds = []
    for _ in range(args.rounds):
        before = mfrec_epoch(u1)
        command = [str(PEERS_PYTHON), "-c", SURPRISE_EPOCH, str(root / "u1.base")]
        theirs = float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        ours = (before + mfrec_epoch(u1)) / 2
        rounds.append((theirs, ours))

    lines = [
        "## SVD++: mfrec `svdpp` and Surprise `SVDpp()` on ml-100k, defaults of both",
        "",
        f"`python benchmarks/bench_svdpp.py --rounds {args.rounds}` — {machine()}",
        "",
        "RMSE over each split's test ratings, predictions clipped to 1-5, one scoring function for every system.",
        "u1..u5 are the folds svdpp's defaults were chosen on; ua/ub were not used to choose anything.",
        "",
        "| system | " + " | ".join(FOLDS) + " | mean u1..u5 | mean ua, ub |",
        "|---" * (len(FOLDS) + 3) + "|",
    ]
    for name, row in scores.items():
        cells = " | ".join(f"{row[f]:.4f}" for f in FOLDS)
        five, two = np.mean([row[f] for f in FOLDS[:5]]), np.mean([row[f] for f in FOLDS[5:]])
        lines.append(f"| {name} | {cells} | {five:.4f} | {two:.4f} |")
    lines += [
        "",
        "Time per epoch on u1.base (80,000 ratings), one thread; mfrec k = 64 (its default), Surprise k = 20 (its default):",
        "",
        "| round | Surprise SVDpp s/epoch | mfrec svdpp ms/epoch | ratio |",
        "|---|---|---|---|",
    ]
    for r, (theirs, ours) in enumerate(rounds, 1):
        lines.append(f"| {r} | {theirs:.3f} | {ours * 1000:.1f} | {theirs / ours:.0f}x |")
    ratios = [t / o for t, o in rounds]
    lines += ["", f"Median ratio {np.median(ratios):.0f}x (min {min(ratios):.0f}x) over {len(rounds)} rounds."]
    body = "\n".join(lines)
    write_section("svdpp", body)
    print(body)


if __name__ == "__main__":
    main()
