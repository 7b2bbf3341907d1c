"""Rating and ranking accuracy of mfrec's models next to Surprise's, in one run, scored by one set of functions.

usage: python benchmarks/bench_accuracy.py [--ml100k DIR] [--ml1m DIR] [--skip-search]

Splits (issue 11 #4): mfrec's defaults were chosen on the ml-100k folds u1..u5, so the figures there are
*selection scores*; ua and ub (ml-100k's other predefined splits: 10 test ratings per user) and a global
time-ordered split (train on the earliest 80% of ratings by time) are data no default was chosen on. ML-1M is
added with ``--ml1m DIR`` (or when ``mfrec datasets download ml-1m`` has cached it); offline and uncached, the
script says so instead of substituting anything.

Every engine's numbers go through the same functions (issue 11 #3): RMSE and MAE are
``mfrec.evaluation.metrics.rmse``/``mae`` of each engine's predictions for the test ratings (unknown users and
items answered by the engine's own fallback); NDCG@10 and P@10 are ``_common.ranked_scores`` of each engine's
top-10 lists (candidates: items known in train the user did not rate there; relevant: test rating >= 4; users
absent from train are not scored). Means are over users (ratings) within a split, then over the splits of a
group (the mean of fold means).

Equal tuning budget (issue 11 #2): mfrec ``sgd`` and Surprise ``SVD`` each get a 16-candidate grid around their
own defaults (Surprise's includes its documented GridSearchCV grid), chosen by mean RMSE on u1..u5 (a selection
score) and reported on ua/ub and the temporal split.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import HERE, ML100K, grid, machine, ranked_scores, require_peers, write_section

from mfrec.data.movielens import load_movielens, locate, predefined_folds
from mfrec.data.split import temporal_split
from mfrec.evaluation.metrics import mae, rmse
from mfrec.exceptions import MfrecError
from mfrec.models import make_model

parser = argparse.ArgumentParser()
parser.add_argument("--ml100k", default=str(ML100K))
parser.add_argument("--ml1m", default=None, help="ML-1M folder; default: the cached download, if any")
parser.add_argument("--skip-search", action="store_true", help="defaults only, no equal-budget search")
args = parser.parse_args()
peers_python = require_peers()

MODELS = ("sgd", "als", "bayesian", "svdpp", "adam", "nmf", "svd", "baseline", "popularity", "global-mean")
# Labelled variants beside the defaults: (row label, model, parameters).
VARIANTS = (
    ("mfrec bayesian, time effects (test dates given)", "bayesian", {"time_effects": True}),
    ("mfrec bayesian, plain MF (implicit='none')", "bayesian", {"implicit": "none"}),
)
# myFM (Bayesian FM, rank 10, 200 sweeps, 150 kept, one thread), run by peers/zoo_peers.py.
MYFM = {"myfm-mf": "myFM MF", "myfm-flipped": "myFM SVD++ flipped"}
SURPRISE = {"surprise-svd": {"algo": "svd"}, "surprise-nmf": {"algo": "nmf"}, "surprise-baseline": {"algo": "baseline"}}
GROUPS = {"u1..u5 (selection)": ["u1", "u2", "u3", "u4", "u5"], "ua, ub": ["ua", "ub"], "temporal 80/20": ["temporal"]}
SEARCH = {
    "mfrec sgd": grid(n_factors=[64, 128], n_epochs=[40, 80], learning_rate=[0.005, 0.01], regularization=[0.05, 0.1]),
    # Surprise's documented GridSearchCV grid (8) and the same grid shape around its defaults (8): 16 candidates.
    "surprise-svd": grid(n_epochs=[5, 10], lr_all=[0.002, 0.005], reg_all=[0.4, 0.6])
    + grid(n_factors=[50, 100], n_epochs=[20, 40], lr_all=[0.005], reg_all=[0.02, 0.1]),
}


def load_splits() -> dict[str, tuple]:
    folds = predefined_folds(args.ml100k, "u")
    splits = {f"u{i + 1}": fold for i, fold in enumerate(folds)}
    splits["ua"], splits["ub"] = predefined_folds(args.ml100k, "ua")[0], predefined_folds(args.ml100k, "ub")[0]
    splits["temporal"] = temporal_split(load_movielens(args.ml100k), test_fraction=0.2)
    ml1m = Path(args.ml1m) if args.ml1m else None
    if ml1m is None:
        try:
            ml1m = locate("ml-1m", download=False)
        except MfrecError as exc:
            print(f"ML-1M: not run ({exc}); run `mfrec datasets download ml-1m` online, then re-run this script")
    if ml1m is not None:
        splits["ml-1m temporal"] = temporal_split(load_movielens(ml1m), test_fraction=0.2)
        GROUPS["ML-1M temporal 80/20"] = ["ml-1m temporal"]
    return splits


def relevant_scores(split_names: list[str], outputs: dict[str, dict]) -> dict[str, float]:
    """RMSE, MAE (per split, then the mean over splits) and NDCG/P@10 of one engine's outputs on some splits."""
    tests = [splits[name][1] for name in split_names]
    ndcg, precision = ranked_scores(tests, [outputs[name]["lists"] for name in split_names])
    errors = [
        (rmse(test.ratings, outputs[name]["pred"]), mae(test.ratings, outputs[name]["pred"]))
        for name, test in zip(split_names, tests)
    ]
    return {
        "rmse": float(np.mean([e[0] for e in errors])),
        "mae": float(np.mean([e[1] for e in errors])),
        "ndcg": ndcg,
        "precision": precision,
        "fit_seconds": float(np.mean([outputs[name]["fit_seconds"] for name in split_names])),
    }


