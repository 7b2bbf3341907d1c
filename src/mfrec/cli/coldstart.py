"""`mfrec evaluate --protocol cold-start`: the cold-start curve as a table, JSON, a chart or a run section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from mfrec.cli.common import print_json, progress_bar, stdout


def cold_start_command(
    data: str,
    model: str,
    params: dict[str, Any],
    users: int,
    seed: int,
    k: int,
    threshold: float | None,
    plot: Path | None,
    run_dir: Path | None,
    json_output: bool,
    quiet: bool,
    options: dict[str, Any],
) -> None:
    from mfrec.data import load
    from mfrec.evaluation.coldstart import cold_start_curve
    from mfrec.models import make_model
    from mfrec.reports.run import attach_cold_start, run_file

    if run_dir is not None:
        run_file(run_dir)  # fail before the curve's minutes, not after
    interactions = load(data, **options)
    if threshold is None:
        from mfrec.evaluation.relevance import relevance_threshold

        threshold, _ = relevance_threshold(interactions)
    with progress_bar(quiet, "cold-start curve", None) as advance:
        curve = cold_start_curve(
            interactions,
            lambda: make_model(model, **params),
            n_users=users,
            seed=seed,
            k=k,
            threshold=threshold,
            progress=lambda done, total, note: advance(1, note, total),
        )
    if plot is not None:
        from mfrec.reports.plots import cold_start_curve as draw

        draw(curve, k=k).savefig(plot)
    if run_dir is not None:
        attach_cold_start(run_dir, curve, model=model, k=k)
    if json_output:
        print_json({"model": model, "params": params, "protocol": "cold-start", "k": k, "curve": curve})
        return
    table = Table(title=f"cold-start on {data}: {users} held-out users, {model}", box=box.SIMPLE_HEAD)
    for header in ("method", "revealed", "RMSE", f"NDCG@{k}", "users"):
        table.add_column(header, justify="left" if header == "method" else "right")
    for row in curve:
        table.add_row(
            row["method"], str(row["revealed"]), f"{row['rmse']:.4f}", f"{row[f'ndcg@{k}']:.3f}", str(row["users"])
        )
    stdout.print(table)
    if plot is not None:
        stdout.print(f"curve written to {plot}")
