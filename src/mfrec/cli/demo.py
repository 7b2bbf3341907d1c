"""``mfrec demo``: the whole path from a ratings file to evaluated, explained recommendations."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from mfrec.cli.common import warm_kernels
from mfrec.cli.tables import metrics_table
from mfrec.data import load, movies, random_split
from mfrec.data.interactions import Interactions
from mfrec.data.movielens import locate
from mfrec.evaluation import BASELINES, score
from mfrec.exceptions import DatasetNotFoundError
from mfrec.models import MatrixFactorization, make_model
from mfrec.ranking import PICK_LIKE_NOTE
from mfrec.reports.run import write_report, write_run


def find_demo_data(path: str | None, console: Console) -> tuple[Interactions, Path | None]:
    """ml-100k (and its folder) from ``path`` / $MFREC_DATA / the cache / a download, else the synthetic set."""
    try:
        folder = locate("ml-100k", path)
        console.print(f"Using MovieLens 100k from {folder}")
        return load(folder), folder
    except DatasetNotFoundError as exc:
        if path is not None:
            raise
        console.print(f"[yellow]MovieLens 100k not available[/] ({exc}).")
        console.print("Using the built-in synthetic movie set instead (943 users, 1,682 movies, 100k ratings).")
        return movies(seed=0), None


def run_demo(data_path: str | None, output: Path, *, console: Console, quiet: bool = False) -> dict[str, Any]:

    data, folder = find_demo_data(data_path, console)
    train, test = random_split(data, 0.2, seed=0)
    console.print(f"{data}: training on {len(train):,} ratings, testing on {len(test):,} (random 80/20, seed 0)")

    results: dict[str, dict[str, Any]] = {}
    model = MatrixFactorization()
    # Compile first (a first run says so), so the table's "fit s" is the fit, not the compiler.
    warm_kernels([model, *(make_model(name) for name in BASELINES)], quiet, validation=True, track_ndcg=10)
    status = console.status("training biased MF by SGD ...") if not quiet else None
    if status:
        status.start()
    model.fit(train, validation=test, track_ndcg=10)
    if status:
        status.stop()
    results["sgd"] = {**score(model, train, test), "fit_seconds": model.fit_seconds_}
    baselines = {}
    for name in BASELINES:
        baseline = make_model(name).fit(train)
        baselines[name] = baseline
        results[name] = {**score(baseline, train, test), "fit_seconds": baseline.fit_seconds_}
    console.print(metrics_table(results, 10, "Held-out accuracy: the model against the baselines"))
    gain = results["baseline"]["rmse"] - results["sgd"]["rmse"]
    console.print(f"Biased MF cuts RMSE by {gain:.3f} below the user+item-bias baseline.")

    # A user with a clear taste: the one with the most training ratings among the first 50.
    counts = np.bincount(train.user_idx, minlength=train.n_users)[:50]
    user = train.user_ids.to_ids([int(np.argmax(counts))])[0]
    mine = train.to_frame().query("user == @user").sort_values("rating", ascending=False).head(5)
    titles = train.item_titles(mine["item"].to_numpy()) or [str(i) for i in mine["item"]]
    console.print(f"\nUser {user} rated highly:")
    for title, rating in zip(titles, mine["rating"]):
        console.print(f"  {rating:.0f}★  {title}")
    console.print(f"\nTop-10 recommendations for user {user} (items they have not rated):")
    if getattr(model, "rank_by", None) == "pick-like":  # the list is not sorted by the number beside each title
        console.print(textwrap.fill(f"({PICK_LIKE_NOTE})", 78, initial_indent="  ", subsequent_indent="   "))
    recs = model.recommend(user, n=10)
    for row in recs.itertuples():
        console.print(f"  {row.rank:>2}. {getattr(row, 'title', row.item)}  (predicted {row.score:.2f})")

    output.mkdir(parents=True, exist_ok=True)
    write_run(output, data, results, model, protocol="holdout", data_path=folder)
    # The report writes each of its charts as a PNG too, under the names the README shows.
    report = write_report(output, output / "report.html", images=output)
    charts = ", ".join(path.name for path in sorted(output.glob("*.png")))
    console.print(f"\nWrote the charts ({charts}) and the model ({output / 'model'}) to {output}/")
    console.print(f"and the HTML report {report}")
    console.print(f"Next: mfrec recommend {output / 'model'} --user {user}")
    return results
