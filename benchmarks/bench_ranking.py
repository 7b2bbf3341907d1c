"""Top-N lists of the explicit models against "most popular" and implicit ALS (issue 14).

usage: PYTHONPATH=src python benchmarks/bench_ranking.py [--data ML100K] [--models sgd,als,...]
       [--folds 5] [--candidates] [--no-folds] [--no-temporal] [--no-cold-start] [--lists 1,196,405]

Prints, with mfrec's own metric code (``mfrec.evaluation.score``, NDCG@10, relevant = rating >= 4):

1. ML-100k folds u1..u5: for every explicit model NDCG@10 ranked by predicted rating
   (``rank_by="rating"``, the lists before issue 14) and by the default pick x like,
   the RMSE of the same fitted model under both (predict does not depend on rank_by),
   and the default lists' coverage, mean popularity and novelty; popularity and
   implicit-als alongside. With ``--candidates`` also the other rankings weighed
   (lower confidence bound, minimum support, popularity x rating, pick alone).
2. The time-ordered protocol: train on the earliest 80% of ratings, test on the rest.
3. The cold-start protocol at 5 and 10 revealed ratings: fold-in NDCG@10 against popularity.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import ML100K

from mfrec.data.interactions import Interactions
from mfrec.evaluation import make_splits, score
from mfrec.evaluation.coldstart import cold_start_curve
from mfrec.models import Recommender, make_model

EXPLICIT = ("sgd", "als", "nmf", "svd", "baseline", "bayesian", "adam")
K = 10


def candidates(model: Recommender) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Ranking scores of the alternatives the issue lists, from the fitted model's own parts."""
    rating = type(model).score_items.__get__(model)
    counts = model.item_counts_.astype(np.float32)
    low, high = model.rating_scale_

    def like(rows: np.ndarray) -> np.ndarray:
        return np.clip((rating(rows) - low) / (high - low), 0.0, 1.0)

    def pick(rows: np.ndarray) -> np.ndarray:
        return model.pick_user_factors_[rows] @ model.pick_item_factors_.T

    return {
        "lower bound r - 3/sqrt(n_i+1)": lambda rows: rating(rows) - 3.0 / np.sqrt(counts + 1.0),
        "min support n_i >= 20": lambda rows: np.where(counts >= 20, rating(rows), rating(rows) - 100.0),
        "popularity x like": lambda rows: counts * like(rows),
        "pick alone": pick,
    }


def measure(
    model: Recommender,
    train: Interactions,
    test: Interactions,
    ranking: str,
    scorer: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, Any]:
    """``score`` of the fitted ``model`` with its lists ordered by ``ranking`` (or by ``scorer``)."""
    saved = model.rank_by
    model.rank_by = ranking
    if scorer is not None:
        model.score_items = scorer  # this instance only, for the candidates
    try:
        return score(model, train, test, k=K)
    finally:
        model.rank_by = saved
        model.__dict__.pop("score_items", None)


def mean(rows: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([row[key] for row in rows]))


