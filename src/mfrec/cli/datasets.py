"""``mfrec datasets list | info | synth | download``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mfrec.cli.common import (
    AsJson,
    Duplicates,
    Encoding,
    ItemCol,
    Quiet,
    RatingCol,
    RatingScale,
    Sep,
    TimestampCol,
    UserCol,
    columns_line,
    handle_errors,
    print_json,
    progress_bar,
    read_options,
    stderr,
    stdout,
)

app = typer.Typer(help="Find, describe, generate and download datasets.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_datasets(json_output: AsJson = False) -> None:
    """MovieLens releases mfrec knows and where (if anywhere) each is found locally."""
    from mfrec.data.movielens import RELEASES, DatasetNotFoundError, locate

    rows = []
    for name, release in RELEASES.items():
        try:
            where = str(locate(name, download=False))
        except DatasetNotFoundError:
            where = None
        rows.append({"name": name, "found": where, "url": release.url, "md5": release.md5})
    if json_output:
        print_json(rows)
    else:
        for row in rows:
            stdout.print(
                f"{row['name']:<16} {row['found'] or 'not found (mfrec datasets download ' + row['name'] + ')'}"
            )


@app.command()
@handle_errors
def info(
    data: Annotated[str, typer.Argument(metavar="DATA", help="Ratings file or MovieLens folder.")],
    sep: Sep = None,
    user_col: UserCol = "user",
    item_col: ItemCol = "item",
    rating_col: RatingCol = "rating",
    timestamp_col: TimestampCol = None,
    rating_scale: RatingScale = None,
    duplicates: Duplicates = None,
    encoding: Encoding = None,
    json_output: AsJson = False,
) -> None:
    """Users, items, ratings, sparsity, rating scale and the popularity long tail."""
    from mfrec.data import load, summarize

    options = read_options(sep, user_col, item_col, rating_col, rating_scale, duplicates, encoding, timestamp_col)
    summary = summarize(load(data, **options))
    if json_output:
        print_json(summary)
        return
    stdout.print(
        f"[bold]{summary['name']}[/]: {summary['users']:,} users x {summary['items']:,} items, "
        f"{summary['ratings']:,} ratings",
        markup=True,
    )
    stdout.print(
        f"density {summary['density']:.4%} (sparsity {summary['sparsity']:.4%}), "
        f"scale {summary['rating_scale']} ({summary['rating_scale_source']}; --rating-scale declares it), "
        f"mean {summary['rating_mean']:.3f} ± {summary['rating_std']:.3f}"
    )
    stdout.print(columns_line(summary["columns"], summary["duplicates"]), markup=False)
    per_user, per_item = summary["ratings_per_user"], summary["ratings_per_item"]
    stdout.print(f"ratings per user: min {per_user['min']}, median {per_user['median']:g}, max {per_user['max']}")
    stdout.print(f"ratings per item: min {per_item['min']}, median {per_item['median']:g}, max {per_item['max']}")
    share = summary["top_items_share"]
    stdout.print(
        f"long tail: top 1% of items get {share['1%']:.1%} of ratings, top 10% {share['10%']:.1%}, "
        f"top 20% {share['20%']:.1%}; Gini {summary['gini_items']:.3f}"
    )
    if "rating_histogram" in summary:
        stdout.print("histogram: " + ", ".join(f"{k}: {v:,}" for k, v in summary["rating_histogram"].items()))


@app.command()
@handle_errors
def synth(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write; its suffix picks the format: .parquet, .csv or .tsv.")
    ],
    users: Annotated[int | None, typer.Option(help="Number of users (default ratings/100, >= 10,000).")] = None,
    items: Annotated[int | None, typer.Option(help="Number of items (default ratings/500, >= 5,000).")] = None,
    ratings: Annotated[int, typer.Option(help="Number of ratings (written in 5M-row chunks, any size).")] = 1_000_000,
    factors: Annotated[int, typer.Option(help="Rank of the hidden taste.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    quiet: Quiet = False,
) -> None:
    """Write a synthetic ratings set (low-rank taste + biases + noise, power-law popularity) as Parquet, CSV or TSV."""
    from mfrec.data.synthetic import SyntheticSpec, synthetic_format, write_synthetic

    # The defaults keep the shape of the 20M set (100 ratings a user, 0.2% dense): 1M users x 200k items at 100M.
    users = users if users is not None else max(10_000, ratings // 100)
    items = items if items is not None else max(5_000, ratings // 500)
    spec = SyntheticSpec(n_users=users, n_items=items, n_ratings=ratings, n_factors=factors, seed=seed)
    spec.check()
    synthetic_format(output)  # refuse an unknown suffix before generating anything
    with progress_bar(quiet, "generating", ratings) as advance:
        write_synthetic(output, spec, progress=advance)
    if not quiet:
        stdout.print(f"wrote {ratings:,} ratings to {output}")


@app.command()
@handle_errors
def download(
    name: Annotated[
        str, typer.Argument(help="ml-100k | ml-1m | ml-10m | ml-20m | ml-25m | ml-latest-small | ml-latest")
    ],
    quiet: Quiet = False,
) -> None:
    """Download a MovieLens release into the cache (checksum verified)."""
    from mfrec.data.movielens import fetch

    with progress_bar(quiet, f"downloading {name}", None) as advance:
        folder = fetch(name, progress=lambda n, total: advance(n, total=total or None))
    if not quiet:
        stderr.print(f"{name} is in {folder}")
    stdout.print(str(folder))
