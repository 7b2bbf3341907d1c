"""BPR and ALS on a public play-count log (issue 30): the Steam hours-played log, next to `implicit`.

usage: python benchmarks/bench_playcount.py [--log steam] [--seeds N] [--variant LABEL=JSON ...]

The log is the zoo's ``steam`` (``benchmarks/zoo/fetch_zoo.py --only steam``: 11,350 users x 3,600 games, hours
played; the 12 (user, game) pairs listed twice are merged, hours summed). Protocol, per seed s = 0..N-1: each
user's plays are shuffled (numpy default_rng(s)) and round(20%) of them, at least 1 and at most all but one, are
held out; users with one play stay whole in train. Every system sees the same training interactions, as binary
plays (hours are not used: BPR is binary, and both ALS rows read each play as value 1, so each library applies its
own default confidence to it). Every top-10 list, mfrec's and implicit's (run in the peers' Python), excludes the
user's training games and is scored by one function (``score``): NDCG@10 and recall@10 (hits / held-out plays) by
``mfrec.evaluation.metrics`` over every test user (all are known in train), relevant = every held-out played game
(also one never played in train, which no system can recommend). Reported: mean over seeds and the range.
``--variant 'label={"learning_rate": 0.05}'`` adds an mfrec bpr row with those parameters over the defaults.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import HERE, machine, require_peers, write_section

ZOO = HERE / ".data" / "zoo"
TEST_FRACTION = 0.2
#: implicit's BPR given mfrec's bpr defaults (as in bench_bpr_sampling.py).
MFREC_BPR_SETTINGS = {"factors": 64, "iterations": 60, "learning_rate": 0.03, "regularization": 0.015}


def load(name: str) -> pd.DataFrame:
    """The log as (user, item, hours), ids as str, duplicate pairs merged (hours summed)."""
    path, meta_path = ZOO / f"{name}.parquet", ZOO / f"{name}.json"
    if not path.exists() or not meta_path.exists():
        sys.exit(f"{path} missing: run python benchmarks/zoo/fetch_zoo.py --only {name}")
    meta = json.loads(meta_path.read_text())
    if meta.get("kind") != "implicit":
        sys.exit(f"{name} is {meta.get('kind', 'explicit')} feedback, not a play-count log")
    frame = pd.read_parquet(path)[["user", "item", "rating"]].rename(columns={"rating": "hours"})
    frame["user"], frame["item"] = frame["user"].astype(str), frame["item"].astype(str)
    return frame.groupby(["user", "item"], as_index=False, sort=False)["hours"].sum()


def split(frame: pd.DataFrame, seed: int, fraction: float = TEST_FRACTION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user: round(fraction) of the plays, at least 1 and at most all but one, held out at random."""
    shuffled = frame.iloc[np.random.default_rng(seed).permutation(len(frame))]
    rank = shuffled.groupby("user", sort=False).cumcount().to_numpy()
    size = shuffled.groupby("user", sort=False)["item"].transform("size").to_numpy()
    n_test = np.where(size >= 2, np.clip(np.round(fraction * size), 1, size - 1), 0)
    test = rank < n_test
    return shuffled[~test].reset_index(drop=True), shuffled[test].reset_index(drop=True)


def score(test: pd.DataFrame, lists: dict[str, list], k: int = 10) -> tuple[float, float]:
    """Mean NDCG@k and recall@k over every test user; relevant = all of the user's held-out games. A user
    without a list scores 0."""
    from mfrec.evaluation.metrics import ndcg_at_k, recall_at_k

    relevant = test.groupby("user", sort=False)["item"].agg(set)
    ndcg = [ndcg_at_k([str(i) for i in lists.get(u, [])], rel, k) for u, rel in relevant.items()]
    recall = [recall_at_k([str(i) for i in lists.get(u, [])], rel, k) for u, rel in relevant.items()]
    return float(np.mean(ndcg)), float(np.mean(recall))


def mfrec_lists(name: str, params: dict, train: pd.DataFrame, users: list[str]) -> dict[str, list]:
    from mfrec.data import from_frame
    from mfrec.models import make_model

    data = from_frame(train[["user", "item"]], rating_col=None, name="steam")
    threads = {} if name == "popularity" else {"n_threads": 2}
    model = make_model(name, **threads, **params).fit(data)
    recs = model.recommend(users, n=10)
    return {str(u): g["item"].astype(str).tolist() for u, g in recs.groupby("user", sort=False)}