def fold_table(splits: list, models: list[str], with_candidates: bool) -> None:
    print(f"\n## ML-100k folds u1..u{len(splits)}: NDCG@{K} and RMSE (mean over folds)\n")
    print(
        f"| model | NDCG@{K} by rating (before) | NDCG@{K} default (pick x like) | RMSE by rating | RMSE default "
        f"| coverage@{K} | popularity@{K} | novelty@{K} |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in ("popularity", "implicit-als"):
        rows = []
        for train, test in splits:
            rows.append(score(make_model(name).fit(train), train, test, k=K))
        print(
            f"| {name} | | {mean(rows, f'ndcg@{K}'):.4f} | | | {mean(rows, f'coverage@{K}'):.3f} "
            f"| {mean(rows, f'popularity@{K}'):.1f} | {mean(rows, f'novelty@{K}'):.2f} |",
            flush=True,
        )
    catalogue = []
    extra: dict[str, dict[str, list[float]]] = {}
    for name in models:
        before, after = [], []
        for train, test in splits:
            model = make_model(name).fit(train)
            before.append(measure(model, train, test, "rating"))
            after.append(measure(model, train, test, "pick-like"))
            catalogue.append(after[-1]["catalogue_popularity"])
            if with_candidates:
                for label, scorer in candidates(model).items():
                    extra.setdefault(label, {}).setdefault(name, []).append(
                        measure(model, train, test, "rating", scorer)[f"ndcg@{K}"]
                    )
        print(
            f"| {name} | {mean(before, f'ndcg@{K}'):.4f} | {mean(after, f'ndcg@{K}'):.4f} "
            f"| {mean(before, 'rmse'):.4f} | {mean(after, 'rmse'):.4f} | {mean(after, f'coverage@{K}'):.3f} "
            f"| {mean(after, f'popularity@{K}'):.1f} | {mean(after, f'novelty@{K}'):.2f} |",
            flush=True,
        )
    print(f"\nCatalogue: mean ratings per item {np.mean(catalogue):.1f}.")
    if with_candidates:
        print(f"\n### Other rankings weighed (NDCG@{K}, same fitted models)\n")
        print("| ranking | " + " | ".join(models) + " |")
        print("|---|" + "---|" * len(models))
        for label, per_model in extra.items():
            print(f"| {label} | " + " | ".join(f"{np.mean(per_model[m]):.4f}" for m in models) + " |")


def temporal_table(data: Any, models: list[str]) -> None:
    _, [(train, test)] = make_splits(data, "temporal", test_fraction=0.2)
    print(f"\n## Time-ordered ML-100k: train on the earliest 80% of ratings, NDCG@{K} on the rest\n")
    print(f"| model | NDCG@{K} by rating (before) | NDCG@{K} default | popularity@{K} | users evaluated |")
    print("|---|---|---|---|---|")
    for name in ("popularity", "implicit-als"):
        result = score(make_model(name).fit(train), train, test, k=K)
        print(
            f"| {name} | | {result[f'ndcg@{K}']:.4f} | {result[f'popularity@{K}']:.1f} | {result['users_evaluated']} |",
            flush=True,
        )
    for name in models:
        model = make_model(name).fit(train)
        before, after = measure(model, train, test, "rating"), measure(model, train, test, "pick-like")
        print(
            f"| {name} | {before[f'ndcg@{K}']:.4f} | {after[f'ndcg@{K}']:.4f} | {after[f'popularity@{K}']:.1f} "
            f"| {after['users_evaluated']} |",
            flush=True,
        )


def cold_start_table(data: Any, models: list[str]) -> None:
    from mfrec.data import load

    interactions = load(data)
    print(f"\n## Cold-start protocol (200 held-out users, seed 0, mfrec's defaults): NDCG@{K} at 5 and 10 revealed\n")
    print(
        "| model | fold-in @5 by rating | fold-in @5 default | popularity @5 | fold-in @10 by rating "
        "| fold-in @10 default | popularity @10 |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in models:
        cells = {}
        for ranking in ("rating", "pick-like"):

            def factory(name: str = name, ranking: str = ranking) -> Recommender:
                return make_model(name, rank_by=ranking)

            # The protocol's default reveal points (0..20), so held-out users and test sets are the standard ones.
            curve = cold_start_curve(interactions, factory, methods=("fold-in", "popularity"), k=K)
            for row in curve:
                cells[(row["method"], row["revealed"], ranking)] = row[f"ndcg@{K}"]
        print(
            f"| {name} | "
            + " | ".join(
                f"{cells[key]:.4f}"
                for n in (5, 10)
                for key in (("fold-in", n, "rating"), ("fold-in", n, "pick-like"), ("popularity", n, "rating"))
            )
            + " |",
            flush=True,
        )


def lists(data: Any, models: list[str], users: list[str]) -> None:
    """The top-10 lists, with titles, of a few users under both rankings (each model fitted on all of ``data``)."""
    from mfrec.data import load

    interactions = load(data)
    for name in models:
        model = make_model(name).fit(interactions)
        for user in users:
            for ranking in ("rating", "pick-like"):
                model.rank_by = ranking
                frame = model.recommend(user, n=K)
                label = "by predicted rating (before)" if ranking == "rating" else "default, pick x like"
                print(f"\n{name}, user {user}, {label}:")
                counts = model.item_counts_[model.item_map_.lookup(frame["item"])]
                for title, rating, count in zip(frame.get("title", frame["item"]), frame["score"], counts):
                    print(f"  {rating:4.2f}  {count:4d} ratings  {title}")
            model.rank_by = "pick-like"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ML100K))
    parser.add_argument("--models", default=",".join(EXPLICIT))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--candidates", action="store_true", help="also measure the other rankings weighed")
    parser.add_argument("--no-folds", action="store_true")
    parser.add_argument("--no-temporal", action="store_true")
    parser.add_argument("--no-cold-start", action="store_true")
    parser.add_argument("--lists", default="", help="comma-separated user ids: print their top-10 lists, titled")
    args = parser.parse_args()
    models = args.models.split(",")
    if args.lists:
        lists(args.data, models, args.lists.split(","))
        return
    if not args.no_folds:
        _, splits = make_splits(args.data, "ml100k-folds")
        fold_table(splits[: args.folds], models, args.candidates)
    if not args.no_temporal:
        temporal_table(args.data, models)
    if not args.no_cold_start:
        cold_start_table(args.data, models)


if __name__ == "__main__":
    main()