def mfrec_outputs(name: str, params: dict, split_names: list[str]) -> dict[str, dict]:
    """mfrec's predictions for every test rating and top-10 for every test user known in train, per split."""
    out = {}
    for split in split_names:
        train, test = splits[split]
        model = make_model(name, **params)
        started = time.perf_counter()
        model.fit(train)
        seconds = time.perf_counter() - started
        # Dates matter only to a model with time effects (the labelled bayesian row); the others ignore them.
        predictions = model.predict(
            test.user_ids.to_ids(test.user_idx), test.item_ids.to_ids(test.item_idx), timestamps=test.timestamps
        )
        known = set(train.user_ids.ids)
        users = [u for u in np.unique(test.user_ids.to_ids(test.user_idx)).tolist() if u in known]
        recs = model.recommend(users, n=10)
        lists = {str(u): group["item"].astype(int).tolist() for u, group in recs.groupby("user", sort=False)}
        out[split] = {"pred": np.asarray(predictions), "lists": lists, "fit_seconds": seconds}
    return out


def surprise_outputs(configs: dict[str, dict], split_names: list[str]) -> dict[str, dict[str, dict]]:
    """Surprise's outputs for each configuration and split, computed by the peers' Python on the same files."""
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for split in split_names:
            paths = [Path(folder) / f"{split}.{part}" for part in ("base", "test")]
            for path, part in zip(paths, splits[split]):
                frame = part.to_frame()
                if "timestamp" not in frame:
                    frame["timestamp"] = 0
                frame[["user", "item", "rating", "timestamp"]].to_csv(path, sep="\t", header=False, index=False)
            files.append([split, str(paths[0]), str(paths[1])])
        command = [str(peers_python), str(HERE / "peers/surprise_folds.py"), json.dumps(files), json.dumps(configs)]
        raw = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    for label in raw:
        for split in raw[label]:
            raw[label][split]["pred"] = np.asarray(raw[label][split]["pred"])
    return raw


def myfm_outputs(peer: str, split_names: list[str]) -> dict[str, dict]:
    """myFM's predictions and top-10 lists per split, from peers/zoo_peers.py on the same train/test files.

    zoo_peers predicts the warm pairs only (myFM has no row for an unknown user or item); the others get the
    training mean, clipped like every engine's predictions.
    """
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for split in split_names:
            train, test = splits[split]
            paths = [Path(folder) / f"{split}.{part}" for part in ("train", "test", "json")]
            for path, part in zip(paths, (train, test)):
                part.to_frame()[["user", "item", "rating"]].to_csv(path, sep="\t", header=False, index=False)
            low, high = train.rating_scale
            command = [str(peers_python), str(HERE / "peers/zoo_peers.py"), peer, *map(str, paths[:2])]
            subprocess.run([*command, str(low), str(high), str(paths[2])], capture_output=True, text=True, check=True)
            raw = json.loads(paths[2].read_text())
            pred = np.full(len(test), float(train.ratings.mean()))
            for row, value in raw["pred"].items():
                pred[int(row)] = value
            lists = {user: [int(item) for item in items] for user, items in raw["lists"].items()}
            out[split] = {"pred": np.clip(pred, low, high), "lists": lists, "fit_seconds": raw["fit_seconds"]}
    return out


