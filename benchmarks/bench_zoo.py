"""Every model's defaults, the bias baseline, popularity and the peers on every log of the zoo, one protocol.

usage: python benchmarks/bench_zoo.py [--logs NAME ...] [--models NAME ...] [--peers NAME ... | --no-peers]
                                      [--quick] [--max-ratings N] [--peer-timeout S] [--update-results]

The logs are built by ``benchmarks/zoo/fetch_zoo.py`` (``benchmarks/.data/zoo/<name>.parquet``); a missing log is
reported and skipped. The protocol is the one of ``shared/UNSEEN-DATA.md``:

- rows with a missing or out-of-scale rating are dropped (and counted); duplicate (user, item) rows: the last one in
  file order is kept; a log over ``--max-ratings`` (default 100,000) keeps a seeded random sample of its users
  (seed 0) until the cap is reached, so a run of the whole zoo stays under half an hour on two cores;
- per-user split: each user's last 20% of ratings by time when the log has timestamps, else a seeded (0) random
  20% of each user's ratings (round(0.2 n); a user with one rating keeps it in train);
- RMSE / MAE on the warm test pairs (user and item in train) through each system's ``predict``, clipped to the
  scale; NDCG@10 and recall@10 on each system's own top-10 list (mfrec: ``model.recommend(users, n=10)``, train
  items excluded; peers: their top-10 scores among train items, train items removed) for every test user known
  in train with at least one relevant test item: test rating >= the log's "liked" level (4 on 1-5 and 0.5-5, 3 on
  0.5-4, otherwise 3/4 of the way up the scale rounded up to its step: 8 on 1-10); a relevant item absent from
  train is a miss. One function, :func:`score`, scores every system.
- one thread per system (``MFREC_NUM_THREADS=1``; the peers' BLAS/OpenMP at 1), seed 0, defaults only. The
  peers run one at a time in a subprocess of the peers' venv while mfrec fits in this one (two processes: two
  cores); fit seconds are wall time and a little noisy for that.

New models are one line in ``MODELS`` (a name and a zero-argument factory).
"""

from __future__ import annotations

import os

os.environ["MFREC_NUM_THREADS"] = "1"

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from _common import HERE, PEERS_PYTHON, machine, write_section

from mfrec.data import from_frame, synthetic
from mfrec.evaluation.metrics import ndcg_at_k, recall_at_k
from mfrec.models import (
    ALS,
    NMF,
    BayesianMF,
    Biases,
    EmbeddingAdam,
    MatrixFactorization,
    Popularity,
    SVDpp,
    TruncatedSVD,
)
from mfrec.models.choose import choose_model

ZOO = HERE / ".data" / "zoo"
#: Every mfrec system the zoo runs, by name: a zero-argument factory giving the model with its defaults.
#: "baseline" and "popularity" are the references every other model is checked against.
MODELS = {
    "baseline": lambda: Biases(),
    "popularity": lambda: Popularity(),
    "sgd": lambda: MatrixFactorization(),
    "als": lambda: ALS(),
    "bayesian": lambda: BayesianMF(),
    "adam": lambda: EmbeddingAdam(),
    "nmf": lambda: NMF(),
    "svd": lambda: TruncatedSVD(),
    "svdpp": lambda: SVDpp(),
    "sgd auto": lambda: MatrixFactorization(auto=True),
    "als auto": lambda: ALS(auto=True),
    "adam auto": lambda: EmbeddingAdam(auto=True),
    "nmf auto": lambda: NMF(auto=True),
    "svdpp auto": lambda: SVDpp(auto=True),
    "bayesian auto": lambda: BayesianMF(auto=True),
    "model auto": lambda: ChosenModel(),
}
REFERENCES = ("baseline", "popularity")


class ChosenModel:
    """``mfrec train --model auto``: fit returns the model it chose (sgd, als or bayesian) and tuned."""

    def fit(self, train):
        return choose_model(train)