def peer_lists(configs: dict[str, dict], train: pd.DataFrame, users: list[str]) -> dict[str, dict[str, list]]:
    with tempfile.TemporaryDirectory() as folder:
        train_path, users_path = Path(folder) / "train.tsv", Path(folder) / "users.txt"
        train.assign(value=1.0)[["user", "item", "value"]].to_csv(train_path, sep="\t", header=False, index=False)
        users_path.write_text("\n".join(users) + "\n")
        command = [str(require_peers()), str(HERE / "peers/implicit_lists.py"), str(train_path), str(users_path)]
        done = subprocess.run([*command, json.dumps(configs)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"implicit failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", default="steam")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variant", action="append", default=[], help="LABEL=JSON: an extra mfrec bpr row")
    args = parser.parse_args()
    require_peers()
    frame = load(args.log)
    mfrec_systems: dict[str, tuple[str, dict]] = {
        "mfrec bpr (defaults)": ("bpr", {}),
        "mfrec implicit-als (defaults: binary confidence)": ("implicit-als", {}),
        "mfrec popularity": ("popularity", {}),
    }
    for variant in args.variant:
        label, params = variant.split("=", 1)
        mfrec_systems[f"mfrec bpr, *variant*: {label}"] = ("bpr", json.loads(params))
    peer_systems = {
        "implicit BPR (defaults)": {"model": "bpr"},
        "implicit BPR (mfrec's settings: factors 64, 60 iterations, lr 0.03, reg 0.015)": {
            "model": "bpr",
            **MFREC_BPR_SETTINGS,
        },
        "implicit ALS (defaults)": {"model": "als"},
    }
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in [*mfrec_systems, *peer_systems]}
    seconds: dict[str, float] = {k: 0.0 for k in results}
    sizes = []
    for seed in range(args.seeds):
        train, test = split(frame, seed)
        users = sorted(test["user"].unique())
        sizes.append((len(train), len(test), len(users)))
        for label, (name, params) in mfrec_systems.items():
            started = time.perf_counter()
            lists = mfrec_lists(
                name, {**params, "random_state": seed} if name != "popularity" else params, train, users
            )
            seconds[label] += time.perf_counter() - started
            results[label].append(score(test, lists))
            print(f"seed {seed} {label}: NDCG@10 {results[label][-1][0]:.4f}, recall@10 {results[label][-1][1]:.4f}")
        configs = {label: {**config, "random_state": seed} for label, config in peer_systems.items()}
        peer = peer_lists(configs, train, users)
        for label in peer_systems:
            results[label].append(score(test, peer[label]))
            print(f"seed {seed} {label}: NDCG@10 {results[label][-1][0]:.4f}, recall@10 {results[label][-1][1]:.4f}")
        sys.stdout.flush()

    def cell(values: list[float]) -> str:
        return f"{np.mean(values):.4f} [{min(values):.4f}–{max(values):.4f}]"

    variants = "".join(f" --variant '{v}'" for v in args.variant)
    n_train, n_test, n_users = (int(np.mean(column)) for column in zip(*sizes))
    lines = [
        "## BPR and ALS on a play-count log: Steam hours played (issue 30)",
        "",
        (
            f"`python benchmarks/bench_playcount.py --seeds {args.seeds}{variants}` — {machine()}. The zoo's `{args.log}` log "
            f"(`benchmarks/zoo/fetch_zoo.py --only {args.log}`: Kaggle Steam Video Games as reorganised by A. Fortes; "
            f"{len(frame):,} (user, game) plays, {frame['user'].nunique():,} users x {frame['item'].nunique():,} "
            "games, duplicate pairs merged). Per seed, each user's plays are shuffled and round(20%) of them, at "
            "least 1 and at most all but one, held out; users with a single play stay whole in train (about "
            f"{n_train:,} train / {n_test:,} test plays, {n_users:,} test users, all known in train). Every system "
            "gets the same training plays as binary interactions (hours unused; both ALS rows read value 1 with "
            "their own default confidence); lists exclude the user's training games; one function scores every "
            "list: NDCG@10 and recall@10 (hits / held-out games) over every test user, relevant = every held-out "
            "played game. mfrec and implicit get random_state = seed (implicit's BPR and ALS run Hogwild / "
            f"parallel threads: not deterministic). Mean over seeds 0..{args.seeds - 1} [range]."
        ),
        "",
        "| system | NDCG@10 | recall@10 |",
        "|---|---|---|",
    ]
    lines += [
        f"| {label} | {cell([r[0] for r in rows])} | {cell([r[1] for r in rows])} |" for label, rows in results.items()
    ]
    if args.variant:
        lines += [
            "",
            (
                "Rows marked *variant* (`--variant`) are mfrec bpr with the named parameters over its defaults, "
                "picked by looking at these same test splits: diagnostics, optimistic, not defaults."
            ),
        ]
    write_section("playcount", "\n".join(lines))
    print("\n".join(lines))
    print(
        "fit+recommend seconds (mfrec, in-process, summed over seeds): "
        + ", ".join(f"{k}: {v:.1f}" for k, v in seconds.items() if v)
    )


if __name__ == "__main__":
    main()