splits = load_splits()
every_split = [name for names in GROUPS.values() for name in names]
rows: dict[str, dict[str, dict]] = {}
for name in MODELS:
    outputs = mfrec_outputs(name, {}, every_split)
    rows[f"mfrec {name}"] = {group: relevant_scores(names, outputs) for group, names in GROUPS.items()}
    print(f"mfrec {name}: " + json.dumps(rows[f"mfrec {name}"]), flush=True)
for label, name, params in VARIANTS:
    outputs = mfrec_outputs(name, params, every_split)
    rows[label] = {group: relevant_scores(names, outputs) for group, names in GROUPS.items()}
    print(f"{label}: " + json.dumps(rows[label]), flush=True)
for peer_name, label in MYFM.items():
    outputs = myfm_outputs(peer_name, every_split)
    rows[label] = {group: relevant_scores(names, outputs) for group, names in GROUPS.items()}
    print(f"{label}: " + json.dumps(rows[label]), flush=True)
peer = surprise_outputs(SURPRISE, every_split)
for label in SURPRISE:
    rows[label] = {group: relevant_scores(names, peer[label]) for group, names in GROUPS.items()}
    print(f"{label}: " + json.dumps(rows[label]), flush=True)

search_lines = []
if not args.skip_search:
    selection = GROUPS["u1..u5 (selection)"]
    for label, candidates in SEARCH.items():
        if label.startswith("mfrec"):
            scored = [
                (relevant_scores(selection, mfrec_outputs("sgd", params, selection))["rmse"], params)
                for params in candidates
            ]
        else:
            configs = {f"c{i}": {"algo": "svd", **params} for i, params in enumerate(candidates)}
            outputs = surprise_outputs(configs, selection)
            scored = [
                (relevant_scores(selection, outputs[f"c{i}"])["rmse"], params) for i, params in enumerate(candidates)
            ]
        best_score, best = min(scored, key=lambda pair: pair[0])
        outputs = (
            mfrec_outputs("sgd", best, every_split)
            if label.startswith("mfrec")
            else surprise_outputs({"best": {"algo": "svd", **best}}, every_split)["best"]
        )
        rows[f"{label}, tuned"] = {group: relevant_scores(names, outputs) for group, names in GROUPS.items()}
        search_lines.append(f"- {label}: {len(candidates)} candidates, best `{best}` (selection RMSE {best_score:.4f})")
        print(search_lines[-1], flush=True)

header = " | ".join(f"RMSE {group} | NDCG@10 {group}" for group in GROUPS)
lines = [
    "## Accuracy: mfrec, Surprise and myFM on ml-100k splits, one metric path",
    "",
    f"`python benchmarks/bench_accuracy.py` — {machine()}",
    "",
    "Columns marked *selection* are on the folds mfrec's defaults were chosen on (selection scores); ua/ub and",
    "the time-ordered split (earliest 80% of ratings by time → train) were not used to choose anything. RMSE: mean",
    "over the splits of a group of each split's RMSE over all its test ratings (unknown users/items answered by the",
    "engine's fallback; myFM's: the training mean). NDCG@10: per user, then mean over splits (users known in train",
    "with a test rating >= 4). Fit s: mean seconds of one fit on u1..u5 (mfrec: 2 threads; myFM and Surprise: 1).",
    "",
    f"| engine | {header} | fit s |",
    "|---|" + "---|" * (2 * len(GROUPS) + 1),
]
for name, by_group in rows.items():
    cells = " | ".join(f"{r['rmse']:.4f} | {r['ndcg']:.4f}" for r in by_group.values())
    lines.append(f"| {name} | {cells} | {by_group['u1..u5 (selection)']['fit_seconds']:.2f} |")
if search_lines:
    lines += [
        "",
        "Equal-budget search (selection on u1..u5 mean RMSE; the tuned rows above are reported on every split):",
        "",
        *search_lines,
    ]
if "ML-1M temporal 80/20" not in GROUPS:
    lines += ["", "ML-1M: not run here (offline, no cached copy); `mfrec datasets download ml-1m` then re-run."]
write_section("accuracy", "\n".join(lines))
print("\n".join(lines))