#: The peers (benchmarks/peers/zoo_peers.py), in their usual settings (UNSEEN-DATA.md).
PEERS = {
    "surprise-baseline": "Surprise BaselineOnly()",
    "surprise-svd": "Surprise SVD()",
    "surprise-svd-tuned": "Surprise SVD(n_factors=100, n_epochs=40, lr_all=0.01, reg_all=0.08)",
    "surprise-svdpp": "Surprise SVDpp()",
    "cmfrec": 'cmfrec CMF(k=50, lambda_=10, method="als")',
    "myfm-mf": "myFM MyFMRegressor(rank=10), 200 sweeps (150 kept), MF",
    "myfm-flipped": "myFM MyFMRegressor(rank=10), 200 sweeps (150 kept), SVD++ flipped",
}
REAL_FIRST = [
    "anime",
    "book-crossing",
    "jester",
    "yahoo-music",
    "yahoo-movies",
    "amazon-music",
    "x-wines",  # round four's check logs (never used to choose a default): wine, 1-5 in halves, dated
    "boardgames",  # board games, continuous 1-10, 74% dense
    "ml-100k",
    "ml-100k-keep30",
    "ml-100k-keep10",
    "ml-100k-longtail",
    "synth-dense",
    "synth-1pct",
    "synth-sparse",
    "synth-mnar",
    "synth-0.03pct",
]
QUICK_LOGS = ["jester", "amazon-music", "ml-100k-keep10"]
QUICK_MODELS = ["baseline", "popularity", "sgd", "als"]
QUICK_PEERS = ["surprise-baseline", "cmfrec"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", nargs="+", help=f"zoo logs (default: every built one of {', '.join(REAL_FIRST)})")
    parser.add_argument("--models", nargs="+", help=f"mfrec systems (default: {', '.join(MODELS)})")
    parser.add_argument("--peers", nargs="*", help=f"peers (default: all of {', '.join(PEERS)})")
    parser.add_argument("--no-peers", action="store_true", help="mfrec only")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 3 small logs, 4 models, 2 peers, <= 20k ratings"
    )
    parser.add_argument("--max-ratings", type=int, default=100_000, help="cap per log (seeded user sample)")
    parser.add_argument("--peer-timeout", type=float, default=300.0, help="seconds per peer and log")
    args = parser.parse_args()
    if args.quick:
        args.logs = args.logs or QUICK_LOGS
        args.models = args.models or QUICK_MODELS
        args.peers = args.peers if args.peers is not None else QUICK_PEERS
        args.max_ratings = min(args.max_ratings, 20_000)
    args.models = args.models or list(MODELS)
    for name in args.models:
        if name not in MODELS:
            sys.exit(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    for name in REFERENCES:  # the checks need both references
        if name not in args.models:
            args.models.insert(0, name)
    args.peers = [] if args.no_peers else (args.peers if args.peers is not None else list(PEERS))
    for name in args.peers:
        if name not in PEERS:
            sys.exit(f"unknown peer {name!r}; choose from {', '.join(PEERS)}")
    if args.peers and not PEERS_PYTHON.exists():
        print(f"peers: not run ({PEERS_PYTHON} missing: run benchmarks/setup_peers.sh)", file=sys.stderr)
        args.peers = []
    return args


def load_log(name: str, max_ratings: int) -> tuple[pd.DataFrame, dict, list[str]] | None:
    """The log's cleaned frame (user, item, rating[, timestamp]), its metadata and notes; None if not built."""
    path, meta_path = ZOO / f"{name}.parquet", ZOO / f"{name}.json"
    if not path.exists() or not meta_path.exists():
        print(f"{name}: not built, skipped (run benchmarks/zoo/fetch_zoo.py)", file=sys.stderr)
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("kind", "explicit") != "explicit":  # steam's hours played: bench_playcount.py, not a rating zoo
        print(f"{name}: {meta['kind']} feedback ({meta.get('value')}), not ratings: skipped", file=sys.stderr)
        return None
    frame = pd.read_parquet(path)
    frame["user"], frame["item"] = frame["user"].astype(str), frame["item"].astype(str)
    low, high = meta["scale"]
    notes = []
    ok = frame["rating"].notna() & (frame["rating"] >= low) & (frame["rating"] <= high)
    if (~ok).sum():
        notes.append(f"{int((~ok).sum())} rows with a missing or out-of-scale rating dropped")
        frame = frame[ok]
    before = len(frame)
    frame = frame.drop_duplicates(["user", "item"], keep="last")
    if before > len(frame):
        notes.append(f"{before - len(frame)} duplicate (user, item) rows: last kept")
    if len(frame) > max_ratings:
        users = frame["user"].unique()
        order = np.random.default_rng(0).permutation(len(users))
        counts = frame.groupby("user", sort=False).size().reindex(users[order]).to_numpy()
        keep = set(users[order][: int(np.searchsorted(np.cumsum(counts), max_ratings)) + 1])
        sampled = frame[frame["user"].isin(keep)]
        notes.append(
            f"{len(keep):,} of {len(users):,} users sampled (seed 0): {len(sampled):,} of {len(frame):,} ratings"
        )
        frame = sampled
    return frame.reset_index(drop=True), meta, notes


def split(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user: the last 20% by time (timestamps) or a seeded random 20%; round(0.2 n) test rows a user."""
    if "timestamp" in frame.columns:
        order = np.lexsort((np.arange(len(frame)), frame["timestamp"].to_numpy(), frame["user"].to_numpy()))
        ordered = frame.iloc[order]
        position = ordered.groupby("user", sort=False).cumcount().to_numpy()
        size = ordered.groupby("user", sort=False)["item"].transform("size").to_numpy()
        test = position >= size - np.floor(0.2 * size + 0.5)
    else:
        ordered = frame.iloc[np.random.default_rng(seed).permutation(len(frame))]
        position = ordered.groupby("user", sort=False).cumcount().to_numpy()
        size = ordered.groupby("user", sort=False)["item"].transform("size").to_numpy()
        test = position < np.floor(0.2 * size + 0.5)
    test &= size > 1
    return ordered[~test].sort_index(), ordered[test].sort_index()


def score(test: pd.DataFrame, warm: np.ndarray, pred: np.ndarray | None, lists: dict, scale, liked: float) -> dict:
    """The one metric function for every system: RMSE/MAE on the warm test rows (pred clipped to the scale),
    NDCG@10 / recall@10 of each test user's list (users known in train with a relevant test item)."""
    out = {"rmse": float("nan"), "mae": float("nan")}
    if pred is not None:
        error = np.clip(np.asarray(pred, dtype=np.float64), *scale) - test["rating"].to_numpy()[warm]
        out["rmse"], out["mae"] = float(np.sqrt(np.mean(error**2))), float(np.mean(np.abs(error)))
    liked_rows = test[test["rating"] >= liked]
    relevant = liked_rows.groupby("user")["item"].apply(set)
    users = [u for u in relevant.index if u in lists]
    out["ndcg"] = float(np.mean([ndcg_at_k(lists[u], relevant[u], 10) for u in users])) if users else float("nan")
    out["recall"] = float(np.mean([recall_at_k(lists[u], relevant[u], 10) for u in users])) if users else float("nan")
    out["scored_users"] = len(users)
    return out


def run_mfrec(name: str, train, test: pd.DataFrame, warm: np.ndarray, list_users: list[str]) -> dict:
    model = MODELS[name]()
    started = time.perf_counter()
    model = model.fit(train)  # "model auto" returns the model it chose
    seconds = time.perf_counter() - started
    try:
        pred = np.asarray(model.predict(test["user"].to_numpy()[warm], test["item"].to_numpy()[warm]), dtype=float)
    except Exception as exc:  # a ranking-only model (popularity) has no ratings to predict
        print(f"  {name}: no predict ({type(exc).__name__}: {exc})"[:200], file=sys.stderr)
        pred = None
    recs = model.recommend(list_users, n=10)
    lists = {str(u): [str(i) for i in group["item"]] for u, group in recs.groupby("user", sort=False)}
    return {"pred": pred, "lists": lists, "fit_seconds": seconds}


def warm_up(models: list[str]) -> None:
    """Fit each model once on a tiny synthetic set, so that no fit time below includes numba's compilation."""
    tiny = synthetic(200, 100, 4_000, seed=1)
    for name in models:
        try:
            MODELS[name]().fit(tiny).recommend([1, 2], n=10)
        except Exception as exc:
            print(f"warm-up of {name} failed: {exc}"[:200], file=sys.stderr)


def run_peer(peer: str, folder: Path, scale, timeout: float) -> dict:
    out = folder / f"{peer}.json"
    command = [str(PEERS_PYTHON), str(HERE / "peers" / "zoo_peers.py"), peer, str(folder / "train.tsv")]
    command += [str(folder / "test.tsv"), str(scale[0]), str(scale[1]), str(out)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1][:200] if done.stderr.strip() else f"rc {done.returncode}"}
    return json.loads(out.read_text())


def fmt(value: float, digits: int = 4) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def main() -> None:
    args = parse_args()
    names = args.logs or [n for n in REAL_FIRST if (ZOO / f"{n}.parquet").exists()]
    if not names:
        sys.exit(f"no zoo logs in {ZOO}: run benchmarks/zoo/fetch_zoo.py first")
    results: dict[str, dict] = {}
    workdir = Path(tempfile.mkdtemp(prefix="zoo-"))
    pool = ThreadPoolExecutor(max_workers=1)
    pending: dict[tuple[str, str], Future] = {}
    started_all = time.perf_counter()
    warm_up(args.models)
    for name in names:
        loaded = load_log(name, args.max_ratings)
        if loaded is None:
            continue
        frame, meta, notes = loaded
        scale, liked = tuple(meta["scale"]), float(meta["liked"])
        train_frame, test = split(frame)
        train = from_frame(train_frame, rating_scale=scale, name=name)
        known_users, known_items = set(train_frame["user"]), set(train_frame["item"])
        warm = (test["user"].isin(known_users) & test["item"].isin(known_items)).to_numpy()
        list_users = sorted(set(test["user"]) & known_users)
        users, items = frame["user"].nunique(), frame["item"].nunique()
        results[name] = {
            "meta": {
                **{k: meta[k] for k in ("domain", "source", "scale", "real", "use") if k in meta},
                "liked": liked,
                "users": int(users),
                "items": int(items),
                "ratings": int(len(frame)),
                "density": len(frame) / (users * items),
                "timestamps": "timestamp" in frame.columns,
                "test_rows": int(len(test)),
                "warm_rows": int(warm.sum()),
                "notes": notes,
            },
            "systems": {},
        }
        print(
            f"{name}: {users:,} x {items:,}, {len(frame):,} ratings; test {len(test):,} ({warm.sum():,} warm)"
            + (f"; {'; '.join(notes)}" if notes else ""),
            flush=True,
        )
        if args.peers:
            folder = workdir / name
            folder.mkdir()
            train_frame[["user", "item", "rating"]].to_csv(folder / "train.tsv", sep="\t", header=False, index=False)
            test[["user", "item", "rating"]].to_csv(folder / "test.tsv", sep="\t", header=False, index=False)
            for peer in args.peers:
                pending[(name, peer)] = pool.submit(run_peer, peer, folder, scale, args.peer_timeout)
        for model in args.models:
            try:
                raw = run_mfrec(model, train, test, warm, list_users)
                row = {**score(test, warm, raw["pred"], raw["lists"], scale, liked), "fit_seconds": raw["fit_seconds"]}
            except Exception as exc:
                row = {"error": f"{type(exc).__name__}: {exc}"[:200]}
            results[name]["systems"][f"mfrec {model}"] = row
            print(
                f"  mfrec {model}: {json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})}",
                flush=True,
            )
        results[name]["_test"], results[name]["_warm"] = test, warm
    for (name, peer), future in pending.items():
        raw = future.result()
        entry = results[name]
        test, warm = entry["_test"], entry["_warm"]
        if "error" in raw:
            row = {"error": raw["error"]}
        else:
            pred = np.full(len(test), np.nan)
            for index, value in raw["pred"].items():
                pred[int(index)] = value
            # the peer writes an estimate for exactly the warm rows, in the positions of test.tsv
            row = {
                **score(test, warm, pred[warm], raw["lists"], tuple(entry["meta"]["scale"]), entry["meta"]["liked"]),
                "fit_seconds": raw["fit_seconds"],
            }
        entry["systems"][peer] = row
        print(
            f"  {name} {peer}: {json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})}",
            flush=True,
        )
    pool.shutdown()
    for entry in results.values():
        entry.pop("_test"), entry.pop("_warm")
    total = time.perf_counter() - started_all
    body = report(results, args, total)
    run = write_section("zoo", body)
    (run / "results.json").write_text(json.dumps(results, indent=1, default=float))
    print(body)


def report(results: dict, args: argparse.Namespace, total: float) -> str:
    command = "python benchmarks/bench_zoo.py" + (" --quick" if args.quick else "")
    lines = [
        "## Zoo: every default on logs of other domains, densities and scales",
        "",
        f"`{command}` (logs from `python benchmarks/zoo/fetch_zoo.py`; see benchmarks/zoo/README.md) — "
        f"{machine()}; whole run {total / 60:.1f} min",
        "",
        "Protocol of shared/UNSEEN-DATA.md: duplicates → last kept; per-user split, last 20% by time when the log",
        "has timestamps, else a seeded random 20%; RMSE/MAE on warm test pairs, clipped to the scale; NDCG@10 and",
        "recall@10 of each system's own top-10 (train items excluded), relevant = test rating ≥ the liked level; one",
        f"thread per system, seed 0, defaults only. Logs over {args.max_ratings:,} ratings keep a seeded sample of",
        "their users. ✓/✗: RMSE ≤ mfrec baseline's / NDCG@10 ≥ mfrec popularity's on that log.",
        "",
        "### Logs",
        "",
        "| log | domain | users | items | ratings | density | scale | liked ≥ | time split? |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in results.items():
        m = entry["meta"]
        lines.append(
            f"| {name} | {m['domain']} | {m['users']:,} | {m['items']:,} | {m['ratings']:,} | {m['density']:.3%} | "
            f"{m['scale'][0]:g}–{m['scale'][1]:g} | {m['liked']:g} | {'yes' if m['timestamps'] else 'no'} |"
        )
    notes = [f"- {name}: {'; '.join(e['meta']['notes'])}" for name, e in results.items() if e["meta"]["notes"]]
    if notes:
        lines += ["", *notes]
    models = [f"mfrec {m}" for m in args.models if m not in REFERENCES]
    lines += ["", "### Summary: each mfrec default vs the bias baseline (RMSE) / popularity (NDCG@10)", ""]
    lines += ["| model | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
    for model in models:
        cells = []
        for entry in results.values():
            rows = entry["systems"]
            row, base, pop = rows.get(model, {}), rows.get("mfrec baseline", {}), rows.get("mfrec popularity", {})
            if "rmse" not in row:
                cells.append("error")
                continue
            rmse_ok = "✓" if row["rmse"] <= base.get("rmse", np.inf) else "✗"
            ndcg_ok = "✓" if row["ndcg"] >= pop.get("ndcg", -np.inf) else "✗"
            cells.append(f"{rmse_ok} {ndcg_ok}")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    autos = [m for m in models if m.endswith(" auto")]  # "mfrec model auto": the model chosen, then tuned
    if autos:
        lines += [
            "",
            "### `auto` vs the best default (mfrec's or a peer's) + 0.002 RMSE",
            "",
            "Bar of issue 27: an `auto` fit within 0.002 RMSE of the best default RMSE on the log, mfrec's "
            "(of the models run here: `--models bayesian` adds the Bayesian model) or a peer's. The figure is "
            "auto's RMSE minus that best default. `model auto` is `mfrec train --model auto`: the lowest held-out "
            "RMSE of sgd, als and bayesian defaults, then that model's auto.",
            "",
            "| model | " + " | ".join(results) + " |",
            "|---|" + "---|" * len(results),
        ]
        for model in autos:
            cells = []
            for entry in results.values():
                rows = entry["systems"]
                defaults = [
                    r["rmse"]
                    for name, r in rows.items()
                    if not name.endswith(" auto") and name != "mfrec popularity" and np.isfinite(r.get("rmse", np.nan))
                ]
                row = rows.get(model, {})
                if "rmse" not in row or not defaults:
                    cells.append("—")
                    continue
                gap = row["rmse"] - min(defaults)
                cells.append(f"{'✓' if gap <= 0.002 else '✗'} {gap:+.3f}")
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines += ["", "### RMSE / NDCG@10 per log (best RMSE in bold)", ""]
    systems = list(dict.fromkeys(s for e in results.values() for s in e["systems"]))
    lines += ["| system | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
    best = {
        n: min(
            (r.get("rmse", np.inf) for r in e["systems"].values() if np.isfinite(r.get("rmse", np.inf))), default=np.inf
        )
        for n, e in results.items()
    }
    for system in systems:
        cells = []
        for name, entry in results.items():
            row = entry["systems"].get(system)
            if row is None or "error" in row:
                cells.append("—" if row is None else "err")
                continue
            rmse = fmt(row["rmse"])
            if np.isfinite(row["rmse"]) and row["rmse"] == best[name]:
                rmse = f"**{rmse}**"
            cells.append(f"{rmse} / {fmt(row['ndcg'], 3)}")
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    for name, entry in results.items():
        m = entry["meta"]
        lines += [
            "",
            f"### {name} ({m['users']:,} users, {m['items']:,} items, {m['ratings']:,} ratings, "
            f"{m['warm_rows']:,} warm test pairs)",
            "",
            "| system | RMSE | MAE | NDCG@10 | recall@10 | fit s |",
            "|---|---|---|---|---|---|",
        ]
        for system, row in entry["systems"].items():
            if "error" in row:
                lines.append(f"| {system} | error: {row['error']} | | | | |")
                continue
            lines.append(
                f"| {system} | {fmt(row['rmse'])} | {fmt(row['mae'])} | {fmt(row['ndcg'])} | {fmt(row['recall'])} | "
                f"{row['fit_seconds']:.2f} |"
            )
    if args.peers:
        lines += ["", "Peers: " + "; ".join(f"`{p}` = {PEERS[p]}" for p in args.peers) + "."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
